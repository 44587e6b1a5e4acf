#pragma once
// Reading trail files a line at a time with a bound, for `audit verify` and `replay`: memory stays
// flat whatever a file holds (a trail is evidence, and evidence may have been tampered with).

#include <cstddef>
#include <istream>
#include <string>

namespace sb::gateway::audit {

/// The longest trail line a reader holds (the gateway's lines are a few KiB); the rest of a longer
/// one is read past, its bytes not held.
inline constexpr std::size_t kMaxTrailLine = std::size_t{1} << 20;

/// One line read by next_trail_line.
struct TrailLine {
  std::string text;       ///< without its '\n'; at most kMaxTrailLine bytes
  std::size_t bytes = 0;  ///< the line's whole length (more than text.size() when too long)
  bool too_long = false;  ///< longer than kMaxTrailLine: `text` holds its first bytes only
  bool torn = false;      ///< the input ended inside it (no '\n'): a batch lost in a crash
};

/// Reads the next line of `in` into `line` (its storage reused). False at the end of the input.
bool next_trail_line(std::istream& in, TrailLine& line);

}  // namespace sb::gateway::audit
