// What reaches the client: complete answers and streams, in the client's dialect (OpenAI's, or
// Anthropic's for POST /v1/messages). A stream that fails after its first byte ends with an error
// event, never a clean end.

#include <array>
#include <charconv>
#include <span>
#include <string>
#include <vector>

#include <boost/beast/http/field.hpp>
#include "adapters/anthropic_inbound.h"

#include "gateway/net/http_response.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/pipeline/scrub.h"
#include "gateway/pipeline/scrubbed_stream.h"

namespace sb::gateway::chat {
namespace {

/// Writes the chunk-size line of a `size`-byte chunk ("1a2\r\n") into `line`; its length.
/// Without snprintf (some hundred instructions): this runs once per streamed event.
std::size_t chunk_size_line(char (&line)[24], std::size_t size) {
  char* end = std::to_chars(line, line + 16, size, 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  return static_cast<std::size_t>(end - line);
}

}  // namespace

std::string ChatHandler::response_head(unsigned status, std::string_view content_type,
                                       const BackendRuntime& b) const {
  std::string h;
  h.reserve(320);
  append_status_line(h, status);
  append_header(h, "Content-Type", content_type);
  ctx_.append_common_headers(h);
  append_header(h, "x-switchboard-backend", b.spec->name);
  append_decision_headers(h);
  return h;
}

// A complete answer (status 200), in the client's dialect (`native`: it already is).
asio::awaitable<Attempt> ChatHandler::send_answer(const BackendRuntime& b, std::string body,
                                                  std::string_view content_type, bool native) {
  unsigned status = 200;
  ClientSide* side = native ? nullptr : inbound_.side;
  if (side != nullptr) {
    std::string error;
    std::optional<std::string> converted =
        side->answer(std::move(body), o_.alias != nullptr ? std::string_view(o_.alias->name) : "",
                     error, o_.usage ? o_.usage->cache_write : 0);
    if (converted) {
      body = std::move(*converted);
      content_type = side->answer_content_type();
    } else {
      status = http_status({ErrorKind::upstream_unreadable});
      o_.error = "upstream_unreadable";
      body = dialect_.error_body(
          status, error_json("Upstream backend '" + b.spec->name +
                                 "' answered with an unreadable chat completion: " + error,
                             "api_error", "upstream_error"));
      content_type = "application/json";
    }
  }
  response_bytes_ = body.size();
  o_.status = status;
  std::string head = response_head(status, content_type, b);
  if (status == 200) {
    // The whole answer is known: its exact cost goes in the head. (A stream's cost is known only
    // at its end: it is in the access-log line and the cost counter, not in a header.)
    price();
    std::string cost;
    policies::append_usd(cost, o_.cost_nanos);
    append_header(head, "x-switchboard-cost-usd", cost);
    settle();  // before the client can see the answer and send its next request
    if (inbound_.side != nullptr) {
      co_await inbound_.side->completed(o_);
    }
  }
  append_header(head, "Content-Length", std::to_string(body.size()));
  head += "\r\n";
  const std::array<asio::const_buffer, 2> bufs = {asio::buffer(head), asio::buffer(body)};
  const auto t = Clock::now();
  std::size_t now = 0;
  error_code ec;
  if (!written_now(ctx_.downstream, bufs, now)) {
    ec = co_await ctx_.downstream.write(bufs, now);
  }
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

// Relays a stream, through the client's writer when the client does not speak chat completions
// (`native`: the wire already speaks the client's shape; only the gateway's events are
// converted).
asio::awaitable<AttemptResult> ChatHandler::relay(upstream::Exchange& ex, const BackendRuntime& b,
                                                  adapters::StreamTranslator& translator,
                                                  bool native) {
  ScrubbedStream stream(translator, b.secret(), b.endpoint.host);
  if (inbound_.side == nullptr) {
    co_return co_await relay_stream(ex, b, stream);
  }
  const std::unique_ptr<ClientStream> outbound =
      inbound_.side->stream(stream, o_.alias != nullptr ? std::string_view(o_.alias->name) : "",
                            static_cast<std::int64_t>(prompt_tokens_), native);
  outbound_ = outbound.get();
  AttemptResult result = co_await relay_stream(ex, b, *outbound);
  outbound_ = nullptr;
  co_return result;
}

// The buffers of the next chunk of a stream: its head first until sent, then the chunk's size
// line, the bytes and CRLF (HTTP/1.1) or the bytes alone (HTTP/1.0). They live in `s` until the
// write completes; chunk_sent() settles the books after it.
std::span<const asio::const_buffer> ChatHandler::chunk_buffers(StreamOut& s) {
  std::size_t nb = 0;
  if (!s.head_sent) {
    s.bufs[nb++] = asio::buffer(s.head);
  }
  if (s.chunked) {
    s.bufs[nb++] = asio::buffer(s.size_line, chunk_size_line(s.size_line, s.out.size()));
  }
  s.bufs[nb++] = asio::buffer(s.out);
  if (s.chunked) {
    s.bufs[nb++] = asio::buffer("\r\n", 2);
  }
  return {s.bufs.data(), nb};
}

// What the stream holds, written as far as the client's socket takes it at once: true when that
// was all of it (settled, with no coroutine frame: the relay loop writes each event so), else
// false with `written` the bytes sent, for write_rest().
bool ChatHandler::write_now(StreamOut& s, std::size_t& written) {
  const auto started = Clock::now();
  if (!written_now(ctx_.downstream, chunk_buffers(s), written)) {
    return false;
  }
  chunk_sent(s, started);
  return true;
}

// The rest of what write_now() began, after a wait for the client.
asio::awaitable<error_code> ChatHandler::write_rest(StreamOut& s, std::size_t written) {
  const auto started = Clock::now();
  const error_code ec = co_await ctx_.downstream.write(chunk_buffers(s), written);
  chunk_sent(s, started);
  co_return ec;
}

// Writes what the stream still holds, once, at its end.
asio::awaitable<error_code> ChatHandler::write_pending(StreamOut& s) {
  std::size_t written = 0;
  if (write_now(s, written)) {
    co_return error_code{};
  }
  co_return co_await write_rest(s, written);
}

void ChatHandler::chunk_sent(StreamOut& s, Clock::time_point started) {
  const Clock::time_point now = Clock::now();
  o_.io_wait += now - started;
  response_bytes_ += s.out.size();
  s.last_write = now;
  if (!s.content_sent) {
    s.head_sent = true;
    o_.status = 200;
    s.content_sent = !s.keepalive;  // a keep-alive is not the answer's first byte
    if (s.content_sent) {
      o_.first_byte = now;
    }
  }
  s.out.clear();
}

// The upstream has been silent and the client has heard nothing for server.stream_keepalive: an
// SSE comment, which every SSE client skips, so that no proxy in between takes the stream for
// dead. False when the client is gone.
asio::awaitable<bool> ChatHandler::keep_alive(StreamOut& s) {
  s.out = ": keepalive\n\n";
  s.keepalive = true;
  std::size_t written = 0;
  bool gone = false;
  if (!write_now(s, written)) {
    gone = static_cast<bool>(co_await write_rest(s, written));
  }
  s.keepalive = false;
  co_return !gone;
}

std::string ChatHandler::stream_head(const BackendRuntime& b, bool chunked) const {
  std::string head = response_head(200, "text/event-stream; charset=utf-8", b);
  append_header(head, "Cache-Control", "no-cache");
  if (chunked) {
    append_header(head, "Transfer-Encoding", "chunked");
  }
  head += "\r\n";
  return head;
}

// Upstream bytes in, translated events out, until the upstream ends, fails, or its translator
// fails; then end_stream. The write is awaited here, not in a helper coroutine: this loop runs
// once per event.
asio::awaitable<AttemptResult> ChatHandler::relay_stream(upstream::Exchange& ex,
                                                         const BackendRuntime& b,
                                                         adapters::StreamTranslator& stream) {
  StreamOut s;
  s.chunked = !ctx_.http10;
  if (!s.chunked) {
    ctx_.close = true;  // HTTP/1.0: the end of the body is the end of the connection
  }
  s.head = stream_head(b, s.chunked);
  const Clock::duration keepalive = snap_.config().server.stream_keepalive;
  std::string in;
  upstream::Error err;
  bool translated_ok = true;
  s.last_write = Clock::now();
  for (bool more = true; more && translated_ok;) {
    in.clear();
    const auto t = Clock::now();
    const auto wake = keepalive.count() > 0 ? s.last_write + keepalive : Clock::time_point::max();
    more = co_await ex.read_some(in, err, wake);
    const auto waited = Clock::now() - t;
    o_.io_wait += waited;
    o_.upstream += waited;
    if (more && in.empty()) {  // nothing came before `wake`
      if (!co_await keep_alive(s)) {
        o_.error = "client_gone";
        o_.usage = stream.usage();
        co_return AttemptResult::ended(Attempt::closed);
      }
      continue;
    }
    if (!in.empty()) {
      const std::size_t from = s.out.size();
      translated_ok = stream.feed(in, s.out);
      if (answer_facts_wanted()) {
        answer_facts_.scan_stream(std::string_view(s.out).substr(from));
      }
    }
    if (!translated_ok && !s.head_sent) {
      o_.usage = stream.usage();
      co_return stream_failed_early(ex, b, stream);  // nothing reached the client
    }
    if (std::size_t written = 0; !s.out.empty() && !write_now(s, written)) {
      if (co_await write_rest(s, written)) {
        o_.error = "client_gone";
        o_.usage = stream.usage();
        co_return AttemptResult::ended(Attempt::closed);
      }
    }
  }
  o_.usage = stream.usage();
  if (!translated_ok) {
    co_return co_await stream_error_sent(b, s.chunked);
  }
  co_return co_await end_stream(b, stream, s, err);
}

// The upstream ended (or failed) with the translator still sound: what the translator still owes,
// settled before the end reaches the client; then the end of the stream, or the cut.
asio::awaitable<AttemptResult> ChatHandler::end_stream(const BackendRuntime& b,
                                                       adapters::StreamTranslator& stream,
                                                       StreamOut& s, const upstream::Error& err) {
  const std::size_t from = s.out.size();
  const bool complete = !err && stream.finish(s.out);
  if (answer_facts_wanted()) {
    answer_facts_.scan_stream(std::string_view(s.out).substr(std::min(from, s.out.size())));
  }
  if (complete && s.head_sent) {
    settle();  // before the end of the stream reaches the client
  }
  if (complete && inbound_.side != nullptr) {
    co_await inbound_.side->completed(o_);
  }
  if (!s.out.empty() && co_await write_pending(s)) {
    o_.error = "client_gone";
    co_return AttemptResult::ended(Attempt::closed);
  }
  if (!complete) {
    if (abort_.fired()) {
      co_return client_left();  // the client left while the stream waited on the upstream
    }
    const upstream::ErrorKind kind = err ? err.kind : upstream::ErrorKind::reset;
    b.count_error(kind);
    if (!s.head_sent) {
      // Nothing reached the client yet: a retry, the next backend, or a 502/504.
      co_return AttemptResult::transport_failure(kind);
    }
    co_return co_await stream_cut(b, kind, s.chunked);
  }
  const std::string_view tail = stream_tail(s.head, s.head_sent, s.chunked);
  if (tail.empty()) {
    co_return AttemptResult::ended(Attempt::answered);
  }
  co_return AttemptResult::ended(co_await send(ctx_, o_, tail) ? Attempt::answered
                                                               : Attempt::closed);
}

// The last bytes of a complete stream: the whole (empty) answer when nothing was sent yet, else
// the last chunk (none for HTTP/1.0, which ends with the connection).
std::string_view ChatHandler::stream_tail(std::string& head, bool head_sent, bool chunked) {
  if (head_sent) {
    if (!o_.first_byte) {
      o_.first_byte = Clock::now();  // only keep-alives went before: the end is the answer
    }
    return chunked ? std::string_view("0\r\n\r\n") : std::string_view();
  }
  o_.status = 200;
  o_.first_byte = Clock::now();
  head += chunked ? "0\r\n\r\n" : "";
  return head;
}

// The translator ended the stream with its own error event (already sent): close it.
asio::awaitable<AttemptResult> ChatHandler::stream_error_sent(const BackendRuntime& b,
                                                              bool chunked) {
  o_.error = "upstream_stream_error";
  b.count_error(upstream::ErrorKind::protocol);
  if (chunked) {
    co_await send(ctx_, o_, "0\r\n\r\n");
  }
  AttemptResult r = AttemptResult::ended(Attempt::closed);
  r.upstream_failed = true;
  co_return r;
}

// The stream failed before its first byte reached the client (an error event first, an event
// over the size limit, an unreadable frame): like any upstream failure then, another try or
// backend may answer; else the client gets a 502 saying why (scrubbed, in its dialect).
AttemptResult ChatHandler::stream_failed_early(upstream::Exchange& ex, const BackendRuntime& b,
                                               adapters::StreamTranslator& stream) {
  b.count_error(upstream::ErrorKind::protocol);
  std::string msg = "Upstream backend '" + b.spec->name + "' stream failed";
  if (const auto& e = stream.error()) {
    msg += ": " + scrub_upstream_text(e->message.substr(0, 512), b.secret(), b.endpoint.host);
  }
  const unsigned status = http_status({ErrorKind::upstream_unreadable});
  std::string response =
      error_answer(b, status, "application/json",
                   dialect_.error_body(status, error_json(msg, "api_error", "upstream_error")), {});
  const upstream::ResponseHead& headers = ex.headers();
  return AttemptResult::retry_later(
      status, std::move(response),
      asked_wait(headers["retry-after-ms"], headers[http::field::retry_after]));
}

// Mid-stream failure: an error event the OpenAI SDKs raise as an APIError (in the client's
// dialect), then the end.
asio::awaitable<AttemptResult> ChatHandler::stream_cut(const BackendRuntime& b,
                                                       upstream::ErrorKind kind, bool chunked) {
  o_.error = upstream::to_string(kind);
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
    tail.append(line, chunk_size_line(line, event.size()));
    tail += event;
    tail += "\r\n0\r\n\r\n";
  } else {
    tail = std::move(event);
  }
  co_await send(ctx_, o_, tail);
  AttemptResult r = AttemptResult::ended(Attempt::closed);
  r.upstream_failed = true;
  co_return r;
}

}  // namespace sb::gateway::chat
