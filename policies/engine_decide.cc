// Engine::decide: resolve the request's tenant, model and headers; classify its sensitivity and
// tier; try the rules in order (conditions, then candidates, then the strategy's order); refuse
// with forbidden or unavailable when nothing routes. Semantics: the comment atop engine.cc.

#include <algorithm>
#include <limits>

#include <boost/container/small_vector.hpp>

#include "policies/engine.h"
#include "policies/engine_internal.h"
#include "policies/saturating.h"

namespace sb::policies {

using namespace engine_detail;

namespace {

/// Drops from `backends` any that fail the clearance invariant (`cleared`), counting them:
/// checked once more on the final list in every build.
template <class Cleared>
void drop_uncleared(const Cleared& cleared, std::vector<std::size_t>& backends) {
  auto bad =
      std::remove_if(backends.begin(), backends.end(), [&](std::size_t b) { return !cleared(b); });
  if (bad != backends.end()) {
    g_invariant_violations.fetch_add(static_cast<std::uint64_t>(backends.end() - bad),
                                     std::memory_order_relaxed);
    backends.erase(bad, backends.end());
  }
}

/// By this request's estimated cost on each backend (`cost_of(b)`); equal costs keep the listed
/// order.
template <class CostOf>
void order_cheapest(const CostOf& cost_of, std::vector<std::size_t>& backends) {
  boost::container::small_vector<std::pair<Nanos, std::size_t>, 16> keyed;
  for (std::size_t b : backends) {
    keyed.emplace_back(cost_of(b), b);
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    backends[i] = keyed[i].second;
  }
}

/// Utilisation = in_flight / max_in_flight. A backend without max_in_flight declares no capacity,
/// so its utilisation is taken as 0: it is preferred to any busy limited one. Equal utilisation:
/// fewer requests in flight first, then the listed order.
void order_least_loaded(const std::vector<BackendInfo>& info, const StateView& state,
                        std::vector<std::size_t>& backends) {
  struct Load {
    double utilisation;
    std::int64_t in_flight;
    std::size_t backend;
  };
  boost::container::small_vector<Load, 16> keyed;
  for (std::size_t b : backends) {
    const std::int64_t n = state.backend_in_flight(b);
    const unsigned max = info[b].max_in_flight;
    keyed.push_back(Load{max > 0 ? static_cast<double>(n) / max : 0.0, n, b});
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const Load& x, const Load& y) {
    return x.utilisation != y.utilisation ? x.utilisation < y.utilisation
                                          : x.in_flight < y.in_flight;
  });
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    backends[i] = keyed[i].backend;
  }
}

/// Weighted random order without replacement: each position is drawn among the backends not yet
/// placed with probability weight / (sum of their weights).
void order_weighted(const std::vector<BackendInfo>& info, std::vector<std::size_t>& backends) {
  std::uint64_t total = 0;
  for (std::size_t b : backends) {
    total += info[b].weight;
  }
  for (std::size_t i = 0; i + 1 < backends.size(); ++i) {
    std::uint64_t pick = next_random() % total;
    std::size_t j = i;
    while (pick >= info[backends[j]].weight) {
      pick -= info[backends[j]].weight;
      ++j;
    }
    total -= info[backends[j]].weight;
    // Move the pick to position i; the not-yet-placed rest keeps its listed order, so a seed
    // gives one answer.
    std::rotate(backends.begin() + static_cast<std::ptrdiff_t>(i),
                backends.begin() + static_cast<std::ptrdiff_t>(j),
                backends.begin() + static_cast<std::ptrdiff_t>(j) + 1);
  }
}

/// A rule's `when.volume` conditions on the live state of its backend.
bool volume_holds(const std::vector<BackendInfo>& backends, const CompiledRule& r,
                  const Context& ctx, std::string* why) {
  const BackendInfo& b = backends[r.volume_backend];
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
  const auto above = [&](std::string_view what, double value, double threshold) {
    if (value > threshold) {
      return true;
    }
    if (why != nullptr) {
      *why = "volume: " + std::string(b.name) + " " + std::string(what) + " " +
             format_number(value) + " not above " + format_number(threshold);
    }
    return false;
  };
  if (r.rpm_above && !above("rpm", ctx.state.backend_rpm(r.volume_backend), *r.rpm_above)) {
    return false;
  }
  return !r.tpm_above || above("tpm", ctx.state.backend_tpm(r.volume_backend), *r.tpm_above);
}

/// A rule's `when.load`: every set threshold exceeded by the backend's fresh engine signals;
/// stale or absent signals hold nothing.
bool load_holds(const std::vector<BackendInfo>& backends, const CompiledRule& r, const Context& ctx,
                std::string* why) {
  const LoadSignals s = ctx.state.backend_load(r.load_backend);
  const std::string_view name = backends[r.load_backend].name;
  if (s.source != LoadSource::engine) {
    if (why != nullptr) {
      *why = "load: " + std::string(name) +
             (s.source == LoadSource::stale ? " signals stale" : " has no engine signals");
    }
    return false;
  }
  // A figure the engine does not export (-1) is never above a threshold.
  const auto above = [&](std::string_view what, double value, double threshold) {
    if (value >= 0 && value > threshold) {
      return true;
    }
    if (why != nullptr) {
      *why = "load: " + std::string(name) + " " + std::string(what) + " " +
             (value >= 0 ? format_number(value) : std::string("unknown")) + " not above " +
             format_number(threshold);
    }
    return false;
  };
  return (!r.queue_above || above("queue", s.waiting, *r.queue_above)) &&
         (!r.kv_cache_above || above("kv_cache", s.kv_cache, *r.kv_cache_above)) &&
         (!r.ttft_p50_above || above("ttft_p50", s.ttft_p50, *r.ttft_p50_above));
}

/// A rule's `when.headers`: each named header present with one of its values.
bool headers_hold(const CompiledRule& r, const Context& ctx, std::string* why) {
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

/// A recorded detection (RequestFacts::detected) as if the detectors had found it: the enabled
/// entities of this detector with a count, highest level first (then by name), as
/// Detector::scan orders them.
void take_detected(const Detector& detector, const std::vector<EntityCount>& counts,
                   Detection& out) {
  const std::size_t known = detector.entity_names().size();
  for (const EntityCount& e : counts) {
    // An entity this detector has switched off (level -1) is not found by scan() either.
    if (e.entity < known && e.count > 0 && detector.level_of(e.entity) >= 0) {
      out.entities.push_back(e);
      out.level = std::max(out.level, detector.level_of(e.entity));
    }
  }
  std::sort(
      out.entities.begin(), out.entities.end(), [&](const EntityCount& x, const EntityCount& y) {
        const int lx = detector.level_of(x.entity);
        const int ly = detector.level_of(y.entity);
        return lx != ly ? lx > ly
                        : detector.entity_names()[x.entity] < detector.entity_names()[y.entity];
      });
}

}  // namespace

bool Engine::Impl::resolve(const RequestFacts& facts, Classified& in, Decision& d) const {
  const config::Config& c = *config;
  if (facts.tenant >= tenants.size()) {
    d.outcome = Outcome::forbidden;
    d.message = "The request has no valid tenant.";
    return false;
  }
  in.tenant = &tenants[facts.tenant];
  d.floor_level = in.tenant->floor;
  auto alias_it = alias_index.find(facts.model);
  if (alias_it == alias_index.end()) {
    d.outcome = Outcome::unknown_model;
    std::string_view shown = facts.model.substr(0, 128);
    d.message = "The model '" + std::string(shown) + "' does not exist.";
    return false;
  }
  in.alias_index = alias_it->second;
  in.alias = &aliases[alias_it->second];
  // A header names a configured level (or tier), or the request is a bad_request listing them.
  const auto bad_header = [&](std::string_view header, const std::string& names) {
    d.outcome = Outcome::bad_request;
    d.message = std::string(header) + " must be one of: " + names;
    return false;
  };
  if (!facts.classification_header.empty()) {
    in.header_level = classification_level(c.sensitivity.levels, facts.classification_header);
    if (in.header_level < 0) {
      return bad_header(kClassificationHeader, level_list);
    }
  }
  if (!facts.tier_header.empty()) {
    in.header_tier = find_level(c.tiers.levels, facts.tier_header);
    if (in.header_tier < 0) {
      return bad_header(kTierHeader, tier_list);
    }
  }
  return true;
}

void Engine::Impl::classify(const Detector& detector, const RequestFacts& facts, Classified& in,
                            Decision& d) const {
  const config::Config& c = *config;
  // Sensitivity: the highest of what was found, the tenant's floor and the client's label.
  if (facts.detected != nullptr) {
    take_detected(detector, *facts.detected, d.detection);
  } else if (!facts.texts.empty()) {
    d.detection = detector.scan(facts.texts);
  }
  // Content the detectors cannot read takes the configured level (the highest by default).
  in.unscannable = facts.unscannable & c.sensitivity.unscannable.kinds;
  in.unscannable_level = in.unscannable == 0 ? -1
                         : c.sensitivity.unscannable.level >= 0
                             ? c.sensitivity.unscannable.level
                             : static_cast<int>(c.sensitivity.levels.names.size()) - 1;
  d.sensitivity =
      std::max({d.detection.level, in.tenant->floor, in.header_level, in.unscannable_level, 0});
  d.header_level = in.header_level;
  d.unscannable_level = in.unscannable_level;
  d.unscannable = in.unscannable;

  // Tier: header, else alias, else the first inference rule that matches, else the default.
  if (in.header_tier >= 0) {
    d.tier = in.header_tier;
    d.tier_source = TierSource::header;
  } else if (in.alias->tier >= 0) {
    d.tier = in.alias->tier;
    d.tier_source = TierSource::alias;
  } else {
    d.tier = c.tiers.default_tier;
    for (std::size_t i = 0; i < c.tiers.infer.size(); ++i) {
      if (features_hold(c.tiers.infer[i].when, facts, nullptr)) {
        d.tier = c.tiers.infer[i].tier;
        d.tier_source = TierSource::inferred;
        in.inferred_by = static_cast<int>(i);
        d.tier_rule = in.inferred_by;
        break;
      }
    }
  }
}

void Engine::Impl::explain_classification(const Detector& detector, const RequestFacts& facts,
                                          const Classified& in, Decision& d) const {
  std::string why;
  if (d.detection.level >= 0) {
    why = "detected " + std::string(level_name(d.detection.level)) + " (" +
          entity_list(detector, d.detection) + ")";
  } else {
    why = "nothing detected";
  }
  why += "; tenant floor " + std::string(level_name(in.tenant->floor));
  if (in.header_level >= 0) {
    why +=
        "; " + std::string(kClassificationHeader) + " " + std::string(level_name(in.header_level));
  }
  if (in.unscannable_level >= 0) {
    why += "; unscannable: " + unscannable_list(in.unscannable) + " " +
           std::string(level_name(in.unscannable_level));
  }
  d.sensitivity_why = std::move(why);
  if (in.header_tier >= 0) {
    d.tier_why = std::string(kTierHeader) + " header";
  } else if (in.alias->tier >= 0) {
    d.tier_why = "model alias '" + std::string(facts.model) + "'";
  } else if (in.inferred_by >= 0) {
    d.tier_why = "inferred by tiers.infer[" + std::to_string(in.inferred_by) + "]";
  } else {
    d.tier_why = "default";
  }
}

bool Engine::Impl::admits(std::size_t b, const CompiledRule& rule, const Context& ctx,
                          const Classified& in, Walk& walk, std::string* reason) const {
  const BackendInfo& info = backends[b];
  if (!cleared(b, ctx.sensitivity, ctx.tenant)) {
    // The reason is spelled out only for explain; cleared() alone decides.
    if (reason != nullptr) {
      if (info.clearance < ctx.sensitivity) {
        *reason = "clearance " + std::string(level_name(info.clearance)) + " < sensitivity " +
                  std::string(level_name(ctx.sensitivity));
      } else if (!info.license_commercial && in.tenant->commercial) {
        *reason = "license research-only and tenant use commercial";
      } else {
        *reason = "egress none: closed backend";
      }
    }
    return false;
  }
  if (info.tier < ctx.tier && !rule.allow_lower_tier) {
    walk.held_back = true;
    if (reason != nullptr) {
      *reason = "tier " + std::string(tier_name(info.tier)) + " < required " +
                std::string(tier_name(ctx.tier));
    }
    return false;
  }
  if (info.closed && in.tenant->self_hosted_only_when_exhausted) {
    if (walk.budget_exhausted < 0) {
      walk.budget_exhausted = ctx.state.budget_exhausted(ctx.tenant) ? 1 : 0;
    }
    if (walk.budget_exhausted == 1) {
      walk.held_back = true;
      if (reason != nullptr) {
        *reason = "budget exhausted: self-hosted only";
      }
      return false;
    }
  }
  // Under spill a self-hosted backend at capacity stays a candidate: Impl::spill decides.
  const bool spill_local = rule.strategy == config::Strategy::spill && !info.closed;
  if (info.max_in_flight > 0 && !spill_local) {
    const std::int64_t in_flight = ctx.state.backend_in_flight(b);
    if (in_flight >= info.max_in_flight) {
      walk.held_back = true;
      if (reason != nullptr) {
        *reason =
            "at capacity " + std::to_string(in_flight) + "/" + std::to_string(info.max_in_flight);
      }
      return false;
    }
  }
  return true;
}

void Engine::Impl::order(config::Strategy strategy, const Context& ctx, std::uint64_t output,
                         std::vector<std::size_t>& list) const {
  if (list.size() <= 1) {
    return;
  }
  switch (strategy) {
    case config::Strategy::ordered:
      break;
    case config::Strategy::cheapest:
      order_cheapest(
          [&](std::size_t b) { return cost(b, ctx.facts.estimated_prompt_tokens, output, 0, 0); },
          list);
      break;
    case config::Strategy::least_loaded:
      order_least_loaded(backends, ctx.state, list);
      break;
    case config::Strategy::weighted:
      order_weighted(backends, list);
      break;
    case config::Strategy::spill:
      break;  // Impl::spill
  }
}

void Engine::Impl::candidates(const CompiledRule& rule, const Context& ctx, const Classified& in,
                              Walk& walk, RuleTrace* trace, Decision& d) const {
  d.backends.clear();
  for (std::size_t b : rule.to.empty() ? in.alias->candidates : rule.to) {
    std::string reason;
    if (admits(b, rule, ctx, in, walk, trace != nullptr ? &reason : nullptr)) {
      d.backends.push_back(b);
    } else if (trace != nullptr) {
      trace->excluded.push_back(Exclusion{b, std::move(reason)});
    }
  }
}

// Headroom of a self-hosted backend under spill:
// - fresh engine signals: an endpoint below the load.headroom thresholds, and in_flight below
//   max_in_flight (when set); the reason when not: kv_cache when even the least-used replica's KV
//   cache is at the threshold, else queue; in_flight when only the gateway's count is full;
// - no signals: in_flight below headroom.in_flight x max_in_flight (no max_in_flight: always);
// - stale signals: per on_stale (in-flight: as with none; full: never, reason stale; idle:
//   always).
LoadSeen Engine::Impl::see(std::size_t b, const Context& ctx, SpillReason& reason) const {
  const BackendInfo& info = backends[b];
  static const config::LoadSettings kDefaults;
  const config::LoadSettings& load = info.load != nullptr ? *info.load : kDefaults;
  LoadSeen seen;
  seen.backend = b;
  seen.signals = ctx.state.backend_load(b);
  seen.in_flight = ctx.state.backend_in_flight(b);
  const double max = info.max_in_flight;
  const bool below_max = info.max_in_flight == 0 || static_cast<double>(seen.in_flight) < max;
  const bool below_fraction = info.max_in_flight == 0 ||
                              static_cast<double>(seen.in_flight) < load.headroom_in_flight * max;
  LoadSource source = seen.signals.source;
  if (source == LoadSource::stale && load.on_stale == config::OnStale::in_flight) {
    source = LoadSource::none;
  }
  reason = SpillReason::in_flight;
  if (source == LoadSource::engine) {
    seen.headroom = seen.signals.with_headroom > 0 && below_max;
    if (seen.signals.with_headroom == 0) {
      reason = seen.signals.kv_cache >= load.headroom_kv_cache ? SpillReason::kv_cache
                                                               : SpillReason::queue;
    }
  } else if (source == LoadSource::none) {
    seen.headroom = below_fraction;
  } else {
    seen.headroom = load.on_stale == config::OnStale::idle;
    reason = SpillReason::stale;
  }
  if (seen.headroom) {
    reason = SpillReason::none;
  }
  return seen;
}

// Strategy `spill` on the admitted candidates (closed ones cleared and eligible, self-hosted ones
// not excluded for capacity):
// - some self-hosted backend has headroom: [self-hosted with headroom, closed, the other
//   self-hosted]; no spill;
// - none has, and a closed backend is left: [closed, self-hosted]; spill = the first self-hosted
//   backend's reason, spill_from = it;
// - no closed backend is left (the request is cleared for none, or none is eligible now):
//   [self-hosted], those at max_in_flight included, and the request may wait in the rule's queue.
// While a closed backend is left, self-hosted backends at max_in_flight are excluded as usual.
void Engine::Impl::spill(const CompiledRule& rule, const Context& ctx, Walk& walk, RuleTrace* trace,
                         Decision& d) const {
  boost::container::small_vector<std::size_t, 8> with, without, closed;
  for (std::size_t b : d.backends) {
    if (backends[b].closed) {
      closed.push_back(b);
    }
  }
  SpillReason first = SpillReason::none;  // of the first self-hosted backend
  std::size_t first_local = 0;
  for (std::size_t b : d.backends) {
    if (backends[b].closed) {
      continue;
    }
    SpillReason why = SpillReason::none;
    const LoadSeen& seen = d.load.emplace_back(see(b, ctx, why));
    if (d.load.size() == 1) {
      first = why;
      first_local = b;
    }
    const unsigned max = backends[b].max_in_flight;
    if (!closed.empty() && max > 0 && seen.in_flight >= max) {
      walk.held_back = true;
      if (trace != nullptr) {
        trace->excluded.push_back(Exclusion{
            b, "at capacity " + std::to_string(seen.in_flight) + "/" + std::to_string(max)});
      }
      continue;
    }
    (seen.headroom ? with : without).push_back(b);
  }
  d.backends.assign(with.begin(), with.end());
  if (closed.empty()) {
    d.backends.insert(d.backends.end(), without.begin(), without.end());
    d.wait = rule.queue;
    return;
  }
  d.backends.insert(d.backends.end(), closed.begin(), closed.end());
  d.backends.insert(d.backends.end(), without.begin(), without.end());
  if (with.empty() && !d.load.empty()) {
    d.spill = first;
    d.spill_from = first_local;
  }
}

std::string Engine::Impl::forbidden_reason(const Classified& in, const Detector& detector,
                                           const Decision& d) const {
  std::string why;
  if (!d.detection.entities.empty()) {
    why = "detected: " + entity_list(detector, d.detection);
  }
  const int found = std::max(d.detection.level, 0);
  const int floor = in.tenant->floor;
  if (floor == d.sensitivity && floor > found) {
    why += (why.empty() ? "" : "; ") + std::string("tenant floor");
  } else if (in.header_level == d.sensitivity && in.header_level > std::max(found, floor)) {
    why += (why.empty() ? "" : "; ") + std::string(kClassificationHeader) + " header";
  } else if (in.unscannable_level == d.sensitivity &&
             in.unscannable_level > std::max({found, floor, in.header_level})) {
    why +=
        (why.empty() ? "" : "; ") + std::string("unscannable: ") + unscannable_list(in.unscannable);
  }
  return why;
}

void Engine::Impl::refuse(const RequestFacts& facts, const Classified& in, const Walk& walk,
                          const Detector& detector, Decision& d) const {
  // Nothing routed. 403 when the data may not go to any backend the matched rules named (every
  // one failed the clearance invariant: clearance, license or egress), or to any backend at all;
  // 503 when a cleared backend was only held back for now (capacity, budget) or by its tier.
  bool any_cleared = false;
  for (std::size_t b = 0; b < backends.size() && !any_cleared; ++b) {
    any_cleared = cleared(b, d.sensitivity, facts.tenant);
  }
  const std::string level(level_name(d.sensitivity));
  if (any_cleared && walk.held_back) {
    d.outcome = Outcome::unavailable;
    d.message = "No eligible backend can take this request now (sensitivity " + level + ", tier " +
                std::string(tier_name(d.tier)) + ")";
    if (walk.rejected) {
      d.message += "; rule '" + std::string(d.rule) + "' allows no other backend";
    }
    d.message += ".";
    return;
  }
  d.outcome = Outcome::forbidden;
  const std::string why = forbidden_reason(in, detector, d);
  d.message = "Request classified " + level + (why.empty() ? "" : " (" + why + ")");
  if (any_cleared) {
    d.message +=
        "; no backend its policy allows is cleared for it (clearance, license or "
        "egress)";
  } else {
    d.message += "; no backend is cleared for " + level + " data";
    bool clearance_suffices = false;
    for (const BackendInfo& b : backends) {
      clearance_suffices = clearance_suffices || b.clearance >= d.sensitivity;
    }
    if (clearance_suffices) {
      d.message += " (license or egress restrictions)";
    }
  }
  d.message += ".";
}

Decision Engine::decide(const RequestFacts& facts, const StateView& state, bool explain) const {
  const Impl& impl = *impl_;
  Decision d;
  Impl::Classified in;
  if (!impl.resolve(facts, in, d)) {
    return d;
  }
  impl.classify(*detector_, facts, in, d);
  if (explain) {
    impl.explain_classification(*detector_, facts, in, d);
  }
  const std::uint64_t output = saturating_mul(facts.max_tokens.value_or(impl.default_output_tokens),
                                              std::max<std::uint64_t>(facts.choices, 1));
  d.estimated_tokens = saturating_add(facts.estimated_prompt_tokens, output);

  const Context ctx{facts, state, facts.tenant, in.alias_index, d.sensitivity, d.tier};
  Impl::Walk walk;
  for (const CompiledRule& rule : impl.rules) {
    RuleTrace* trace = explain ? &d.trace.emplace_back() : nullptr;
    if (trace != nullptr) {
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
    impl.candidates(rule, ctx, in, walk, trace, d);
    d.load.clear();  // what an earlier spill rule that routed nothing saw
    d.wait = nullptr;
    d.spill = SpillReason::none;
    if (rule.strategy == config::Strategy::spill) {
      impl.spill(rule, ctx, walk, trace, d);
    } else {
      impl.order(rule.strategy, ctx, output, d.backends);
    }
    drop_uncleared([&](std::size_t b) { return impl.cleared(b, d.sensitivity, facts.tenant); },
                   d.backends);
    if (!d.backends.empty()) {
      d.outcome = Outcome::route;
      d.estimated_cost = impl.cost(d.backends.front(), facts.estimated_prompt_tokens, output, 0, 0);
      return d;
    }
    if (rule.reject) {
      walk.rejected = true;
      break;
    }
  }
  impl.refuse(facts, in, walk, *detector_, d);
  return d;
}

bool Engine::Impl::matches(const CompiledRule& r, const Context& ctx, std::string* why) const {
  const config::Config& c = *config;
  if (r.sensitivity && !r.sensitivity->contains(ctx.sensitivity)) {
    if (why != nullptr) {
      *why = "sensitivity: " + std::string(level_name(ctx.sensitivity)) + " is not " +
             range_text(*r.sensitivity, c.sensitivity.levels);
    }
    return false;
  }
  if (r.tier && !r.tier->contains(ctx.tier)) {
    if (why != nullptr) {
      *why = "tier: " + std::string(tier_name(ctx.tier)) + " is not " +
             range_text(*r.tier, c.tiers.levels);
    }
    return false;
  }
  if (!r.tenants.empty() && !r.tenants[ctx.tenant]) {
    if (why != nullptr) {
      *why = "tenants: " + std::string(tenants[ctx.tenant].name) + " not in [" +
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
  if (r.has_volume && !volume_holds(backends, r, ctx, why)) {
    return false;
  }
  if (r.has_load && !load_holds(backends, r, ctx, why)) {
    return false;
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
  return r.headers.empty() || headers_hold(r, ctx, why);
}

}  // namespace sb::policies
