#include "policies/secret_memory.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <new>
#include <set>

namespace sb::config {
namespace {

// Live mappings and how many of them are locked. Never destroyed: snapshots may free their
// secrets while the process exits.
struct Registry {
  std::mutex mutex;
  std::set<std::uintptr_t> live;
  std::set<std::uintptr_t> locked;
};
Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

std::size_t mapping_size(std::size_t n) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

}  // namespace

void* secret_allocate(std::size_t n) {
  const std::size_t size = mapping_size(n == 0 ? 1 : n);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw std::bad_alloc();
  }
  // Out of core dumps (also those taken by gcore); out of swap when the memlock limit allows.
  // Neither can fail for a fresh anonymous mapping except mlock, which is optional.
  ::madvise(p, size, MADV_DONTDUMP);
  // Named in /proc/PID/maps as [anon:switchboard-secrets] on kernels that support it.
  ::prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, reinterpret_cast<unsigned long>(p), size,
          reinterpret_cast<unsigned long>("switchboard-secrets"));
  const bool locked = ::mlock(p, size) == 0;
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.live.insert(reinterpret_cast<std::uintptr_t>(p));
  if (locked) {
    r.locked.insert(reinterpret_cast<std::uintptr_t>(p));
  }
  return p;
}

void secret_free(void* p, std::size_t n) noexcept {
  if (p == nullptr) {
    return;
  }
  const std::size_t size = mapping_size(n == 0 ? 1 : n);
  ::explicit_bzero(p, size);
  {
    Registry& r = registry();
    const std::lock_guard lock(r.mutex);
    r.live.erase(reinterpret_cast<std::uintptr_t>(p));
    r.locked.erase(reinterpret_cast<std::uintptr_t>(p));
  }
  ::munmap(p, size);  // also unlocks
}

SecretMemoryStats secret_memory_stats() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  return {r.live.size(), r.locked.size(), r.live.empty() ? 0 : *r.live.begin()};
}

}  // namespace sb::config
