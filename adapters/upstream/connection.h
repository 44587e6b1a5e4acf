#pragma once
// One HTTP/1.1 connection to an upstream (private to sb_upstream): a TCP stream for http or an
// `ssl::stream` over one for https, with the read buffer, the response head and the response
// parser it keeps across keep-alive exchanges (Beast's session shape: the parser is re-emplaced
// per response, the buffers and the head's storage are reused).
//
// Thread-safety: none; used only from its Pool's thread. At most one operation is pending at a
// time, and the object must not be destroyed while one is.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>

#include "adapters/upstream/client.h"
#include "adapters/upstream/endpoint.h"
#include "adapters/upstream/response_head.h"
#include "adapters/upstream/response_parser.h"
#include "adapters/upstream/watchdog.h"

namespace sb::upstream {
namespace detail {

/// The time one operation may take: its own limit, or what is left of the exchange's total
/// deadline when that is nearer (then a timeout is reported as total_timeout).
struct Budget {
  Clock::duration duration{};
  bool total_bound = false;
  Clock::time_point until{};  ///< now + duration, as computed
  bool expired() const { return duration <= Clock::duration::zero(); }
};
Budget budget(std::chrono::milliseconds limit, Clock::time_point deadline);
/// What is left now of a budget that ends at `until` (a read resumed after its wake-up time).
Budget budget_until(Clock::time_point until, bool total_bound);

/// Which part of an exchange an error interrupted (decides which timeout kind applies).
enum class Phase { write, header, body };
/// Maps an error code from a write or a read to its ErrorKind.
ErrorKind classify(const boost::system::error_code& ec, Phase phase, bool total_bound);

/// Non-owning identity of a connection pool: scheme, host, port and, for https, the TLS context
/// (connections verified against one set of trust anchors are not lent to another).
struct PoolKeyView {
  bool tls = false;
  std::string_view host;
  std::string_view port;
  const void* tls_context = nullptr;
};

/// Owning form of PoolKeyView, held by each Connection and by the pool's map.
struct PoolKey {
  bool tls = false;
  std::string host;
  std::string port;
  const void* tls_context = nullptr;

  PoolKey() = default;
  explicit PoolKey(const PoolKeyView& v)
      : tls(v.tls), host(v.host), port(v.port), tls_context(v.tls_context) {}
  operator PoolKeyView() const { return {tls, host, port, tls_context}; }  // NOLINT: implicit
};

/// Transparent hash and equality, so a lookup by PoolKeyView allocates nothing.
struct PoolKeyHash {
  using is_transparent = void;
  std::size_t operator()(const PoolKeyView& k) const {
    std::size_t h = std::hash<std::string_view>{}(k.host);
    h ^= std::hash<std::string_view>{}(k.port) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= std::hash<const void*>{}(k.tls_context) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h ^ static_cast<std::size_t>(k.tls);
  }
};
struct PoolKeyEqual {
  using is_transparent = void;
  bool operator()(const PoolKeyView& a, const PoolKeyView& b) const {
    return a.tls == b.tls && a.tls_context == b.tls_context && a.host == b.host && a.port == b.port;
  }
};

}  // namespace detail

class Connection {
 public:
  /// A TCP stream on the pool's io_context, its executor type concrete: no type-erased executor
  /// is copied per operation.
  using TcpStream =
      boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
  using TlsStream = boost::asio::ssl::stream<TcpStream>;

  /// `tls` non-null makes this an https connection verified with that context.
  Connection(const boost::asio::io_context::executor_type& executor, boost::asio::ssl::context* tls,
             detail::PoolKey key, std::size_t max_header_bytes);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Resolves `endpoint`, connects (TCP_NODELAY) and, for https, handshakes with SNI and
  /// host-name verification; all of it within `connect_timeout` and the total `deadline`.
  boost::asio::awaitable<Error> connect(const Endpoint& endpoint,
                                        std::chrono::milliseconds connect_timeout,
                                        Clock::time_point deadline);

  struct WriteResult {
    Error err;
    std::size_t bytes = 0;  ///< bytes handed to the transport before the error, if any
  };
  /// Writes the whole request within `budget`.
  boost::asio::awaitable<WriteResult> write(const Request& request, detail::Budget budget);

  /// Reads the next final response header (at most kMaxInterimResponses interim 1xx responses
  /// are skipped) within `budget`.
  /// `head_request` tells the parser that no body follows whatever the header says.
  boost::asio::awaitable<Error> read_header(bool head_request, detail::Budget budget);

  /// Reads some of the body within `budget`, in three steps so that the caller's coroutine
  /// awaits the read itself (one coroutine frame per streamed event, not two):
  /// begin_body_read() (false, with `err`, when the connection failed or the budget is spent),
  /// `co_await body_read()`, which appends what it parses of the body to `out` (possibly
  /// nothing, e.g. when only chunk framing arrived; at most kBodyReadBytes), then
  /// end_body_read() with its error, which returns that size, setting `err` (and the sticky
  /// failure()) on error. The read buffer holds at most kMaxFramingBytes of framing (chunk line,
  /// trailers); more fails the exchange. Once `wake` passes with nothing read, the read ends
  /// without an error and woke() is true.
  bool begin_body_read(detail::Budget budget, std::string& out, Error& err,
                       Clock::time_point wake = Clock::time_point::max());
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> body_read();
  std::size_t end_body_read(boost::system::error_code ec, detail::Budget budget, Error& err);
  /// Body bytes one read appends at most.
  static constexpr std::size_t kBodyReadBytes = 16 * 1024;

  /// Whether the last body read ended at its wake-up time (begin_body_read), not on bytes.
  bool woke() const { return woke_; }

  /// The current response's status and fields (valid after read_header succeeded).
  const ResponseHead& head() const { return head_; }
  /// Body bytes still announced by Content-Length, when known.
  std::optional<std::uint64_t> content_length_remaining() const {
    if (parser_ && parser_->is_header_done()) {
      if (auto n = parser_->content_length_remaining()) {
        return *n;
      }
    }
    return std::nullopt;
  }
  /// True once the current response has been read completely.
  bool body_done() const { return parser_ && parser_->is_done(); }

  /// The first error seen on this connection; a failed connection is never reused.
  const Error& failure() const { return failure_; }
  void fail(const Error& err) {
    if (!failure_) {
      failure_ = err;
    }
  }

  /// Ends the connection from outside (Abort::fire): failed, its socket closed, so that the
  /// pending operation, if any, ends at once with an error.
  void abort();

  /// True when the exchange ended cleanly and both sides allow another one on this connection.
  bool reusable() const;
  /// Prepares a reusable connection for the idle pool (no timer armed, response released).
  void park();
  /// Non-blocking liveness probe for an idle connection (see connection.cc).
  bool idle_and_alive();

  const detail::PoolKey& key() const { return key_; }

 private:
  TcpStream& lowest();
  const TcpStream& lowest() const;
  // The steps of connect().
  boost::asio::awaitable<Error> connect_tcp(const Endpoint& endpoint,
                                            std::optional<boost::asio::ip::address> literal,
                                            std::uint16_t port, Clock::time_point until,
                                            const Error& timed_out);
  boost::asio::awaitable<Error> handshake(const Endpoint& endpoint, bool is_literal,
                                          Clock::time_point until, const Error& timed_out);
  // One parsing read (what http::async_read_some does), on the plain socket or the TLS stream.
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> parse_some();

  detail::PoolKey key_;
  std::optional<TcpStream> plain_;
  std::optional<TlsStream> tls_;
  boost::asio::ssl::context* tls_context_ = nullptr;
  std::uint32_t max_header_bytes_;
  boost::beast::flat_buffer buffer_;
  std::optional<ResponseParser> parser_;  ///< one per response, reading into head_
  ResponseHead head_;                     ///< kept across responses, so its storage is reused
  Error failure_;
  /// The exchange's timeouts on plain TCP, and the body's on TLS: one lazily armed timer
  /// (Beast's stream timer would arm and cancel around every operation, so once per streamed
  /// event). Plain-TCP operations go to the socket itself; TLS ones through the stream, whose
  /// timer is on for the write and the header and off (watching_body_) for the body.
  Watchdog watch_;
  bool watching_body_ = false;
  bool woke_ = false;  ///< the last body read ended at its wake-up time
  /// A request's head, and the buffers it is written from (the head and the body's pieces).
  std::string head_out_;
  std::vector<boost::asio::const_buffer> gather_;
};

}  // namespace sb::upstream
