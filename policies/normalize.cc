#include "policies/normalize.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SB_NORMALIZE_AVX2 1
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "policies/cpu.h"

namespace sb::policies::normalize {
namespace {

/// ICU's NFKC instance (process-wide, immutable, thread-safe), or nullptr when ICU's data cannot
/// be loaded.
const icu::Normalizer2* nfkc() {
  static const icu::Normalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

/// The code points outside ASCII that fold_in_place changes: dashes, the minus sign, space, line
/// and paragraph separators, decimal digits, default-ignorable code points and combining marks.
/// Frozen (immutable, thread-safe); nullptr when ICU cannot build it.
const icu::UnicodeSet* foldable() {
  static const icu::UnicodeSet* const set = []() -> const icu::UnicodeSet* {
    UErrorCode status = U_ZERO_ERROR;
    auto* built = new icu::UnicodeSet(
        icu::UnicodeString(u"[[[:Pd:][:Zs:][:Zl:][:Zp:][:Nd:][:Mn:][:Me:]"
                           u"\\p{Default_Ignorable_Code_Point}\\u2212]-[\\u0000-\\u007F]]"),
        status);
    if (U_FAILURE(status)) {
      delete built;
      return nullptr;
    }
    built->freeze();
    return built;  // lives as long as the process
  }();
  return set;
}

/// Appends ICU's output to a string up to a byte limit; past it, drops the rest and remembers it.
class CappedSink : public icu::ByteSink {
 public:
  CappedSink(std::string& dest, std::size_t limit) : dest_(dest), limit_(limit) {}
  void Append(const char* bytes, int32_t n) override {
    if (n <= 0 || overflow_) {
      return;
    }
    if (dest_.size() + static_cast<std::size_t>(n) > limit_) {
      overflow_ = true;
      return;
    }
    dest_.append(bytes, static_cast<std::size_t>(n));
  }
  bool overflow() const { return overflow_; }

 private:
  std::string& dest_;
  std::size_t limit_;
  bool overflow_ = false;
};

/// Copies `text` into `scratch` with every ill-formed UTF-8 sequence replaced by one space; returns
/// `text` itself when it is well-formed (no copy).
std::string_view well_formed(std::string_view text, std::string& scratch) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto length = static_cast<std::int32_t>(text.size());
  std::int32_t i = 0;
  std::int32_t copied = 0;  // text[0, copied) is in scratch already
  bool copying = false;
  while (i < length) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const std::int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(s, i, length, c);
    if (c >= 0) {
      continue;
    }
    if (!copying) {
      scratch.clear();
      scratch.reserve(text.size());
      copying = true;
    }
    scratch.append(text.data() + copied, static_cast<std::size_t>(start - copied));
    scratch += ' ';
    copied = i;
  }
  if (!copying) {
    return text;
  }
  scratch.append(text.data() + copied, static_cast<std::size_t>(length - copied));
  return scratch;
}

/// Maps out[from, end) in place (dashes, spaces, ignorables, marks, digits; see the header) and
/// shrinks `out` to the result. The range is well-formed UTF-8 (ICU's output). Runs of code points
/// that do not change are skipped with ICU's set span, so ordinary text costs little.
void fold_in_place(const icu::UnicodeSet& foldable, std::string& out, std::size_t from) {
  auto* s = reinterpret_cast<std::uint8_t*>(out.data());
  const auto length = static_cast<std::int32_t>(out.size());
  auto r = static_cast<std::int32_t>(from);
  std::int32_t w = r;
  while (r < length) {
    const std::int32_t same = foldable.spanUTF8(reinterpret_cast<const char*>(s + r), length - r,
                                                USET_SPAN_NOT_CONTAINED);
    if (w != r) {
      std::memmove(s + w, s + r, static_cast<std::size_t>(same));
    }
    w += same;
    r += same;
    if (r >= length) {
      break;
    }
    const std::int32_t start = r;
    UChar32 c = 0;
    U8_NEXT(s, r, length, c);
    if (c < 0) {
      s[w++] = ' ';  // cannot happen on ICU's output; a separator all the same
      continue;
    }
    const auto type = static_cast<UCharCategory>(u_charType(c));
    if (type == U_DASH_PUNCTUATION || c == 0x2212) {
      s[w++] = '-';
    } else if (type == U_SPACE_SEPARATOR) {
      s[w++] = ' ';
    } else if (type == U_LINE_SEPARATOR || type == U_PARAGRAPH_SEPARATOR) {
      s[w++] = '\n';
    } else if (type == U_DECIMAL_DIGIT_NUMBER) {
      s[w++] = static_cast<std::uint8_t>('0' + u_charDigitValue(c));
    } else if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
      // removed
    } else if ((type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK) &&
               w > static_cast<std::int32_t>(from) && s[w - 1] < 0x80) {
      // a mark on an ASCII character: removed
    } else {
      std::memmove(s + w, s + start, static_cast<std::size_t>(r - start));
      w += r - start;
    }
  }
  out.resize(static_cast<std::size_t>(w));
}

#if defined(SB_NORMALIZE_AVX2)
/// 64 bytes a step in two 32-byte loads: false at a block with a high bit, else true with `p`
/// and `n` where fewer than 64 bytes are left.
__attribute__((target("avx2"))) bool ascii_blocks_avx2(const char*& p, std::size_t& n) {
  for (; n >= 64; p += 64, n -= 64) {
    const __m256i any =
        _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)));
    if (_mm256_movemask_epi8(any) != 0) {
      return false;
    }
  }
  return true;
}
#endif

/// The same in four 16-byte loads, then the tail in 16-, 8- and 1-byte steps.
bool ascii_sse2(const char* p, std::size_t n) {
#if defined(__SSE2__)
  const auto load = [](const char* at) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
  };
  for (; n >= 64; p += 64, n -= 64) {
    const __m128i any =
        _mm_or_si128(_mm_or_si128(load(p), load(p + 16)), _mm_or_si128(load(p + 32), load(p + 48)));
    if (_mm_movemask_epi8(any) != 0) {
      return false;
    }
  }
  for (; n >= 16; p += 16, n -= 16) {
    if (_mm_movemask_epi8(load(p)) != 0) {
      return false;
    }
  }
#endif
  std::uint64_t acc = 0;
  while (n >= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, sizeof(w));
    acc |= w;
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n, ++p) {
    acc |= static_cast<unsigned char>(*p);
  }
  return (acc & 0x8080808080808080ull) == 0;
}

}  // namespace

bool is_ascii(std::string_view text) {
  // Every scanned text passes here first (a 20 KB conversation: 20 KB): 64 bytes a step, whose
  // byte mask is the bytes' high bits; AVX2 where the CPU has it.
  return cpu::has_avx2() ? detail::is_ascii_avx2(text) : detail::is_ascii_sse2(text);
}

namespace detail {

bool is_ascii_sse2(std::string_view text) {
  return ascii_sse2(text.data(), text.size());
}

bool is_ascii_avx2(std::string_view text) {
  const char* p = text.data();
  std::size_t n = text.size();
#if defined(SB_NORMALIZE_AVX2)
  if (!ascii_blocks_avx2(p, n)) {
    return false;
  }
#endif
  return ascii_sse2(p, n);
}

}  // namespace detail

bool append_normalized(std::string_view text, std::string& out, std::string& scratch) {
  const icu::Normalizer2* n = nfkc();
  const icu::UnicodeSet* fold = foldable();
  if (n == nullptr || fold == nullptr ||
      text.size() >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) ||
      out.size() + text.size() >=
          static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    return false;
  }
  const std::string_view valid = well_formed(text, scratch);
  const std::size_t from = out.size();
  out.reserve(from + valid.size());
  UErrorCode status = U_ZERO_ERROR;
  CappedSink sink(out, std::min<std::size_t>(from + kMaxGrowth * valid.size() + kGrowthSlack,
                                             std::numeric_limits<std::int32_t>::max() - 1));
  n->normalizeUTF8(0, icu::StringPiece(valid.data(), static_cast<std::int32_t>(valid.size())), sink,
                   nullptr, status);
  if (U_FAILURE(status) || sink.overflow()) {
    out.resize(from);
    return false;
  }
  fold_in_place(*fold, out, from);
  return true;
}

}  // namespace sb::policies::normalize
