// Engine::explain_json: a decision and its trace as the JSON /admin/explain answers.

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "policies/engine.h"
#include "policies/engine_internal.h"

namespace sb::policies {

using namespace engine_detail;
namespace json = boost::json;

void Engine::Impl::explain_sensitivity(const Detector& detector, const Decision& d,
                                       const RequestFacts& facts, json::object& out) const {
  const config::Config& c = *config;
  const bool has_tenant = facts.tenant < tenants.size();
  json::object sensitivity;
  sensitivity["level"] = level_name(d.sensitivity);
  sensitivity["why"] = d.sensitivity_why;
  json::array entities;
  for (const EntityCount& e : d.detection.entities) {
    json::object entity;
    entity["type"] = detector.entity_names()[e.entity];
    entity["count"] = e.count;
    const int level = detector.level_of(e.entity);
    entity["level"] = level >= 0 ? json::value(level_name(level)) : json::value(nullptr);
    entities.push_back(std::move(entity));
  }
  sensitivity["entities"] = std::move(entities);
  // Values an allow-list let through: the detector, how many, and the entry by name (a default's
  // name or the configured entry's key path), never the value.
  json::array allowed;
  for (const AllowedCount& a : d.detection.allowed) {
    const AllowEntryName& entry = detector.allow_entries()[a.entry];
    json::object x;
    x["type"] = detector.entity_names()[a.entity];
    x["count"] = a.count;
    x["entry"] = entry.name;
    x["default"] = entry.from_defaults;
    allowed.push_back(std::move(x));
  }
  sensitivity["allowed"] = std::move(allowed);
  sensitivity["floor"] =
      has_tenant ? json::value(level_name(tenants[facts.tenant].floor)) : json::value(nullptr);
  const int header_level =
      facts.classification_header.empty()
          ? -1
          : classification_level(c.sensitivity.levels, facts.classification_header);
  sensitivity["header"] =
      header_level >= 0 ? json::value(level_name(header_level)) : json::value(nullptr);
  const unsigned unscannable = facts.unscannable & c.sensitivity.unscannable.kinds;
  sensitivity["unscannable"] =
      unscannable != 0 ? json::value(unscannable_list(unscannable)) : json::value(nullptr);
  out["sensitivity"] = std::move(sensitivity);
}

void Engine::Impl::explain_rules(const Decision& d, json::object& out,
                                 json::array& excluded) const {
  json::array rules;
  for (const RuleTrace& t : d.trace) {
    json::object rule;
    rule["name"] = t.rule;
    rule["matched"] = t.matched;
    rule["failed"] = t.failed;
    json::array rule_excluded;
    for (const Exclusion& e : t.excluded) {
      json::object x;
      x["name"] = backends[e.backend].name;
      x["reason"] = e.reason;
      rule_excluded.push_back(x);
      x["rule"] = t.rule;
      excluded.push_back(std::move(x));
    }
    rule["excluded"] = std::move(rule_excluded);
    rules.push_back(std::move(rule));
  }
  out["rules"] = std::move(rules);
}

void Engine::Impl::explain_unnamed(const Engine& engine, const Decision& d,
                                   const RequestFacts& facts, json::array& excluded) const {
  const bool has_tenant = facts.tenant < tenants.size();
  for (std::size_t b = 0; b < config->backends.size(); ++b) {
    bool listed = std::find(d.backends.begin(), d.backends.end(), b) != d.backends.end();
    for (const RuleTrace& t : d.trace) {
      for (const Exclusion& e : t.excluded) {
        listed = listed || e.backend == b;
      }
    }
    if (listed) {
      continue;
    }
    json::object x;
    x["name"] = backends[b].name;
    std::string reason = d.rule.empty() ? std::string("no rule routed to it")
                                        : "not in the route of rule '" + std::string(d.rule) + "'";
    if (has_tenant && !engine.cleared(b, d.sensitivity, facts.tenant)) {
      reason += "; not cleared for " + std::string(level_name(d.sensitivity)) + " data";
    }
    x["reason"] = std::move(reason);
    x["rule"] = d.rule;
    excluded.push_back(std::move(x));
  }
}

// Only for decisions of a spill rule: other explanations keep their shape.
void Engine::Impl::explain_load(const Decision& d, json::object& out) const {
  if (d.load.empty() && d.wait == nullptr && d.spill == SpillReason::none) {
    return;
  }
  json::array load;
  for (const LoadSeen& seen : d.load) {
    const LoadSignals& s = seen.signals;
    json::object x;
    x["name"] = backends[seen.backend].name;
    x["source"] = to_string(s.source);
    // Figures the engine does not export, or that no fresh reading gave, are null.
    const auto figure = [](double v) { return v >= 0 ? json::value(v) : json::value(nullptr); };
    const bool fresh = s.source == LoadSource::engine;
    x["waiting"] = fresh ? json::value(s.waiting) : json::value(nullptr);
    x["running"] = fresh ? json::value(s.running) : json::value(nullptr);
    x["kv_cache"] = figure(s.kv_cache);
    x["ttft_p50"] = figure(s.ttft_p50);
    x["age_ms"] = s.age_ms >= 0 ? json::value(s.age_ms) : json::value(nullptr);
    x["endpoints"] = s.endpoints;
    x["fresh"] = s.fresh;
    x["with_headroom"] = s.with_headroom;
    x["in_flight"] = seen.in_flight;
    const unsigned max = backends[seen.backend].max_in_flight;
    x["max_in_flight"] = max > 0 ? json::value(max) : json::value(nullptr);
    x["headroom"] = seen.headroom;
    load.push_back(std::move(x));
  }
  out["load"] = std::move(load);
  json::object spill;
  spill["reason"] = to_string(d.spill);
  spill["from"] = d.spill != SpillReason::none ? json::value(backends[d.spill_from].name)
                                               : json::value(nullptr);
  if (d.wait != nullptr) {
    json::object wait;
    wait["max"] = d.wait->max;
    wait["timeout_ms"] = d.wait->timeout.count();
    spill["wait"] = std::move(wait);
  } else {
    spill["wait"] = nullptr;
  }
  out["spill"] = std::move(spill);
}

std::string Engine::explain_json(const Decision& d, const RequestFacts& facts) const {
  const Impl& impl = *impl_;
  const config::Config& c = *config_;
  const bool has_tenant = facts.tenant < impl.tenants.size();
  const std::uint64_t output = facts.max_tokens.value_or(impl.default_output_tokens);

  json::object out;
  out["outcome"] = to_string(d.outcome);
  out["rule"] = d.rule;
  out["tenant"] = has_tenant ? json::value(impl.tenants[facts.tenant].name) : json::value(nullptr);
  out["model"] = facts.model;
  impl.explain_sensitivity(*detector_, d, facts, out);

  json::object tier;
  tier["level"] = impl.tier_name(d.tier);
  tier["why"] = d.tier_why;
  out["tier"] = std::move(tier);

  json::array excluded;
  impl.explain_rules(d, out, excluded);
  json::array backends;
  for (std::size_t b : d.backends) {
    json::object x;
    x["name"] = impl.backends[b].name;
    x["hosting"] = config::to_string(c.backends[b].hosting);
    x["estimated_cost_usd"] = nanos_to_usd(cost(b, facts.estimated_prompt_tokens, output));
    backends.push_back(std::move(x));
  }
  out["backends"] = std::move(backends);
  impl.explain_load(d, out);
  // Every other backend gets a reason too: the ones the matched rule never named.
  impl.explain_unnamed(*this, d, facts, excluded);
  out["excluded"] = std::move(excluded);
  out["estimated_tokens"] = d.estimated_tokens;
  out["estimated_cost_usd"] = nanos_to_usd(d.estimated_cost);
  out["message"] = d.message;
  return json::serialize(out);
}

}  // namespace sb::policies
