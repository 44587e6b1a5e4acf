// The data plane: /v1/chat/completions (stream and non-stream) and /v1/models.
//
// A chat request is parsed once (Boost.JSON, into a per-request monotonic arena), resolved from
// its model alias to an ordered list of candidate backends, and sent to the first one that can
// take it. Before the first byte has gone to the client, a failed attempt falls through to the
// next candidate; after it, a failure ends the stream with an error event, never a clean [DONE].

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/openai_compatible.h"
#include "adapters/usage.h"
#include "gateway/access_log.h"
#include "gateway/handler.h"
#include "gateway/http_response.h"
#include "gateway/log.h"
#include "gateway/server.h"
#include "gateway/worker.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kMaxResponseBody = 64ull << 20;
constexpr std::size_t kMaxPendingEvent = 8ull << 20;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
double millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string_view path_of(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

// A client's x-request-id is kept when it is short and plain; otherwise we make one.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.' || c == ':';
  });
}

// Headers never forwarded upstream: hop-by-hop (RFC 9110 §7.6.1), the client's credentials (the
// backend's own key replaces them), and what the gateway sets itself.
bool never_forwarded(std::string_view name) {
  static constexpr std::array<std::string_view, 22> kDropped = {"connection",
                                                                "keep-alive",
                                                                "proxy-connection",
                                                                "te",
                                                                "trailer",
                                                                "transfer-encoding",
                                                                "upgrade",
                                                                "proxy-authorization",
                                                                "proxy-authenticate",
                                                                "authorization",
                                                                "x-api-key",
                                                                "api-key",
                                                                "cookie",
                                                                "host",
                                                                "content-length",
                                                                "expect",
                                                                "accept-encoding",
                                                                "x-request-id",
                                                                "content-type",
                                                                "accept",
                                                                "openai-organization",
                                                                "openai-project"};
  for (std::string_view d : kDropped) {
    if (beast::iequals(name, d)) {
      return true;
    }
  }
  return name.size() >= 13 && beast::iequals(name.substr(0, 13), "x-switchboard");
}

// True when `name` is listed in the client's Connection header (those are hop-by-hop too).
bool named_in_connection(std::string_view connection, std::string_view name) {
  while (!connection.empty()) {
    const auto comma = connection.find(',');
    std::string_view token = connection.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
      token.remove_prefix(1);
    }
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
      token.remove_suffix(1);
    }
    if (beast::iequals(token, name)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    connection.remove_prefix(comma + 1);
  }
  return false;
}

void forward_headers(const Request& in, upstream::Request& out) {
  const std::string_view connection = in[http::field::connection];
  for (const auto& f : in) {
    const std::string_view name = f.name_string();
    if (never_forwarded(name) || (!connection.empty() && named_in_connection(connection, name))) {
      continue;
    }
    out.insert(f.name_string(), f.value());
  }
}

// Pre-resolved metric cells and the facts of one request, recorded once at its end.
struct Outcome {
  const AliasRuntime* alias = nullptr;
  int candidate = -1;  // index into alias->candidates; -1 = none reached
  unsigned status = 0;
  bool stream = false;
  unsigned attempts = 0;
  Clock::duration io_wait{};  // time awaiting the upstream or the client
  Clock::duration upstream{};
  std::optional<Clock::time_point> first_byte;  // first content byte sent (streams)
  std::optional<adapters::Usage> usage;
  std::string_view error;
};

void record(RequestContext& ctx, const Snapshot& snap, const Outcome& o) {
  const auto end = Clock::now();
  const auto total = end - ctx.received;
  const RouteStats* stats = &snap.stats().unrouted;
  const BackendRuntime* backend = nullptr;
  if (o.alias != nullptr) {
    if (o.candidate >= 0) {
      stats = &o.alias->stats[static_cast<std::size_t>(o.candidate)];
      backend = o.alias->candidates[static_cast<std::size_t>(o.candidate)];
    } else {
      stats = &o.alias->no_backend;
    }
  }
  stats->requests[status_slot(o.status)]->inc();
  stats->duration->observe(seconds(total));
  if (o.first_byte) {
    stats->ttft->observe(seconds(*o.first_byte - ctx.received));
  }
  const auto overhead = total - o.io_wait;
  snap.stats().overhead->observe(seconds(overhead));
  if (backend != nullptr && o.usage) {
    backend->tokens_input->inc(static_cast<std::uint64_t>(o.usage->input));
    backend->tokens_output->inc(static_cast<std::uint64_t>(o.usage->output));
    backend->tokens_cached->inc(static_cast<std::uint64_t>(o.usage->cached_input));
    backend->tokens_reasoning->inc(static_cast<std::uint64_t>(o.usage->reasoning));
  }
  AccessRecord r;
  r.request_id = ctx.request_id;
  r.method = ctx.request.method_string();
  r.path = path_of(ctx.request.target());
  r.model = o.alias != nullptr ? std::string_view(o.alias->name) : std::string_view();
  r.backend = backend != nullptr ? std::string_view(backend->spec.name) : std::string_view();
  r.status = o.status;
  r.stream = o.stream;
  r.attempts = o.attempts;
  r.duration_ms = millis(total);
  r.ttft_ms = o.first_byte ? millis(*o.first_byte - ctx.received) : -1;
  r.upstream_ms = millis(o.upstream);
  r.overhead_us = std::chrono::duration<double, std::micro>(overhead).count();
  if (o.usage) {
    r.tokens_in = o.usage->input;
    r.tokens_out = o.usage->output;
  }
  r.error = o.error;
  ctx.worker.server.access_log().write(r);
}

// Writes a complete response; returns false when the client is gone.
asio::awaitable<bool> send(RequestContext& ctx, Outcome& o, const std::string& bytes) {
  const auto t = Clock::now();
  const error_code ec = co_await ctx.downstream.write(bytes);
  o.io_wait += Clock::now() - t;
  co_return !ec;
}

asio::awaitable<bool> send_error(RequestContext& ctx, const Snapshot& snap, Outcome& o,
                                 unsigned status, std::string_view message,
                                 std::string_view code = {}, std::string_view extra = {}) {
  o.status = status;
  std::string headers = ctx.common_headers();
  headers += extra;
  const bool ok = co_await send(ctx, o, error_response(status, message, code, headers));
  record(ctx, snap, o);
  co_return ok && !ctx.close;
}

// The error message of an upstream's OpenAI-shaped error body, if it has one.
std::string upstream_error_message(std::string_view body) {
  error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) {
    return {};
  }
  const auto* err = v.as_object().if_contains("error");
  if (err == nullptr) {
    return {};
  }
  if (err->is_object()) {
    if (const auto* m = err->as_object().if_contains("message"); m && m->is_string()) {
      return std::string(m->as_string());
    }
  } else if (err->is_string()) {
    return std::string(err->as_string());
  }
  return {};
}

// Upstream failures before anything was sent to the client: which status the client gets.
unsigned status_for(upstream::ErrorKind kind) {
  return upstream::is_timeout(kind) ? 504 : 502;
}

struct Attempt {
  enum class Result { answered, next, closed };
  Result result = Result::next;
};

class ChatHandler {
 public:
  explicit ChatHandler(RequestContext& ctx) : ctx_(ctx), snap_(&ctx.snapshot) {}

  asio::awaitable<bool> run();

 private:
  asio::awaitable<Attempt::Result> attempt(std::size_t index, const boost::json::object& body);
  asio::awaitable<Attempt::Result> relay_stream(upstream::Exchange& ex, const BackendRuntime& b,
                                                bool client_wants_usage, bool last);
  std::string response_head(unsigned status, std::string_view content_type,
                            const BackendRuntime& b) const;

  RequestContext& ctx_;
  const Snapshot* snap_;
  Outcome o_;
  upstream::ErrorKind last_error_ = upstream::ErrorKind::none;
  const BackendRuntime* last_backend_ = nullptr;
  bool all_at_capacity_ = true;
};

std::string ChatHandler::response_head(unsigned status, std::string_view content_type,
                                       const BackendRuntime& b) const {
  std::string h;
  h.reserve(256);
  append_status_line(h, status);
  append_header(h, "Content-Type", content_type);
  h += ctx_.common_headers();
  append_header(h, "x-switchboard-backend", b.spec.name);
  append_header(h, "x-switchboard-model", o_.alias->name);
  return h;
}

asio::awaitable<bool> ChatHandler::run() {
  const Request& req = ctx_.request;
  o_.attempts = 0;
  // Parse once into a per-request arena: no per-node frees, and hostile nesting is bounded.
  unsigned char arena[4096];
  boost::json::monotonic_resource mr(arena, sizeof arena);
  boost::json::parse_options opts;
  opts.max_depth = 128;
  error_code jec;
  const boost::json::value parsed = boost::json::parse(req.body(), jec, &mr, opts);
  if (jec || !parsed.is_object()) {
    co_return co_await send_error(
        ctx_, *snap_, o_, 400,
        "We could not parse the JSON body of your request. The body must be a JSON object "
        "(see https://platform.openai.com/docs/api-reference/chat/create).");
  }
  const boost::json::object& body = parsed.as_object();
  const auto* model = body.if_contains("model");
  if (model == nullptr || !model->is_string() || model->as_string().empty()) {
    co_return co_await send_error(ctx_, *snap_, o_, 400, "you must provide a model parameter");
  }
  const auto* messages = body.if_contains("messages");
  if (messages == nullptr) {
    co_return co_await send_error(ctx_, *snap_, o_, 400, "Missing required parameter: 'messages'.",
                                  "missing_required_parameter");
  }
  if (!messages->is_array()) {
    co_return co_await send_error(
        ctx_, *snap_, o_, 400, "Invalid type for 'messages': expected an array.", "invalid_type");
  }
  if (const auto* stream = body.if_contains("stream");
      stream != nullptr && !stream->is_bool() && !stream->is_null()) {
    co_return co_await send_error(ctx_, *snap_, o_, 400,
                                  "Invalid type for 'stream': expected a boolean.", "invalid_type");
  }
  const std::string_view alias_name = model->as_string();
  o_.alias = snap_->find_alias(alias_name);
  if (o_.alias == nullptr) {
    std::string msg = "The model `";
    msg += alias_name.substr(0, 256);
    msg += "` does not exist or you do not have access to it.";
    co_return co_await send_error(ctx_, *snap_, o_, 404, msg, "model_not_found");
  }

  const std::size_t n = o_.alias->candidates.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Attempt::Result r = co_await attempt(i, body);
    if (r == Attempt::Result::answered) {
      record(ctx_, *snap_, o_);
      co_return !ctx_.close;
    }
    if (r == Attempt::Result::closed) {
      record(ctx_, *snap_, o_);
      co_return false;
    }
  }
  if (all_at_capacity_) {
    o_.candidate = -1;
    co_return co_await send_error(
        ctx_, *snap_, o_, 503,
        "All backends for model '" + o_.alias->name + "' are at capacity; retry later.",
        "backend_at_capacity", "Retry-After: 1\r\n");
  }
  o_.error = upstream::to_string(last_error_);
  const unsigned status = status_for(last_error_);
  std::string msg = "Upstream backend '";
  msg += last_backend_ != nullptr ? last_backend_->spec.name : std::string("?");
  msg += status == 504 ? "' timed out (" : "' failed (";
  msg += upstream::to_string(last_error_);
  msg += ").";
  co_return co_await send_error(ctx_, *snap_, o_, status, msg,
                                status == 504 ? "upstream_timeout" : "upstream_error");
}

asio::awaitable<Attempt::Result> ChatHandler::attempt(std::size_t index,
                                                      const boost::json::object& body) {
  const BackendRuntime& b = *o_.alias->candidates[index];
  const bool last = index + 1 == o_.alias->candidates.size();
  BackendState& state = *b.state;
  if (b.spec.max_in_flight > 0 &&
      state.in_flight.load(std::memory_order_relaxed) >= b.spec.max_in_flight) {
    co_return Attempt::Result::next;
  }
  all_at_capacity_ = false;
  state.in_flight.fetch_add(1, std::memory_order_relaxed);
  state.in_flight_gauge->add(1);
  struct Release {
    BackendState& s;
    ~Release() {
      s.in_flight.fetch_sub(1, std::memory_order_relaxed);
      s.in_flight_gauge->add(-1);
    }
  } release{state};

  ++o_.attempts;
  o_.candidate = static_cast<int>(index);
  last_backend_ = &b;
  adapters::ChatRequestPlan plan =
      adapters::plan_chat_request(ctx_.request.body(), body, b.spec.model);
  o_.stream = plan.stream;

  upstream::Request up{http::verb::post, b.endpoint.base_path + "/chat/completions", 11};
  forward_headers(ctx_.request, up);
  up.set(http::field::content_type, "application/json");
  up.set(http::field::accept, plan.stream ? "text/event-stream" : "application/json");
  up.set(http::field::accept_encoding, "identity");
  up.set("x-request-id", ctx_.request_id);
  if (!b.authorization.empty()) {
    up.set(http::field::authorization, b.authorization);
  }
  for (const auto& [k, v] : b.spec.headers) {
    up.set(k, v);
  }
  up.body() = std::move(plan.body);

  upstream::Error err;
  auto t = Clock::now();
  auto ex = co_await ctx_.worker.pool.send(b.endpoint, b.tls.get(), std::move(up), b.timeouts, err);
  auto waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  if (!ex) {
    last_error_ = err.kind;
    b.count_error(err.kind);
    co_return Attempt::Result::next;
  }

  const unsigned status = ex->status();
  if (status != 200) {
    std::string ebody;
    upstream::Error rerr;
    t = Clock::now();
    co_await ex->read_all(ebody, kMaxErrorBody, rerr);
    waited = Clock::now() - t;
    o_.io_wait += waited;
    o_.upstream += waited;
    if (status >= 500) {
      b.count_error_status(status);
    }
    if ((status == 429 || status >= 500) && !last) {
      last_error_ = upstream::ErrorKind::protocol;
      co_return Attempt::Result::next;
    }
    o_.error = "upstream_status";
    if (status >= 400 && status < 500) {
      // The upstream's own answer (bad parameter, rate limit, ...) is the truth: pass it on.
      o_.status = status;
      std::string_view ctype = ex->headers()[http::field::content_type];
      std::string head = response_head(status, ctype.empty() ? "application/json" : ctype, b);
      if (const auto ra = ex->headers()[http::field::retry_after]; !ra.empty()) {
        append_header(head, "Retry-After", ra);
      }
      append_header(head, "Content-Length", std::to_string(ebody.size()));
      head += "\r\n";
      head += ebody;
      const bool ok = co_await send(ctx_, o_, head);
      co_return ok ? Attempt::Result::answered : Attempt::Result::closed;
    }
    // A 5xx upstream is a gateway failure for the client: 502, or the 503/504 it reported.
    const unsigned mapped = status == 503 || status == 504 ? status : 502;
    o_.status = mapped;
    std::string msg =
        "Upstream backend '" + b.spec.name + "' returned HTTP " + std::to_string(status);
    if (const std::string m = upstream_error_message(ebody); !m.empty()) {
      msg += ": " + m.substr(0, 512);
    }
    std::string extra = ctx_.common_headers();
    append_header(extra, "x-switchboard-backend", b.spec.name);
    if (const auto ra = ex->headers()[http::field::retry_after]; !ra.empty()) {
      append_header(extra, "Retry-After", ra);
    }
    const bool ok = co_await send(ctx_, o_, error_response(mapped, msg, "upstream_error", extra));
    co_return ok ? Attempt::Result::answered : Attempt::Result::closed;
  }

  const std::string_view ctype = ex->headers()[http::field::content_type];
  if (plan.stream && ctype.substr(0, 17) == "text/event-stream") {
    co_return co_await relay_stream(*ex, b, plan.client_wants_usage, last);
  }

  std::string rbody;
  upstream::Error rerr;
  t = Clock::now();
  const bool complete = co_await ex->read_all(rbody, kMaxResponseBody, rerr);
  waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  if (!complete && rerr) {
    last_error_ = rerr.kind;
    b.count_error(rerr.kind);
    co_return Attempt::Result::next;
  }
  o_.usage = adapters::usage_from_openai_text(rbody);
  o_.status = 200;
  std::string head = response_head(200, ctype.empty() ? "application/json" : ctype, b);
  append_header(head, "Content-Length", std::to_string(rbody.size()));
  head += "\r\n";
  const std::array<asio::const_buffer, 2> bufs = {asio::buffer(head), asio::buffer(rbody)};
  t = Clock::now();
  const error_code ec = co_await ctx_.downstream.write(bufs);
  o_.io_wait += Clock::now() - t;
  co_return ec ? Attempt::Result::closed : Attempt::Result::answered;
}

asio::awaitable<Attempt::Result> ChatHandler::relay_stream(upstream::Exchange& ex,
                                                           const BackendRuntime& b,
                                                           bool client_wants_usage, bool last) {
  adapters::ChatStreamRelay relay(client_wants_usage);
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
  char size_line[24];
  upstream::Error err;
  for (;;) {
    in.clear();
    auto t = Clock::now();
    const bool more = co_await ex.read_some(in, err);
    auto waited = Clock::now() - t;
    o_.io_wait += waited;
    o_.upstream += waited;
    if (!in.empty()) {
      relay.feed(in, out);
      if (relay.pending_bytes() > kMaxPendingEvent) {
        // An upstream that never ends its event would grow this buffer without bound.
        err.kind = upstream::ErrorKind::too_large;
        break;
      }
    }
    if (!out.empty()) {
      std::array<asio::const_buffer, 4> bufs;
      std::size_t nb = 0;
      if (!head_sent) {
        bufs[nb++] = asio::buffer(head);
      }
      const int len =
          chunked ? std::snprintf(size_line, sizeof size_line, "%zx\r\n", out.size()) : 0;
      if (chunked) {
        bufs[nb++] = asio::buffer(size_line, static_cast<std::size_t>(len));
      }
      bufs[nb++] = asio::buffer(out);
      if (chunked) {
        bufs[nb++] = asio::buffer("\r\n", 2);
      }
      t = Clock::now();
      const error_code ec =
          co_await ctx_.downstream.write(std::span<const asio::const_buffer>(bufs.data(), nb));
      o_.io_wait += Clock::now() - t;
      if (!head_sent) {
        head_sent = true;
        o_.first_byte = Clock::now();
        o_.status = 200;
      }
      out.clear();
      if (ec) {
        o_.error = "client_gone";
        o_.usage = relay.usage();
        co_return Attempt::Result::closed;
      }
    }
    if (!more) {
      break;
    }
  }
  o_.usage = relay.usage();

  if (err || !relay.saw_done()) {
    const upstream::ErrorKind kind = err ? err.kind : upstream::ErrorKind::reset;
    last_error_ = kind;
    b.count_error(kind);
    if (!head_sent && !last) {
      co_return Attempt::Result::next;  // nothing reached the client yet: try the next backend
    }
    o_.error = upstream::to_string(kind);
    if (!head_sent) {
      co_return Attempt::Result::next;  // the caller answers with a 502/504
    }
    // Mid-stream failure: an error event the OpenAI SDKs raise as an APIError, then the end.
    std::string msg = "Upstream backend '" + b.spec.name + "' stream interrupted (";
    msg += upstream::to_string(kind);
    msg += ").";
    std::string event = "data: ";
    event += error_json(msg, upstream::is_timeout(kind) ? "timeout_error" : "api_error",
                        "upstream_stream_interrupted");
    event += "\n\n";
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
    co_return Attempt::Result::closed;
  }

  if (!head_sent) {
    // A stream with no events at all (only [DONE] would have produced output): still answer.
    o_.status = 200;
    o_.first_byte = Clock::now();
    head += chunked ? "0\r\n\r\n" : "";
    const bool ok = co_await send(ctx_, o_, head);
    co_return ok ? Attempt::Result::answered : Attempt::Result::closed;
  }
  if (chunked) {
    const bool ok = co_await send(ctx_, o_, std::string("0\r\n\r\n"));
    co_return ok ? Attempt::Result::answered : Attempt::Result::closed;
  }
  co_return Attempt::Result::answered;
}

asio::awaitable<bool> handle_models(RequestContext& ctx, const Snapshot& snap,
                                    std::string_view path) {
  Outcome o;
  if (path == "/v1/models") {
    o.status = 200;
    const bool ok =
        co_await send(ctx, o, json_response(200, snap.models_body(), ctx.common_headers()));
    record(ctx, snap, o);
    co_return ok && !ctx.close;
  }
  const std::string_view id = path.substr(std::string_view("/v1/models/").size());
  const AliasRuntime* alias = snap.find_alias(id);
  if (alias == nullptr) {
    std::string msg = "The model '";
    msg += id.substr(0, 256);
    msg += "' does not exist";
    co_return co_await send_error(ctx, snap, o, 404, msg, "model_not_found");
  }
  o.status = 200;
  std::string body = "{\"id\":";
  log::append_json_string(body, alias->name);
  body += ",\"object\":\"model\",\"created\":0,\"owned_by\":\"switchboard\"}";
  const bool ok = co_await send(ctx, o, json_response(200, body, ctx.common_headers()));
  record(ctx, snap, o);
  co_return ok && !ctx.close;
}

}  // namespace

asio::awaitable<bool> handle_data(RequestContext& ctx) {
  const Request& req = ctx.request;
  const std::string_view client_id = req["x-request-id"];
  ctx.request_id =
      acceptable_request_id(client_id) ? std::string(client_id) : ctx.worker.next_request_id();
  const Snapshot* snap = &ctx.snapshot;
  const std::string_view path = path_of(req.target());
  Outcome o;
  if (path == "/v1/chat/completions") {
    if (req.method() != http::verb::post) {
      co_return co_await send_error(ctx, *snap, o, 405,
                                    "Method not allowed: use POST /v1/chat/completions.", {},
                                    "Allow: POST\r\n");
    }
    ChatHandler handler(ctx);
    co_return co_await handler.run();
  }
  if (path == "/v1/models" || (path.starts_with("/v1/models/") && path.size() > 11)) {
    if (req.method() != http::verb::get) {
      co_return co_await send_error(ctx, *snap, o, 405, "Method not allowed: use GET.", {},
                                    "Allow: GET\r\n");
    }
    co_return co_await handle_models(ctx, *snap, path);
  }
  std::string msg = "Invalid URL (";
  msg += req.method_string();
  msg += ' ';
  msg += path.substr(0, 256);
  msg += ')';
  co_return co_await send_error(ctx, *snap, o, 404, msg, "unknown_url");
}

}  // namespace sb::gateway
