// Admission: the request's worst case asked of its tenant's limits (rpm, tpm, budgets), the
// on_exhausted self-hosted-only fallback, and the output cap when the limits afford less than
// the worst case but still something useful.
//
// The worst case: every prompt token by ChatFacts::prompt_tokens_bound (one token per byte),
// priced at the dearest of the backend's input, cached and cache-write prices, plus the output
// bound: the request's max_completion_tokens / max_tokens, else the backend's max_output_tokens.
// Covered on the dearest backend the decision may fall back to, so no fallback can spend more
// than was reserved. The least useful part: the same input and cost.min_output_tokens of output
// (or the request's own bound when smaller). What is granted between the two caps the output:
// the cap is written into the outgoing request (every provider's translator reads the OpenAI
// field) and told to the client in `x-switchboard-max-tokens-capped`.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/json_edit.h"
#include "gateway/net/http_response.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/state/shared_store.h"
#include "policies/saturating.h"

namespace sb::gateway::chat {

namespace asio = boost::asio;

// The tenant's limits, once: from this process's store, or from this replica's leases of the
// shared store, with one call to it when they cannot cover the request. With the shared store
// out of reach, on_unavailable decides: self-hosted-only drops the closed backends and counts
// the rates on this replica alone; reject answers `unavailable` (503 for the caller).
asio::awaitable<policies::AdmissionResult> ChatHandler::admit_once(policies::Ask& ask) {
  policies::AdmissionResult r = snap_.state().admit(o_.tenant, ask);
  SharedStore* shared = snap_.shared_store();
  if (r.outcome == policies::Admission::short_lease && shared != nullptr) {
    r = co_await shared->top_up(o_.tenant, ask);
  }
  if (r.outcome != policies::Admission::unavailable || shared == nullptr ||
      shared->sync().settings().on_unavailable != config::StateUnavailable::self_hosted_only) {
    co_return r;
  }
  const config::Config& c = snap_.config();
  std::erase_if(decision_.backends,
                [&](std::size_t b) { return c.backends[b].hosting == config::Hosting::closed; });
  if (decision_.backends.empty()) {
    co_return r;
  }
  ask.enforce_budget = false;
  co_return shared->admit_local_rates(o_.tenant, ask);
}

// The request's output bound on backend `b`: its own max tokens, else the backend's maximum; never
// past a declared maximum, to which the attempt clamps the request (an agent asking 32,000 of a
// model that writes 8,192 reserves 8,192).
std::uint64_t ChatHandler::output_bound(const adapters::ChatFacts& chat, std::size_t b) const {
  const config::Backend& backend = snap_.config().backends[b];
  if (!chat.max_tokens) {
    return backend.max_output_tokens;
  }
  return backend.max_output_tokens_declared ? std::min(*chat.max_tokens, backend.max_output_tokens)
                                            : *chat.max_tokens;
}

// The ask over the decision's backends as they stand: every answer asked for (`n`) may run to
// the output bound, and is billed.
policies::Ask ChatHandler::worst_case(const adapters::ChatFacts& chat) const {
  const config::Config& c = snap_.config();
  const std::uint64_t input = chat.prompt_tokens_bound;
  const std::uint64_t min_output = c.cost.min_output_tokens;
  policies::Ask ask;
  bool any_closed = false;
  std::uint64_t output = 0;
  std::uint64_t least = 0;
  for (const std::size_t b : decision_.backends) {
    const std::uint64_t bound = output_bound(chat, b);
    const std::uint64_t out = policies::saturating_mul(bound, chat.choices);
    const std::uint64_t out_min =
        policies::saturating_mul(std::min(bound, min_output), chat.choices);
    output = std::max(output, out);
    least = std::max(least, out_min);
    ask.cost = std::max(ask.cost, engine_.worst_case_cost(b, input, out));
    ask.min_cost = std::max(ask.min_cost, engine_.worst_case_cost(b, input, out_min));
    any_closed = any_closed || c.backends[b].hosting == config::Hosting::closed;
  }
  ask.tokens = policies::saturating_add(input, output);
  ask.min_tokens = policies::saturating_add(input, least);
  ask.enforce_budget =
      c.tenants[o_.tenant].budget.on_exhausted == config::BudgetAction::reject || any_closed;
  return ask;
}

asio::awaitable<policies::AdmissionResult> ChatHandler::admit(const adapters::ChatFacts& chat) {
  const config::Config& c = snap_.config();
  const config::Tenant& tenant = c.tenants[o_.tenant];
  policies::Ask ask = worst_case(chat);
  policies::AdmissionResult admission;
  for (;;) {
    admission = co_await admit_once(ask);
    if (admission.outcome != policies::Admission::budget_exhausted ||
        tenant.budget.on_exhausted != config::BudgetAction::self_hosted_only ||
        !ask.enforce_budget) {
      break;
    }
    // Out of budget in self-hosted-only mode: the paid backends drop out, the rest keep serving
    // and count against the rates only.
    std::erase_if(decision_.backends,
                  [&](std::size_t b) { return c.backends[b].hosting == config::Hosting::closed; });
    if (decision_.backends.empty()) {
      break;
    }
    ask = worst_case(chat);
    ask.enforce_budget = false;
  }
  if (admission.outcome == policies::Admission::ok && endpoint_ != Endpoint::embeddings) {
    if (const std::optional<std::uint64_t> cap = output_cap(chat, admission.reservation, ask)) {
      cap_output(*cap);
    }
  }
  co_return admission;
}

bool ChatHandler::output_reserved() const {
  return reservation_ &&
         (reservation_->day >= 0 || reservation_->month >= 0 ||
          (reservation_->second >= 0 && snap_.config().tenants[o_.tenant].rate.tpm > 0));
}

// What the grant affords: output tokens within the budget reserved on every backend of the
// decision, and within the tpm tokens reserved; nullopt when that covers every backend's bound.
// Never above a backend's own bound: a model refuses a max_tokens beyond its maximum.
std::optional<std::uint64_t> ChatHandler::output_cap(const adapters::ChatFacts& chat,
                                                     const policies::Reservation& r,
                                                     const policies::Ask& ask) const {
  const std::uint64_t input = chat.prompt_tokens_bound;
  std::uint64_t cap = std::numeric_limits<std::uint64_t>::max();  // of all the answers together
  if ((r.day >= 0 || r.month >= 0) && r.amount < ask.cost) {
    for (const std::size_t b : decision_.backends) {
      cap = std::min(cap, engine_.affordable_output(b, input, r.amount));
    }
  }
  if (r.second >= 0 && r.tokens < ask.tokens) {
    cap = std::min(cap, r.tokens > input ? r.tokens - input : 0);
  }
  if (cap != std::numeric_limits<std::uint64_t>::max()) {
    cap /= chat.choices;  // each answer's share (max_tokens limits each)
  }
  std::uint64_t largest = 0;
  std::uint64_t smallest = std::numeric_limits<std::uint64_t>::max();
  for (const std::size_t b : decision_.backends) {
    largest = std::max(largest, output_bound(chat, b));
    smallest = std::min(smallest, output_bound(chat, b));
  }
  if (cap < largest) {
    return std::min(cap, smallest);
  }
  return std::nullopt;
}

// Writes `cap` as the request's output limit (every member the request used, else OpenAI's
// max_completion_tokens for chat and max_tokens for completions), to be parsed again by the
// attempts, and tells the client.
void ChatHandler::cap_output(std::uint64_t cap) {
  // The members the request uses (not null): from the typed reading, else the DOM.
  std::array<bool, 2> used{false, false};
  if (typed_) {
    used = {typed_->max_completion_tokens.has_value(), typed_->max_tokens.has_value()};
  } else {
    error_code ec;
    if (const boost::json::object* body = parsed_body(ec)) {
      for (std::size_t k = 0; k < 2; ++k) {
        const auto* v = body->if_contains(k == 0 ? "max_completion_tokens" : "max_tokens");
        used[k] = v != nullptr && !v->is_null();
      }
    }
  }
  capped_body_.assign(body_text_);
  const std::string value = std::to_string(cap);
  bool set = false;
  for (std::size_t k = 0; k < 2; ++k) {
    if (used[k]) {
      set = adapters::set_member(capped_body_, k == 0 ? "max_completion_tokens" : "max_tokens",
                                 value) ||
            set;
    }
  }
  if (!set) {
    adapters::set_member(
        capped_body_, endpoint_ == Endpoint::chat ? "max_completion_tokens" : "max_tokens", value);
  }
  body_text_ = capped_body_;
  body_edited_ = true;
  capped_ = cap;
}

// A request kept on self-hosted backends by a spill rule (it may not spill) waits while the
// first of them is at its max_in_flight, instead of being refused at once: bounded per process
// (the queue's max, counted per backend) and in time (its timeout). It polls the in-flight
// count on a steady timer; nothing is locked and no slot is reserved, so a request that finds
// the backend full again when it is dispatched waits again (ChatHandler::run), within the
// deadline of its first wait.
asio::awaitable<std::optional<ClientError>> ChatHandler::wait_for_capacity() {
  if (decision_.wait == nullptr || decision_.backends.empty()) {
    co_return std::nullopt;
  }
  const BackendRuntime& b = snap_.backend(decision_.backends.front());
  const auto max = static_cast<std::int64_t>(b.spec->max_in_flight);
  policies::StateStore& state = snap_.state();
  if (max == 0 || b.queue == nullptr || state.backend_in_flight(b.index) < max) {
    co_return std::nullopt;
  }
  constexpr std::string_view kRetry = "Retry-After: 1\r\n";
  const config::SpillQueue& q = *decision_.wait;
  struct Leave {
    std::atomic<std::int64_t>& n;
    ~Leave() { n.fetch_sub(1, std::memory_order_relaxed); }
  } leave{b.queue->waiting};
  if (b.queue->waiting.fetch_add(1, std::memory_order_relaxed) >=
      static_cast<std::int64_t>(q.max)) {
    b.queue_timeouts->inc();
    co_return ClientError{{ErrorKind::unavailable},
                          "Self-hosted backend '" + b.spec->name +
                              "' is at capacity and its queue is full (" + std::to_string(q.max) +
                              " waiting); retry later.",
                          "queue_full",
                          kRetry};
  }
  const auto started = Clock::now();
  if (wait_deadline_ == Clock::time_point{}) {
    wait_deadline_ = started + q.timeout;  // one deadline however often the request waits
  }
  const auto deadline = wait_deadline_;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  // A client that leaves while it waits leaves the queue (abort_ fired: the caller ends there).
  const DownstreamWatch watch(ctx_.downstream, *this);
  while (state.backend_in_flight(b.index) >= max && !abort_.fired()) {
    if (Clock::now() >= deadline) {
      b.queue_timeouts->inc();
      b.queue_wait->observe(std::chrono::duration<double>(Clock::now() - started).count());
      co_return ClientError{{ErrorKind::unavailable},
                            "Self-hosted backend '" + b.spec->name +
                                "' stayed at capacity for the queue's " +
                                std::to_string(q.timeout.count()) + " ms timeout; retry later.",
                            "queue_timeout",
                            kRetry};
    }
    timer.expires_after(
        std::min<Clock::duration>(std::chrono::milliseconds(10), deadline - Clock::now()));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  b.queue_wait->observe(std::chrono::duration<double>(Clock::now() - started).count());
  co_return std::nullopt;
}

}  // namespace sb::gateway::chat
