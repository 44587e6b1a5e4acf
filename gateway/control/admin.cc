// The admin plane: health, readiness, Prometheus metrics, reload. Served by the same session code
// as the data plane, on its own listener (127.0.0.1:9090 by default).
//
// With `admin.token` (or `admin.token_file`) configured, /admin/reload and /admin/explain need
// `Authorization: Bearer TOKEN`; /healthz, /readyz and /metrics stay open for probes and
// scrapers. Loading refuses an admin plane beyond loopback without a token.

#include <string>

#include <openssl/crypto.h>

#include <boost/beast/http/verb.hpp>

#include "gateway/control/admin.h"
#include "gateway/control/server.h"
#include "gateway/net/credentials.h"
#include "gateway/net/forwarding.h"
#include "gateway/net/handler.h"
#include "gateway/net/http_response.h"
#include "gateway/pipeline/explain.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/runtime/worker.h"
#include "gateway/state/shared_store.h"

namespace sb::gateway {
namespace {

namespace http = boost::beast::http;

std::string text_response(unsigned status, std::string_view content_type, std::string_view body,
                          const RequestContext& ctx) {
  std::string out;
  out.reserve(128 + body.size());
  append_status_line(out, status);
  append_header(out, "Content-Type", content_type);
  append_header(out, "Content-Length", std::to_string(body.size()));
  out += ctx.common_headers();
  out += "\r\n";
  out += body;
  return out;
}

// Whether the request carries the configured admin token (always true when none is configured).
// The digests are compared in constant time, so neither the token's bytes nor its length can be
// learnt from response times.
bool admin_authorized(const RequestContext& ctx) {
  const std::string_view token = ctx.snapshot.config().admin.token;
  if (token.empty()) {
    return true;
  }
  const std::string_view given = bearer_token(ctx.request.field("authorization"));
  if (given.empty()) {
    return false;
  }
  const std::string a = sha256(given);
  const std::string b = sha256(token);
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// GET /readyz: 503 while draining, or when the shared store a replica needs is unreachable (with
// on_unavailable: reject, such a replica refuses every limited request: it is taken out of the
// load balancer's rotation).
std::string readiness(const RequestContext& ctx, Server& server) {
  const bool draining = server.draining() || ctx.worker.snapshot == nullptr;
  const SharedStore* shared = ctx.snapshot.shared_store();
  const bool store_ok = shared == nullptr || shared->ready();
  return json_response(!draining && store_ok ? 200 : 503,
                       draining   ? "{\"status\":\"draining\"}"
                       : store_ok ? "{\"status\":\"ready\"}"
                                  : "{\"status\":\"state_store_unavailable\"}",
                       ctx.common_headers());
}

// POST /admin/explain: the decision for the posted chat request, with this request's headers and
// API key. With an admin token, Authorization carries that token and the tenant's key comes in
// x-api-key.
std::string explanation(const RequestContext& ctx) {
  const Request& req = ctx.request;
  const std::string_view key =
      ctx.snapshot.config().admin.token.empty() ? api_key_in(req) : req.field("x-api-key");
  const auto snap = ctx.worker.snapshot;
  std::vector<HeaderLine> lines;
  header_lines(req, lines);
  const ExplainResult r = explain_request(*snap, req.body(), lines, key);
  return json_response(r.status, r.json, ctx.common_headers());
}

}  // namespace

boost::asio::awaitable<bool> handle_admin(RequestContext& ctx, Server& server) {
  ctx.request_id = ctx.worker.next_request_id();
  std::string_view path = ctx.request.target();
  if (const auto q = path.find('?'); q != std::string_view::npos) {
    path = path.substr(0, q);
  }
  const http::verb method = ctx.request.method();
  // HEAD is answered as GET; the connection sends the answer's head alone.
  const bool get = method == http::verb::get || method == http::verb::head;
  std::string out;
  const bool guarded = path == "/admin/reload" || path == "/admin/explain";
  if (guarded && !admin_authorized(ctx)) {
    out = error_response(401,
                         "This endpoint needs the admin token: send it as 'Authorization: Bearer "
                         "TOKEN' (admin.token).",
                         "invalid_admin_token",
                         ctx.common_headers() + "WWW-Authenticate: Bearer\r\n");
  } else if (path == "/healthz" && get) {
    out = json_response(200, "{\"status\":\"ok\"}", ctx.common_headers());
  } else if (path == "/readyz" && get) {
    out = readiness(ctx, server);
  } else if (path == "/metrics" && get) {
    out = text_response(200, "text/plain; version=0.0.4; charset=utf-8",
                        server.registry().serialize(), ctx);
  } else if (path == "/admin/reload" && method == http::verb::post) {
    // Loads, validates and compiles on the control thread, off this worker, which serves its
    // other connections meanwhile; the swap itself is posted to every worker, this one included.
    const bool ok = co_await server.reload_on_control_thread();
    out = ok ? json_response(200, "{\"status\":\"reloaded\"}", ctx.common_headers())
             : error_response(400,
                              "configuration rejected; the previous one keeps serving (see "
                              "the server log for every error)",
                              "config_invalid", ctx.common_headers());
  } else if (path == "/admin/explain" && method == http::verb::post) {
    out = explanation(ctx);
  } else if (path == "/healthz" || path == "/readyz" || path == "/metrics" ||
             path == "/admin/reload" || path == "/admin/explain") {
    out = error_response(405, "method not allowed", {}, ctx.common_headers());
  } else {
    out = error_response(404, "not found", {}, ctx.common_headers());
  }
  const auto ec = co_await ctx.downstream.write(out);
  co_return !ec && !ctx.close;
}

}  // namespace sb::gateway
