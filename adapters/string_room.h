#pragma once
// Room in a string for bytes about to be written into it.

#include <cstddef>
#include <string>

namespace sb::adapters {

/// Resizes `s` to `n` bytes without writing the bytes it gains: their values are unspecified
/// until the caller writes them (a request body about to be read from the socket into place).
/// Where the standard library cannot (before C++23's resize_and_overwrite), they are zeroed.
void resize_for_overwrite(std::string& s, std::size_t n);

}  // namespace sb::adapters
