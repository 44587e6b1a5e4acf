#pragma once
// Process-wide limits the connection layer enforces, owned by the composition root and shared by
// every worker: open connections per plane, and request-body bytes buffered by requests in
// flight. Lock-free (relaxed atomics); any thread.

#include <array>
#include <atomic>
#include <cstdint>

#include "gateway/observability/metrics.h"

namespace sb::gateway {

/// Connections open on one plane, against its limit. Taken by the accept loop, released when
/// the session ends.
struct ConnectionLimit {
  std::atomic<std::int64_t> open{0};
  std::int64_t max = 0;
  metrics::Counter* rejected = nullptr;

  void release() noexcept { open.fetch_sub(1, std::memory_order_relaxed); }
};

/// Requests the connection layer ends before any handler sees them, by reason: a header the
/// framing rules refuse (400: smuggling framings, bad syntax, no Host), one over
/// server.max_header_bytes (431), an HTTP version other than 1.0 and 1.1 (505), and a header
/// begun but not finished within server.header_timeout (closed without an answer: slowloris).
/// They have no request id and no access line; these counters are how an operator sees them.
struct ProtocolErrors {
  enum Reason { malformed, header_too_large, version, header_timeout, kReasons };
  static constexpr std::array<const char*, kReasons> kNames{"malformed", "header_too_large",
                                                            "version", "header_timeout"};
  std::array<metrics::Counter*, kReasons> counters{};

  void count(Reason r) noexcept {
    if (counters[r] != nullptr) {
      counters[r]->inc();
    }
  }
};

/// The process-wide request-body budget (server.max_buffered_body_bytes).
class BodyBytesBudget {
 public:
  /// Takes `n` bytes, `cap` being the budget of the request's snapshot. False, and nothing taken,
  /// when it would go past the cap.
  bool acquire(std::uint64_t n, std::uint64_t cap) noexcept {
    const std::uint64_t before = held_.fetch_add(n, std::memory_order_relaxed);
    if (before + n > cap) {
      held_.fetch_sub(n, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void release(std::uint64_t n) noexcept { held_.fetch_sub(n, std::memory_order_relaxed); }
  std::uint64_t held() const noexcept { return held_.load(std::memory_order_relaxed); }

  /// Counts a request refused because the budget was spent.
  void count_rejection() noexcept { rejected->inc(); }
  metrics::Counter* rejected = nullptr;

 private:
  std::atomic<std::uint64_t> held_{0};
};

}  // namespace sb::gateway
