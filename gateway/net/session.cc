#include "gateway/net/session.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>

#include "adapters/string_room.h"
#include "adapters/upstream/send_now.h"
#include "adapters/upstream/watchdog.h"
#include "gateway/net/framing.h"
#include "gateway/net/handler.h"
#include "gateway/net/header_name.h"
#include "gateway/net/http_response.h"
#include "gateway/observability/internal_errors.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
// The client's TCP stream (timeouts included) on the worker's io_context.
using TcpStream = beast::basic_stream<asio::ip::tcp, asio::io_context::executor_type>;
using PlainSocket = TcpStream::socket_type;

constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 1 << 20;
// Reads while waiting for a request's first byte take a small buffer, so that many idle
// connections hold little memory; a request under way reads larger pieces.
constexpr std::size_t kIdleReadBytes = 1024;
constexpr std::size_t kHeaderReadBytes = 16 * 1024;
constexpr std::size_t kBodyReadBytes = 64 * 1024;
constexpr std::size_t kMinBodyReservation = 4 * 1024;

// A share of the process-wide request-body budget, returned when the request ends (also when
// its coroutine unwinds).
class BodyBudget {
 public:
  explicit BodyBudget(BodyBytesBudget& pool) : pool_(pool) {}
  ~BodyBudget() {
    if (held_ != 0) {
      pool_.release(held_);
    }
  }
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  /// Holds `total` bytes in all (more than now); false when the budget is spent.
  bool grow_to(std::uint64_t total, std::uint64_t cap) {
    if (total <= held_) {
      return true;
    }
    if (!pool_.acquire(total - held_, cap)) {
      pool_.count_rejection();
      return false;
    }
    held_ = total;
    return true;
  }
  std::uint64_t held() const { return held_; }

 private:
  BodyBytesBudget& pool_;
  std::uint64_t held_ = 0;
};

template <class Stream>
class Session final : public Drainable, public Downstream {
 public:
  Session(Worker& worker, Stream stream, const PlaneContext& plane)
      : worker_(worker),
        stream_(std::move(stream)),
        plane_(plane),
        conn_id_(worker.next_connection_id()),
        write_watch_(worker.ioc.get_executor()),
        read_watch_(worker.ioc.get_executor()) {
    it_ = worker_.sessions.insert(worker_.sessions.end(), this);
    worker_.open_sessions.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() override {
    if (hangup_) {
      hangup_->alive = false;  // a wait still queued finds the session gone
    }
    worker_.sessions.erase(it_);
    worker_.open_sessions.fetch_sub(1, std::memory_order_relaxed);
    plane_.connections.release();
  }

  asio::awaitable<void> run();

  /// After an exception escaped run(): logs and counts it with this connection's ids, answers
  /// 500 when nothing of the current response was written yet, and closes the connection.
  asio::awaitable<void> fail(std::exception_ptr e) {
    worker_.errors.report(plane_.plane == Plane::data ? Where::session : Where::admin, e, conn_id_,
                          failed_request_);
    if (!wrote_) {
      write_timeout_ = std::chrono::seconds(2);
      const std::string bytes = error_response(500, "internal error; the connection is closed", {},
                                               "Connection: close\r\n");
      co_await Downstream::write(bytes);
    }
    error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

  void on_drain() override {
    if (idle_) {
      error_code ec;
      beast::get_lowest_layer(stream_).socket().cancel(ec);
    }
  }

  std::size_t write_now(std::span<const asio::const_buffer> buffers) override {
    wrote_ = true;
    if (head_only_) {
      return 0;  // write() sends the head alone
    }
    if constexpr (kPlain) {
      return upstream::send_now(io().native_handle(), buffers);
    } else {
      return 0;
    }
  }

  void watch(HangupListener& listener) override {
    if constexpr (kPlain) {
      if (!hangup_) {
        hangup_ = std::make_shared<Hangup>();
        hangup_->socket = &io();
      }
      hangup_->listener = &listener;
      if (hangup_->wait == 0) {
        wait_readable(hangup_);
      }
    }
  }

  void unwatch() override {
    if constexpr (kPlain) {
      if (hangup_ && hangup_->listener != nullptr) {
        hangup_->listener = nullptr;
        if (hangup_->wait != 0) {
          // No read may queue behind the wait (it would not try the bytes already there): the
          // handler has nothing else pending on the socket now, so this ends the wait alone. Its
          // completion, still to run, is stale from here (a next watch() waits anew).
          hangup_->wait = 0;
          error_code ignored;
          io().cancel(ignored);
        }
      }
    }
  }

  asio::awaitable<error_code> write(std::span<const asio::const_buffer> buffers,
                                    std::size_t from) override {
    wrote_ = true;
    beast::buffers_suffix<std::span<const asio::const_buffer>> rest(buffers);
    rest.consume(from);
    if (head_only_) {
      // The answer to a HEAD request is its head alone (RFC 9110, 9.3.2): the body's bytes are
      // counted as written and never sent, so a keep-alive client reads the next answer whole.
      const std::size_t n = head_part(rest);
      if (n == 0) {
        co_return error_code{};
      }
      arm(write_watch_, Clock::now() + write_timeout_);
      auto [ec, sent] =
          co_await asio::async_write(io(), beast::buffers_prefix(n, rest), use_nothrow);
      co_return disarm(write_watch_, ec);
    }
    if constexpr (kPlain) {
      // What the socket takes at once (nearly every answer and event) goes without a wait.
      if (from == 0) {
        rest.consume(upstream::send_now(io().native_handle(), buffers));
      }
      if (beast::buffer_bytes(rest) == 0) {
        co_return error_code{};
      }
    }
    arm(write_watch_, Clock::now() + write_timeout_);
    auto [ec, n] = co_await asio::async_write(io(), rest, use_nothrow);
    co_return disarm(write_watch_, ec);
  }

 private:
  static constexpr bool kPlain = std::is_same_v<Stream, TcpStream>;

  /// How many of `buffers`' first bytes belong to the current answer's head (through its blank
  /// line), following the head's end across writes; 0 once the head is out.
  template <class Buffers>
  std::size_t head_part(const Buffers& buffers) {
    std::size_t n = 0;
    for (const asio::const_buffer b : beast::buffers_range_ref(buffers)) {
      const char* p = static_cast<const char*>(b.data());
      for (std::size_t i = 0; i < b.size(); ++i) {
        if (head_matched_ == 4) {
          return n;
        }
        const char c = p[i];
        const bool cr = head_matched_ % 2 == 0;  // expecting '\r' (0, 2) or '\n' (1, 3)
        head_matched_ = c == (cr ? '\r' : '\n') ? head_matched_ + 1 : c == '\r' ? 1 : 0;
        ++n;
      }
    }
    return n;
  }

  // The client's reads and writes: on plain TCP the socket itself, timed by a lazily armed
  // watchdog (a stream writes once per event, and Beast's timer would be armed and cancelled for
  // each); on TLS the stream, timed by its own timer.
  auto& io() {
    if constexpr (kPlain) {
      return beast::get_lowest_layer(stream_).socket();
    } else {
      return stream_;
    }
  }
  /// Before an operation on io() that must end by `deadline`.
  void arm(upstream::Watchdog& watch, Clock::time_point deadline) {
    if constexpr (kPlain) {
      watch.start(deadline, io());
    } else {
      beast::get_lowest_layer(stream_).expires_at(deadline);
    }
  }
  /// After it: its error, beast::error::timeout when the deadline cut it.
  static error_code disarm(upstream::Watchdog& watch, error_code ec) {
    if constexpr (kPlain) {
      return watch.finish(ec);
    } else {
      return ec;
    }
  }
  /// Reads some of the client's bytes by `deadline`.
  asio::awaitable<std::pair<error_code, std::size_t>> read_some(asio::mutable_buffer into,
                                                                Clock::time_point deadline) {
    arm(read_watch_, deadline);
    auto [ec, n] = co_await io().async_read_some(into, use_nothrow);
    co_return std::pair(disarm(read_watch_, ec), n);
  }
  /// Fills `into` by `deadline`.
  asio::awaitable<error_code> read_exactly(asio::mutable_buffer into, Clock::time_point deadline) {
    arm(read_watch_, deadline);
    auto [ec, n] = co_await asio::async_read(io(), into, use_nothrow);
    co_return disarm(read_watch_, ec);
  }

  enum class Read { ok, closed, timeout, bad };
  enum class Body { ok, closed, answered };
  asio::awaitable<Read> read_header(const config::ServerSettings& s, std::size_t& header_bytes,
                                    std::string_view& error);
  asio::awaitable<Body> read_body(const config::ServerSettings& s, RequestContext& pre,
                                  Request& request, BodyBudget& budget);
  asio::awaitable<Body> read_sized_body(const config::ServerSettings& s, std::uint64_t length,
                                        std::string& body);
  asio::awaitable<Body> read_chunked_body(const config::ServerSettings& s, RequestContext& pre,
                                          Request& request, BodyBudget& budget);
  /// Answers a request no handler sees (a header the framing rules refuse: 400, 431, 505) in
  /// OpenAI's shape, counted in the plane's protocol errors, and closes the connection.
  asio::awaitable<void> reply_and_close(unsigned status, std::string_view message);
  void count(ProtocolErrors::Reason r) {
    if (plane_.protocol_errors != nullptr) {
      plane_.protocol_errors->count(r);
    }
  }
  /// An error answer to the request of `pre` (its header parsed): the plane's handler answers
  /// and records it (Handler::refuse_body); then the connection closed.
  asio::awaitable<void> refuse(RequestContext& pre, unsigned status, std::string_view message,
                               std::string_view headers = {});
  asio::awaitable<void> close(bool linger);
  asio::awaitable<bool> handshake();
  asio::awaitable<bool> read_head(const config::ServerSettings& s, Request& request,
                                  Clock::time_point& received);
  asio::awaitable<bool> read_rest(const config::ServerSettings& s, const Snapshot& snapshot,
                                  Request& request, BodyBudget& budget, Clock::time_point received);
  asio::awaitable<bool> serve(const Snapshot& snapshot, Request& request,
                              Clock::time_point received);
  std::string too_large(const config::ServerSettings& s) const {
    return "request body exceeds the limit of " + std::to_string(s.max_body_bytes) + " bytes";
  }

  Worker& worker_;
  Stream stream_;
  const PlaneContext& plane_;
  std::string conn_id_;
  beast::flat_buffer buffer_;
  bool idle_ = true;
  bool first_ = true;           ///< no request has started on this connection yet
  bool wrote_ = false;          ///< bytes of the current request's answer were written
  bool head_only_ = false;      ///< the current request is a HEAD: its answer's body is not sent
  int head_matched_ = 0;        ///< bytes of the head's closing "\r\n\r\n" sent so far
  std::string failed_request_;  ///< the id of the request whose handler threw, for the log
  std::chrono::milliseconds write_timeout_{60'000};
  upstream::Watchdog write_watch_;  ///< times plain-TCP writes (TLS ones use the stream's timer)
  upstream::Watchdog read_watch_;   ///< times plain-TCP reads
  std::list<Drainable*>::iterator it_;

  /// The watch on the client while a handler waits (watch()): shared with the queued wait, which
  /// may complete after the session is gone.
  struct Hangup {
    bool alive = true;        ///< the session (and its socket) still exists
    std::uint64_t wait = 0;   ///< the number of the wait queued on the socket; 0: none
    std::uint64_t waits = 0;  ///< waits queued so far
    HangupListener* listener = nullptr;
    PlainSocket* socket = nullptr;
  };
  std::shared_ptr<Hangup> hangup_;

  static void wait_readable(const std::shared_ptr<Hangup>& h) {
    h->wait = ++h->waits;
    h->socket->async_wait(asio::socket_base::wait_read,
                          [h, n = h->wait](error_code ec) { on_readable(h, n, ec); });
  }

  /// Wait `n` ended: when it is still the current one and the socket became readable, a peek
  /// tells a close or reset (the client gone) from bytes it sent.
  static void on_readable(const std::shared_ptr<Hangup>& h, std::uint64_t n, error_code ec) {
    if (!h->alive || h->wait != n) {
      return;  // the session is gone, or the wait was ended (unwatch)
    }
    h->wait = 0;
    if (ec || h->listener == nullptr) {
      return;
    }
    char byte = 0;
    const ssize_t got = ::recv(h->socket->native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (got > 0) {
      return;  // bytes (a pipelined request): not a hangup, and no more can be seen
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      wait_readable(h);  // woken for nothing: wait again
      return;
    }
    HangupListener* listener = std::exchange(h->listener, nullptr);
    listener->client_gone();
  }
};

template <class Stream>
asio::awaitable<typename Session<Stream>::Read> Session<Stream>::read_header(
    const config::ServerSettings& s, std::size_t& header_bytes, std::string_view& error) {
  framing::ScanState state;
  idle_ = buffer_.size() == 0;
  // A new connection must send its first byte within the header timeout; a keep-alive one may
  // stay idle until its next request for the idle timeout; from a request's first byte on, the
  // whole header must arrive within the header timeout (slowloris).
  auto deadline = Clock::now() + (idle_ && !first_ ? s.idle_timeout : s.header_timeout);
  for (;;) {
    const auto* data = static_cast<const char*>(buffer_.data().data());
    const auto scan = framing::scan_header_block(std::string_view(data, buffer_.size()), state);
    if (scan.state == framing::Scan::complete) {
      header_bytes = scan.header_bytes;
      if (header_bytes > s.max_header_bytes) {
        co_return Read::bad;
      }
      idle_ = false;
      co_return Read::ok;
    }
    if (scan.state == framing::Scan::bad) {
      error = scan.error;
      co_return Read::bad;
    }
    if (buffer_.size() > s.max_header_bytes) {
      co_return Read::bad;
    }
    if (idle_ && worker_.draining) {
      co_return Read::closed;
    }
    const std::size_t room = std::min<std::size_t>(idle_ ? kIdleReadBytes : kHeaderReadBytes,
                                                   s.max_header_bytes + 1 - buffer_.size());
    auto [ec, n] = co_await read_some(buffer_.prepare(room), deadline);
    if (ec) {
      if (ec == beast::error::timeout && buffer_.size() > 0) {
        co_return Read::timeout;
      }
      co_return Read::closed;
    }
    buffer_.commit(n);
    if (idle_) {
      idle_ = false;
      deadline = Clock::now() + s.header_timeout;
    }
  }
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Body> Session<Stream>::read_body(
    const config::ServerSettings& s, RequestContext& pre, Request& request, BodyBudget& budget) {
  std::string& body = request.body();
  if (!request.chunked()) {
    // Content-Length (checked against max_body_bytes already): the whole body's share of the
    // budget is taken before anything is read or `100 Continue` is sent.
    const std::uint64_t length = request.content_length().value_or(0);
    if (!budget.grow_to(length, s.max_buffered_body_bytes)) {
      co_await refuse(pre, 503,
                      "the gateway holds too many request bodies at the moment; retry shortly",
                      "Retry-After: 1\r\n");
      co_return Body::answered;
    }
    if (is_name(request.field("expect"), "100-continue")) {
      co_await Downstream::write("HTTP/1.1 100 Continue\r\n\r\n");
      wrote_ = false;
    }
    co_return co_await read_sized_body(s, length, body);
  }
  if (is_name(request.field("expect"), "100-continue")) {
    co_await Downstream::write("HTTP/1.1 100 Continue\r\n\r\n");
    wrote_ = false;
  }
  co_return co_await read_chunked_body(s, pre, request, budget);
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Body> Session<Stream>::read_sized_body(
    const config::ServerSettings& s, std::uint64_t length, std::string& body) {
  // Straight into the body: what the header read brought along first, then the socket. The
  // body is not zeroed first: every byte of it is written before it is read.
  adapters::resize_for_overwrite(body, static_cast<std::size_t>(length));
  const std::size_t have = std::min<std::size_t>(buffer_.size(), body.size());
  asio::buffer_copy(asio::buffer(body.data(), have), buffer_.data());
  buffer_.consume(have);
  if (have == body.size()) {
    co_return Body::ok;
  }
  // The whole body within the idle timeout: a body that stalls is cut like a stalled header.
  const error_code ec = co_await read_exactly(asio::buffer(body.data() + have, body.size() - have),
                                              Clock::now() + s.idle_timeout);
  if (ec) {
    co_await close(false);
    co_return Body::closed;
  }
  co_return Body::ok;
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Body> Session<Stream>::read_chunked_body(
    const config::ServerSettings& s, RequestContext& pre, Request& request, BodyBudget& budget) {
  std::string& body = request.body();
  framing::ChunkedDecoder decoder(s.max_body_bytes);
  // The whole body within the idle timeout, as a sized one.
  const Clock::time_point deadline = Clock::now() + s.idle_timeout;
  for (;;) {
    // Reserve (and take from the budget) room for everything the decoder may append from what
    // is buffered, growing geometrically, so the body never reallocates past its share.
    const std::uint64_t need =
        std::min<std::uint64_t>(body.size() + buffer_.size(), s.max_body_bytes);
    if (need > budget.held()) {
      const std::uint64_t grown = std::max<std::uint64_t>(
          {need, std::min<std::uint64_t>(budget.held() * 2, s.max_body_bytes),
           std::min<std::uint64_t>(kMinBodyReservation, s.max_body_bytes)});
      if (!budget.grow_to(grown, s.max_buffered_body_bytes)) {
        co_await refuse(pre, 503,
                        "the gateway holds too many request bodies at the moment; retry shortly",
                        "Retry-After: 1\r\n");
        co_return Body::answered;
      }
      body.reserve(static_cast<std::size_t>(grown));
    }
    std::size_t used = 0;
    const auto status = decoder.feed(
        std::string_view(static_cast<const char*>(buffer_.data().data()), buffer_.size()), body,
        used);
    buffer_.consume(used);
    switch (status) {
      case framing::ChunkedDecoder::Status::done:
        co_return Body::ok;
      case framing::ChunkedDecoder::Status::bad:
        co_await refuse(pre, 400, decoder.error());
        co_return Body::answered;
      case framing::ChunkedDecoder::Status::too_large:
        co_await refuse(pre, 413, too_large(s));
        co_return Body::answered;
      case framing::ChunkedDecoder::Status::need_more:
        break;
    }
    auto [ec, n] = co_await read_some(buffer_.prepare(kBodyReadBytes), deadline);
    if (ec) {
      co_await close(false);  // closed, reset or stalled past the idle timeout
      co_return Body::closed;
    }
    buffer_.commit(n);
  }
}

template <class Stream>
asio::awaitable<void> Session<Stream>::reply_and_close(unsigned status, std::string_view message) {
  count(status == 431   ? ProtocolErrors::header_too_large
        : status == 505 ? ProtocolErrors::version
                        : ProtocolErrors::malformed);
  write_timeout_ = std::chrono::seconds(5);
  co_await Downstream::write(error_response(status, message, {}, "Connection: close\r\n"));
  co_await close(/*linger=*/true);
}

template <class Stream>
asio::awaitable<void> Session<Stream>::refuse(RequestContext& pre, unsigned status,
                                              std::string_view message, std::string_view headers) {
  write_timeout_ = std::chrono::seconds(5);
  pre.close = true;
  try {
    co_await plane_.handler.refuse_body(pre, status, message, headers);
  } catch (...) {
    failed_request_ = pre.request_id;
    throw;  // to run_session, which logs with both ids, answers and closes
  }
  co_await close(/*linger=*/true);
}

template <class Stream>
asio::awaitable<void> Session<Stream>::close(bool linger) {
  auto& socket = beast::get_lowest_layer(stream_);
  if constexpr (!std::is_same_v<Stream, TcpStream>) {
    // TLS close_notify; a peer that just drops the connection is fine (stream_truncated).
    socket.expires_after(std::chrono::seconds(2));
    co_await stream_.async_shutdown(use_nothrow);
  } else {
    error_code ec;
    socket.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (linger && !ec) {
      // Lingering close: read and drop what the client is still sending, so that our error
      // response is not destroyed by an RST triggered by unread data (as nginx does).
      socket.expires_after(kLingerTime);
      std::size_t drained = 0;
      char sink[4096];
      while (drained < kLingerBytes) {
        auto [rec, n] = co_await socket.async_read_some(asio::buffer(sink), use_nothrow);
        if (rec) {
          break;
        }
        drained += n;
      }
    }
  }
  error_code ec;
  socket.socket().close(ec);
}

// The TLS handshake, within the header timeout; false when it failed (the socket is closed).
template <class Stream>
asio::awaitable<bool> Session<Stream>::handshake() {
  if constexpr (!std::is_same_v<Stream, TcpStream>) {
    auto& socket = beast::get_lowest_layer(stream_);
    socket.expires_after(worker_.snapshot->config().server.header_timeout);
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, use_nothrow);
    if (ec) {
      error_code ignored;
      socket.socket().close(ignored);
      co_return false;
    }
  }
  co_return true;
}

// A request's header, found, checked and parsed by the framing rules (the header only; the
// session reads the body within its limits). False when the connection ended here: closed, timed
// out, or answered 400, 431 or 505 and closed.
template <class Stream>
asio::awaitable<bool> Session<Stream>::read_head(const config::ServerSettings& s, Request& request,
                                                 Clock::time_point& received) {
  std::size_t header_bytes = 0;
  std::string_view framing_error;
  const Read r = co_await read_header(s, header_bytes, framing_error);
  first_ = false;
  if (r == Read::closed || r == Read::timeout) {
    // A slow or stalled header (slowloris) is closed at the deadline without an answer, as
    // nginx does; the timed-out stream is already shut.
    if (r == Read::timeout) {
      count(ProtocolErrors::header_timeout);
    }
    co_await close(false);
    co_return false;
  }
  if (r == Read::bad) {
    co_await reply_and_close(
        framing_error.empty() ? 431 : 400,
        framing_error.empty() ? "request header block too large" : framing_error);
    co_return false;
  }
  received = Clock::now();
  const framing::Verdict verdict = request.parse(
      std::string_view(static_cast<const char*>(buffer_.data().data()), header_bytes));
  buffer_.consume(header_bytes);
  if (!verdict.ok()) {
    co_await reply_and_close(verdict.status, verdict.error);
    co_return false;
  }
  co_return true;
}

// The body, when there is one: a Content-Length over the limit is answered 413 first; then
// authentication and routing from the header alone (the data plane's), so an unauthenticated
// client gets its 401 (an unknown path its 404) before a byte of the body is read or any
// 100 Continue. False when the connection ended here.
template <class Stream>
asio::awaitable<bool> Session<Stream>::read_rest(const config::ServerSettings& s,
                                                 const Snapshot& snapshot, Request& request,
                                                 BodyBudget& budget, Clock::time_point received) {
  if (!request.chunked() && request.content_length().value_or(0) == 0) {
    co_return true;
  }
  RequestContext pre{worker_, snapshot, request, *this, received};
  pre.close = true;
  if (request.content_length().value_or(0) > s.max_body_bytes) {
    // Before the plane's refusals from the header (as nginx checks client_max_body_size first).
    co_await refuse(pre, 413, too_large(s));
    co_return false;
  }
  bool refused = false;
  try {
    refused = co_await plane_.handler.refuse_before_body(pre);
  } catch (...) {
    failed_request_ = pre.request_id;
    throw;  // to run_session, which logs with both ids, answers and closes
  }
  if (refused) {
    co_await close(/*linger=*/true);
    co_return false;
  }
  co_return co_await read_body(s, pre, request, budget) == Body::ok;
}

// Hands the whole request to the plane's handler. False when the connection must close (it is
// closed here).
template <class Stream>
asio::awaitable<bool> Session<Stream>::serve(const Snapshot& snapshot, Request& request,
                                             Clock::time_point received) {
  beast::get_lowest_layer(stream_).expires_never();
  RequestContext ctx{worker_, snapshot, request, *this, received};
  ctx.http10 = request.version() == 10;
  ctx.close = !request.keep_alive() || worker_.draining;
  worker_.active_requests.fetch_add(1, std::memory_order_relaxed);
  bool keep = false;
  try {
    keep = co_await plane_.handler.handle(ctx);
  } catch (...) {
    worker_.active_requests.fetch_sub(1, std::memory_order_relaxed);
    failed_request_ = ctx.request_id;
    throw;  // to run_session, which logs with both ids, answers and closes
  }
  worker_.active_requests.fetch_sub(1, std::memory_order_relaxed);
  if (!keep || ctx.close || worker_.draining) {
    co_await close(false);
    co_return false;
  }
  co_return true;
}

template <class Stream>
asio::awaitable<void> Session<Stream>::run() {
  {
    error_code ec;
    beast::get_lowest_layer(stream_).socket().set_option(asio::ip::tcp::no_delay(true), ec);
  }
  if (!co_await handshake()) {
    co_return;
  }
  for (;;) {
    // One snapshot per request: a reload never changes the settings under it.
    const std::shared_ptr<const Snapshot> snapshot = worker_.snapshot;
    const config::ServerSettings& s = snapshot->config().server;
    write_timeout_ = s.idle_timeout;
    wrote_ = false;
    head_only_ = false;
    head_matched_ = 0;
    if (buffer_.size() == 0) {
      buffer_.shrink_to_fit();  // an idle keep-alive connection keeps no read buffer
    }
    // Declared before the request, so the request's memory goes before its budget share.
    BodyBudget budget(plane_.body_budget);
    Request request;
    Clock::time_point received;
    if (!co_await read_head(s, request, received)) {
      co_return;
    }
    if (!co_await read_rest(s, *snapshot, request, budget, received)) {
      co_return;
    }
    // From the answer on (after any `100 Continue`, which goes whole), a HEAD's is its head alone.
    head_only_ = request.method() == http::verb::head;
    if (!co_await serve(*snapshot, request, received)) {
      co_return;
    }
  }
}

// Runs a session to its end. Whatever a request throws ends only that connection: it is logged
// and counted with the connection's and request's ids, answered 500 when possible, and closed.
template <class Stream>
asio::awaitable<void> run_session(std::unique_ptr<Session<Stream>> session) {
  std::exception_ptr failure;
  try {
    co_await session->run();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    co_await session->fail(failure);
  }
}

}  // namespace

void start_session(Worker& worker, ClientSocket socket, const PlaneContext& plane,
                   asio::ssl::context* tls) {
  const Where where = plane.plane == Plane::data ? Where::session : Where::admin;
  // From its construction on, the session owns the connection's admission (released in its
  // destructor); before that, a failure releases it here.
  if (tls != nullptr) {
    using Stream = asio::ssl::stream<TcpStream>;
    std::unique_ptr<Session<Stream>> s;
    try {
      s = std::make_unique<Session<Stream>>(worker, Stream(TcpStream(std::move(socket)), *tls),
                                            plane);
    } catch (...) {
      plane.connections.release();
      throw;
    }
    asio::co_spawn(worker.ioc, run_session(std::move(s)), worker.errors.guard(where));
  } else {
    std::unique_ptr<Session<TcpStream>> s;
    try {
      s = std::make_unique<Session<TcpStream>>(worker, TcpStream(std::move(socket)), plane);
    } catch (...) {
      plane.connections.release();
      throw;
    }
    asio::co_spawn(worker.ioc, run_session(std::move(s)), worker.errors.guard(where));
  }
}

std::string RequestContext::common_headers() const {
  std::string h;
  h.reserve(64);
  append_common_headers(h);
  return h;
}

void RequestContext::append_common_headers(std::string& h) const {
  h += "x-request-id: ";
  h += request_id;
  h += "\r\n";
  if (dialect == Dialect::anthropic) {
    // Anthropic's SDKs read the id from `request-id` (message._request_id, error.requestID).
    h += "request-id: ";
    h += request_id;
    h += "\r\n";
  }
  if (close) {
    h += "Connection: close\r\n";
  } else if (http10) {
    h += "Connection: keep-alive\r\n";
  }
}

}  // namespace sb::gateway
