// Checks over the whole config, once every section is read: the order of the routing rules, rules
// that can never route, and notices (facts worth saying that are not errors).
#include <algorithm>
#include <climits>
#include <string>

#include "policies/config/builder.h"

namespace sb::config::detail {

// Checks over the whole list: order (nothing after a catch-all, a catch-all last) and rules
// that can only ever produce an empty list.
void ConfigBuilder::check_policies(const Located& section, const std::vector<RuleNodes>& rules) {
  const std::vector<Policy>& policies = config_.policies;
  std::optional<std::size_t> catch_all;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const Policy& p = policies[i];
    if (catch_all) {
      r_.error(rules[i].node, "unreachable: rule '" + p.name + "' comes after catch-all rule '" +
                                  policies[*catch_all].name + "'");
    } else if (rules[i].when_ok && p.when.catch_all()) {
      catch_all = i;
    }
    if (rules[i].when_ok && rules[i].to_ok) {
      check_can_route(p, rules[i]);
    }
  }
  if (!policies.empty() && !catch_all) {
    r_.error(section, "the last rule must be a catch-all default (a rule without 'when')");
  }
}

// With an explicit `to`, finds whether every listed backend is excluded for every request the
// rule can match, by what the config alone decides: the lowest sensitivity such a request can
// have (when.sensitivity.at_least, the floors of the tenants it can come from) against each
// clearance, egress, the lowest tier it can ask for, and the license against the tenants' use.
void ConfigBuilder::check_can_route(const Policy& p, const RuleNodes& nodes) {
  if (unresolved_ || p.route.shed || !nodes.to || p.route.to.empty()) {
    return;
  }
  std::vector<const Tenant*> tenants;
  if (p.when.tenants.empty()) {
    for (const Tenant& t : config_.tenants) {
      tenants.push_back(&t);
    }
  } else {
    for (const std::string& name : p.when.tenants) {
      tenants.push_back(config_.find_tenant(name));
    }
  }
  int min_sensitivity = INT_MAX;
  bool commercial_only = !tenants.empty();
  for (const Tenant* t : tenants) {
    min_sensitivity = std::min(min_sensitivity, t->floor);
    commercial_only = commercial_only && t->use == TenantUse::commercial;
  }
  if (tenants.empty()) {
    min_sensitivity = 0;
  }
  if (p.when.sensitivity && p.when.sensitivity->at_least > min_sensitivity) {
    min_sensitivity = p.when.sensitivity->at_least;
  }
  int min_tier = -1;
  if (p.when.tier && !p.route.allow_lower_tier) {
    min_tier = p.when.tier->at_least;
  }
  std::vector<std::string> reasons;
  for (const std::string& name : p.route.to) {
    std::string reason =
        exclusion(*config_.find_backend(name), min_sensitivity, min_tier, commercial_only);
    if (reason.empty()) {
      return;  // this backend can take some request the rule matches
    }
    if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end()) {
      reasons.push_back(std::move(reason));
    }
  }
  r_.error(*nodes.to, "can never route: every backend is excluded (" + join(reasons, "; ") + ")");
}

// Why `b` can take no request with at least `min_sensitivity` and tier `min_tier` (-1: any), from
// tenants that are all commercial when `commercial_only`; empty when it can take some.
std::string ConfigBuilder::exclusion(const Backend& b, int min_sensitivity, int min_tier,
                                     bool commercial_only) const {
  const std::vector<std::string>& levels = config_.sensitivity.levels.names;
  const std::vector<std::string>& tiers = config_.tiers.levels.names;
  if (b.clearance_level < min_sensitivity) {
    return "clearance below " + levels[static_cast<std::size_t>(min_sensitivity)];
  }
  if (config_.egress == Egress::none && b.hosting == Hosting::closed) {
    return "closed, and egress is none";
  }
  if (min_tier >= 0 && b.tier_level < min_tier) {
    return "tier below " + tiers[static_cast<std::size_t>(min_tier)];
  }
  if (!b.license_commercial && commercial_only) {
    return "research-only license, and every tenant it can serve is commercial";
  }
  return "";
}

void ConfigBuilder::add_notices() {
  if (config_.egress == Egress::none) {
    std::vector<std::string> closed;
    for (const Backend& b : config_.backends) {
      if (b.hosting == Hosting::closed) {
        closed.push_back(b.name);
      }
    }
    if (!closed.empty()) {
      config_.notices.push_back("egress: none: closed backends " + join(closed) + " are off");
    }
  }
  for (const Tenant& t : config_.tenants) {
    if (tenants_given_ && t.key_hashes.empty() && t.name != config_.auth.anonymous_tenant) {
      config_.notices.push_back("tenant '" + t.name +
                                "' has no api_keys and is not auth.anonymous_tenant: no "
                                "request can use it");
    }
  }
}

// Backend::scrape: `load:` declared, or named by a spill rule (its `to`, else the candidates of
// the aliases it can serve) or by when.load; and an engine with metrics (not "none").
void ConfigBuilder::resolve_scrape() {
  const auto use = [this](std::string_view name) {
    for (Backend& b : config_.backends) {
      if (b.name == name) {
        b.scrape = true;
      }
    }
  };
  for (Backend& b : config_.backends) {
    b.scrape = b.load.declared;
  }
  for (const Policy& p : config_.policies) {
    if (p.when.load) {
      use(p.when.load->backend);
    }
    if (p.route.strategy != Strategy::spill) {
      continue;
    }
    for (const std::string& name : p.route.to) {
      use(name);
    }
    if (!p.route.to.empty()) {
      continue;
    }
    for (const ModelAlias& m : config_.models) {
      if (p.when.models.empty() ||
          std::find(p.when.models.begin(), p.when.models.end(), m.name) != p.when.models.end()) {
        std::for_each(m.candidates.begin(), m.candidates.end(), use);
      }
    }
  }
  for (Backend& b : config_.backends) {
    b.scrape = b.scrape && b.hosting == Hosting::self_hosted && !b.load.metrics.empty() &&
               b.load.metrics != "none";
  }
}

}  // namespace sb::config::detail
