#include "adapters/byte_scan.h"

#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SB_BYTE_SCAN_AVX2 1
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sb::adapters::byte_scan {

namespace {

using detail::Set;
using detail::stop_lanes;
using detail::stops;

/// Sixteen bytes a step: the tail of either search, and the whole of the SSE2 one below 64 bytes.
/// The bytes in [begin, p) are known to stop nothing, so the last few bytes are read in one step
/// too, the sixteen that end at `end`, when the search has that many; else one at a time.
template <Set S>
const char* find_short(const char* begin, const char* p, const char* end) {
#if defined(__SSE2__)
  auto bits_at = [](const char* q) {
    return static_cast<unsigned>(
        _mm_movemask_epi8(stop_lanes<S>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)))));
  };
  for (; end - p >= 16; p += 16) {
    if (const unsigned bits = bits_at(p); bits != 0) {
      return p + __builtin_ctz(bits);
    }
  }
  if (p != end && end - begin >= 16) {
    const unsigned bits = bits_at(end - 16);  // those of the bytes before p are clear
    return bits != 0 ? end - 16 + __builtin_ctz(bits) : end;
  }
#else
  (void)begin;
#endif
  for (; p != end; ++p) {
    if (stops<S>(static_cast<unsigned char>(*p))) {
      return p;
    }
  }
  return end;
}

template <Set S>
const char* find_sse2(const char* begin, const char* p, const char* end) {
#if defined(__SSE2__)
  auto at = [](const char* q) {
    return stop_lanes<S>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
  };
  for (; end - p >= 64; p += 64) {
    const __m128i a = at(p);
    const __m128i b = at(p + 16);
    const __m128i c = at(p + 32);
    const __m128i d = at(p + 48);
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) {
      const auto lo = static_cast<unsigned>(_mm_movemask_epi8(a)) |
                      (static_cast<unsigned>(_mm_movemask_epi8(b)) << 16);
      const auto hi = static_cast<unsigned>(_mm_movemask_epi8(c)) |
                      (static_cast<unsigned>(_mm_movemask_epi8(d)) << 16);
      return p + __builtin_ctzll(lo | (static_cast<std::uint64_t>(hi) << 32));
    }
  }
#endif
  return find_short<S>(begin, p, end);
}

/// One step of the escaped-text copy, its `step` bytes at p already stored at out + size: `stops`
/// holds a bit for each byte the copy does not pass as it is. Takes the bytes before the first
/// such byte and decodes it when it is a one-byte escape; false when the copy stops there.
inline bool take_step(std::uint32_t stops, std::size_t step, const char*& p, const char* end,
                      char* out, std::size_t& size) {
  if (stops == 0) {
    p += step;
    size += step;
    return true;
  }
  const auto k = static_cast<std::size_t>(__builtin_ctz(stops));
  p += k;
  size += k;
  const char c = *p == '\\' && end - p >= 2 ? simple_escape(p[1]) : 0;
  if (c == 0) {
    return false;
  }
  out[size++] = c;
  p += 2;
  return true;
}

void copy_sse2(const char*& p, const char* end, char* out, std::size_t& size,
               std::size_t capacity) {
#if defined(__SSE2__)
  while (end - p >= 16 && size + 16 <= capacity) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + size), v);
    const auto stops = static_cast<std::uint32_t>(_mm_movemask_epi8(stop_lanes<Set::special>(v)));
    if (!take_step(stops, 16, p, end, out, size)) {
      return;
    }
  }
#else
  (void)p, (void)end, (void)out, (void)size, (void)capacity;
#endif
}

#if defined(SB_BYTE_SCAN_AVX2)
template <Set S>
__attribute__((target("avx2"))) __m256i lanes32(__m256i v) {
  const __m256i quote_or_backslash = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),
                                                     _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
  if constexpr (S == Set::special) {
    return _mm256_or_si256(quote_or_backslash, _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v));
  } else {
    return _mm256_or_si256(quote_or_backslash,
                           _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v));
  }
}

template <Set S>
__attribute__((target("avx2"))) const char* find_avx2(const char* begin, const char* p,
                                                      const char* end) {
  for (; end - p >= 64; p += 64) {
    const __m256i a = lanes32<S>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    const __m256i b = lanes32<S>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)));
    if (!_mm256_testz_si256(_mm256_or_si256(a, b), _mm256_or_si256(a, b))) {
      const auto lo = static_cast<std::uint32_t>(_mm256_movemask_epi8(a));
      const auto hi = static_cast<std::uint32_t>(_mm256_movemask_epi8(b));
      return p + __builtin_ctzll(lo | (static_cast<std::uint64_t>(hi) << 32));
    }
  }
  return find_short<S>(begin, p, end);
}

__attribute__((target("avx2"))) void copy_avx2(const char*& p, const char* end, char* out,
                                               std::size_t& size, std::size_t capacity) {
  while (end - p >= 32 && size + 32 <= capacity) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + size), v);
    const auto stops = static_cast<std::uint32_t>(_mm256_movemask_epi8(lanes32<Set::special>(v)));
    if (!take_step(stops, 32, p, end, out, size)) {
      return;
    }
  }
  // The last stretch sixteen bytes a step.
  copy_sse2(p, end, out, size, capacity);
}
#endif

#if defined(SB_BYTE_SCAN_AVX2)
// Asked once; a static initializer may run before libgcc's own, hence the init first.
const bool kAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") != 0);
#else
const bool kAvx2 = false;
#endif

// After the sixteen bytes before `p`, which stop nothing (detail::find).
template <Set S>
const char* find_rest(const char* p, const char* end) {
#if defined(SB_BYTE_SCAN_AVX2)
  if (kAvx2) {
    return find_avx2<S>(p - 16, p, end);
  }
#endif
  return find_sse2<S>(p - 16, p, end);
}

}  // namespace

namespace detail {

const char* find_special_rest(const char* p, const char* end) {
  return find_rest<Set::special>(p, end);
}

const char* find_unsafe_rest(const char* p, const char* end) {
  return find_rest<Set::unsafe>(p, end);
}

}  // namespace detail

void copy_escaped(const char*& p, const char* end, char* out, std::size_t& size,
                  std::size_t capacity) {
#if defined(SB_BYTE_SCAN_AVX2)
  if (kAvx2) {
    copy_avx2(p, end, out, size, capacity);
    return;
  }
#endif
  copy_sse2(p, end, out, size, capacity);
}

namespace detail {

void copy_escaped_sse2(const char*& p, const char* end, char* out, std::size_t& size,
                       std::size_t capacity) {
  copy_sse2(p, end, out, size, capacity);
}

bool has_avx2() {
  return kAvx2;
}
const char* find_json_special_sse2(const char* p, const char* end) {
  return find_sse2<Set::special>(p, p, end);
}
const char* find_json_unsafe_sse2(const char* p, const char* end) {
  return find_sse2<Set::unsafe>(p, p, end);
}
#if defined(SB_BYTE_SCAN_AVX2)
const char* find_json_special_avx2(const char* p, const char* end) {
  return find_avx2<Set::special>(p, p, end);
}
const char* find_json_unsafe_avx2(const char* p, const char* end) {
  return find_avx2<Set::unsafe>(p, p, end);
}
void copy_escaped_avx2(const char*& p, const char* end, char* out, std::size_t& size,
                       std::size_t capacity) {
  copy_avx2(p, end, out, size, capacity);
}
#else
void copy_escaped_avx2(const char*& p, const char* end, char* out, std::size_t& size,
                       std::size_t capacity) {
  copy_sse2(p, end, out, size, capacity);
}
const char* find_json_special_avx2(const char* p, const char* end) {
  return find_sse2<Set::special>(p, p, end);
}
const char* find_json_unsafe_avx2(const char* p, const char* end) {
  return find_sse2<Set::unsafe>(p, p, end);
}
#endif

}  // namespace detail

}  // namespace sb::adapters::byte_scan
