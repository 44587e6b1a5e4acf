// The fake engine's HTTP side: vLLM's OpenAI-compatible server (uvicorn) reduced to the routes a
// gateway uses, answering from the capacity model (see fake_engine.h). One io_context thread owns
// the model; every handler advances it to the current simulated time before reading it, and a
// request waiting for tokens polls it every tick.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <thread>

#include "tests/support/fake_engine.h"
#include "tests/support/fake_wire.h"

namespace sb::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using wire::append_int;
using wire::append_json_string;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kBodyLimit = std::uint64_t{16} << 20;
/// How often a request waiting for tokens looks at the model (wall clock).
constexpr std::chrono::milliseconds kTick{5};

/// vLLM's error body (vllm/entrypoints/openai/protocol.py ErrorResponse).
std::string vllm_error(std::string_view message, std::string_view type, unsigned code) {
  std::string out = "{\"object\":\"error\",\"message\":";
  append_json_string(out, message);
  out += ",\"type\":";
  append_json_string(out, type);
  out += ",\"param\":null,\"code\":";
  append_int(out, code);
  out += '}';
  return out;
}

std::string head(unsigned status, std::string_view reason, std::string_view type,
                 std::size_t length, bool chunked) {
  std::string out = "HTTP/1.1 ";
  append_int(out, status);
  out += ' ';
  out += reason;
  out += "\r\ndate: ";
  char date[64];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  out += date;
  out += "\r\nserver: uvicorn\r\n";
  if (chunked) {
    out += "content-type: ";
    out += type;
    out += "\r\ntransfer-encoding: chunked\r\n\r\n";
  } else {
    out += "content-length: ";
    append_int(out, static_cast<std::int64_t>(length));
    out += "\r\ncontent-type: ";
    out += type;
    out += "\r\n\r\n";
  }
  return out;
}

std::string whole(unsigned status, std::string_view reason, std::string_view type,
                  std::string_view body) {
  std::string out = head(status, reason, type, body.size(), false);
  out += body;
  return out;
}

void append_chunk(std::string& out, std::string_view data) {
  char hex[20];
  std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
  out += hex;
  out += data;
  out += "\r\n";
}

/// Token i of every answer: "Hello", then " token" again and again.
std::string_view token_text(std::int64_t i) {
  return i == 0 ? std::string_view("Hello") : std::string_view(" token");
}

struct Ask {
  std::int64_t prompt = 0;
  std::int64_t output = 0;
  bool by_limit = false;  ///< output came from max_tokens: finish_reason "length"
  bool stream = false;
  bool include_usage = false;
  std::string model;
  unsigned error_status = 0;  ///< non-zero: `error` holds the body to answer with
};

void append_usage(std::string& out, std::int64_t prompt, std::int64_t completion) {
  out += "{\"prompt_tokens\":";
  append_int(out, prompt);
  out += ",\"total_tokens\":";
  append_int(out, prompt + completion);
  out += ",\"completion_tokens\":";
  append_int(out, completion);
  out += ",\"prompt_tokens_details\":null}";
}

}  // namespace

struct FakeEngine::Impl {
  explicit Impl(EngineOptions o) : model(std::move(o)) {}

  EngineModel model;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::uint64_t serial = 0;
  std::string host;
  std::uint16_t bound_port = 0;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  double sim_now() const {
    std::chrono::duration<double> wall = std::chrono::steady_clock::now() - started;
    return wall.count() * model.options().time_scale;
  }

  void start(const std::string& h, std::uint16_t port) {
    error_code ec;
    host = h == "localhost" ? std::string("127.0.0.1") : h;
    auto address = asio::ip::make_address(host, ec);
    if (ec) {
      throw std::runtime_error("fake engine: host must be an IP address, not '" + h + "'");
    }
    tcp::endpoint endpoint(address, port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor.set_option(asio::socket_base::reuse_address(true), ec);
      acceptor.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      throw std::runtime_error("fake engine: cannot listen on " + host + ":" +
                               std::to_string(port) + ": " + ec.message());
    }
    bound_port = acceptor.local_endpoint().port();
    asio::co_spawn(ioc, accept_loop(), asio::detached);
    thread = std::thread([this] { ioc.run(); });
  }

  void stop() {
    asio::post(ioc, [this] {
      error_code ec;
      acceptor.close(ec);
      ioc.stop();
    });
    if (thread.joinable()) {
      thread.join();
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTok);
      if (ec) {
        if (!acceptor.is_open()) {
          co_return;
        }
        asio::steady_timer pause(ioc, std::chrono::milliseconds(10));
        co_await pause.async_wait(kTok);
        continue;
      }
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<bool> send(tcp::socket& socket, std::string_view bytes) {
    auto [ec, n] =
        co_await asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), kTok);
    co_return !ec;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kBodyLimit);
      auto [ec, n] = co_await http::async_read(socket, buffer, parser, kTok);
      if (ec) {
        if (ec != http::error::end_of_stream && ec != asio::error::connection_reset &&
            ec != asio::error::eof) {
          co_await send(socket, whole(400, "Bad Request", "application/json",
                                      vllm_error(ec.message(), "BadRequestError", 400)));
        }
        co_return;
      }
      auto request = parser.release();
      bool keep = request.keep_alive();
      if (!co_await answer(socket, request)) {
        co_return;
      }
      if (!keep) {
        error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
      }
    }
  }

  asio::awaitable<bool> answer(tcp::socket& socket, const http::request<http::string_body>& r) {
    std::string_view target = r.target();
    std::string_view path = target.substr(0, target.find('?'));
    model.advance(sim_now());
    if (r.method() == http::verb::get && path == "/metrics") {
      co_return co_await send(socket, whole(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                                            model.metrics_text()));
    }
    if (r.method() == http::verb::get && path == "/health") {
      co_return co_await send(socket, whole(200, "OK", "application/json", ""));
    }
    if (r.method() == http::verb::get && path == "/v1/models") {
      co_return co_await send(socket, whole(200, "OK", "application/json", models_body()));
    }
    if (r.method() == http::verb::post && path == "/v1/chat/completions") {
      co_return co_await chat(socket, r.body());
    }
    co_return co_await send(
        socket, whole(404, "Not Found", "application/json", "{\"detail\":\"Not Found\"}"));
  }

  std::string models_body() const {
    std::string out = "{\"object\":\"list\",\"data\":[{\"id\":";
    append_json_string(out, model.options().model);
    out += ",\"object\":\"model\",\"created\":";
    append_int(out, wire::now_seconds());
    out += ",\"owned_by\":\"vllm\",\"root\":";
    append_json_string(out, model.options().model);
    out += ",\"parent\":null,\"max_model_len\":";
    append_int(out, model.options().kv_tokens);
    out += "}]}";
    return out;
  }

  /// The request's sizes, or an error body in `error`.
  Ask read_ask(std::string_view body, std::string& error) const {
    auto read = wire::read_openai_chat(body);
    Ask ask;
    if (read.error_status != 0) {
      ask.error_status = read.error_status;
      error = read.error;
      return ask;
    }
    ask.prompt = read.dialogue.prompt_tokens;
    ask.stream = read.dialogue.stream;
    ask.include_usage = read.include_usage;
    ask.model = read.dialogue.model;
    ask.output = model.options().output_tokens;
    if (read.dialogue.max_tokens && *read.dialogue.max_tokens >= 0) {
      ask.by_limit = *read.dialogue.max_tokens <= ask.output;
      ask.output = std::min(ask.output, *read.dialogue.max_tokens);
    }
    return ask;
  }

  asio::awaitable<bool> chat(tcp::socket& socket, std::string_view body) {
    std::string error;
    Ask ask = read_ask(body, error);
    if (ask.error_status != 0) {
      co_return co_await send(socket,
                              whole(ask.error_status, "Bad Request", "application/json", error));
    }
    if (ask.model != model.options().model) {
      co_return co_await send(
          socket,
          whole(404, "Not Found", "application/json",
                vllm_error("The model `" + ask.model + "` does not exist.", "NotFoundError", 404)));
    }
    auto id = model.submit(sim_now(), ask.prompt, ask.output);
    if (!id) {
      co_return co_await send(
          socket, whole(400, "Bad Request", "application/json",
                        vllm_error("This model's maximum context length is " +
                                       std::to_string(model.options().kv_tokens) +
                                       " tokens. However, you requested " +
                                       std::to_string(ask.prompt + ask.output) + " tokens.",
                                   "BadRequestError", 400)));
    }
    std::string chat_id = wire::vendor_id("chatcmpl-", ++serial, 32);
    bool ok = ask.stream ? co_await stream(socket, ask, *id, chat_id)
                         : co_await whole_answer(socket, ask, *id, chat_id);
    model.forget(*id);
    co_return ok;
  }

  asio::awaitable<void> tick() {
    asio::steady_timer timer(ioc, kTick);
    co_await timer.async_wait(kTok);
    model.advance(sim_now());
  }

  asio::awaitable<bool> whole_answer(tcp::socket& socket, const Ask& ask, EngineModel::Id id,
                                     const std::string& chat_id) {
    while (!model.progress(id).done) {
      co_await tick();
    }
    std::string text;
    for (std::int64_t i = 0; i < ask.output; ++i) {
      text += token_text(i);
    }
    std::string out = "{\"id\":";
    append_json_string(out, chat_id);
    out += ",\"object\":\"chat.completion\",\"created\":";
    append_int(out, wire::now_seconds());
    out += ",\"model\":";
    append_json_string(out, ask.model);
    out +=
        ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"reasoning_content\":"
        "null,\"content\":";
    append_json_string(out, text);
    out += ",\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":";
    out += ask.by_limit ? "\"length\"" : "\"stop\"";
    out += ",\"stop_reason\":null}],\"usage\":";
    append_usage(out, ask.prompt, ask.output);
    out += ",\"prompt_logprobs\":null}";
    co_return co_await send(socket, whole(200, "OK", "application/json", out));
  }

  std::string chunk_prefix(const Ask& ask, const std::string& chat_id, std::int64_t created) {
    std::string prefix = "data: {\"id\":";
    append_json_string(prefix, chat_id);
    prefix += ",\"object\":\"chat.completion.chunk\",\"created\":";
    append_int(prefix, created);
    prefix += ",\"model\":";
    append_json_string(prefix, ask.model);
    prefix += ",\"choices\":";
    return prefix;
  }

  asio::awaitable<bool> stream(tcp::socket& socket, const Ask& ask, EngineModel::Id id,
                               const std::string& chat_id) {
    const std::string prefix = chunk_prefix(ask, chat_id, wire::now_seconds());
    std::string_view tail = ask.include_usage ? ",\"usage\":null}\n\n" : "}\n\n";
    auto event = [&](std::string& out, std::string_view delta, std::string_view finish) {
      std::string e = prefix;
      e += "[{\"index\":0,\"delta\":";
      e += delta;
      e += ",\"logprobs\":null,\"finish_reason\":";
      e += finish;
      if (finish != "null") {
        e += ",\"stop_reason\":null";
      }
      e += "}]";
      e += tail;
      append_chunk(out, e);
    };
    if (!co_await send(socket, head(200, "OK", "text/event-stream; charset=utf-8", 0, true))) {
      co_return false;
    }
    std::int64_t sent = -1;  // -1: the role chunk is not out yet
    std::string out;
    std::string delta;
    for (;;) {
      auto p = model.progress(id);
      out.clear();
      if (p.first_token && sent < 0) {
        event(out, "{\"role\":\"assistant\",\"content\":\"\"}", "null");
        sent = 0;
      }
      for (; sent >= 0 && sent < p.generated; ++sent) {
        delta = "{\"content\":";
        append_json_string(delta, token_text(sent));
        delta += '}';
        event(out, delta, "null");
      }
      if (p.done) {
        event(out, "{\"content\":\"\"}", ask.by_limit ? "\"length\"" : "\"stop\"");
        if (ask.include_usage) {
          std::string e = prefix + "[],\"usage\":";
          append_usage(e, ask.prompt, ask.output);
          e += "}\n\n";
          append_chunk(out, e);
        }
        append_chunk(out, "data: [DONE]\n\n");
        out += "0\r\n\r\n";
      }
      if (!out.empty() && !co_await send(socket, out)) {
        co_return false;
      }
      if (p.done) {
        co_return true;
      }
      co_await tick();
    }
  }
};

FakeEngine::FakeEngine(EngineOptions options, std::string host, std::uint16_t port)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->start(host, port);
}

FakeEngine::~FakeEngine() {
  impl_->stop();
}

std::uint16_t FakeEngine::port() const {
  return impl_->bound_port;
}

std::string FakeEngine::base_url() const {
  return "http://" + impl_->host + ":" + std::to_string(impl_->bound_port) + "/v1";
}

}  // namespace sb::testing
