// The routing examples shipped in config/ say what they claim, and the commented routing blocks
// of the default config are valid once uncommented.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "policies/config.h"

#ifndef SB_SOURCE_DIR
#error "SB_SOURCE_DIR must name the source tree"
#endif

namespace sb::config {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> empty_env(const std::string&) {
  return std::nullopt;
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

std::string path_of(const std::string& relative) {
  return (fs::path(SB_SOURCE_DIR) / "config" / relative).string();
}

Config load(const std::string& relative) {
  LoadResult result = load_file(path_of(relative), empty_env);
  EXPECT_TRUE(result.ok()) << relative << "\n" << ::testing::PrintToString(messages(result));
  return result.ok() ? *result.config : Config{};
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every commented block of `text` that starts with a top-level key (`# policies:`), up to the
// end of its run of comment lines, without the leading "# ".
std::vector<std::string> commented_blocks(const std::string& text) {
  static const std::regex kStart(R"(^# [a-z_]+:.*)");
  std::vector<std::string> blocks;
  std::istringstream in(text);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!line.starts_with("#")) {
      inside = false;
      continue;
    }
    if (!inside && std::regex_match(line, kStart)) {
      inside = true;
      blocks.emplace_back();
    }
    if (inside) {
      blocks.back() += (line.size() > 2 ? line.substr(2) : "") + "\n";
    }
  }
  return blocks;
}

const Policy* find_policy(const Config& c, std::string_view name) {
  for (const Policy& p : c.policies) {
    if (p.name == name) {
      return &p;
    }
  }
  ADD_FAILURE() << "no rule " << name;
  return nullptr;
}

TEST(ExampleConfigsTest, DefaultConfigIsOpenWithoutPolicies) {
  Config c = load("switchboard.yaml");
  ASSERT_EQ(c.tenants.size(), 1u);
  EXPECT_EQ(c.tenants[0].name, "default");
  EXPECT_EQ(c.auth.anonymous_tenant, "default");
  EXPECT_TRUE(c.policies.empty());
  EXPECT_EQ(c.egress, Egress::all);
  EXPECT_TRUE(c.notices.empty());
}

TEST(ExampleConfigsTest, DefaultConfigCommentedBlocksAreValidOnceUncommented) {
  std::string text = read(path_of("switchboard.yaml"));
  std::vector<std::string> blocks = commented_blocks(text);
  std::vector<std::string> keys;
  for (const std::string& b : blocks) {
    keys.push_back(b.substr(0, b.find(':')));
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"egress", "sensitivity", "tiers", "tenants", "policies",
                                            "cost"}));

  // The policies alone, on the open config.
  for (const std::string& b : blocks) {
    if (!b.starts_with("policies:")) {
      continue;
    }
    LoadResult result = load_string(text + b, "switchboard.yaml", empty_env);
    ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
    const Config& c = *result.config;
    ASSERT_EQ(c.policies.size(), 3u);
    EXPECT_EQ(c.policies[0].route.to, (std::vector<std::string>{"local-llama"}));
    EXPECT_EQ(c.policies[0].when.sensitivity->at_least, 2);
    EXPECT_EQ(c.policies[0].route.on_unavailable, OnUnavailable::reject);
    EXPECT_EQ(c.policies[1].route.to, (std::vector<std::string>{"openai"}));
    EXPECT_EQ(c.policies[1].when.tier->at_least, 2);
    EXPECT_EQ(c.policies[1].when.sensitivity->at_most, 1);
    EXPECT_TRUE(c.policies[2].when.catch_all());
    EXPECT_TRUE(c.policies[2].route.to.empty());
  }

  // Everything at once.
  std::string all = text;
  for (const std::string& b : blocks) {
    all += b;
  }
  LoadResult result = load_string(all, "switchboard.yaml", empty_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;
  ASSERT_EQ(c.tenants.size(), 2u);
  EXPECT_EQ(c.auth.anonymous_tenant, "search");
  EXPECT_EQ(c.tenants[0].floor, 2);
  EXPECT_EQ(c.tenants[0].budget.on_exhausted, BudgetAction::self_hosted_only);
  EXPECT_EQ(c.sensitivity.custom.size(), 1u);
  EXPECT_TRUE(c.sensitivity.allow_defaults);
  for (const EntityLevel& e : c.sensitivity.entities) {
    EXPECT_EQ(e.allow.size(), e.entity == "email" ? 2u : 0u) << e.entity;
  }
  EXPECT_EQ(c.tiers.infer.size(), 2u);
  EXPECT_EQ(c.cost.savings_reference, "openai");
}

TEST(ExampleConfigsTest, RegulatedKeepsSensitiveDataHomeAndNeedsKeys) {
  Config c = load("examples/regulated.yaml");
  EXPECT_EQ(c.auth.anonymous_tenant, "");  // every request needs a key
  ASSERT_EQ(c.tenants.size(), 3u);
  for (const Tenant& t : c.tenants) {
    EXPECT_EQ(t.key_hashes.size(), 1u) << t.name;
  }
  EXPECT_EQ(c.find_tenant("payments")->floor, 2);
  EXPECT_EQ(c.find_tenant("support")->floor, 1);
  EXPECT_EQ(c.sensitivity.custom.size(), 3u);
  for (const EntityLevel& e : c.sensitivity.entities) {
    if (e.entity == "email") {
      EXPECT_EQ(e.level, 2);
      EXPECT_EQ(e.allow.size(), 2u);
      EXPECT_EQ(e.allow.at(1).pattern, R"([a-z0-9.-]+@ci\.yourcompany\.com)");
    }
  }

  const Policy* home = find_policy(c, "sensitive-stays-home");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(home->route.on_unavailable, OnUnavailable::reject);
  for (const std::string& name : home->route.to) {
    const Backend* b = c.find_backend(name);
    EXPECT_EQ(b->hosting, Hosting::self_hosted) << name;
    EXPECT_GE(b->clearance_level, home->when.sensitivity->at_least) << name;
  }
  const Policy* frontier = find_policy(c, "frontier-when-clean");
  ASSERT_NE(frontier, nullptr);
  EXPECT_EQ(frontier->when.sensitivity->at_most, 1);  // internal at most
  EXPECT_TRUE(c.policies.back().when.catch_all());
}

TEST(ExampleConfigsTest, CostControlUsesBothBudgetModesOverflowAndSavings) {
  Config c = load("examples/cost-control.yaml");
  ASSERT_NE(c.find_tenant("search"), nullptr);
  ASSERT_NE(c.find_tenant("experiments"), nullptr);
  EXPECT_EQ(c.find_tenant("search")->budget.on_exhausted, BudgetAction::self_hosted_only);
  EXPECT_EQ(c.find_tenant("experiments")->budget.on_exhausted, BudgetAction::reject);
  EXPECT_EQ(c.cost.savings_reference, "openai");

  const Policy* overflow = find_policy(c, "overflow");
  ASSERT_NE(overflow, nullptr);
  ASSERT_TRUE(overflow->when.volume.has_value());
  EXPECT_EQ(overflow->when.volume->in_flight_above, 0.85);
  EXPECT_EQ(overflow->route.strategy, Strategy::cheapest);
  for (const std::string& name : overflow->route.to) {
    EXPECT_EQ(c.find_backend(name)->hosting, Hosting::closed) << name;
  }
  const Policy* guard = find_policy(c, "budget-guard");
  ASSERT_NE(guard, nullptr);
  EXPECT_EQ(guard->when.budget->period, BudgetPeriod::monthly);
  EXPECT_EQ(c.policies.back().route.strategy, Strategy::cheapest);
}

TEST(ExampleConfigsTest, AirGappedIsSelfHostedOnlyWithAResearchOnlyModel) {
  Config c = load("examples/air-gapped.yaml");
  EXPECT_EQ(c.egress, Egress::none);
  for (const Backend& b : c.backends) {
    EXPECT_EQ(b.hosting, Hosting::self_hosted) << b.name;
  }
  const Backend* research = c.find_backend("research-model");
  ASSERT_NE(research, nullptr);
  EXPECT_FALSE(research->license_commercial);
  EXPECT_EQ(c.find_model("research")->candidates, (std::vector<std::string>{"research-model"}));
  ASSERT_NE(c.find_tenant("research-lab"), nullptr);
  EXPECT_EQ(c.find_tenant("research-lab")->use, TenantUse::research);
  EXPECT_EQ(c.find_tenant("product")->use, TenantUse::commercial);
  EXPECT_EQ(c.find_backend("qwen-7b")->weight, 2u);
  EXPECT_EQ(c.policies.back().route.strategy, Strategy::weighted);
}

TEST(ExampleConfigsTest, CapacityFillsAScrapedPoolAndSpillsOnlyToAClosedBackend) {
  Config c = load("examples/capacity.yaml");
  const Backend* gpus = c.find_backend("gpus");
  ASSERT_NE(gpus, nullptr);
  EXPECT_EQ(gpus->endpoints.size(), 2u);
  EXPECT_TRUE(gpus->scrape);
  EXPECT_EQ(gpus->load.metrics, "vllm");
  EXPECT_EQ(gpus->load.on_stale, OnStale::in_flight);
  EXPECT_TRUE(gpus->affinity.enabled);
  EXPECT_EQ(c.find_backend("openai-mini")->hosting, Hosting::closed);
  EXPECT_LT(c.find_backend("openai-mini")->clearance_level, gpus->clearance_level);

  const Policy* slow = find_policy(c, "engines-slow");
  ASSERT_NE(slow, nullptr);
  ASSERT_TRUE(slow->when.load.has_value());
  EXPECT_EQ(slow->when.load->backend, "gpus");
  ASSERT_TRUE(slow->when.load->ttft_p50_above.has_value());
  EXPECT_EQ(slow->when.sensitivity->at_most, 1);  // clean traffic only
  const Policy& fill = c.policies.back();
  EXPECT_TRUE(fill.when.catch_all());
  EXPECT_EQ(fill.route.strategy, Strategy::spill);
  EXPECT_EQ(fill.route.queue.max, 64u);
}

TEST(ExampleConfigsTest, ExampleKeyHashesAreTheDocumentedDemoKeys) {
  // sha256 of "sk-demo-payments", as the comments say.
  std::string expected;
  constexpr std::string_view kHex =
      "7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725";
  for (std::size_t i = 0; i < kHex.size(); i += 2) {
    expected.push_back(static_cast<char>(std::stoi(std::string(kHex.substr(i, 2)), nullptr, 16)));
  }
  EXPECT_EQ(load("examples/regulated.yaml").find_tenant("payments")->key_hashes[0], expected);
  EXPECT_EQ(load("examples/air-gapped.yaml").find_tenant("product")->key_hashes[0], expected);
}

}  // namespace
}  // namespace sb::config
