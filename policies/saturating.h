#pragma once
// Token arithmetic that stops at the largest count instead of wrapping: a hostile `n` or
// `max_tokens` (up to 2^64 - 1) must make an estimate or a reservation huge, never small.

#include <cstdint>
#include <limits>

namespace sb::policies {

constexpr std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

constexpr std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  return b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b
             ? std::numeric_limits<std::uint64_t>::max()
             : a * b;
}

}  // namespace sb::policies
