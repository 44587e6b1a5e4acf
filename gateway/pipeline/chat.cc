// POST /v1/chat/completions: parse once, decide (policies and the clearance invariant), admit
// (rates and budget reservation), dispatch along the decision's backends, relay, reconcile.
//
// Before the first byte has gone to the client, a failed attempt falls through to the next
// backend of the decision — only those, each checked again against the clearance invariant.
// After it, a failure ends the stream with an error event, never a clean [DONE].

#include <algorithm>
#include <charconv>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_facts.h"
#include "adapters/usage.h"
#include "gateway/net/http_response.h"
#include "gateway/observability/access_log.h"
#include "gateway/observability/log.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/runtime/worker.h"
#include "gateway/state/shared_store.h"

namespace sb::gateway::chat {

std::string ChatHandler::response_head(unsigned status, std::string_view content_type,
                                       const BackendRuntime& b) const {
  std::string h;
  h.reserve(320);
  append_status_line(h, status);
  append_header(h, "Content-Type", content_type);
  h += ctx_.common_headers();
  append_header(h, "x-switchboard-backend", b.spec->name);
  h += decision_headers_;
  return h;
}

asio::awaitable<bool> ChatHandler::refuse(unsigned status, std::string_view message,
                                          std::string_view code, std::string_view extra) {
  std::string headers = decision_headers_;
  headers += extra;
  co_return co_await send_error(ctx_, o_, status, message, code, headers);
}

void ChatHandler::write_audit(const policies::RequestFacts& facts) const {
  // One line per decision: the facts of the decision, never prompt text or entity values.
  const config::Config& c = snap_.config();
  std::string line;
  line.reserve(384);
  line += "{\"ts\":";
  log::append_timestamp(line);
  line += ",\"type\":\"audit\",\"request_id\":";
  log::append_json_string(line, ctx_.request_id);
  line += ",\"tenant\":";
  log::append_json_string(line, c.tenants[facts.tenant].name);
  line += ",\"model\":";
  log::append_json_string(line, o_.alias != nullptr ? o_.alias->name : std::string("none"));
  line += ",\"outcome\":";
  log::append_json_string(line, policies::to_string(decision_.outcome));
  line += ",\"rule\":";
  log::append_json_string(line, decision_.rule);
  line += ",\"sensitivity\":";
  log::append_json_string(line, c.sensitivity.levels.names[decision_.sensitivity]);
  line += ",\"tier\":";
  log::append_json_string(line, c.tiers.levels.names[decision_.tier]);
  line += ",\"entities\":{";
  bool first = true;
  for (const policies::EntityCount& e : decision_.detection.entities) {
    if (!first) {
      line.push_back(',');
    }
    first = false;
    log::append_json_string(line, engine_.detector().entity_names()[e.entity]);
    line.push_back(':');
    line += std::to_string(e.count);
  }
  line += "},\"backends\":[";
  for (std::size_t i = 0; i < decision_.backends.size(); ++i) {
    if (i > 0) {
      line.push_back(',');
    }
    log::append_json_string(line, c.backends[decision_.backends[i]].name);
  }
  line += "],\"estimated_cost_usd\":";
  policies::append_usd(line, decision_.estimated_cost);
  line += "}\n";
  ctx_.worker.access_log.write_line(line);
}

namespace {

boost::json::parse_options body_parse_options() {
  boost::json::parse_options opts;
  opts.max_depth = 128;
  return opts;
}

}  // namespace

ChatHandler::Dom::Dom(std::string_view text, error_code& ec)
    : mr(arena, sizeof arena), value(boost::json::parse(text, ec, &mr, body_parse_options())) {}

const boost::json::object* ChatHandler::parsed_body(error_code& ec) {
  ec = {};
  if (!dom_) {
    dom_.emplace(body_text_, ec);
  }
  return !ec && dom_->value.is_object() ? &dom_->value.get_object() : nullptr;
}

asio::awaitable<bool> ChatHandler::run() {
  const Request& req = ctx_.request;
  error_code jec;
  const boost::json::object* parsed = parsed_body(jec);
  if (parsed == nullptr) {
    co_return co_await send_error(
        ctx_, o_, 400,
        "We could not parse the JSON body of your request. The body must be a JSON object "
        "(see https://platform.openai.com/docs/api-reference/chat/create).");
  }
  const boost::json::object& body = *parsed;
  const auto* model = body.if_contains("model");
  if (model == nullptr || !model->is_string() || model->as_string().empty()) {
    co_return co_await send_error(ctx_, o_, 400, "you must provide a model parameter");
  }
  // The one member each endpoint cannot do without (OpenAI's messages for the same mistakes).
  const char* required = endpoint_ == Endpoint::chat         ? "messages"
                         : endpoint_ == Endpoint::embeddings ? "input"
                                                             : nullptr;
  if (required != nullptr) {
    const auto* member = body.if_contains(required);
    if (member == nullptr) {
      co_return co_await send_error(ctx_, o_, 400,
                                    std::string("Missing required parameter: '") + required + "'.",
                                    "missing_required_parameter");
    }
    if (endpoint_ == Endpoint::chat && !member->is_array()) {
      co_return co_await send_error(
          ctx_, o_, 400, "Invalid type for 'messages': expected an array.", "invalid_type");
    }
  }
  if (const auto* stream = body.if_contains("stream");
      stream != nullptr && !stream->is_bool() && !stream->is_null()) {
    co_return co_await send_error(ctx_, o_, 400, "Invalid type for 'stream': expected a boolean.",
                                  "invalid_type");
  }
  const std::string_view alias_name(model->as_string().data(), model->as_string().size());
  o_.alias = snap_.find_alias(alias_name);

  // The decision: what the request carries, who sent it, and the live state.
  const config::Config& c = snap_.config();
  FactsStorage storage;
  std::vector<HeaderLine> lines;
  header_lines(req, lines);
  const policies::RequestFacts facts =
      request_facts(endpoint_, body, alias_name, o_.tenant, c, lines, storage, original_);
  const adapters::ChatFacts& chat = storage.chat;
  prompt_tokens_ = chat.estimated_prompt_tokens;
  policies::StateStore& state = snap_.state();
  decision_ = engine_.decide(facts, state);
  o_.rule_slot = snap_.rule_slot(decision_.rule);
  o_.sensitivity = c.sensitivity.levels.names[decision_.sensitivity];
  o_.level = static_cast<int>(decision_.sensitivity);

  snap_.stats().decisions[o_.rule_slot][static_cast<std::size_t>(decision_.outcome)]->inc();
  const auto& sensitive_row = snap_.stats().sensitive[decision_.sensitivity];
  if (decision_.detection.entities.empty()) {
    sensitive_row[0]->inc();
  } else {
    for (const policies::EntityCount& e : decision_.detection.entities) {
      sensitive_row[e.entity + 1u]->inc();
    }
  }
  write_audit(facts);
  append_header(decision_headers_, "x-switchboard-rule",
                decision_.rule.empty() ? std::string_view("none") : decision_.rule);
  append_header(decision_headers_, "x-switchboard-sensitivity", o_.sensitivity);
  append_header(decision_headers_, "x-switchboard-tier", c.tiers.levels.names[decision_.tier]);

  switch (decision_.outcome) {
    case policies::Outcome::route:
      break;
    case policies::Outcome::unknown_model: {
      std::string msg = "The model `";
      msg += alias_name.substr(0, 256);
      msg += "` does not exist or you do not have access to it.";
      co_return co_await refuse(404, msg, "model_not_found");
    }
    case policies::Outcome::bad_request:
      co_return co_await refuse(400, decision_.message, "invalid_header");
    case policies::Outcome::forbidden:
      co_return co_await refuse(403, decision_.message, "sensitive_data_not_cleared");
    case policies::Outcome::unavailable:
      co_return co_await refuse(503, decision_.message, "no_backend_available",
                                "Retry-After: 1\r\n");
    case policies::Outcome::shed:
      co_return co_await refuse(429, decision_.message, "load_shed", "Retry-After: 1\r\n");
  }

  // Admission: rate limits, and a budget reservation that covers the worst case on the dearest
  // backend this request may end up on (see chat_admission.cc).
  const config::Tenant& tenant = c.tenants[o_.tenant];
  const policies::AdmissionResult admission = co_await admit(chat, body);
  if (admission.outcome == policies::Admission::unavailable) {
    co_return co_await refuse(
        503,
        "Budgets and rate limits are shared through a store this gateway cannot reach, and this "
        "request cannot be served without it; retry later.",
        "state_store_unavailable", "Retry-After: 1\r\n");
  }
  if (admission.outcome != policies::Admission::ok) {
    const std::size_t kind = admission.outcome == policies::Admission::rate_limited_requests ? 0
                             : admission.outcome == policies::Admission::rate_limited_tokens ? 1
                                                                                             : 2;
    snap_.tenant(o_.tenant).rate_limited[kind]->inc();
    const std::string retry =
        "Retry-After: " + std::to_string(std::max<long long>(1, admission.retry_after.count())) +
        "\r\n";
    const char* what = kind == 0   ? "Rate limit reached for requests per minute"
                       : kind == 1 ? "Rate limit reached for tokens per minute"
                                   : "Budget exhausted";
    co_return co_await refuse(429, std::string(what) + " for tenant '" + tenant.name + "'.",
                              kind == 2 ? "budget_exhausted" : "rate_limit_exceeded", retry);
  }

  reservation_ = admission.reservation;
  // The facts point into the DOM, which attempts release; nothing reads them from here on but
  // the forwardable headers, which are sent exactly as they were scanned.
  forwardable_ = std::move(storage.forwardable);
  storage = FactsStorage{};
  if (body_edited_) {
    dom_.reset();  // the attempts parse the capped body
  }
  const Attempt result = co_await dispatch();
  if (result == Attempt::next && failure_) {
    // Every try failed; the last upstream's own answer (scrubbed, with its Retry-After) tells
    // the client most.
    o_.usage.reset();
    settle();
    o_.status = failure_->status;
    o_.error = "upstream_status";
    const bool ok = co_await send(ctx_, o_, failure_->response);
    record(ctx_, o_);
    co_return ok && !ctx_.close;
  }
  if (result == Attempt::next) {
    o_.usage.reset();
    settle();
    o_.error = upstream::to_string(last_error_);
    if (last_error_ == upstream::ErrorKind::none) {
      co_return co_await refuse(
          503,
          circuit_open_ ? "Every backend for this request is failing and temporarily taken out "
                          "of rotation; retry later."
                        : "Every backend for this request is at capacity; retry later.",
          circuit_open_ ? "backend_unavailable" : "backend_at_capacity", "Retry-After: 1\r\n");
    }
    const unsigned status = upstream::is_timeout(last_error_) ? 504 : 502;
    std::string msg = "Upstream backend '";
    msg += o_.backend != nullptr ? o_.backend->spec->name : std::string("?");
    if (last_error_ == upstream::ErrorKind::too_large) {
      msg += "' failed: upstream answer too large (too_large).";
    } else {
      msg += status == 504 ? "' timed out (" : "' failed (";
      msg += upstream::to_string(last_error_);
      msg += ").";
    }
    co_return co_await refuse(status, msg, status == 504 ? "upstream_timeout" : "upstream_error");
  }
  settle();
  record(ctx_, o_);
  co_return result == Attempt::answered && !ctx_.close;
}

// Tries the decision's backends in order, each up to `retries.attempts` times for a retryable
// failure (with backoff, or the wait the upstream asked for), until one answers. Only before the
// first byte reaches the client, and only along the decision's list.
asio::awaitable<Attempt> ChatHandler::dispatch() {
  const config::RetrySettings& retries = snap_.config().retries;
  Attempt result = Attempt::next;
  for (std::size_t i = 0; i < decision_.backends.size() && result == Attempt::next; ++i) {
    const std::size_t index = decision_.backends[i];
    const BackendRuntime& b = snap_.backend(index);
    // The invariant, once more at the point of sending: nothing uncleared ever leaves.
    if (!engine_.cleared(index, decision_.sensitivity, o_.tenant)) {
      log::error("clearance invariant violated by a decision; backend skipped",
                 {{"request_id", ctx_.request_id}, {"backend", b.spec->name}});
      continue;
    }
    const BackendRuntime* failed = o_.attempts > 0 ? o_.backend : nullptr;
    if (failed != nullptr) {
      // Nothing has reached the client: the next eligible backend takes over.
      ctx_.worker.stats.fallback(snap_, *failed, b).inc();
    }
    const bool last_backend = i + 1 == decision_.backends.size();
    for (unsigned n = 1;; ++n) {
      retryable_ = false;
      retry_after_.reset();
      result = co_await attempt(b, last_backend && n >= retries.attempts);
      if (result != Attempt::next || !retryable_ || n >= retries.attempts) {
        break;
      }
      const std::optional<Clock::duration> wait = retry_delay(n);
      if (!wait) {
        break;  // the upstream wants a longer pause than a request should wait: move on
      }
      b.retries->inc();
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(*wait);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  co_return result;
}

void ChatHandler::price() {
  if (priced_ || o_.backend == nullptr) {
    return;
  }
  priced_ = true;
  if (!o_.usage) {
    // No usage from the upstream: the prompt estimate, and the response's size at about four
    // bytes per token (an over-estimate, as the JSON or SSE framing is counted too).
    adapters::Usage u;
    u.input = static_cast<std::int64_t>(prompt_tokens_);
    u.output =
        endpoint_ == Endpoint::embeddings ? 0 : static_cast<std::int64_t>(response_bytes_ / 4);
    o_.usage = u;
    o_.usage_estimated = true;
  }
  const adapters::Usage& u = *o_.usage;
  o_.cost_nanos = engine_.cost(
      o_.backend->index, static_cast<std::uint64_t>(u.input), static_cast<std::uint64_t>(u.output),
      static_cast<std::uint64_t>(u.cached_input), static_cast<std::uint64_t>(u.cache_write));
}

// Actual cost priced, the budget and tpm reconciled, backend rates and savings recorded.
void ChatHandler::settle() {
  if (!reservation_) {
    return;
  }
  const policies::Reservation reservation = *reservation_;
  reservation_.reset();
  policies::Nanos actual = 0;
  std::uint64_t tokens = 0;
  if (o_.backend != nullptr && o_.status == 200) {
    price();
    const adapters::Usage& u = *o_.usage;
    const std::size_t b = o_.backend->index;
    actual = o_.cost_nanos;
    tokens = static_cast<std::uint64_t>(u.input) + static_cast<std::uint64_t>(u.output);
    snap_.state().record_backend(b, tokens);
    if (o_.backend->spec->hosting == config::Hosting::self_hosted) {
      if (const auto ref = engine_.reference_cost(static_cast<std::uint64_t>(u.input),
                                                  static_cast<std::uint64_t>(u.output),
                                                  static_cast<std::uint64_t>(u.cached_input),
                                                  static_cast<std::uint64_t>(u.cache_write))) {
        const TenantRuntime& t = snap_.tenant(o_.tenant);
        t.reference_cost->add(*ref);
        if (*ref > actual) {
          t.savings->add(*ref - actual);
        }
      }
    }
  } else {
    o_.cost_nanos = 0;
  }
  snap_.state().reconcile(reservation, tokens, actual);
}

// A retryable upstream answer: kept as the client's answer should no later try succeed, and the
// wait the upstream asked for (Retry-After in seconds, or retry-after-ms) noted for the retry.
Attempt ChatHandler::retry_later(unsigned status, std::string response, const http::fields& headers,
                                 std::string_view retry_after) {
  last_error_ = upstream::ErrorKind::protocol;
  failure_ = Failure{status, std::move(response)};
  retryable_ = true;
  if (retry_after.empty()) {
    retry_after = headers[http::field::retry_after];
  }
  const std::string_view ms = headers["retry-after-ms"];
  double value = 0;
  const std::string_view text = !ms.empty() ? ms : retry_after;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size() && value >= 0 &&
      value < 1e7) {
    retry_after_ =
        std::chrono::milliseconds(static_cast<std::int64_t>(ms.empty() ? value * 1000 : value));
  }
  return Attempt::next;
}

// The wait before try `n + 1` on the same backend: what the upstream asked for, or full-jitter
// exponential backoff; nullopt when the upstream asked for longer than the config allows.
std::optional<Clock::duration> ChatHandler::retry_delay(unsigned n) const {
  const config::RetrySettings& r = snap_.config().retries;
  if (retry_after_) {
    if (*retry_after_ > r.max_retry_after) {
      return std::nullopt;
    }
    return *retry_after_;
  }
  const auto cap =
      std::min<std::int64_t>(r.max_backoff.count(), r.backoff.count() << std::min(n - 1, 20u));
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(0, cap) * 1000);
  return std::chrono::microseconds(jitter(rng));
}

}  // namespace sb::gateway::chat

namespace sb::gateway {

boost::asio::awaitable<bool> handle_chat(RequestContext& ctx, std::size_t tenant, Endpoint endpoint,
                                         std::string_view body,
                                         const adapters::ChatFacts* original) {
  chat::ChatHandler handler(ctx, tenant, endpoint, body, original);
  co_return co_await handler.run();
}

}  // namespace sb::gateway
