// One try on one backend: the request built for the provider (passed through with the engine's
// quirks, or translated), sent through the worker's pool, and the upstream's answer judged —
// served, retryable (kept as the answer should no later try succeed), or final.

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/azure.h"
#include "adapters/engines.h"
#include "adapters/json_edit.h"
#include "adapters/openai_compatible.h"
#include "adapters/usage.h"
#include "gateway/net/forwarding.h"
#include "gateway/net/http_response.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/pipeline/scrub.h"
#include "gateway/runtime/translators.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway::chat {
namespace {

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

// Embeddings report `usage: {prompt_tokens, total_tokens}` beside arrays of floats that can run
// to megabytes: only the usage member is parsed.
std::optional<adapters::Usage> embedding_usage(std::string_view body) {
  std::vector<adapters::JsonMember> members;
  if (!adapters::scan_object(body, members)) {
    return std::nullopt;
  }
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key != "usage") {
      continue;
    }
    error_code ec;
    const boost::json::value v =
        boost::json::parse(body.substr(it->value_begin, it->value_end - it->value_begin), ec);
    if (ec || !v.is_object()) {
      return std::nullopt;
    }
    const auto* prompt = v.as_object().if_contains("prompt_tokens");
    if (prompt == nullptr || !(prompt->is_int64() || prompt->is_uint64())) {
      return std::nullopt;
    }
    adapters::Usage u;
    u.input =
        prompt->is_int64() ? prompt->get_int64() : static_cast<std::int64_t>(prompt->get_uint64());
    return u.input >= 0 ? std::optional<adapters::Usage>(u) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

// Sends `up` through the worker's pool, accounting the wait; nullptr when it failed (recorded).
asio::awaitable<std::unique_ptr<upstream::Exchange>> ChatHandler::exchange(const BackendRuntime& b,
                                                                           upstream::Request up) {
  upstream::Error err;
  const auto t = Clock::now();
  auto ex = co_await ctx_.worker.pool.send(b.endpoint, b.tls.get(), std::move(up), b.timeouts, err);
  const auto waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  if (!ex) {
    upstream_failed(b, err.kind);
  }
  co_return ex;
}

asio::awaitable<bool> ChatHandler::read_body(upstream::Exchange& ex, std::string& out,
                                             std::size_t limit, upstream::Error& err) {
  const auto t = Clock::now();
  const bool complete = co_await ex.read_all(out, limit, err);
  const auto waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  co_return complete;
}

asio::awaitable<Attempt> ChatHandler::attempt(const BackendRuntime& b, bool last) {
  policies::StateStore& state = snap_.state();
  if (endpoint_ != Endpoint::chat && !b.openai_wire) {
    // Never send a format the provider does not speak; the next backend may take it.
    last_error_ = upstream::ErrorKind::protocol;
    o_.backend = &b;
    co_return Attempt::next;
  }
  if (b.spec->max_in_flight > 0 &&
      state.backend_in_flight(b.index) >= static_cast<std::int64_t>(b.spec->max_in_flight)) {
    co_return Attempt::next;  // filled up since the decision
  }
  state.add_in_flight(b.index, 1);
  struct Release {
    policies::StateStore& s;
    std::size_t i;
    ~Release() { s.add_in_flight(i, -1); }
  } release{state, b.index};

  ++o_.attempts;
  o_.backend = &b;
  // The DOM was released before an earlier attempt's exchange: parse the text again (it parsed
  // once already, so only memory can make this fail).
  error_code jec;
  const boost::json::object* parsed = parsed_body(jec);
  if (parsed == nullptr) {
    last_error_ = upstream::ErrorKind::protocol;
    co_return Attempt::next;
  }
  const boost::json::object& body = *parsed;
  if (endpoint_ == Endpoint::chat && b.chat_translated) {
    co_return co_await attempt_translated(b, body, last);
  }
  adapters::ChatRequestPlan plan = adapters::plan_chat_request(
      body_text_, body, b.spec->model, endpoint_ == Endpoint::chat ? b.engine : nullptr);
  o_.stream = plan.stream;

  std::string target;
  if (b.azure) {
    target = adapters::azure_target(b.endpoint.base_path, b.spec->model, b.spec->api_version,
                                    endpoint_ == Endpoint::embeddings
                                        ? adapters::AzureOperation::embeddings
                                        : adapters::AzureOperation::completions);
  } else {
    target = b.endpoint.base_path;
    target += upstream_path(endpoint_);
  }
  upstream::Request up{http::verb::post, target, 11};
  forward_headers(forwardable_, *b.spec, up);
  up.set(http::field::content_type, "application/json");
  up.set(http::field::accept, plan.stream ? "text/event-stream" : "application/json");
  up.set(http::field::accept_encoding, "identity");
  up.set("x-request-id", ctx_.request_id);
  if (!b.credential_header.empty()) {
    up.set(b.credential_header, b.credential);
  }
  for (const auto& [k, v] : b.headers) {
    up.set(k, v);
  }
  up.body() = std::move(plan.body);
  dom_.reset();  // the upstream body is built: the DOM is not held across the exchange

  if (!b.circuit->allow(Clock::now())) {
    circuit_open_ = true;  // shed from a failing backend; the next one may take it
    co_return Attempt::next;
  }
  attempt_failed_ = false;
  const CircuitReport circuit_report{*b.circuit, attempt_failed_};
  const auto ex = co_await exchange(b, std::move(up));
  if (!ex) {
    co_return Attempt::next;
  }

  const unsigned status = ex->status();
  if (status != 200) {
    std::string ebody;
    upstream::Error rerr;
    co_await read_body(*ex, ebody, kMaxErrorBody, rerr);
    const bool retryable = status >= 500 || status == 429;
    const std::string_view retry_after = ex->headers()[http::field::retry_after];
    std::string response;
    unsigned client_status = status;
    if (status >= 400 && status < 500) {
      // The upstream's own answer (bad parameter, rate limit, ...) is the truth: pass it on.
      const std::string_view ctype = ex->headers()[http::field::content_type];
      response = error_answer(
          b, status, ctype.empty() ? "application/json" : ctype,
          client_error_body(status, scrub_upstream_text(ebody, b.secret(), b.endpoint.host)),
          retry_after);
    } else {
      // A 5xx upstream is a gateway failure for the client: 502, or the 503/504 it reported.
      client_status = status == 503 || status == 504 ? status : 502;
      std::string msg =
          "Upstream backend '" + b.spec->name + "' returned HTTP " + std::to_string(status);
      if (const std::string m = upstream_error_message(ebody); !m.empty()) {
        msg += ": " + scrub_upstream_text(m.substr(0, 512), b.secret(), b.endpoint.host);
      }
      response = error_answer(
          b, client_status, "application/json",
          client_error_body(client_status,
                            error_json(msg, error_type_for(client_status), "upstream_error")),
          retry_after);
    }
    if (retryable) {
      upstream_failed_status(b);
      co_return retry_later(client_status, std::move(response), ex->headers());
    }
    o_.status = client_status;
    o_.error = "upstream_status";
    const bool ok = co_await send(ctx_, o_, response);
    co_return ok ? Attempt::answered : Attempt::closed;
  }

  const std::string_view ctype = ex->headers()[http::field::content_type];
  if (plan.stream && ctype.substr(0, 17) == "text/event-stream") {
    if (b.azure) {
      adapters::AzureStreamTranslator stream(plan.client_wants_usage);
      co_return co_await relay(*ex, b, stream);
    }
    adapters::OpenAIStreamTranslator stream(plan.client_wants_usage);
    co_return co_await relay(*ex, b, stream);
  }

  std::string rbody;
  upstream::Error rerr;
  const bool complete = co_await read_body(*ex, rbody, kMaxResponseBody, rerr);
  if (!complete && rerr) {
    upstream_failed(b, rerr.kind);
    co_return Attempt::next;
  }
  o_.usage = endpoint_ == Endpoint::embeddings ? embedding_usage(rbody)
                                               : adapters::usage_from_openai_text(rbody);
  if (b.azure && endpoint_ != Endpoint::embeddings) {
    rbody = adapters::clean_azure_response(std::move(rbody));  // content-filter members
  }
  co_return co_await send_answer(b, std::move(rbody), ctype.empty() ? "application/json" : ctype);
}

// A provider with its own wire format: translate the request, send it, translate the answer.
asio::awaitable<Attempt> ChatHandler::attempt_translated(const BackendRuntime& b,
                                                         const boost::json::object& body,
                                                         bool last) {
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  const auto translator = make_translator(*b.spec, created, ctx_.request_id);
  adapters::TranslateError terr;
  std::optional<adapters::UpstreamRequest> ureq =
      translator->request(body, body_text_, b.translator_spec, terr);
  if (!ureq) {
    if (!last) {
      last_error_ = upstream::ErrorKind::protocol;
      co_return Attempt::next;  // another backend may express what this provider cannot
    }
    o_.status = terr.status;
    o_.error = "untranslatable_request";
    const bool ok = co_await send(
        ctx_, o_,
        error_answer(
            b, terr.status, "application/json",
            client_error_body(terr.status, error_json(terr.message, error_type_for(terr.status),
                                                      "unsupported_parameter")),
            {}));
    co_return ok ? Attempt::answered : Attempt::closed;
  }
  o_.stream = ureq->stream;
  const bool client_wants_usage = adapters::asks_for_usage(body);

  upstream::Request up{ureq->method == "GET" ? http::verb::get : http::verb::post, ureq->target,
                       11};
  for (const auto& [k, v] : ureq->headers) {
    up.set(k, v);
  }
  up.set(http::field::accept_encoding, "identity");
  up.set("x-request-id", ctx_.request_id);
  for (const auto& [k, v] : b.headers) {
    up.set(k, v);
  }
  up.body() = std::move(ureq->body);
  dom_.reset();  // `body` is gone from here on: the DOM is not held across the exchange

  if (!b.circuit->allow(Clock::now())) {
    circuit_open_ = true;  // shed from a failing backend; the next one may take it
    co_return Attempt::next;
  }
  attempt_failed_ = false;
  const CircuitReport circuit_report{*b.circuit, attempt_failed_};
  const auto ex = co_await exchange(b, std::move(up));
  if (!ex) {
    co_return Attempt::next;
  }
  const unsigned status = ex->status();
  const std::string_view ctype = ex->headers()[http::field::content_type];
  const std::string alias = o_.alias != nullptr ? o_.alias->name : std::string();
  if (status == 200 && o_.stream) {
    const auto stream = translator->stream(client_wants_usage, alias);
    co_return co_await relay(*ex, b, *stream);
  }

  std::string rbody;
  upstream::Error rerr;
  const bool complete =
      co_await read_body(*ex, rbody, status == 200 ? kMaxResponseBody : kMaxErrorBody, rerr);
  if (!complete && rerr) {
    upstream_failed(b, rerr.kind);
    co_return Attempt::next;
  }
  const std::string_view header_name = translator->response_header();
  const adapters::TranslatedResponse r = translator->response_with_header(
      status, ctype, rbody, alias,
      header_name.empty() ? std::string_view() : std::string_view(ex->headers()[header_name]));
  if (r.status == 200) {
    o_.usage = r.usage;
    co_return co_await send_answer(b, r.body, "application/json");
  }
  std::string_view retry_after = ex->headers()[http::field::retry_after];
  if (retry_after.empty() && r.retry_after) {
    retry_after = *r.retry_after;
  }
  // As on the pass-through path: a 5xx upstream is a gateway failure for the client, 502, or the
  // 503/504 it reported.
  const unsigned client_status =
      r.status >= 500 && r.status != 503 && r.status != 504 ? 502 : r.status;
  std::string response = error_answer(
      b, client_status, "application/json",
      client_error_body(client_status, scrub_upstream_text(r.body, b.secret(), b.endpoint.host)),
      retry_after);
  if (status >= 500 || status == 429 || r.retryable) {
    upstream_failed_status(b);
  }
  if (r.retryable) {
    co_return retry_later(client_status, std::move(response), ex->headers(), retry_after);
  }
  o_.status = client_status;
  o_.error = "upstream_status";
  const bool ok = co_await send(ctx_, o_, response);
  co_return ok ? Attempt::answered : Attempt::closed;
}

}  // namespace sb::gateway::chat
