// What reaches the client: complete answers and streams, in the client's dialect (OpenAI's, or
// Anthropic's for POST /v1/messages). A stream that fails after its first byte ends with an error
// event, never a clean end.

#include <array>
#include <cstdio>
#include <span>
#include <string>

#include "adapters/anthropic_inbound.h"
#include "gateway/chat_handler.h"
#include "gateway/http_response.h"

namespace sb::gateway::chat {

// A complete answer (status 200), in the client's dialect.
asio::awaitable<Attempt> ChatHandler::send_answer(const BackendRuntime& b, std::string body,
                                                  std::string_view content_type) {
  unsigned status = 200;
  if (anthropic()) {
    std::string error;
    const std::string alias = o_.alias != nullptr ? o_.alias->name : std::string();
    if (auto message = adapters::try_openai_to_anthropic_response(body, alias, error)) {
      body = std::move(*message);
    } else {
      status = 502;
      o_.error = "upstream_unreadable";
      body = adapters::openai_error_to_anthropic(
          502, error_json("Upstream backend '" + b.spec->name +
                              "' answered with an unreadable chat completion: " + error,
                          "api_error", "upstream_error"));
    }
    content_type = "application/json";
  }
  response_bytes_ = body.size();
  o_.status = status;
  std::string head = response_head(status, content_type, b);
  append_header(head, "Content-Length", std::to_string(body.size()));
  head += "\r\n";
  const std::array<asio::const_buffer, 2> bufs = {asio::buffer(head), asio::buffer(body)};
  const auto t = Clock::now();
  const error_code ec = co_await ctx_.downstream.write(bufs);
  o_.io_wait += Clock::now() - t;
  co_return ec ? Attempt::closed : Attempt::answered;
}

std::string ChatHandler::error_answer(const BackendRuntime& b, unsigned status,
                                      std::string_view content_type, std::string_view body,
                                      std::string_view retry_after) const {
  std::string out = response_head(status, content_type, b);
  if (!retry_after.empty()) {
    append_header(out, "Retry-After", retry_after);
  }
  append_header(out, "Content-Length", std::to_string(body.size()));
  out += "\r\n";
  out += body;
  return out;
}

// Relays a stream, through the Anthropic writer when the client speaks Messages.
asio::awaitable<Attempt> ChatHandler::relay(upstream::Exchange& ex, const BackendRuntime& b,
                                            adapters::StreamTranslator& stream) {
  if (!anthropic()) {
    co_return co_await relay_stream(ex, b, stream);
  }
  AnthropicOutbound outbound(stream, o_.alias != nullptr ? o_.alias->name : std::string(),
                             static_cast<std::int64_t>(prompt_tokens_));
  outbound_ = &outbound;
  const Attempt result = co_await relay_stream(ex, b, outbound);
  outbound_ = nullptr;
  co_return result;
}

asio::awaitable<error_code> ChatHandler::write_chunk(std::string& out, const std::string& head,
                                                     bool& head_sent, bool chunked) {
  std::array<asio::const_buffer, 4> bufs;
  std::size_t nb = 0;
  if (!head_sent) {
    bufs[nb++] = asio::buffer(head);
  }
  char size_line[24];
  if (chunked) {
    const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", out.size());
    bufs[nb++] = asio::buffer(size_line, static_cast<std::size_t>(len));
  }
  bufs[nb++] = asio::buffer(out);
  if (chunked) {
    bufs[nb++] = asio::buffer("\r\n", 2);
  }
  const auto t = Clock::now();
  const error_code ec =
      co_await ctx_.downstream.write(std::span<const asio::const_buffer>(bufs.data(), nb));
  o_.io_wait += Clock::now() - t;
  response_bytes_ += out.size();
  if (!head_sent) {
    head_sent = true;
    o_.first_byte = Clock::now();
    o_.status = 200;
  }
  out.clear();
  co_return ec;
}

asio::awaitable<Attempt> ChatHandler::relay_stream(upstream::Exchange& ex, const BackendRuntime& b,
                                                   adapters::StreamTranslator& stream) {
  const bool chunked = !ctx_.http10;
  if (!chunked) {
    ctx_.close = true;  // HTTP/1.0: the end of the body is the end of the connection
  }
  std::string head = response_head(200, "text/event-stream; charset=utf-8", b);
  append_header(head, "Cache-Control", "no-cache");
  if (chunked) {
    append_header(head, "Transfer-Encoding", "chunked");
  }
  head += "\r\n";
  bool head_sent = false;

  std::string in;
  std::string out;
  upstream::Error err;
  bool translated_ok = true;
  for (;;) {
    in.clear();
    const auto t = Clock::now();
    const bool more = co_await ex.read_some(in, err);
    const auto waited = Clock::now() - t;
    o_.io_wait += waited;
    o_.upstream += waited;
    if (!in.empty()) {
      translated_ok = stream.feed(in, out);
    }
    if (!out.empty() && co_await write_chunk(out, head, head_sent, chunked)) {
      o_.error = "client_gone";
      o_.usage = stream.usage();
      co_return Attempt::closed;
    }
    if (!translated_ok || !more) {
      break;
    }
  }
  o_.usage = stream.usage();

  if (!translated_ok) {
    // The translator ended the stream with its own error event (already sent): close it.
    o_.error = "upstream_stream_error";
    upstream_failed(b, upstream::ErrorKind::protocol);
    if (chunked && head_sent) {
      co_await send(ctx_, o_, "0\r\n\r\n");
    }
    co_return Attempt::closed;
  }
  const bool complete = !err && stream.finish(out);
  if (!out.empty() && co_await write_chunk(out, head, head_sent, chunked)) {
    o_.error = "client_gone";
    co_return Attempt::closed;
  }
  if (!complete) {
    const upstream::ErrorKind kind = err ? err.kind : upstream::ErrorKind::reset;
    upstream_failed(b, kind);
    if (!head_sent) {
      // Nothing reached the client yet: a retry, the next backend, or a 502/504.
      co_return Attempt::next;
    }
    o_.error = upstream::to_string(kind);
    // Mid-stream failure: an error event the OpenAI SDKs raise as an APIError, then the end.
    std::string msg = "Upstream backend '" + b.spec->name + "' stream interrupted (";
    msg += upstream::to_string(kind);
    msg += ").";
    std::string event = "data: ";
    event += error_json(msg, upstream::is_timeout(kind) ? "timeout_error" : "api_error",
                        "upstream_stream_interrupted");
    event += "\n\n";
    if (outbound_ != nullptr) {
      std::string converted;
      outbound_->gateway_event(event, converted);
      event = std::move(converted);
    }
    std::string tail;
    if (chunked) {
      char line[24];
      const int len = std::snprintf(line, sizeof line, "%zx\r\n", event.size());
      tail.append(line, static_cast<std::size_t>(len));
      tail += event;
      tail += "\r\n0\r\n\r\n";
    } else {
      tail = std::move(event);
    }
    co_await send(ctx_, o_, tail);
    co_return Attempt::closed;
  }

  if (!head_sent) {
    o_.status = 200;
    o_.first_byte = Clock::now();
    if (chunked) {
      head += "0\r\n\r\n";
    }
    const bool ok = co_await send(ctx_, o_, head);
    co_return ok ? Attempt::answered : Attempt::closed;
  }
  if (chunked) {
    const bool ok = co_await send(ctx_, o_, "0\r\n\r\n");
    co_return ok ? Attempt::answered : Attempt::closed;
  }
  co_return Attempt::answered;
}

}  // namespace sb::gateway::chat
