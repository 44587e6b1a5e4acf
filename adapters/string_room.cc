// Built as C++23 where the compiler takes it (adapters/CMakeLists.txt), for
// std::string::resize_and_overwrite; the rest of the project stays C++20.
#include "adapters/string_room.h"

#include <version>

namespace sb::adapters {

void resize_for_overwrite(std::string& s, std::size_t n) {
#if defined(__cpp_lib_string_resize_and_overwrite)
  // The operation returns `n`, not the size it is handed: GCC 12's library hands it the capacity
  // it grew to (twice the old one when that is more than `n`), not the size asked for.
  s.resize_and_overwrite(n, [n](char*, std::size_t) { return n; });
#else
  s.resize(n);
#endif
}

}  // namespace sb::adapters
