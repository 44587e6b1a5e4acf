// TLS on both sides of the real process: clients over HTTPS to the gateway (server.tls), and the
// gateway over HTTPS to an upstream whose certificate is checked against a private CA.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

const std::string kCerts = SB_TEST_CERTS_DIR;

// One HTTPS exchange with certificate and host-name verification against `ca_file`.
// Returns the raw response bytes (until close), or nullopt when the handshake fails.
std::optional<std::string> https_exchange(std::uint16_t port, const std::string& ca_file,
                                          const std::string& host, const std::string& request) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::optional<std::string> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
    if (SSL_connect(ssl) == 1) {
      SSL_write(ssl, request.data(), static_cast<int>(request.size()));
      std::string got;
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        got.append(buf, static_cast<std::size_t>(n));
      }
      out = got;
    }
    SSL_free(ssl);
  }
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

std::string config(const std::string& backend_url, const std::string& ca_file) {
  return "server:\n  listen: \"127.0.0.1:0\"\n  threads: 1\n  tls:\n    cert: \"" + kCerts +
         "/server.pem\"\n    key: \"" + kCerts +
         "/server.key\"\nadmin:\n  listen: \"127.0.0.1:0\"\nbackends:\n  secure:\n    provider: "
         "openai-compatible\n    base_url: \"" +
         backend_url + "\"\n    model: \"m\"\n    tls: {ca_file: \"" + ca_file +
         "\"}\n    timeouts: {connect: 1s, first_token: 2s, idle: 2s, total: 5s}\nmodels:\n  "
         "default: {candidates: [secure]}\n";
}

std::string chat_request() {
  const std::string body = chat_body("default", "over tls", false);
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions o;
    o.tls = true;
    o.cert_file = kCerts + "/server.pem";
    o.key_file = kCerts + "/server.key";
    o.name = "tls-upstream";
    upstream_ = std::make_unique<FakeUpstream>(o);
  }
  std::unique_ptr<FakeUpstream> upstream_;
};

TEST_F(TlsTest, HttpsClientToHttpsUpstreamWithPrivateCa) {
  GatewayProcess gw(config(upstream_->base_url(), kCerts + "/ca.pem"));
  ASSERT_TRUE(gw.started()) << gw.stderr_text();
  const auto reply = https_exchange(gw.port(), kCerts + "/ca.pem", "localhost", chat_request());
  ASSERT_TRUE(reply) << "TLS handshake with the gateway failed";
  EXPECT_EQ(reply->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *reply;
  EXPECT_NE(reply->find("Hello from tls-upstream: over tls"), std::string::npos) << *reply;
}

TEST_F(TlsTest, UpstreamSignedByAnotherCaIsRefused) {
  GatewayProcess gw(config(upstream_->base_url(), kCerts + "/other_ca.pem"));
  ASSERT_TRUE(gw.started()) << gw.stderr_text();
  const auto reply = https_exchange(gw.port(), kCerts + "/ca.pem", "localhost", chat_request());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->rfind("HTTP/1.1 502 ", 0), 0u) << *reply;
  EXPECT_NE(reply->find("(tls)"), std::string::npos) << *reply;
  EXPECT_EQ(upstream_->requests().size(), 0u) << "nothing is sent to an unverified upstream";
}

TEST_F(TlsTest, PlainHttpToTheTlsListenerGetsNoAnswer) {
  GatewayProcess gw(config(upstream_->base_url(), kCerts + "/ca.pem"));
  ASSERT_TRUE(gw.started()) << gw.stderr_text();
  Client c(gw.port(), 5s);
  c.send_raw("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string got = c.read_until_close();
  EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos);
  auto still = https_exchange(gw.port(), kCerts + "/ca.pem", "localhost",
                              "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

}  // namespace
}  // namespace sb::testing
