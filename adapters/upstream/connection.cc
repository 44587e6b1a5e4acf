#include "adapters/upstream/connection.h"
#include "adapters/upstream/resolve.h"
#include "adapters/upstream/send_now.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace sb::upstream {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

const boost::system::error_category& http_category() {
  return http::make_error_code(http::error::end_of_stream).category();
}

}  // namespace

namespace detail {

Budget budget(std::chrono::milliseconds limit, Clock::time_point deadline) {
  const Clock::time_point now = Clock::now();
  const Clock::duration left = deadline - now;
  if (left <= limit) {
    return {left, true, deadline};
  }
  return {limit, false, now + limit};
}

Budget budget_until(Clock::time_point until, bool total_bound) {
  return {until - Clock::now(), total_bound, until};
}

ErrorKind classify(const error_code& ec, Phase phase, bool total_bound) {
  if (ec == beast::error::timeout) {
    if (total_bound) {
      return ErrorKind::total_timeout;
    }
    switch (phase) {
      case Phase::write:
      case Phase::header:
        return ErrorKind::first_byte_timeout;
      case Phase::body:
        return ErrorKind::idle_timeout;
    }
  }
  if (phase == Phase::write) {
    return ErrorKind::write;
  }
  if (ec == http::error::header_limit || ec == http::error::body_limit ||
      ec == http::error::buffer_overflow) {
    return ErrorKind::too_large;
  }
  if (ec.category() == http_category()) {
    // end_of_stream: closed before the response began; partial_message: closed inside it.
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return ErrorKind::reset;
    }
    return ErrorKind::protocol;
  }
  // eof, connection_reset, broken_pipe, a TLS record error or truncation mid-response: the
  // transport went away before the response was complete.
  return ErrorKind::reset;
}

}  // namespace detail

namespace {
/// The buffer's first capacity: a short answer's head and body, or a burst of stream events.
constexpr std::size_t kFirstReadBytes = 8 * 1024;
}  // namespace

Connection::Connection(const asio::io_context::executor_type& executor, ssl::context* tls,
                       detail::PoolKey key, std::size_t max_header_bytes)
    : key_(std::move(key)),
      tls_context_(tls),
      max_header_bytes_(static_cast<std::uint32_t>(
          std::clamp<std::size_t>(max_header_bytes, 1024, kMaxResponseHeaderBytes))),
      buffer_(max_header_bytes_),
      watch_(executor) {
  // Room for a typical answer's head and body in one read: an empty buffer would read 512 bytes
  // at a time (Beast's smallest read), two or three reads for a short answer.
  buffer_.reserve(std::min<std::size_t>(kFirstReadBytes, max_header_bytes_));
  if (tls != nullptr) {
    tls_.emplace(executor, *tls);
  } else {
    plain_.emplace(executor);
  }
}

// No TLS shutdown here, deliberately: this runs on abandon, eviction and pool teardown, where
// waiting for the peer's answer is not an option, and a plain close is safe because HTTP's own
// framing (Content-Length, chunked), not close_notify, tells the peer where our last request
// ended. That is also why the mirror case is benign: a peer that closes without close_notify
// makes Asio report ssl::error::stream_truncated, which loses nothing once a response's framing
// said it was complete (and read_body handles the one framing that ends at the close).
Connection::~Connection() = default;

void Connection::abort() {
  fail({ErrorKind::reset, asio::error::make_error_code(asio::error::operation_aborted)});
  error_code ignored;
  lowest().socket().close(ignored);
}

Connection::TcpStream& Connection::lowest() {
  return tls_ ? beast::get_lowest_layer(*tls_) : *plain_;
}

const Connection::TcpStream& Connection::lowest() const {
  return tls_ ? beast::get_lowest_layer(*tls_) : *plain_;
}

asio::awaitable<Error> Connection::connect(const Endpoint& endpoint,
                                           std::chrono::milliseconds connect_timeout,
                                           Clock::time_point deadline) {
  // One budget covers resolve, TCP connect and TLS handshake.
  const auto start = Clock::now();
  const bool total_bound = deadline - start <= connect_timeout;
  const Clock::time_point until = total_bound ? deadline : start + connect_timeout;
  const Error timed_out{total_bound ? ErrorKind::total_timeout : ErrorKind::connect_timeout,
                        beast::error::timeout};
  std::uint16_t port = 0;
  {
    const auto* first = endpoint.port.data();
    const auto* last = first + endpoint.port.size();
    auto [end, ec] = std::from_chars(first, last, port);
    if (ec != std::errc{} || end != last || port == 0) {
      fail({ErrorKind::resolve, asio::error::make_error_code(asio::error::invalid_argument)});
      co_return failure_;
    }
  }
  error_code ec;
  const asio::ip::address literal = asio::ip::make_address(endpoint.host, ec);
  Error e = co_await connect_tcp(endpoint, ec ? std::nullopt : std::optional(literal), port, until,
                                 timed_out);
  if (!e && tls_) {
    e = co_await handshake(endpoint, !ec, until, timed_out);
  }
  if (e) {
    fail(e);
  }
  co_return e;
}

// connect(): TCP to an IP literal directly or to a host name through the resolver, within
// `until`; Nagle off.
asio::awaitable<Error> Connection::connect_tcp(const Endpoint& endpoint,
                                               std::optional<asio::ip::address> literal,
                                               std::uint16_t port, Clock::time_point until,
                                               const Error& timed_out) {
  TcpStream& stream = lowest();
  auto left = [&] { return until - Clock::now(); };
  if (left() <= Clock::duration::zero()) {
    co_return timed_out;
  }
  error_code ec;
  if (literal) {
    stream.expires_after(left());
    auto [cec] = co_await stream.async_connect(tcp::endpoint(*literal, port), use_tuple);
    ec = cec;
  } else {
    const Resolved resolved = co_await resolve_until(
        stream.get_executor(), endpoint.host, std::string(endpoint.port), Clock::now() + left());
    if (resolved.timed_out) {
      co_return timed_out;
    }
    if (resolved.ec) {
      co_return Error{ErrorKind::resolve, resolved.ec};
    }
    if (left() <= Clock::duration::zero()) {
      co_return timed_out;
    }
    stream.expires_after(left());
    auto [cec, connected] = co_await stream.async_connect(resolved.results, use_tuple);
    (void)connected;
    ec = cec;
  }
  if (ec) {
    co_return ec == beast::error::timeout ? timed_out : Error{ErrorKind::connect, ec};
  }
  // Requests are written in one go and responses stream in small events: no Nagle delay.
  stream.socket().set_option(tcp::no_delay(true), ec);
  co_return Error{};
}

// connect(): the TLS handshake within `until`, with SNI for a host name and, when the context
// verifies peers, the certificate checked against the host.
asio::awaitable<Error> Connection::handshake(const Endpoint& endpoint, bool is_literal,
                                             Clock::time_point until, const Error& timed_out) {
  SSL* ssl = tls_->native_handle();
  // SNI carries host names only; RFC 6066 §3 forbids IP literals in it.
  if (!is_literal && SSL_set_tlsext_host_name(ssl, endpoint.host.c_str()) != 1) {
    co_return Error{ErrorKind::tls, error_code(static_cast<int>(::ERR_get_error()),
                                               asio::error::get_ssl_category())};
  }
  // The context decides whether peers are verified at all (verify_peer unless a lab turned it
  // off); when they are, the certificate must also name this host (DNS SAN, or IP SAN for an
  // IP literal), not merely chain to a trusted root.
  if ((SSL_CTX_get_verify_mode(tls_context_->native_handle()) & SSL_VERIFY_PEER) != 0) {
    tls_->set_verify_mode(ssl::verify_peer);
    tls_->set_verify_callback(ssl::host_name_verification(endpoint.host));
  }
  const Clock::duration left = until - Clock::now();
  if (left <= Clock::duration::zero()) {
    co_return timed_out;
  }
  lowest().expires_after(left);
  auto [hec] = co_await tls_->async_handshake(ssl::stream_base::client, use_tuple);
  if (hec) {
    co_return hec == beast::error::timeout ? timed_out : Error{ErrorKind::tls, hec};
  }
  co_return Error{};
}

asio::awaitable<Connection::WriteResult> Connection::write(const Request& request,
                                                           detail::Budget budget) {
  if (budget.expired()) {
    fail({ErrorKind::total_timeout, beast::error::timeout});
    co_return WriteResult{failure_, 0};
  }
  // The head, then the body's pieces, gathered: a spliced body lends the client's bytes. A TLS
  // stream writes one record per buffer: there a spliced body is joined to the head. The head's
  // buffer and the list are the connection's, their storage reused.
  request.head(head_out_);
  gather_.clear();
  std::string joined;
  const std::size_t pieces = request.body_pieces();
  if (tls_ && pieces > 1) {
    joined.reserve(head_out_.size() + request.body_size());
    joined.append(head_out_);
    for (std::size_t k = 0; k < pieces; ++k) {
      joined.append(request.body_piece(k));
    }
    gather_.push_back(asio::buffer(joined));
  } else {
    gather_.push_back(asio::buffer(head_out_));
    for (std::size_t k = 0; k < pieces; ++k) {
      const std::string_view piece = request.body_piece(k);
      gather_.push_back(asio::buffer(piece.data(), piece.size()));
    }
  }
  std::size_t total = 0;
  for (const asio::const_buffer& b : gather_) {
    total += b.size();
  }
  const std::span<const asio::const_buffer> buffers(gather_);
  error_code ec;
  std::size_t bytes = 0;
  if (tls_) {
    lowest().expires_after(budget.duration);
    std::tie(ec, bytes) = co_await asio::async_write(*tls_, buffers, use_tuple);
  } else {
    // What the socket takes at once (nearly every request) is sent without a wait; the rest
    // under the watchdog.
    bytes = send_now(plain_->socket().native_handle(), buffers);
    if (bytes < total) {
      beast::buffers_suffix<std::span<const asio::const_buffer>> rest(buffers);
      rest.consume(bytes);
      watch_.start(budget.until, plain_->socket());
      std::size_t more = 0;
      std::tie(ec, more) = co_await asio::async_write(plain_->socket(), rest, use_tuple);
      ec = watch_.finish(ec);
      bytes += more;
    }
  }
  if (ec) {
    fail({detail::classify(ec, detail::Phase::write, budget.total_bound), ec});
    co_return WriteResult{failure_, bytes};
  }
  co_return WriteResult{Error{}, bytes};
}

asio::awaitable<Error> Connection::read_header(bool head_request, detail::Budget budget) {
  if (budget.expired()) {
    fail({ErrorKind::total_timeout, beast::error::timeout});
    co_return failure_;
  }
  if (tls_) {
    lowest().expires_after(budget.duration);
    watching_body_ = false;  // the stream's timer is on again
  } else {
    watch_.start(budget.until, plain_->socket());
  }
  // The buffer never holds more than a header's worth: an endless header line ends as
  // header_limit or buffer_overflow (too_large), not as memory.
  buffer_.max_size(std::max<std::size_t>(max_header_bytes_, buffer_.size()));
  for (unsigned interim = 0;; ++interim) {
    if (interim > kMaxInterimResponses) {
      watch_.stop();
      fail({ErrorKind::protocol, http::make_error_code(http::error::bad_status)});
      co_return failure_;
    }
    parser_.emplace(head_);
    parser_->header_limit(max_header_bytes_);
    // Unlimited here: callers bound what they keep (read_all's max), and a stream is relayed.
    parser_->body_limit(boost::none);
    if (head_request) {
      parser_->skip(true);
    }
    error_code ec;
    if (tls_) {
      std::tie(ec, std::ignore) =
          co_await http::async_read_header(*tls_, buffer_, *parser_, use_tuple);
    } else {
      do {
        std::tie(ec, std::ignore) = co_await parse_some();
      } while (!ec && !parser_->is_header_done());
    }
    if (ec) {
      ec = watch_.finish(ec);
      fail({detail::classify(ec, detail::Phase::header, budget.total_bound), ec});
      co_return failure_;
    }
    const unsigned status = head_.status();
    if (status == 101) {
      // We never ask to upgrade; a switch of protocols here cannot be relayed as HTTP.
      watch_.stop();
      fail({ErrorKind::protocol, http::make_error_code(http::error::bad_status)});
      co_return failure_;
    }
    if (status >= 200) {
      watch_.stop();
      co_return Error{};
    }
    // 1xx (100 Continue, 103 Early Hints): interim, no body; the final response follows on the
    // same expiry.
  }
}

bool Connection::begin_body_read(detail::Budget budget, std::string& out, Error& err,
                                 Clock::time_point wake) {
  if (failure_) {
    err = failure_;
    return false;
  }
  if (budget.expired()) {
    fail({ErrorKind::total_timeout, beast::error::timeout});
    err = failure_;
    return false;
  }
  // A body the header's read brought along whole (a short answer with Content-Length) is parsed
  // from the buffer without touching the socket: nothing to time.
  const auto remaining = parser_->content_length_remaining();  // boost::optional
  if (!remaining || buffer_.size() < *remaining) {
    if (tls_ && !watching_body_) {
      lowest().expires_never();  // from here on the watchdog times the reads
      watching_body_ = true;
    }
    watch_.start(budget.until, lowest().socket(), wake);
  }
  // Body bytes stream through the buffer; what it must hold whole is framing (a chunk line, the
  // trailers), capped here. It never shrinks below what it already holds (Beast's read_size
  // assumes size <= max_size), which is at most the header's cap after read_header.
  if (buffer_.size() <= kMaxFramingBytes) {
    buffer_.max_size(kMaxFramingBytes);
  }
  parser_->body_sink(&out, kBodyReadBytes);
  return true;
}

asio::awaitable<std::tuple<error_code, std::size_t>> Connection::body_read() {
  return parse_some();
}

// Beast's http::async_read_some (its read_some_op) step for step, on the plain socket or the TLS
// stream: parse what is buffered, read only when the parser needs more, the same errors. Beast's
// composed operation posts its completion when the buffer alone sufficed (a short answer's body,
// which the header's read brought along; on a stream, every event's chunk after its size line),
// a trip through the scheduler this coroutine does not take.
asio::awaitable<std::tuple<error_code, std::size_t>> Connection::parse_some() {
  error_code ec;
  std::size_t parsed = 0;
  for (bool read = buffer_.size() == 0;; read = false) {
    if (!read) {
      const bool in_body = parser_->is_header_done();
      const std::size_t room = parser_->body_room();
      const std::size_t used = parser_->put(buffer_.data(), ec);
      parsed += used;
      buffer_.consume(used);
      if (!ec) {
        // Beast's operation returns here also when only a body's framing was parsed (a chunk's
        // size line, as each event of a stream begins), and its caller comes back at once for
        // the chunk that follows: with that chunk already buffered, it is parsed here.
        if (in_body && used > 0 && parser_->body_room() == room && buffer_.size() > 0 &&
            !parser_->is_done()) {
          continue;
        }
        break;
      }
      if (ec != http::error::need_more) {
        break;
      }
    }
    const std::size_t size = beast::read_size(buffer_, 65536);  // at most max_size() - size()
    if (size == 0) {
      ec = http::error::buffer_overflow;
      break;
    }
    error_code rec;
    std::size_t n = 0;
    if (tls_) {
      std::tie(rec, n) = co_await tls_->async_read_some(buffer_.prepare(size), use_tuple);
    } else {
      std::tie(rec, n) =
          co_await plain_->socket().async_read_some(buffer_.prepare(size), use_tuple);
    }
    buffer_.commit(n);
    ec = rec;
    if (ec && ec == asio::error::eof) {
      if (parser_->got_some()) {
        ec = {};  // the caller sees the end of the stream on its next read
        parser_->put_eof(ec);
      } else {
        ec = http::error::end_of_stream;
      }
      break;
    }
    if (ec) {
      break;
    }
  }
  co_return std::tuple(ec, parsed);
}

std::size_t Connection::end_body_read(error_code ec, detail::Budget budget, Error& err) {
  // A read the watchdog cancelled at its wake-up time (the socket still open: not an abort) ends
  // without an error; a TLS read cancelled so consumed nothing, and reading on is safe.
  woke_ =
      ec && ec == asio::error::operation_aborted && watch_.woke() && lowest().socket().is_open();
  ec = watch_.finish(ec);
  if (woke_) {
    ec = {};
  }
  const std::size_t produced = kBodyReadBytes - parser_->body_room();
  parser_->body_sink(nullptr, 0);
  // (Each read of a stream ends here: `ec` is tested first, which spares the comparisons' calls.)
  if (ec && ec == http::error::need_buffer) {
    ec = {};  // the buffer is full: not an error, the caller comes back for more
  }
  if (ec && ec == ssl::error::stream_truncated && parser_->need_eof()) {
    // A body delimited by the end of the connection (no Content-Length, not chunked) ended with
    // a TCP FIN but without a TLS close_notify. Beast only turns a plain eof into the end of such
    // a body; many servers skip close_notify, and for this framing a plain-HTTP peer could not
    // signal the end any better, so the same close ends the body here.
    parser_->put_eof(ec);
  }
  if (ec) {
    fail({detail::classify(ec, detail::Phase::body, budget.total_bound), ec});
    err = failure_;
  }
  return produced;
}

bool Connection::reusable() const {
  return !failure_ && parser_ && parser_->is_done() && parser_->keep_alive() &&
         buffer_.size() == 0 && lowest().socket().is_open();
}

void Connection::park() {
  // The watch ends; the timer's wait, if one is pending, stays: it finds nothing watched when it
  // fires, or serves the connection's next exchange. Cancelling it would post its completion
  // once an exchange, a trip through the scheduler for nothing.
  watch_.stop();
  watching_body_ = false;
  lowest().expires_never();
  parser_.reset();  // the read buffer and the head keep their capacity
}

bool Connection::idle_and_alive() {
  auto& socket = lowest().socket();
  if (!socket.is_open()) {
    return false;
  }
  // While idle, nothing may arrive. Peek one byte without blocking:
  //   0       → the peer closed (FIN): the classic stale keep-alive connection;
  //   > 0     → bytes nobody asked for (a late error page, a TLS alert): framing is lost;
  //   EAGAIN  → nothing pending: alive as far as can be known without a round trip.
  char byte = 0;
  for (;;) {
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

}  // namespace sb::upstream
