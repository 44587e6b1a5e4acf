#pragma once
// The long searches of a JSON text's bytes: where a string's next special byte is. With AVX2 where
// the CPU has it (asked once), 64 bytes a step in two 32-byte compares; else SSE2, 64 bytes a
// step in four. The callers read a string's first sixteen bytes themselves, inline (most keys and
// short values end there), and hand a longer text to these.

namespace sb::adapters::byte_scan {

/// The first byte in [p, end) that is `"`, `\`, below 0x20, or 0x80 and above (json_lex's bytes a
/// string cannot pass over as they are); `end` when none.
const char* find_json_special(const char* p, const char* end);

/// The first byte in [p, end) that is `"`, `\` or below 0x20 (what a JSON string cannot carry as it
/// is: plain_json_run's bytes); `end` when none.
const char* find_json_unsafe(const char* p, const char* end);

namespace detail {
// Both ways, for the tests: the AVX2 ones only where has_avx2().
bool has_avx2();
const char* find_json_special_sse2(const char* p, const char* end);
const char* find_json_special_avx2(const char* p, const char* end);
const char* find_json_unsafe_sse2(const char* p, const char* end);
const char* find_json_unsafe_avx2(const char* p, const char* end);
}  // namespace detail

}  // namespace sb::adapters::byte_scan
