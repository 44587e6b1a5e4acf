#include "policies/cpu.h"

namespace sb::policies::cpu {

namespace {

const bool kAvx2 = [] {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();  // a static initializer may run before libgcc's own
  return __builtin_cpu_supports("avx2") != 0;
#else
  return false;
#endif
}();

}  // namespace

bool has_avx2() {
  return kAvx2;
}

}  // namespace sb::policies::cpu
