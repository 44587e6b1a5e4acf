#pragma once
// Private to the routing engine (engine.cc, engine_build.cc, engine_decide.cc,
// engine_explain.cc): the compiled config that Engine::build produces and Engine::decide reads,
// and the text helpers its messages share. Not part of the public API (policies/engine.h).

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/engine.h"

namespace boost::json {
class array;
class object;
}  // namespace boost::json

namespace sb::policies::engine_detail {

inline constexpr std::string_view kImplicitRule = "default";
inline constexpr std::string_view kClassificationHeader = "x-data-classification";
inline constexpr std::string_view kTierHeader = "x-capability-tier";

/// Final-list clearance failures, counted across all engines (Engine::invariant_violations).
extern std::atomic<std::uint64_t> g_invariant_violations;

/// The weighted strategy's generator (splitmix64, one state per thread).
std::uint64_t next_random();

// -------------------------------------------------------------------------------------------------
// Compiled config: names resolved to indexes once, so decide() compares integers.

struct BackendInfo {
  std::string_view name;
  int clearance = 0;
  int tier = 0;
  bool closed = false;
  bool license_commercial = true;
  unsigned max_in_flight = 0;
  unsigned weight = 1;
  Engine::Prices price;                        // pico-USD per token
  const config::LoadSettings* load = nullptr;  // the config's
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
  bool has_load = false;
  std::size_t load_backend = 0;
  std::optional<double> queue_above;
  std::optional<double> kv_cache_above;
  std::optional<double> ttft_p50_above;  // seconds
  std::optional<config::BudgetCondition> budget;
  const config::FeatureCondition* features = nullptr;  // null when empty
  std::vector<HeaderCondition> headers;
  // route
  std::vector<std::size_t> to;  // empty = the alias's candidates
  config::Strategy strategy = config::Strategy::ordered;
  bool reject = false;
  bool allow_lower_tier = false;
  bool shed = false;
  const config::SpillQueue* queue = nullptr;  // the config's route.queue
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

/// What decide() reads off the request before it tries any rule.
struct Classified {
  const TenantInfo* tenant = nullptr;
  const AliasInfo* alias = nullptr;
  std::size_t alias_index = 0;
  int header_level = -1;       ///< from x-data-classification; -1 when absent
  int header_tier = -1;        ///< from x-capability-tier; -1 when absent
  unsigned unscannable = 0;    ///< the unscannable kinds present that the config counts
  int unscannable_level = -1;  ///< the level they take; -1 when none
  int inferred_by = -1;        ///< the tiers.infer rule that set the tier; -1 when none
};

/// What the rule walk learnt that the refusal message needs.
struct Walk {
  int budget_exhausted = -1;  ///< read from the state once, and only when it matters
  bool rejected = false;
  bool held_back = false;  ///< a cleared candidate was excluded for capacity, budget or tier
};

// -------------------------------------------------------------------------------------------------
// Cost arithmetic: pico-dollars in 128 bits, rounded once to nano-dollars.

__extension__ typedef __int128 Wide;
inline constexpr Wide kMaxNanos = std::numeric_limits<Nanos>::max();

/// Pico-dollars to the nearest nano-dollar (halves up), saturating.
inline Nanos round_to_nanos(Wide pico) {
  if (pico <= 0) {
    return 0;
  }
  if (pico >= kMaxNanos * 1000) {
    return std::numeric_limits<Nanos>::max();
  }
  return static_cast<Nanos>((pico + 500) / 1000);
}

inline Wide token_cost(std::uint64_t tokens, std::int64_t price) {
  return static_cast<Wide>(tokens) * price;  // < 2^64 * 2^63: no overflow in 128 bits
}

// -------------------------------------------------------------------------------------------------
// Text and lookup helpers (engine.cc)

int find_exact(const config::Scale& scale, std::string_view name);
/// For client headers: level names compared case-insensitively.
int find_level(const config::Scale& scale, std::string_view name);
/// The highest level named in a comma-separated x-data-classification value; -1 when an item is
/// not a level or no item is there.
int classification_level(const config::Scale& scale, std::string_view value);
/// The unscannable kinds in `bits`, by name ("token_ids, images").
std::string unscannable_list(unsigned bits);
std::string join(const std::vector<std::string>& names);
bool feature_empty(const config::FeatureCondition& f);
/// Whether the request's features satisfy `f` (every set member). On failure, `why` (if given)
/// names the first member that did not hold, without echoing client values.
bool features_hold(const config::FeatureCondition& f, const RequestFacts& facts, std::string* why);
std::string range_text(const config::LevelRange& r, const config::Scale& scale);
/// "email x2, credit_card x1": entity names and counts, never the values found.
std::string entity_list(const Detector& detector, const Detection& detection);
std::string format_number(double v);

}  // namespace sb::policies::engine_detail

namespace sb::policies {

struct Engine::Impl {
  using CompiledRule = engine_detail::CompiledRule;
  using Context = engine_detail::Context;
  using Classified = engine_detail::Classified;
  using Walk = engine_detail::Walk;

  const config::Config* config = nullptr;
  std::vector<engine_detail::BackendInfo> backends;
  std::vector<engine_detail::TenantInfo> tenants;
  std::vector<engine_detail::AliasInfo> aliases;
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
  std::string_view tier_name(int i) const {
    const auto& names = config->tiers.levels.names;
    return i >= 0 && static_cast<std::size_t>(i) < names.size() ? std::string_view(names[i])
                                                                : std::string_view("?");
  }

  /// The clearance invariant (Engine::cleared), inline so that decide() pays no call for it.
  bool cleared(std::size_t backend, int sensitivity, std::size_t tenant) const {
    if (backend >= backends.size()) {
      return false;
    }
    const engine_detail::BackendInfo& b = backends[backend];
    if (b.clearance < sensitivity) {
      return false;
    }
    // An unknown tenant is treated as commercial: the stricter reading.
    const bool commercial = tenant >= tenants.size() || tenants[tenant].commercial;
    if (commercial && !b.license_commercial) {
      return false;
    }
    return !(egress_none && b.closed);
  }

  /// Engine::cost, inline so that decide() pays no call for it.
  Nanos cost(std::size_t backend, std::uint64_t input, std::uint64_t output,
             std::uint64_t cached_input, std::uint64_t cache_write) const {
    if (backend >= backends.size()) {
      return 0;
    }
    const Engine::Prices& p = backends[backend].price;
    // Cached reads and cache writes are part of the prompt tokens.
    cached_input = std::min(cached_input, input);
    cache_write = std::min(cache_write, input - cached_input);
    const engine_detail::Wide pico =
        engine_detail::token_cost(input - cached_input - cache_write, p.input) +
        engine_detail::token_cost(cached_input, p.cached) +
        engine_detail::token_cost(cache_write, p.cache_write) +
        engine_detail::token_cost(output, p.output);
    return engine_detail::round_to_nanos(pico);
  }

  // ---- Build steps (engine_build.cc); each returns false with `error` set on a bad name.
  std::optional<std::size_t> backend_index(std::string_view name) const;
  bool resolve_backend(std::string_view name, std::string_view where, std::size_t& out,
                       std::string& error) const;
  bool resolve_backends(const std::vector<std::string>& names, std::string_view where,
                        std::vector<std::size_t>& out, std::string& error) const;
  bool compile_backends(std::string& error);
  void compile_tenants();
  bool compile_aliases(std::string& error);
  /// A rule's `when.tenants` and `when.models` as bitmaps by index.
  bool compile_scope(const config::When& w, const std::string& where, CompiledRule& r,
                     std::string& error) const;
  bool compile_rule(const config::Policy& policy, const std::string& where, std::string& error);
  bool compile_rules(std::string& error);
  bool pick_reference(std::string& error);

  // ---- Decide steps (engine_decide.cc)
  /// Tenant, model alias and the client's headers; false with `d` the answer when one is wrong.
  bool resolve(const RequestFacts& facts, Classified& in, Decision& d) const;
  /// Sensitivity (detection, floor, header, unscannable) and tier into `d`.
  void classify(const Detector& detector, const RequestFacts& facts, Classified& in,
                Decision& d) const;
  /// Decision::sensitivity_why and tier_why, for explain.
  void explain_classification(const Detector& detector, const RequestFacts& facts,
                              const Classified& in, Decision& d) const;
  /// Whether every set member of a rule's `when` holds. On failure, `why` (if given) names the
  /// first one that did not, in the order the members are listed in config::When.
  bool matches(const CompiledRule& r, const Context& ctx, std::string* why) const;
  /// Whether candidate `b` may serve now; if not, `reason` (if given) says why.
  bool admits(std::size_t b, const CompiledRule& rule, const Context& ctx, const Classified& in,
              Walk& walk, std::string* reason) const;
  /// The rule's candidates that admits() lets through, into d.backends (the others into the
  /// trace when explaining).
  void candidates(const CompiledRule& rule, const Context& ctx, const Classified& in, Walk& walk,
                  RuleTrace* trace, Decision& d) const;
  /// Strategy `spill`: orders d.backends by the self-hosted backends' headroom, fills d.load,
  /// d.spill, d.spill_from and d.wait (engine_decide.cc has the rules).
  void spill(const CompiledRule& rule, const Context& ctx, Walk& walk, RuleTrace* trace,
             Decision& d) const;
  /// What a spill rule sees of a self-hosted backend: its load, in-flight count and headroom;
  /// `reason` says why it has none.
  LoadSeen see(std::size_t b, const Context& ctx, SpillReason& reason) const;
  /// Orders d.backends by the rule's strategy.
  void order(config::Strategy strategy, const Context& ctx, std::uint64_t output,
             std::vector<std::size_t>& backends) const;
  /// Nothing routed: forbidden or unavailable, with the message.
  void refuse(const RequestFacts& facts, const Classified& in, const Walk& walk,
              const Detector& detector, Decision& d) const;
  std::string forbidden_reason(const Classified& in, const Detector& detector,
                               const Decision& d) const;

  // ---- Explain steps (engine_explain.cc)
  void explain_sensitivity(const Detector& detector, const Decision& d, const RequestFacts& facts,
                           boost::json::object& out) const;
  /// The rules as tried, with the backends each left out (also appended to `excluded`).
  void explain_rules(const Decision& d, boost::json::object& out,
                     boost::json::array& excluded) const;
  /// A reason for every backend neither chosen nor excluded by a matched rule.
  void explain_unnamed(const Engine& engine, const Decision& d, const RequestFacts& facts,
                       boost::json::array& excluded) const;
  /// The load signals a spill rule read, per backend, and why it spilled or waits.
  void explain_load(const Decision& d, boost::json::object& out) const;
};

}  // namespace sb::policies
