#include "policies/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <random>

#include "policies/engine_internal.h"

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
//    The rest is ordered by the strategy. Under `spill`, self-hosted candidates are not excluded
//    for capacity while no closed candidate is left (the request waits for them instead; see
//    Engine::Impl::spill in engine_decide.cc). Non-empty → route. Empty → `reject` stops,
//    `next_rule` tries the next rule.
// 6. Nothing routed: forbidden (403) when every candidate of the matched rules failed the
//    clearance invariant (or no backend of the whole config is cleared for this sensitivity and
//    tenant); unavailable (503) when a cleared candidate was held back by capacity, budget or
//    tier. Decision::rule is then the last rule that matched ("" when none did).
//
// The clearance invariant is Engine::cleared(); every candidate passes through it and the final
// list is checked against it once more in every build.

namespace sb::policies {

std::string_view to_string(Outcome o) {
  // In the order of the enumerators.
  static constexpr std::string_view kNames[] = {"route", "forbidden",   "unavailable",
                                                "shed",  "bad_request", "unknown_model"};
  const auto i = static_cast<std::size_t>(o);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::string_view to_string(SpillReason r) {
  // In the order of the enumerators.
  static constexpr std::string_view kNames[] = {"none", "queue", "kv_cache", "in_flight", "stale"};
  const auto i = static_cast<std::size_t>(r);
  return i < std::size(kNames) ? kNames[i] : "none";
}

std::string_view to_string(TierSource s) {
  // In the order of the enumerators.
  static constexpr std::string_view kNames[] = {"default", "header", "alias", "infer"};
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

namespace engine_detail {

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

namespace {

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
}  // namespace

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
}  // namespace engine_detail

using namespace engine_detail;

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
  return impl_->cleared(backend, sensitivity, tenant);
}

Nanos Engine::cost(std::size_t backend, std::uint64_t input, std::uint64_t output,
                   std::uint64_t cached_input, std::uint64_t cache_write) const {
  return impl_->cost(backend, input, output, cached_input, cache_write);
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

}  // namespace sb::policies
