#pragma once
// The immutable runtime form of a configuration: what one request reads, once, at its start.
//
// Built on the control path from a validated Config (URLs parsed, TLS contexts loaded, metric
// cells resolved), then handed to every worker. A request keeps its shared_ptr until it ends, so
// a reload never changes the rules under a request in flight.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/upstream/client.h"
#include "adapters/upstream/endpoint.h"
#include "gateway/metrics.h"
#include "policies/config.h"

namespace sb::gateway {

/// Status codes with their own pre-resolved counter; anything else counts as "other".
inline constexpr std::array<unsigned, 15> kTrackedStatuses = {
    200, 400, 401, 403, 404, 405, 408, 413, 422, 429, 431, 500, 502, 503, 504};
std::size_t status_slot(unsigned status);  ///< index into a StatusCounters array

using StatusCounters = std::array<metrics::Counter*, kTrackedStatuses.size() + 1>;

/// Live state of a backend that survives reloads (keyed by backend name).
struct BackendState {
  std::atomic<std::int64_t> in_flight{0};
  metrics::Gauge* in_flight_gauge = nullptr;
};

/// Metric cells for one (model alias, backend) route.
struct RouteStats {
  StatusCounters requests{};
  metrics::Histogram* duration = nullptr;
  metrics::Histogram* ttft = nullptr;
};

struct BackendRuntime {
  config::Backend spec;
  upstream::Endpoint endpoint;
  std::unique_ptr<boost::asio::ssl::context> tls;  ///< for https endpoints
  upstream::Timeouts timeouts;
  std::string authorization;  ///< "Bearer <key>" or empty
  std::shared_ptr<BackendState> state;
  metrics::Counter* tokens_input = nullptr;
  metrics::Counter* tokens_output = nullptr;
  metrics::Counter* tokens_cached = nullptr;
  metrics::Counter* tokens_reasoning = nullptr;
  /// switchboard_upstream_errors_total{backend,kind}: one cell per upstream::ErrorKind, plus
  /// `http_5xx` for error statuses.
  std::array<metrics::Counter*, 16> upstream_errors{};
  metrics::Counter* upstream_http_5xx = nullptr;

  void count_error(upstream::ErrorKind kind) const {
    const auto i = static_cast<std::size_t>(kind);
    if (i < upstream_errors.size() && upstream_errors[i] != nullptr) {
      upstream_errors[i]->inc();
    }
  }
  void count_error_status(unsigned /*status*/) const { upstream_http_5xx->inc(); }
};

struct AliasRuntime {
  std::string name;
  std::vector<const BackendRuntime*> candidates;
  std::vector<RouteStats> stats;  ///< parallel to candidates
  RouteStats no_backend;          ///< requests answered before reaching a backend
};

/// Metric cells used on every request regardless of route.
struct GlobalStats {
  metrics::Histogram* overhead = nullptr;
  RouteStats unrouted;  ///< requests that never resolved a model alias (bad JSON, unknown model)
};

/// Process-wide, reload-surviving pieces shared by every snapshot.
class SharedState {
 public:
  explicit SharedState(metrics::Registry& registry) : registry_(registry) {}
  metrics::Registry& registry() { return registry_; }
  /// Returns the persistent state of backend `name`, creating it on first use (control path).
  std::shared_ptr<BackendState> backend_state(const std::string& name);

 private:
  metrics::Registry& registry_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<BackendState>> backends_;
};

class Snapshot {
 public:
  /// Builds the runtime view of `cfg`. On failure (e.g. an unreadable CA file) returns nullptr
  /// and appends messages to `errors`.
  static std::shared_ptr<const Snapshot> build(config::Config cfg, SharedState& shared,
                                               std::vector<std::string>& errors);

  const config::Config& config() const { return config_; }
  /// nullptr when `name` is not a configured alias.
  const AliasRuntime* find_alias(std::string_view name) const;
  const std::vector<std::unique_ptr<AliasRuntime>>& aliases() const { return aliases_; }
  const GlobalStats& stats() const { return stats_; }
  /// Body of GET /v1/models, prepared once.
  const std::string& models_body() const { return models_body_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  config::Config config_;
  std::vector<std::unique_ptr<BackendRuntime>> backends_;
  std::vector<std::unique_ptr<AliasRuntime>> aliases_;
  std::unordered_map<std::string, const AliasRuntime*, Hash, std::equal_to<>> alias_index_;
  GlobalStats stats_;
  std::string models_body_;
};

}  // namespace sb::gateway
