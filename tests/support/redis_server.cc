#include "tests/support/redis_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace sb::testing {
namespace {

namespace fs = std::filesystem;

// A port nobody listens on right now: bind to port 0 and read what the kernel chose. The
// server binds it a moment later; a clash is retried by the constructor.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

fs::path scratch_dir() {
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("sb-redis-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

std::string RedisServer::ca_file() {
  return std::string(SB_TEST_CERTS_DIR) + "/ca.pem";
}
std::string RedisServer::other_ca_file() {
  return std::string(SB_TEST_CERTS_DIR) + "/other_ca.pem";
}

RedisServer::RedisServer(Options options) : options_(std::move(options)), dir_(scratch_dir()) {
  for (int attempt = 0;; ++attempt) {
    port_ = free_port();
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 4) {
        throw;
      }
    }
  }
}

RedisServer::~RedisServer() {
  try {
    stop();
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void RedisServer::start() {
  const std::string certs = SB_TEST_CERTS_DIR;
  std::vector<std::string> args{"redis-server",
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                options_.persist ? "yes" : "no",
                                "--appendfsync",
                                "always",
                                "--dir",
                                dir_.string(),
                                "--logfile",
                                (dir_ / "redis.log").string(),
                                "--daemonize",
                                "no"};
  if (options_.tls) {
    args.insert(args.end(), {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file",
                             certs + "/server.pem", "--tls-key-file", certs + "/server.key",
                             "--tls-ca-cert-file", certs + "/ca.pem", "--tls-auth-clients", "no"});
  } else {
    args.insert(args.end(), {"--port", std::to_string(port_)});
  }
  if (!options_.requirepass.empty()) {
    args.insert(args.end(), {"--requirepass", options_.requirepass});
  }
  if (!options_.acl_user.empty()) {
    args.insert(args.end(), {"--user", options_.acl_user, "on", ">" + options_.acl_password, "~*",
                             "&*", "+@all"});
  }
  std::ofstream(dir_ / "redis.log", std::ios::trunc).flush();  // one start per log
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("cannot start redis-server (is it installed?)");
  }
  pid_ = pid;
  wait_ready();
}

void RedisServer::wait_ready() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at startup:\n" + log());
    }
    if (log().find("Ready to accept connections") != std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reap(SIGKILL);
  throw std::runtime_error("redis-server did not become ready:\n" + log());
}

void RedisServer::reap(int signal) {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, signal);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::stop() {
  reap(SIGTERM);
}
void RedisServer::kill9() {
  reap(SIGKILL);
}

void RedisServer::restart() {
  if (pid_ > 0) {
    stop();
  }
  // The old socket may linger briefly; the port is ours, so retry for a moment.
  for (int attempt = 0;; ++attempt) {
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 20) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::string RedisServer::url() const {
  return std::string(options_.tls ? "rediss" : "redis") + "://127.0.0.1:" + std::to_string(port_);
}

std::string RedisServer::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"redis-cli",        "-h", "127.0.0.1", "-p", std::to_string(port_),
                                "--no-auth-warning"};
  if (!options_.acl_user.empty()) {
    argv.insert(argv.end(), {"--user", options_.acl_user, "--pass", options_.acl_password});
  } else if (!options_.requirepass.empty()) {
    argv.insert(argv.end(), {"-a", options_.requirepass});
  }
  if (options_.tls) {
    argv.insert(argv.end(), {"--tls", "--cacert", ca_file()});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (std::string& a : argv) {
    raw.push_back(a.data());
  }
  raw.push_back(nullptr);

  int out[2];
  if (::pipe(out) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "redis-cli", &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string text;
  if (rc == 0) {
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(out[0]);
  int status = 0;
  if (rc != 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    throw std::runtime_error("redis-cli failed: " + text);
  }
  if (text.ends_with('\n')) {
    text.pop_back();
  }
  return text;
}

std::string RedisServer::log() const {
  std::ifstream in(dir_ / "redis.log");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace sb::testing
