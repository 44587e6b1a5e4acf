#pragma once
// Money as integer nano-dollars (1e-9 USD) end to end: prices, reservations, budgets, cost and
// savings. A price quoted to a thousandth of a dollar per million tokens is a whole number of
// nano-dollars per token, so every cost computed from such prices is exact; int64 holds up to
// about 9.2 billion dollars.

#include <cstdint>
#include <string>

namespace sb::policies {

using Nanos = std::int64_t;  ///< nano-USD

inline constexpr Nanos kNanosPerUsd = 1'000'000'000;

/// Nearest nano-dollar; saturates on overflow, 0 for NaN and negative infinity.
Nanos usd_to_nanos(double usd);

/// For Prometheus and JSON figures (a double holds every nano-dollar amount below ~$9M exactly
/// enough to round-trip through usd_to_nanos).
inline double nanos_to_usd(Nanos n) {
  return static_cast<double>(n) / static_cast<double>(kNanosPerUsd);
}

/// Exact decimal text: `0.011400000` style with nine decimals, `-` for negatives.
std::string format_usd(Nanos n);
void append_usd(std::string& out, Nanos n);

}  // namespace sb::policies
