// The data plane's entry: request ids, authentication, routing by path, /v1/models, and the
// recording of every request's metrics and access-log line.

#include <algorithm>
#include <string>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "gateway/net/credentials.h"
#include "gateway/net/header_name.h"
#include "gateway/net/http_response.h"
#include "gateway/observability/access_log.h"
#include "gateway/observability/log.h"
#include "gateway/pipeline/client_dialect.h"
#include "gateway/pipeline/data_plane.h"
#include "gateway/pipeline/exchange.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/pipeline/request_record.h"
#include "gateway/pipeline/tracing.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
double millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
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

asio::awaitable<bool> handle_models(RequestContext& ctx, Outcome& o, std::string_view path) {
  const Snapshot& snap = ctx.snapshot;
  if (path == "/v1/models") {
    o.status = 200;
    const bool ok =
        co_await send(ctx, o, json_response(200, snap.models_body(), ctx.common_headers()));
    co_return ok && !ctx.close;
  }
  const std::string_view id = path.substr(std::string_view("/v1/models/").size());
  const AliasRuntime* alias = snap.find_alias(id);
  if (alias == nullptr) {
    std::string msg = "The model '";
    msg += id.substr(0, 256);
    msg += "' does not exist";
    co_return co_await send_error(ctx, o, 404, msg, "model_not_found");
  }
  o.status = 200;
  std::string body = "{\"id\":";
  log::append_json_string(body, alias->name);
  body += ",\"object\":\"model\",\"created\":0,\"owned_by\":\"switchboard\"}";
  const bool ok = co_await send(ctx, o, json_response(200, body, ctx.common_headers()));
  co_return ok && !ctx.close;
}

}  // namespace

std::string_view path_of(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view query_of(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

void record(RequestContext& ctx, Outcome& o) {
  const Snapshot& snap = ctx.snapshot;
  const auto end = Clock::now();
  const auto total = end - ctx.received;
  const RouteStats* route = &snap.stats().unrouted;
  if (o.alias != nullptr) {
    route = o.backend != nullptr ? &o.alias->per_backend[o.backend->index] : &o.alias->none;
  }
  ctx.worker.stats.requests(snap, o.tenant, o.alias, o.backend, o.rule_slot, o.status).inc();
  route->duration->observe(seconds(total));
  if (o.first_byte) {
    route->ttft->observe(seconds(*o.first_byte - ctx.received));
  }
  if (o.level >= 0) {
    const bool served = o.backend != nullptr && o.attempts > 0;
    snap.stats()
        .served[static_cast<std::size_t>(o.level)][served ? o.backend->index + 1 : 0]
        ->inc();
  }
  const auto overhead = total - o.io_wait;
  snap.stats().overhead->observe(seconds(overhead));
  if (o.backend != nullptr && o.usage && o.tenant != kNoTenant) {
    const TenantBackendCells& cells = ctx.worker.stats.tenant_backend(snap, o.tenant, *o.backend);
    const TokenCells& t = o.usage_estimated ? cells.estimated : cells.reported;
    t.input->inc(static_cast<std::uint64_t>(o.usage->input));
    t.output->inc(static_cast<std::uint64_t>(o.usage->output));
    t.cached_input->inc(static_cast<std::uint64_t>(o.usage->cached_input));
    t.reasoning->inc(static_cast<std::uint64_t>(o.usage->reasoning));
    t.cache_write->inc(static_cast<std::uint64_t>(o.usage->cache_write));
    cells.cost->add(o.cost_nanos);
  }
  AccessRecord r;
  r.request_id = ctx.request_id;
  if (o.tenant != kNoTenant) {
    r.tenant = snap.config().tenants[o.tenant].name;
  }
  r.method = ctx.request.method_string();
  r.path = path_of(ctx.request.target());
  r.model = o.alias != nullptr ? std::string_view(o.alias->name) : std::string_view();
  r.backend = o.backend != nullptr && o.status != 0 ? std::string_view(o.backend->spec->name)
                                                    : std::string_view();
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
  r.cost_nanos = o.cost_nanos;
  r.sensitivity = o.sensitivity;
  r.error = o.error;
  ctx.worker.access_log.write(r);
  tracing::end_request(ctx, o);
}

asio::awaitable<bool> send(RequestContext& ctx, Outcome& o, std::string_view bytes) {
  const auto t = Clock::now();
  const boost::asio::const_buffer b(bytes.data(), bytes.size());
  const std::span<const boost::asio::const_buffer> bufs(&b, 1);
  std::size_t now = 0;
  boost::system::error_code ec;
  if (!written_now(ctx.downstream, bufs, now)) {
    ec = co_await ctx.downstream.write(bufs, now);
  }
  o.io_wait += Clock::now() - t;
  co_return !ec;
}

asio::awaitable<bool> send_error(RequestContext& ctx, Outcome& o, unsigned status,
                                 std::string_view message, std::string_view code,
                                 std::string_view extra_headers) {
  o.status = status;
  std::string headers = ctx.common_headers();
  headers += extra_headers;
  const bool ok = co_await send(
      ctx, o, error_response(client_dialect(ctx.dialect), status, message, code, headers));
  co_return ok && !ctx.close;
}

namespace {

// What a data-plane path names.
struct Route {
  std::optional<Endpoint> endpoint;  // an OpenAI-shaped model endpoint
  bool messages = false;             // POST /v1/messages (Anthropic's shape)
  bool count_tokens = false;         // POST /v1/messages/count_tokens
  bool responses = false;            // POST /v1/responses
  std::string_view stored;           // GET or DELETE /v1/responses/{id}: the id
  bool models = false;               // /v1/models, /v1/models/{id}
  bool chat() const { return endpoint.has_value() || messages || count_tokens || responses; }
  bool known() const { return chat() || models || !stored.empty(); }
};

constexpr std::string_view kResponsesPrefix = "/v1/responses/";

Route route_of(std::string_view path) {
  Route r;
  r.endpoint = path == "/v1/chat/completions" ? std::optional(Endpoint::chat)
               : path == "/v1/completions"    ? std::optional(Endpoint::completions)
               : path == "/v1/embeddings"     ? std::optional(Endpoint::embeddings)
                                              : std::nullopt;
  r.messages = path == "/v1/messages";
  r.count_tokens = path == "/v1/messages/count_tokens";
  r.responses = path == "/v1/responses";
  if (path.starts_with(kResponsesPrefix) && path.size() > kResponsesPrefix.size() &&
      path.find('/', kResponsesPrefix.size()) == std::string_view::npos) {
    r.stored = path.substr(kResponsesPrefix.size());
  }
  r.models = path == "/v1/models" || (path.starts_with("/v1/models/") && path.size() > 11);
  return r;
}

struct Refusal {
  ErrorKind kind;
  std::string message;
  std::string_view code;
  std::string_view headers;  // extra header lines (Allow)
};

// The shape a route's client reads its answers and errors in.
Dialect dialect_of(const Route& route) {
  if (route.messages || route.count_tokens) {
    return Dialect::anthropic;
  }
  return route.responses || !route.stored.empty() ? Dialect::responses : Dialect::openai;
}

// What the header alone condemns: an unknown path (404) or a missing or wrong API key (401).
// Sets `tenant` otherwise. Sets the dialect of every answer from here on.
std::optional<Refusal> refusal_of(RequestContext& ctx, const Route& route, std::size_t& tenant) {
  const Request& req = ctx.request;
  ctx.dialect = dialect_of(route);
  if (!route.known()) {
    std::string msg = "Invalid URL (";
    msg += req.method_string();
    msg += ' ';
    msg += path_of(req.target()).substr(0, 256);
    msg += ')';
    return Refusal{ErrorKind::not_found, std::move(msg), "unknown_url"};
  }
  const std::string_view key = api_key_in(req);
  const std::optional<std::size_t> found = ctx.snapshot.authenticate(key);
  if (!found) {
    const bool missing = key.empty();
    return Refusal{ErrorKind::unauthenticated,
                   std::string(!missing ? "Incorrect API key provided."
                                        : client_dialect(ctx.dialect).missing_key_message),
                   missing ? "missing_api_key" : "invalid_api_key"};
  }
  tenant = *found;
  return std::nullopt;
}

void assign_request_id(RequestContext& ctx) {
  const std::string_view client_id = field_value(ctx.request, "x-request-id");
  ctx.request_id =
      acceptable_request_id(client_id) ? std::string(client_id) : ctx.worker.next_request_id();
}

}  // namespace

// The connection layer's own errors (a body over the limit, a malformed chunked body, bodies
// holding too much memory) as every other answer of the route: in the shape its client reads,
// with a request id, recorded.
asio::awaitable<void> DataPlane::refuse_body(RequestContext& ctx, unsigned status,
                                             std::string_view message,
                                             std::string_view extra_headers) {
  if (ctx.request_id.empty()) {
    assign_request_id(ctx);
  }
  RequestRecord rec(ctx);
  Outcome& o = rec.outcome();
  tracing::start_request(ctx, o);
  // The route's dialect, and the tenant when the key is good: an oversized body from a known
  // client is counted as that tenant's (the refusal itself is already decided).
  (void)refusal_of(ctx, route_of(path_of(ctx.request.target())), o.tenant);
  co_await send_error(ctx, o, status, message, {}, extra_headers);
}

asio::awaitable<bool> refuse_before_body(RequestContext& ctx) {
  std::size_t tenant = 0;
  std::optional<Refusal> refusal = refusal_of(ctx, route_of(path_of(ctx.request.target())), tenant);
  if (!refusal) {
    co_return false;
  }
  assign_request_id(ctx);
  RequestRecord rec(ctx);
  tracing::start_request(ctx, rec.outcome());
  co_await send_error(ctx, rec.outcome(), http_status({refusal->kind}), refusal->message,
                      refusal->code);
  co_return true;
}

namespace {

// A known route asked with a method it does not take (405, with its Allow line). HEAD is taken
// wherever GET is (the connection sends the answer's head alone).
std::optional<Refusal> wrong_method(const Request& req, const Route& route, std::string_view path) {
  const http::verb m = req.method();
  const bool get = m == http::verb::get || m == http::verb::head;
  if (route.chat()) {
    if (m == http::verb::post) {
      return std::nullopt;
    }
    return Refusal{ErrorKind::method_not_allowed,
                   "Method not allowed: use POST " + std::string(path) + ".",
                   {},
                   "Allow: POST\r\n"};
  }
  if (!route.stored.empty()) {
    if (get || m == http::verb::delete_) {
      return std::nullopt;
    }
    return Refusal{ErrorKind::method_not_allowed,
                   "Method not allowed: use GET or DELETE.",
                   {},
                   "Allow: GET, HEAD, DELETE\r\n"};
  }
  if (get) {
    return std::nullopt;
  }
  return Refusal{
      ErrorKind::method_not_allowed, "Method not allowed: use GET.", {}, "Allow: GET, HEAD\r\n"};
}

// A body sent compressed (Content-Encoding: gzip, ...) is refused, not guessed at: it would be
// neither read nor scanned, and forwarding it would send out what was not scanned.
std::optional<Refusal> coded_body(const Request& req, const Route& route) {
  if (!route.chat() || !req.content_coded()) {
    return std::nullopt;
  }
  std::string msg = "Content-Encoding '";
  msg += req.field("content-encoding").substr(0, 64);
  msg += "' is not supported: send the request body uncompressed.";
  return Refusal{ErrorKind::unsupported_media_type, std::move(msg), "unsupported_content_encoding"};
}

}  // namespace

// The refusals are answered from one place, and the work that does not wait lives in plain
// functions: a coroutine's frame holds every local and temporary of its body, and a frame over
// 1,020 bytes is not recycled by Asio (a heap allocation per request instead).
asio::awaitable<bool> handle_data(RequestContext& ctx) {
  assign_request_id(ctx);
  const std::string_view path = path_of(ctx.request.target());
  const Route route = route_of(path);
  RequestRecord rec(ctx);  // metrics and the access line, once, however the request ends
  Outcome& o = rec.outcome();
  tracing::start_request(ctx, o);
  std::optional<Refusal> refusal = refusal_of(ctx, route, o.tenant);
  if (!refusal) {
    refusal = wrong_method(ctx.request, route, path);
  }
  if (!refusal) {
    refusal = coded_body(ctx.request, route);
  }
  if (refusal) {
    co_return co_await send_error(ctx, o, http_status({refusal->kind}), refusal->message,
                                  refusal->code, refusal->headers);
  }
  if (route.messages) {
    co_return co_await handle_messages(ctx, rec);
  }
  if (route.count_tokens) {
    co_return co_await handle_count_tokens(ctx, rec);
  }
  if (route.responses) {
    co_return co_await handle_responses(ctx, rec);
  }
  if (route.endpoint) {
    co_return co_await handle_chat(ctx, rec, *route.endpoint, ctx.request.body());
  }
  if (!route.stored.empty()) {
    co_return co_await handle_stored_response(ctx, rec, route.stored);
  }
  co_return co_await handle_models(ctx, o, path);
}

}  // namespace sb::gateway
