#pragma once
// What one try on one backend tells dispatch, as a value: the attempt (chat_attempt.cc) returns
// an AttemptResult, dispatch (chat.cc) folds it into its DispatchState and decides the next step
// with next_step(). Pure: no sockets, no clocks, no config (unit-tested in pipeline_test.cc).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/upstream/client.h"
#include "gateway/net/handler.h"
#include "gateway/pipeline/client_dialect.h"
#include "policies/config.h"

namespace sb::gateway::chat {

/// How a try ended: the client has its answer, the next try may take over (nothing reached the
/// client), or the client is gone.
enum class Attempt { answered, next, closed };

/// A retryable upstream answer (complete response bytes, in the client's dialect): the client's
/// answer when no later try succeeds.
struct ReplayableAnswer {
  unsigned status = 0;
  std::string response;
};

struct AttemptResult {
  Attempt outcome = Attempt::next;
  /// Why a try that did not answer failed: the transport's error kind, or `protocol` (an answer,
  /// stream or request the gateway could not use). `none` when the backend was passed over before
  /// anything was sent (busy, circuit open): an earlier try's error then still stands.
  upstream::ErrorKind error = upstream::ErrorKind::none;
  /// The backend's upstream failed (transport, stream, 5xx or 429): reported to its circuit. A
  /// failure without an `answer` also forgets the answer of an earlier try.
  bool upstream_failed = false;
  bool retryable = false;     ///< the same backend may be tried again
  bool circuit_open = false;  ///< the backend was passed over because its circuit is open
  bool at_capacity = false;   ///< the backend was passed over at its max_in_flight
  std::optional<ReplayableAnswer> answer;
  std::optional<Clock::duration> retry_after;  ///< the wait the upstream asked for

  static AttemptResult ended(Attempt a) {
    AttemptResult r;
    r.outcome = a;
    return r;
  }
  /// Passed over before sending (busy since the decision, or its circuit open).
  static AttemptResult passed_over(bool circuit_open = false) {
    AttemptResult r;
    r.circuit_open = circuit_open;
    return r;
  }
  /// Passed over before sending: at its max_in_flight since the decision.
  static AttemptResult full() {
    AttemptResult r;
    r.at_capacity = true;
    return r;
  }
  /// The request cannot go to this backend (a format it does not speak, a request its translator
  /// cannot express): another backend may take it.
  static AttemptResult unsendable() {
    AttemptResult r;
    r.error = upstream::ErrorKind::protocol;
    return r;
  }
  /// The exchange failed at the transport (or its stream could not be read): retryable unless it
  /// timed out.
  static AttemptResult transport_failure(upstream::ErrorKind kind) {
    AttemptResult r;
    r.error = kind;
    r.upstream_failed = true;
    r.retryable = !upstream::is_timeout(kind);
    return r;
  }
  /// A retryable upstream answer, kept for the client should no later try succeed.
  static AttemptResult retry_later(unsigned status, std::string response,
                                   std::optional<Clock::duration> wait) {
    AttemptResult r;
    r.error = upstream::ErrorKind::protocol;
    r.upstream_failed = true;
    r.retryable = true;
    r.answer = ReplayableAnswer{status, std::move(response)};
    r.retry_after = wait;
    return r;
  }
};

/// What dispatch learnt over its tries: what the client hears when none answers.
struct DispatchState {
  upstream::ErrorKind last_error = upstream::ErrorKind::none;
  bool circuit_open = false;  ///< some backend was passed over for its open circuit
  bool at_capacity = false;   ///< some backend was passed over at its max_in_flight
  bool sent = false;          ///< some try reached an upstream (a request that cannot be
                              ///< expressed for a backend was not sent)
  std::optional<ReplayableAnswer> answer;

  /// Nothing was sent: every backend was full or unavailable, and one was full (a request that
  /// may wait for capacity waits again).
  bool only_full() const { return at_capacity && !sent; }

  void absorb(AttemptResult& r) {
    sent = sent || r.upstream_failed || r.answer.has_value() || r.outcome != Attempt::next;
    if (r.error != upstream::ErrorKind::none) {
      last_error = r.error;
    }
    if (r.answer) {
      answer = std::move(r.answer);
    } else if (r.upstream_failed) {
      answer.reset();
    }
    circuit_open = circuit_open || r.circuit_open;
    at_capacity = at_capacity || r.at_capacity;
  }
};

/// Why the client gets the gateway's own error when no try answered and no upstream answer can be
/// replayed: every backend passed over (503), or the last transport failure (502, 504).
inline ErrorCause failure_cause(const DispatchState& state) {
  if (state.last_error == upstream::ErrorKind::none) {
    return ErrorCause{ErrorKind::unavailable};
  }
  return ErrorCause{ErrorKind::upstream_transport, 0, state.last_error};
}

/// After try `n` (from 1) of at most `max_tries` on one backend: stop (answered or the client is
/// gone), try the same backend again, or move on to the next one.
enum class Step { stop, retry, next_backend };
inline Step next_step(const AttemptResult& r, unsigned n, unsigned max_tries) {
  if (r.outcome != Attempt::next) {
    return Step::stop;
  }
  return r.retryable && n < max_tries ? Step::retry : Step::next_backend;
}

/// The wait an upstream asked for, from its `retry-after-ms` (milliseconds, preferred) or
/// `Retry-After` (seconds) value; nullopt when absent, malformed, negative or absurd.
std::optional<Clock::duration> asked_wait(std::string_view retry_after_ms,
                                          std::string_view retry_after);

/// The wait before try `n + 1` on the same backend: what the upstream asked for (nullopt when
/// more than `max_retry_after`: move on), else full-jitter exponential backoff.
std::optional<Clock::duration> retry_delay(const config::RetrySettings& r,
                                           std::optional<Clock::duration> asked, unsigned n);

}  // namespace sb::gateway::chat
