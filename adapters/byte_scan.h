#pragma once
// The long passes over a JSON string's bytes: where its next special byte is, and the copy of its
// text after an escape. With AVX2 where the CPU has it (asked once), 32-byte compares; else SSE2,
// 16-byte ones; the searches 64 bytes a step either way. The callers read a string's first
// sixteen bytes themselves, inline (most keys and short values end there), and hand a longer text
// to these. Tests run each both ways.

#include <array>
#include <cstddef>

namespace sb::adapters::byte_scan {

namespace detail {
inline constexpr std::array<char, 256> kSimpleEscapes = [] {
  std::array<char, 256> t{};
  t['"'] = '"';
  t['\\'] = '\\';
  t['/'] = '/';
  t['b'] = '\x08';
  t['f'] = '\x0c';
  t['n'] = '\n';
  t['r'] = '\r';
  t['t'] = '\t';
  return t;
}();
}  // namespace detail

/// What the escape `\c` stands for when it is one byte (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`,
/// `\t`), else 0 (`\u` and every invalid escape).
inline char simple_escape(char c) {
  return detail::kSimpleEscapes[static_cast<unsigned char>(c)];
}

/// The first byte in [p, end) that is `"`, `\`, below 0x20, or 0x80 and above (json_lex's bytes a
/// string cannot pass over as they are); `end` when none.
const char* find_json_special(const char* p, const char* end);

/// The first byte in [p, end) that is `"`, `\` or below 0x20 (what a JSON string cannot carry as it
/// is: plain_json_run's bytes); `end` when none.
const char* find_json_unsafe(const char* p, const char* end);

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
