#pragma once
// A real redis-server for tests, on 127.0.0.1 with a port of its own: no persistence, a scratch
// directory, optional requirepass, ACL user and TLS (with the test certificates in certs/).
// The server is started by the constructor and waited for until it accepts connections; it is
// stopped by the destructor. Links no production code.
//
// Thread-safety: use one RedisServer from one thread.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sb::testing {

class RedisServer {
 public:
  struct Options {
    std::string requirepass;   ///< the default user's password; empty = none
    std::string acl_user;      ///< an extra ACL user with every permission, when not empty
    std::string acl_password;  ///< its password
    bool tls = false;          ///< TLS only (certs/server.pem, signed by certs/ca.pem)
    /// Append-only file, fsync on every write: data survives stop()/kill9() and restart().
    bool persist = false;
  };

  /// Starts the server; throws std::runtime_error (with the server's log) when it does not come
  /// up within a few seconds.
  explicit RedisServer(Options options);
  RedisServer() : RedisServer(Options{}) {}
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0; }

  /// SIGTERM and wait for the process.
  void stop();
  /// SIGKILL and wait for the process.
  void kill9();
  /// Starts again on the same port (after stop() or kill9()); throws like the constructor.
  void restart();

  /// `redis://127.0.0.1:PORT` or `rediss://127.0.0.1:PORT` (no credentials).
  std::string url() const;

  /// Runs one command through `redis-cli` (as the ACL user when there is one, else with
  /// requirepass; over TLS with the test CA when TLS is on) and returns its output without the
  /// final newline (e.g. "OK", "42", "" for nil). Lets tests that link no production code look
  /// into the server. Throws std::runtime_error when redis-cli cannot run or fails.
  std::string cli(const std::vector<std::string>& args) const;

  /// The server's log so far (for failure messages).
  std::string log() const;

  /// The test CA that signed the server's certificate, and an unrelated one.
  static std::string ca_file();
  static std::string other_ca_file();

 private:
  void start();
  void wait_ready();
  void reap(int signal);

  Options options_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sb::testing
