#pragma once
// What the SAX handlers for Boost.JSON's basic_parser share: what they declare about sizes (no
// limits of their own: their callers bound their inputs, request bodies and upstream answers, and
// the parser's depth limit still applies) and how they match a key.

#include <cstddef>
#include <cstring>
#include <string_view>

namespace sb::adapters {

struct SaxUnbounded {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
};

/// `key` is `lit` (its size compared first, then its bytes: the compiler compares whole words): a
/// handler's key lookup.
template <std::size_t N>
bool key_is(std::string_view key, const char (&lit)[N]) {
  return key.size() == N - 1 && std::memcmp(key.data(), lit, N - 1) == 0;
}

}  // namespace sb::adapters
