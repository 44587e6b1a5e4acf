// `tenants:` (keys, floors, budgets, rates), `auth:` and `cost:`.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "policies/config/builder.h"
#include "policies/url.h"

namespace sb::config::detail {
namespace {

constexpr std::array<std::string_view, 2> kTenantUses{"commercial", "research"};
constexpr std::array<std::string_view, 2> kBudgetActions{"reject", "self-hosted-only"};
constexpr std::string_view kKeyHashPrefix = "sha256:";
constexpr std::string_view kKeyHashExpected = "expected sha256:<64 hex digits>";

// `sha256:<64 hex digits>` (either case) → the 32 raw bytes of the digest.
std::optional<std::string> parse_key_hash(std::string_view text) {
  if (!text.starts_with(kKeyHashPrefix)) {
    return std::nullopt;
  }
  std::string_view hex = text.substr(kKeyHashPrefix.size());
  if (hex.size() != 64 ||
      !std::all_of(hex.begin(), hex.end(), [](char c) { return hex_value(c) >= 0; })) {
    return std::nullopt;
  }
  std::string bytes(32, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]));
  }
  return bytes;
}

}  // namespace

void ConfigBuilder::read_tenants(const std::optional<Located>& section) {
  if (!section) {
    // Configs written before tenants existed stay open: one tenant, no keys, anonymous.
    Tenant implicit;
    implicit.name = "default";
    config_.tenants.push_back(std::move(implicit));
    return;
  }
  tenants_given_ = true;
  std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(*section);
  if (!entries) {
    tenants_ok_ = false;
    return;
  }
  if (entries->empty()) {
    r_.error(*section,
             "at least one tenant is required (without a 'tenants' section every request is "
             "served as the open tenant 'default')");
    tenants_ok_ = false;
    return;
  }
  std::map<std::string, std::string> owners;  // key hash → tenant
  for (const YamlReader::Entry& e : *entries) {
    if (!valid_backend_name(e.key)) {
      r_.error(e.key_node,
               "invalid tenant name '" + e.key + "' (use letters, digits, '_', '.' and '-')");
    }
    config_.tenants.push_back(read_tenant(e.key, e.value, owners));
  }
}

Tenant ConfigBuilder::read_tenant(const std::string& name, const Located& section,
                                  std::map<std::string, std::string>& owners) {
  Tenant t;
  t.name = name;
  r_.read_map(section,
              {
                  {"api_keys", kOptional, [&](const Located& v) { read_key_hashes(v, t, owners); }},
                  {"floor", kOptional,
                   [&](const Located& v) {
                     std::optional<int> floor = level_of(v, Kind::level);
                     unresolved_ = unresolved_ || !floor;
                     assign(t.floor, std::move(floor));
                   }},
                  {"use", kOptional,
                   [&](const Located& v) {
                     if (std::optional<std::string> u = r_.one_of(v, "use", kTenantUses)) {
                       t.use = *u == "research" ? TenantUse::research : TenantUse::commercial;
                     }
                   }},
                  {"budget", kOptional, [&](const Located& v) { read_budget(v, t.budget); }},
                  {"rate", kOptional, [&](const Located& v) { read_rate(v, t.rate); }},
              });
  return t;
}

void ConfigBuilder::read_key_hashes(const Located& v, Tenant& t,
                                    std::map<std::string, std::string>& owners) {
  std::optional<std::vector<Located>> items =
      r_.sequence(v, "expected a list of key hashes (sha256:<64 hex digits>)");
  if (!items) {
    return;
  }
  for (const Located& item : *items) {
    std::optional<std::string> text = r_.text(item, kKeyHashExpected);
    if (!text) {
      continue;
    }
    std::optional<std::string> hash = parse_key_hash(*text);
    if (!hash) {
      r_.error(item, std::string(kKeyHashExpected));
      continue;
    }
    // One key, one tenant: otherwise which tenant a request belongs to would be a guess.
    auto [it, inserted] = owners.emplace(*hash, t.name);
    if (!inserted) {
      r_.error(item, it->second == t.name
                         ? std::string("duplicate API key")
                         : "API key already belongs to tenant '" + it->second + "'");
      continue;
    }
    t.key_hashes.push_back(std::move(*hash));
  }
}

// An amount of money: a number greater than zero.
std::optional<double> ConfigBuilder::amount(const Located& v) {
  constexpr std::string_view kExpected = "expected an amount in USD greater than zero";
  std::optional<double> n = r_.number(v, kExpected);
  if (n && *n <= 0) {
    r_.error(v, std::string(kExpected));
    return std::nullopt;
  }
  if (n && *n > 1e9) {
    // Budgets are held exactly in nano-dollars, up to about $1.15 billion per period.
    r_.error(v, "expected an amount in USD of at most 1000000000");
    return std::nullopt;
  }
  return n;
}

void ConfigBuilder::read_budget(const Located& section, Budget& b) {
  std::size_t before = r_.error_count();
  bool ok = r_.read_map(
      section, {
                   {"daily_usd", kOptional, [&](const Located& v) { b.daily_usd = amount(v); }},
                   {"monthly_usd", kOptional, [&](const Located& v) { b.monthly_usd = amount(v); }},
                   {"on_exhausted", kOptional,
                    [&](const Located& v) {
                      if (std::optional<std::string> a = r_.one_of(v, "action", kBudgetActions)) {
                        b.on_exhausted =
                            *a == "reject" ? BudgetAction::reject : BudgetAction::self_hosted_only;
                      }
                    }},
               });
  if (ok && r_.error_count() == before && !b.daily_usd && !b.monthly_usd) {
    r_.error(section, "expected daily_usd and/or monthly_usd");
  }
}

void ConfigBuilder::read_rate(const Located& section, RateLimit& rate) {
  constexpr std::string_view kExpected = "expected a non-negative integer";
  r_.read_map(
      section,
      {
          {"rpm", kOptional,
           [&](const Located& v) { assign(rate.rpm, r_.integer(v, 0, UINT64_MAX, kExpected)); }},
          {"tpm", kOptional,
           [&](const Located& v) { assign(rate.tpm, r_.integer(v, 0, UINT64_MAX, kExpected)); }},
      });
}

void ConfigBuilder::read_auth(const std::optional<Located>& section) {
  std::optional<Located> anonymous;
  if (section) {
    r_.read_map(*section, {{"anonymous_tenant", kOptional, keep(anonymous)}});
  }
  if (!anonymous) {
    if (!tenants_given_) {
      config_.auth.anonymous_tenant = "default";
    }
    return;
  }
  std::optional<std::string> name = r_.non_empty_string(*anonymous);
  if (!name) {
    return;
  }
  if (config_.find_tenant(*name) == nullptr) {
    if (tenants_ok_) {
      r_.error(*anonymous, "unknown tenant '" + *name + "'");
    }
    return;
  }
  config_.auth.anonymous_tenant = std::move(*name);
}

void ConfigBuilder::read_cost(const Located& section) {
  CostSettings& c = config_.cost;
  std::optional<Located> reference;
  r_.read_map(section, {
                           {"default_output_tokens", kOptional,
                            [&](const Located& v) {
                              assign(c.default_output_tokens,
                                     r_.integer(v, 1, UINT32_MAX, "expected a positive integer"));
                            }},
                           {"min_output_tokens", kOptional,
                            [&](const Located& v) {
                              assign(c.min_output_tokens,
                                     r_.integer(v, 1, UINT32_MAX, "expected a positive integer"));
                            }},
                           {"savings_reference", kOptional, keep(reference)},
                       });
  if (!reference) {
    return;
  }
  std::optional<std::string> name = r_.non_empty_string(*reference);
  if (!name) {
    return;
  }
  const Backend* b = config_.find_backend(*name);
  if (b == nullptr) {
    r_.error(*reference, "unknown backend '" + *name + "'");
  } else if (b->hosting != Hosting::closed) {
    r_.error(*reference, "backend '" + *name +
                             "' is self-hosted (the savings reference must be a closed backend)");
  } else if (b->price.input_per_mtok <= 0 && b->price.output_per_mtok <= 0) {
    r_.error(*reference, "backend '" + *name +
                             "' has no prices (set price.input_per_mtok and output_per_mtok)");
  } else {
    c.savings_reference = std::move(*name);
  }
}

}  // namespace sb::config::detail
