#pragma once
// HTTP/1.1 client for upstreams: per-thread keep-alive pool, TLS with peer and host-name
// verification and SNI, timeouts for connect, first byte, idle between body reads, and total.
//
// No policy knowledge: it moves bytes to and from an Endpoint. One Pool per io_context thread;
// a Pool and the Exchanges it hands out are used only from that thread (no locks).
//
// Async style: C++20 coroutines (asio::awaitable). Errors are reported through `Error`, never
// thrown: an exception raised inside an exchange (memory exhausted) fails that exchange as
// protocol and closes its connection. What an upstream sends is bounded (the limits below), so
// nothing it sends can make Beast throw from a completion handler, where no frame could catch it.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include "adapters/upstream/endpoint.h"
#include "adapters/upstream/request.h"
#include "adapters/upstream/response_head.h"

namespace boost::asio::ssl {
class context;
}

namespace sb::upstream {

using Clock = std::chrono::steady_clock;

struct Timeouts {
  std::chrono::milliseconds connect{2'000};
  std::chrono::milliseconds first_byte{60'000};  ///< request written → response header
  std::chrono::milliseconds idle{60'000};        ///< between two body reads
  std::chrono::milliseconds total{600'000};      ///< the whole exchange
};

enum class ErrorKind {
  none,
  resolve,  ///< name resolution failed
  connect,  ///< refused / unreachable
  connect_timeout,
  tls,                 ///< handshake or verification failed
  write,               ///< sending the request failed
  first_byte_timeout,  ///< no response header in time
  idle_timeout,        ///< body stalled
  total_timeout,
  reset,      ///< connection closed or reset before the response completed
  protocol,   ///< malformed HTTP from the upstream
  too_large,  ///< response header or body over the limit
};
std::string_view to_string(ErrorKind k);
/// True for the timeout kinds (map to 504).
bool is_timeout(ErrorKind k);

struct Error {
  ErrorKind kind = ErrorKind::none;
  boost::system::error_code ec;
  explicit operator bool() const { return kind != ErrorKind::none; }
};

class Pool;
class Connection;

/// Ends an exchange in flight from outside, when the answer is no longer wanted (the client that
/// asked for it went away): the connection's pending operation ends at once with an error, and
/// the connection is closed, never pooled, so that the upstream sees the request abandoned (an
/// inference server then stops generating). Given to Pool::send; it follows the exchange's
/// connection until the Exchange is destroyed. Fired before the send, the send fails at once.
/// Used on the pool's thread only; it must outlive the send and the Exchange.
class Abort {
 public:
  Abort() = default;
  Abort(const Abort&) = delete;
  Abort& operator=(const Abort&) = delete;
  /// Closes the exchange's connection, if one is open (idempotent).
  void fire();
  bool fired() const { return fired_; }

 private:
  friend class Pool;
  friend class Exchange;
  Connection* conn_ = nullptr;  ///< the exchange's connection while it is open
  bool fired_ = false;
};

/// One request/response on a connection. Destroying it returns the connection to its pool when
/// the response was read completely and both sides allow keep-alive; otherwise closes it.
///
/// Lifetime: it may be destroyed whenever no operation on it is pending (e.g. to abandon a body
/// half-read), but never while a read_some/read_all on it is suspended: the caller must not
/// destroy it during a co_await on it. Its Pool must outlive it.
class Exchange {
 public:
  Exchange(Pool& pool, std::unique_ptr<Connection> conn, Timeouts timeouts,
           Clock::time_point deadline, Abort* abort = nullptr);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  unsigned status() const;
  /// The response's fields (ResponseHead: lookups by name in any case, iteration in order).
  const ResponseHead& headers() const;

  /// Reads the next available piece of the body (as it arrives, no buffering of the whole body),
  /// appending it to `out`. Returns false at the end of the body or on error (then `err` is set).
  /// Chunked framing is removed; bytes are the body's content. `true` always means at least one
  /// new byte; an error is sticky (later calls return it again). Each read is bounded by the idle
  /// timeout and the total deadline.
  ///
  /// `wake`: once it passes with no new byte, the read returns true with nothing appended (the
  /// exchange intact), so that a caller relaying a silent upstream can write to its own client
  /// and read again; the next read's idle timeout still counts from the upstream's last byte.
  boost::asio::awaitable<bool> read_some(std::string& out, Error& err,
                                         Clock::time_point wake = Clock::time_point::max());

  /// Reads the rest of the body into `out`, failing with too_large past `max_bytes`.
  boost::asio::awaitable<bool> read_all(std::string& out, std::size_t max_bytes, Error& err);

  /// True once the whole body has been read.
  bool done() const;

 private:
  Pool& pool_;
  std::unique_ptr<Connection> conn_;
  Timeouts timeouts_;
  Clock::time_point deadline_;
  Abort* abort_;
  /// After a read that ended at its wake-up time: where its budget ended, so that the upstream's
  /// silence is timed from its last byte, not from the read resumed. max(): none.
  Clock::time_point silent_until_ = Clock::time_point::max();
  bool silent_total_ = false;
};

// What an upstream may send, whatever it is: past these the exchange fails (too_large for sizes,
// protocol for framing), the connection is closed, and nothing is buffered beyond them.
//
/// Response header bytes (status line and fields). A configured max_header_bytes above it is
/// clamped: Beast stores each field with a 16-bit length and throws past 64 KiB.
inline constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
/// Bytes the connection buffers for one piece of body framing: a chunk-size line with its
/// extensions, or the last chunk with all its trailer fields. Body bytes stream through it.
inline constexpr std::size_t kMaxFramingBytes = 16 * 1024;
/// Chunk-extension bytes over a whole response (upstreams send none; a flood fails as protocol).
inline constexpr std::size_t kMaxChunkExtensionBytes = 4 * 1024;
/// Interim 1xx responses (100 Continue, 103 Early Hints) skipped before the final one.
inline constexpr unsigned kMaxInterimResponses = 8;

struct PoolSettings {
  std::size_t max_idle_per_endpoint = 64;
  std::chrono::milliseconds idle_ttl{30'000};  ///< idle pooled connections older are closed
  std::size_t max_header_bytes = kMaxResponseHeaderBytes;  ///< clamped to kMaxResponseHeaderBytes
};

class Pool {
 public:
  /// `executor`: the io_context whose thread uses the pool. Its concrete type (not
  /// any_io_executor) spares every socket operation a type-erased executor copy.
  Pool(boost::asio::io_context::executor_type executor, PoolSettings settings = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// Sends `request` to `endpoint` and waits for the response header. `request` must carry its
  /// target (base_path already prepended), method, and end-to-end headers; the Pool sets Host,
  /// Content-Length and keep-alive. `tls` must be non-null for https endpoints; it is the
  /// context used for verification (its lifetime must cover the call and the Exchange).
  ///
  /// A pooled connection that turns out dead before anything was written is replaced by a fresh
  /// one once; nothing is ever sent twice after bytes went out.
  /// Returns nullptr with `err` set on failure.
  ///
  /// `request` is taken by reference (a temporary or a moved-from one of the awaiting caller's;
  /// it lives until the co_await ends): no copy of it in this coroutine's frames. Pool::send
  /// sets its Host, version and Content-Length.
  /// `abort` (optional): ends the exchange from outside (see Abort); fired, the send fails.
  boost::asio::awaitable<std::unique_ptr<Exchange>> send(const Endpoint& endpoint,
                                                         boost::asio::ssl::context* tls,
                                                         Request&& request,
                                                         const Timeouts& timeouts, Error& err,
                                                         Abort* abort = nullptr);

  /// Number of idle connections currently pooled (all endpoints).
  std::size_t idle_connections() const;
  /// Connections opened since construction (for tests and metrics).
  std::size_t connections_opened() const { return opened_; }

 private:
  friend class Exchange;
  /// Points `abort` (optional) at the exchange's connection (nullptr: none open).
  static void follow(Abort* abort, Connection* conn) {
    if (abort != nullptr) {
      abort->conn_ = conn;
    }
  }
  boost::asio::awaitable<std::unique_ptr<Exchange>> send_impl(const Endpoint& endpoint,
                                                              boost::asio::ssl::context* tls,
                                                              Request& request,
                                                              const Timeouts& timeouts, Error& err,
                                                              Abort* abort);
  void release(std::unique_ptr<Connection> conn);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::size_t opened_ = 0;
};

/// Builds a TLS client context: TLS 1.2+, verify_peer, system default CA paths plus `ca_file`
/// when non-empty; with `verify` false no verification (tests/labs only).
std::unique_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file,
                                                                   bool verify, std::string& error);

}  // namespace sb::upstream
