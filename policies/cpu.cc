#include "policies/cpu.h"

namespace sb::policies::cpu {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// A static initializer may run before libgcc's own, hence the init first.
const bool kAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") != 0);
#else
const bool kAvx2 = false;
#endif

}  // namespace

bool has_avx2() {
  return kAvx2;
}

}  // namespace sb::policies::cpu
