#pragma once
// Memory for key material (provider API keys, AWS credentials, the admin token) that stays out of
// core dumps.
//
// Every allocation gets its own page-aligned anonymous mapping marked MADV_DONTDUMP (and, when
// the memlock limit allows, mlock'ed so it is never written to swap). The mapping is wiped
// (explicit_bzero) before it is unmapped. Allocations happen when a config is loaded and freed
// when the last snapshot holding it goes away: never on the request path.
//
// `SecretString` is a std::string on that memory. Strings shorter than the small-string buffer
// (15 bytes in libstdc++) live inside the string object instead; real provider keys and admin
// tokens (at least 16 characters) are longer. A SecretString converts to std::string_view, so
// code that builds requests reads it without copying.
//
// Pure: no gateway includes. Thread-safety: allocate and free from any thread.

#include <cstddef>
#include <cstdint>
#include <string>

namespace sb::config {

/// `n` bytes (n > 0) in their own DONTDUMP mapping; throws std::bad_alloc when mmap fails.
void* secret_allocate(std::size_t n);
/// Wipes and unmaps what secret_allocate(n) returned.
void secret_free(void* p, std::size_t n) noexcept;

struct SecretMemoryStats {
  std::size_t mappings = 0;  ///< live secret mappings
  std::size_t locked = 0;    ///< of which mlock succeeded
  /// Start address of the lowest live mapping (0 when none): lets a test find it in
  /// /proc/PID/smaps. An address, never the content.
  std::uintptr_t first = 0;
};
SecretMemoryStats secret_memory_stats();

template <class T>
struct SecretAllocator {
  using value_type = T;
  SecretAllocator() noexcept = default;
  template <class U>
  SecretAllocator(const SecretAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
  T* allocate(std::size_t n) { return static_cast<T*>(secret_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { secret_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const SecretAllocator<U>&) const noexcept {
    return true;
  }
};

using SecretString = std::basic_string<char, std::char_traits<char>, SecretAllocator<char>>;

}  // namespace sb::config
