#include "policies/engine.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>

#include <boost/container/small_vector.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

// Routing semantics, as implemented below (ARCHITECTURE.md §3):
//
// 1. The tenant must exist (an out-of-range index is a caller bug and fails closed: forbidden).
//    The model must be a configured alias (else unknown_model, 404).
// 2. Sensitivity = max(detected level over all texts, tenant floor, x-data-classification,
//    sensitivity.unscannable.level when the request carries content of one of its kinds). Every
//    x-data-classification value counts (comma-separated lists too) and the highest wins; the
//    header can only raise the level; a value that is not a configured level (compared
//    case-insensitively) is a bad_request listing the levels. Same for x-capability-tier.
// 3. Tier = the x-capability-tier header if present; else the alias's tier; else the first
//    matching `tiers.infer` rule; else `tiers.default`.
// 4. Rules are tried in order; a rule matches when every member of `when` that is set holds.
//    Without `policies:` a single implicit catch-all rule `default` routes to the alias's
//    candidates, ordered.
// 5. A matching rule that sheds answers `shed`. Otherwise each candidate (route.to, or the alias's
//    candidates when empty) is excluded for the first reason that applies, in this order:
//    not cleared (the invariant), tier below the request's (unless allow_lower_tier), tenant
//    budget exhausted under `on_exhausted: self-hosted-only` and backend closed, at capacity.
//    The rest is ordered by the strategy. Non-empty → route. Empty → `reject` stops, `next_rule`
//    tries the next rule.
// 6. Nothing routed: forbidden (403) when every candidate of the matched rules failed the
//    clearance invariant (or no backend of the whole config is cleared for this sensitivity and
//    tenant); unavailable (503) when a cleared candidate was held back by capacity, budget or
//    tier. Decision::rule is then the last rule that matched ("" when none did).
//
// The clearance invariant is Engine::cleared(); every candidate passes through it and the final
// list is checked against it once more in every build.

namespace sb::policies {

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::route:
      return "route";
    case Outcome::forbidden:
      return "forbidden";
    case Outcome::unavailable:
      return "unavailable";
    case Outcome::shed:
      return "shed";
    case Outcome::bad_request:
      return "bad_request";
    case Outcome::unknown_model:
      return "unknown_model";
  }
  return "unknown";
}

namespace {

constexpr std::string_view kImplicitRule = "default";
constexpr std::string_view kClassificationHeader = "x-data-classification";
constexpr std::string_view kTierHeader = "x-capability-tier";

std::atomic<std::uint64_t> g_invariant_violations{0};

// -------------------------------------------------------------------------------------------------
// The weighted strategy's generator: splitmix64, one state per thread (no sharing, no locks).

thread_local std::uint64_t tl_rng_state = 0;
thread_local bool tl_rng_seeded = false;

std::uint64_t next_random() {
  if (!tl_rng_seeded) {
    std::random_device rd;
    tl_rng_state = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    tl_rng_seeded = true;
  }
  std::uint64_t z = (tl_rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// -------------------------------------------------------------------------------------------------
// Compiled config: names resolved to indexes once, so decide() compares integers.

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

struct BackendInfo {
  std::string_view name;
  int clearance = 0;
  int tier = 0;
  bool closed = false;
  bool license_commercial = true;
  unsigned max_in_flight = 0;
  unsigned weight = 1;
  Engine::Prices price;  // pico-USD per token
};

struct TenantInfo {
  std::string_view name;
  int floor = 0;
  bool commercial = true;
  bool self_hosted_only_when_exhausted = false;
};

struct AliasInfo {
  std::vector<std::size_t> candidates;
  int tier = -1;
};

struct HeaderCondition {
  std::string_view name;
  const std::vector<std::string>* values = nullptr;
};

struct CompiledRule {
  std::string_view name;
  const config::When* when = nullptr;  // for explain messages
  // when
  std::optional<config::LevelRange> sensitivity;
  std::optional<config::LevelRange> tier;
  std::vector<bool> tenants;  // by tenant index; empty = any
  std::vector<bool> models;   // by alias index; empty = any
  bool has_volume = false;
  std::size_t volume_backend = 0;
  std::optional<double> in_flight_above;
  std::optional<double> rpm_above;
  std::optional<double> tpm_above;
  std::optional<config::BudgetCondition> budget;
  const config::FeatureCondition* features = nullptr;  // null when empty
  std::vector<HeaderCondition> headers;
  // route
  std::vector<std::size_t> to;  // empty = the alias's candidates
  config::Strategy strategy = config::Strategy::ordered;
  bool reject = false;
  bool allow_lower_tier = false;
  bool shed = false;
};

/// Per-decision inputs the conditions read.
struct Context {
  const RequestFacts& facts;
  const StateView& state;
  std::size_t tenant;
  std::size_t alias;
  int sensitivity;
  int tier;
  /// The tenant's budget fractions by config::BudgetPeriod, read from the state at most once per
  /// decision however many rules test them (one snapshot for the whole decision, too).
  mutable std::array<double, 3> budget{};
  mutable unsigned budget_read = 0;  ///< bit per period

  double budget_fraction(config::BudgetPeriod period) const {
    const auto i = static_cast<unsigned>(period);
    if ((budget_read & (1u << i)) == 0) {
      budget[i] = state.budget_fraction(tenant, period);
      budget_read |= 1u << i;
    }
    return budget[i];
  }
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

int find_exact(const config::Scale& scale, std::string_view name) {
  for (std::size_t i = 0; i < scale.names.size(); ++i) {
    if (scale.names[i] == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

/// For client headers: level names compared case-insensitively.
int find_level(const config::Scale& scale, std::string_view name) {
  for (std::size_t i = 0; i < scale.names.size(); ++i) {
    if (iequals(scale.names[i], name)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

/// The highest level named in a comma-separated x-data-classification value; -1 when an item is
/// not a level or no item is there.
int classification_level(const config::Scale& scale, std::string_view value) {
  int highest = -1;
  bool unknown = false;
  for (;;) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    if (!item.empty()) {
      const int level = find_level(scale, item);
      unknown = unknown || level < 0;
      highest = std::max(highest, level);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return unknown ? -1 : highest;
}

/// The unscannable kinds in `bits`, by name ("token_ids, images").
std::string unscannable_list(unsigned bits) {
  std::string out;
  const std::vector<std::string>& names = config::unscannable_kind_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if ((bits & (1u << i)) != 0) {
      out += out.empty() ? "" : ", ";
      out += names[i];
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) {
      out += ", ";
    }
    out += n;
  }
  return out;
}

bool feature_empty(const config::FeatureCondition& f) {
  return !f.tools && !f.images && !f.json_schema && !f.prompt_tokens_above && !f.depth_above &&
         f.reasoning_effort.empty();
}

/// Whether the request's features satisfy `f` (every set member). On failure, `why` (if given)
/// names the first member that did not hold, without echoing client values.
bool features_hold(const config::FeatureCondition& f, const RequestFacts& facts, std::string* why) {
  const auto flag = [&](const std::optional<bool>& want, bool have, std::string_view name) {
    if (want && *want != have) {
      if (why != nullptr) {
        *why = "features: " + std::string(name) + " is " + (have ? "true" : "false");
      }
      return false;
    }
    return true;
  };
  if (!flag(f.tools, facts.tools, "tools") || !flag(f.images, facts.images, "images") ||
      !flag(f.json_schema, facts.json_schema, "json_schema")) {
    return false;
  }
  if (f.prompt_tokens_above && !(facts.estimated_prompt_tokens > *f.prompt_tokens_above)) {
    if (why != nullptr) {
      *why = "features: prompt_tokens " + std::to_string(facts.estimated_prompt_tokens) +
             " not above " + std::to_string(*f.prompt_tokens_above);
    }
    return false;
  }
  if (f.depth_above && !(facts.depth > *f.depth_above)) {
    if (why != nullptr) {
      *why = "features: depth " + std::to_string(facts.depth) + " not above " +
             std::to_string(*f.depth_above);
    }
    return false;
  }
  if (!f.reasoning_effort.empty() &&
      std::find(f.reasoning_effort.begin(), f.reasoning_effort.end(), facts.reasoning_effort) ==
          f.reasoning_effort.end()) {
    if (why != nullptr) {
      *why = "features: reasoning_effort not in [" + join(f.reasoning_effort) + "]";
    }
    return false;
  }
  return true;
}

std::string range_text(const config::LevelRange& r, const config::Scale& scale) {
  const auto name = [&](int i) {
    return i >= 0 && static_cast<std::size_t>(i) < scale.names.size() ? scale.names[i]
                                                                      : std::to_string(i);
  };
  if (r.at_least >= 0 && r.at_least == r.at_most) {
    return "== " + name(r.at_least);
  }
  std::string out;
  if (r.at_least >= 0) {
    out = ">= " + name(r.at_least);
  }
  if (r.at_most >= 0) {
    out += (out.empty() ? "<= " : " and <= ") + name(r.at_most);
  }
  return out;
}

/// "email x2, credit_card x1": entity names and counts, never the values found.
std::string entity_list(const Detector& detector, const Detection& detection) {
  std::string out;
  for (const EntityCount& e : detection.entities) {
    if (!out.empty()) {
      out += ", ";
    }
    out += detector.entity_names()[e.entity];
    out += " x";
    out += std::to_string(e.count);
  }
  return out;
}

std::string format_number(double v) {
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  }
  return buf;
}

}  // namespace

struct Engine::Impl {
  const config::Config* config = nullptr;
  std::vector<BackendInfo> backends;
  std::vector<TenantInfo> tenants;
  std::vector<AliasInfo> aliases;
  std::map<std::string, std::size_t, std::less<>> alias_index;
  std::vector<CompiledRule> rules;  // never empty: the implicit rule when there are no policies
  bool egress_none = false;
  std::uint64_t default_output_tokens = 1024;
  std::optional<std::size_t> reference;  // savings reference backend
  std::string level_list;                // "public, internal, ..." for messages
  std::string tier_list;

  std::string_view level_name(int i) const {
    const auto& names = config->sensitivity.levels.names;
    return i >= 0 && static_cast<std::size_t>(i) < names.size() ? std::string_view(names[i])
                                                                : std::string_view("?");
  }
  /// Whether every set member of a rule's `when` holds. On failure, `why` (if given) names the
  /// first one that did not, in the order the members are listed in config::When.
  bool matches(const CompiledRule& r, const Context& ctx, std::string* why) const;

  std::string_view tier_name(int i) const {
    const auto& names = config->tiers.levels.names;
    return i >= 0 && static_cast<std::size_t>(i) < names.size() ? std::string_view(names[i])
                                                                : std::string_view("?");
  }
};

// -------------------------------------------------------------------------------------------------
// Build

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

  const auto backend_index = [&](std::string_view name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < c.backends.size(); ++i) {
      if (c.backends[i].name == name) {
        return i;
      }
    }
    return std::nullopt;
  };
  const auto resolve_backends = [&](const std::vector<std::string>& names, std::string_view where,
                                    std::vector<std::size_t>& out) {
    for (const std::string& n : names) {
      std::optional<std::size_t> i = backend_index(n);
      if (!i) {
        error = std::string(where) + ": unknown backend '" + n + "'";
        return false;
      }
      if (std::find(out.begin(), out.end(), *i) == out.end()) {
        out.push_back(*i);
      }
    }
    return true;
  };

  for (const config::Backend& b : c.backends) {
    BackendInfo info;
    info.name = b.name;
    info.clearance = find_exact(c.sensitivity.levels, b.clearance);
    info.tier = find_exact(c.tiers.levels, b.tier);
    if (info.clearance < 0) {
      error = "backends." + b.name + ".clearance: unknown level '" + b.clearance + "'";
      return nullptr;
    }
    if (info.tier < 0) {
      error = "backends." + b.name + ".tier: unknown tier '" + b.tier + "'";
      return nullptr;
    }
    info.closed = b.hosting == config::Hosting::closed;
    info.license_commercial = b.license_commercial;
    info.max_in_flight = b.max_in_flight;
    info.weight = std::max(1u, b.weight);
    if (info.closed) {
      info.price.input = pico_per_token(b.price.input_per_mtok * 1e6);
      info.price.output = pico_per_token(b.price.output_per_mtok * 1e6);
      // An undeclared cached or cache-write price (0) bills those tokens at the input price: a
      // budget must not be undercut by a missing table entry.
      info.price.cached = b.price.cached_input_per_mtok > 0
                              ? pico_per_token(b.price.cached_input_per_mtok * 1e6)
                              : info.price.input;
      info.price.cache_write = b.price.cache_write_per_mtok > 0
                                   ? pico_per_token(b.price.cache_write_per_mtok * 1e6)
                                   : info.price.input;
    } else if (b.price.gpu_hour_usd > 0 && b.price.tokens_per_second > 0) {
      // Amortized: one GPU-hour serves 3600 * tokens_per_second tokens, input and output alike;
      // rounded once, to the pico-dollar.
      const std::int64_t per_token =
          pico_per_token(b.price.gpu_hour_usd * 1e12 / (3600.0 * b.price.tokens_per_second));
      info.price = Engine::Prices{per_token, per_token, per_token, per_token};
    }
    impl.backends.push_back(info);
  }

  for (const config::Tenant& t : c.tenants) {
    TenantInfo info;
    info.name = t.name;
    info.floor = t.floor;
    info.commercial = t.use == config::TenantUse::commercial;
    info.self_hosted_only_when_exhausted =
        (t.budget.daily_usd || t.budget.monthly_usd) &&
        t.budget.on_exhausted == config::BudgetAction::self_hosted_only;
    impl.tenants.push_back(info);
  }
  if (impl.tenants.empty()) {
    impl.tenants.push_back(TenantInfo{kImplicitRule, 0, true, false});  // the implicit tenant
  }

  for (std::size_t i = 0; i < c.models.size(); ++i) {
    const config::ModelAlias& m = c.models[i];
    AliasInfo info;
    if (!resolve_backends(m.candidates, "models." + m.name + ".candidates", info.candidates)) {
      return nullptr;
    }
    if (!m.tier.empty()) {
      info.tier = find_exact(c.tiers.levels, m.tier);
      if (info.tier < 0) {
        error = "models." + m.name + ".tier: unknown tier '" + m.tier + "'";
        return nullptr;
      }
    }
    impl.aliases.push_back(std::move(info));
    impl.alias_index.emplace(m.name, i);
  }

  for (std::size_t p = 0; p < c.policies.size(); ++p) {
    const config::Policy& policy = c.policies[p];
    const config::When& w = policy.when;
    const std::string where = "policies[" + std::to_string(p) + "]";
    CompiledRule r;
    r.name = policy.name;
    r.when = &w;
    r.sensitivity = w.sensitivity;
    r.tier = w.tier;
    if (!w.tenants.empty()) {
      r.tenants.assign(impl.tenants.size(), false);
      for (const std::string& name : w.tenants) {
        bool found = false;
        for (std::size_t t = 0; t < impl.tenants.size(); ++t) {
          if (impl.tenants[t].name == name) {
            r.tenants[t] = found = true;
          }
        }
        if (!found) {
          error = where + ".when.tenants: unknown tenant '" + name + "'";
          return nullptr;
        }
      }
    }
    if (!w.models.empty()) {
      r.models.assign(impl.aliases.size(), false);
      for (const std::string& name : w.models) {
        auto it = impl.alias_index.find(name);
        if (it == impl.alias_index.end()) {
          error = where + ".when.models: unknown model '" + name + "'";
          return nullptr;
        }
        r.models[it->second] = true;
      }
    }
    if (w.volume) {
      std::optional<std::size_t> b = backend_index(w.volume->backend);
      if (!b) {
        error = where + ".when.volume.backend: unknown backend '" + w.volume->backend + "'";
        return nullptr;
      }
      r.has_volume = true;
      r.volume_backend = *b;
      r.in_flight_above = w.volume->in_flight_above;
      r.rpm_above = w.volume->rpm_above;
      r.tpm_above = w.volume->tpm_above;
    }
    r.budget = w.budget;
    if (!feature_empty(w.features)) {
      r.features = &w.features;
    }
    for (const auto& [name, values] : w.headers) {
      r.headers.push_back(HeaderCondition{name, &values});
    }
    if (!resolve_backends(policy.route.to, where + ".route.to", r.to)) {
      return nullptr;
    }
    r.strategy = policy.route.strategy;
    r.reject = policy.route.on_unavailable == config::OnUnavailable::reject;
    r.allow_lower_tier = policy.route.allow_lower_tier;
    r.shed = policy.route.shed;
    impl.rules.push_back(std::move(r));
  }
  if (impl.rules.empty()) {
    CompiledRule r;
    r.name = kImplicitRule;
    impl.rules.push_back(std::move(r));
  }

  if (!c.cost.savings_reference.empty()) {
    impl.reference = backend_index(c.cost.savings_reference);
    if (!impl.reference) {
      error = "cost.savings_reference: unknown backend '" + c.cost.savings_reference + "'";
      return nullptr;
    }
  } else {
    for (std::size_t i = 0; i < impl.backends.size(); ++i) {
      const BackendInfo& b = impl.backends[i];
      if (b.closed && (b.price.input > 0 || b.price.output > 0)) {
        impl.reference = i;
        break;
      }
    }
  }

  // The detector must report the levels this config gives its entities: the same names in the
  // same order, the same level each.
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
  const std::vector<std::string>& names = detector->entity_names();
  bool same = names.size() == levels.size();
  for (std::size_t i = 0; same && i < names.size(); ++i) {
    same = detector->level_of(i) == levels[i] &&
           (i < builtins.size() ? names[i] == builtins[i]
                                : names[i] == c.sensitivity.custom[i - builtins.size()].name);
  }
  if (!same) {
    error = "sensitivity: the detector was compiled for other settings";
    return nullptr;
  }
  engine->detector_ = std::move(detector);
  engine->config_ = std::move(config);
  return engine;
}

Engine::~Engine() = default;

void Engine::seed_random(std::uint64_t seed) {
  tl_rng_state = seed;
  tl_rng_seeded = true;
}

std::uint64_t Engine::invariant_violations() {
  return g_invariant_violations.load(std::memory_order_relaxed);
}

// -------------------------------------------------------------------------------------------------
// The invariant and cost

bool Engine::cleared(std::size_t backend, int sensitivity, std::size_t tenant) const {
  if (backend >= impl_->backends.size()) {
    return false;
  }
  const BackendInfo& b = impl_->backends[backend];
  if (b.clearance < sensitivity) {
    return false;
  }
  // An unknown tenant is treated as commercial: the stricter reading.
  const bool commercial = tenant >= impl_->tenants.size() || impl_->tenants[tenant].commercial;
  if (commercial && !b.license_commercial) {
    return false;
  }
  return !(impl_->egress_none && b.closed);
}

namespace {

__extension__ typedef __int128 Wide;
constexpr Wide kMaxNanos = std::numeric_limits<Nanos>::max();

/// Pico-dollars to the nearest nano-dollar (halves up), saturating.
Nanos round_to_nanos(Wide pico) {
  if (pico <= 0) {
    return 0;
  }
  if (pico >= kMaxNanos * 1000) {
    return std::numeric_limits<Nanos>::max();
  }
  return static_cast<Nanos>((pico + 500) / 1000);
}

Wide token_cost(std::uint64_t tokens, std::int64_t price) {
  return static_cast<Wide>(tokens) * price;  // < 2^64 * 2^63: no overflow in 128 bits
}

}  // namespace

Nanos Engine::cost(std::size_t backend, std::uint64_t input, std::uint64_t output,
                   std::uint64_t cached_input, std::uint64_t cache_write) const {
  if (backend >= impl_->backends.size()) {
    return 0;
  }
  const Prices& p = impl_->backends[backend].price;
  // Cached reads and cache writes are part of the prompt tokens.
  cached_input = std::min(cached_input, input);
  cache_write = std::min(cache_write, input - cached_input);
  const Wide pico = token_cost(input - cached_input - cache_write, p.input) +
                    token_cost(cached_input, p.cached) + token_cost(cache_write, p.cache_write) +
                    token_cost(output, p.output);
  return round_to_nanos(pico);
}

std::optional<Nanos> Engine::reference_cost(std::uint64_t input, std::uint64_t output,
                                            std::uint64_t cached_input,
                                            std::uint64_t cache_write) const {
  if (!impl_->reference) {
    return std::nullopt;
  }
  return cost(*impl_->reference, input, output, cached_input, cache_write);
}

Nanos Engine::worst_case_cost(std::size_t backend, std::uint64_t input,
                              std::uint64_t output) const {
  if (backend >= impl_->backends.size()) {
    return 0;
  }
  const Prices& p = impl_->backends[backend].price;
  const std::int64_t in = std::max({p.input, p.cached, p.cache_write});
  return round_to_nanos(token_cost(input, in) + token_cost(output, p.output));
}

std::uint64_t Engine::affordable_output(std::size_t backend, std::uint64_t input,
                                        Nanos amount) const {
  if (backend >= impl_->backends.size()) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  const Prices& p = impl_->backends[backend].price;
  const std::int64_t in = std::max({p.input, p.cached, p.cache_write});
  // worst_case_cost(n) = round((input*in + n*out) / 1000) <= amount
  //   <=> input*in + n*out + 500 < (amount + 1) * 1000
  const Wide budget = (static_cast<Wide>(std::max<Nanos>(amount, 0)) + 1) * 1000 - 500 - 1;
  const Wide rest = budget - token_cost(input, in);
  if (rest < 0) {
    return 0;
  }
  if (p.output <= 0) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  const Wide n = rest / p.output;
  return n >= static_cast<Wide>(std::numeric_limits<std::uint64_t>::max())
             ? std::numeric_limits<std::uint64_t>::max()
             : static_cast<std::uint64_t>(n);
}

Engine::Prices Engine::prices(std::size_t backend) const {
  return backend < impl_->backends.size() ? impl_->backends[backend].price : Prices{};
}

// -------------------------------------------------------------------------------------------------
// decide()

Decision Engine::decide(const RequestFacts& facts, const StateView& state, bool explain) const {
  const Impl& impl = *impl_;
  const config::Config& c = *config_;
  Decision d;

  if (facts.tenant >= impl.tenants.size()) {
    d.outcome = Outcome::forbidden;
    d.message = "The request has no valid tenant.";
    return d;
  }
  const TenantInfo& tenant = impl.tenants[facts.tenant];

  auto alias_it = impl.alias_index.find(facts.model);
  if (alias_it == impl.alias_index.end()) {
    d.outcome = Outcome::unknown_model;
    std::string_view shown = facts.model.substr(0, 128);
    d.message = "The model '" + std::string(shown) + "' does not exist.";
    return d;
  }
  const AliasInfo& alias = impl.aliases[alias_it->second];

  int header_level = -1;
  if (!facts.classification_header.empty()) {
    header_level = classification_level(c.sensitivity.levels, facts.classification_header);
    if (header_level < 0) {
      d.outcome = Outcome::bad_request;
      d.message = std::string(kClassificationHeader) + " must be one of: " + impl.level_list;
      return d;
    }
  }
  int header_tier = -1;
  if (!facts.tier_header.empty()) {
    header_tier = find_level(c.tiers.levels, facts.tier_header);
    if (header_tier < 0) {
      d.outcome = Outcome::bad_request;
      d.message = std::string(kTierHeader) + " must be one of: " + impl.tier_list;
      return d;
    }
  }

  // Sensitivity: the highest of what was found, the tenant's floor and the client's label.
  if (!facts.texts.empty()) {
    d.detection = detector_->scan(facts.texts);
  }
  // Content the detectors cannot read takes the configured level (the highest by default).
  const unsigned unscannable = facts.unscannable & c.sensitivity.unscannable.kinds;
  const int unscannable_level = unscannable == 0 ? -1
                                : c.sensitivity.unscannable.level >= 0
                                    ? c.sensitivity.unscannable.level
                                    : static_cast<int>(c.sensitivity.levels.names.size()) - 1;
  d.sensitivity = std::max({d.detection.level, tenant.floor, header_level, unscannable_level, 0});

  // Tier: header, else alias, else the first inference rule that matches, else the default.
  int inferred_by = -1;
  if (header_tier >= 0) {
    d.tier = header_tier;
  } else if (alias.tier >= 0) {
    d.tier = alias.tier;
  } else {
    d.tier = c.tiers.default_tier;
    for (std::size_t i = 0; i < c.tiers.infer.size(); ++i) {
      if (features_hold(c.tiers.infer[i].when, facts, nullptr)) {
        d.tier = c.tiers.infer[i].tier;
        inferred_by = static_cast<int>(i);
        break;
      }
    }
  }

  if (explain) {
    std::string why;
    if (d.detection.level >= 0) {
      why = "detected " + std::string(impl.level_name(d.detection.level)) + " (" +
            entity_list(*detector_, d.detection) + ")";
    } else {
      why = "nothing detected";
    }
    why += "; tenant floor " + std::string(impl.level_name(tenant.floor));
    if (header_level >= 0) {
      why += "; " + std::string(kClassificationHeader) + " " +
             std::string(impl.level_name(header_level));
    }
    if (unscannable_level >= 0) {
      why += "; unscannable: " + unscannable_list(unscannable) + " " +
             std::string(impl.level_name(unscannable_level));
    }
    d.sensitivity_why = std::move(why);
    if (header_tier >= 0) {
      d.tier_why = std::string(kTierHeader) + " header";
    } else if (alias.tier >= 0) {
      d.tier_why = "model alias '" + std::string(facts.model) + "'";
    } else if (inferred_by >= 0) {
      d.tier_why = "inferred by tiers.infer[" + std::to_string(inferred_by) + "]";
    } else {
      d.tier_why = "default";
    }
  }

  const std::uint64_t output = facts.max_tokens.value_or(impl.default_output_tokens);
  d.estimated_tokens = facts.estimated_prompt_tokens + output;
  if (d.estimated_tokens < output) {
    d.estimated_tokens = std::numeric_limits<std::uint64_t>::max();
  }

  const Context ctx{facts, state, facts.tenant, alias_it->second, d.sensitivity, d.tier};
  int budget_exhausted = -1;  // read from the state once, and only when it matters
  bool rejected = false;
  bool held_back = false;  // a cleared candidate was excluded for capacity, budget or tier

  for (const CompiledRule& rule : impl.rules) {
    RuleTrace* trace = nullptr;
    if (explain) {
      trace = &d.trace.emplace_back();
      trace->rule = rule.name;
    }
    if (!impl.matches(rule, ctx, trace != nullptr ? &trace->failed : nullptr)) {
      continue;
    }
    if (trace != nullptr) {
      trace->matched = true;
    }
    d.rule = rule.name;
    if (rule.shed) {
      d.outcome = Outcome::shed;
      d.message = "The request was shed by rule '" + std::string(rule.name) + "'; retry later.";
      return d;
    }

    const std::vector<std::size_t>& candidates = rule.to.empty() ? alias.candidates : rule.to;
    d.backends.clear();
    for (std::size_t b : candidates) {
      const BackendInfo& info = impl.backends[b];
      std::string reason;
      if (!cleared(b, d.sensitivity, facts.tenant)) {
        // The reason is spelled out only for explain; cleared() alone decides.
        if (trace != nullptr) {
          if (info.clearance < d.sensitivity) {
            reason = "clearance " + std::string(impl.level_name(info.clearance)) +
                     " < sensitivity " + std::string(impl.level_name(d.sensitivity));
          } else if (!info.license_commercial && tenant.commercial) {
            reason = "license research-only and tenant use commercial";
          } else {
            reason = "egress none: closed backend";
          }
        }
      } else if (info.tier < d.tier && !rule.allow_lower_tier) {
        held_back = true;
        if (trace != nullptr) {
          reason = "tier " + std::string(impl.tier_name(info.tier)) + " < required " +
                   std::string(impl.tier_name(d.tier));
        }
      } else if (info.closed && tenant.self_hosted_only_when_exhausted &&
                 (budget_exhausted < 0
                      ? (budget_exhausted = state.budget_exhausted(facts.tenant) ? 1 : 0)
                      : budget_exhausted) == 1) {
        held_back = true;
        if (trace != nullptr) {
          reason = "budget exhausted: self-hosted only";
        }
      } else if (const std::int64_t in_flight =
                     info.max_in_flight > 0 ? state.backend_in_flight(b) : 0;
                 info.max_in_flight > 0 && in_flight >= info.max_in_flight) {
        held_back = true;
        if (trace != nullptr) {
          reason =
              "at capacity " + std::to_string(in_flight) + "/" + std::to_string(info.max_in_flight);
        }
      } else {
        d.backends.push_back(b);
        continue;
      }
      if (trace != nullptr) {
        trace->excluded.push_back(Exclusion{b, std::move(reason)});
      }
    }

    if (d.backends.size() > 1) {
      switch (rule.strategy) {
        case config::Strategy::ordered:
          break;
        case config::Strategy::cheapest: {
          // By this request's estimated cost on each backend; equal costs keep the listed order.
          boost::container::small_vector<std::pair<Nanos, std::size_t>, 16> keyed;
          for (std::size_t b : d.backends) {
            keyed.emplace_back(cost(b, facts.estimated_prompt_tokens, output), b);
          }
          std::stable_sort(keyed.begin(), keyed.end(),
                           [](const auto& x, const auto& y) { return x.first < y.first; });
          for (std::size_t i = 0; i < keyed.size(); ++i) {
            d.backends[i] = keyed[i].second;
          }
          break;
        }
        case config::Strategy::least_loaded: {
          // Utilisation = in_flight / max_in_flight. A backend without max_in_flight declares no
          // capacity, so its utilisation is taken as 0: it is preferred to any busy limited one.
          // Equal utilisation: fewer requests in flight first, then the listed order.
          struct Load {
            double utilisation;
            std::int64_t in_flight;
            std::size_t backend;
          };
          boost::container::small_vector<Load, 16> keyed;
          for (std::size_t b : d.backends) {
            const std::int64_t n = state.backend_in_flight(b);
            const unsigned max = impl.backends[b].max_in_flight;
            keyed.push_back(Load{max > 0 ? static_cast<double>(n) / max : 0.0, n, b});
          }
          std::stable_sort(keyed.begin(), keyed.end(), [](const Load& x, const Load& y) {
            return x.utilisation != y.utilisation ? x.utilisation < y.utilisation
                                                  : x.in_flight < y.in_flight;
          });
          for (std::size_t i = 0; i < keyed.size(); ++i) {
            d.backends[i] = keyed[i].backend;
          }
          break;
        }
        case config::Strategy::weighted: {
          // Weighted random order without replacement: each position is drawn among the backends
          // not yet placed with probability weight / (sum of their weights).
          std::uint64_t total = 0;
          for (std::size_t b : d.backends) {
            total += impl.backends[b].weight;
          }
          for (std::size_t i = 0; i + 1 < d.backends.size(); ++i) {
            std::uint64_t pick = next_random() % total;
            std::size_t j = i;
            while (pick >= impl.backends[d.backends[j]].weight) {
              pick -= impl.backends[d.backends[j]].weight;
              ++j;
            }
            total -= impl.backends[d.backends[j]].weight;
            // Move the pick to position i; the not-yet-placed rest keeps its listed order, so a
            // seed gives one answer.
            std::rotate(d.backends.begin() + static_cast<std::ptrdiff_t>(i),
                        d.backends.begin() + static_cast<std::ptrdiff_t>(j),
                        d.backends.begin() + static_cast<std::ptrdiff_t>(j) + 1);
          }
          break;
        }
      }
    }

    // The invariant, checked once more on the final list in every build: drop and count.
    auto bad = std::remove_if(d.backends.begin(), d.backends.end(), [&](std::size_t b) {
      return !cleared(b, d.sensitivity, facts.tenant);
    });
    if (bad != d.backends.end()) {
      g_invariant_violations.fetch_add(static_cast<std::uint64_t>(d.backends.end() - bad),
                                       std::memory_order_relaxed);
      d.backends.erase(bad, d.backends.end());
    }

    if (!d.backends.empty()) {
      d.outcome = Outcome::route;
      d.estimated_cost = cost(d.backends.front(), facts.estimated_prompt_tokens, output);
      return d;
    }
    if (rule.reject) {
      rejected = true;
      break;
    }
  }

  // Nothing routed. 403 when the data may not go to any backend the matched rules named (every
  // one failed the clearance invariant: clearance, license or egress), or to any backend at all;
  // 503 when a cleared backend was only held back for now (capacity, budget) or by its tier.
  bool any_cleared = false;
  for (std::size_t b = 0; b < impl.backends.size() && !any_cleared; ++b) {
    any_cleared = cleared(b, d.sensitivity, facts.tenant);
  }
  const std::string level(impl.level_name(d.sensitivity));
  if (!any_cleared || !held_back) {
    d.outcome = Outcome::forbidden;
    std::string why;
    if (!d.detection.entities.empty()) {
      why = "detected: " + entity_list(*detector_, d.detection);
    }
    const int found = std::max(d.detection.level, 0);
    if (tenant.floor == d.sensitivity && tenant.floor > found) {
      why += (why.empty() ? "" : "; ") + std::string("tenant floor");
    } else if (header_level == d.sensitivity && header_level > std::max(found, tenant.floor)) {
      why += (why.empty() ? "" : "; ") + std::string(kClassificationHeader) + " header";
    } else if (unscannable_level == d.sensitivity &&
               unscannable_level > std::max({found, tenant.floor, header_level})) {
      why +=
          (why.empty() ? "" : "; ") + std::string("unscannable: ") + unscannable_list(unscannable);
    }
    d.message = "Request classified " + level + (why.empty() ? "" : " (" + why + ")");
    if (any_cleared) {
      d.message +=
          "; no backend its policy allows is cleared for it (clearance, license or "
          "egress)";
    } else {
      d.message += "; no backend is cleared for " + level + " data";
      bool clearance_suffices = false;
      for (const BackendInfo& b : impl.backends) {
        clearance_suffices = clearance_suffices || b.clearance >= d.sensitivity;
      }
      if (clearance_suffices) {
        d.message += " (license or egress restrictions)";
      }
    }
    d.message += ".";
  } else {
    d.outcome = Outcome::unavailable;
    d.message = "No eligible backend can take this request now (sensitivity " + level + ", tier " +
                std::string(impl.tier_name(d.tier)) + ")";
    if (rejected) {
      d.message += "; rule '" + std::string(d.rule) + "' allows no other backend";
    }
    d.message += ".";
  }
  return d;
}

bool Engine::Impl::matches(const CompiledRule& r, const Context& ctx, std::string* why) const {
  const Impl& impl = *this;
  const config::Config& c = *config;
  if (r.sensitivity && !r.sensitivity->contains(ctx.sensitivity)) {
    if (why != nullptr) {
      *why = "sensitivity: " + std::string(impl.level_name(ctx.sensitivity)) + " is not " +
             range_text(*r.sensitivity, c.sensitivity.levels);
    }
    return false;
  }
  if (r.tier && !r.tier->contains(ctx.tier)) {
    if (why != nullptr) {
      *why = "tier: " + std::string(impl.tier_name(ctx.tier)) + " is not " +
             range_text(*r.tier, c.tiers.levels);
    }
    return false;
  }
  if (!r.tenants.empty() && !r.tenants[ctx.tenant]) {
    if (why != nullptr) {
      *why = "tenants: " + std::string(impl.tenants[ctx.tenant].name) + " not in [" +
             join(r.when->tenants) + "]";
    }
    return false;
  }
  if (!r.models.empty() && !r.models[ctx.alias]) {
    if (why != nullptr) {
      *why = "models: " + std::string(ctx.facts.model) + " not in [" + join(r.when->models) + "]";
    }
    return false;
  }
  if (r.has_volume) {
    const BackendInfo& b = impl.backends[r.volume_backend];
    if (r.in_flight_above) {
      const std::int64_t n = ctx.state.backend_in_flight(r.volume_backend);
      // Without max_in_flight there is no capacity to take a fraction of: never above.
      const bool above =
          b.max_in_flight > 0 && static_cast<double>(n) / b.max_in_flight > *r.in_flight_above;
      if (!above) {
        if (why != nullptr) {
          *why = "volume: " + std::string(b.name) + " in_flight " + std::to_string(n) + "/" +
                 (b.max_in_flight > 0 ? std::to_string(b.max_in_flight) : "unlimited") +
                 " not above " + format_number(*r.in_flight_above);
        }
        return false;
      }
    }
    if (r.rpm_above) {
      const double rpm = ctx.state.backend_rpm(r.volume_backend);
      if (!(rpm > *r.rpm_above)) {
        if (why != nullptr) {
          *why = "volume: " + std::string(b.name) + " rpm " + format_number(rpm) + " not above " +
                 format_number(*r.rpm_above);
        }
        return false;
      }
    }
    if (r.tpm_above) {
      const double tpm = ctx.state.backend_tpm(r.volume_backend);
      if (!(tpm > *r.tpm_above)) {
        if (why != nullptr) {
          *why = "volume: " + std::string(b.name) + " tpm " + format_number(tpm) + " not above " +
                 format_number(*r.tpm_above);
        }
        return false;
      }
    }
  }
  if (r.budget) {
    // `any` is the higher of the daily and monthly fractions (StateView's contract).
    const double spent = ctx.budget_fraction(r.budget->period);
    if (!(spent > r.budget->spent_fraction_above)) {
      if (why != nullptr) {
        *why = "budget: spent " + format_number(spent) + " not above " +
               format_number(r.budget->spent_fraction_above);
      }
      return false;
    }
  }
  if (r.features != nullptr && !features_hold(*r.features, ctx.facts, why)) {
    return false;
  }
  for (const HeaderCondition& h : r.headers) {
    const auto& headers = ctx.facts.headers;
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](const auto& kv) { return kv.first == h.name; });
    if (it == headers.end()) {
      if (why != nullptr) {
        *why = "headers: " + std::string(h.name) + " absent";
      }
      return false;
    }
    if (std::find(h.values->begin(), h.values->end(), it->second) == h.values->end()) {
      if (why != nullptr) {
        *why = "headers: " + std::string(h.name) + " not in [" + join(*h.values) + "]";
      }
      return false;
    }
  }
  return true;
}

// -------------------------------------------------------------------------------------------------
// explain

std::string Engine::explain_json(const Decision& d, const RequestFacts& facts) const {
  namespace json = boost::json;
  const Impl& impl = *impl_;
  const config::Config& c = *config_;
  const bool has_tenant = facts.tenant < impl.tenants.size();
  const std::uint64_t output = facts.max_tokens.value_or(impl.default_output_tokens);

  json::object out;
  out["outcome"] = to_string(d.outcome);
  out["rule"] = d.rule;
  out["tenant"] = has_tenant ? json::value(impl.tenants[facts.tenant].name) : json::value(nullptr);
  out["model"] = facts.model;

  json::object sensitivity;
  sensitivity["level"] = impl.level_name(d.sensitivity);
  sensitivity["why"] = d.sensitivity_why;
  json::array entities;
  for (const EntityCount& e : d.detection.entities) {
    json::object entity;
    entity["type"] = detector_->entity_names()[e.entity];
    entity["count"] = e.count;
    const int level = detector_->level_of(e.entity);
    entity["level"] = level >= 0 ? json::value(impl.level_name(level)) : json::value(nullptr);
    entities.push_back(std::move(entity));
  }
  sensitivity["entities"] = std::move(entities);
  sensitivity["floor"] = has_tenant ? json::value(impl.level_name(impl.tenants[facts.tenant].floor))
                                    : json::value(nullptr);
  const int header_level =
      facts.classification_header.empty()
          ? -1
          : classification_level(c.sensitivity.levels, facts.classification_header);
  sensitivity["header"] =
      header_level >= 0 ? json::value(impl.level_name(header_level)) : json::value(nullptr);
  const unsigned unscannable = facts.unscannable & c.sensitivity.unscannable.kinds;
  sensitivity["unscannable"] =
      unscannable != 0 ? json::value(unscannable_list(unscannable)) : json::value(nullptr);
  out["sensitivity"] = std::move(sensitivity);

  json::object tier;
  tier["level"] = impl.tier_name(d.tier);
  tier["why"] = d.tier_why;
  out["tier"] = std::move(tier);

  json::array rules;
  json::array excluded;
  for (const RuleTrace& t : d.trace) {
    json::object rule;
    rule["name"] = t.rule;
    rule["matched"] = t.matched;
    rule["failed"] = t.failed;
    json::array rule_excluded;
    for (const Exclusion& e : t.excluded) {
      json::object x;
      x["name"] = impl.backends[e.backend].name;
      x["reason"] = e.reason;
      rule_excluded.push_back(x);
      x["rule"] = t.rule;
      excluded.push_back(std::move(x));
    }
    rule["excluded"] = std::move(rule_excluded);
    rules.push_back(std::move(rule));
  }
  out["rules"] = std::move(rules);

  json::array backends;
  for (std::size_t b : d.backends) {
    json::object x;
    x["name"] = impl.backends[b].name;
    x["hosting"] = config::to_string(c.backends[b].hosting);
    x["estimated_cost_usd"] = nanos_to_usd(cost(b, facts.estimated_prompt_tokens, output));
    backends.push_back(std::move(x));
  }
  out["backends"] = std::move(backends);
  // Every other backend gets a reason too: the ones the matched rule never named.
  for (std::size_t b = 0; b < c.backends.size(); ++b) {
    const bool chosen = std::find(d.backends.begin(), d.backends.end(), b) != d.backends.end();
    bool listed = chosen;
    for (const RuleTrace& t : d.trace) {
      for (const Exclusion& e : t.excluded) {
        listed = listed || e.backend == b;
      }
    }
    if (listed) {
      continue;
    }
    json::object x;
    x["name"] = impl.backends[b].name;
    std::string reason = d.rule.empty() ? std::string("no rule routed to it")
                                        : "not in the route of rule '" + std::string(d.rule) + "'";
    if (has_tenant && !cleared(b, d.sensitivity, facts.tenant)) {
      reason += "; not cleared for " + std::string(impl.level_name(d.sensitivity)) + " data";
    }
    x["reason"] = std::move(reason);
    x["rule"] = d.rule;
    excluded.push_back(std::move(x));
  }
  out["excluded"] = std::move(excluded);
  out["estimated_tokens"] = d.estimated_tokens;
  out["estimated_cost_usd"] = nanos_to_usd(d.estimated_cost);
  out["message"] = d.message;
  return json::serialize(out);
}

}  // namespace sb::policies
