#pragma once
// Split points for feeding one fuzz input to an incremental parser in pieces. They are derived
// from the input itself (a hash seeds a small generator), so the seed corpus stays raw wire bytes
// and a crashing input replays the same pieces.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sb::fuzz {

/// Cuts `data` into pieces of 1..64 bytes (occasionally 0, an empty feed), chosen
/// deterministically from the bytes of `data`.
inline std::vector<std::string_view> split(std::string_view data) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : data) {
    h = (h ^ c) * 1099511628211ull;
  }
  std::vector<std::string_view> pieces;
  std::size_t pos = 0;
  while (pos < data.size()) {
    h ^= h << 13;  // xorshift64
    h ^= h >> 7;
    h ^= h << 17;
    const std::size_t n = (h >> 58) == 0 ? 0 : 1 + static_cast<std::size_t>(h % 64);
    pieces.push_back(data.substr(pos, n));
    pos += pieces.back().size();
  }
  return pieces;
}

/// Stops the run with a crash libFuzzer records, when `ok` is false (an oracle was broken).
inline void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace sb::fuzz
