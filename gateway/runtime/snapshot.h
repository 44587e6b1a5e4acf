#pragma once
// The immutable runtime form of a configuration: what one request reads, once, at its start.
//
// Built on the control path from a validated Config (URLs parsed, TLS contexts loaded, the
// policy engine and its detectors compiled, metric cells resolved), then handed to every worker.
// A request keeps its snapshot until it ends, so a reload never changes the rules under a
// request in flight. Live counters (in-flight, rates, budgets) live in the policies' state, whose
// per-name slots are shared from one snapshot to the next.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/engines.h"
#include "adapters/translator.h"
#include "adapters/upstream/client.h"
#include "adapters/upstream/endpoint.h"
#include "gateway/observability/metrics.h"
#include "gateway/runtime/circuit.h"
#include "policies/config.h"
#include "policies/engine.h"
#include "policies/load.h"
#include "policies/state.h"

namespace sb::gateway {

/// Time histograms of one (model alias, backend) pair.
class StateSync;
class SharedStore;
class LoadScraper;

struct RouteStats {
  metrics::Histogram* duration = nullptr;
  metrics::Histogram* ttft = nullptr;
};

struct BackendRuntime;

/// One replica (`endpoints:` entry) of a backend.
struct EndpointRuntime {
  std::string url;  ///< as configured: the `endpoint` label of its metrics
  /// The backend as seen through this endpoint (its URL, translator spec and circuit; every other
  /// member as the backend's), which a try on this endpoint uses throughout. nullptr when the
  /// backend has one endpoint: the backend itself is that view.
  std::shared_ptr<const BackendRuntime> view;
  /// This endpoint's breaker (the backend's own when it has one endpoint). Shared across reloads
  /// by (backend, url).
  std::shared_ptr<Circuit> circuit;
  /// Tries in flight on this endpoint, shared across reloads by (backend, url). Pools only.
  std::shared_ptr<std::atomic<std::int64_t>> in_flight;
  metrics::Counter* requests = nullptr;  ///< switchboard_endpoint_requests_total; pools only
  // Engine signals, refreshed at scrape time when the backend is scraped (else nullptr).
  metrics::DoubleGauge* queue_depth = nullptr;
  metrics::DoubleGauge* kv_cache = nullptr;
  metrics::DoubleGauge* running = nullptr;
};

/// The waiting room of a backend under a `spill` rule's queue (Decision::wait); shared across
/// reloads by backend name, so its bound holds for the process.
struct WaitQueue {
  std::atomic<std::int64_t> waiting{0};
};

struct BackendRuntime {
  std::size_t index = 0;  ///< position in Config::backends
  const config::Backend* spec = nullptr;
  std::string_view hosting;     ///< "self-hosted" | "closed"
  upstream::Endpoint endpoint;  ///< the first endpoint's (the only one outside pools)
  std::shared_ptr<boost::asio::ssl::context> tls;  ///< for https endpoints, shared by all
  /// One per `endpoints:` entry (the base_url alone when none were given); never empty. A view
  /// (EndpointRuntime::view) has none.
  std::vector<EndpointRuntime> endpoints;
  /// The engine's load board (written by the scraper); nullptr when the backend is not scraped.
  std::shared_ptr<const policies::LoadBoard> load;
  metrics::DoubleGauge* signals_fresh = nullptr;  ///< switchboard_backend_signals_fresh; scraped
  std::shared_ptr<WaitQueue> queue;               ///< shared by name across reloads
  metrics::Histogram* queue_wait = nullptr;       ///< switchboard_queue_wait_seconds
  metrics::Gauge* queue_waiting = nullptr;        ///< switchboard_queue_waiting, at scrape time
  metrics::Counter* queue_timeouts = nullptr;     ///< switchboard_queue_timeouts_total
  upstream::Timeouts timeouts;
  /// For a complete (non-streamed) answer, whose header comes only once the whole answer is
  /// written: `timeouts` with the wait for the header bounded by `total`, not `first_token`.
  upstream::Timeouts answer_timeouts;
  /// The key as OpenAI-format requests and health probes carry it: `Authorization: Bearer <key>`,
  /// or Azure's `api-key: <key>`. An empty name when the backend has no key.
  std::string credential_header;
  config::SecretString credential;  ///< kept out of core dumps, like the config's keys
  /// Extra upstream headers: the config's `headers`, and OpenAI's organization and project.
  std::vector<std::pair<std::string, std::string>> headers;
  /// switchboard_upstream_errors_total{backend,kind}: one cell per upstream::ErrorKind, and
  /// `http_5xx` for error statuses.
  std::array<metrics::Counter*, 16> upstream_errors{};
  metrics::Counter* upstream_http_5xx = nullptr;
  metrics::Counter* retries = nullptr;  ///< switchboard_retries_total{backend}
  metrics::Gauge* in_flight = nullptr;  ///< refreshed from the state at scrape time
  /// Shared by every snapshot that has a backend of this name, so its history survives reloads.
  std::shared_ptr<Circuit> circuit;
  metrics::DoubleGauge* up = nullptr;  ///< switchboard_backend_up, refreshed at scrape time
  /// OpenAI-format completions and embeddings bodies can be sent as they are.
  bool openai_wire = true;
  /// Chat completions go through the provider's translator (else the body passes through).
  bool chat_translated = false;
  /// Azure OpenAI: deployment URLs, the api-key header, content-filter members removed.
  bool azure = false;
  /// The engine's quirks, applied to pass-through chat bodies.
  const adapters::EngineProfile* engine = nullptr;
  adapters::BackendSpec translator_spec;  ///< for translated providers

  void count_error(upstream::ErrorKind kind) const {
    const auto i = static_cast<std::size_t>(kind);
    if (i < upstream_errors.size() && upstream_errors[i] != nullptr) {
      upstream_errors[i]->inc();
    }
  }
  void count_error_status() const { upstream_http_5xx->inc(); }
  /// Several endpoints: each try picks one (gateway/runtime/pool.h).
  bool pooled() const { return endpoints.size() > 1; }
  /// The credential upstream text must never echo back to clients (the key, or the AWS secret).
  std::string_view secret() const {
    return spec->provider == config::Provider::bedrock ? spec->aws_secret_access_key
                                                       : spec->api_key;
  }
};

struct AliasRuntime {
  std::size_t index = 0;
  std::string name;
  std::vector<RouteStats> per_backend;  ///< indexed by backend index
  RouteStats none;                      ///< answered before reaching a backend
};

struct TenantRuntime {
  std::string name;
  metrics::Money* savings = nullptr;
  metrics::Money* reference_cost = nullptr;
  /// switchboard_rate_limited_total{tenant,kind}: requests, tokens, budget.
  std::array<metrics::Counter*, 3> rate_limited{};
  metrics::Money* budget_daily = nullptr;    ///< nullptr without a daily budget
  metrics::Money* budget_monthly = nullptr;  ///< nullptr without a monthly budget
};

/// Outcomes counted in switchboard_decisions_total, in policies::Outcome order.
inline constexpr std::size_t kOutcomes = 6;

/// Metric cells used on every request regardless of route.
struct GlobalStats {
  metrics::Histogram* overhead = nullptr;
  RouteStats unrouted;  ///< requests that never resolved a model alias
  /// [rule index + 1 (0 = no rule)][outcome]
  std::vector<std::array<metrics::Counter*, kOutcomes>> decisions;
  /// [level][entity index + 1 (0 = "none": the level came from a floor or a header)]
  std::vector<std::vector<metrics::Counter*>> sensitive;
  /// [level][backend index + 1 (0 = "none": no backend reached)]
  std::vector<std::vector<metrics::Counter*>> served;
  /// Spills by [from backend x backends + to backend]: by reason (policies::SpillReason order,
  /// `none` unused) and their cost. Empty without `spill` rules; null cells where `from` is not
  /// self-hosted.
  struct SpillCells {
    std::array<metrics::Counter*, 5> reasons{};
    metrics::Money* cost = nullptr;
  };
  std::vector<SpillCells> spills;
};

/// Process-wide pieces shared by every snapshot.
class SharedState {
 public:
  explicit SharedState(metrics::Registry& registry);
  ~SharedState();
  metrics::Registry& registry() { return registry_; }
  /// For `check` and `explain`: nothing is contacted. Load boards are still made, never
  /// written, so every engine's signals read as stale (as on a gateway's first second).
  void set_offline() { offline_ = true; }
  /// The circuit of backend `name`, created on first use (control path).
  /// The circuit of backend `name`, created on first use (control path); a new one when the
  /// backend's breaker settings changed.
  std::shared_ptr<Circuit> circuit(const std::string& name, const CircuitSettings& settings);
  /// The in-flight count of endpoint `url` of backend `backend`, created on first use.
  std::shared_ptr<std::atomic<std::int64_t>> endpoint_in_flight(const std::string& backend,
                                                                const std::string& url);
  /// The wait queue of backend `name`, created on first use.
  std::shared_ptr<WaitQueue> wait_queue(const std::string& name);
  /// The load board of a scraped backend (Backend::scrape), its scrape loops started, or
  /// restarted when its endpoints or load settings changed; nullptr when `b` is not scraped.
  /// Control path.
  std::shared_ptr<const policies::LoadBoard> load_board(const config::Backend& b);
  /// Stops the scrape loops of backends not in `backends` (names): after a reload.
  void keep_scraping(const std::vector<std::string>& backends);
  /// Stops the scraper (joins its thread): before the process exits. Idempotent.
  void stop_scraper();

  /// The shared store's background side (`state.store: redis`), started by the first config
  /// that asks for it; later configs keep it (changing `state:` needs a restart). nullptr for
  /// the memory store. Control path.
  StateSync* state_sync(const config::StateSettings& settings);
  /// Set by tests to run the shared store on an injected clock.
  void set_state_clock(std::chrono::system_clock::time_point (*now)()) { state_clock_ = now; }

 private:
  metrics::Registry& registry_;
  std::unique_ptr<StateSync> state_sync_;
  std::chrono::system_clock::time_point (*state_clock_)() = nullptr;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Circuit>> circuits_;
  std::map<std::string, std::shared_ptr<std::atomic<std::int64_t>>> endpoint_in_flight_;
  std::map<std::string, std::shared_ptr<WaitQueue>> wait_queues_;
  std::unique_ptr<LoadScraper> scraper_;
  bool offline_ = false;
};

class Snapshot {
 public:
  /// Builds the runtime view of `cfg`. `previous` (may be null) lends its live state so counters
  /// survive the reload. On failure returns nullptr and appends messages to `errors`.
  static std::shared_ptr<const Snapshot> build(config::Config cfg, SharedState& shared,
                                               const Snapshot* previous,
                                               std::vector<std::string>& errors);

  const config::Config& config() const { return *config_; }
  const policies::Engine& engine() const { return *engine_; }
  policies::StateStore& state() const { return *state_; }
  /// The shared store when `state.store: redis`, else nullptr.
  SharedStore* shared_store() const { return shared_store_.get(); }

  /// nullptr when `name` is not a configured alias.
  const AliasRuntime* find_alias(std::string_view name) const;
  const std::vector<std::unique_ptr<AliasRuntime>>& aliases() const { return aliases_; }
  const BackendRuntime& backend(std::size_t index) const { return *backends_[index]; }
  const TenantRuntime& tenant(std::size_t index) const { return tenants_[index]; }
  /// Index of a rule by name (0 = none / unknown), for per-rule metric cells.
  std::size_t rule_slot(std::string_view rule) const;
  const GlobalStats& stats() const { return stats_; }
  metrics::Registry& registry() const { return *registry_; }

  /// The tenant an API key belongs to (constant-time compare of SHA-256 digests). nullopt when
  /// unknown. With an empty key: the anonymous tenant, if the config has one.
  std::optional<std::size_t> authenticate(std::string_view api_key) const;
  /// True when the config has no API keys at all (an open gateway): keys are then ignored.
  bool open() const { return key_index_.empty(); }

  /// Body of GET /v1/models, prepared once.
  const std::string& models_body() const { return models_body_; }

  /// Copies live state into the gauges read at scrape time (in-flight, budget remaining).
  void refresh_gauges() const;

  /// The config as the audit trail records it (audit/snapshot.h: secrets redacted) and its
  /// SHA-256 (lowercase hex), computed once at build.
  const std::string& config_snapshot() const { return config_snapshot_; }
  const std::string& config_hash() const { return config_hash_; }

  /// Unique per snapshot built in this process (for per-worker caches keyed by config).
  std::uint64_t generation() const { return generation_; }

 private:
  // The steps of build().
  bool build_routing(const Snapshot* previous, SharedState& shared, std::string& error);
  void attach_endpoints(SharedState& shared,
                        const std::vector<std::vector<upstream::Endpoint>>& endpoints,
                        const std::vector<CircuitSettings>& breakers);
  void keep_scraping(SharedState& shared) const;
  void add_tenants(metrics::Registry& reg);

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<const policies::Engine> engine_;
  std::shared_ptr<policies::MemoryState> memory_;  ///< per replica (in-flight, local limits)
  std::shared_ptr<SharedStore> shared_store_;
  policies::StateStore* state_ = nullptr;
  metrics::Registry* registry_ = nullptr;
  std::vector<std::unique_ptr<BackendRuntime>> backends_;
  std::vector<std::unique_ptr<AliasRuntime>> aliases_;
  std::vector<TenantRuntime> tenants_;
  std::unordered_map<std::string, const AliasRuntime*, Hash, std::equal_to<>> alias_index_;
  std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> rule_index_;
  struct KeyEntry {
    std::string digest;  // SHA-256 of the key, 32 bytes
    std::size_t tenant = 0;
  };
  // First 8 digest bytes → keys with that prefix; the full digest is compared in constant time.
  std::unordered_map<std::uint64_t, std::vector<KeyEntry>> key_index_;
  std::optional<std::size_t> anonymous_;
  GlobalStats stats_;
  std::string models_body_;
  std::string config_snapshot_;
  std::string config_hash_;
  std::uint64_t generation_ = 0;
};

/// True for providers that speak OpenAI's wire format as they are (explicit list, no default).

/// SHA-256 of `key`, 32 raw bytes.
std::string sha256(std::string_view key);

}  // namespace sb::gateway
