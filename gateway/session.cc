#include "gateway/session.h"

#include <algorithm>
#include <memory>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "gateway/framing.h"
#include "gateway/handler.h"
#include "gateway/http_response.h"
#include "gateway/server.h"
#include "gateway/worker.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 1 << 20;

template <class Stream>
class Session final : public Drainable, public Downstream {
 public:
  Session(Worker& worker, Stream stream, Plane plane)
      : worker_(worker), stream_(std::move(stream)), plane_(plane) {
    it_ = worker_.sessions.insert(worker_.sessions.end(), this);
    worker_.open_sessions.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() override {
    worker_.sessions.erase(it_);
    worker_.open_sessions.fetch_sub(1, std::memory_order_relaxed);
  }

  asio::awaitable<void> run();

  void on_drain() override {
    if (idle_) {
      error_code ec;
      beast::get_lowest_layer(stream_).socket().cancel(ec);
    }
  }

  asio::awaitable<error_code> write(std::span<const asio::const_buffer> buffers) override {
    beast::get_lowest_layer(stream_).expires_after(write_timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, buffers, use_nothrow);
    co_return ec;
  }

 private:
  enum class Read { ok, closed, timeout, bad };
  asio::awaitable<Read> read_header(const config::ServerSettings& s, std::size_t& header_bytes,
                                    std::string_view& error);
  asio::awaitable<void> reply_and_close(unsigned status, std::string_view message);
  asio::awaitable<void> close(bool linger);

  Worker& worker_;
  Stream stream_;
  Plane plane_;
  beast::flat_buffer buffer_;
  bool idle_ = true;
  std::chrono::milliseconds write_timeout_{60'000};
  std::list<Drainable*>::iterator it_;
};

template <class Stream>
asio::awaitable<typename Session<Stream>::Read> Session<Stream>::read_header(
    const config::ServerSettings& s, std::size_t& header_bytes, std::string_view& error) {
  framing::ScanState state;
  auto& socket = beast::get_lowest_layer(stream_);
  idle_ = buffer_.size() == 0;
  // Keep-alive idle until the first byte of a request, then the header timeout (slowloris).
  auto deadline = Clock::now() + (idle_ ? s.idle_timeout : s.header_timeout);
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
    socket.expires_at(deadline);
    const std::size_t room =
        std::min<std::size_t>(16 * 1024, s.max_header_bytes + 1 - buffer_.size());
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(room), use_nothrow);
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
asio::awaitable<void> Session<Stream>::reply_and_close(unsigned status, std::string_view message) {
  write_timeout_ = std::chrono::seconds(5);
  const std::string bytes = error_response(status, message, {}, "Connection: close\r\n");
  co_await Downstream::write(bytes);
  co_await close(/*linger=*/true);
}

template <class Stream>
asio::awaitable<void> Session<Stream>::close(bool linger) {
  auto& socket = beast::get_lowest_layer(stream_);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
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

template <class Stream>
asio::awaitable<void> Session<Stream>::run() {
  auto& socket = beast::get_lowest_layer(stream_);
  {
    error_code ec;
    socket.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  }
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    socket.expires_after(worker_.snapshot->config().server.header_timeout);
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, use_nothrow);
    if (ec) {
      error_code ignored;
      socket.socket().close(ignored);
      co_return;
    }
  }

  for (;;) {
    // One snapshot per request: a reload never changes the settings under it.
    const std::shared_ptr<const Snapshot> snapshot = worker_.snapshot;
    const config::ServerSettings& s = snapshot->config().server;
    write_timeout_ = s.idle_timeout;

    std::size_t header_bytes = 0;
    std::string_view framing_error;
    const Read r = co_await read_header(s, header_bytes, framing_error);
    if (r == Read::closed) {
      co_await close(false);
      co_return;
    }
    if (r == Read::timeout) {
      // Slow or stalled header (slowloris): the connection is closed at the deadline without an
      // answer, as nginx does; the timed-out stream is already shut.
      co_await close(false);
      co_return;
    }
    if (r == Read::bad) {
      if (framing_error.empty()) {
        co_await reply_and_close(431, "request header block too large");
      } else {
        co_await reply_and_close(400, framing_error);
      }
      co_return;
    }
    const auto received = Clock::now();
    const std::string_view block(static_cast<const char*>(buffer_.data().data()), header_bytes);
    const framing::Verdict verdict = framing::validate_header_block(block);
    if (!verdict.ok()) {
      co_await reply_and_close(verdict.status, verdict.error);
      co_return;
    }

    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(s.max_header_bytes + 1));
    parser.body_limit(s.max_body_bytes);
    parser.eager(false);
    error_code ec;
    const std::size_t used = parser.put(asio::buffer(buffer_.data().data(), header_bytes), ec);
    buffer_.consume(used);
    if (ec == http::error::body_limit) {
      co_await reply_and_close(
          413, "request body exceeds the limit of " + std::to_string(s.max_body_bytes) + " bytes");
      co_return;
    }
    if ((ec && ec != http::error::need_more) || !parser.is_header_done()) {
      co_await reply_and_close(400, "malformed request header");
      co_return;
    }
    if (const auto len = parser.content_length(); len && *len > s.max_body_bytes) {
      co_await reply_and_close(
          413, "request body exceeds the limit of " + std::to_string(s.max_body_bytes) + " bytes");
      co_return;
    }
    if (!parser.is_done()) {
      const auto expect = parser.get()[http::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        co_await Downstream::write("HTTP/1.1 100 Continue\r\n\r\n");
      }
      socket.expires_after(s.idle_timeout);
      auto [rec, n] = co_await http::async_read(stream_, buffer_, parser, use_nothrow);
      if (rec == http::error::body_limit) {
        co_await reply_and_close(413, "request body exceeds the limit of " +
                                          std::to_string(s.max_body_bytes) + " bytes");
        co_return;
      }
      if (rec == beast::error::timeout) {
        co_await close(false);  // a body that stalls is cut like a stalled header
        co_return;
      }
      if (rec) {
        if (rec == http::error::end_of_stream || rec == asio::error::eof ||
            rec == http::error::partial_message || rec == asio::error::connection_reset) {
          co_await close(false);
        } else {
          co_await reply_and_close(400, "malformed request body");
        }
        co_return;
      }
    }
    socket.expires_never();

    const Request& request = parser.get();
    RequestContext ctx{worker_, *snapshot, request, *this, received};
    ctx.http10 = request.version() == 10;
    ctx.close = !request.keep_alive() || worker_.draining;
    worker_.active_requests.fetch_add(1, std::memory_order_relaxed);
    const bool keep =
        plane_ == Plane::data ? co_await handle_data(ctx) : co_await handle_admin(ctx);
    worker_.active_requests.fetch_sub(1, std::memory_order_relaxed);
    if (!keep || ctx.close || worker_.draining) {
      co_await close(false);
      co_return;
    }
  }
}

template <class Stream>
asio::awaitable<void> run_session(std::unique_ptr<Session<Stream>> session) {
  co_await session->run();
}

}  // namespace

void start_session(Worker& worker, asio::ip::tcp::socket socket, Plane plane,
                   asio::ssl::context* tls) {
  if (tls != nullptr) {
    using Stream = asio::ssl::stream<beast::tcp_stream>;
    auto s = std::make_unique<Session<Stream>>(
        worker, Stream(beast::tcp_stream(std::move(socket)), *tls), plane);
    asio::co_spawn(worker.ioc, run_session(std::move(s)), asio::detached);
  } else {
    auto s = std::make_unique<Session<beast::tcp_stream>>(
        worker, beast::tcp_stream(std::move(socket)), plane);
    asio::co_spawn(worker.ioc, run_session(std::move(s)), asio::detached);
  }
}

std::string RequestContext::common_headers() const {
  std::string h;
  h.reserve(64);
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
  return h;
}

}  // namespace sb::gateway
