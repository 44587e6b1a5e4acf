#include "gateway/audit/snapshot.h"
#include "gateway/observability/log.h"
#include "gateway/observability/stats.h"
#include "gateway/runtime/load_scraper.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/runtime/translators.h"
#include "gateway/state/shared_store.h"
#include "gateway/state/state_sync.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include <boost/asio/ssl/context.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace sb::gateway {
namespace {

constexpr const char* kOutcomeNames[kOutcomes] = {"route", "forbidden",   "unavailable",
                                                  "shed",  "bad_request", "unknown_model"};

RouteStats route_stats(metrics::Registry& reg, const std::string& model,
                       const std::string& backend) {
  RouteStats out;
  out.duration =
      &reg.histogram(stats::kRequestDurationSeconds, {{"model", model}, {"backend", backend}},
                     metrics::latency_buckets());
  out.ttft = &reg.histogram(stats::kTimeToFirstTokenSeconds,
                            {{"model", model}, {"backend", backend}}, metrics::latency_buckets());
  return out;
}

std::uint64_t digest_prefix(std::string_view digest) {
  std::uint64_t v = 0;
  std::memcpy(&v, digest.data(), std::min<std::size_t>(sizeof v, digest.size()));
  return v;
}

}  // namespace

std::string sha256(std::string_view key) {
  // The algorithm is fetched once, and each thread keeps its context: EVP_sha256() on every call
  // costs OpenSSL 3 a provider lookup under a lock, most of the digest's price for a short key.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx t;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (md == nullptr || t.ctx == nullptr || EVP_DigestInit_ex2(t.ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(t.ctx, key.data(), key.size()) != 1 ||
      EVP_DigestFinal_ex(t.ctx, digest, &len) != 1) {
    EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr);
  }
  return std::string(reinterpret_cast<const char*>(digest), len);
}

namespace {

/// What the routing engine is given: the config without credentials (provider keys, AWS
/// credentials, extra upstream headers, the admin token, the Redis password). The engine decides
/// from names, hosting, clearance, tiers, prices and limits; what it never holds it cannot log,
/// explain or leak.
std::shared_ptr<const config::Config> routing_slice(const config::Config& c) {
  auto slice = std::make_shared<config::Config>(c);
  for (config::Backend& b : slice->backends) {
    b.api_key.clear();
    b.aws_access_key_id.clear();
    b.aws_secret_access_key.clear();
    b.aws_session_token.clear();
    b.headers.clear();
  }
  slice->admin.token.clear();
  slice->state.password.clear();
  return slice;
}

// One EndpointRuntime per endpoint. A backend with one endpoint is its own view and keeps its
// own circuit (the request path stays as it was); a pool's endpoints each get a view with their
// URL, translator spec and circuit, shared across reloads by (backend, url).
void add_endpoints(BackendRuntime& rt, const std::vector<upstream::Endpoint>& parsed,
                   const CircuitSettings& breaker, SharedState& shared, metrics::Registry& reg) {
  const config::Backend& b = *rt.spec;
  const std::vector<std::string> urls =
      b.endpoints.empty() ? std::vector<std::string>{b.base_url} : b.endpoints;
  for (std::size_t k = 0; k < parsed.size(); ++k) {
    EndpointRuntime e;
    e.url = urls[k];
    if (parsed.size() == 1) {
      e.circuit = rt.circuit;
    } else {
      e.circuit = shared.circuit(b.name + " " + e.url, breaker);
      e.in_flight = shared.endpoint_in_flight(b.name, e.url);
      e.requests =
          &reg.counter(stats::kEndpointRequestsTotal, {{"backend", b.name}, {"endpoint", e.url}});
    }
    if (rt.load != nullptr) {
      const metrics::Labels labels{{"backend", b.name}, {"endpoint", e.url}};
      e.queue_depth = &reg.double_gauge(stats::kBackendQueueDepth, labels);
      e.kv_cache = &reg.double_gauge(stats::kBackendKvCacheUsage, labels);
      e.running = &reg.double_gauge(stats::kBackendRunning, labels);
    }
    rt.endpoints.push_back(std::move(e));
  }
  if (parsed.size() > 1) {
    for (std::size_t k = 0; k < parsed.size(); ++k) {
      // The backend as seen through endpoint k: everything shared but its URL and circuit.
      auto view = std::make_shared<BackendRuntime>(rt);
      view->endpoints.clear();
      view->endpoint = parsed[k];
      view->circuit = rt.endpoints[k].circuit;
      view->translator_spec = backend_spec(b, parsed[k]);
      rt.endpoints[k].view = std::move(view);
    }
  }
}

// The URLs a backend is served from (its `endpoints:`, else its base URL `base`), parsed; nullopt
// with an error for the first that is not a URL.
std::optional<std::vector<upstream::Endpoint>> parse_endpoints(const config::Backend& b,
                                                               const upstream::Endpoint& base,
                                                               std::vector<std::string>& errors) {
  std::vector<upstream::Endpoint> parsed;
  for (const std::string& url : b.endpoints) {
    auto e = upstream::Endpoint::parse(url);
    if (!e) {
      errors.push_back("backends." + b.name + ".endpoints: invalid URL '" + url + "'");
      return std::nullopt;
    }
    parsed.push_back(std::move(*e));
  }
  if (parsed.empty()) {
    parsed.push_back(base);
  }
  return parsed;
}

// How the gateway speaks to a backend: its timeouts, its credential and its extra headers.
void connection_settings(const config::Backend& b, BackendRuntime& rt) {
  rt.timeouts.connect = b.timeouts.connect;
  rt.timeouts.first_byte = b.timeouts.first_token;
  rt.timeouts.idle = b.timeouts.idle;
  rt.timeouts.total = b.timeouts.total;
  rt.answer_timeouts = rt.timeouts;
  rt.answer_timeouts.first_byte = rt.timeouts.total;
  if (!b.api_key.empty()) {
    rt.credential_header = rt.azure ? "api-key" : "Authorization";  // Azure: never a bearer
    rt.credential = rt.azure ? b.api_key : "Bearer " + b.api_key;
  }
  rt.headers.assign(b.headers.begin(), b.headers.end());
  // https://platform.openai.com/docs/api-reference/authentication
  if (!b.organization.empty()) {
    rt.headers.emplace_back("OpenAI-Organization", b.organization);
  }
  if (!b.project.empty()) {
    rt.headers.emplace_back("OpenAI-Project", b.project);
  }
}

CircuitSettings circuit_settings(const config::Backend& b) {
  CircuitSettings breaker;
  breaker.consecutive_failures = b.circuit_breaker.consecutive_failures;
  breaker.error_rate = b.circuit_breaker.error_rate;
  breaker.min_requests = b.circuit_breaker.min_requests;
  breaker.window = b.circuit_breaker.window;
  breaker.open_for = b.circuit_breaker.open_for;
  breaker.max_open_for = b.circuit_breaker.max_open_for;
  breaker.probe_timeout =
      std::max<std::chrono::milliseconds>(b.timeouts.total, std::chrono::milliseconds(1'000));
  return breaker;
}

// A backend's metric cells: upstream errors by kind, retries, its info and GPU cost, up, in
// flight, and a self-hosted one's queue.
void backend_cells(const config::Backend& b, SharedState& shared, metrics::Registry& reg,
                   BackendRuntime& rt) {
  for (int k = 1; k <= static_cast<int>(upstream::ErrorKind::too_large); ++k) {
    const auto kind = static_cast<upstream::ErrorKind>(k);
    rt.upstream_errors[static_cast<std::size_t>(k)] =
        &reg.counter(stats::kUpstreamErrorsTotal,
                     {{"backend", b.name}, {"kind", std::string(upstream::to_string(kind))}});
  }
  rt.upstream_http_5xx =
      &reg.counter(stats::kUpstreamErrorsTotal, {{"backend", b.name}, {"kind", "http_5xx"}});
  rt.retries = &reg.counter(stats::kRetriesTotal, {{"backend", b.name}});
  reg.double_gauge(stats::kBackendInfo, {{"backend", b.name},
                                         {"provider", std::string(config::to_string(b.provider))},
                                         {"hosting", std::string(config::to_string(b.hosting))}})
      .set(1);
  if (b.hosting == config::Hosting::self_hosted && b.price.gpu_hour_usd > 0) {
    reg.double_gauge(stats::kBackendGpuCost, {{"backend", b.name}})
        .set(b.price.gpu_hour_usd *
             static_cast<double>(std::max<std::size_t>(1, b.endpoints.size())));
  }
  rt.up = &reg.double_gauge(stats::kBackendUp, {{"backend", b.name}});
  rt.in_flight = &reg.gauge(stats::kBackendInFlight, {{"backend", b.name}});
  if (b.hosting == config::Hosting::self_hosted) {
    rt.queue = shared.wait_queue(b.name);
    rt.queue_wait =
        &reg.histogram(stats::kQueueWaitSeconds, {{"backend", b.name}}, metrics::latency_buckets());
    rt.queue_waiting = &reg.gauge(stats::kQueueWaiting, {{"backend", b.name}});
    rt.queue_timeouts = &reg.counter(stats::kQueueTimeoutsTotal, {{"backend", b.name}});
  }
}

// The runtime of backend `i`: its wire, URLs, TLS, connection settings, circuit and cells, its
// endpoints' URLs in `endpoints` and its breaker in `breaker` (for add_endpoints). nullptr, the
// errors appended, when a URL or its TLS settings do not hold.
std::unique_ptr<BackendRuntime> backend_runtime(const config::Backend& b, std::size_t i,
                                                SharedState& shared, metrics::Registry& reg,
                                                std::vector<upstream::Endpoint>& endpoints,
                                                CircuitSettings& breaker,
                                                std::vector<std::string>& errors) {
  auto rt = std::make_unique<BackendRuntime>();
  rt->index = i;
  rt->spec = &b;
  rt->hosting = config::to_string(b.hosting);
  rt->openai_wire = speaks_openai_wire(b);
  rt->chat_translated = chat_translated(b);
  rt->azure = b.provider == config::Provider::azure_openai;
  rt->engine = &engine_of(b);
  auto ep = upstream::Endpoint::parse(b.base_url);
  if (!ep) {
    errors.push_back("backends." + b.name + ".base_url: invalid URL '" + b.base_url + "'");
    return nullptr;
  }
  rt->endpoint = *ep;
  std::optional<std::vector<upstream::Endpoint>> parsed = parse_endpoints(b, *ep, errors);
  if (!parsed) {
    return nullptr;
  }
  if (std::any_of(parsed->begin(), parsed->end(), [](const auto& e) { return e.tls; })) {
    std::string error;
    rt->tls = upstream::make_client_tls_context(b.ca_file, b.tls_verify, error);
    if (!rt->tls) {
      errors.push_back("backends." + b.name + ".tls: " + error);
      return nullptr;
    }
  }
  rt->translator_spec = backend_spec(b, rt->endpoint);
  connection_settings(b, *rt);
  breaker = circuit_settings(b);
  rt->circuit = shared.circuit(b.name, breaker);
  backend_cells(b, shared, reg, *rt);
  endpoints = std::move(*parsed);
  return rt;
}

// An alias's runtime: its per-backend latency and time-to-first-token cells.
std::unique_ptr<AliasRuntime> alias_runtime(const config::Config& c, std::size_t i,
                                            metrics::Registry& reg) {
  const config::ModelAlias& m = c.models[i];
  auto alias = std::make_unique<AliasRuntime>();
  alias->index = i;
  alias->name = m.name;
  for (const config::Backend& b : c.backends) {
    alias->per_backend.push_back(route_stats(reg, m.name, b.name));
  }
  alias->none = route_stats(reg, m.name, "none");
  return alias;
}

// GET /v1/models: every alias, as OpenAI lists models.
std::string models_list(const config::Config& c) {
  boost::json::array data;
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  for (const config::ModelAlias& m : c.models) {
    boost::json::object entry;
    entry["id"] = m.name;
    entry["object"] = "model";
    entry["created"] = created;
    entry["owned_by"] = "switchboard";
    data.push_back(std::move(entry));
  }
  boost::json::object models;
  models["object"] = "list";
  models["data"] = std::move(data);
  return boost::json::serialize(models);
}

// A tenant's cells: savings, reference cost, refusals by limit, budgets.
TenantRuntime tenant_runtime(const config::Tenant& tenant, metrics::Registry& reg) {
  TenantRuntime rt;
  rt.name = tenant.name;
  rt.savings = &reg.money_counter(stats::kSavingsUsdTotal, {{"tenant", tenant.name}});
  rt.reference_cost = &reg.money_counter(stats::kReferenceCostUsdTotal, {{"tenant", tenant.name}});
  const char* kinds[3] = {"requests", "tokens", "budget"};
  for (std::size_t k = 0; k < 3; ++k) {
    rt.rate_limited[k] =
        &reg.counter(stats::kRateLimitedTotal, {{"tenant", tenant.name}, {"kind", kinds[k]}});
  }
  for (const auto& [period, limit] : {std::pair{"daily", tenant.budget.daily_usd},
                                      std::pair{"monthly", tenant.budget.monthly_usd}}) {
    if (limit) {
      reg.money_gauge(stats::kBudgetLimitUsd, {{"tenant", tenant.name}, {"period", period}})
          .set(policies::usd_to_nanos(*limit));
    }
  }
  if (tenant.budget.daily_usd) {
    rt.budget_daily = &reg.money_gauge(stats::kBudgetRemainingUsd,
                                       {{"tenant", tenant.name}, {"period", "daily"}});
  }
  if (tenant.budget.monthly_usd) {
    rt.budget_monthly = &reg.money_gauge(stats::kBudgetRemainingUsd,
                                         {{"tenant", tenant.name}, {"period", "monthly"}});
  }
  return rt;
}

// Decisions by rule and outcome; slot 0 is no rule, then "default" when there are no policies,
// then each policy in order (`rule_index` maps names to slots).
template <class RuleIndex>
void add_decision_cells(const config::Config& c, metrics::Registry& reg, RuleIndex& rule_index,
                        GlobalStats& stats) {
  auto cells_of = [&](const std::string& rule) {
    std::array<metrics::Counter*, kOutcomes> cells{};
    for (std::size_t o = 0; o < kOutcomes; ++o) {
      cells[o] =
          &reg.counter(stats::kDecisionsTotal, {{"rule", rule}, {"outcome", kOutcomeNames[o]}});
    }
    return cells;
  };
  stats.decisions.push_back(cells_of("none"));
  if (c.policies.empty()) {
    rule_index.emplace("default", 1);
    stats.decisions.push_back(cells_of("default"));
  }
  for (const config::Policy& p : c.policies) {
    rule_index.emplace(p.name, stats.decisions.size());
    stats.decisions.push_back(cells_of(p.name));
  }
}

// Requests by sensitivity level and entity, and where each level was served: one count per
// request, "none" when it reached no backend.
void add_sensitivity_cells(const config::Config& c, const std::vector<std::string>& entities,
                           metrics::Registry& reg, GlobalStats& stats) {
  for (const std::string& level : c.sensitivity.levels.names) {
    std::vector<metrics::Counter*> row;
    row.push_back(
        &reg.counter(stats::kSensitiveRequestsTotal, {{"level", level}, {"entity", "none"}}));
    for (const std::string& entity : entities) {
      row.push_back(
          &reg.counter(stats::kSensitiveRequestsTotal, {{"level", level}, {"entity", entity}}));
    }
    stats.sensitive.push_back(std::move(row));
    std::vector<metrics::Counter*> served;
    served.push_back(&reg.counter(stats::kRequestsBySensitivityTotal,
                                  {{"level", level}, {"backend", "none"}, {"hosting", "none"}}));
    for (const config::Backend& b : c.backends) {
      served.push_back(&reg.counter(stats::kRequestsBySensitivityTotal,
                                    {{"level", level},
                                     {"backend", b.name},
                                     {"hosting", std::string(config::to_string(b.hosting))}}));
    }
    stats.served.push_back(std::move(served));
  }
}

// The spill counters, by (from, to): from a self-hosted backend to any other.
void add_spill_cells(const config::Config& c, metrics::Registry& reg, GlobalStats& stats) {
  const bool spills = std::any_of(c.policies.begin(), c.policies.end(), [](const auto& p) {
    return p.route.strategy == config::Strategy::spill;
  });
  if (!spills) {
    return;
  }
  const std::size_t n = c.backends.size();
  stats.spills.resize(n * n);
  constexpr policies::SpillReason kReasons[] = {
      policies::SpillReason::queue, policies::SpillReason::kv_cache,
      policies::SpillReason::in_flight, policies::SpillReason::stale};
  for (std::size_t from = 0; from < n; ++from) {
    if (c.backends[from].hosting != config::Hosting::self_hosted) {
      continue;
    }
    for (std::size_t to = 0; to < n; ++to) {
      if (to == from) {
        continue;
      }
      GlobalStats::SpillCells& cells = stats.spills[from * n + to];
      const std::string& f = c.backends[from].name;
      const std::string& t = c.backends[to].name;
      for (const policies::SpillReason r : kReasons) {
        cells.reasons[static_cast<std::size_t>(r)] =
            &reg.counter(stats::kSpillsTotal,
                         {{"from", f}, {"to", t}, {"reason", std::string(policies::to_string(r))}});
      }
      cells.cost = &reg.money_counter(stats::kSpillCostUsdTotal, {{"from", f}, {"to", t}});
    }
  }
}

}  // namespace

std::shared_ptr<const Snapshot> Snapshot::build(config::Config cfg, SharedState& shared,
                                                const Snapshot* previous,
                                                std::vector<std::string>& errors) {
  static std::atomic<std::uint64_t> generations{0};
  auto snap = std::shared_ptr<Snapshot>(new Snapshot());
  snap->generation_ = ++generations;
  metrics::Registry& reg = shared.registry();
  snap->registry_ = &reg;
  snap->config_ = std::make_shared<const config::Config>(std::move(cfg));
  const config::Config& c = *snap->config_;
  snap->config_snapshot_ = audit::snapshot_text(c.text);
  snap->config_hash_ = audit::snapshot_hash(snap->config_snapshot_);

  std::string error;
  if (!snap->build_routing(previous, shared, error)) {
    errors.push_back(error);
    return nullptr;
  }

  std::vector<std::vector<upstream::Endpoint>> parsed_endpoints(c.backends.size());
  std::vector<CircuitSettings> breakers(c.backends.size());
  for (std::size_t i = 0; i < c.backends.size(); ++i) {
    if (auto rt = backend_runtime(c.backends[i], i, shared, reg, parsed_endpoints[i], breakers[i],
                                  errors)) {
      snap->backends_.push_back(std::move(rt));
    }
  }
  if (!errors.empty()) {
    return nullptr;
  }
  snap->attach_endpoints(shared, parsed_endpoints, breakers);
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    auto alias = alias_runtime(c, i, reg);
    snap->alias_index_.emplace(alias->name, alias.get());
    snap->aliases_.push_back(std::move(alias));
  }
  snap->models_body_ = models_list(c);
  snap->add_tenants(reg);
  add_decision_cells(c, reg, snap->rule_index_, snap->stats_);
  add_sensitivity_cells(c, snap->engine_->detector().entity_names(), reg, snap->stats_);
  add_spill_cells(c, reg, snap->stats_);
  snap->keep_scraping(shared);
  snap->stats_.overhead = &reg.histogram(stats::kOverheadSeconds, {}, metrics::overhead_buckets());
  snap->stats_.unrouted = route_stats(reg, "none", "none");
  return snap;
}

// build(): the routing engine (its detector reused when the sensitivity settings did not change)
// and the state it reads, carried over from `previous`. False with `error` when the engine does
// not build.
bool Snapshot::build_routing(const Snapshot* previous, SharedState& shared, std::string& error) {
  const config::Config& c = *config_;
  std::shared_ptr<const config::Config> routing = routing_slice(c);
  if (previous != nullptr && previous->config().sensitivity == c.sensitivity) {
    // Compiling the detector database dominates a reload; unchanged settings reuse it.
    engine_ =
        policies::Engine::build(std::move(routing), previous->engine().shared_detector(), error);
  } else {
    engine_ = policies::Engine::build(std::move(routing), error);
  }
  if (!engine_) {
    return false;
  }
  memory_ = std::make_shared<policies::MemoryState>(c);
  if (previous != nullptr) {
    memory_->carry_over(*previous->memory_);
  }
  state_ = memory_.get();
  if (StateSync* sync = shared.state_sync(c.state)) {
    shared_store_ = std::make_shared<SharedStore>(*config_, *sync, memory_);
    state_ = shared_store_.get();
  }
  return true;
}

// build(), once every backend built: each backend's load board (scraping starts only for a
// config that builds, so a rejected one leaves the running config's boards alone) and endpoints.
void Snapshot::attach_endpoints(SharedState& shared,
                                const std::vector<std::vector<upstream::Endpoint>>& endpoints,
                                const std::vector<CircuitSettings>& breakers) {
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    BackendRuntime& rt = *backends_[i];
    rt.load = shared.load_board(*rt.spec);
    if (rt.load != nullptr) {
      rt.signals_fresh =
          &registry_->double_gauge(stats::kBackendSignalsFresh, {{"backend", rt.spec->name}});
      memory_->attach_load(i, rt.load);
    }
    add_endpoints(rt, endpoints[i], breakers[i], shared, *registry_);
  }
}

// build(): the scraper keeps the loops of this config's scraped backends and stops the others.
void Snapshot::keep_scraping(SharedState& shared) const {
  std::vector<std::string> scraped;
  for (const auto& b : backends_) {
    if (b->load != nullptr) {
      scraped.push_back(b->spec->name);
    }
  }
  shared.keep_scraping(scraped);
}

// build(): each tenant's runtime, its keys' digests indexed, and the anonymous tenant.
void Snapshot::add_tenants(metrics::Registry& reg) {
  const config::Config& c = *config_;
  for (std::size_t t = 0; t < c.tenants.size(); ++t) {
    tenants_.push_back(tenant_runtime(c.tenants[t], reg));
    for (const std::string& digest : c.tenants[t].key_hashes) {
      key_index_[digest_prefix(digest)].push_back({digest, t});
    }
  }
  if (const config::Tenant* anon = c.find_tenant(c.auth.anonymous_tenant)) {
    anonymous_ = static_cast<std::size_t>(anon - c.tenants.data());
  }
}

const AliasRuntime* Snapshot::find_alias(std::string_view name) const {
  const auto it = alias_index_.find(name);
  return it == alias_index_.end() ? nullptr : it->second;
}

SharedState::SharedState(metrics::Registry& registry) : registry_(registry) {}
SharedState::~SharedState() {
  stop_scraper();
}

std::shared_ptr<std::atomic<std::int64_t>> SharedState::endpoint_in_flight(
    const std::string& backend, const std::string& url) {
  std::lock_guard lock(mutex_);
  auto& slot = endpoint_in_flight_[backend + " " + url];
  if (!slot) {
    slot = std::make_shared<std::atomic<std::int64_t>>(0);
  }
  return slot;
}

std::shared_ptr<WaitQueue> SharedState::wait_queue(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = wait_queues_[name];
  if (!slot) {
    slot = std::make_shared<WaitQueue>();
  }
  return slot;
}

std::shared_ptr<const policies::LoadBoard> SharedState::load_board(const config::Backend& b) {
  if (!b.scrape) {
    return nullptr;
  }
  if (offline_) {
    return std::make_shared<const policies::LoadBoard>(
        std::max<std::size_t>(1, b.endpoints.size()));
  }
  // Under the lock, so stop_scraper (at shutdown) cannot destroy the scraper mid-call.
  std::lock_guard lock(mutex_);
  if (scraper_ == nullptr) {
    scraper_ = std::make_unique<LoadScraper>(registry_);
  }
  return scraper_->board(b);
}

void SharedState::keep_scraping(const std::vector<std::string>& backends) {
  std::lock_guard lock(mutex_);
  if (scraper_ != nullptr) {
    scraper_->keep_only(backends);
  }
}

void SharedState::stop_scraper() {
  std::unique_ptr<LoadScraper> scraper;
  {
    std::lock_guard lock(mutex_);
    scraper = std::move(scraper_);
  }
  scraper.reset();  // joins its thread
}

StateSync* SharedState::state_sync(const config::StateSettings& settings) {
  std::lock_guard lock(mutex_);
  if (state_sync_ == nullptr && settings.store == config::StateSettings::Store::redis) {
    state_sync_ = std::make_unique<StateSync>(settings, registry_, state_clock_);
  } else if (state_sync_ != nullptr && (settings.store != config::StateSettings::Store::redis ||
                                        settings.url != state_sync_->settings().url ||
                                        settings.prefix != state_sync_->settings().prefix)) {
    // The connection, the key space and the leases belong to the process: a change of store,
    // URL or prefix takes effect at the next start.
    log::warn("state: a changed store, url or prefix needs a restart; the running store is kept",
              {{"url", state_sync_->settings().url}});
  }
  return state_sync_.get();
}

std::shared_ptr<Circuit> SharedState::circuit(const std::string& name,
                                              const CircuitSettings& settings) {
  std::lock_guard lock(mutex_);
  auto& slot = circuits_[name];
  if (!slot || slot->settings() != settings) {
    slot = std::make_shared<Circuit>(settings);
  }
  return slot;
}

std::size_t Snapshot::rule_slot(std::string_view rule) const {
  const auto it = rule_index_.find(rule);
  return it == rule_index_.end() ? 0 : it->second;
}

namespace {

/// The last key this thread authenticated and its tenant, under the snapshot generation that
/// answered: a keep-alive client sends the same key request after request, and a request is
/// checked twice (before its body is read, then with it). Only a match is kept; a reload makes a
/// new generation. The key is compared in constant time and wiped when replaced.
struct LastKey {
  std::uint64_t generation = 0;
  std::string key;
  std::size_t tenant = 0;

  ~LastKey() { OPENSSL_cleanse(key.data(), key.size()); }
  bool matches(std::uint64_t g, std::string_view k) const {
    return g == generation && k.size() == key.size() &&
           CRYPTO_memcmp(k.data(), key.data(), k.size()) == 0;
  }
  void remember(std::uint64_t g, std::string_view k, std::size_t t) {
    OPENSSL_cleanse(key.data(), key.size());
    key.assign(k);
    generation = g;
    tenant = t;
  }
};

thread_local LastKey last_key;
constexpr std::size_t kMaxRememberedKey = 256;

}  // namespace

std::optional<std::size_t> Snapshot::authenticate(std::string_view api_key) const {
  if (api_key.empty() || key_index_.empty()) {
    return anonymous_;
  }
  if (last_key.matches(generation_, api_key)) {
    return last_key.tenant;
  }
  // Keys are never compared, only their SHA-256 digests, and those in constant time: the bucket
  // lookup on the first 8 digest bytes reveals nothing usable about the key itself.
  const std::string digest = sha256(api_key);
  const auto it = key_index_.find(digest_prefix(digest));
  if (it == key_index_.end()) {
    return std::nullopt;
  }
  for (const KeyEntry& e : it->second) {
    if (e.digest.size() == digest.size() &&
        CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) {
      if (api_key.size() <= kMaxRememberedKey) {
        last_key.remember(generation_, api_key, e.tenant);
      }
      return e.tenant;
    }
  }
  return std::nullopt;
}

void Snapshot::refresh_gauges() const {
  const auto now = Circuit::Clock::now();
  const std::int64_t now_ms = backends_.empty() ? 0 : policies::load_clock_ms();
  for (const auto& b : backends_) {
    b->in_flight->set(state_->backend_in_flight(b->index));
    // A pool is as up as its best endpoint.
    double up = 0;
    for (const EndpointRuntime& e : b->endpoints) {
      up = std::max(up, e.circuit->healthy() ? backend_up_value(e.circuit->state(now)) : 0.0);
    }
    b->up->set(up);
    if (b->queue_waiting != nullptr) {
      b->queue_waiting->set(b->queue->waiting.load(std::memory_order_relaxed));
    }
    if (b->load == nullptr) {
      continue;
    }
    unsigned fresh = 0;
    for (std::size_t k = 0; k < b->endpoints.size() && k < b->load->endpoints(); ++k) {
      const policies::EndpointLoad l = b->load->endpoint(k, now_ms, b->spec->load);
      const EndpointRuntime& e = b->endpoints[k];
      fresh += l.fresh ? 1 : 0;
      e.queue_depth->set(l.fresh ? l.waiting : -1);
      e.kv_cache->set(l.fresh ? l.kv_cache : -1);
      e.running->set(l.fresh ? l.running : -1);
    }
    b->signals_fresh->set(fresh);
  }
  for (std::size_t t = 0; t < tenants_.size(); ++t) {
    if (tenants_[t].budget_daily != nullptr) {
      tenants_[t].budget_daily->set(
          state_->budget_remaining(t, config::BudgetPeriod::daily).value_or(0));
    }
    if (tenants_[t].budget_monthly != nullptr) {
      tenants_[t].budget_monthly->set(
          state_->budget_remaining(t, config::BudgetPeriod::monthly).value_or(0));
    }
  }
}

}  // namespace sb::gateway
