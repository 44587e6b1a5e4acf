#pragma once
// An Asio-native Redis client for the shared state store (`state.store: redis`): one pipelined
// connection over TCP or TLS (rediss://), AUTH and SELECT on connect, per-command timeouts,
// reconnect with backoff. RESP framing is in gateway/state/redis_protocol.h; Asio, OpenSSL and
// hiredis stay in the .cc files.
//
// Thread-safety: none. A Client and every coroutine calling it run on the one executor given to
// the constructor (the gateway's state thread); that is what makes it lock-free.
//
// Lifetime: a command must be started (awaited) while the Client exists; once started it keeps
// the client's internals alive, and destroying the Client closes the connection and completes
// it with Error::io.

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "gateway/state/redis_protocol.h"
#include "policies/config.h"

namespace sb::gateway::redis {

struct Result {
  Error error = Error::none;  ///< server: the reply is a Redis error reply (reply.str has it)
  std::string message;        ///< one line for logs, never containing the password
  Reply reply;

  bool ok() const { return error == Error::none; }
};

/// A Lua script known by its SHA1 (for EVALSHA).
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }  ///< 40 lower-case hex digits

 private:
  std::string source_;
  std::string sha1_;
};

class Client {
 public:
  /// Copies what it needs from `settings` (host, port, TLS, credentials, database, timeouts,
  /// reconnect). Does not connect.
  Client(boost::asio::any_io_executor executor, const config::StateSettings& settings);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends one command and awaits its reply. Connects on demand: TCP connect, TLS handshake (SNI
  /// and verification against tls.ca_file or the system store), AUTH [user] password, SELECT db
  /// when not 0, all within connect_timeout; the reply then within command_timeout. Commands
  /// issued concurrently share the connection, pipelined and answered in FIFO order. Never
  /// throws. After a failed connect, attempts wait for a backoff (reconnect.min doubling to
  /// reconnect.max, with jitter) and fail fast with Error::connect meanwhile. A timeout, an I/O
  /// error or a bad reply closes the connection and fails every command pending on it, so a
  /// reply is never matched to the wrong command; the next command connects again.
  boost::asio::awaitable<Result> command(std::vector<std::string> args);

  /// EVALSHA; on NOSCRIPT, EVAL with the source (the server then caches it).
  boost::asio::awaitable<Result> eval(const Script& script, std::vector<std::string> keys,
                                      std::vector<std::string> args);

  /// Connects when needed and sends PING: for a clear error at startup (`switchboard check`,
  /// `run`). A NOAUTH answer is reported as Error::auth.
  boost::asio::awaitable<Result> ping();

  /// Whether a connection is established and usable.
  bool connected() const;
  /// Closes the connection; pending commands complete with Error::io. The next command connects
  /// again (no backoff).
  void close();

  /// "host:port" ("[::1]:6379" for IPv6), as messages name the server.
  const std::string& server() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sb::gateway::redis
