#pragma once
// What a SAX handler for Boost.JSON's basic_parser declares about sizes: no limits of its own.
// Its callers bound their inputs (request bodies, upstream answers), and the parser's depth limit
// still applies.

#include <cstddef>

namespace sb::adapters {

struct SaxUnbounded {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
};

}  // namespace sb::adapters
