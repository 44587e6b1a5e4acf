#pragma once
// A per-backend circuit breaker (the classic closed / open / half-open machine, close to Envoy's
// outlier detection with consecutive-5xx and failure-percentage ejection).
//
// Pure and lock-free: one `Circuit` per backend is shared by every worker thread, all state lives
// in atomics, and time is always passed in (no clock inside), so tests drive it with invented
// time points.
//
// What counts as a failure is the caller's business. The intended mapping on the request path:
//   failure(): connect error or refused connection, TLS handshake failure, connect / first-token /
//              total timeout, connection reset or truncated response before the end, any 5xx
//              from the backend, 429 that signals overload (vLLM/TGI queue full, provider
//              "overloaded"); a 429 caused by this gateway's own tenant rate limit is not sent
//              upstream and is not reported at all.
//   success(): any complete answer the backend produced on purpose, including 4xx other than
//              429 (a bad request is the client's fault, not a sign of an unhealthy backend).
//   neither:   requests the client cancelled before the backend answered.
// Every call to allow() that returned true must be followed by exactly one success() or failure()
// (time the request out rather than losing it), otherwise a half-open probe stays outstanding
// until `probe_timeout` passes. Report with the time of the report, not the request's start.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace sb::gateway {

/// Thresholds of one backend's breaker. Plain values; copy freely.
struct CircuitSettings {
  /// Open after this many failures in a row while closed. 0 disables this rule.
  unsigned consecutive_failures = 5;
  /// Open when failures / requests within `window` reaches this fraction (and at least
  /// `min_requests` were seen). A value outside (0, 1] disables this rule.
  double error_rate = 0.5;
  /// Fewest requests in the window before the error rate is trusted (0 acts as 1).
  unsigned min_requests = 20;
  /// Length of the sliding error-rate window; kept as Circuit::kBuckets buckets of
  /// window / kBuckets each (at least 1 ms).
  std::chrono::milliseconds window{10'000};
  /// How long the first opening lasts before one probe is let through.
  std::chrono::milliseconds open_for{5'000};
  /// Each re-opening after a failed probe doubles the open time, up to this cap (never below
  /// `open_for`). A successful probe closes the circuit and resets the open time to `open_for`.
  std::chrono::milliseconds max_open_for{60'000};
  /// A probe that has reported neither success nor failure after this long is presumed lost and
  /// another caller may probe. Set it at least to the backend's total request timeout.
  std::chrono::milliseconds probe_timeout{300'000};

  bool operator==(const CircuitSettings&) const = default;
};

/// One backend's breaker.
///
/// Thread-safety: every member function may be called concurrently from any thread; all are
/// lock-free (atomics only) and allocation-free. Times passed by different threads may be
/// slightly out of order; the breaker tolerates that.
///
/// State changes are checked when a failure is reported (closed -> open), when allow() is called
/// after the open time (open -> half-open, exactly one caller becomes the probe), and when the
/// probe reports (half-open -> closed on success; -> open with doubled time on failure). Reports
/// that arrive while open (requests dispatched before the circuit opened) are ignored; while
/// half-open, any report is taken as the probe's.
class Circuit {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  enum class State : std::uint8_t {
    closed,     ///< requests flow; failures are counted
    open,       ///< requests are refused until the open time has passed
    half_open,  ///< the open time has passed: one probe is (or may be) in flight
  };

  /// Success and failure counts currently inside the sliding window.
  struct WindowCounts {
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
  };

  /// Number of time buckets in the error-rate window ring.
  static constexpr unsigned kBuckets = 10;

  explicit Circuit(const CircuitSettings& settings);
  Circuit(const Circuit&) = delete;
  Circuit& operator=(const Circuit&) = delete;

  /// May a request be sent to this backend at `now`? Closed: always. Open: no until the open
  /// time has passed; then exactly one caller gets true (the half-open probe) and every other
  /// caller false until that probe reports (or `probe_timeout` passes).
  bool allow(TimePoint now);

  /// Reports a request that the backend served (see the mapping at the top of this file).
  /// Closed: resets the consecutive-failure count and counts a success in the window.
  /// Half-open: closes the circuit and clears all counts.
  void success(TimePoint now);

  /// Reports a failed request. Closed: counts it and opens the circuit when a threshold is
  /// reached. Half-open: re-opens the circuit for twice the previous open time (capped).
  void failure(TimePoint now);

  /// The state at `now`; `open` whose time has passed reads as `half_open`. Read-only.
  State state(TimePoint now) const;

  /// The window's counts at `now` (closed-state accounting; for diagnostics and explain).
  WindowCounts window_counts(TimePoint now) const;

  const CircuitSettings& settings() const { return settings_; }

  /// Active health checks (gateway/control/health.h): while the backend's health probe fails,
  /// allow() refuses every request, whatever the breaker's state. Healthy until told otherwise.
  void set_healthy(bool healthy) { healthy_.store(healthy, std::memory_order_relaxed); }
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

 private:
  template <class OnClosed, class Settle>
  void report(OnClosed on_closed, Settle settle);
  bool trip_if_over(std::uint64_t word, unsigned consecutive, TimePoint now);
  void record(TimePoint now, bool failed);
  void clear_counts();
  std::int64_t bucket_index(TimePoint now) const;
  std::chrono::nanoseconds open_time(unsigned backoff) const;

  CircuitSettings settings_;
  std::chrono::nanoseconds bucket_width_;
  /// Phase, backoff exponent, generation and a time in one word, so that every transition is a
  /// single compare-and-swap (layout in circuit.cc). Read by allow() on every request, so it sits
  /// on its own cache line, away from the counters that reports write.
  alignas(64) std::atomic<std::uint64_t> state_word_{0};
  std::atomic<bool> healthy_{true};  // beside state_word_: allow() reads both
  alignas(64) std::atomic<unsigned> consecutive_{0};
  /// Ring of buckets, each a packed (bucket stamp, successes, failures) word.
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
};

/// The value of the `switchboard_backend_up` gauge for a state: 1 closed, 0.5 half-open (one
/// probe allowed; traffic is not yet flowing), 0 open.
constexpr double backend_up_value(Circuit::State s) {
  switch (s) {
    case Circuit::State::closed:
      return 1.0;
    case Circuit::State::half_open:
      return 0.5;
    case Circuit::State::open:
      return 0.0;
  }
  return 0.0;
}

/// Stable lowercase name of a state ("closed", "open", "half_open") for logs and explain output.
constexpr const char* to_string(Circuit::State s) {
  switch (s) {
    case Circuit::State::closed:
      return "closed";
    case Circuit::State::half_open:
      return "half_open";
    case Circuit::State::open:
      return "open";
  }
  return "unknown";
}

}  // namespace sb::gateway
