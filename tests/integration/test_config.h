#pragma once
// The config the integration tests run the gateway with: three backends (a self-hosted fake, a
// closed fake with a key, and one where nothing listens) and four model aliases.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "tests/support/fake_upstream.h"

namespace sb::testing {

// A port on 127.0.0.1 where nothing listens.
inline std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct Settings {
  std::string server_extra;
  std::string down_url;
};

inline std::string make_config(const FakeUpstream& local, const FakeUpstream& closed,
                               const Settings& s) {
  return R"(server:
  listen: "127.0.0.1:0"
  threads: 2
)" + s.server_extra +
         R"(admin:
  listen: "127.0.0.1:0"
backends:
  local:
    provider: vllm
    base_url: ")" +
         local.base_url() + R"("
    model: "pinned/model-a"
    timeouts: {connect: 500ms, first_token: 1s, idle: 500ms, total: 10s}
  closed:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
         closed.base_url() + R"("
    api_key: "sk-backend-secret"
    model: "gpt-4o"
    timeouts: {connect: 500ms, first_token: 1s, idle: 500ms, total: 10s}
  down:
    provider: vllm
    base_url: ")" +
         s.down_url + R"("
    model: "nobody"
    timeouts: {connect: 500ms, first_token: 1s, idle: 500ms, total: 10s}
models:
  default: {candidates: [local]}
  frontier: {candidates: [closed]}
  broken: {candidates: [down]}
  resilient: {candidates: [down, local]}
)";
}

}  // namespace sb::testing
