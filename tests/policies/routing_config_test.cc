// The routing half of the config: tenants, sensitivity, tiers, policies, cost, egress. One full
// config asserted field by field, then one valid config broken one way per case, each asserting
// the exact messages.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"

namespace sb::config {
namespace {

std::optional<std::string> no_env(const std::string&) {
  return std::nullopt;
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// The 32 bytes a `sha256:<hex>` key hash stands for.
std::string bytes(std::string_view hex) {
  auto nibble = [](char c) {
    return c <= '9' ? c - '0' : (c >= 'a' ? c - 'a' + 10 : c - 'A' + 10);
  };
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

// sha256("sk-demo-payments"), sha256("sk-demo-payments-2"), sha256("sk-demo-lab").
constexpr std::string_view kPaymentsHash =
    "7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725";
constexpr std::string_view kPayments2Hash =
    "49643220f4d9f9cfef87b768c5baa295e365461ad076a86dfda60cc621c3fb27";
constexpr std::string_view kLabHash =
    "93b4631b8e67235b94addf70910f523bcc59c2e7dd6fdd31fbe058e3d5b605cf";

int index_of(const std::vector<EntityLevel>& entities, std::string_view entity) {
  for (const EntityLevel& e : entities) {
    if (e.entity == entity) {
      return e.level;
    }
  }
  ADD_FAILURE() << "no entity " << entity;
  return -2;
}

// -------------------------------------------------------------------------------------------------
// One complete routing config, every field asserted. Sections are in an unusual order on purpose:
// levels are used before `sensitivity` and `tiers` declare them.

constexpr std::string_view kFullRouting = R"(
backends:
  local:
    provider: vllm
    base_url: "http://127.0.0.1:8000/v1"
    model: llama
    tier: standard
    clearance: top-secret
    max_in_flight: 64
    license: {name: llama3.1-community, commercial: true}
    weight: 3
  research-box:
    provider: vllm
    base_url: "http://127.0.0.1:8001/v1"
    model: qwen
    tier: small
    clearance: top-secret
    license: {name: cc-by-nc-4.0, commercial: false}
  openai:
    provider: openai
    base_url: "https://api.openai.com/v1"
    model: gpt-4o
    tier: frontier
    clearance: internal
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
models:
  default: {candidates: [local, openai]}
  big: {candidates: [openai], tier: frontier}
policies:
  - name: sensitive-stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: [local], on_unavailable: reject}
  - name: frontier-when-clean
    when:
      tier: {at_least: frontier}
      sensitivity: {at_most: internal}
    route: {to: [openai], strategy: ordered}
  - name: overflow
    when: {volume: {backend: local, in_flight_above: 0.85, rpm_above: 100}}
    route: {to: [openai], strategy: cheapest, on_unavailable: next-rule}
  - name: budget-guard
    when:
      tenant: payments
      budget: {spent_fraction_above: 0.9, period: monthly}
    route: {to: [local]}
  - name: search-team
    when:
      model: [default]
      headers: {X-Team: [search, ads]}
      features: {tools: true, images: false, json_schema: true, prompt_tokens_above: 4000,
                 depth_above: 20, reasoning_effort: [high, medium]}
    route: {to: [local, openai], strategy: weighted, allow_lower_tier: true}
  - name: lab
    when: {tenant: [lab], sensitivity: internal, tier: {at_most: standard}}
    route: {to: [research-box], strategy: least-loaded}
  - name: storm
    when: {volume: {backend: openai, tpm_above: 1000000}}
    route: {shed: true}
  - name: default
egress: all
tenants:
  payments:
    api_keys:
      - "sha256:7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725"
      - "sha256:49643220F4D9F9CFEF87B768C5BAA295E365461AD076A86DFDA60CC621C3FB27"
    floor: confidential
    use: commercial
    budget: {daily_usd: 50, monthly_usd: 500.5, on_exhausted: self-hosted-only}
    rate: {rpm: 600, tpm: 200000}
  lab:
    api_keys: ["sha256:93b4631b8e67235b94addf70910f523bcc59c2e7dd6fdd31fbe058e3d5b605cf"]
    use: research
    budget: {monthly_usd: 20}
  web: {}
auth: {anonymous_tenant: web}
sensitivity:
  levels: [public, internal, confidential, top-secret]
  detectors:
    jwt: confidential
    secret: top-secret
    email: internal
    ip_address: off
    credit_card: top-secret
    us_ssn: top-secret
    iban: top-secret
    phone: confidential
    custom:
      - {name: project_codename, pattern: '\bPROJECT-(ATLAS|ORION)\b', level: confidential}
      - {name: internal_terms, keywords: [blackbird, nightjar], level: internal}
tiers:
  levels: [small, standard, frontier]
  default: small
  infer:
    - {tier: frontier, when: {prompt_tokens_above: 8000}}
    - {tier: standard, when: {tools: true, json_schema: true}}
policy_headers: [X-Team, x-region]
cost: {default_output_tokens: 512, savings_reference: openai}
)";

TEST(RoutingConfigTest, LoadsEveryRoutingField) {
  LoadResult result = load_string(kFullRouting, "r.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;

  EXPECT_EQ(c.egress, Egress::all);
  EXPECT_EQ(c.auth.anonymous_tenant, "web");

  // Scales, and every name resolved to an index into them.
  EXPECT_EQ(c.sensitivity.levels.names,
            (std::vector<std::string>{"public", "internal", "confidential", "top-secret"}));
  EXPECT_EQ(c.sensitivity.levels.find("top-secret"), 3);
  EXPECT_EQ(c.sensitivity.levels.find("secret"), -1);
  EXPECT_EQ(c.tiers.levels.names, (std::vector<std::string>{"small", "standard", "frontier"}));
  EXPECT_EQ(c.tiers.default_tier, 0);

  // Backends: new members, and tier/clearance as names and indexes.
  ASSERT_EQ(c.backends.size(), 3u);
  const Backend& local = c.backends[0];
  EXPECT_EQ(local.clearance, "top-secret");
  EXPECT_EQ(local.clearance_level, 3);
  EXPECT_EQ(local.tier, "standard");
  EXPECT_EQ(local.tier_level, 1);
  EXPECT_EQ(local.license_name, "llama3.1-community");
  EXPECT_TRUE(local.license_commercial);
  EXPECT_EQ(local.weight, 3u);
  const Backend& research = c.backends[1];
  EXPECT_EQ(research.tier_level, 0);
  EXPECT_EQ(research.license_name, "cc-by-nc-4.0");
  EXPECT_FALSE(research.license_commercial);
  EXPECT_EQ(research.weight, 1u);
  const Backend& openai = c.backends[2];
  EXPECT_EQ(openai.clearance_level, 1);
  EXPECT_EQ(openai.tier_level, 2);
  EXPECT_EQ(openai.license_name, "");
  EXPECT_TRUE(openai.license_commercial);
  EXPECT_EQ(c.find_model("default")->tier_level, -1);
  EXPECT_EQ(c.find_model("big")->tier, "frontier");
  EXPECT_EQ(c.find_model("big")->tier_level, 2);

  // Tenants, with key hashes as raw bytes (upper-case hex reads the same).
  ASSERT_EQ(c.tenants.size(), 3u);
  const Tenant& payments = c.tenants[0];
  EXPECT_EQ(payments.name, "payments");
  EXPECT_EQ(payments.key_hashes,
            (std::vector<std::string>{bytes(kPaymentsHash), bytes(kPayments2Hash)}));
  EXPECT_EQ(payments.key_hashes[0].size(), 32u);
  EXPECT_EQ(payments.floor, 2);
  EXPECT_EQ(payments.use, TenantUse::commercial);
  EXPECT_EQ(payments.budget.daily_usd, 50.0);
  EXPECT_EQ(payments.budget.monthly_usd, 500.5);
  EXPECT_EQ(payments.budget.on_exhausted, BudgetAction::self_hosted_only);
  EXPECT_EQ(payments.rate.rpm, 600u);
  EXPECT_EQ(payments.rate.tpm, 200000u);
  const Tenant& lab = c.tenants[1];
  EXPECT_EQ(lab.key_hashes, (std::vector<std::string>{bytes(kLabHash)}));
  EXPECT_EQ(lab.floor, 0);
  EXPECT_EQ(lab.use, TenantUse::research);
  EXPECT_FALSE(lab.budget.daily_usd.has_value());
  EXPECT_EQ(lab.budget.monthly_usd, 20.0);
  EXPECT_EQ(lab.budget.on_exhausted, BudgetAction::reject);
  EXPECT_EQ(lab.rate.rpm, 0u);
  const Tenant& web = c.tenants[2];
  EXPECT_TRUE(web.key_hashes.empty());
  EXPECT_EQ(c.find_tenant("lab"), &c.tenants[1]);
  EXPECT_EQ(c.find_tenant("default"), nullptr);  // tenants given: no implicit one

  // Detectors: `secret` sets every secret kind; a per-kind key wins even written before it.
  const std::vector<std::string>& entities = builtin_entities();
  ASSERT_EQ(c.sensitivity.entities.size(), entities.size());
  for (std::size_t i = 0; i < entities.size(); ++i) {
    EXPECT_EQ(c.sensitivity.entities[i].entity, entities[i]);
  }
  EXPECT_EQ(index_of(c.sensitivity.entities, "jwt"), 2);
  for (std::string_view kind :
       {"aws_access_key", "github_token", "openai_key", "anthropic_key", "slack_token",
        "private_key", "google_api_key", "stripe_key", "gitlab_token", "huggingface_token",
        "openrouter_key", "deepseek_key", "npm_token", "groq_key", "xai_key", "perplexity_key",
        "url_credentials", "credential"}) {
    EXPECT_EQ(index_of(c.sensitivity.entities, kind), 3) << kind;
  }
  EXPECT_EQ(index_of(c.sensitivity.entities, "email"), 1);
  EXPECT_EQ(index_of(c.sensitivity.entities, "ip_address"), -1);
  EXPECT_EQ(index_of(c.sensitivity.entities, "phone"), 2);
  ASSERT_EQ(c.sensitivity.custom.size(), 2u);
  EXPECT_EQ(c.sensitivity.custom[0].name, "project_codename");
  EXPECT_EQ(c.sensitivity.custom[0].pattern, R"(\bPROJECT-(ATLAS|ORION)\b)");
  EXPECT_TRUE(c.sensitivity.custom[0].keywords.empty());
  EXPECT_EQ(c.sensitivity.custom[0].level, 2);
  EXPECT_EQ(c.sensitivity.custom[1].name, "internal_terms");
  EXPECT_EQ(c.sensitivity.custom[1].pattern, "");
  EXPECT_EQ(c.sensitivity.custom[1].keywords, (std::vector<std::string>{"blackbird", "nightjar"}));
  EXPECT_EQ(c.sensitivity.custom[1].level, 1);

  // Tier inference.
  ASSERT_EQ(c.tiers.infer.size(), 2u);
  EXPECT_EQ(c.tiers.infer[0].tier, 2);
  EXPECT_EQ(c.tiers.infer[0].when.prompt_tokens_above, 8000u);
  EXPECT_FALSE(c.tiers.infer[0].when.tools.has_value());
  EXPECT_EQ(c.tiers.infer[1].tier, 1);
  EXPECT_EQ(c.tiers.infer[1].when.tools, true);
  EXPECT_EQ(c.tiers.infer[1].when.json_schema, true);

  EXPECT_EQ(c.policy_headers, (std::vector<std::string>{"x-team", "x-region"}));
  EXPECT_EQ(c.cost.default_output_tokens, 512u);
  EXPECT_EQ(c.cost.savings_reference, "openai");

  // Policies.
  ASSERT_EQ(c.policies.size(), 8u);
  const Policy& home = c.policies[0];
  EXPECT_EQ(home.name, "sensitive-stays-home");
  EXPECT_EQ(home.line, 30);
  ASSERT_TRUE(home.when.sensitivity.has_value());
  EXPECT_EQ(home.when.sensitivity->at_least, 2);
  EXPECT_EQ(home.when.sensitivity->at_most, -1);
  EXPECT_FALSE(home.when.tier.has_value());
  EXPECT_FALSE(home.when.catch_all());
  EXPECT_EQ(home.route.to, (std::vector<std::string>{"local"}));
  EXPECT_EQ(home.route.strategy, Strategy::ordered);
  EXPECT_EQ(home.route.on_unavailable, OnUnavailable::reject);
  EXPECT_FALSE(home.route.allow_lower_tier);
  EXPECT_FALSE(home.route.shed);

  const Policy& frontier = c.policies[1];
  ASSERT_TRUE(frontier.when.tier.has_value());
  EXPECT_EQ(frontier.when.tier->at_least, 2);
  EXPECT_EQ(frontier.when.tier->at_most, -1);
  EXPECT_EQ(frontier.when.sensitivity->at_least, -1);
  EXPECT_EQ(frontier.when.sensitivity->at_most, 1);

  const Policy& overflow = c.policies[2];
  ASSERT_TRUE(overflow.when.volume.has_value());
  EXPECT_EQ(overflow.when.volume->backend, "local");
  EXPECT_EQ(overflow.when.volume->in_flight_above, 0.85);
  EXPECT_EQ(overflow.when.volume->rpm_above, 100.0);
  EXPECT_FALSE(overflow.when.volume->tpm_above.has_value());
  EXPECT_EQ(overflow.route.strategy, Strategy::cheapest);
  EXPECT_EQ(overflow.route.on_unavailable, OnUnavailable::next_rule);

  const Policy& guard = c.policies[3];
  EXPECT_EQ(guard.when.tenants, (std::vector<std::string>{"payments"}));
  ASSERT_TRUE(guard.when.budget.has_value());
  EXPECT_EQ(guard.when.budget->spent_fraction_above, 0.9);
  EXPECT_EQ(guard.when.budget->period, BudgetPeriod::monthly);

  const Policy& search = c.policies[4];
  EXPECT_EQ(search.when.models, (std::vector<std::string>{"default"}));
  EXPECT_EQ(search.when.headers,
            (std::map<std::string, std::vector<std::string>>{{"x-team", {"search", "ads"}}}));
  EXPECT_EQ(search.when.features.tools, true);
  EXPECT_EQ(search.when.features.images, false);
  EXPECT_EQ(search.when.features.json_schema, true);
  EXPECT_EQ(search.when.features.prompt_tokens_above, 4000u);
  EXPECT_EQ(search.when.features.depth_above, 20u);
  EXPECT_EQ(search.when.features.reasoning_effort, (std::vector<std::string>{"high", "medium"}));
  EXPECT_FALSE(search.when.features.empty());
  EXPECT_EQ(search.route.strategy, Strategy::weighted);
  EXPECT_TRUE(search.route.allow_lower_tier);

  const Policy& lab_rule = c.policies[5];
  EXPECT_EQ(lab_rule.when.tenants, (std::vector<std::string>{"lab"}));
  EXPECT_EQ(lab_rule.when.sensitivity->at_least, 1);  // a bare name: exactly that level
  EXPECT_EQ(lab_rule.when.sensitivity->at_most, 1);
  EXPECT_EQ(lab_rule.when.tier->at_least, -1);
  EXPECT_EQ(lab_rule.when.tier->at_most, 1);
  EXPECT_EQ(lab_rule.route.strategy, Strategy::least_loaded);

  const Policy& storm = c.policies[6];
  EXPECT_EQ(storm.when.volume->tpm_above, 1000000.0);
  EXPECT_TRUE(storm.route.shed);
  EXPECT_TRUE(storm.route.to.empty());

  const Policy& fallback = c.policies[7];
  EXPECT_EQ(fallback.name, "default");
  EXPECT_TRUE(fallback.when.catch_all());
  EXPECT_TRUE(fallback.route.to.empty());  // the requested alias's candidates

  // A tenant without keys that is the anonymous one is fine: no notice.
  EXPECT_TRUE(c.notices.empty()) << ::testing::PrintToString(c.notices);
}

TEST(RoutingConfigTest, WithoutTenantsThereIsOneOpenDefaultTenant) {
  LoadResult result = load_string(R"(
backends:
  a: {provider: vllm, base_url: "http://h", model: m}
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;
  ASSERT_EQ(c.tenants.size(), 1u);
  EXPECT_EQ(c.tenants[0].name, "default");
  EXPECT_TRUE(c.tenants[0].key_hashes.empty());
  EXPECT_EQ(c.tenants[0].floor, 0);
  EXPECT_EQ(c.tenants[0].use, TenantUse::commercial);
  EXPECT_FALSE(c.tenants[0].budget.daily_usd || c.tenants[0].budget.monthly_usd);
  EXPECT_EQ(c.tenants[0].rate.rpm, 0u);
  EXPECT_EQ(c.auth.anonymous_tenant, "default");
  EXPECT_EQ(c.find_tenant("default"), &c.tenants[0]);

  // The defaults of everything else routing-related.
  EXPECT_EQ(c.egress, Egress::all);
  EXPECT_TRUE(c.policies.empty());
  EXPECT_TRUE(c.policy_headers.empty());
  EXPECT_TRUE(c.notices.empty());
  EXPECT_EQ(c.cost.default_output_tokens, 1024u);
  EXPECT_EQ(c.cost.savings_reference, "");
  EXPECT_EQ(c.sensitivity.levels.names,
            (std::vector<std::string>{"public", "internal", "confidential", "restricted"}));
  EXPECT_EQ(c.tiers.levels.names, (std::vector<std::string>{"small", "standard", "frontier"}));
  EXPECT_EQ(c.tiers.default_tier, 1);
  EXPECT_TRUE(c.tiers.infer.empty());
  EXPECT_EQ(c.backends[0].tier, "standard");
  EXPECT_EQ(c.backends[0].tier_level, 1);
  EXPECT_EQ(c.backends[0].clearance, "public");
  EXPECT_EQ(c.backends[0].clearance_level, 0);
  EXPECT_EQ(c.backends[0].weight, 1u);
  EXPECT_TRUE(c.backends[0].license_commercial);
  // Built-in detectors at their documented defaults.
  std::map<std::string, int> expected = {{"credit_card", 3},
                                         {"us_ssn", 3},
                                         {"iban", 3},
                                         {"email", 2},
                                         {"phone", 2},
                                         {"ip_address", 1},
                                         {"aws_access_key", 3},
                                         {"github_token", 3},
                                         {"openai_key", 3},
                                         {"anthropic_key", 3},
                                         {"slack_token", 3},
                                         {"private_key", 3},
                                         {"jwt", 3},
                                         {"google_api_key", 3},
                                         {"stripe_key", 3},
                                         {"gitlab_token", 3},
                                         {"huggingface_token", 3},
                                         {"openrouter_key", 3},
                                         {"deepseek_key", 3},
                                         {"npm_token", 3},
                                         {"groq_key", 3},
                                         {"xai_key", 3},
                                         {"perplexity_key", 3},
                                         {"url_credentials", 3},
                                         {"credential", 3}};
  ASSERT_EQ(c.sensitivity.entities.size(), 25u);
  for (const EntityLevel& e : c.sensitivity.entities) {
    EXPECT_EQ(e.level, expected.at(e.entity)) << e.entity;
  }
  EXPECT_EQ(builtin_entities(), (std::vector<std::string>{"credit_card",
                                                          "us_ssn",
                                                          "iban",
                                                          "email",
                                                          "phone",
                                                          "ip_address",
                                                          "aws_access_key",
                                                          "github_token",
                                                          "openai_key",
                                                          "anthropic_key",
                                                          "slack_token",
                                                          "private_key",
                                                          "jwt",
                                                          "google_api_key",
                                                          "stripe_key",
                                                          "gitlab_token",
                                                          "huggingface_token",
                                                          "openrouter_key",
                                                          "deepseek_key",
                                                          "npm_token",
                                                          "groq_key",
                                                          "xai_key",
                                                          "perplexity_key",
                                                          "url_credentials",
                                                          "credential"}));
}

TEST(RoutingConfigTest, WithoutTenantsAuthMayNameOnlyTheImplicitTenant) {
  constexpr std::string_view kBackends =
      "backends:\n  a: {provider: vllm, base_url: \"http://h\", model: m}\n";
  LoadResult ok =
      load_string(std::string(kBackends) + "auth: {anonymous_tenant: default}\n", "t.yaml", no_env);
  ASSERT_TRUE(ok.ok()) << ::testing::PrintToString(messages(ok));
  EXPECT_EQ(ok.config->auth.anonymous_tenant, "default");

  EXPECT_EQ(messages(load_string(std::string(kBackends) + "auth: {anonymous_tenant: payments}\n",
                                 "t.yaml", no_env)),
            std::vector<std::string>{"t.yaml:3:26: auth.anonymous_tenant: unknown tenant "
                                     "'payments'"});
}

TEST(RoutingConfigTest, TenantsWithoutAnonymousTenantMeanEveryRequestNeedsAKey) {
  LoadResult result = load_string(R"(
backends:
  a: {provider: vllm, base_url: "http://h", model: m}
tenants:
  team: {api_keys: ["sha256:7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725"]}
  idle: {}
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->auth.anonymous_tenant, "");
  EXPECT_EQ(result.config->notices,
            std::vector<std::string>{"tenant 'idle' has no api_keys and is not "
                                     "auth.anonymous_tenant: no request can use it"});
}

TEST(RoutingConfigTest, EgressNoneTurnsClosedBackendsOffWithANotice) {
  LoadResult result = load_string(R"(
egress: none
backends:
  local: {provider: vllm, base_url: "http://h", model: m}
  openai: {provider: openai, base_url: "https://api.openai.com/v1", model: gpt-4o}
  anthropic: {provider: anthropic, base_url: "https://api.anthropic.com/v1", model: c}
  edge: {provider: openai-compatible, hosting: closed, base_url: "https://e", model: m}
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->egress, Egress::none);
  EXPECT_EQ(result.config->notices,
            std::vector<std::string>{"egress: none: closed backends openai, anthropic, edge are "
                                     "off"});
}

TEST(RoutingConfigTest, EgressNoneWithOnlySelfHostedBackendsSaysNothing) {
  LoadResult result = load_string(R"(
egress: none
backends:
  local: {provider: vllm, base_url: "http://h", model: m}
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_TRUE(result.config->notices.empty());
}

// A customised scale: names declared anywhere in the file; backends must declare clearance and
// tier when the defaults ('public', 'standard') are not in it; undeclared detectors take the
// highest level, with a notice.
TEST(RoutingConfigTest, CustomisedScalesResolveNamesDeclaredLaterInTheFile) {
  LoadResult result = load_string(R"(
backends:
  a: {provider: vllm, base_url: "http://h", model: m, clearance: secret, tier: big}
  b: {provider: openai, base_url: "https://o", model: m, clearance: open, tier: tiny}
models:
  default: {candidates: [a, b], tier: big}
tenants:
  t: {floor: secret}
auth: {anonymous_tenant: t}
sensitivity:
  levels: [open, secret]
  detectors: {email: open, secret: secret, credit_card: off}
tiers:
  levels: [tiny, big]
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;
  EXPECT_EQ(c.backends[0].clearance_level, 1);
  EXPECT_EQ(c.backends[0].tier_level, 1);
  EXPECT_EQ(c.backends[1].clearance_level, 0);
  EXPECT_EQ(c.backends[1].tier_level, 0);
  EXPECT_EQ(c.models[0].tier_level, 1);
  EXPECT_EQ(c.tenants[0].floor, 1);
  EXPECT_EQ(c.tiers.default_tier, 0);  // no 'standard': the lowest tier
  EXPECT_EQ(index_of(c.sensitivity.entities, "email"), 0);
  EXPECT_EQ(index_of(c.sensitivity.entities, "jwt"), 1);
  EXPECT_EQ(index_of(c.sensitivity.entities, "credit_card"), -1);
  EXPECT_EQ(index_of(c.sensitivity.entities, "phone"), 1);
  EXPECT_EQ(index_of(c.sensitivity.entities, "ip_address"), 1);
  EXPECT_EQ(c.notices, std::vector<std::string>{
                           "sensitivity.levels is customised: detectors us_ssn, iban, phone, "
                           "ip_address take the highest level 'secret' (set their levels under "
                           "sensitivity.detectors)"});
}

TEST(RoutingConfigTest, CustomisedScalesKeepingTheDefaultNamesNeedNoDeclarations) {
  LoadResult result = load_string(R"(
sensitivity: {levels: [public, private]}
tiers: {levels: [standard, huge]}
backends:
  a: {provider: vllm, base_url: "http://h", model: m}
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends[0].clearance_level, 0);
  EXPECT_EQ(result.config->backends[0].tier_level, 0);
  EXPECT_EQ(result.config->tiers.default_tier, 0);
}

TEST(RoutingConfigTest, CustomisedScalesRequireBackendsToPlaceThemselves) {
  EXPECT_EQ(messages(load_string(R"(backends:
  a: {provider: vllm, base_url: "http://h", model: m}
  b: {provider: vllm, base_url: "http://h", model: m, clearance: high, tier: large}
sensitivity: {levels: [low, high]}
tiers: {levels: [lite, large]}
)",
                                 "t.yaml", no_env)),
            (std::vector<std::string>{
                "t.yaml:2:6: backends.a.tier: required when tiers.levels is customised",
                "t.yaml:2:6: backends.a.clearance: required when sensitivity.levels is "
                "customised"}));
}

TEST(RoutingConfigTest, EmptyPoliciesListRoutesByCandidates) {
  LoadResult result = load_string(R"(
backends:
  a: {provider: vllm, base_url: "http://h", model: m}
policies: []
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_TRUE(result.config->policies.empty());
}

TEST(RoutingConfigTest, ShedRuleAsTheFinalCatchAllIsValid) {
  LoadResult result = load_string(R"(
backends:
  a: {provider: vllm, base_url: "http://h", model: m}
policies:
  - {name: closed-for-maintenance, route: {shed: true}}
)",
                                  "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_TRUE(result.config->policies[0].route.shed);
  EXPECT_TRUE(result.config->policies[0].when.catch_all());
}

TEST(RoutingConfigTest, EmptyWhenIsACatchAll) {
  When w;
  EXPECT_TRUE(w.catch_all());
  w.features.depth_above = 3;
  EXPECT_FALSE(w.catch_all());
  w = When{};
  w.headers["x-team"] = {"a"};
  EXPECT_FALSE(w.catch_all());
  FeatureCondition f;
  EXPECT_TRUE(f.empty());
  f.reasoning_effort = {"high"};
  EXPECT_FALSE(f.empty());
}

// -------------------------------------------------------------------------------------------------
// One valid routing config, broken one way per case.

constexpr std::string_view kBase = R"(sensitivity:
  detectors: {email: confidential}
tiers:
  default: standard
egress: all
policy_headers: [x-team]
tenants:
  payments:
    api_keys: ["sha256:7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725"]
    floor: confidential
    budget: {monthly_usd: 500, on_exhausted: self-hosted-only}
    rate: {rpm: 600, tpm: 200000}
  lab: {use: research}
auth: {anonymous_tenant: lab}
backends:
  local:
    provider: vllm
    base_url: "http://127.0.0.1:8000/v1"
    model: llama
    clearance: restricted
    max_in_flight: 64
  research:
    provider: vllm
    base_url: "http://127.0.0.1:8001/v1"
    model: qwen
    clearance: restricted
    license: {name: research-only, commercial: false}
  openai:
    provider: openai
    base_url: "https://api.openai.com/v1"
    model: gpt-4o
    tier: frontier
    clearance: internal
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
models:
  default: {candidates: [local, openai]}
cost: {savings_reference: openai}
policies:
  - name: sensitive-stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: [local], on_unavailable: reject}
  - name: frontier
    when: {tier: {at_least: frontier}, sensitivity: {at_most: internal}}
    route: {to: [openai]}
  - name: team
    when: {headers: {x-team: search}, tenant: lab}
    route: {to: [research, local], strategy: cheapest}
  - name: default
    route: {strategy: ordered}
)";

struct Break {
  std::string from;  // replaced once in kBase (empty: appended)
  std::string to;
};

struct BrokenCase {
  std::string name;
  std::vector<Break> breaks;
  std::vector<std::string> expected;
};

std::string apply(const std::vector<Break>& breaks) {
  std::string yaml(kBase);
  for (const Break& b : breaks) {
    if (b.from.empty()) {
      yaml += b.to;
      continue;
    }
    std::size_t at = yaml.find(b.from);
    EXPECT_NE(at, std::string::npos) << b.from;
    EXPECT_EQ(yaml.find(b.from, at + 1), std::string::npos) << "ambiguous: " << b.from;
    if (at != std::string::npos) {
      yaml.replace(at, b.from.size(), b.to);
    }
  }
  return yaml;
}

TEST(BrokenRoutingConfigBaseTest, BaseConfigIsValid) {
  LoadResult result = load_string(kBase, "t.yaml", no_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_TRUE(result.config->notices.empty());
}

class BrokenRoutingConfigTest : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenRoutingConfigTest, ReportsExactErrors) {
  const BrokenCase& c = GetParam();
  LoadResult result = load_string(apply(c.breaks), "t.yaml", no_env);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(messages(result), c.expected);
}

const std::string kLevels = "(levels: public, internal, confidential, restricted)";

const std::vector<BrokenCase> kBrokenCases = {
    // --- levels and tiers
    {"UnknownClearance",
     {{"clearance: internal", "clearance: secret"}},
     {"t.yaml:33:16: backends.openai.clearance: unknown level 'secret' " + kLevels}},
    {"UnknownBackendTier",
     {{"tier: frontier", "tier: huge"}},
     {"t.yaml:32:11: backends.openai.tier: unknown tier 'huge' (expected one of: small, "
      "standard, frontier)"}},
    {"UnknownTenantFloor",
     {{"floor: confidential", "floor: private"}},
     {"t.yaml:10:12: tenants.payments.floor: unknown level 'private' " + kLevels}},
    {"UnknownModelTier",
     {{"{candidates: [local, openai]}", "{candidates: [local, openai], tier: xl}"}},
     {"t.yaml:36:48: models.default.tier: unknown tier 'xl' (expected one of: small, standard, "
      "frontier)"}},
    {"UnknownLevelInRule",
     {{"{at_least: confidential}", "{at_least: confidental}"}},
     {"t.yaml:40:36: policies[0].when.sensitivity.at_least: unknown level 'confidental' " +
      kLevels}},
    {"UnknownTierInRule",
     {{"{at_least: frontier}", "{at_least: frontiers}"}},
     {"t.yaml:43:29: policies[1].when.tier.at_least: unknown tier 'frontiers' (expected one of: "
      "small, standard, frontier)"}},
    {"UnknownDefaultTier",
     {{"default: standard", "default: medium"}},
     {"t.yaml:4:12: tiers.default: unknown tier 'medium' (expected one of: small, standard, "
      "frontier)"}},
    {"RangeUpsideDown",
     {{"sensitivity: {at_most: internal}", "sensitivity: {at_least: restricted, at_most: public}"}},
     {"t.yaml:43:53: policies[1].when.sensitivity: at_least 'restricted' is above at_most "
      "'public'"}},
    {"EmptyRange",
     {{"{at_least: confidential}", "{}"}},
     {"t.yaml:40:25: policies[0].when.sensitivity: expected at_least and/or at_most"}},
    {"RangeOfTheWrongShape",
     {{"{at_least: confidential}", "[confidential]"}},
     {"t.yaml:40:25: policies[0].when.sensitivity: expected a level name or {at_least, "
      "at_most}"}},
    {"TooFewLevels",
     {{"  detectors:", "  levels: [only]\n  detectors:"}},
     {"t.yaml:2:11: sensitivity.levels: at least two levels are required"}},
    {"BadLevelNames",
     {{"  detectors:", "  levels: [Public, off, a b, x, x]\n  detectors:"}},
     {"t.yaml:2:12: sensitivity.levels[0]: invalid level name 'Public' (use a-z, 0-9, '_' and "
      "'-')",
      "t.yaml:2:20: sensitivity.levels[1]: 'off' cannot be a level name (it turns a detector "
      "off)",
      "t.yaml:2:25: sensitivity.levels[2]: invalid level name 'a b' (use a-z, 0-9, '_' and '-')",
      "t.yaml:2:33: sensitivity.levels[4]: duplicate level 'x'"}},
    {"DuplicateTier",
     {{"  default: standard", "  levels: [small, small]"}},
     {"t.yaml:4:19: tiers.levels[1]: duplicate tier 'small'"}},

    // --- detectors
    {"UnknownDetector",
     {{"{email: confidential}", "{emails: confidential}"}},
     {"t.yaml:2:15: sensitivity.detectors: unknown key 'emails' (expected one of: credit_card, "
      "us_ssn, iban, email, phone, ip_address, aws_access_key, github_token, openai_key, "
      "anthropic_key, slack_token, private_key, jwt, google_api_key, stripe_key, gitlab_token, "
      "huggingface_token, openrouter_key, deepseek_key, npm_token, groq_key, xai_key, "
      "perplexity_key, url_credentials, credential, secret, custom)"}},
    {"UnknownDetectorLevel",
     {{"{email: confidential}", "{email: secret}"}},
     {"t.yaml:2:22: sensitivity.detectors.email: unknown level 'secret' (levels: public, "
      "internal, confidential, restricted, or off)"}},
    {"CustomDetectorWithPatternAndKeywords",
     {{"{email: confidential}",
       "\n    custom: [{name: code, pattern: 'X', keywords: [y], level: internal}]"}},
     {"t.yaml:3:14: sensitivity.detectors.custom[0]: expected exactly one of 'pattern' or "
      "'keywords'"}},
    {"CustomDetectorWithNeither",
     {{"{email: confidential}", "\n    custom: [{name: code, level: internal}]"}},
     {"t.yaml:3:14: sensitivity.detectors.custom[0]: expected exactly one of 'pattern' or "
      "'keywords'"}},
    {"CustomDetectorNames",
     {{"{email: confidential}",
       "\n    custom:\n      - {name: email, pattern: 'x', level: internal}\n"
       "      - {name: Code-Name, pattern: 'x', level: internal}\n"
       "      - {name: a, keywords: [k], level: internal}\n"
       "      - {name: a, keywords: [], level: top}"}},
     {"t.yaml:4:16: sensitivity.detectors.custom[0].name: 'email' is a built-in detector (set "
      "its level under sensitivity.detectors)",
      "t.yaml:5:16: sensitivity.detectors.custom[1].name: invalid detector name 'Code-Name' (use "
      "a-z, 0-9 and '_')",
      "t.yaml:7:16: sensitivity.detectors.custom[3].name: duplicate detector 'a'",
      "t.yaml:7:29: sensitivity.detectors.custom[3].keywords: must not be empty",
      "t.yaml:7:40: sensitivity.detectors.custom[3].level: unknown level 'top' " + kLevels}},

    // --- tiers.infer
    {"InferenceWithoutFeatures",
     {{"  default: standard", "  infer: [{tier: frontier, when: {}}]"}},
     {"t.yaml:4:34: tiers.infer[0].when: must test at least one feature (requests that match no "
      "rule get tiers.default)"}},
    {"InferenceWithBadFeature",
     {{"  default: standard",
       "  infer: [{tier: frontier, when: {tools: maybe, prompt_tokens_above: -1, gpus: 2}}]"}},
     {"t.yaml:4:42: tiers.infer[0].when.tools: expected true or false",
      "t.yaml:4:70: tiers.infer[0].when.prompt_tokens_above: expected a non-negative integer",
      "t.yaml:4:74: tiers.infer[0].when: unknown key 'gpus' (expected one of: tools, images, "
      "json_schema, prompt_tokens_above, depth_above, reasoning_effort)"}},

    // --- tenants and auth
    {"BadKeyHash",
     {{"sha256:7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725\"]",
       "sha256:7d8828bb\", \"md5:abc\", "
       "\"7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35"
       "ae725\", \"sha256:zz8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725\"]"}},
     {"t.yaml:9:16: tenants.payments.api_keys[0]: expected sha256:<64 hex digits>",
      "t.yaml:9:35: tenants.payments.api_keys[1]: expected sha256:<64 hex digits>",
      "t.yaml:9:46: tenants.payments.api_keys[2]: expected sha256:<64 hex digits>",
      "t.yaml:9:114: tenants.payments.api_keys[3]: expected sha256:<64 hex digits>"}},
    {"KeyHashOfAnotherTenant",
     {{"lab: {use: research}",
       "lab: {use: research, api_keys: "
       "[\"sha256:7D8828BB3DA29DD8DF70EBEC6B32C0E913A52CA07E4B30B87CE53228C35AE725\"]}"}},
     {"t.yaml:13:35: tenants.lab.api_keys[0]: API key already belongs to tenant 'payments'"}},
    {"EmptyTenants",
     {{"tenants:\n  payments:", "tenants: {}\nunused:\n  payments:"}},
     {"t.yaml:7:10: tenants: at least one tenant is required (without a 'tenants' section every "
      "request is served as the open tenant 'default')",
      "t.yaml:8:1: unknown key 'unused' (expected one of: server, admin, state, responses, "
      "audit, backends, models, egress, auth, tenants, sensitivity, tiers, policy_headers, "
      "policies, cost, retries, telemetry)"}},
    {"AnonymousTenantUnknown",
     {{"{anonymous_tenant: lab}", "{anonymous_tenant: labs}"}},
     {"t.yaml:14:26: auth.anonymous_tenant: unknown tenant 'labs'"}},
    {"BadTenantUse",
     {{"{use: research}", "{use: academic}"}},
     {"t.yaml:13:14: tenants.lab.use: unknown use 'academic' (expected one of: commercial, "
      "research)"}},
    {"BadBudget",
     {{"{monthly_usd: 500, on_exhausted: self-hosted-only}",
       "{daily_usd: 0, monthly_usd: -5, on_exhausted: queue}"}},
     {"t.yaml:11:25: tenants.payments.budget.daily_usd: expected an amount in USD greater than "
      "zero",
      "t.yaml:11:41: tenants.payments.budget.monthly_usd: expected an amount in USD greater than "
      "zero",
      "t.yaml:11:59: tenants.payments.budget.on_exhausted: unknown action 'queue' (expected one "
      "of: reject, self-hosted-only)"}},
    {"BudgetWithoutAmount",
     {{"{monthly_usd: 500, on_exhausted: self-hosted-only}", "{on_exhausted: reject}"}},
     {"t.yaml:11:13: tenants.payments.budget: expected daily_usd and/or monthly_usd"}},
    {"BadRate",
     {{"{rpm: 600, tpm: 200000}", "{rpm: -1, tpm: 2.5}"}},
     {"t.yaml:12:17: tenants.payments.rate.rpm: expected a non-negative integer",
      "t.yaml:12:26: tenants.payments.rate.tpm: expected a non-negative integer"}},

    // --- backends, egress, cost, headers
    {"BadWeightAndLicense",
     {{"license: {name: research-only, commercial: false}",
       "license: {name: research-only, commercial: no}\n    weight: 0"}},
     {"t.yaml:27:48: backends.research.license.commercial: expected true or false",
      "t.yaml:28:13: backends.research.weight: expected an integer from 1 to 1000000"}},
    {"BadEgress",
     {{"egress: all", "egress: some"}},
     {"t.yaml:5:9: egress: unknown egress 'some' (expected one of: all, none)"}},
    {"SavingsReferenceSelfHosted",
     {{"{savings_reference: openai}", "{savings_reference: local}"}},
     {"t.yaml:37:27: cost.savings_reference: backend 'local' is self-hosted (the savings "
      "reference must be a closed backend)"}},
    {"SavingsReferenceWithoutPrices",
     {{"    price: {input_per_mtok: 2.5, output_per_mtok: 10}\n", ""}},
     {"t.yaml:36:27: cost.savings_reference: backend 'openai' has no prices (set "
      "price.input_per_mtok and output_per_mtok)"}},
    {"SavingsReferenceUnknownAndZeroOutputTokens",
     {{"{savings_reference: openai}", "{savings_reference: gpt, default_output_tokens: 0}"}},
     {"t.yaml:37:27: cost.savings_reference: unknown backend 'gpt'",
      "t.yaml:37:55: cost.default_output_tokens: expected a positive integer"}},
    {"CredentialPolicyHeader",
     {{"[x-team]", "[x-team, Authorization, X-TEAM, \"bad header\"]"}},
     {"t.yaml:6:26: policy_headers[1]: header 'Authorization' carries credentials and cannot be "
      "used in policies",
      "t.yaml:6:41: policy_headers[2]: duplicate header 'X-TEAM'",
      "t.yaml:6:49: policy_headers[3]: invalid header name 'bad header'"}},
    {"HeaderNotInPolicyHeaders",
     {{"{headers: {x-team: search}", "{headers: {x-org: search}"}},
     {"t.yaml:46:22: policies[2].when.headers: header 'x-org' is not listed in policy_headers"}},

    // --- rule references
    {"UnknownBackendInRoute",
     {{"route: {to: [openai]}", "route: {to: [foo]}"}},
     {"t.yaml:44:18: policies[1].route.to[0]: unknown backend 'foo'"}},
    {"DuplicateBackendInRoute",
     {{"[research, local]", "[research, research]"}},
     {"t.yaml:47:28: policies[2].route.to[1]: duplicate backend 'research'"}},
    {"UnknownTenantInRule",
     {{"search}, tenant: lab}", "search}, tenant: [lab, labs]}"}},
     {"t.yaml:46:53: policies[2].when.tenant[1]: unknown tenant 'labs'"}},
    {"UnknownAliasInRule",
     {{"{sensitivity: {at_least: confidential}}",
       "{sensitivity: {at_least: confidential}, model: [default, gpt]}"}},
     {"t.yaml:40:68: policies[0].when.model[1]: unknown model alias 'gpt'"}},
    {"DuplicateRuleName",
     {{"name: frontier", "name: sensitive-stays-home"}},
     {"t.yaml:42:11: policies[1].name: duplicate rule name 'sensitive-stays-home'"}},
    {"InvalidRuleAndTenantNames",
     {{"name: team", "name: \"the team\""},
      {"  lab: {use: research}", "  \"lab/1\": {use: research}"},
      {"{anonymous_tenant: lab}", "{anonymous_tenant: \"lab/1\"}"},
      {"search}, tenant: lab}", "search}, tenant: \"lab/1\"}"}},
     {"t.yaml:13:3: tenants: invalid tenant name 'lab/1' (use letters, digits, '_', '.' and '-')",
      "t.yaml:45:11: policies[2].name: invalid rule name 'the team' (use letters, digits, '_', "
      "'.' and '-')"}},
    {"RuleWithoutName",
     {{"  - name: team\n", "  - \n"}},
     {"t.yaml:46:5: policies[2]: missing required key 'name'"}},
    {"UnknownKeyInWhen",
     {{"{tier: {at_least: frontier},", "{tiers: {at_least: frontier},"}},
     {"t.yaml:43:12: policies[1].when: unknown key 'tiers' (expected one of: sensitivity, tier, "
      "tenant, model, volume, load, budget, features, headers)"}},
    {"BadStrategy",
     {{"strategy: cheapest", "strategy: fastest"}},
     {"t.yaml:47:46: policies[2].route.strategy: unknown strategy 'fastest' (expected one of: "
      "ordered, cheapest, least-loaded, weighted, spill)"}},
    {"BadOnUnavailable",
     {{"on_unavailable: reject", "on_unavailable: retry"}},
     {"t.yaml:41:42: policies[0].route.on_unavailable: unknown action 'retry' (expected one of: "
      "next-rule, reject)"}},
    {"ShedWithTo",
     {{"{to: [openai]}", "{to: [openai], shed: true}"}},
     {"t.yaml:44:33: policies[1].route.shed: cannot be combined with 'to' (a shedding rule "
      "answers 429)"}},
    {"EmptyTo",
     {{"{to: [openai]}", "{to: []}"}},
     {"t.yaml:44:17: policies[1].route.to: must not be empty (omit 'to' to use the requested "
      "model's candidates)"}},

    // --- volume and budget conditions
    {"VolumeOnUnknownBackend",
     {{"{tier: {at_least: frontier}, sensitivity: {at_most: internal}}",
       "{volume: {backend: gpu, rpm_above: 10}}"}},
     {"t.yaml:43:30: policies[1].when.volume.backend: unknown backend 'gpu'"}},
    {"VolumeFractionOutOfRange",
     {{"{tier: {at_least: frontier}, sensitivity: {at_most: internal}}",
       "{volume: {backend: local, in_flight_above: 1.5}}"}},
     {"t.yaml:43:54: policies[1].when.volume.in_flight_above: expected a fraction in (0, 1]"}},
    {"VolumeFractionWithoutMaxInFlight",
     {{"{tier: {at_least: frontier}, sensitivity: {at_most: internal}}",
       "{volume: {backend: openai, in_flight_above: 0.5}}"}},
     {"t.yaml:43:55: policies[1].when.volume.in_flight_above: needs backends.openai.max_in_flight "
      "(a fraction of no limit is never reached)"}},
    {"VolumeWithoutThreshold",
     {{"{tier: {at_least: frontier}, sensitivity: {at_most: internal}}",
       "{volume: {backend: local}}"}},
     {"t.yaml:43:20: policies[1].when.volume: expected at least one of in_flight_above, "
      "rpm_above, tpm_above"}},
    {"BudgetFractionOutOfRange",
     {{"{tier: {at_least: frontier}, sensitivity: {at_most: internal}}",
       "{budget: {spent_fraction_above: 90, period: weekly}}"}},
     {"t.yaml:43:43: policies[1].when.budget.spent_fraction_above: expected a fraction in [0, 1]",
      "t.yaml:43:55: policies[1].when.budget.period: unknown period 'weekly' (expected one of: "
      "any, daily, monthly)"}},

    // --- order of rules
    {"RuleAfterCatchAll",
     {{"", "  - name: late\n    when: {tenant: lab}\n"}},
     {
         "t.yaml:50:5: policies[4]: unreachable: rule 'late' comes after catch-all rule 'default'",
     }},
    {"SecondCatchAll",
     {{"  - name: frontier\n", "  - name: everything\n  - name: frontier\n"}},
     {"t.yaml:43:5: policies[2]: unreachable: rule 'frontier' comes after catch-all rule "
      "'everything'",
      "t.yaml:46:5: policies[3]: unreachable: rule 'team' comes after catch-all rule "
      "'everything'",
      "t.yaml:49:5: policies[4]: unreachable: rule 'default' comes after catch-all rule "
      "'everything'"}},
    {"NoFinalCatchAll",
     {{"  - name: default\n    route: {strategy: ordered}\n", ""}},
     {"t.yaml:39:3: policies: the last rule must be a catch-all default (a rule without 'when')"}},

    // --- rules that can never route
    {"NeverRoutesClearance",
     {{"route: {to: [local], on_unavailable: reject}",
       "route: {to: [openai], on_unavailable: reject}"}},
     {"t.yaml:41:17: policies[0].route.to: can never route: every backend is excluded "
      "(clearance below confidential)"}},
    {"NeverRoutesTenantFloor",
     {{"{headers: {x-team: search}, tenant: lab}", "{tenant: payments}"},
      {"[research, local]", "[openai]"}},
     {"t.yaml:47:17: policies[2].route.to: can never route: every backend is excluded "
      "(clearance below confidential)"}},
    {"NeverRoutesEgress",
     {{"egress: all", "egress: none"},
      {"{tier: {at_least: frontier}, sensitivity: {at_most: internal}}",
       "{sensitivity: {at_most: internal}}"}},
     {"t.yaml:44:17: policies[1].route.to: can never route: every backend is excluded (closed, "
      "and egress is none)"}},
    {"NeverRoutesTier",
     {{"route: {to: [local], on_unavailable: reject}",
       "route: {to: [local, research], on_unavailable: reject}"},
      {"{sensitivity: {at_least: confidential}}", "{tier: {at_least: frontier}}"}},
     {"t.yaml:41:17: policies[0].route.to: can never route: every backend is excluded (tier "
      "below frontier)"}},
    {"NeverRoutesLicense",
     {{"lab: {use: research}", "lab: {use: commercial}"}, {"[research, local]", "[research]"}},
     {"t.yaml:47:17: policies[2].route.to: can never route: every backend is excluded "
      "(research-only license, and every tenant it can serve is commercial)"}},
    {"NeverRoutesForSeveralReasons",
     {{"{sensitivity: {at_least: confidential}}",
       "{sensitivity: {at_least: confidential}, tier: {at_least: frontier}}"},
      {"route: {to: [local], on_unavailable: reject}",
       "route: {to: [local, openai], on_unavailable: reject}"}},
     {"t.yaml:41:17: policies[0].route.to: can never route: every backend is excluded (tier "
      "below frontier; clearance below confidential)"}},
};

INSTANTIATE_TEST_SUITE_P(RoutingConfigTest, BrokenRoutingConfigTest,
                         ::testing::ValuesIn(kBrokenCases),
                         [](const ::testing::TestParamInfo<BrokenCase>& p) {
                           return p.param.name;
                         });

// Things that look like they can never route but can.
TEST(RoutingConfigTest, LowerTierAllowedOrAResearchTenantMakesARuleRoutable) {
  std::string yaml =
      apply({{"{sensitivity: {at_least: confidential}}", "{tier: {at_least: frontier}}"},
             {"on_unavailable: reject}", "allow_lower_tier: true}"}});
  LoadResult allowed = load_string(yaml, "t.yaml", no_env);
  EXPECT_TRUE(allowed.ok()) << ::testing::PrintToString(messages(allowed));

  // `team` routes to a research-only backend: fine while the research tenant can match.
  LoadResult research = load_string(apply({{"[research, local]", "[research]"}}), "t.yaml", no_env);
  EXPECT_TRUE(research.ok()) << ::testing::PrintToString(messages(research));
}

}  // namespace
}  // namespace sb::config
