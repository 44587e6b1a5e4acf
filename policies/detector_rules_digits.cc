// The rules anchored on runs of digits (digit runs, IBANs, international phone numbers): one
// search finds the buffer's runs of digits, and each rule derives from them exactly the ends its
// expression (kept in the table, detector_rules.cc) would have reported. Hyperscan runs an
// expression that starts with a character class as an engine over the whole buffer; these three
// cost it about 1.8 instructions a byte of prose; the search about 0.5 (0.7 without AVX2) and
// the three rules' anchors about 0.4 more (on prose with a number every few lines).

#include <cstdint>
#include <span>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SB_DIGITS_AVX2 1
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "policies/cpu.h"
#include "policies/detector_rules_internal.h"

namespace sb::policies::rules {

namespace {

#if defined(__SSE2__)
// '0'..'9' plus 0x46 are 0x76..0x7f, the largest signed bytes: one add and one compare a lane.
__m128i digit_lanes(const char* at) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
  return _mm_cmpgt_epi8(_mm_add_epi8(x, _mm_set1_epi8(0x46)), _mm_set1_epi8(0x75));
}

/// 64 bytes a step from `i`: true with `i` at the first digit, or false with `i` where fewer
/// than 64 bytes are left.
bool digit_blocks_sse2(const char* p, std::size_t& i, std::size_t n) {
  for (; i + 64 <= n; i += 64) {
    const __m128i a = digit_lanes(p + i);
    const __m128i b = digit_lanes(p + i + 16);
    const __m128i c = digit_lanes(p + i + 32);
    const __m128i d = digit_lanes(p + i + 48);
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) {
      const auto lo =
          static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(a)) |
                                     (static_cast<unsigned>(_mm_movemask_epi8(b)) << 16));
      const auto hi =
          static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(c)) |
                                     (static_cast<unsigned>(_mm_movemask_epi8(d)) << 16));
      i += static_cast<std::size_t>(__builtin_ctzll(lo | (hi << 32)));
      return true;
    }
  }
  return false;
}
#endif

#if defined(SB_DIGITS_AVX2)
__attribute__((target("avx2"))) __m256i digit_lanes32(const char* at) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at));
  return _mm256_cmpgt_epi8(_mm256_add_epi8(x, _mm256_set1_epi8(0x46)), _mm256_set1_epi8(0x75));
}

/// digit_blocks_sse2 in two 32-byte compares a step.
__attribute__((target("avx2"))) bool digit_blocks_avx2(const char* p, std::size_t& i,
                                                       std::size_t n) {
  for (; i + 64 <= n; i += 64) {
    const __m256i a = digit_lanes32(p + i);
    const __m256i b = digit_lanes32(p + i + 32);
    if (!_mm256_testz_si256(_mm256_or_si256(a, b), _mm256_or_si256(a, b))) {
      const auto lo = static_cast<std::uint32_t>(_mm256_movemask_epi8(a));
      const auto hi = static_cast<std::uint32_t>(_mm256_movemask_epi8(b));
      i += static_cast<std::size_t>(__builtin_ctzll(lo | (static_cast<std::uint64_t>(hi) << 32)));
      return true;
    }
  }
  return false;
}
#endif

/// Sixteen bytes a step, then one at a time: the tail of the search.
std::size_t digit_tail(const char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const auto m = static_cast<unsigned>(_mm_movemask_epi8(digit_lanes(p + i)));
    if (m != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(m));
    }
  }
#endif
  while (i < n && !is_digit(p[i])) {
    ++i;
  }
  return i;
}

}  // namespace

std::size_t next_digit_sse2(const char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
  if (digit_blocks_sse2(p, i, n)) {
    return i;
  }
#endif
  return digit_tail(p, i, n);
}

std::size_t next_digit_avx2(const char* p, std::size_t i, std::size_t n) {
#if defined(SB_DIGITS_AVX2)
  if (digit_blocks_avx2(p, i, n)) {
    return i;
  }
  return digit_tail(p, i, n);
#else
  return next_digit_sse2(p, i, n);
#endif
}

std::size_t next_digit(const char* p, std::size_t i, std::size_t n) {
  return cpu::has_avx2() ? next_digit_avx2(p, i, n) : next_digit_sse2(p, i, n);
}

namespace {

bool only_number_seps(std::string_view buf, std::size_t b, std::size_t e) {
  for (std::size_t i = b; i < e; ++i) {
    if (!is_number_sep(buf[i])) {
      return false;
    }
  }
  return true;
}

bool in_iban(char c) {
  return is_upper_or_digit(c) || c == ' ' || c == '.' || c == '-';
}

bool in_phone(char c) {
  return is_digit(c) || c == ' ' || c == '(' || c == ')' || c == '.' || c == '-';
}

/// What an expression ending in `(?:[^X]|$)` reports for a value that ends at `e` (`in_x` tells
/// the bytes of X): past the byte after the value when that byte is not in X, and at the value's
/// end when that is the buffer's end or just before its final line break (where `$` matches).
template <class InX, class Emit>
void report(std::string_view buf, std::size_t e, InX in_x, Emit emit) {
  const std::size_t n = buf.size();
  if (e == n || (e + 1 == n && buf[e] == '\n')) {
    emit(e);
  }
  if (e < n && !in_x(buf[e])) {
    emit(e + 1);
  }
}

}  // namespace

void digit_runs(std::string_view buf, std::vector<Span>& out) {
  const std::size_t n = buf.size();
  std::size_t i = next_digit(buf.data(), 0, n);
  while (i < n) {
    std::size_t e = i + 1;
    while (e < n && is_digit(buf[e])) {
      ++e;
    }
    out.push_back(Span{i, e});
    i = next_digit(buf.data(), e, n);
  }
}

// `[0-9][0-9 ./-]{5,}[0-9](?:[^0-9]|$)`: the end of every run of digits whose run of digits and
// separators started with a digit at least 7 bytes before its end.
void digit_run_anchors(std::string_view buf, std::span<const Span> runs,
                       std::vector<std::size_t>& ends) {
  std::size_t first = 0;  // the first digit of the current run of digits and separators
  std::size_t last = npos;
  for (const Span& r : runs) {
    if (last == npos || !only_number_seps(buf, last, r.begin)) {
      first = r.begin;
    }
    last = r.end;
    if (r.end - first >= 7) {
      report(buf, r.end, is_digit, [&](std::size_t at) { ends.push_back(at); });
    }
  }
}

// `[A-Z]{2}[0-9]{2}[A-Z0-9 .-]{11,46}(?:[^A-Z0-9]|$)`: two upper-case letters can only precede
// the first digit of a run, so each run of at least two digits has at most one start.
void iban_anchors(std::string_view buf, std::span<const Span> runs,
                  std::vector<std::size_t>& ends) {
  const std::size_t n = buf.size();
  std::size_t emitted = npos;  // the last end reported: the starts' windows overlap
  auto emit = [&](std::size_t e) {
    if (emitted == npos || e > emitted) {
      ends.push_back(e);
      emitted = e;
    }
  };
  for (const Span& r : runs) {
    if (r.end - r.begin < 2 || r.begin < 2 || !is_upper(buf[r.begin - 1]) ||
        !is_upper(buf[r.begin - 2])) {
      continue;
    }
    const std::size_t from = r.begin + 2;
    for (std::size_t k = 0;; ++k) {
      const std::size_t e = from + k;
      if (k >= 11) {
        report(buf, e, is_upper_or_digit, emit);
      }
      if (k == 46 || e == n || !in_iban(buf[e])) {
        break;
      }
    }
  }
}

// `\+[1-9][0-9 ().-]{6,22}[0-9](?:[^0-9]|$)`: a `+` before a run of digits that does not start
// with 0. `+` cannot continue the number, so the starts' windows never overlap.
void phone_anchors(std::string_view buf, std::span<const Span> runs,
                   std::vector<std::size_t>& ends) {
  const std::size_t n = buf.size();
  for (const Span& r : runs) {
    if (r.begin == 0 || buf[r.begin - 1] != '+' || buf[r.begin] == '0') {
      continue;
    }
    const std::size_t plus = r.begin - 1;
    for (std::size_t e = plus + 3; e <= plus + 25 && e <= n && in_phone(buf[e - 1]); ++e) {
      if (e >= plus + 9 && is_digit(buf[e - 1])) {
        report(buf, e, is_digit, [&](std::size_t at) { ends.push_back(at); });
      }
    }
  }
}

}  // namespace sb::policies::rules
