#include "gateway/observability/log.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gateway/observability/json_line.h"

namespace sb::gateway::log {

namespace {

// In each byte of `w` that JSON must escape (below 0x20, quote, backslash, DEL), the high bit.
// Borrows only carry into bytes above a true one, so the lowest set byte is the first to escape.
constexpr std::uint64_t escapes_in(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  const auto zero_bytes = [](std::uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  return ((w - kOnes * 0x20) & ~w & kHighs) | zero_bytes(w ^ (kOnes * '"')) |
         zero_bytes(w ^ (kOnes * '\\')) | zero_bytes(w ^ (kOnes * 0x7f));
}

std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Copies `n` bytes; short runs (most of a log line's values) by two overlapping moves instead of
// a call.
void copy_run(char* dst, const char* src, std::size_t n) {
  const auto two = [&](auto word) {
    std::memcpy(&word, src, sizeof word);
    std::memcpy(dst, &word, sizeof word);
    std::memcpy(&word, src + n - sizeof word, sizeof word);
    std::memcpy(dst + n - sizeof word, &word, sizeof word);
  };
  if (n > 16) {
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    two(std::uint64_t{});
  } else if (n >= 4) {
    two(std::uint32_t{});
  } else if (n >= 2) {
    two(std::uint16_t{});
  } else if (n == 1) {
    *dst = *src;
  }
}

#if defined(__SSE2__)
// plain_prefix of 16 bytes or more: sixteen at a time, the last block overlapping the one before.
std::size_t plain_prefix_blocks(const char* p, std::size_t n) {
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i control = _mm_set1_epi8(0x1F);
  const auto first_escape = [&](std::size_t at) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, del),
                                  _mm_cmpeq_epi8(_mm_min_epu8(v, control), v)));  // <= 0x1F
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special));
    return mask == 0 ? n : at + static_cast<std::size_t>(__builtin_ctz(mask));
  };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if (const std::size_t at = first_escape(i); at != n) {
      return at;
    }
  }
  // The bytes of the last block before `i` are plain already: a mark is at or after `i`.
  return i == n ? n : first_escape(n - 16);
}
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
// plain_prefix of 4 to 16 bytes: eight at a time (twice, overlapping) from 8, four (twice, as
// one word) below.
std::size_t plain_prefix_words(const char* p, std::size_t n) {
  if (n >= 8) {
    if (const std::uint64_t m = escapes_in(load8(p)); m != 0) {
      return static_cast<std::size_t>(__builtin_ctzll(m)) / 8;
    }
    if (const std::uint64_t m = escapes_in(load8(p + n - 8)); m != 0) {
      return n - 8 + static_cast<std::size_t>(__builtin_ctzll(m)) / 8;
    }
    return n;
  }
  // Lanes 0-3 are bytes 0-3, lanes 4-7 bytes n-4 to n-1: the first lane to escape tells the
  // first byte.
  std::uint32_t lo;
  std::uint32_t hi;
  std::memcpy(&lo, p, 4);
  std::memcpy(&hi, p + n - 4, 4);
  const std::uint64_t m = escapes_in(lo | std::uint64_t{hi} << 32);
  if (m == 0) {
    return n;
  }
  const auto lane = static_cast<std::size_t>(__builtin_ctzll(m)) / 8;
  return lane < 4 ? lane : n - 4 + (lane & 3);
}
#endif

// The length of the prefix of `s` that JSON carries as it is (no quote, backslash, control byte
// or DEL): every access and audit line passes its strings through here. Sixteen bytes at a time
// where SSE2 is there (always on x86-64), words of eight or four from 4 to 15 bytes, a byte at a
// time below.
std::size_t plain_prefix(std::string_view s) {
  const char* p = s.data();
  const std::size_t n = s.size();
#if defined(__SSE2__)
  if (n >= 16) {
    return plain_prefix_blocks(p, n);
  }
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n >= 4 && n <= 16) {
    return plain_prefix_words(p, n);
  }
#endif
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) {
      return i;
    }
  }
  return n;
}

}  // namespace

char* escape_json(char* dst, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Runs of bytes that need no escape are copied whole (most fields are plain).
  for (;;) {
    const std::size_t run = plain_prefix(s);
    copy_run(dst, s.data(), run);
    dst += run;
    if (run == s.size()) {
      return dst;
    }
    const auto c = static_cast<unsigned char>(s[run]);
    s.remove_prefix(run + 1);
    *dst++ = '\\';
    switch (c) {
      case '"':
      case '\\':
        *dst++ = static_cast<char>(c);
        break;
      case '\n':
        *dst++ = 'n';
        break;
      case '\r':
        *dst++ = 'r';
        break;
      case '\t':
        *dst++ = 't';
        break;
      default:  // another control byte or DEL
        std::memcpy(dst, "u00", 3);
        dst[3] = kHex[c >> 4];
        dst[4] = kHex[c & 15];
        dst += 5;
    }
  }
}

namespace {

// Calls `escape(piece)` on `s` in pieces of at most `n` bytes (once for an empty `s`), so that a
// long value never needs room for six times its size at once.
template <class Escape>
void in_pieces(std::string_view s, std::size_t n, Escape escape) {
  do {
    const std::string_view piece = s.substr(0, n);
    s.remove_prefix(piece.size());
    escape(piece);
  } while (!s.empty());
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  in_pieces(s, 128, [&out](std::string_view piece) {
    char buf[128 * 6];  // room for the worst case, every byte as \u00XX
    out.append(buf, escape_json(buf, piece));
  });
  out.push_back('"');
}

void append_json_string(JsonLine& out, std::string_view s) {
  out.push_back('"');
  in_pieces(s, 4096, [&out](std::string_view piece) {
    out.commit(escape_json(out.tail(piece.size() * 6), piece));
  });
  out.push_back('"');
}

void JsonLine::grow(std::size_t n) {
  const std::size_t used = static_cast<std::size_t>(p_ - begin_);
  const std::size_t size = std::max(2 * static_cast<std::size_t>(end_ - begin_), used + n);
  auto bigger = std::make_unique<char[]>(size);
  std::memcpy(bigger.get(), begin_, used);
  heap_ = std::move(bigger);
  begin_ = heap_.get();
  p_ = begin_ + used;
  end_ = begin_ + size;
}

void append_fixed(JsonLine& out, double v, int precision) {
  static constexpr std::int64_t kScale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  char* p = out.tail(48);
  if (!std::isfinite(v) || std::fabs(v) >= 1e12 || precision < 0 || precision > 6) {
    out.commit(std::to_chars(p, p + 48, v, std::chars_format::fixed, precision).ptr);
    return;
  }
  if (std::signbit(v)) {
    *p++ = '-';
    v = -v;
  }
  const std::int64_t scale = kScale[precision];
  const auto n = static_cast<std::int64_t>(std::round(v * static_cast<double>(scale)));
  p = std::to_chars(p, p + 24, n / scale).ptr;
  if (precision > 0) {
    *p = '.';
    std::int64_t frac = n % scale;
    for (int i = precision; i > 0; --i) {
      p[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    p += precision + 1;
  }
  out.commit(p);
}

std::string now_rfc3339() {
  std::string quoted;
  append_timestamp(quoted);
  return quoted.substr(1, quoted.size() - 2);
}

namespace {

// "2026-11-23T15:40:41.288Z" with its quotes (26 bytes) at `dst`; the calendar part is formatted
// once per second per thread.
char* write_timestamp(char* dst) {
  thread_local std::int64_t cached_second = -1;
  thread_local char prefix[64];  // "YYYY-MM-DDTHH:MM:SS." (room for any int the formats allow)
  const auto now = std::chrono::system_clock::now();
  const auto ms_total =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::int64_t second = ms_total / 1000;
  if (second != cached_second) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  const int ms = static_cast<int>(ms_total % 1000);
  *dst++ = '"';
  std::memcpy(dst, prefix, 20);
  dst += 20;
  *dst++ = static_cast<char>('0' + ms / 100);
  *dst++ = static_cast<char>('0' + ms / 10 % 10);
  *dst++ = static_cast<char>('0' + ms % 10);
  *dst++ = 'Z';
  *dst++ = '"';
  return dst;
}

}  // namespace

void append_timestamp(std::string& out) {
  char buf[32];
  out.append(buf, write_timestamp(buf));
}

void append_timestamp(JsonLine& out) {
  out.commit(write_timestamp(out.tail(32)));
}

void write(Level level, std::string_view msg, Fields fields) {
  static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
  std::string line;
  line.reserve(128);
  line += "{\"ts\":";
  append_json_string(line, now_rfc3339());
  line += ",\"level\":\"";
  line += kLevels[static_cast<int>(level)];
  line += "\",\"msg\":";
  append_json_string(line, msg);
  for (const auto& [k, v] : fields) {
    line.push_back(',');
    append_json_string(line, k);
    line.push_back(':');
    append_json_string(line, v);
  }
  line += "}\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sb::gateway::log
