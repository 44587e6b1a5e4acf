#pragma once
// Substring search for the stream relays' per-event checks. glibc's memmem costs about five
// instructions a byte on short texts; this compares the needle's first and last bytes sixteen
// positions at a time (SSE2) and checks the whole needle only where both match.

#include <cstddef>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sb::adapters {

/// Offset of the first occurrence of `needle` (not empty) in `text` at or after `from`, or npos.
inline std::size_t find_text(std::string_view text, std::string_view needle, std::size_t from = 0) {
  const std::size_t k = needle.size();
  if (k == 0 || from > text.size() || text.size() - from < k) {
    return std::string_view::npos;
  }
  const char* p = text.data();
  const std::size_t last = text.size() - k;  // the last position the needle can start at
  std::size_t i = from;
#if defined(__SSE2__)
  const __m128i first = _mm_set1_epi8(needle.front());
  const __m128i final = _mm_set1_epi8(needle.back());
  for (; i + 16 <= last + 1; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + k - 1));
    auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, final))));
    while (mask != 0) {
      const std::size_t at = i + static_cast<std::size_t>(__builtin_ctz(mask));
      if (std::memcmp(p + at + 1, needle.data() + 1, k - 1) == 0) {
        return at;
      }
      mask &= mask - 1;
    }
  }
#endif
  for (; i <= last; ++i) {
    if (p[i] == needle.front() && std::memcmp(p + i + 1, needle.data() + 1, k - 1) == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace sb::adapters
