#include "gateway/observability/internal_errors.h"

#include <array>
#include <string>

#include "gateway/observability/log.h"
#include "gateway/observability/stats.h"

namespace sb::gateway {

std::string_view to_string(Where w) {
  // In Where's order.
  static constexpr std::array<std::string_view, 8> kNames{"session", "admin", "accept", "health",
                                                          "reload",  "flush", "worker", "upstream"};
  const auto i = static_cast<std::size_t>(w);
  return i < kNames.size() ? kNames[i] : "unknown";
}

InternalErrors::InternalErrors(metrics::Registry& registry) {
  for (std::size_t i = 0; i < kWhereCount; ++i) {
    counters_[i] = &registry.counter(stats::kInternalErrorsTotal,
                                     {{"where", std::string(to_string(static_cast<Where>(i)))}});
  }
}

void InternalErrors::report(Where where, std::exception_ptr e, std::string_view conn,
                            std::string_view request) noexcept {
  counters_[static_cast<std::size_t>(where)]->inc();
  try {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    log::error(
        "internal error",
        {{"where", to_string(where)}, {"conn", conn}, {"request_id", request}, {"error", what}});
  } catch (...) {
    // Out of memory while logging: the count above is what remains.
  }
}

}  // namespace sb::gateway
