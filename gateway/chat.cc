// POST /v1/chat/completions: parse once, decide (policies and the clearance invariant), admit
// (rates and budget reservation), dispatch along the decision's backends, relay, reconcile.
//
// Before the first byte has gone to the client, a failed attempt falls through to the next
// backend of the decision — only those, each checked again against the clearance invariant.
// After it, a failure ends the stream with an error event, never a clean [DONE].

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
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

#include "adapters/azure.h"
#include "adapters/chat_facts.h"
#include "adapters/engines.h"
#include "adapters/json_edit.h"
#include "adapters/openai_compatible.h"
#include "adapters/usage.h"
#include "gateway/access_log.h"
#include "gateway/circuit.h"
#include "gateway/exchange.h"
#include "gateway/forwarding.h"
#include "gateway/http_response.h"
#include "gateway/log.h"
#include "gateway/messages.h"
#include "gateway/request_facts.h"
#include "gateway/scrub.h"
#include "gateway/server.h"
#include "gateway/snapshot.h"
#include "gateway/translators.h"
#include "gateway/worker.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr std::size_t kMaxResponseBody = 64ull << 20;

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

enum class Attempt { answered, next, closed };

// Reports an exchange's outcome to its backend's circuit exactly once, however the attempt ends.
struct CircuitReport {
  Circuit& circuit;
  const bool& failed;
  ~CircuitReport() { failed ? circuit.failure(Clock::now()) : circuit.success(Clock::now()); }
};

class ChatHandler {
 public:
  ChatHandler(RequestContext& ctx, std::size_t tenant, Endpoint endpoint, std::string_view body)
      : ctx_(ctx),
        snap_(ctx.snapshot),
        engine_(snap_.engine()),
        endpoint_(endpoint),
        body_text_(body) {
    o_.tenant = tenant;
  }

  asio::awaitable<bool> run();

 private:
  asio::awaitable<bool> refuse(unsigned status, std::string_view message, std::string_view code,
                               std::string_view extra = {});
  asio::awaitable<Attempt> attempt(const BackendRuntime& b, const boost::json::object& body,
                                   bool last);
  asio::awaitable<std::unique_ptr<upstream::Exchange>> exchange(const BackendRuntime& b,
                                                                upstream::Request up);
  asio::awaitable<Attempt> attempt_translated(const BackendRuntime& b,
                                              const boost::json::object& body, bool last);
  asio::awaitable<Attempt> relay_stream(upstream::Exchange& ex, const BackendRuntime& b,
                                        adapters::StreamTranslator& stream, bool last);
  asio::awaitable<error_code> write_chunk(std::string& out, const std::string& head,
                                          bool& head_sent, bool chunked);
  std::string response_head(unsigned status, std::string_view content_type,
                            const BackendRuntime& b) const;
  void write_audit(const policies::RequestFacts& facts) const;
  // The client's dialect: OpenAI's, or Anthropic's for POST /v1/messages.
  bool anthropic() const { return ctx_.dialect == Dialect::anthropic; }
  // An upstream error body (OpenAI-shaped) in the client's dialect.
  std::string client_error_body(unsigned status, std::string body) const {
    return anthropic() ? adapters::openai_error_to_anthropic(status, body) : std::move(body);
  }
  asio::awaitable<Attempt> send_answer(const BackendRuntime& b, std::string body,
                                       std::string_view content_type, std::string_view retry_after);
  asio::awaitable<Attempt> relay(upstream::Exchange& ex, const BackendRuntime& b,
                                 adapters::StreamTranslator& stream, bool last);
  Attempt retry_later(unsigned status, std::string response, const http::fields& headers,
                      std::string_view retry_after = {});
  std::optional<Clock::duration> retry_delay(unsigned n) const;
  asio::awaitable<Attempt> dispatch(const boost::json::object& body);
  void settle(const policies::Reservation& reservation);

  RequestContext& ctx_;
  const Snapshot& snap_;
  const policies::Engine& engine_;
  Endpoint endpoint_;
  std::string_view body_text_;  // the OpenAI request body
  Outcome o_;
  policies::Decision decision_;
  std::string decision_headers_;  // x-switchboard-rule / -sensitivity / -tier lines
  upstream::ErrorKind last_error_ = upstream::ErrorKind::none;
  std::size_t response_bytes_ = 0;
  bool attempt_failed_ = false;  // the current attempt's upstream failed (for its circuit)
  bool circuit_open_ = false;    // a backend was skipped because its circuit is open
  AnthropicOutbound* outbound_ = nullptr;  // the current stream's Anthropic writer, if any
  // The last retryable upstream answer (complete response bytes): the client's answer when no
  // later try succeeds.
  struct Failure {
    unsigned status = 0;
    std::string response;
  };
  std::optional<Failure> failure_;
  bool retryable_ = false;  // the last failed try may be repeated on the same backend
  std::optional<Clock::duration> retry_after_;  // the wait its upstream asked for

  void upstream_failed(const BackendRuntime& b, upstream::ErrorKind kind) {
    attempt_failed_ = true;
    b.count_error(kind);
  }
  void upstream_failed_status(const BackendRuntime& b) {
    attempt_failed_ = true;
    b.count_error_status();
  }
  std::uint64_t prompt_tokens_ = 0;  // estimated
};

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
  char cost[48];
  const auto r = std::to_chars(cost, cost + sizeof cost, policies::to_usd(decision_.estimated_cost),
                               std::chars_format::fixed, 8);
  line.append(cost, r.ptr);
  line += "}\n";
  ctx_.worker.server.access_log().write_line(line);
}

asio::awaitable<bool> ChatHandler::run() {
  const Request& req = ctx_.request;
  // Parse once into a per-request arena: no per-node frees, and hostile nesting is bounded.
  unsigned char arena[4096];
  boost::json::monotonic_resource mr(arena, sizeof arena);
  boost::json::parse_options opts;
  opts.max_depth = 128;
  error_code jec;
  const boost::json::value parsed = boost::json::parse(body_text_, jec, &mr, opts);
  if (jec || !parsed.is_object()) {
    co_return co_await send_error(
        ctx_, o_, 400,
        "We could not parse the JSON body of your request. The body must be a JSON object "
        "(see https://platform.openai.com/docs/api-reference/chat/create).");
  }
  const boost::json::object& body = parsed.as_object();
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
  const policies::RequestFacts facts = request_facts(
      endpoint_, body, alias_name, o_.tenant, c,
      [&req](std::string_view name) { return req[name]; }, storage);
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

  // Admission: rate limits, and a budget reservation that covers the dearest backend this
  // request may end up on, so fallbacks can never spend more than was reserved.
  const config::Tenant& tenant = c.tenants[o_.tenant];
  const std::uint64_t output_estimate = chat.max_tokens.value_or(c.cost.default_output_tokens);
  policies::Micros reserve = 0;
  bool any_closed = false;
  for (const std::size_t b : decision_.backends) {
    reserve = std::max(reserve, engine_.cost(b, chat.estimated_prompt_tokens, output_estimate));
    any_closed = any_closed || c.backends[b].hosting == config::Hosting::closed;
  }
  const bool enforce_budget =
      tenant.budget.on_exhausted == config::BudgetAction::reject || any_closed;
  policies::AdmissionResult admission =
      state.admit(o_.tenant, decision_.estimated_tokens, reserve, enforce_budget);
  if (admission.outcome == policies::Admission::budget_exhausted &&
      tenant.budget.on_exhausted == config::BudgetAction::self_hosted_only) {
    // Out of budget in self-hosted-only mode: the paid backends drop out, the rest keep serving.
    std::erase_if(decision_.backends,
                  [&](std::size_t b) { return c.backends[b].hosting == config::Hosting::closed; });
    if (!decision_.backends.empty()) {
      admission = state.admit(o_.tenant, decision_.estimated_tokens, 0, false);
    }
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

  const Attempt result = co_await dispatch(body);
  if (result == Attempt::next && failure_) {
    // Every try failed; the last upstream's own answer (scrubbed, with its Retry-After) tells
    // the client most.
    o_.usage.reset();
    settle(admission.reservation);
    o_.status = failure_->status;
    o_.error = "upstream_status";
    const bool ok = co_await send(ctx_, o_, failure_->response);
    record(ctx_, o_);
    co_return ok && !ctx_.close;
  }
  if (result == Attempt::next) {
    o_.usage.reset();
    settle(admission.reservation);
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
    msg += status == 504 ? "' timed out (" : "' failed (";
    msg += upstream::to_string(last_error_);
    msg += ").";
    co_return co_await refuse(status, msg, status == 504 ? "upstream_timeout" : "upstream_error");
  }
  settle(admission.reservation);
  record(ctx_, o_);
  co_return result == Attempt::answered && !ctx_.close;
}

// Tries the decision's backends in order, each up to `retries.attempts` times for a retryable
// failure (with backoff, or the wait the upstream asked for), until one answers. Only before the
// first byte reaches the client, and only along the decision's list.
asio::awaitable<Attempt> ChatHandler::dispatch(const boost::json::object& body) {
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
      result = co_await attempt(b, body, last_backend && n >= retries.attempts);
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

// Actual cost from the usage (estimated from sizes when the upstream reported none), the budget
// reconciled, backend rates and savings recorded.
void ChatHandler::settle(const policies::Reservation& reservation) {
  policies::Micros actual = 0;
  if (o_.backend != nullptr && o_.status == 200) {
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
    const auto& u = *o_.usage;
    const std::size_t b = o_.backend->index;
    actual =
        engine_.cost(b, static_cast<std::uint64_t>(u.input), static_cast<std::uint64_t>(u.output),
                     static_cast<std::uint64_t>(u.cached_input));
    o_.cost_usd = policies::to_usd(actual);
    snap_.state().record_backend(b, static_cast<std::uint64_t>(u.input + u.output));
    if (o_.backend->spec->hosting == config::Hosting::self_hosted) {
      if (const auto ref = engine_.reference_cost(static_cast<std::uint64_t>(u.input),
                                                  static_cast<std::uint64_t>(u.output),
                                                  static_cast<std::uint64_t>(u.cached_input))) {
        const TenantRuntime& t = snap_.tenant(o_.tenant);
        t.reference_cost->add(policies::to_usd(*ref));
        if (*ref > actual) {
          t.savings->add(policies::to_usd(*ref - actual));
        }
      }
    }
  }
  snap_.state().reconcile(reservation, actual);
}

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
    last_error_ = err.kind;
    upstream_failed(b, err.kind);
    failure_.reset();
    retryable_ = !upstream::is_timeout(err.kind);
  }
  co_return ex;
}

asio::awaitable<Attempt> ChatHandler::attempt(const BackendRuntime& b,
                                              const boost::json::object& body, bool last) {
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
  if (endpoint_ == Endpoint::chat && b.chat_translated) {
    co_return co_await attempt_translated(b, body, last);
  }
  adapters::ChatRequestPlan plan = adapters::plan_chat_request(body_text_, body, b.spec->model);
  o_.stream = plan.stream;
  if (endpoint_ == Endpoint::chat) {
    plan.body = adapters::adapt_chat_body(*b.engine, std::move(plan.body));
  }

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
  forward_headers(ctx_.request, up);
  up.set(http::field::content_type, "application/json");
  up.set(http::field::accept, plan.stream ? "text/event-stream" : "application/json");
  up.set(http::field::accept_encoding, "identity");
  up.set("x-request-id", ctx_.request_id);
  if (b.azure) {
    up.set("api-key", b.spec->api_key);  // Azure's key header, never Authorization
  } else if (!b.authorization.empty()) {
    up.set(http::field::authorization, b.authorization);
  }
  for (const auto& [k, v] : b.headers) {
    up.set(k, v);
  }
  up.body() = std::move(plan.body);

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
    auto t = Clock::now();
    co_await ex->read_all(ebody, kMaxErrorBody, rerr);
    const auto waited = Clock::now() - t;
    o_.io_wait += waited;
    o_.upstream += waited;
    const bool retryable = status >= 500 || status == 429;
    const std::string_view retry_after = ex->headers()[http::field::retry_after];
    std::string response;
    unsigned client_status = status;
    if (status >= 400 && status < 500) {
      // The upstream's own answer (bad parameter, rate limit, ...) is the truth: pass it on.
      const std::string_view ctype = ex->headers()[http::field::content_type];
      response = response_head(status, ctype.empty() ? "application/json" : ctype, b);
      if (!retry_after.empty()) {
        append_header(response, "Retry-After", retry_after);
      }
      const std::string scrubbed =
          client_error_body(status, scrub_upstream_text(ebody, b.spec->api_key, b.endpoint.host));
      append_header(response, "Content-Length", std::to_string(scrubbed.size()));
      response += "\r\n";
      response += scrubbed;
    } else {
      // A 5xx upstream is a gateway failure for the client: 502, or the 503/504 it reported.
      client_status = status == 503 || status == 504 ? status : 502;
      std::string msg =
          "Upstream backend '" + b.spec->name + "' returned HTTP " + std::to_string(status);
      if (const std::string m = upstream_error_message(ebody); !m.empty()) {
        msg += ": " + scrub_upstream_text(m.substr(0, 512), b.spec->api_key, b.endpoint.host);
      }
      std::string extra = ctx_.common_headers();
      append_header(extra, "x-switchboard-backend", b.spec->name);
      extra += decision_headers_;
      if (!retry_after.empty()) {
        append_header(extra, "Retry-After", retry_after);
      }
      response = client_error_response(ctx_, client_status, msg, "upstream_error", extra);
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
      co_return co_await relay(*ex, b, stream, last);
    }
    adapters::OpenAIStreamTranslator stream(plan.client_wants_usage);
    co_return co_await relay(*ex, b, stream, last);
  }

  std::string rbody;
  upstream::Error rerr;
  auto t = Clock::now();
  const bool complete = co_await ex->read_all(rbody, kMaxResponseBody, rerr);
  const auto waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  if (!complete && rerr) {
    last_error_ = rerr.kind;
    upstream_failed(b, rerr.kind);
    failure_.reset();
    retryable_ = !upstream::is_timeout(rerr.kind);
    co_return Attempt::next;
  }
  o_.usage = endpoint_ == Endpoint::embeddings ? embedding_usage(rbody)
                                               : adapters::usage_from_openai_text(rbody);
  if (b.azure && endpoint_ != Endpoint::embeddings) {
    rbody = adapters::clean_azure_response(std::move(rbody));  // content-filter members
  }
  co_return co_await send_answer(b, std::move(rbody), ctype.empty() ? "application/json" : ctype,
                                 {});
}

// A complete answer (status 200), in the client's dialect.
asio::awaitable<Attempt> ChatHandler::send_answer(const BackendRuntime& b, std::string body,
                                                  std::string_view content_type,
                                                  std::string_view retry_after) {
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
  if (!retry_after.empty()) {
    append_header(head, "Retry-After", retry_after);
  }
  append_header(head, "Content-Length", std::to_string(body.size()));
  head += "\r\n";
  const std::array<asio::const_buffer, 2> bufs = {asio::buffer(head), asio::buffer(body)};
  const auto t = Clock::now();
  const error_code ec = co_await ctx_.downstream.write(bufs);
  o_.io_wait += Clock::now() - t;
  co_return ec ? Attempt::closed : Attempt::answered;
}

// Relays a stream, through the Anthropic writer when the client speaks Messages.
asio::awaitable<Attempt> ChatHandler::relay(upstream::Exchange& ex, const BackendRuntime& b,
                                            adapters::StreamTranslator& stream, bool last) {
  if (!anthropic()) {
    co_return co_await relay_stream(ex, b, stream, last);
  }
  AnthropicOutbound outbound(stream, o_.alias != nullptr ? o_.alias->name : std::string(),
                             static_cast<std::int64_t>(prompt_tokens_));
  outbound_ = &outbound;
  const Attempt result = co_await relay_stream(ex, b, outbound, last);
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
                                                   adapters::StreamTranslator& stream, bool last) {
  (void)last;
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
    last_error_ = upstream::ErrorKind::protocol;
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
    last_error_ = kind;
    upstream_failed(b, kind);
    if (!head_sent) {
      // Nothing reached the client yet: a retry, the next backend, or a 502/504.
      failure_.reset();
      retryable_ = !upstream::is_timeout(kind);
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
    std::string extra = ctx_.common_headers();
    append_header(extra, "x-switchboard-backend", b.spec->name);
    extra += decision_headers_;
    const bool ok = co_await send(
        ctx_, o_,
        client_error_response(ctx_, terr.status, terr.message, "unsupported_parameter", extra));
    co_return ok ? Attempt::answered : Attempt::closed;
  }
  o_.stream = ureq->stream;
  const bool client_wants_usage = [&] {
    const auto* so = body.if_contains("stream_options");
    if (so == nullptr || !so->is_object()) {
      return false;
    }
    const auto* iu = so->get_object().if_contains("include_usage");
    return iu != nullptr && iu->is_bool() && iu->get_bool();
  }();

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
    co_return co_await relay(*ex, b, *stream, last);
  }

  std::string rbody;
  upstream::Error rerr;
  auto t = Clock::now();
  const bool complete =
      co_await ex->read_all(rbody, status == 200 ? kMaxResponseBody : kMaxErrorBody, rerr);
  const auto waited = Clock::now() - t;
  o_.io_wait += waited;
  o_.upstream += waited;
  if (!complete && rerr) {
    last_error_ = rerr.kind;
    upstream_failed(b, rerr.kind);
    failure_.reset();
    retryable_ = !upstream::is_timeout(rerr.kind);
    co_return Attempt::next;
  }
  const std::string_view header_name = translator->response_header();
  const adapters::TranslatedResponse r = translator->response_with_header(
      status, ctype, rbody, alias,
      header_name.empty() ? std::string_view() : std::string_view(ex->headers()[header_name]));
  if (r.status == 200) {
    o_.usage = r.usage;
    co_return co_await send_answer(b, r.body, "application/json", {});
  }
  std::string_view retry_after = ex->headers()[http::field::retry_after];
  if (retry_after.empty() && r.retry_after) {
    retry_after = *r.retry_after;
  }
  const std::string answer =
      client_error_body(r.status, scrub_upstream_text(r.body, b.spec->api_key, b.endpoint.host));
  std::string response = response_head(r.status, "application/json", b);
  if (!retry_after.empty()) {
    append_header(response, "Retry-After", retry_after);
  }
  append_header(response, "Content-Length", std::to_string(answer.size()));
  response += "\r\n";
  response += answer;
  if (status >= 500 || status == 429 || r.retryable) {
    upstream_failed_status(b);
  }
  if (r.retryable) {
    co_return retry_later(r.status, std::move(response), ex->headers(), retry_after);
  }
  o_.status = r.status;
  o_.error = "upstream_status";
  const bool ok = co_await send(ctx_, o_, response);
  co_return ok ? Attempt::answered : Attempt::closed;
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

}  // namespace

asio::awaitable<bool> handle_chat(RequestContext& ctx, std::size_t tenant, Endpoint endpoint,
                                  std::string_view body) {
  ChatHandler handler(ctx, tenant, endpoint, body);
  co_return co_await handler.run();
}

}  // namespace sb::gateway
