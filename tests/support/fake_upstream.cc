#include "tests/support/fake_upstream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using wire::append_int;
using HttpRequest = http::request<http::string_body>;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

constexpr std::uint32_t kHeaderLimit = 256 * 1024;
constexpr std::uint64_t kBodyLimit = std::uint64_t{64} << 20;
// Bounds on TLS work a peer could leave hanging; no test waits for them.
constexpr std::chrono::seconds kTlsHandshakeBound{30};
constexpr std::chrono::seconds kTlsShutdownBound{5};
constexpr std::int64_t kMaxLatencyMs = 10 * 60 * 1000;

void append_hex(std::string& out, std::size_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, 16);
  out.append(buf.data(), end);
}

void append_status_line(std::string& out, unsigned status) {
  out += "HTTP/1.1 ";
  append_int(out, status);
  out.push_back(' ');
  auto reason = http::obsolete_reason(static_cast<http::status>(status));
  if (reason.empty() || reason.front() == '<') {
    out += "Unknown";
  } else {
    out.append(reason.data(), reason.size());
  }
  out += "\r\n";
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

/// One chunked-transfer frame around `data` (which must not be empty: that is the terminator).
void append_chunk_frame(std::string& out, std::string_view data) {
  append_hex(out, data.size());
  out += "\r\n";
  out += data;
  out += "\r\n";
}

constexpr std::string_view kLastChunk = "0\r\n\r\n";

// --- stream helpers: the same coroutines serve plain TCP and TLS ---

using PlainStream = beast::tcp_stream;
using TlsStream = ssl::stream<beast::tcp_stream>;

tcp::socket& socket_of(PlainStream& s) {
  return s.socket();
}
tcp::socket& socket_of(TlsStream& s) {
  return s.next_layer().socket();
}

/// Aborts the connection with a TCP RST: SO_LINGER {on, 0} makes close() discard and reset.
template <class Stream>
void reset_connection(Stream& s) {
  error_code ec;
  auto& sock = socket_of(s);
  sock.set_option(tcp::socket::linger(true, 0), ec);
  sock.close(ec);
}

asio::awaitable<void> close_gracefully(PlainStream& s) {
  error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  s.socket().close(ec);
  co_return;
}

asio::awaitable<void> close_gracefully(TlsStream& s) {
  // close_notify first so the client sees a clean end; bounded in case the peer never answers.
  beast::get_lowest_layer(s).expires_after(kTlsShutdownBound);
  [[maybe_unused]] auto [ec] = co_await s.async_shutdown(kTok);
  error_code ignored;
  socket_of(s).shutdown(tcp::socket::shutdown_both, ignored);
  socket_of(s).close(ignored);
}

/// Never answers: reads and discards until the peer goes away (true) or the fake closes the
/// socket (false).
template <class Stream>
asio::awaitable<bool> stall(Stream& s) {
  std::array<char, 1024> sink;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(sink), kTok);
    if (ec) {
      co_return ec != asio::error::operation_aborted&& ec != asio::error::bad_descriptor;
    }
  }
}

template <class Stream>
asio::awaitable<bool> write_bytes(Stream& s, std::string_view bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), kTok);
  co_return !ec;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  if (d.count() <= 0) {
    co_return;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  [[maybe_unused]] auto [ec] = co_await timer.async_wait(kTok);
}

/// What one request's connection wants after the answer.
struct Connection {
  bool keep_alive = true;
  bool http10 = false;
};

void append_connection_header(std::string& out, Connection conn) {
  if (!conn.keep_alive) {
    out += "Connection: close\r\n";
  } else if (conn.http10) {
    out += "Connection: keep-alive\r\n";
  }
}

/// What to do with the connection once a response has been handled.
enum class Flow {
  keep_going,  ///< read the next request
  close,       ///< close cleanly
  done,        ///< the connection is already gone (reset, stalled out, write failed)
};

bool header_is(std::string_view name, std::string_view wanted) {
  return beast::iequals(name, wanted);
}

}  // namespace

// --- FakeUpstream::Impl ---

struct FakeUpstream::Impl {
  explicit Impl(FakeUpstreamOptions o) : options(std::move(o)) {}

  FakeUpstreamOptions options;
  // Declared before the io_context: coroutine frames holding TLS streams are destroyed with it.
  std::optional<ssl::context> tls;

  mutable std::mutex mu;
  mutable std::condition_variable arrived;
  std::deque<Response> script;            // guarded by mu
  std::atomic<std::size_t> scripted{0};   // script.size(), read without the lock on the hot path
  std::vector<RecordedRequest> recorded;  // guarded by mu
  std::size_t received = 0;               // guarded by mu
  /// options.record_file, open for appending; written under mu.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> record_out{nullptr, &std::fclose};
  std::atomic<std::size_t> accepted{0};
  std::atomic<std::size_t> abandoned{0};  // stalled answers whose client closed the connection
  // The engine metrics endpoint (options.metrics): serving it, its text (guarded by mu), and
  // the scrapes answered.
  bool metrics_on = false;
  bool metrics_up = true;    // guarded by mu
  std::string metrics_text;  // guarded by mu
  std::atomic<std::size_t> metrics_served{0};

  // Owned by the io thread.
  std::uint64_t next_serial = 0;
  std::uint64_t next_connection = 0;
  std::unordered_map<std::uint64_t, tcp::socket*> live;
  std::int64_t models_created = 0;

  std::uint16_t bound_port = 0;
  std::string url;

  // Last: destroyed first, which destroys the frames of any coroutine still suspended.
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  /// Keeps a connection's socket reachable for drop_connections() while its session runs.
  struct Registration {
    Registration(Impl& impl, tcp::socket& socket) : owner(impl), id(impl.next_connection++) {
      owner.live.emplace(id, &socket);
    }
    ~Registration() { owner.live.erase(id); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    Impl& owner;
    std::uint64_t id;
  };

  void start() {
    if (options.tls) {
      tls.emplace(ssl::context::tls_server);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
      error_code ec;
      tls->use_certificate_chain_file(options.cert_file, ec);
      if (ec) {
        throw std::runtime_error("fake upstream: cannot load certificate chain '" +
                                 options.cert_file + "': " + ec.message());
      }
      tls->use_private_key_file(options.key_file, ssl::context::pem, ec);
      if (ec) {
        throw std::runtime_error("fake upstream: cannot load private key '" + options.key_file +
                                 "': " + ec.message());
      }
    }

    if (!options.record_file.empty()) {
      record_out.reset(std::fopen(options.record_file.c_str(), "a"));
      if (!record_out) {
        throw std::runtime_error("fake upstream: cannot open '" + options.record_file +
                                 "' for appending");
      }
    }

    error_code ec;
    std::string host = options.host == "localhost" ? std::string("127.0.0.1") : options.host;
    auto address = asio::ip::make_address(host, ec);
    if (ec) {
      throw std::runtime_error("fake upstream: host must be an IP address or localhost, not '" +
                               options.host + "'");
    }
    tcp::endpoint endpoint(address, options.port);
    auto fail = [&](std::string_view what) {
      throw std::runtime_error("fake upstream: cannot " + std::string(what) + " " + host + ":" +
                               std::to_string(options.port) + ": " + ec.message());
    };
    if (acceptor.open(endpoint.protocol(), ec); ec) {
      fail("open a socket for");
    }
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor.bind(endpoint, ec); ec) {
      fail("bind");
    }
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
      fail("listen on");
    }
    bound_port = acceptor.local_endpoint().port();

    std::string url_host = address.is_v6() ? "[" + host + "]" : host;
    url = std::string(options.tls ? "https://" : "http://") + url_host + ":" +
          std::to_string(bound_port) + "/v1";

    models_created = wire::now_seconds();

    asio::co_spawn(ioc, accept_loop(), asio::detached);
    thread = std::thread([this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (...) {
          // A handler threw (only allocation failure can); keep serving the others.
        }
      }
    });
  }

  void stop() {
    asio::post(ioc, [this] {
      error_code ec;
      acceptor.close(ec);
      close_all();
      ioc.stop();
    });
    if (thread.joinable()) {
      thread.join();
    }
  }

  void close_all() {
    for (auto& [id, socket] : live) {
      error_code ec;
      socket->shutdown(tcp::socket::shutdown_both, ec);
      socket->close(ec);
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTok);
      if (ec) {
        if (!acceptor.is_open()) {
          co_return;
        }
        // Out of descriptors or a transient failure: back off briefly rather than spin.
        co_await sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      accepted.fetch_add(1, std::memory_order_release);
      error_code ignored;
      // Small writes (one SSE event each) must leave at once, not wait for Nagle.
      socket.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    if (tls) {
      TlsStream stream(std::move(socket), *tls);
      Registration registration(*this, socket_of(stream));
      beast::get_lowest_layer(stream).expires_after(kTlsHandshakeBound);
      auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTok);
      if (ec) {
        co_return;
      }
      beast::get_lowest_layer(stream).expires_never();
      co_await serve(stream);
    } else {
      PlainStream stream(std::move(socket));
      Registration registration(*this, stream.socket());
      co_await serve(stream);
    }
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      auto [header_ec, header_n] = co_await http::async_read_header(stream, buffer, parser, kTok);
      if (header_ec) {
        co_await reject_malformed(stream, header_ec);
        co_return;
      }
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        if (!co_await write_bytes(stream, "HTTP/1.1 100 Continue\r\n\r\n")) {
          co_return;
        }
      }
      if (!parser.is_done()) {
        auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, kTok);
        if (body_ec) {
          co_await reject_malformed(stream, body_ec);
          co_return;
        }
      }
      HttpRequest request = parser.release();
      Connection conn{request.keep_alive(), request.version() < 11};
      if (metrics_on && request.method() == http::verb::get && request.target() == "/metrics") {
        if (co_await send_metrics(stream, conn) != Flow::keep_going) {
          co_return;
        }
        continue;
      }
      record(request);

      Flow flow;
      if (auto scripted_response = pop_script()) {
        flow = co_await send_scripted(stream, std::move(*scripted_response), conn);
      } else {
        flow = co_await answer(stream, request, conn);
      }
      if (flow == Flow::keep_going) {
        continue;
      }
      if (flow == Flow::close) {
        co_await close_gracefully(stream);
      }
      co_return;
    }
  }

  /// Answers a request that could not be parsed with a status that says why, then closes.
  template <class Stream>
  asio::awaitable<void> reject_malformed(Stream& stream, error_code ec) {
    if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message) {
      co_return;  // the peer went away or the socket failed: nobody to answer
    }
    unsigned status = 400;
    if (ec == http::error::body_limit) {
      status = 413;
    } else if (ec == http::error::header_limit) {
      status = 431;
    }
    Flow flow = co_await send_json(
        stream, status, wire::openai_error_json(ec.message(), "invalid_request_error", "", ""),
        Connection{false, false});
    if (flow == Flow::close) {
      co_await close_gracefully(stream);
    }
  }

  void record(const HttpRequest& request) {
    if (record_out) {
      std::string line = wire::record_line(request.method_string(), request.target(),
                                           request.base(), request.body());
      std::lock_guard lock(mu);
      std::fwrite(line.data(), 1, line.size(), record_out.get());
      std::fflush(record_out.get());
    }
    if (options.record_requests) {
      RecordedRequest r;
      r.method.assign(request.method_string());
      r.target.assign(request.target());
      r.headers.reserve(8);
      for (const auto& field : request) {
        r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      r.body = request.body();
      std::lock_guard lock(mu);
      recorded.push_back(std::move(r));
      ++received;
    } else {
      std::lock_guard lock(mu);
      ++received;
    }
    arrived.notify_all();
  }

  std::optional<Response> pop_script() {
    if (scripted.load(std::memory_order_acquire) == 0) {
      return std::nullopt;
    }
    std::lock_guard lock(mu);
    if (script.empty()) {
      return std::nullopt;
    }
    Response r = std::move(script.front());
    script.pop_front();
    scripted.store(script.size(), std::memory_order_release);
    return r;
  }

  void append_request_id(std::string& out) {
    out += "x-request-id: req_";
    wire::append_hex_padded(out, ++next_serial, 16);
    out += "\r\n";
  }

  /// GET /metrics while options.metrics is set: the current text, or 503 while it is down.
  template <class Stream>
  asio::awaitable<Flow> send_metrics(Stream& stream, Connection conn) {
    std::string body;
    bool up = true;
    {
      std::lock_guard lock(mu);
      up = metrics_up;
      body = metrics_text;
    }
    metrics_served.fetch_add(1);
    if (!up) {
      body = "metrics unavailable\n";
    }
    // As an engine's metrics endpoint: no request id.
    co_return co_await send_body(stream, up ? 200 : 503, "text/plain; version=0.0.4; charset=utf-8",
                                 body, conn, {}, false);
  }

  template <class Stream>
  asio::awaitable<Flow> send_json(Stream& stream, unsigned status, std::string_view body,
                                  Connection conn, std::string_view extra_headers = {}) {
    co_return co_await send_body(stream, status, "application/json", body, conn, extra_headers,
                                 true);
  }

  template <class Stream>
  asio::awaitable<Flow> send_body(Stream& stream, unsigned status, std::string_view content_type,
                                  std::string_view body, Connection conn,
                                  std::string_view extra_headers, bool request_id) {
    std::string out;
    out.reserve(192 + body.size());
    append_status_line(out, status);
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
    if (request_id) {
      append_request_id(out);
    }
    out += extra_headers;
    out += "Content-Length: ";
    append_int(out, static_cast<std::int64_t>(body.size()));
    out += "\r\n";
    append_connection_header(out, conn);
    out += "\r\n";
    out += body;
    if (!co_await write_bytes(stream, out)) {
      co_return Flow::done;
    }
    co_return conn.keep_alive ? Flow::keep_going : Flow::close;
  }

  /// Response::Kind::raw: the bytes exactly as scripted, then the connection is closed (a reset
  /// when the peer stopped reading, which is how a hostile upstream usually ends).
  template <class Stream>
  asio::awaitable<void> send_raw(Stream& stream, const Response& r) {
    bool ok = r.body.empty() || co_await write_bytes(stream, r.body);
    for (std::size_t i = 0; ok && i < r.chunks.size(); ++i) {
      co_await sleep_for(r.chunks[i].delay);
      ok = r.chunks[i].bytes.empty() || co_await write_bytes(stream, r.chunks[i].bytes);
    }
    if (ok && !r.repeat.empty()) {
      // Larger writes than one repetition: fewer syscalls for a flood of small pieces.
      std::string block;
      while (block.size() < 64 * 1024) {
        block += r.repeat;
      }
      for (std::size_t sent = 0; ok && sent < r.repeat_bytes; sent += block.size()) {
        ok = co_await write_bytes(stream, block);
      }
    }
    if (ok) {
      co_await close_gracefully(stream);
    } else {
      reset_connection(stream);
    }
  }

  template <class Stream>
  asio::awaitable<Flow> send_scripted(Stream& stream, Response r, Connection conn) {
    co_await sleep_for(r.header_delay);
    switch (r.kind) {
      case Response::Kind::reset_on_read:
        reset_connection(stream);
        co_return Flow::done;
      case Response::Kind::close_on_read:
        co_await close_gracefully(stream);
        co_return Flow::done;
      case Response::Kind::stall:
        if (co_await stall(stream)) {
          abandoned.fetch_add(1);
        }
        co_return Flow::done;
      case Response::Kind::raw:
        co_await send_raw(stream, r);
        co_return Flow::done;
      case Response::Kind::normal:
        break;
    }

    bool has_type = false;
    bool has_length = false;
    bool has_encoding = false;
    bool has_cache = false;
    bool asks_close = false;
    for (const auto& [name, value] : r.headers) {
      has_type = has_type || header_is(name, "content-type");
      has_length = has_length || header_is(name, "content-length");
      has_encoding = has_encoding || header_is(name, "transfer-encoding");
      has_cache = has_cache || header_is(name, "cache-control");
      if (header_is(name, "connection") && beast::iequals(value, "close")) {
        asks_close = true;
      }
    }
    if (asks_close) {
      conn.keep_alive = false;
    }
    const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;

    std::string head;
    head.reserve(256);
    append_status_line(head, r.status);
    for (const auto& [name, value] : r.headers) {
      append_header(head, name, value);
    }
    if (r.chunks.empty()) {
      if (!bodiless) {
        if (!has_type) {
          head += "Content-Type: application/json\r\n";
        }
        if (!has_length && !has_encoding) {
          head += "Content-Length: ";
          append_int(head, static_cast<std::int64_t>(r.body.size()));
          head += "\r\n";
        }
      }
      if (!asks_close) {
        append_connection_header(head, conn);
      }
      head += "\r\n";
      if (!bodiless) {
        head += r.body;
      }
      if (!co_await write_bytes(stream, head)) {
        co_return Flow::done;
      }
      co_return conn.keep_alive ? Flow::keep_going : Flow::close;
    }

    // A scripted Content-Length means the chunks are raw pieces of a fixed-length body;
    // otherwise each chunk is one chunked-transfer frame.
    const bool framed = !has_length;
    if (!has_type) {
      head += "Content-Type: text/event-stream\r\n";
    }
    if (!has_cache) {
      head += "Cache-Control: no-cache\r\n";
    }
    if (framed && !has_encoding) {
      head += "Transfer-Encoding: chunked\r\n";
    }
    if (!asks_close) {
      append_connection_header(head, conn);
    }
    head += "\r\n";
    if (!co_await write_bytes(stream, head)) {
      co_return Flow::done;
    }

    std::string frame;
    for (std::size_t i = 0; i <= r.chunks.size(); ++i) {
      if (r.reset_after_chunks && *r.reset_after_chunks == i) {
        reset_connection(stream);
        co_return Flow::done;
      }
      if (r.stall_after_chunks && *r.stall_after_chunks == i) {
        if (co_await stall(stream)) {
          abandoned.fetch_add(1);
        }
        co_return Flow::done;
      }
      if (i == r.chunks.size()) {
        break;
      }
      const Chunk& chunk = r.chunks[i];
      co_await sleep_for(chunk.delay);
      if (chunk.bytes.empty()) {
        continue;  // an empty frame would end the body early
      }
      std::string_view bytes = chunk.bytes;
      if (framed) {
        frame.clear();
        append_chunk_frame(frame, chunk.bytes);
        bytes = frame;
      }
      if (!co_await write_bytes(stream, bytes)) {
        co_return Flow::done;
      }
    }
    if (framed && !co_await write_bytes(stream, kLastChunk)) {
      co_return Flow::done;
    }
    co_return conn.keep_alive ? Flow::keep_going : Flow::close;
  }

  template <class Stream>
  asio::awaitable<Flow> answer(Stream& stream, const HttpRequest& request, Connection conn) {
    std::chrono::milliseconds latency = options.latency;
    if (auto it = request.find("x-fake-latency-ms"); it != request.end()) {
      std::int64_t ms = 0;
      auto v = it->value();
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
      if (ec == std::errc{} && ms >= 0) {
        latency = std::chrono::milliseconds(std::min(ms, kMaxLatencyMs));
      }
    }
    std::string_view target = request.target();
    std::size_t question = target.find('?');
    std::string_view path = target.substr(0, question);
    while (path.size() > 1 && path.back() == '/') {
      path.remove_suffix(1);
    }
    wire::WireRequest wr{
        request.method(),
        request.method_string(),
        path,
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1),
        request.body(),
        request.base()};
    wire::WireContext ctx{options.name,
                          options.azure_model,
                          ++next_serial,
                          wire::now_seconds(),
                          latency,
                          options.report_prompt_tokens,
                          options.report_completion_tokens};
    std::optional<wire::Format> format = wire::route(wr.method, path);

    if (auto it = request.find("x-fake-status"); it != request.end()) {
      unsigned status = 0;
      auto v = it->value();
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), status);
      if (ec == std::errc{} && status >= 400 && status <= 599) {
        co_await sleep_for(latency);
        co_return co_await send_reply(stream, status_error(format, status, ctx), latency, conn);
      }
    }

    wire::WireReply reply;
    if (!format) {
      reply = wire::openai_not_found(wr, ctx);
    } else {
      switch (*format) {
        case wire::Format::openai:
          reply = wr.method == http::verb::post
                      ? wire::openai_answer(wr, ctx)
                      : wire::openai_models(options.name, models_created, ctx);
          break;
        case wire::Format::azure:
          reply = wire::azure_answer(wr, ctx);
          break;
        case wire::Format::anthropic:
          reply = wire::anthropic_answer(wr, ctx);
          break;
        case wire::Format::gemini:
          reply = wire::gemini_answer(wr, ctx);
          break;
        case wire::Format::ollama:
          reply = wire::ollama_answer(wr, ctx);
          break;
        case wire::Format::bedrock:
          reply = wire::bedrock_answer(wr, ctx);
          break;
        case wire::Format::health:
          reply = wire::health_answer(wr, ctx);
          break;
      }
    }
    if (reply.events.empty() && reply.status < 300) {
      co_await sleep_for(latency);  // the model "thinks" before a whole answer
    }
    if (request.method() == http::verb::head) {
      reply.body.clear();
      reply.events.clear();
    }
    co_return co_await send_reply(stream, std::move(reply), latency, conn);
  }

  /// The error body `x-fake-status` asks for, in the shape of the format the path belongs to.
  static wire::WireReply status_error(std::optional<wire::Format> format, unsigned status,
                                      const wire::WireContext& ctx) {
    switch (format.value_or(wire::Format::openai)) {
      case wire::Format::azure:
        return wire::azure_status_error(status, ctx);
      case wire::Format::anthropic:
        return wire::anthropic_status_error(status, ctx);
      case wire::Format::gemini:
        return wire::gemini_status_error(status, ctx);
      case wire::Format::ollama:
        return wire::ollama_status_error(status, ctx);
      case wire::Format::bedrock:
        return wire::bedrock_status_error(status, ctx);
      case wire::Format::openai:
      case wire::Format::health:
        break;
    }
    return wire::openai_status_error(status, ctx);
  }

  /// Writes a format's answer: a whole body with Content-Length, or chunked frames, the first
  /// with the head and each next one `latency` after the previous.
  template <class Stream>
  asio::awaitable<Flow> send_reply(Stream& stream, wire::WireReply reply,
                                   std::chrono::milliseconds latency, Connection conn) {
    std::string out;
    std::size_t total = reply.body.size();
    for (const auto& e : reply.events) {
      total += e.size() + 12;
    }
    out.reserve(256 + reply.headers.size() + (latency.count() == 0 ? total : 512));
    append_status_line(out, reply.status);
    append_header(out, "Content-Type", reply.content_type);
    out += reply.headers;
    if (reply.events.empty()) {
      out += "Content-Length: ";
      append_int(out, static_cast<std::int64_t>(reply.body.size()));
      out += "\r\n";
      append_connection_header(out, conn);
      out += "\r\n";
      out += reply.body;
      if (!co_await write_bytes(stream, out)) {
        co_return Flow::done;
      }
      co_return conn.keep_alive ? Flow::keep_going : Flow::close;
    }

    out += "Transfer-Encoding: chunked\r\n";
    append_connection_header(out, conn);
    out += "\r\n";
    if (latency.count() == 0) {
      // Nothing to wait for between events: the same bytes in one write.
      for (const auto& e : reply.events) {
        append_chunk_frame(out, e);
      }
      out += kLastChunk;
      if (!co_await write_bytes(stream, out)) {
        co_return Flow::done;
      }
    } else {
      append_chunk_frame(out, reply.events.front());
      if (reply.events.size() == 1) {
        out += kLastChunk;
      }
      if (!co_await write_bytes(stream, out)) {
        co_return Flow::done;
      }
      for (std::size_t i = 1; i < reply.events.size(); ++i) {
        co_await sleep_for(latency);
        out.clear();
        append_chunk_frame(out, reply.events[i]);
        if (i + 1 == reply.events.size()) {
          out += kLastChunk;
        }
        if (!co_await write_bytes(stream, out)) {
          co_return Flow::done;
        }
      }
    }
    co_return conn.keep_alive ? Flow::keep_going : Flow::close;
  }
};

// --- public API ---

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

FakeUpstream::FakeUpstream(FakeUpstreamOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  if (impl_->options.metrics) {
    impl_->metrics_on = true;
    impl_->metrics_text = *impl_->options.metrics;
  }
  impl_->start();
}

void FakeUpstream::set_metrics(std::optional<std::string> text) {
  std::lock_guard lock(impl_->mu);
  impl_->metrics_up = text.has_value();
  if (text) {
    impl_->metrics_text = std::move(*text);
  }
}

std::size_t FakeUpstream::metrics_requests() const {
  return impl_->metrics_served.load();
}

std::size_t FakeUpstream::abandoned() const {
  return impl_->abandoned.load();
}

FakeUpstream::~FakeUpstream() {
  impl_->stop();
}

std::uint16_t FakeUpstream::port() const {
  return impl_->bound_port;
}

std::string FakeUpstream::base_url() const {
  return impl_->url;
}

void FakeUpstream::push(Response response) {
  std::lock_guard lock(impl_->mu);
  impl_->script.push_back(std::move(response));
  impl_->scripted.store(impl_->script.size(), std::memory_order_release);
}

std::vector<RecordedRequest> FakeUpstream::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->recorded;
}

std::size_t FakeUpstream::request_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->received;
}

bool FakeUpstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->arrived.wait_for(lock, timeout, [&] { return impl_->received >= n; });
}

std::size_t FakeUpstream::connections() const {
  return impl_->accepted.load(std::memory_order_acquire);
}

void FakeUpstream::drop_connections() {
  if (impl_->ioc.get_executor().running_in_this_thread()) {
    impl_->close_all();
    return;
  }
  std::promise<void> closed;
  auto done = closed.get_future();
  asio::post(impl_->ioc, [&] {
    impl_->close_all();
    closed.set_value();
  });
  done.wait();
}

}  // namespace sb::testing