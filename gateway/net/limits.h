#pragma once
// Process-wide limits the connection layer enforces, owned by the composition root and shared by
// every worker: open connections per plane, and request-body bytes buffered by requests in
// flight. Lock-free (relaxed atomics); any thread.

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
