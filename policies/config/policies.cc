// `egress:`, `policy_headers:` and `policies:`, the routing rules (first match wins).
#include <algorithm>
#include <array>
#include <map>
#include <string>

#include "policies/config/builder.h"

namespace sb::config::detail {
namespace {

constexpr std::array<std::string_view, 2> kEgress{"all", "none"};
constexpr std::array<std::string_view, 3> kBudgetPeriods{"any", "daily", "monthly"};
constexpr std::array<std::string_view, 5> kStrategies{"ordered", "cheapest", "least-loaded",
                                                      "weighted", "spill"};
constexpr std::array<std::string_view, 2> kOnUnavailable{"next-rule", "reject"};

// Request headers that carry credentials: routing on them would make key material part of the
// policy, so they cannot be listed in policy_headers.
constexpr std::array<std::string_view, 5> kCredentialHeaders{"authorization", "proxy-authorization",
                                                             "cookie", "x-api-key", "api-key"};

// Whether a `when` condition read at `v` stands: no error since `before` (the error count when its
// reading began), and one of its thresholds set (`any`; else an error listing `thresholds`).
bool condition_stands(YamlReader& r, const Located& v, std::size_t before, bool any,
                      std::string_view thresholds) {
  if (r.error_count() != before) {
    return false;
  }
  if (!any) {
    r.error(v, "expected at least one of " + std::string(thresholds));
  }
  return any;
}

}  // namespace

void ConfigBuilder::read_egress(const Located& v) {
  if (std::optional<std::string> e = r_.one_of(v, "egress", kEgress)) {
    config_.egress = *e == "none" ? Egress::none : Egress::all;
  }
}

void ConfigBuilder::read_policy_headers(const Located& v) {
  auto names = r_.names(v, "expected a list of header names");
  if (!names) {
    return;
  }
  for (const auto& [item, name] : *names) {
    if (!valid_header_name(name)) {
      r_.error(item, "invalid header name '" + name + "'");
      continue;
    }
    std::string lower = lowercase(name);
    if (std::find(kCredentialHeaders.begin(), kCredentialHeaders.end(), lower) !=
        kCredentialHeaders.end()) {
      r_.error(item, "header '" + name + "' carries credentials and cannot be used in policies");
      continue;
    }
    if (std::find(config_.policy_headers.begin(), config_.policy_headers.end(), lower) !=
        config_.policy_headers.end()) {
      r_.error(item, "duplicate header '" + name + "'");
      continue;
    }
    config_.policy_headers.push_back(std::move(lower));
  }
}

void ConfigBuilder::read_policies(const Located& section) {
  std::optional<std::vector<Located>> items =
      r_.sequence(section, "expected a list of rules ({name, when, route})");
  if (!items) {
    return;
  }
  std::vector<RuleNodes> rules;
  std::map<std::string, std::size_t> names;
  for (const Located& item : *items) {
    Policy p;
    p.line = item.line;
    RuleNodes nodes;
    nodes.node = item;
    bool ok = r_.read_map(
        item, {
                  {"name", kRequired,
                   [&](const Located& v) {
                     nodes.name = v;
                     assign(p.name, r_.non_empty_string(v));
                   }},
                  {"when", kOptional,
                   [&](const Located& v) {
                     std::size_t before = r_.error_count();
                     read_when(v, p.when);
                     nodes.when_ok = r_.error_count() == before;
                   }},
                  {"route", kOptional, [&](const Located& v) { read_route(v, p.route, nodes); }},
              });
    if (!ok) {
      continue;
    }
    if (nodes.name && !p.name.empty()) {
      if (!valid_backend_name(p.name)) {
        r_.error(*nodes.name,
                 "invalid rule name '" + p.name + "' (use letters, digits, '_', '.' and '-')");
      } else if (!names.emplace(p.name, rules.size()).second) {
        r_.error(*nodes.name, "duplicate rule name '" + p.name + "'");
      }
    }
    config_.policies.push_back(std::move(p));
    rules.push_back(std::move(nodes));
  }
  check_policies(section, rules);
}

void ConfigBuilder::read_when(const Located& v, When& w) {
  r_.read_map(
      v, {
             {"sensitivity", kOptional,
              [&](const Located& x) { w.sensitivity = level_range(x, Kind::level); }},
             {"tier", kOptional, [&](const Located& x) { w.tier = level_range(x, Kind::tier); }},
             {"tenant", kOptional,
              [&](const Located& x) { read_references(x, w.tenants, Reference::tenant); }},
             {"model", kOptional,
              [&](const Located& x) { read_references(x, w.models, Reference::model); }},
             {"volume", kOptional, [&](const Located& x) { w.volume = volume(x); }},
             {"load", kOptional, [&](const Located& x) { w.load = load_condition(x); }},
             {"budget", kOptional, [&](const Located& x) { w.budget = budget_condition(x); }},
             {"features", kOptional, [&](const Located& x) { read_features(x, w.features); }},
             {"headers", kOptional, [&](const Located& x) { read_when_headers(x, w.headers); }},
         });
}

void ConfigBuilder::read_references(const Located& v, std::vector<std::string>& out,
                                    Reference kind) {
  bool tenant = kind == Reference::tenant;
  std::optional<std::vector<Located>> items =
      r_.scalar_or_sequence(v, tenant ? "expected a tenant name or a list of them"
                                      : "expected a model alias or a list of them");
  if (!items) {
    return;
  }
  if (items->empty()) {
    r_.error(v, "must not be empty");
    return;
  }
  std::string noun = tenant ? "tenant" : "model alias";
  for (const Located& item : *items) {
    std::optional<std::string> name = r_.non_empty_string(item);
    if (!name) {
      continue;
    }
    if (std::find(out.begin(), out.end(), *name) != out.end()) {
      r_.error(item, "duplicate " + noun + " '" + *name + "'");
      continue;
    }
    bool known =
        tenant ? config_.find_tenant(*name) != nullptr : config_.find_model(*name) != nullptr;
    if (!known) {
      if (!tenant || tenants_ok_) {
        r_.error(item, "unknown " + noun + " '" + *name + "'");
      }
      continue;
    }
    out.push_back(std::move(*name));
  }
}

const Backend* ConfigBuilder::condition_backend(const Located& v, std::string& name) {
  std::optional<std::string> read = r_.non_empty_string(v);
  if (!read) {
    return nullptr;
  }
  name = std::move(*read);
  const Backend* b = config_.find_backend(name);
  if (b == nullptr) {
    r_.error(v, "unknown backend '" + name + "'");
  }
  return b;
}

std::optional<VolumeCondition> ConfigBuilder::volume(const Located& v) {
  VolumeCondition c;
  std::optional<Located> backend;
  std::optional<Located> in_flight;
  std::size_t before = r_.error_count();
  bool ok = r_.read_map(v, {
                               {"backend", kRequired, keep(backend)},
                               {"in_flight_above", kOptional,
                                [&](const Located& x) {
                                  in_flight = x;
                                  c.in_flight_above = r_.fraction(x, false);
                                }},
                               {"rpm_above", kOptional,
                                [&](const Located& x) { c.rpm_above = r_.non_negative_number(x); }},
                               {"tpm_above", kOptional,
                                [&](const Located& x) { c.tpm_above = r_.non_negative_number(x); }},
                           });
  if (!ok) {
    return std::nullopt;
  }
  const Backend* b = backend ? condition_backend(*backend, c.backend) : nullptr;
  if (b != nullptr && c.in_flight_above && b->max_in_flight == 0) {
    r_.error(*in_flight, "needs backends." + b->name +
                             ".max_in_flight (a fraction of no limit is never reached)");
  }
  if (!condition_stands(r_, v, before, c.in_flight_above || c.rpm_above || c.tpm_above,
                        "in_flight_above, rpm_above, tpm_above")) {
    return std::nullopt;
  }
  return c;
}

// `when.load: {backend, queue_above, kv_cache_above, ttft_p50_above}` on a self-hosted backend.
std::optional<LoadCondition> ConfigBuilder::load_condition(const Located& v) {
  LoadCondition c;
  std::optional<Located> backend;
  const std::size_t before = r_.error_count();
  const bool ok =
      r_.read_map(v, {
                         {"backend", kRequired, keep(backend)},
                         {"queue_above", kOptional,
                          [&](const Located& x) { c.queue_above = r_.non_negative_number(x); }},
                         {"kv_cache_above", kOptional,
                          [&](const Located& x) { c.kv_cache_above = r_.fraction(x, true); }},
                         {"ttft_p50_above", kOptional,
                          [&](const Located& x) { c.ttft_p50_above = r_.duration(x, true); }},
                     });
  if (!ok || !backend) {
    return std::nullopt;
  }
  const Backend* b = condition_backend(*backend, c.backend);
  if (b != nullptr && b->hosting == Hosting::closed) {
    r_.error(*backend, "backend '" + c.backend +
                           "' is closed (load signals are read from self-hosted engines)");
  }
  if (!condition_stands(r_, v, before, c.queue_above || c.kv_cache_above || c.ttft_p50_above,
                        "queue_above, kv_cache_above, ttft_p50_above")) {
    return std::nullopt;
  }
  return c;
}

// `queue: {max, timeout}` on a spill rule.
void ConfigBuilder::read_spill_queue(const Located& v, SpillQueue& q) {
  r_.read_map(v, {
                     {"max", kOptional,
                      [&](const Located& x) {
                        assign(q.max, r_.integer(x, 0, 1'000'000,
                                                 "expected an integer from 0 (never wait) to "
                                                 "1000000"));
                      }},
                     {"timeout", kOptional, set_duration(q.timeout, false)},
                 });
}

std::optional<BudgetCondition> ConfigBuilder::budget_condition(const Located& v) {
  BudgetCondition c;
  std::size_t before = r_.error_count();
  r_.read_map(v,
              {
                  {"spent_fraction_above", kRequired,
                   [&](const Located& x) { assign(c.spent_fraction_above, r_.fraction(x, true)); }},
                  {"period", kOptional,
                   [&](const Located& x) {
                     std::optional<std::string> p = r_.one_of(x, "period", kBudgetPeriods);
                     if (p) {
                       c.period = *p == "daily"     ? BudgetPeriod::daily
                                  : *p == "monthly" ? BudgetPeriod::monthly
                                                    : BudgetPeriod::any;
                     }
                   }},
              });
  if (r_.error_count() != before) {
    return std::nullopt;
  }
  return c;
}

void ConfigBuilder::read_when_headers(const Located& v,
                                      std::map<std::string, std::vector<std::string>>& out) {
  std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(v);
  if (!entries) {
    return;
  }
  for (const YamlReader::Entry& e : *entries) {
    std::string lower = lowercase(e.key);
    if (std::find(config_.policy_headers.begin(), config_.policy_headers.end(), lower) ==
        config_.policy_headers.end()) {
      r_.error(e.key_node, "header '" + e.key + "' is not listed in policy_headers");
      continue;
    }
    if (out.contains(lower)) {
      r_.error(e.key_node, "duplicate header '" + e.key + "'");
      continue;
    }
    std::vector<std::string> values;
    read_strings(e.value, values, "expected a value or a list of values");
    if (!values.empty()) {
      out.emplace(std::move(lower), std::move(values));
    }
  }
}

void ConfigBuilder::read_route(const Located& v, Route& route, RuleNodes& nodes) {
  std::optional<Located> shed;
  std::optional<Located> queue;
  r_.read_map(v, {
                     {"to", kOptional,
                      [&](const Located& x) {
                        nodes.to = x;
                        std::size_t before = r_.error_count();
                        read_route_to(x, route.to);
                        nodes.to_ok = r_.error_count() == before;
                      }},
                     {"strategy", kOptional,
                      [&](const Located& x) {
                        if (std::optional<std::string> s = r_.one_of(x, "strategy", kStrategies)) {
                          route.strategy = *s == "cheapest"       ? Strategy::cheapest
                                           : *s == "least-loaded" ? Strategy::least_loaded
                                           : *s == "weighted"     ? Strategy::weighted
                                           : *s == "spill"        ? Strategy::spill
                                                                  : Strategy::ordered;
                        }
                      }},
                     {"on_unavailable", kOptional,
                      [&](const Located& x) {
                        if (std::optional<std::string> o = r_.one_of(x, "action", kOnUnavailable)) {
                          route.on_unavailable =
                              *o == "reject" ? OnUnavailable::reject : OnUnavailable::next_rule;
                        }
                      }},
                     {"allow_lower_tier", kOptional, set_bool(route.allow_lower_tier)},
                     {"shed", kOptional,
                      [&](const Located& x) {
                        shed = x;
                        assign(route.shed, r_.boolean(x));
                      }},
                     {"queue", kOptional, keep(queue)},
                 });
  if (route.shed && nodes.to) {
    r_.error(*shed, "cannot be combined with 'to' (a shedding rule answers 429)");
  }
  if (queue) {
    if (route.strategy != Strategy::spill) {
      r_.error(*queue, "only for strategy: spill");
    } else {
      read_spill_queue(*queue, route.queue);
    }
  }
  if (route.strategy == Strategy::spill && nodes.to && nodes.to_ok &&
      std::none_of(route.to.begin(), route.to.end(), [&](const std::string& name) {
        return config_.find_backend(name)->hosting == Hosting::self_hosted;
      })) {
    r_.error(*nodes.to, "spill needs a self-hosted backend in to");
  }
}

void ConfigBuilder::read_route_to(const Located& v, std::vector<std::string>& to) {
  read_name_list(v, to, "expected a backend name or a list of them",
                 "must not be empty (omit 'to' to use the requested model's candidates)", "backend",
                 [&](const Located& item, const std::string& name) {
                   if (config_.find_backend(name) == nullptr) {
                     r_.error(item, "unknown backend '" + name + "'");
                     return false;
                   }
                   return true;
                 });
}

}  // namespace sb::config::detail
