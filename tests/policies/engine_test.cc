#include "policies/engine.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "tests/policies/config_builder.h"
#include "tests/policies/fake_state.h"

namespace sb::policies {
namespace {

using config::Hosting;
using config::Strategy;
using testing::at_least;
using testing::ConfigBuilder;
using testing::FakeState;
using testing::Request;

constexpr std::string_view kEmailText = "write to alice@contoso.com or bob@fabrikam.org today";
constexpr std::string_view kCardText = "card 4111 1111 1111 1111 expires soon";

// Backend and tenant indexes of the base config.
constexpr std::size_t kLocal = 0;
constexpr std::size_t kSmall = 1;
constexpr std::size_t kCloud = 2;
constexpr std::size_t kAcme = 0;
constexpr std::size_t kPayments = 1;
constexpr std::size_t kResearch = 2;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    config::Backend& local = cfg.self_hosted("local", "standard", "restricted", 64);
    local.price.gpu_hour_usd = 2.10;
    local.price.tokens_per_second = 1800;
    cfg.self_hosted("small", "small", "confidential");
    config::Backend& cloud = cfg.closed("cloud", "frontier", "internal");
    cloud.price.input_per_mtok = 2.50;
    cloud.price.output_per_mtok = 10.00;
    cloud.price.cached_input_per_mtok = 1.25;
    cfg.model("default", {"local", "cloud"});
    cfg.model("frontier", {"cloud"}, "frontier");
    cfg.model("cheap", {"small", "local"});
    cfg.tenant("acme");
    cfg.tenant("payments", testing::kConfidential);
    cfg.tenant("research").use = config::TenantUse::research;
  }

  const Engine& engine() {
    if (engine_ == nullptr) {
      std::string error;
      // Every test keeps the default sensitivity settings: compile their detector once.
      static const std::shared_ptr<const Detector> detector =
          Detector::compile(ConfigBuilder().config().sensitivity, error);
      engine_ = Engine::build(cfg.build(), detector, error);
      EXPECT_NE(engine_, nullptr) << error;
    }
    return *engine_;
  }

  Decision decide(Request& r, bool explain = true) {
    return engine().decide(r.get(), state, explain);
  }

  std::vector<std::string> names(const Decision& d) {
    std::vector<std::string> out;
    for (std::size_t b : d.backends) {
      out.push_back(engine().config().backends[b].name);
    }
    return out;
  }

  /// Exclusion reasons of every matched rule, by backend name.
  std::map<std::string, std::string> excluded(const Decision& d) {
    std::map<std::string, std::string> out;
    for (const RuleTrace& t : d.trace) {
      for (const Exclusion& e : t.excluded) {
        out.emplace(engine().config().backends[e.backend].name, e.reason);
      }
    }
    return out;
  }

  /// Two rules: `hit` (to cloud, configured by the test) and the catch-all `rest` (to local).
  config::Policy& hit_or_rest() {
    cfg.rule("hit", {"cloud"});
    cfg.rule("rest", {"local"});
    return cfg.config().policies.front();
  }

  /// Drops the engine built so far, so that the next decide() sees changes to `cfg`.
  void rebuild() { engine_.reset(); }

  ConfigBuilder cfg;
  FakeState state;

 private:
  std::unique_ptr<const Engine> engine_;
};

using Names = std::vector<std::string>;

// -------------------------------------------------------------------------------------------------
// Aliases and the implicit rule

TEST_F(EngineTest, WithoutPoliciesRoutesToTheAliasCandidatesInOrder) {
  Request r(kAcme, "default");
  r.text("hello there");
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::route);
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(names(d), (Names{"local", "cloud"}));
  EXPECT_EQ(d.sensitivity, testing::kPublic);
  EXPECT_EQ(d.tier, testing::kStandard);
  EXPECT_TRUE(d.message.empty());
}

TEST_F(EngineTest, UnknownAliasIsUnknownModel) {
  Request r(kAcme, "gpt-9");
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::unknown_model);
  EXPECT_EQ(d.message, "The model 'gpt-9' does not exist.");
  EXPECT_TRUE(d.backends.empty());
}

TEST_F(EngineTest, RuleWithoutTargetsUsesTheAliasCandidates) {
  cfg.rule("all");
  Request r(kAcme, "cheap");
  Decision d = decide(r);
  EXPECT_EQ(d.rule, "all");
  EXPECT_EQ(names(d), (Names{"local"}));  // small is below the default tier standard
  EXPECT_EQ(excluded(d).at("small"), "tier small < required standard");
}

// -------------------------------------------------------------------------------------------------
// Sensitivity

TEST_F(EngineTest, DetectedEmailKeepsTheRequestOnClearedBackends) {
  Request r(kAcme, "default");
  r.text("hi").text(kEmailText);
  Decision d = decide(r);
  EXPECT_EQ(d.sensitivity, testing::kConfidential);
  EXPECT_EQ(names(d), (Names{"local"}));
  EXPECT_EQ(excluded(d).at("cloud"), "clearance internal < sensitivity confidential");
  ASSERT_EQ(d.detection.entities.size(), 1u);
  EXPECT_EQ(engine().detector().entity_names()[d.detection.entities[0].entity], "email");
  EXPECT_EQ(d.detection.entities[0].count, 2u);
  EXPECT_EQ(d.sensitivity_why, "detected confidential (email x2); tenant floor public");
}

TEST_F(EngineTest, DetectedCardNumberIsRestricted) {
  Request r(kAcme, "default");
  r.text(kCardText);
  Decision d = decide(r);
  EXPECT_EQ(d.sensitivity, testing::kRestricted);
  EXPECT_EQ(names(d), (Names{"local"}));
}

TEST_F(EngineTest, TenantFloorRaisesSensitivity) {
  Request r(kPayments, "default");
  r.text("nothing special");
  Decision d = decide(r);
  EXPECT_EQ(d.sensitivity, testing::kConfidential);
  EXPECT_EQ(names(d), (Names{"local"}));
  EXPECT_EQ(d.sensitivity_why, "nothing detected; tenant floor confidential");
}

TEST_F(EngineTest, ClassificationHeaderRaisesSensitivityButNeverLowersIt) {
  Request raised(kAcme, "default");
  raised.text("nothing special");
  raised.facts.classification_header = "Restricted";  // level names match case-insensitively
  Decision d = decide(raised);
  EXPECT_EQ(d.sensitivity, testing::kRestricted);
  EXPECT_EQ(names(d), (Names{"local"}));

  Request lowered(kAcme, "default");
  lowered.text(kEmailText);
  lowered.facts.classification_header = "public";
  EXPECT_EQ(decide(lowered).sensitivity, testing::kConfidential);

  Request under_floor(kPayments, "default");
  under_floor.facts.classification_header = "internal";
  EXPECT_EQ(decide(under_floor).sensitivity, testing::kConfidential);
}

TEST_F(EngineTest, UnknownClassificationIsABadRequestListingTheLevels) {
  Request r(kAcme, "default");
  r.facts.classification_header = "secret";
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::bad_request);
  EXPECT_EQ(d.message,
            "x-data-classification must be one of: public, internal, confidential, restricted");
  EXPECT_TRUE(d.backends.empty());
}

TEST_F(EngineTest, EveryClassificationValueCountsAndTheHighestWins) {
  Request listed(kAcme, "default");
  listed.facts.classification_header = "public,restricted";  // two headers, or one list
  Decision d = decide(listed);
  EXPECT_EQ(d.sensitivity, testing::kRestricted);
  EXPECT_EQ(names(d), (Names{"local"}));

  Request spaced(kAcme, "default");
  spaced.facts.classification_header = " internal ,\tconfidential ";
  EXPECT_EQ(decide(spaced).sensitivity, testing::kConfidential);

  for (const char* bad : {"public,secret", "public,", ","}) {
    Request r(kAcme, "default");
    r.facts.classification_header = bad;
    Decision b = decide(r);
    if (std::string_view(bad) == "public,") {
      EXPECT_EQ(b.outcome, Outcome::route) << "an empty list item is ignored";
      continue;
    }
    EXPECT_EQ(b.outcome, Outcome::bad_request) << bad;
  }
}

TEST_F(EngineTest, UnscannableContentTakesTheConfiguredLevel) {
  Request tokens(kAcme, "default");
  tokens.text("hello");
  tokens.facts.unscannable = config::kUnscannableTokenIds;
  Decision d = decide(tokens);
  EXPECT_EQ(d.sensitivity, testing::kRestricted) << "default: the highest level";
  EXPECT_EQ(names(d), (Names{"local"}));
  EXPECT_EQ(d.sensitivity_why,
            "nothing detected; tenant floor public; unscannable: token_ids restricted");
  EXPECT_NE(engine().explain_json(d, tokens.get()).find("\"unscannable\":\"token_ids\""),
            std::string::npos);

  // An operator lets images go by their text alone, and lowers the rest.
  cfg.config().sensitivity.unscannable.kinds =
      config::kUnscannableAll & ~config::kUnscannableImages;
  cfg.config().sensitivity.unscannable.level = testing::kInternal;
  rebuild();
  Request image(kAcme, "default");
  image.facts.unscannable = config::kUnscannableImages;
  EXPECT_EQ(decide(image).sensitivity, testing::kPublic);
  Request audio(kAcme, "default");
  audio.facts.unscannable = config::kUnscannableAudio | config::kUnscannableImages;
  Decision a = decide(audio);
  EXPECT_EQ(a.sensitivity, testing::kInternal);
  EXPECT_EQ(a.sensitivity_why,
            "nothing detected; tenant floor public; unscannable: audio internal");
}

TEST_F(EngineTest, UnscannableContentWithNoClearedBackendIsForbiddenAndSaysWhy) {
  cfg.rule("out", {"cloud"}).route.on_unavailable = config::OnUnavailable::reject;
  Request r(kAcme, "frontier");
  r.facts.unscannable = config::kUnscannableFiles;
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::forbidden);
  EXPECT_NE(d.message.find("unscannable: files"), std::string::npos) << d.message;
}

// -------------------------------------------------------------------------------------------------
// Tier

TEST_F(EngineTest, TierHeaderSetsTheRequiredTier) {
  Request r(kAcme, "default");
  r.facts.tier_header = "frontier";
  Decision d = decide(r);
  EXPECT_EQ(d.tier, testing::kFrontier);
  EXPECT_EQ(names(d), (Names{"cloud"}));
  EXPECT_EQ(excluded(d).at("local"), "tier standard < required frontier");
  EXPECT_EQ(d.tier_why, "x-capability-tier header");

  Request bad(kAcme, "default");
  bad.facts.tier_header = "huge";
  Decision b = decide(bad);
  EXPECT_EQ(b.outcome, Outcome::bad_request);
  EXPECT_EQ(b.message, "x-capability-tier must be one of: small, standard, frontier");
}

TEST_F(EngineTest, AliasTierAppliesUnlessTheHeaderSetsOne) {
  Request r(kAcme, "frontier");
  Decision d = decide(r);
  EXPECT_EQ(d.tier, testing::kFrontier);
  EXPECT_EQ(d.tier_why, "model alias 'frontier'");

  Request header(kAcme, "frontier");
  header.facts.tier_header = "small";
  EXPECT_EQ(decide(header).tier, testing::kSmall);
}

TEST_F(EngineTest, TierIsInferredByTheFirstMatchingRuleElseTheDefault) {
  config::TierInference tools{testing::kFrontier, {}};
  tools.when.tools = true;
  config::TierInference deep{testing::kSmall, {}};
  deep.when.depth_above = 10;
  cfg.config().tiers.infer = {tools, deep};
  cfg.config().tiers.default_tier = testing::kSmall;

  Request with_tools(kAcme, "default");
  with_tools.facts.tools = true;
  with_tools.facts.depth = 20;  // the second rule also matches; the first one wins
  Decision d = decide(with_tools);
  EXPECT_EQ(d.tier, testing::kFrontier);
  EXPECT_EQ(d.tier_why, "inferred by tiers.infer[0]");

  Request plain(kAcme, "default");
  Decision p = decide(plain);
  EXPECT_EQ(p.tier, testing::kSmall);
  EXPECT_EQ(p.tier_why, "default");
}

// -------------------------------------------------------------------------------------------------
// Conditions: `hit` routes to cloud when its condition holds, `rest` to local otherwise.

TEST_F(EngineTest, SensitivityAndTierRangesSelectRules) {
  cfg.rule("home", {"local"}).when.sensitivity = at_least(testing::kInternal);
  cfg.rule("big", {"cloud"}).when.tier = testing::exactly(testing::kFrontier);
  cfg.rule("rest", {"small"}).route.allow_lower_tier = true;

  Request internal(kAcme, "default");
  internal.facts.classification_header = "internal";
  EXPECT_EQ(decide(internal).rule, "home");
  Request frontier(kAcme, "default");
  frontier.facts.tier_header = "frontier";
  Decision f = decide(frontier);
  EXPECT_EQ(f.rule, "big");
  EXPECT_EQ(f.trace[0].failed, "sensitivity: public is not >= internal");
  Request other(kAcme, "default");
  Decision o = decide(other);
  EXPECT_EQ(o.rule, "rest");
  EXPECT_EQ(o.trace[1].failed, "tier: standard is not == frontier");
}

TEST_F(EngineTest, TenantConditionMatchesByName) {
  hit_or_rest().when.tenants = {"research"};
  Request research(kResearch, "default");
  EXPECT_EQ(decide(research).rule, "hit");
  Request acme(kAcme, "default");
  Decision d = decide(acme);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace[0].failed, "tenants: acme not in [research]");
}

TEST_F(EngineTest, ModelConditionMatchesTheAlias) {
  hit_or_rest().when.models = {"frontier", "cheap"};
  Request cheap(kAcme, "cheap");
  EXPECT_EQ(decide(cheap).rule, "hit");
  Request def(kAcme, "default");
  EXPECT_EQ(decide(def).rule, "rest");
}

TEST_F(EngineTest, VolumeConditionReadsBackendLoad) {
  config::VolumeCondition v;
  v.backend = "local";
  v.in_flight_above = 0.5;
  hit_or_rest().when.volume = v;
  Request r(kAcme, "default");
  state.in_flight[kLocal] = 32;  // exactly half: not above
  Decision d = decide(r);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace[0].failed, "volume: local in_flight 32/64 not above 0.5");
  state.in_flight[kLocal] = 33;
  EXPECT_EQ(decide(r).rule, "hit");
}

TEST_F(EngineTest, VolumeConditionReadsBackendRates) {
  config::VolumeCondition v;
  v.backend = "local";
  v.rpm_above = 100;
  v.tpm_above = 50'000;
  hit_or_rest().when.volume = v;
  Request r(kAcme, "default");
  state.rpm[kLocal] = 150;
  state.tpm[kLocal] = 40'000;
  Decision d = decide(r);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace[0].failed, "volume: local tpm 40000 not above 50000");
  state.tpm[kLocal] = 60'000;
  EXPECT_EQ(decide(r).rule, "hit");
  state.rpm[kLocal] = 100;
  EXPECT_EQ(decide(r).rule, "rest");
}

TEST_F(EngineTest, VolumeConditionOnUnlimitedBackendNeverHolds) {
  config::VolumeCondition v;
  v.backend = "small";
  v.in_flight_above = 0.0;
  hit_or_rest().when.volume = v;
  state.in_flight[kSmall] = 1'000;
  Request r(kAcme, "default");
  EXPECT_EQ(decide(r).rule, "rest");
}

TEST_F(EngineTest, BudgetConditionComparesTheSpentFraction) {
  config::BudgetCondition any{0.9, config::BudgetPeriod::any};
  hit_or_rest().when.budget = any;
  Request r(kAcme, "default");
  state.daily = 0.5;
  state.monthly = 0.95;
  EXPECT_EQ(decide(r).rule, "hit");
  cfg.config().policies[0].when.budget->period = config::BudgetPeriod::daily;
  rebuild();
  Decision d = decide(r);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace[0].failed, "budget: spent 0.5 not above 0.9");
  state.daily = 0.91;
  EXPECT_EQ(decide(r).rule, "hit");
  state.daily = 0.9;  // not above
  EXPECT_EQ(decide(r).rule, "rest");
}

TEST_F(EngineTest, FeatureConditionsTestTheRequestShape) {
  config::FeatureCondition f;
  f.tools = true;
  f.json_schema = false;
  f.prompt_tokens_above = 1'000;
  f.reasoning_effort = {"high"};
  hit_or_rest().when.features = f;
  Request r(kAcme, "default");
  r.facts.tools = true;
  r.facts.estimated_prompt_tokens = 1'001;
  r.facts.reasoning_effort = "high";
  EXPECT_EQ(decide(r).rule, "hit");

  r.facts.reasoning_effort = "low";
  Decision d = decide(r);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace[0].failed, "features: reasoning_effort not in [high]");
  r.facts.reasoning_effort = "high";
  r.facts.json_schema = true;
  EXPECT_EQ(decide(r).trace[0].failed, "features: json_schema is true");
  r.facts.json_schema = false;
  r.facts.estimated_prompt_tokens = 1'000;
  EXPECT_EQ(decide(r).trace[0].failed, "features: prompt_tokens 1000 not above 1000");
}

TEST_F(EngineTest, ImageAndDepthConditions) {
  config::FeatureCondition f;
  f.images = true;
  f.depth_above = 3;
  hit_or_rest().when.features = f;
  Request r(kAcme, "default");
  r.facts.images = true;
  r.facts.depth = 4;
  EXPECT_EQ(decide(r).rule, "hit");
  r.facts.depth = 3;
  EXPECT_EQ(decide(r).trace[0].failed, "features: depth 3 not above 3");
  r.facts.depth = 4;
  r.facts.images = false;
  EXPECT_EQ(decide(r).trace[0].failed, "features: images is false");
}

TEST_F(EngineTest, HeaderConditionAcceptsListedValues) {
  hit_or_rest().when.headers = {{"x-team", {"ml", "search"}}};
  Request ml(kAcme, "default");
  ml.header("x-other", "1").header("x-team", "search");
  EXPECT_EQ(decide(ml).rule, "hit");
  Request other(kAcme, "default");
  other.header("x-team", "finance");
  Decision d = decide(other);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace[0].failed, "headers: x-team not in [ml, search]");
  Request none(kAcme, "default");
  EXPECT_EQ(decide(none).trace[0].failed, "headers: x-team absent");
}

// -------------------------------------------------------------------------------------------------
// Strategies

TEST_F(EngineTest, OrderedKeepsTheListedOrder) {
  cfg.rule("all", {"cloud", "local"});
  Request r(kAcme, "default");
  EXPECT_EQ(names(decide(r)), (Names{"cloud", "local"}));
}

TEST_F(EngineTest, CheapestOrdersByThisRequestsEstimatedCost) {
  config::Backend& mini = cfg.closed("mini", "standard", "internal");
  mini.price.input_per_mtok = 0.15;
  mini.price.output_per_mtok = 0.60;
  cfg.self_hosted("free-a", "standard", "restricted");
  cfg.self_hosted("free-b", "standard", "restricted");
  cfg.rule("all", {"cloud", "mini", "local", "free-b", "free-a"}).route.strategy =
      Strategy::cheapest;
  Request r(kAcme, "default");
  r.facts.estimated_prompt_tokens = 1'000;
  r.facts.max_tokens = 1'000;
  // local: 2000 tokens x 0.324 µ$ = 648 µ$; mini: 150 + 600 = 750 µ$; cloud: 2500 + 10000 µ$.
  // The two unpriced backends cost 0 and keep their listed order.
  EXPECT_EQ(names(decide(r)), (Names{"free-b", "free-a", "local", "mini", "cloud"}));

  // Input-heavy requests favour mini's low input price over local's flat per-token price.
  r.facts.estimated_prompt_tokens = 10'000;
  r.facts.max_tokens = 1;
  EXPECT_EQ(names(decide(r)), (Names{"free-b", "free-a", "mini", "local", "cloud"}));
}

TEST_F(EngineTest, LeastLoadedOrdersByUtilisation) {
  cfg.self_hosted("big", "standard", "restricted", 10);
  cfg.rule("all", {"local", "big", "small"}).route = [] {
    config::Route route;
    route.to = {"local", "big", "small"};
    route.strategy = Strategy::least_loaded;
    route.allow_lower_tier = true;
    return route;
  }();
  state.in_flight[kLocal] = 32;  // 0.5
  state.in_flight[3] = 2;        // big: 0.2
  state.in_flight[kSmall] = 90;  // unlimited: utilisation 0
  Request r(kAcme, "default");
  EXPECT_EQ(names(decide(r)), (Names{"small", "big", "local"}));
  state.in_flight[3] = 5;  // big: 0.5, as local; fewer in flight first
  EXPECT_EQ(names(decide(r)), (Names{"small", "big", "local"}));
  state.in_flight[3] = 32;  // big at capacity: excluded
  EXPECT_EQ(names(decide(r)), (Names{"small", "local"}));
}

TEST_F(EngineTest, WeightedDrawsInProportionToWeights) {
  cfg.self_hosted("a", "standard", "restricted").weight = 1;
  cfg.self_hosted("b", "standard", "restricted").weight = 3;
  cfg.self_hosted("c", "standard", "restricted").weight = 6;
  cfg.rule("spread", {"a", "b", "c"}).route.strategy = Strategy::weighted;
  Engine::seed_random(42);
  std::map<std::string, int> first;
  constexpr int kDraws = 10'000;
  Request r(kAcme, "default");
  for (int i = 0; i < kDraws; ++i) {
    Decision d = decide(r, false);
    ASSERT_EQ(d.backends.size(), 3u);  // a permutation: every backend stays as a fallback
    first[names(d).front()]++;
  }
  EXPECT_NEAR(first["a"] / double(kDraws), 0.1, 0.02);
  EXPECT_NEAR(first["b"] / double(kDraws), 0.3, 0.03);
  EXPECT_NEAR(first["c"] / double(kDraws), 0.6, 0.03);

  // The same seed gives the same sequence.
  Engine::seed_random(7);
  Names one = names(decide(r, false));
  Names two = names(decide(r, false));
  Engine::seed_random(7);
  EXPECT_EQ(names(decide(r, false)), one);
  EXPECT_EQ(names(decide(r, false)), two);
}

// -------------------------------------------------------------------------------------------------
// Unavailable backends, fallthrough and refusals

TEST_F(EngineTest, FullBackendIsExcludedAndTheNextRuleTried) {
  cfg.rule("home", {"local"});
  cfg.rule("away", {"cloud"});
  state.in_flight[kLocal] = 64;
  Request r(kAcme, "default");
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::route);
  EXPECT_EQ(d.rule, "away");
  EXPECT_EQ(names(d), (Names{"cloud"}));
  ASSERT_EQ(d.trace.size(), 2u);
  EXPECT_TRUE(d.trace[0].matched);
  ASSERT_EQ(d.trace[0].excluded.size(), 1u);
  EXPECT_EQ(d.trace[0].excluded[0].reason, "at capacity 64/64");
}

TEST_F(EngineTest, RejectStopsAtTheRuleWhenNothingIsAvailable) {
  cfg.rule("home", {"local"}).route.on_unavailable = config::OnUnavailable::reject;
  cfg.rule("away", {"cloud"});
  state.in_flight[kLocal] = 64;
  Request r(kAcme, "default");
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::unavailable);
  EXPECT_EQ(d.rule, "home");
  EXPECT_TRUE(d.backends.empty());
  EXPECT_EQ(d.trace.size(), 1u);
  EXPECT_EQ(d.message,
            "No eligible backend can take this request now (sensitivity public, tier standard); "
            "rule 'home' allows no other backend.");
}

TEST_F(EngineTest, ShedRuleAnswersShed) {
  config::VolumeCondition v;
  v.backend = "local";
  v.in_flight_above = 0.9;
  config::Policy& shed = cfg.rule("shed");
  shed.when.volume = v;
  shed.route.shed = true;
  cfg.rule("rest", {"local"});
  state.in_flight[kLocal] = 60;
  Request r(kAcme, "default");
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::shed);
  EXPECT_EQ(d.rule, "shed");
  EXPECT_TRUE(d.backends.empty());
}

TEST_F(EngineTest, ForbiddenWhenNoBackendAnywhereIsClearedNamingEntitiesNotValues) {
  ConfigBuilder only_cloud;
  only_cloud.closed("cloud", "frontier", "internal");
  only_cloud.model("default", {"cloud"});
  cfg = only_cloud;
  Request r(kAcme, "default");
  r.text(kEmailText);
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::forbidden);
  EXPECT_EQ(d.message,
            "Request classified confidential (detected: email x2); no backend is cleared for "
            "confidential data.");
  EXPECT_EQ(d.message.find("alice"), std::string::npos);
}

TEST_F(EngineTest, UnavailableWhenClearedBackendsAreBusy) {
  state.in_flight[kLocal] = 64;
  Request r(kAcme, "default");
  r.text(kEmailText);
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::unavailable);
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(excluded(d).at("local"), "at capacity 64/64");
  EXPECT_EQ(excluded(d).at("cloud"), "clearance internal < sensitivity confidential");
}

TEST_F(EngineTest, ForbiddenMessageNamesTheFloorOrHeaderWhenTheyDecide) {
  ConfigBuilder only_cloud;
  only_cloud.closed("cloud", "frontier", "internal");
  only_cloud.model("default", {"cloud"});
  only_cloud.tenant("payments", testing::kConfidential);
  cfg = only_cloud;
  Request r(0, "default");
  EXPECT_EQ(decide(r).message,
            "Request classified confidential (tenant floor); no backend is cleared for "
            "confidential data.");
  cfg.config().tenants[0].floor = testing::kPublic;
  rebuild();
  Request h(0, "default");
  h.facts.classification_header = "restricted";
  EXPECT_EQ(decide(h).message,
            "Request classified restricted (x-data-classification header); no backend is cleared "
            "for restricted data.");
}

TEST_F(EngineTest, ResearchOnlyWeightsNeverServeCommercialTenants) {
  config::Backend& weights = cfg.self_hosted("research-weights", "frontier", "restricted");
  weights.license_name = "research-only";
  weights.license_commercial = false;
  cfg.model("lab", {"research-weights", "local"});
  Request commercial(kAcme, "lab");
  Decision d = decide(commercial);
  EXPECT_EQ(names(d), (Names{"local"}));
  EXPECT_EQ(excluded(d).at("research-weights"), "license research-only and tenant use commercial");
  EXPECT_FALSE(engine().cleared(3, testing::kPublic, kAcme));
  EXPECT_TRUE(engine().cleared(3, testing::kPublic, kResearch));

  Request research(kResearch, "lab");
  EXPECT_EQ(names(decide(research)), (Names{"research-weights", "local"}));
}

TEST_F(EngineTest, EgressNoneTurnsEveryClosedBackendOff) {
  cfg.config().egress = config::Egress::none;
  Request r(kAcme, "default");
  Decision d = decide(r);
  EXPECT_EQ(names(d), (Names{"local"}));
  EXPECT_EQ(excluded(d).at("cloud"), "egress none: closed backend");

  Request frontier(kAcme, "frontier");  // cloud only: nothing may take even public data
  Decision f = decide(frontier);
  // local is cleared, but not among this alias's backends: the data may not go anywhere the
  // policy allows, which is a refusal (403), not a wait (503).
  EXPECT_EQ(f.outcome, Outcome::forbidden);
  EXPECT_NE(f.message.find("no backend its policy allows"), std::string::npos) << f.message;

  ConfigBuilder only_cloud;
  only_cloud.closed("cloud", "frontier", "internal");
  only_cloud.model("default", {"cloud"});
  only_cloud.config().egress = config::Egress::none;
  std::string error;
  auto e = Engine::build(only_cloud.build(), error);
  ASSERT_NE(e, nullptr) << error;
  Request r2(0, "default");
  Decision d2 = e->decide(r2.get(), state);
  EXPECT_EQ(d2.outcome, Outcome::forbidden);
  EXPECT_EQ(d2.message,
            "Request classified public; no backend is cleared for public data (license or "
            "egress restrictions).");
}

TEST_F(EngineTest, AllowLowerTierKeepsSmallerBackendsEligible) {
  cfg.rule("any-size", {"small", "local"}).route.allow_lower_tier = true;
  Request r(kAcme, "default");
  r.facts.tier_header = "frontier";
  EXPECT_EQ(names(decide(r)), (Names{"small", "local"}));

  cfg.config().policies[0].route.allow_lower_tier = false;
  rebuild();
  Decision d = decide(r);
  EXPECT_EQ(d.outcome, Outcome::unavailable);
  EXPECT_EQ(excluded(d).at("small"), "tier small < required frontier");
  EXPECT_EQ(excluded(d).at("local"), "tier standard < required frontier");
}

TEST_F(EngineTest, ExhaustedBudgetInSelfHostedOnlyModeExcludesClosedBackends) {
  config::Tenant& capped = cfg.tenant("capped");
  capped.budget.monthly_usd = 100;
  capped.budget.on_exhausted = config::BudgetAction::self_hosted_only;
  config::Tenant& strict = cfg.tenant("strict");
  strict.budget.monthly_usd = 100;
  cfg.rule("all", {"cloud", "local"});
  state.exhausted = true;

  Request r(3, "default");
  Decision d = decide(r);
  EXPECT_EQ(names(d), (Names{"local"}));
  EXPECT_EQ(excluded(d).at("cloud"), "budget exhausted: self-hosted only");

  // With on_exhausted: reject the engine routes as usual; admission refuses it (429).
  Request s(4, "default");
  EXPECT_EQ(names(decide(s)), (Names{"cloud", "local"}));
  state.exhausted = false;
  EXPECT_EQ(names(decide(r)), (Names{"cloud", "local"}));
}

TEST_F(EngineTest, InvalidTenantIndexFailsClosed) {
  Request r(99, "default");
  EXPECT_EQ(decide(r).outcome, Outcome::forbidden);
}

TEST_F(EngineTest, BuildRejectsUnknownNames) {
  cfg.rule("typo", {"lokal"});
  std::string error;
  EXPECT_EQ(Engine::build(cfg.build(), error), nullptr);
  EXPECT_EQ(error, "policies[0].route.to: unknown backend 'lokal'");
}

TEST_F(EngineTest, SharesADetectorOnlyWhenItWasCompiledForTheSameSettings) {
  std::shared_ptr<const Detector> detector = engine().shared_detector();
  std::string error;
  auto same = Engine::build(cfg.build(), detector, error);
  ASSERT_NE(same, nullptr) << error;
  EXPECT_EQ(&same->detector(), &engine().detector());

  cfg.config().sensitivity.entities[3].level = testing::kRestricted;  // email
  EXPECT_EQ(Engine::build(cfg.build(), detector, error), nullptr);
  EXPECT_EQ(error, "sensitivity: the detector was compiled for other settings");
}

// -------------------------------------------------------------------------------------------------
// Cost

TEST_F(EngineTest, ClosedCostBillsCachedInputAtTheCachedPrice) {
  // 600k uncached x 2.50 + 400k cached x 1.25 + 100k out x 10.00 per million = $3.00
  EXPECT_EQ(engine().cost(kCloud, 1'000'000, 100'000, 400'000), 3'000'000'000);
  EXPECT_EQ(engine().cost(kCloud, 1'000, 0), 2'500'000);
  EXPECT_EQ(engine().cost(kCloud, 1, 0), 2'500);           // 2.5 µ$, exact in nanos
  EXPECT_EQ(engine().cost(kCloud, 100, 0, 500), 125'000);  // cached cannot exceed input
}

TEST_F(EngineTest, UndeclaredCachedPriceBillsCachedTokensAsInput) {
  cfg.config().backends[kCloud].price.cached_input_per_mtok = 0;
  EXPECT_EQ(engine().cost(kCloud, 1'000'000, 0, 1'000'000), 2'500'000'000);
}

TEST_F(EngineTest, SelfHostedCostIsAmortizedGpuTime) {
  // $2.10 per hour at 1800 tokens/s: 2.10 / 3600 / 1800 = 0.000000324074 $ per token, held as
  // 324074 pico-dollars (rounded once).
  EXPECT_EQ(engine().cost(kLocal, 1'000'000, 1'000'000), 648'148'000);
  EXPECT_EQ(engine().cost(kLocal, 1, 0), 324);
  EXPECT_EQ(engine().cost(kLocal, 1, 1), 648);
  EXPECT_EQ(engine().cost(kSmall, 1'000'000, 1'000'000), 0);  // not priced
}

TEST_F(EngineTest, CostIsExactToTheNanoDollar) {
  config::Backend& embed = cfg.closed("embed", "standard", "internal");
  embed.price.input_per_mtok = 0.02;  // $0.02 per million: 20 nano-dollars per token
  config::Backend& dear = cfg.closed("dear", "frontier", "internal");
  dear.price.input_per_mtok = 15;
  dear.price.output_per_mtok = 75;
  dear.price.cached_input_per_mtok = 1.5;
  dear.price.cache_write_per_mtok = 18.75;
  config::Backend& fine = cfg.closed("fine", "standard", "internal");
  fine.price.input_per_mtok = 0.000001;  // a millionth of a dollar per million: 1 pico per token
  rebuild();
  const std::size_t kEmbed = 3;
  const std::size_t kDear = 4;
  const std::size_t kFine = 5;
  ASSERT_EQ(cfg.config().backends[kEmbed].name, "embed");
  EXPECT_EQ(engine().cost(kEmbed, 10, 0), 200);  // 0.2 micro-dollars, not 0 or 1
  EXPECT_EQ(engine().cost(kEmbed, 1, 0), 20);
  // 1000 prompt tokens of which 600 cached reads and 300 cache writes, 50 output tokens (20 of
  // them reasoning, billed as output): 100 x 15 + 600 x 1.5 + 300 x 18.75 + 50 x 75 per million.
  EXPECT_EQ(engine().cost(kDear, 1'000, 50, 600, 300), 1'500'000 + 900'000 + 5'625'000 + 3'750'000);
  // Cache writes without a declared price are billed at the input price.
  EXPECT_EQ(engine().cost(kCloud, 1'000, 0, 0, 1'000), 2'500'000);
  // Reads and writes beyond the prompt are clamped to it.
  EXPECT_EQ(engine().cost(kDear, 10, 0, 8, 8), 8 * 1'500 + 2 * 18'750);
  // Huge: 10^12 tokens at $75 per million is $75M, exact.
  EXPECT_EQ(engine().cost(kDear, 0, 1'000'000'000'000), 75'000'000'000'000'000);
  // Saturates instead of overflowing.
  EXPECT_EQ(engine().cost(kDear, 0, std::numeric_limits<std::uint64_t>::max()),
            std::numeric_limits<Nanos>::max());
  // Finer prices stay exact in the sum and round once: 499 pico is 0 nanos, 500 is 1.
  EXPECT_EQ(engine().cost(kFine, 499, 0), 0);
  EXPECT_EQ(engine().cost(kFine, 500, 0), 1);
  EXPECT_EQ(engine().cost(kFine, 1'000'000, 0), 1'000);
  // 80 requests of 57 prompt tokens at $2.50 per million cost $0.0114 in all: each is 142.5
  // micro-dollars, which whole micro-dollars counted as 143 ($0.01144 in all).
  Nanos sum = 0;
  for (int i = 0; i < 80; ++i) {
    sum += engine().cost(kCloud, 57, 0);
  }
  EXPECT_EQ(sum, 11'400'000);
  EXPECT_EQ(format_usd(sum), "0.011400000");
}

TEST_F(EngineTest, WorstCaseAndAffordableOutputAgree) {
  config::Backend& dear = cfg.closed("dear", "frontier", "internal");
  dear.price.input_per_mtok = 3;
  dear.price.output_per_mtok = 15;
  dear.price.cached_input_per_mtok = 0.3;
  dear.price.cache_write_per_mtok = 3.75;
  rebuild();
  const std::size_t kDear = 3;
  // Every prompt token at the dearest input price (the cache write's here).
  EXPECT_EQ(engine().worst_case_cost(kDear, 1'000, 100), 3'750'000 + 1'500'000);
  for (const Nanos amount : {Nanos{0}, Nanos{3'750'000}, Nanos{3'764'999}, Nanos{3'765'000},
                             Nanos{5'250'000}, Nanos{1'000'000'000}}) {
    const std::uint64_t n = engine().affordable_output(kDear, 1'000, amount);
    if (amount < 3'750'000) {
      EXPECT_EQ(n, 0u);
      continue;
    }
    EXPECT_LE(engine().worst_case_cost(kDear, 1'000, n), amount) << amount;
    EXPECT_GT(engine().worst_case_cost(kDear, 1'000, n + 1), amount) << amount;
  }
  EXPECT_EQ(engine().affordable_output(kDear, 1'000, 5'250'000), 100u);
  // Free output: anything is affordable once the input is.
  EXPECT_EQ(engine().affordable_output(kSmall, 1'000, 0),
            std::numeric_limits<std::uint64_t>::max());
}

TEST_F(EngineTest, DecisionEstimatesPromptPlusExpectedOutputOnTheFirstBackend) {
  cfg.rule("all", {"cloud", "local"});
  Request r(kAcme, "default");
  r.facts.estimated_prompt_tokens = 2'000;
  r.facts.max_tokens = 500;
  Decision d = decide(r);
  EXPECT_EQ(d.estimated_tokens, 2'500u);
  EXPECT_EQ(d.estimated_cost, 5'000'000 + 5'000'000);
  r.facts.max_tokens.reset();  // cost.default_output_tokens
  cfg.config().cost.default_output_tokens = 100;
  rebuild();
  Decision d2 = decide(r);
  EXPECT_EQ(d2.estimated_tokens, 2'100u);
  EXPECT_EQ(d2.estimated_cost, 5'000'000 + 1'000'000);
}

TEST_F(EngineTest, EveryAnswerAskedForCountsInTheExpectedOutput) {
  // `n` (and best_of) answers of max_tokens each: the estimate and the cost count every one.
  cfg.rule("all", {"cloud", "local"});
  Request r(kAcme, "default");
  r.facts.estimated_prompt_tokens = 2'000;
  r.facts.max_tokens = 500;
  r.facts.choices = 3;
  Decision d = decide(r);
  EXPECT_EQ(d.estimated_tokens, 3'500u);
  EXPECT_EQ(d.estimated_cost, 5'000'000 + 15'000'000);
  r.facts.choices = 0;  // read as one
  EXPECT_EQ(decide(r).estimated_tokens, 2'500u);
  r.facts.max_tokens = std::numeric_limits<std::uint64_t>::max() / 2;
  r.facts.choices = 4;  // saturates, never wraps
  EXPECT_EQ(decide(r).estimated_tokens, std::numeric_limits<std::uint64_t>::max());
}

TEST_F(EngineTest, ReferenceCostUsesTheSavingsReferenceOrTheFirstPricedClosedBackend) {
  ASSERT_TRUE(engine().reference_cost(1'000, 1'000).has_value());
  EXPECT_EQ(*engine().reference_cost(1'000, 1'000), 12'500'000);

  config::Backend& mini = cfg.closed("mini", "standard", "internal");
  mini.price.input_per_mtok = 1;
  mini.price.output_per_mtok = 1;
  cfg.config().cost.savings_reference = "mini";
  std::string error;
  auto e = Engine::build(cfg.build(), error);
  ASSERT_NE(e, nullptr) << error;
  EXPECT_EQ(*e->reference_cost(1'000, 1'000), 2'000'000);

  ConfigBuilder no_closed;
  no_closed.self_hosted("local", "standard", "restricted");
  auto none = Engine::build(no_closed.build(), error);
  ASSERT_NE(none, nullptr) << error;
  EXPECT_FALSE(none->reference_cost(1'000, 1'000).has_value());
}

// -------------------------------------------------------------------------------------------------
// explain

TEST_F(EngineTest, ExplainJsonShowsTheTraceAndNeverTheRequestText) {
  cfg.rule("frontier-work", {"cloud"}).when.tier = at_least(testing::kFrontier);
  cfg.rule("default", {"cloud", "local"});
  Request r(kAcme, "default");
  r.text("Summarize the thread for alice@contoso.com please");
  r.facts.estimated_prompt_tokens = 100;
  r.facts.max_tokens = 100;
  Decision d = decide(r);
  ASSERT_EQ(d.outcome, Outcome::route);
  const std::string text = engine().explain_json(d, r.get());
  EXPECT_EQ(text.find("alice"), std::string::npos) << text;
  EXPECT_EQ(text.find("contoso.com"), std::string::npos) << text;
  EXPECT_EQ(text.find("Summarize"), std::string::npos) << text;

  const boost::json::object j = boost::json::parse(text).as_object();
  EXPECT_EQ(j.at("outcome"), "route");
  EXPECT_EQ(j.at("rule"), "default");
  EXPECT_EQ(j.at("tenant"), "acme");
  EXPECT_EQ(j.at("model"), "default");
  const auto& sensitivity = j.at("sensitivity").as_object();
  EXPECT_EQ(sensitivity.at("level"), "confidential");
  EXPECT_EQ(sensitivity.at("floor"), "public");
  EXPECT_TRUE(sensitivity.at("header").is_null());
  EXPECT_EQ(sensitivity.at("why"), "detected confidential (email x1); tenant floor public");
  const auto& entities = sensitivity.at("entities").as_array();
  ASSERT_EQ(entities.size(), 1u);
  EXPECT_EQ(entities[0].at("type"), "email");
  EXPECT_EQ(entities[0].at("count"), 1);
  EXPECT_EQ(entities[0].at("level"), "confidential");
  EXPECT_EQ(j.at("tier").at("level"), "standard");
  EXPECT_EQ(j.at("tier").at("why"), "default");

  const auto& rules = j.at("rules").as_array();
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].at("name"), "frontier-work");
  EXPECT_EQ(rules[0].at("matched"), false);
  EXPECT_EQ(rules[0].at("failed"), "tier: standard is not >= frontier");
  EXPECT_EQ(rules[1].at("matched"), true);

  const auto& backends = j.at("backends").as_array();
  ASSERT_EQ(backends.size(), 1u);
  EXPECT_EQ(backends[0].at("name"), "local");
  EXPECT_EQ(backends[0].at("hosting"), "self-hosted");
  // Every backend not chosen has a reason: first those the matched rule excluded, then those it
  // never named.
  const auto& excluded_list = j.at("excluded").as_array();
  ASSERT_EQ(excluded_list.size(), 2u);
  EXPECT_EQ(excluded_list[0].at("name"), "cloud");
  EXPECT_EQ(excluded_list[0].at("reason"), "clearance internal < sensitivity confidential");
  EXPECT_EQ(excluded_list[0].at("rule"), "default");
  EXPECT_EQ(excluded_list[1].at("reason").as_string().subview().substr(0, 33),
            "not in the route of rule 'default");
  EXPECT_EQ(j.at("estimated_tokens"), 200);
  // 200 tokens x 324074 pico-dollars, rounded once (whole micro-dollars made it 0.000065).
  EXPECT_NEAR(j.at("estimated_cost_usd").to_number<double>(), 0.000064815, 1e-12);
  EXPECT_EQ(j.at("message"), "");
}

TEST_F(EngineTest, ExplainJsonForARefusal) {
  Request r(kAcme, "default");
  r.facts.classification_header = "confidential";
  state.in_flight[kLocal] = 64;
  Decision d = decide(r);
  const boost::json::object j = boost::json::parse(engine().explain_json(d, r.get())).as_object();
  EXPECT_EQ(j.at("outcome"), "unavailable");
  EXPECT_EQ(j.at("sensitivity").at("header"), "confidential");
  EXPECT_EQ(j.at("backends").as_array().size(), 0u);
  EXPECT_EQ(j.at("excluded").as_array().size(), 3u) << "every configured backend is accounted for";
  EXPECT_EQ(j.at("message").as_string(), d.message);
}

TEST_F(EngineTest, DecisionsWithoutExplainCarryNoTrace) {
  Request r(kAcme, "default");
  r.text(kEmailText);
  Decision d = decide(r, false);
  EXPECT_TRUE(d.trace.empty());
  EXPECT_TRUE(d.sensitivity_why.empty());
  EXPECT_EQ(names(d), (Names{"local"}));
}

}  // namespace
}  // namespace sb::policies
