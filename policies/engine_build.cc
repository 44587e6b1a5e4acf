// Engine::build: the config compiled once into indexes (engine_internal.h), so that decide()
// compares integers. Every name a policy, alias or cost setting uses is resolved here; an unknown
// one fails the build with its key path.

#include <algorithm>
#include <cmath>

#include "policies/engine.h"
#include "policies/engine_internal.h"

namespace sb::policies {

using namespace engine_detail;

namespace {

/// A price in pico-dollars per token, to the nearest pico-dollar: exact for any price quoted to
/// a millionth of a dollar per million tokens. Clamped to 2^60 (a million dollars per token), so
/// that sums of products with 64-bit token counts stay within 128 bits.
std::int64_t pico_per_token(double pico) {
  constexpr double kMax = static_cast<double>(std::int64_t{1} << 60);
  if (!(pico > 0)) {
    return 0;
  }
  return pico >= kMax ? std::int64_t{1} << 60 : static_cast<std::int64_t>(std::llround(pico));
}

/// Per-token prices: quoted for closed backends, amortized from the GPU-hour for self-hosted ones.
Engine::Prices backend_prices(const config::Backend& b) {
  Engine::Prices price;
  if (b.hosting == config::Hosting::closed) {
    price.input = pico_per_token(b.price.input_per_mtok * 1e6);
    price.output = pico_per_token(b.price.output_per_mtok * 1e6);
    // An undeclared cached or cache-write price (0) bills those tokens at the input price: a
    // budget must not be undercut by a missing table entry.
    price.cached = b.price.cached_input_per_mtok > 0
                       ? pico_per_token(b.price.cached_input_per_mtok * 1e6)
                       : price.input;
    price.cache_write = b.price.cache_write_per_mtok > 0
                            ? pico_per_token(b.price.cache_write_per_mtok * 1e6)
                            : price.input;
  } else if (b.price.gpu_hour_usd > 0 && b.price.tokens_per_second > 0) {
    // Amortized: one GPU-hour serves 3600 * tokens_per_second tokens, input and output alike;
    // rounded once, to the pico-dollar.
    const std::int64_t per_token =
        pico_per_token(b.price.gpu_hour_usd * 1e12 / (3600.0 * b.price.tokens_per_second));
    price = Engine::Prices{per_token, per_token, per_token, per_token};
  }
  return price;
}

/// The detector must report the levels this config gives its entities: the same names in the
/// same order, the same level each.
bool detector_matches(const config::Config& c, const Detector& detector) {
  const std::vector<std::string>& builtins = config::builtin_entities();
  std::vector<int> levels(builtins.size(), -1);
  for (const config::EntityLevel& e : c.sensitivity.entities) {
    auto it = std::find(builtins.begin(), builtins.end(), e.entity);
    if (it != builtins.end()) {
      levels[static_cast<std::size_t>(it - builtins.begin())] = e.level;
    }
  }
  for (const config::CustomDetector& cd : c.sensitivity.custom) {
    levels.push_back(cd.level);
  }
  const std::vector<std::string>& names = detector.entity_names();
  bool same = names.size() == levels.size();
  for (std::size_t i = 0; same && i < names.size(); ++i) {
    same = detector.level_of(i) == levels[i] &&
           (i < builtins.size() ? names[i] == builtins[i]
                                : names[i] == c.sensitivity.custom[i - builtins.size()].name);
  }
  return same;
}

}  // namespace

std::optional<std::size_t> Engine::Impl::backend_index(std::string_view name) const {
  for (std::size_t i = 0; i < config->backends.size(); ++i) {
    if (config->backends[i].name == name) {
      return i;
    }
  }
  return std::nullopt;
}

bool Engine::Impl::resolve_backend(std::string_view name, std::string_view where, std::size_t& out,
                                   std::string& error) const {
  std::optional<std::size_t> i = backend_index(name);
  if (!i) {
    error = std::string(where) + ": unknown backend '" + std::string(name) + "'";
    return false;
  }
  out = *i;
  return true;
}

bool Engine::Impl::resolve_backends(const std::vector<std::string>& names, std::string_view where,
                                    std::vector<std::size_t>& out, std::string& error) const {
  for (const std::string& n : names) {
    std::size_t i = 0;
    if (!resolve_backend(n, where, i, error)) {
      return false;
    }
    if (std::find(out.begin(), out.end(), i) == out.end()) {
      out.push_back(i);
    }
  }
  return true;
}

bool Engine::Impl::compile_backends(std::string& error) {
  const config::Config& c = *config;
  for (const config::Backend& b : c.backends) {
    BackendInfo info;
    info.name = b.name;
    info.clearance = find_exact(c.sensitivity.levels, b.clearance);
    info.tier = find_exact(c.tiers.levels, b.tier);
    if (info.clearance < 0) {
      error = "backends." + b.name + ".clearance: unknown level '" + b.clearance + "'";
      return false;
    }
    if (info.tier < 0) {
      error = "backends." + b.name + ".tier: unknown tier '" + b.tier + "'";
      return false;
    }
    info.closed = b.hosting == config::Hosting::closed;
    info.license_commercial = b.license_commercial;
    info.max_in_flight = b.max_in_flight;
    info.weight = std::max(1u, b.weight);
    info.price = backend_prices(b);
    info.load = &b.load;
    backends.push_back(info);
  }
  return true;
}

void Engine::Impl::compile_tenants() {
  for (const config::Tenant& t : config->tenants) {
    TenantInfo info;
    info.name = t.name;
    info.floor = t.floor;
    info.commercial = t.use == config::TenantUse::commercial;
    info.self_hosted_only_when_exhausted =
        (t.budget.daily_usd || t.budget.monthly_usd) &&
        t.budget.on_exhausted == config::BudgetAction::self_hosted_only;
    tenants.push_back(info);
  }
  if (tenants.empty()) {
    tenants.push_back(TenantInfo{kImplicitRule, 0, true, false});  // the implicit tenant
  }
}

bool Engine::Impl::compile_aliases(std::string& error) {
  const config::Config& c = *config;
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    const config::ModelAlias& m = c.models[i];
    AliasInfo info;
    if (!resolve_backends(m.candidates, "models." + m.name + ".candidates", info.candidates,
                          error)) {
      return false;
    }
    if (!m.tier.empty()) {
      info.tier = find_exact(c.tiers.levels, m.tier);
      if (info.tier < 0) {
        error = "models." + m.name + ".tier: unknown tier '" + m.tier + "'";
        return false;
      }
    }
    aliases.push_back(std::move(info));
    alias_index.emplace(m.name, i);
  }
  return true;
}

bool Engine::Impl::compile_scope(const config::When& w, const std::string& where, CompiledRule& r,
                                 std::string& error) const {
  if (!w.tenants.empty()) {
    r.tenants.assign(tenants.size(), false);
    for (const std::string& name : w.tenants) {
      bool found = false;
      for (std::size_t t = 0; t < tenants.size(); ++t) {
        if (tenants[t].name == name) {
          r.tenants[t] = found = true;
        }
      }
      if (!found) {
        error = where + ".when.tenants: unknown tenant '" + name + "'";
        return false;
      }
    }
  }
  if (!w.models.empty()) {
    r.models.assign(aliases.size(), false);
    for (const std::string& name : w.models) {
      auto it = alias_index.find(name);
      if (it == alias_index.end()) {
        error = where + ".when.models: unknown model '" + name + "'";
        return false;
      }
      r.models[it->second] = true;
    }
  }
  return true;
}

bool Engine::Impl::compile_rule(const config::Policy& policy, const std::string& where,
                                std::string& error) {
  const config::When& w = policy.when;
  CompiledRule r;
  r.name = policy.name;
  r.when = &w;
  r.sensitivity = w.sensitivity;
  r.tier = w.tier;
  if (!compile_scope(w, where, r, error)) {
    return false;
  }
  if (w.volume) {
    if (!resolve_backend(w.volume->backend, where + ".when.volume.backend", r.volume_backend,
                         error)) {
      return false;
    }
    r.has_volume = true;
    r.in_flight_above = w.volume->in_flight_above;
    r.rpm_above = w.volume->rpm_above;
    r.tpm_above = w.volume->tpm_above;
  }
  if (w.load) {
    if (!resolve_backend(w.load->backend, where + ".when.load.backend", r.load_backend, error)) {
      return false;
    }
    r.has_load = true;
    r.queue_above = w.load->queue_above;
    r.kv_cache_above = w.load->kv_cache_above;
    if (w.load->ttft_p50_above) {
      r.ttft_p50_above = static_cast<double>(w.load->ttft_p50_above->count()) / 1000.0;
    }
  }
  r.budget = w.budget;
  if (!feature_empty(w.features)) {
    r.features = &w.features;
  }
  for (const auto& [name, values] : w.headers) {
    r.headers.push_back(HeaderCondition{name, &values});
  }
  if (!resolve_backends(policy.route.to, where + ".route.to", r.to, error)) {
    return false;
  }
  r.strategy = policy.route.strategy;
  r.reject = policy.route.on_unavailable == config::OnUnavailable::reject;
  r.allow_lower_tier = policy.route.allow_lower_tier;
  r.shed = policy.route.shed;
  r.queue = &policy.route.queue;
  rules.push_back(std::move(r));
  return true;
}

bool Engine::Impl::compile_rules(std::string& error) {
  for (std::size_t p = 0; p < config->policies.size(); ++p) {
    if (!compile_rule(config->policies[p], "policies[" + std::to_string(p) + "]", error)) {
      return false;
    }
  }
  if (rules.empty()) {
    CompiledRule r;
    r.name = kImplicitRule;
    rules.push_back(std::move(r));
  }
  return true;
}

bool Engine::Impl::pick_reference(std::string& error) {
  const std::string& named = config->cost.savings_reference;
  if (!named.empty()) {
    reference = backend_index(named);
    if (!reference) {
      error = "cost.savings_reference: unknown backend '" + named + "'";
      return false;
    }
    return true;
  }
  for (std::size_t i = 0; i < backends.size(); ++i) {
    const BackendInfo& b = backends[i];
    if (b.closed && (b.price.input > 0 || b.price.output > 0)) {
      reference = i;
      break;
    }
  }
  return true;
}

std::unique_ptr<const Engine> Engine::build(std::shared_ptr<const config::Config> config,
                                            std::string& error) {
  if (config == nullptr) {
    error = "no config";
    return nullptr;
  }
  std::shared_ptr<const Detector> detector = Detector::compile(config->sensitivity, error);
  if (detector == nullptr) {
    return nullptr;
  }
  return build(std::move(config), std::move(detector), error);
}

std::unique_ptr<const Engine> Engine::build(std::shared_ptr<const config::Config> config,
                                            std::shared_ptr<const Detector> detector,
                                            std::string& error) {
  if (detector == nullptr) {
    error = "no detector";
    return nullptr;
  }
  if (config == nullptr) {
    error = "no config";
    return nullptr;
  }
  const config::Config& c = *config;
  std::unique_ptr<Engine> engine(new Engine());
  engine->impl_ = std::make_unique<Impl>();
  Impl& impl = *engine->impl_;
  impl.config = &c;
  impl.egress_none = c.egress == config::Egress::none;
  impl.default_output_tokens = c.cost.default_output_tokens;
  impl.level_list = join(c.sensitivity.levels.names);
  impl.tier_list = join(c.tiers.levels.names);
  if (!impl.compile_backends(error)) {
    return nullptr;
  }
  impl.compile_tenants();
  if (!impl.compile_aliases(error) || !impl.compile_rules(error) || !impl.pick_reference(error)) {
    return nullptr;
  }
  if (!detector_matches(c, *detector)) {
    error = "sensitivity: the detector was compiled for other settings";
    return nullptr;
  }
  engine->detector_ = std::move(detector);
  engine->config_ = std::move(config);
  return engine;
}

}  // namespace sb::policies
