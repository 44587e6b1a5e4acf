#pragma once
// Searches for the stream relays' per-event checks, which read every event of every stream.
// glibc's memmem costs about five instructions a byte on short texts; these compare 32 positions
// at a time (AVX2 where the CPU has it, else 16 with SSE2) and look closer only where a block
// matched.

#include <cstddef>
#include <string_view>

namespace sb::adapters {

/// Offset of the first occurrence of `needle` (not empty) in `text` at or after `from`, or npos.
/// The needle's first and last bytes are compared a block at a time, the whole needle only where
/// both match.
std::size_t find_text(std::string_view text, std::string_view needle, std::size_t from = 0);

/// Offset of the first byte pair at or after `from` where a member named `e…` or `u…` may begin
/// (a quote before `e` or `u`) or a `\u` escape does (a backslash before `u`), or npos: where a
/// chunk may hold `"error"` or `"usage"`, or spell either with an escape.
std::size_t find_key_mark(std::string_view text, std::size_t from = 0);

/// Offset of the first CR or LF of `text` at or after `from`, or npos: where an SSE line ends
/// (every streamed event's line is searched for its end as it is parsed).
std::size_t find_line_end(std::string_view text, std::size_t from = 0);

namespace text_find_detail {
// Both ways, for the tests: the AVX2 ones only where byte_scan::detail::has_avx2().
std::size_t find_text_sse2(std::string_view text, std::string_view needle, std::size_t from);
std::size_t find_text_avx2(std::string_view text, std::string_view needle, std::size_t from);
std::size_t find_key_mark_sse2(std::string_view text, std::size_t from);
std::size_t find_key_mark_avx2(std::string_view text, std::size_t from);
std::size_t find_line_end_sse2(std::string_view text, std::size_t from);
std::size_t find_line_end_avx2(std::string_view text, std::size_t from);
}  // namespace text_find_detail

}  // namespace sb::adapters
