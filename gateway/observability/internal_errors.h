#pragma once
// The last-resort accounting of exceptions that escaped a coroutine or a worker loop: one log
// line and switchboard_internal_errors_total{where}. Owned by the composition root; sessions,
// health probes and workers reach it through their Worker.

#include <array>
#include <cstddef>
#include <exception>
#include <string_view>

#include "gateway/observability/metrics.h"

namespace sb::gateway {

/// Where an exception reached a last-resort handler: the label of
/// switchboard_internal_errors_total{where}. Every series exists from the start.
enum class Where : std::size_t { session, admin, accept, health, reload, flush, worker, upstream };
inline constexpr std::size_t kWhereCount = 8;
std::string_view to_string(Where w);

class InternalErrors {
 public:
  /// Registers every switchboard_internal_errors_total series (at zero) in `registry`.
  explicit InternalErrors(metrics::Registry& registry);

  /// Logs one line (with the connection and request ids when known) and counts
  /// switchboard_internal_errors_total{where}. Never throws; any thread.
  void report(Where where, std::exception_ptr e, std::string_view conn = {},
              std::string_view request = {}) noexcept;
  /// A co_spawn completion handler that reports what escaped the coroutine.
  auto guard(Where where) {
    return [this, where](std::exception_ptr e) {
      if (e) {
        report(where, e);
      }
    };
  }

 private:
  std::array<metrics::Counter*, kWhereCount> counters_{};
};

}  // namespace sb::gateway
