#pragma once
// Internal to the Redis client (gateway/state/redis_client.cc): one connection to Redis and how it
// is set up (resolve, TCP connect, TLS handshake with SNI and verification, AUTH, SELECT), plus the
// small helpers the client shares with it. Not a public header: it includes Asio, Beast and Asio's
// SSL.
//
// Thread-safety: none; everything runs on the client's one executor.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <tuple>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "gateway/state/redis_client.h"
#include "gateway/state/redis_protocol.h"
#include "policies/secret_memory.h"

namespace sb::gateway::redis::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
inline constexpr std::size_t kReadChunk = 16 * 1024;

/// What connecting needs, copied from the config.
struct ConnectSettings {
  std::string host;  ///< IPv6 without brackets
  std::uint16_t port = 6379;
  bool tls = false;
  std::string server_name;  ///< SNI and the name verified (the host unless configured)
  std::string ca_file;      ///< empty: the system store
  std::string username;
  config::SecretString password;
  unsigned database = 0;
  Clock::duration connect_timeout{};
  std::string prefix;  ///< "redis host:port: ", before every message
};

/// One command waiting for its reply.
struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;  ///< the command's timeout; cancelled to wake it when answered
  bool done = false;
  Result result;
};

/// One TCP or TLS connection with its parser and the commands pipelined on it, oldest first.
struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<ssl::stream<beast::tcp_stream>> tls;
  ReplyParser parser;
  std::deque<std::shared_ptr<Pending>> waiting;
  std::string out;  ///< encoded commands not yet handed to the writer
  bool writing = false;
  bool closed = false;
  std::array<char, kReadChunk> buf{};

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *plain; }

  asio::awaitable<std::tuple<error_code, std::size_t>> write(asio::const_buffer b) {
    return tls ? asio::async_write(*tls, b, use_tuple) : asio::async_write(*plain, b, use_tuple);
  }
  asio::awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
    return tls ? tls->async_read_some(b, use_tuple) : plain->async_read_some(b, use_tuple);
  }
  /// No TLS close_notify: a connection is closed only when it is being abandoned, and whatever
  /// the server still sends is of no use.
  void shutdown() {
    closed = true;
    if (plain || tls) {
      lowest().close();
    }
  }
};

/// "250ms".
std::string ms(Clock::duration d);
/// A failed Result whose message starts with `prefix`.
Result failure(const std::string& prefix, Error e, std::string message);
/// A reply as a Result: Error::server (with the error text as message) for an error reply.
Result make_result(const std::string& prefix, Reply&& reply);
/// An I/O error for a message ("closed by the server" for EOF and a truncated TLS stream).
std::string describe(const error_code& ec);
/// A TLS 1.2+ client context verifying peers against `ca_file` only, or the system store when
/// it is empty. nullptr and `error` set when that fails.
std::unique_ptr<ssl::context> make_tls_context(const std::string& ca_file, std::string& error);

/// Opens `c` (whose streams are created here; `tls` must be given when s.tls) and makes it
/// ready for commands: resolve, TCP connect, TLS handshake, AUTH, SELECT, all before
/// `deadline`. Leaves the stream without expiry on success.
asio::awaitable<Result> establish(Connection& c, const ConnectSettings& s, ssl::context* tls,
                                  asio::any_io_executor executor, Clock::time_point deadline);

}  // namespace sb::gateway::redis::detail
