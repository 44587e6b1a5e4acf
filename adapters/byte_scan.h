#pragma once
// The long passes over a JSON string's bytes: where its next special byte is, and the copy of its
// text after an escape. With AVX2 where the CPU has it (asked once), 32-byte compares; else SSE2,
// 16-byte ones; the searches 64 bytes a step either way, after the first sixteen bytes, which are
// read inline (most keys and short values end there). One search serves the reader (json_lex),
// the writer (append_json_string), json_edit's scanner (plain_json_run) and the usage reader's
// keys. Tests run each both ways.

#include <array>
#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sb::adapters::byte_scan {

namespace detail {

/// Which bytes stop a search: json_lex's (`"`, `\`, below 0x20, 0x80 and up) or the writer's
/// (`"`, `\`, below 0x20: what a JSON string cannot carry as it is).
enum class Set { special, unsafe };

template <Set S>
constexpr bool stops(unsigned char c) {
  return c == '"' || c == '\\' || c < 0x20 || (S == Set::special && c >= 0x80);
}

/// stops() as a table: one load a byte where the compares take four (the short strings a writer
/// writes, keys and names, are read a byte at a time).
template <Set S>
inline constexpr std::array<bool, 256> kStops = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = stops<S>(static_cast<unsigned char>(c));
  }
  return t;
}();

#if defined(__SSE2__)
/// The lanes of `v` that hold a byte stopping a search of set `S`.
template <Set S>
inline __m128i stop_lanes(__m128i v) {
  const __m128i quote_or_backslash =
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  if constexpr (S == Set::special) {
    // Signed: bytes 0x80 and up are negative, below 0x20 as the controls are.
    return _mm_or_si128(quote_or_backslash, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
  } else {
    return _mm_or_si128(quote_or_backslash,
                        _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
  }
}
#endif

/// The searches past a string's first sixteen bytes (which must stop nothing: the last bytes are
/// read in a step that overlaps them): 64 bytes a step, AVX2 where the CPU has it.
const char* find_special_rest(const char* p, const char* end);
const char* find_unsafe_rest(const char* p, const char* end);

/// The first sixteen bytes inline (most keys and short values end there), the rest out of line.
template <Set S>
inline const char* find(const char* p, const char* end) {
#if defined(__SSE2__)
  if (end - p >= 16) {
    const int bits =
        _mm_movemask_epi8(stop_lanes<S>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    if (bits != 0) {
      return p + __builtin_ctz(static_cast<unsigned>(bits));
    }
    return S == Set::special ? find_special_rest(p + 16, end) : find_unsafe_rest(p + 16, end);
  }
#endif
  for (; p < end; ++p) {
    if (kStops<S>[static_cast<unsigned char>(*p)]) {
      return p;
    }
  }
  return end;
}

/// JSON's one-byte escapes: the letter after the backslash, and the byte it stands for.
inline constexpr char kEscapes[][2] = {{'"', '"'},    {'\\', '\\'}, {'/', '/'},  {'b', '\x08'},
                                       {'f', '\x0c'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};

/// Decoding: the byte each letter stands for.
inline constexpr std::array<char, 256> kSimpleEscapes = [] {
  std::array<char, 256> t{};
  for (const auto& e : kEscapes) {
    t[static_cast<unsigned char>(e[0])] = e[1];
  }
  return t;
}();

/// Encoding: the letter that escapes each byte ('/' is never escaped on output).
inline constexpr std::array<char, 256> kEscapeLetters = [] {
  std::array<char, 256> t{};
  for (const auto& e : kEscapes) {
    t[static_cast<unsigned char>(e[1])] = e[0] == '/' ? 0 : e[0];
  }
  return t;
}();
}  // namespace detail

/// Whether a JSON string written out must escape `byte` (`"`, `\\`, below 0x20).
inline bool stops_unsafe(char byte) {
  return detail::kStops<detail::Set::unsafe>[static_cast<unsigned char>(byte)];
}

/// The letter that escapes `byte` in a JSON string written out (`n` for a line feed; `"` and `\`
/// for themselves), or 0 when it has none and takes \u00XX: a table, as a writer looks up every
/// line break of source code.
inline char escape_letter(char byte) {
  return detail::kEscapeLetters[static_cast<unsigned char>(byte)];
}

/// What the escape `\c` stands for when it is one byte (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`,
/// `\t`), else 0 (`\u` and every invalid escape).
inline char simple_escape(char c) {
  return detail::kSimpleEscapes[static_cast<unsigned char>(c)];
}

/// Code point `cp` (below 0x110000) as UTF-8 in `out`: its size, 1 to 4. What a `\u` escape
/// stands for, for the reader (json_lex) and the editor's unescape (json_edit).
inline std::size_t utf8_encode(std::uint32_t cp, char (&out)[4]) {
  const auto byte = [](std::uint32_t b) { return static_cast<char>(b); };
  if (cp < 0x80) {
    out[0] = byte(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = byte(0xc0 | (cp >> 6));
    out[1] = byte(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = byte(0xe0 | (cp >> 12));
    out[1] = byte(0x80 | ((cp >> 6) & 0x3f));
    out[2] = byte(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = byte(0xf0 | (cp >> 18));
  out[1] = byte(0x80 | ((cp >> 12) & 0x3f));
  out[2] = byte(0x80 | ((cp >> 6) & 0x3f));
  out[3] = byte(0x80 | (cp & 0x3f));
  return 4;
}

/// The first byte in [p, end) that is `"`, `\`, below 0x20, or 0x80 and above (json_lex's bytes a
/// string cannot pass over as they are); `end` when none.
inline const char* find_json_special(const char* p, const char* end) {
  return detail::find<detail::Set::special>(p, end);
}

/// The first byte in [p, end) that is `"`, `\` or below 0x20 (what a JSON string cannot carry as it
/// is: plain_json_run's bytes); `end` when none.
inline const char* find_json_unsafe(const char* p, const char* end) {
  return detail::find<detail::Set::unsafe>(p, end);
}

/// A string's text after its first escape, decoded as it is read: copies the bytes at `p` into
/// out[size, capacity) while inspecting them (32 a step with AVX2, else 16) and decodes one-byte
/// escapes in place (source code's `\n` on every line), with no call per line. Stops at whatever
/// it does not take on (the closing quote, `\u`, a non-ASCII or control byte, an invalid escape)
/// or within a step of `end` or of `capacity`, with `p` there and everything before it in
/// out[0, size). Bytes past `size` may have been written.
void copy_escaped(const char*& p, const char* end, char* out, std::size_t& size,
                  std::size_t capacity);

namespace detail {
// Both ways, for the tests: the AVX2 ones only where has_avx2().
bool has_avx2();
const char* find_json_special_sse2(const char* p, const char* end);
const char* find_json_special_avx2(const char* p, const char* end);
const char* find_json_unsafe_sse2(const char* p, const char* end);
const char* find_json_unsafe_avx2(const char* p, const char* end);
void copy_escaped_sse2(const char*& p, const char* end, char* out, std::size_t& size,
                       std::size_t capacity);
void copy_escaped_avx2(const char*& p, const char* end, char* out, std::size_t& size,
                       std::size_t capacity);
}  // namespace detail

}  // namespace sb::adapters::byte_scan
