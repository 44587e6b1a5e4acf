#include "policies/money.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace sb::policies {

Nanos usd_to_nanos(double usd) {
  if (std::isnan(usd)) {
    return 0;
  }
  const double nanos = std::round(usd * static_cast<double>(kNanosPerUsd));
  // 2^63 is exactly representable as a double; anything at or above it would overflow llround.
  if (nanos >= 9223372036854775807.0) {
    return std::numeric_limits<Nanos>::max();
  }
  if (nanos <= -9223372036854775807.0) {
    return std::numeric_limits<Nanos>::min() + 1;
  }
  return static_cast<Nanos>(nanos);
}

void append_usd(std::string& out, Nanos n) {
  // Magnitude as unsigned so that the most negative value has one too.
  const bool negative = n < 0;
  const std::uint64_t m =
      negative ? ~static_cast<std::uint64_t>(n) + 1 : static_cast<std::uint64_t>(n);
  const std::uint64_t whole = m / static_cast<std::uint64_t>(kNanosPerUsd);
  const std::uint64_t frac = m % static_cast<std::uint64_t>(kNanosPerUsd);
  if (negative) {
    out += '-';
  }
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, whole);
  out.append(buf, r.ptr);
  out += '.';
  char digits[9];
  std::uint64_t f = frac;
  for (int i = 8; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + f % 10);
    f /= 10;
  }
  out.append(digits, sizeof digits);
}

std::string format_usd(Nanos n) {
  std::string out;
  append_usd(out, n);
  return out;
}

}  // namespace sb::policies
