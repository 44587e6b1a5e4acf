#include "adapters/text_find.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SB_TEXT_FIND_AVX2 1
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "adapters/byte_scan.h"

namespace sb::adapters {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool key_mark(const char* p) {
  return (p[0] == '"' && (p[1] == 'e' || p[1] == 'u')) || (p[0] == '\\' && p[1] == 'u');
}

// The scalar tails: from `i` on.
std::size_t find_text_tail(std::string_view text, std::string_view needle, std::size_t i) {
  const std::size_t k = needle.size();
  for (; i + k <= text.size(); ++i) {
    if (text[i] == needle.front() &&
        std::memcmp(text.data() + i + 1, needle.data() + 1, k - 1) == 0) {
      return i;
    }
  }
  return npos;
}

std::size_t line_end_tail(std::string_view text, std::size_t i) {
  for (; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      return i;
    }
  }
  return npos;
}

std::size_t find_key_mark_tail(std::string_view text, std::size_t i) {
  for (; i + 1 < text.size(); ++i) {
    if (key_mark(text.data() + i)) {
      return i;
    }
  }
  return npos;
}

// Where `mask` (a bit per position from `i`) has a bit whose needle matches whole; npos if none.
std::size_t whole_match(const char* p, std::size_t i, unsigned mask, std::string_view needle) {
  for (; mask != 0; mask &= mask - 1) {
    const std::size_t at = i + static_cast<std::size_t>(__builtin_ctz(mask));
    if (std::memcmp(p + at + 1, needle.data() + 1, needle.size() - 1) == 0) {
      return at;
    }
  }
  return npos;
}

#if defined(__SSE2__)
// Blocks of 16 from `i` while a whole block fits: the block's first match, or npos with `i` past
// the blocks read.
std::size_t text_blocks_sse2(std::string_view text, std::string_view needle, std::size_t& i) {
  const char* p = text.data();
  const std::size_t k = needle.size();
  const __m128i first = _mm_set1_epi8(needle.front());
  const __m128i last = _mm_set1_epi8(needle.back());
  for (; i + k - 1 + 16 <= text.size(); i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + k - 1));
    const auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
    if (const std::size_t at = whole_match(p, i, mask, needle); at != npos) {
      return at;
    }
  }
  return npos;
}

std::size_t mark_blocks_sse2(std::string_view text, std::size_t& i) {
  const char* p = text.data();
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i e = _mm_set1_epi8('e');
  const __m128i u = _mm_set1_epi8('u');
  for (; i + 17 <= text.size(); i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
    const __m128i next_u = _mm_cmpeq_epi8(b, u);
    const __m128i hits = _mm_or_si128(
        _mm_and_si128(_mm_cmpeq_epi8(a, quote), _mm_or_si128(_mm_cmpeq_epi8(b, e), next_u)),
        _mm_and_si128(_mm_cmpeq_epi8(a, backslash), next_u));
    if (const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hits)); mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
  }
  return npos;
}

std::size_t line_blocks_sse2(std::string_view text, std::size_t& i) {
  const char* p = text.data();
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  for (; i + 16 <= text.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr))));
    if (mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
  }
  return npos;
}
#else  // no SSE2: the bytes one at a time from the start
std::size_t text_blocks_sse2(std::string_view, std::string_view, std::size_t&) {
  return npos;
}
std::size_t mark_blocks_sse2(std::string_view, std::size_t&) {
  return npos;
}
std::size_t line_blocks_sse2(std::string_view, std::size_t&) {
  return npos;
}
#endif

// The 16-byte blocks from `from` while a whole one fits (`blocks(i)`, which moves `i` past them),
// then the bytes after them one at a time (`bytes(i)`).
template <class Blocks, class Bytes>
std::size_t blocks_then_bytes(std::size_t from, Blocks blocks, Bytes bytes) {
  std::size_t i = from;
  if (const std::size_t at = blocks(i); at != npos) {
    return at;
  }
  return bytes(i);
}

#if defined(SB_TEXT_FIND_AVX2)
// The positions [i, last] of a text, a block of 32 a step: `mask(j)` says which of the positions
// j to j + 31 may match, `take(j, bits)` the match they hold (npos for none). A block left over is
// read as the block that ends at `last`, overlapping the one before, with the positions already
// read masked off. Needs last >= 31.
template <class Mask, class Take>
__attribute__((target("avx2"))) std::size_t blocks_avx2(std::size_t i, std::size_t last,
                                                        const Mask& mask, Take take) {
  for (; i + 31 <= last; i += 32) {
    if (const unsigned bits = mask(i); bits != 0) {  // a block without a hit costs one test
      if (const std::size_t at = take(i, bits); at != npos) {
        return at;
      }
    }
  }
  if (i > last) {
    return npos;
  }
  const std::size_t j = last - 31;  // i - j is 1 to 31
  return take(j, mask(j) & (~0u << (i - j)));
}

// The first position that hits (a type, not a function, so that it is inlined).
struct FirstBit {
  std::size_t operator()(std::size_t j, unsigned bits) const {
    return bits != 0 ? j + static_cast<std::size_t>(__builtin_ctz(bits)) : npos;
  }
};

// The places the needle's first and last bytes both match.
struct TextMask {
  const char* p;
  std::size_t k;
  char first;
  char last;
  __attribute__((target("avx2"))) unsigned operator()(std::size_t j) const {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + j));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + j + k - 1));
    return static_cast<unsigned>(
        _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8(first)),
                                              _mm256_cmpeq_epi8(b, _mm256_set1_epi8(last)))));
  }
};

// The key marks: a quote before `e` or `u`, a backslash before `u`.
struct MarkMask {
  const char* p;
  __attribute__((target("avx2"))) unsigned operator()(std::size_t j) const {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + j));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + j + 1));
    const __m256i next_u = _mm256_cmpeq_epi8(b, _mm256_set1_epi8('u'));
    const __m256i hits = _mm256_or_si256(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8('"')),
                         _mm256_or_si256(_mm256_cmpeq_epi8(b, _mm256_set1_epi8('e')), next_u)),
        _mm256_and_si256(_mm256_cmpeq_epi8(a, _mm256_set1_epi8('\\')), next_u));
    return static_cast<unsigned>(_mm256_movemask_epi8(hits));
  }
};

// The line ends: CR and LF.
struct LineMask {
  const char* p;
  __attribute__((target("avx2"))) unsigned operator()(std::size_t j) const {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + j));
    return static_cast<unsigned>(
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')),
                                             _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\r')))));
  }
};
#endif

bool searchable(std::string_view text, std::string_view needle, std::size_t from) {
  return !needle.empty() && from <= text.size() && text.size() - from >= needle.size();
}

}  // namespace

namespace text_find_detail {

std::size_t find_text_sse2(std::string_view text, std::string_view needle, std::size_t from) {
  if (!searchable(text, needle, from)) {
    return npos;
  }
  return blocks_then_bytes(
      from, [&](std::size_t& i) { return text_blocks_sse2(text, needle, i); },
      [&](std::size_t i) { return find_text_tail(text, needle, i); });
}

std::size_t find_key_mark_sse2(std::string_view text, std::size_t from) {
  return blocks_then_bytes(
      from, [&](std::size_t& i) { return mark_blocks_sse2(text, i); },
      [&](std::size_t i) { return find_key_mark_tail(text, i); });
}

std::size_t find_line_end_sse2(std::string_view text, std::size_t from) {
  return blocks_then_bytes(
      from, [&](std::size_t& i) { return line_blocks_sse2(text, i); },
      [&](std::size_t i) { return line_end_tail(text, i); });
}

#if defined(SB_TEXT_FIND_AVX2)
__attribute__((target("avx2"))) std::size_t find_line_end_avx2(std::string_view text,
                                                               std::size_t from) {
  if (text.size() < 32) {
    return find_line_end_sse2(text, from);
  }
  return blocks_avx2(from, text.size() - 1, LineMask{text.data()}, FirstBit{});
}

__attribute__((target("avx2"))) std::size_t find_text_avx2(std::string_view text,
                                                           std::string_view needle,
                                                           std::size_t from) {
  if (!searchable(text, needle, from)) {
    return npos;
  }
  if (text.size() < needle.size() - 1 + 32) {
    return find_text_sse2(text, needle, from);  // shorter than a block
  }
  const char* p = text.data();
  return blocks_avx2(from, text.size() - needle.size(),
                     TextMask{p, needle.size(), needle.front(), needle.back()},
                     [&](std::size_t j, unsigned bits) { return whole_match(p, j, bits, needle); });
}

__attribute__((target("avx2"))) std::size_t find_key_mark_avx2(std::string_view text,
                                                               std::size_t from) {
  if (text.size() < 33) {
    return find_key_mark_sse2(text, from);  // shorter than a block and the byte after it
  }
  return blocks_avx2(from, text.size() - 2, MarkMask{text.data()}, FirstBit{});
}
#else
std::size_t find_line_end_avx2(std::string_view text, std::size_t from) {
  return find_line_end_sse2(text, from);
}
std::size_t find_text_avx2(std::string_view text, std::string_view needle, std::size_t from) {
  return find_text_sse2(text, needle, from);
}
std::size_t find_key_mark_avx2(std::string_view text, std::size_t from) {
  return find_key_mark_sse2(text, from);
}
#endif

}  // namespace text_find_detail

std::size_t find_text(std::string_view text, std::string_view needle, std::size_t from) {
  return byte_scan::detail::has_avx2() ? text_find_detail::find_text_avx2(text, needle, from)
                                       : text_find_detail::find_text_sse2(text, needle, from);
}

std::size_t find_line_end(std::string_view text, std::size_t from) {
  return byte_scan::detail::has_avx2() ? text_find_detail::find_line_end_avx2(text, from)
                                       : text_find_detail::find_line_end_sse2(text, from);
}

std::size_t find_key_mark(std::string_view text, std::size_t from) {
  return byte_scan::detail::has_avx2() ? text_find_detail::find_key_mark_avx2(text, from)
                                       : text_find_detail::find_key_mark_sse2(text, from);
}

}  // namespace sb::adapters
