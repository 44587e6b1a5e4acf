#include "gateway/runtime/request_stats.h"

#include <string>

#include "gateway/observability/stats.h"
#include "gateway/runtime/snapshot.h"

namespace sb::gateway {

void StatsCache::sync(const Snapshot& snap) {
  if (snap.generation() != generation_) {
    // Indexes mean other names under another config: start over (cells stay in the registry).
    requests_.clear();
    tenant_backend_.clear();
    fallbacks_.clear();
    generation_ = snap.generation();
  }
}

metrics::Counter& StatsCache::requests(const Snapshot& snap, std::size_t tenant,
                                       const AliasRuntime* alias, const BackendRuntime* backend,
                                       std::size_t rule_slot, unsigned status) {
  sync(snap);
  const std::uint64_t t = tenant == kNoTenant ? 0 : tenant + 1;
  const std::uint64_t m = alias == nullptr ? 0 : alias->index + 1;
  const std::uint64_t b = backend == nullptr ? 0 : backend->index + 1;
  const Key key{(t << 32) | m, (b << 40) | (static_cast<std::uint64_t>(rule_slot) << 16) | status};
  auto it = requests_.find(key);
  if (it != requests_.end()) {
    return *it->second;
  }
  const config::Config& c = snap.config();
  std::string rule = "none";
  if (rule_slot > 0) {
    rule = c.policies.empty() ? "default" : c.policies[rule_slot - 1].name;
  }
  metrics::Counter& cell = snap.registry().counter(
      stats::kRequestsTotal,
      {{"tenant", tenant == kNoTenant ? std::string("none") : c.tenants[tenant].name},
       {"model", alias == nullptr ? std::string("none") : alias->name},
       {"backend", backend == nullptr ? std::string("none") : backend->spec->name},
       {"hosting", backend == nullptr ? std::string("none") : std::string(backend->hosting)},
       {"rule", rule},
       {"status", std::to_string(status)}});
  requests_.emplace(key, &cell);
  return cell;
}

const TenantBackendCells& StatsCache::tenant_backend(const Snapshot& snap, std::size_t tenant,
                                                     const BackendRuntime& backend) {
  sync(snap);
  const std::uint64_t key = (static_cast<std::uint64_t>(tenant) << 32) | backend.index;
  auto it = tenant_backend_.find(key);
  if (it != tenant_backend_.end()) {
    return it->second;
  }
  const std::string& tenant_name = snap.config().tenants[tenant].name;
  const std::string& backend_name = backend.spec->name;
  auto tokens = [&](const char* source) {
    auto cell = [&](const char* direction) {
      return &snap.registry().counter(stats::kTokensTotal, {{"tenant", tenant_name},
                                                            {"backend", backend_name},
                                                            {"direction", direction},
                                                            {"source", source}});
    };
    return TokenCells{cell("input"), cell("output"), cell("cached_input"), cell("reasoning"),
                      cell("cache_write")};
  };
  TenantBackendCells cells;
  cells.reported = tokens("reported");
  cells.estimated = tokens("estimated");
  cells.cost = &snap.registry().money_counter(stats::kCostUsdTotal,
                                              {{"tenant", tenant_name},
                                               {"backend", backend_name},
                                               {"hosting", std::string(backend.hosting)}});
  return tenant_backend_.emplace(key, cells).first->second;
}

metrics::Counter& StatsCache::fallback(const Snapshot& snap, const BackendRuntime& from,
                                       const BackendRuntime& to) {
  sync(snap);
  const std::uint64_t key = (static_cast<std::uint64_t>(from.index) << 32) | to.index;
  auto it = fallbacks_.find(key);
  if (it != fallbacks_.end()) {
    return *it->second;
  }
  metrics::Counter& cell = snap.registry().counter(
      stats::kFallbacksTotal, {{"from", from.spec->name}, {"to", to.spec->name}});
  fallbacks_.emplace(key, &cell);
  return cell;
}

}  // namespace sb::gateway
