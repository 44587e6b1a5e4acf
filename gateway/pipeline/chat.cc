// POST /v1/chat/completions (and completions, embeddings): parse once, classify and decide
// (policies and the clearance invariant), admit (rates and budget reservation), dispatch along
// the decision's backends, relay, settle.
//
// Before the first byte has gone to the client, a failed attempt falls through to the next
// backend of the decision — only those, each checked again against the clearance invariant.
// After it, a failure ends the stream with an error event, never a clean [DONE].

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_facts.h"
#include "gateway/net/http_response.h"
#include "gateway/observability/log.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/pipeline/tracing.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway::chat {
namespace {

constexpr std::string_view kRetrySoon = "Retry-After: 1\r\n";

}  // namespace

const boost::json::object* ChatHandler::parsed_body(error_code& ec) {
  return dom_.get(body_text_, ec);
}

void ChatHandler::forget_readings_if_edited() {
  if (body_edited_) {
    dom_.reset();  // the attempts parse the capped body
    typed_.reset();
    typed_read_ = false;
  }
}

const adapters::ChatRequest* ChatHandler::typed_body() {
  if (!typed_ && typed_read_) {
    // It parsed once already: only memory can make this fail.
    if (adapters::Result<adapters::ChatRequest, adapters::ParseError> r =
            adapters::parse_chat_request(body_text_)) {
      typed_.emplace(std::move(r.value()));
    }
  }
  return typed_ ? &*typed_ : nullptr;
}

asio::awaitable<bool> ChatHandler::run() {
  // One refusal, answered from one place: a coroutine's frame holds every local and temporary of
  // its body, and this one must stay within what Asio recycles (1,020 bytes).
  const boost::json::object* body = nullptr;
  std::string_view model;
  FactsStorage storage;
  std::optional<ClientError> e = parse(body, model);
  if (!e) {
    e = [&] {  // the header lines on the stack: the facts keep views into the request only
      boost::container::small_vector<HeaderLine, 16> lines;  // the usual few: no allocation
      header_lines(ctx_.request, lines);
      storage.query = query_of(ctx_.request.target());
      decide(body, model, lines, storage);
      return refusal(model);
    }();
  }
  if (!e) {
    hash_prefix(storage.chat.texts);
    e = co_await wait_for_capacity();
  }
  if (!e && abort_.fired()) {
    client_left();  // it left the queue: nothing was sent, nothing reserved
    co_return false;
  }
  if (!e) {
    e = admission_refusal(co_await admit(storage.chat));
  }
  if (e) {
    co_return co_await refuse(*e);
  }
  // The facts point into the DOM, which attempts release; nothing reads them from here on but
  // the forwardable headers, which are sent exactly as they were scanned.
  forwardable_ = std::move(storage.forwardable);
  storage = FactsStorage{};
  forget_readings_if_edited();
  DispatchState state;
  Attempt result = co_await dispatch(state);
  // A request that may wait for capacity and found every slot taken again when it was sent (a
  // waiter on another thread took the slot it saw free) waits again, within the same deadline,
  // instead of being refused.
  while (result == Attempt::next && decision_.wait != nullptr && state.only_full()) {
    if ((e = co_await wait_for_capacity()) || abort_.fired()) {
      o_.usage.reset();
      settle();  // nothing was sent: the reservation given back whole
      if (!e) {
        client_left();
        co_return false;
      }
      co_return co_await refuse(*e);
    }
    state = DispatchState{};
    result = co_await dispatch(state);
  }
  if (result != Attempt::next) {
    settle();
    co_return result == Attempt::answered && !ctx_.close;
  }
  co_return co_await answer_failure(state);
}

// The body: a JSON object with a model, and the one member each endpoint cannot do without
// (OpenAI's messages for the same mistakes).
std::optional<ClientError> ChatHandler::parse(const boost::json::object*& body,
                                              std::string_view& model) {
  body = nullptr;
  if (endpoint_ == Endpoint::chat) {
    // One pass, no DOM: the typed reading (adapters/canonical.h) serves the decision and the
    // pass-through. What it refuses goes the DOM's way below, which answers the same refusals in
    // the same words and passes on what the typed reading is stricter about (a known member of
    // an unexpected type), as the gateway always has.
    // A body whose typed reading would pass its memory budget (typed_heap_budget: hostile shapes
    // such as thousands of empty objects) goes the DOM's way too.
    if (adapters::Result<adapters::ChatRequest, adapters::ParseError> r =
            adapters::parse_chat_request(body_text_)) {
      typed_.emplace(std::move(r.value()));
      typed_read_ = true;
      model = typed_->model;
      o_.alias = snap_.find_alias(model);
      return std::nullopt;
    }
  }
  const ErrorCause bad{ErrorKind::invalid_request};
  error_code jec;
  body = parsed_body(jec);
  if (body == nullptr) {
    return ClientError{
        bad,
        "We could not parse the JSON body of your request. The body must be a JSON object "
        "(see https://platform.openai.com/docs/api-reference/chat/create)."};
  }
  const auto* m = body->if_contains("model");
  if (m == nullptr || !m->is_string() || m->as_string().empty()) {
    return ClientError{bad, "you must provide a model parameter"};
  }
  const char* required = endpoint_ == Endpoint::chat         ? "messages"
                         : endpoint_ == Endpoint::embeddings ? "input"
                                                             : nullptr;
  if (required != nullptr) {
    const auto* member = body->if_contains(required);
    if (member == nullptr) {
      return ClientError{bad, std::string("Missing required parameter: '") + required + "'.",
                         "missing_required_parameter"};
    }
    if (endpoint_ == Endpoint::chat && !member->is_array()) {
      return ClientError{bad, "Invalid type for 'messages': expected an array.", "invalid_type"};
    }
  }
  if (const auto* stream = body->if_contains("stream");
      stream != nullptr && !stream->is_bool() && !stream->is_null()) {
    return ClientError{bad, "Invalid type for 'stream': expected a boolean.", "invalid_type"};
  }
  model = std::string_view(m->as_string().data(), m->as_string().size());
  o_.alias = snap_.find_alias(model);
  return std::nullopt;
}

// The decision: what the request carries, who sent it, and the live state; counted, audited,
// and told to the client in the x-switchboard-* headers.
void ChatHandler::decide(const boost::json::object* body, std::string_view model,
                         std::span<const HeaderLine> lines, FactsStorage& storage) {
  const config::Config& c = snap_.config();
  bool repeated = false;  // a key named twice in an object: the typed walk or the DOM says
  if (typed_) {
    adapters::collect_chat_facts(*typed_, storage.chat, &repeated);
  } else {
    repeated = dom_.repeated();
  }
  // What leaves is what was scanned: a key named twice sends every value of it.
  if (repeated) {
    scan_repeated_keys(body_text_, storage);
  }
  const policies::RequestFacts facts =
      typed_ ? collected_request_facts(model, o_.tenant, c, lines, storage, inbound_.original,
                                       inbound_.floor_level)
             : request_facts(endpoint_, *body, model, o_.tenant, c, lines, storage,
                             inbound_.original, inbound_.floor_level);
  prompt_tokens_ = storage.chat.estimated_prompt_tokens;
  // The engine's view of the live state, every value it reads written down for the audit line.
  policies::StateRecorder state(snap_.state());
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
  write_audit(facts, state.reads());
  tracing::decision(o_, engine_, decision_);
  decided_ = true;
}

void ChatHandler::append_decision_headers(std::string& h) const {
  if (!decided_) {
    return;
  }
  append_header(h, "x-switchboard-rule",
                decision_.rule.empty() ? std::string_view("none") : decision_.rule);
  append_header(h, "x-switchboard-sensitivity", o_.sensitivity);
  append_header(h, "x-switchboard-tier", snap_.config().tiers.levels.names[decision_.tier]);
  if (capped_) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, *capped_).ptr;
    append_header(h, "x-switchboard-max-tokens-capped",
                  std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
}

// What a decision that does not route answers.
std::optional<ClientError> ChatHandler::refusal(std::string_view model) const {
  switch (decision_.outcome) {
    case policies::Outcome::route:
      return std::nullopt;
    case policies::Outcome::unknown_model: {
      std::string msg = "The model `";
      msg += model.substr(0, 256);
      msg += "` does not exist or you do not have access to it.";
      return ClientError{{ErrorKind::not_found}, std::move(msg), "model_not_found"};
    }
    case policies::Outcome::bad_request:
      return ClientError{{ErrorKind::invalid_request}, decision_.message, "invalid_header"};
    case policies::Outcome::forbidden:
      return ClientError{{ErrorKind::forbidden}, decision_.message, "sensitive_data_not_cleared"};
    case policies::Outcome::unavailable:
      return ClientError{
          {ErrorKind::unavailable}, decision_.message, "no_backend_available", kRetrySoon};
    case policies::Outcome::shed:
      return ClientError{{ErrorKind::rate_limited}, decision_.message, "load_shed", kRetrySoon};
  }
  return std::nullopt;
}

// Admission (see chat_admission.cc): the reservation kept when granted, else the refusal.
std::optional<ClientError> ChatHandler::admission_refusal(
    const policies::AdmissionResult& admission) {
  if (admission.outcome == policies::Admission::ok) {
    reservation_ = admission.reservation;
    return std::nullopt;
  }
  if (admission.outcome == policies::Admission::unavailable) {
    return ClientError{
        {ErrorKind::unavailable},
        "Budgets and rate limits are shared through a store this gateway cannot reach, and this "
        "request cannot be served without it; retry later.",
        "state_store_unavailable",
        kRetrySoon};
  }
  const std::size_t kind = admission.outcome == policies::Admission::rate_limited_requests ? 0
                           : admission.outcome == policies::Admission::rate_limited_tokens ? 1
                                                                                           : 2;
  snap_.tenant(o_.tenant).rate_limited[kind]->inc();
  // Kept in the handler: the refusal points at it.
  retry_header_ =
      "Retry-After: " + std::to_string(std::max<long long>(1, admission.retry_after.count())) +
      "\r\n";
  const char* what = kind == 0   ? "Rate limit reached for requests per minute"
                     : kind == 1 ? "Rate limit reached for tokens per minute"
                                 : "Budget exhausted";
  return ClientError{
      {ErrorKind::rate_limited},
      std::string(what) + " for tenant '" + snap_.config().tenants[o_.tenant].name + "'.",
      kind == 2 ? "budget_exhausted" : "rate_limit_exceeded",
      retry_header_};
}

// Tries the decision's backends in order, each up to `retries.attempts` times for a retryable
// failure (with backoff, or the wait the upstream asked for), until one answers: only before the
// first byte reaches the client, and only along the decision's list.
asio::awaitable<Attempt> ChatHandler::dispatch(DispatchState& state) {
  const config::RetrySettings& retries = snap_.config().retries;
  Attempt result = Attempt::next;
  for (std::size_t i = 0; i < decision_.backends.size() && result == Attempt::next; ++i) {
    const BackendRuntime* b = eligible(decision_.backends[i]);
    if (b == nullptr) {
      continue;
    }
    const bool last_backend = i + 1 == decision_.backends.size();
    for (unsigned n = 1;; ++n) {
      AttemptResult r = co_await attempt(*b, last_backend && n >= retries.attempts);
      result = r.outcome;
      const Step step = next_step(r, n, retries.attempts);
      // The wait before the next try: none when the upstream wants a longer pause than a request
      // should wait (move on).
      const std::optional<Clock::duration> wait =
          step == Step::retry ? retry_delay(retries, r.retry_after, n) : std::nullopt;
      state.absorb(r);
      if (!wait) {
        break;
      }
      b->retries->inc();
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(*wait);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  co_return result;
}

// Backend `index` of the decision, checked once more against the clearance invariant at the
// point of sending (nothing uncleared ever leaves): nullptr when it must be skipped.
const BackendRuntime* ChatHandler::eligible(std::size_t index) {
  const BackendRuntime& b = snap_.backend(index);
  if (!engine_.cleared(index, decision_.sensitivity, o_.tenant)) {
    log::error("clearance invariant violated by a decision; backend skipped",
               {{"request_id", ctx_.request_id}, {"backend", b.spec->name}});
    return nullptr;
  }
  if (o_.attempts > 0 && o_.backend != nullptr) {
    // Nothing has reached the client: the next eligible backend takes over.
    ctx_.worker.stats.fallback(snap_, *o_.backend, b).inc();
  }
  return &b;
}

// Every try failed: the last upstream's own answer (scrubbed, with its Retry-After) tells the
// client most, else the gateway's own error.
asio::awaitable<bool> ChatHandler::answer_failure(DispatchState& state) {
  o_.usage.reset();
  settle();
  if (state.answer) {
    o_.status = state.answer->status;
    o_.error = "upstream_status";
    const bool ok = co_await send(ctx_, o_, state.answer->response);
    co_return ok && !ctx_.close;
  }
  o_.error = upstream::to_string(state.last_error);
  co_return co_await refuse(failure_error(state));
}

// The gateway's answer when no try answered and no upstream answer can be replayed.
ClientError ChatHandler::failure_error(const DispatchState& state) const {
  const ErrorCause cause = failure_cause(state);
  if (cause.kind == ErrorKind::unavailable) {
    return state.circuit_open
               ? ClientError{cause,
                             "Every backend for this request is failing and temporarily taken "
                             "out of rotation; retry later.",
                             "backend_unavailable", kRetrySoon}
               : ClientError{cause, "Every backend for this request is at capacity; retry later.",
                             "backend_at_capacity", kRetrySoon};
  }
  const bool timeout = http_status(cause) == 504;
  std::string msg = "Upstream backend '";
  msg += o_.backend != nullptr ? o_.backend->spec->name : std::string("?");
  if (state.last_error == upstream::ErrorKind::too_large) {
    msg += "' failed: upstream answer too large (too_large).";
  } else {
    msg += timeout ? "' timed out (" : "' failed (";
    msg += upstream::to_string(state.last_error);
    msg += ").";
  }
  return ClientError{cause, std::move(msg), timeout ? "upstream_timeout" : "upstream_error"};
}

asio::awaitable<bool> ChatHandler::refuse(const ClientError& e) {
  std::string headers;
  append_decision_headers(headers);
  headers += e.extra_headers;
  co_return co_await send_error(ctx_, o_, http_status(e.cause), e.message, e.code, headers);
}

}  // namespace sb::gateway::chat

namespace sb::gateway {

boost::asio::awaitable<bool> handle_chat(RequestContext& ctx, RequestRecord& record,
                                         Endpoint endpoint, std::string_view body,
                                         const ChatInbound& inbound) {
  chat::ChatHandler handler(ctx, record, endpoint, body, inbound);
  co_return co_await handler.run();
}

}  // namespace sb::gateway
