#pragma once
// Per-worker cache of the metric cells whose label sets multiply (tenant × model × backend × rule
// × status): each combination is resolved in the registry once per worker and snapshot, then
// found with one hash lookup on this thread, no locks. Worker thread only.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <unordered_map>

#include "gateway/observability/metrics.h"

namespace sb::gateway {

class Snapshot;
struct AliasRuntime;
struct BackendRuntime;

inline constexpr std::size_t kNoTenant = std::numeric_limits<std::size_t>::max();

/// switchboard_tokens_total for one tenant × backend, per source of the counts.
struct TokenCells {
  metrics::Counter* input = nullptr;
  metrics::Counter* output = nullptr;
  metrics::Counter* cached_input = nullptr;
  metrics::Counter* reasoning = nullptr;
  metrics::Counter* cache_write = nullptr;  ///< direction="cache_write": prompt-cache writes
};

struct TenantBackendCells {
  TokenCells reported;   ///< source="reported": the upstream's usage
  TokenCells estimated;  ///< source="estimated": the upstream gave none, the gateway counted
  metrics::Money* cost = nullptr;
};

class StatsCache {
 public:
  /// switchboard_requests_total{tenant,model,backend,hosting,rule,status}.
  metrics::Counter& requests(const Snapshot& snap, std::size_t tenant, const AliasRuntime* alias,
                             const BackendRuntime* backend, std::size_t rule_slot, unsigned status);
  /// switchboard_tokens_total{tenant,backend,direction,source} and
  /// cost_usd_total{tenant,backend,hosting}.
  const TenantBackendCells& tenant_backend(const Snapshot& snap, std::size_t tenant,
                                           const BackendRuntime& backend);
  /// switchboard_fallbacks_total{from,to}.
  metrics::Counter& fallback(const Snapshot& snap, const BackendRuntime& from,
                             const BackendRuntime& to);

 private:
  struct Key {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::uint64_t>{}(k.a * 0x9e3779b97f4a7c15ULL ^ k.b);
    }
  };
  void sync(const Snapshot& snap);

  std::uint64_t generation_ = 0;
  std::unordered_map<Key, metrics::Counter*, KeyHash> requests_;
  std::unordered_map<std::uint64_t, TenantBackendCells> tenant_backend_;
  std::unordered_map<std::uint64_t, metrics::Counter*> fallbacks_;
};

}  // namespace sb::gateway
