// Replay support in the engine: recorded detections (RequestFacts::detected), the why facts every
// decide() fills, and the state a decision read written down (StateRecorder) and played back
// (RecordedState).

#include "policies/state_record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "policies/engine.h"
#include "tests/policies/config_builder.h"
#include "tests/policies/fake_state.h"

namespace sb::policies {
namespace {

using testing::ConfigBuilder;
using testing::FakeState;
using testing::Request;
using Kind = StateRead::Kind;

constexpr std::size_t kLocal = 0;
constexpr std::size_t kSmall = 1;
constexpr std::size_t kCloud = 2;
constexpr std::size_t kAcme = 0;
constexpr std::size_t kPayments = 1;

class StateRecordTest : public ::testing::Test {
 protected:
  StateRecordTest() {
    cfg.self_hosted("local", "standard", "restricted", 64);
    cfg.self_hosted("small", "small", "confidential");
    config::Backend& cloud = cfg.closed("cloud", "frontier", "internal");
    cloud.price.input_per_mtok = 2.50;
    cloud.price.output_per_mtok = 10.00;
    cfg.model("default", {"local", "cloud"});
    cfg.model("frontier", {"cloud"}, "frontier");
    cfg.tenant("acme");
    cfg.tenant("payments", testing::kConfidential);
  }

  const Engine& engine() {
    if (engine_ == nullptr) {
      std::string error;
      static const std::shared_ptr<const Detector> detector =
          Detector::compile(ConfigBuilder().config().sensitivity, error);
      engine_ = Engine::build(cfg.build(), detector, error);
      EXPECT_NE(engine_, nullptr) << error;
    }
    return *engine_;
  }

  std::uint16_t entity(std::string_view name) {
    const auto& names = engine().detector().entity_names();
    auto it = std::find(names.begin(), names.end(), name);
    EXPECT_NE(it, names.end()) << name;
    return static_cast<std::uint16_t>(it - names.begin());
  }

  static std::vector<StateRead> sorted(std::span<const StateRead> reads) {
    std::vector<StateRead> out(reads.begin(), reads.end());
    std::sort(out.begin(), out.end(), [](const StateRead& a, const StateRead& b) {
      return a.kind != b.kind ? a.kind < b.kind : a.index < b.index;
    });
    return out;
  }

  ConfigBuilder cfg;
  FakeState state;

 private:
  std::unique_ptr<const Engine> engine_;
};

bool same_read(const StateRead& r, Kind kind, std::size_t index, double value) {
  return r.kind == kind && r.index == index && r.value == value;
}

// -------------------------------------------------------------------------------------------------
// Recorded detections

TEST_F(StateRecordTest, RecordedDetectionDecidesAsTheScan) {
  cfg.rule("open", {"cloud"}).when.sensitivity = testing::at_most(testing::kInternal);
  cfg.rule("rest", {"local"});
  Request scanned(kAcme, "default");
  scanned.text("mail alice@contoso.com, card 4111 1111 1111 1111, host 10.1.2.3, bob@fabrikam.org");
  const Decision s = engine().decide(scanned.get(), state);
  ASSERT_EQ(s.detection.level, testing::kRestricted);

  const std::vector<EntityCount> counts(s.detection.entities.rbegin(),
                                        s.detection.entities.rend());  // any order
  Request recorded(kAcme, "default");
  recorded.facts.detected = &counts;
  recorded.text("nothing sensitive here");  // ignored when detected is set
  const Decision r = engine().decide(recorded.get(), state);
  EXPECT_EQ(r.outcome, s.outcome);
  EXPECT_EQ(r.rule, s.rule);
  EXPECT_EQ(r.backends, s.backends);
  EXPECT_EQ(r.sensitivity, s.sensitivity);
  EXPECT_EQ(r.detection.level, s.detection.level);
  ASSERT_EQ(r.detection.entities.size(), s.detection.entities.size());
  for (std::size_t i = 0; i < s.detection.entities.size(); ++i) {
    EXPECT_EQ(r.detection.entities[i].entity, s.detection.entities[i].entity);
    EXPECT_EQ(r.detection.entities[i].count, s.detection.entities[i].count);
  }
}

TEST_F(StateRecordTest, RecordedDetectionLevelIsTheHighestCountedEntity) {
  const std::vector<EntityCount> counts = {{entity("ip_address"), 2},
                                           {entity("email"), 1},
                                           {entity("credit_card"), 0},  // a zero count: ignored
                                           {60000, 3}};                 // not an entity: ignored
  Request r(kAcme, "default");
  r.facts.detected = &counts;
  const Decision d = engine().decide(r.get(), state);
  EXPECT_EQ(d.detection.level, testing::kConfidential);
  EXPECT_EQ(d.sensitivity, testing::kConfidential);
  ASSERT_EQ(d.detection.entities.size(), 2u);
  EXPECT_EQ(d.detection.entities[0].entity, entity("email"));  // highest level first

  const std::vector<EntityCount> none;
  r.facts.detected = &none;
  r.text("alice@contoso.com");  // not scanned
  const Decision n = engine().decide(r.get(), state);
  EXPECT_EQ(n.detection.level, -1);
  EXPECT_EQ(n.sensitivity, testing::kPublic);
}

TEST_F(StateRecordTest, RecordedEntitySwitchedOffCountsForNothing) {
  for (config::EntityLevel& e : cfg.config().sensitivity.entities) {
    if (e.entity == "email") {
      e.level = -1;
    }
  }
  std::string error;
  auto engine = Engine::build(cfg.build(), error);
  ASSERT_NE(engine, nullptr) << error;
  const auto& names = engine->detector().entity_names();
  const auto email =
      static_cast<std::uint16_t>(std::find(names.begin(), names.end(), "email") - names.begin());
  const std::vector<EntityCount> counts = {{email, 3}};
  Request r(kAcme, "default");
  r.facts.detected = &counts;
  const Decision d = engine->decide(r.get(), state);
  EXPECT_EQ(d.detection.level, -1);
  EXPECT_TRUE(d.detection.entities.empty());
}

// -------------------------------------------------------------------------------------------------
// Why facts

TEST_F(StateRecordTest, WhyFactsNameFloorHeaderAndUnscannable) {
  cfg.config().sensitivity.unscannable.kinds = config::kUnscannableImages;
  cfg.config().sensitivity.unscannable.level = testing::kInternal;
  Request plain(kAcme, "default");
  const Decision p = engine().decide(plain.get(), state);
  EXPECT_EQ(p.floor_level, testing::kPublic);
  EXPECT_EQ(p.header_level, -1);
  EXPECT_EQ(p.unscannable_level, -1);
  EXPECT_EQ(p.unscannable, 0u);

  Request labelled(kPayments, "default");
  labelled.facts.classification_header = "internal,restricted";
  labelled.facts.unscannable = config::kUnscannableImages | config::kUnscannableAudio;
  const Decision l = engine().decide(labelled.get(), state);
  EXPECT_EQ(l.floor_level, testing::kConfidential);
  EXPECT_EQ(l.header_level, testing::kRestricted);
  EXPECT_EQ(l.unscannable_level, testing::kInternal);
  EXPECT_EQ(l.unscannable, config::kUnscannableImages);  // audio is not counted by this config
  EXPECT_EQ(l.sensitivity, testing::kRestricted);

  Request unknown(kPayments, "no-such-model");  // refused before classification: floor only
  const Decision u = engine().decide(unknown.get(), state);
  EXPECT_EQ(u.outcome, Outcome::unknown_model);
  EXPECT_EQ(u.floor_level, testing::kConfidential);
  EXPECT_EQ(u.header_level, -1);
}

TEST_F(StateRecordTest, WhyFactsNameTheTierSource) {
  config::TierInference tools{testing::kFrontier, {}};
  tools.when.tools = true;
  config::TierInference deep{testing::kSmall, {}};
  deep.when.depth_above = 10;
  cfg.config().tiers.infer = {tools, deep};

  Request header(kAcme, "frontier");
  header.facts.tier_header = "small";
  const Decision h = engine().decide(header.get(), state);
  EXPECT_EQ(h.tier_source, TierSource::header);
  EXPECT_EQ(h.tier_rule, -1);

  Request alias(kAcme, "frontier");
  EXPECT_EQ(engine().decide(alias.get(), state).tier_source, TierSource::alias);

  Request inferred(kAcme, "default");
  inferred.facts.depth = 20;
  const Decision i = engine().decide(inferred.get(), state);
  EXPECT_EQ(i.tier_source, TierSource::inferred);
  EXPECT_EQ(i.tier_rule, 1);
  EXPECT_EQ(i.tier, testing::kSmall);

  Request plain(kAcme, "default");
  const Decision d = engine().decide(plain.get(), state);
  EXPECT_EQ(d.tier_source, TierSource::default_tier);
  EXPECT_EQ(d.tier_rule, -1);
  EXPECT_EQ(to_string(TierSource::inferred), "infer");
  EXPECT_EQ(to_string(TierSource::default_tier), "default");
}

// -------------------------------------------------------------------------------------------------
// StateRecorder

TEST_F(StateRecordTest, RecorderCapturesTheReadsOfAVolumeRule) {
  config::VolumeCondition v;
  v.backend = "cloud";
  v.rpm_above = 100;
  v.tpm_above = 50'000;
  cfg.rule("busy", {"local"}).when.volume = v;
  cfg.rule("rest", {"small"}).route.allow_lower_tier = true;
  state.rpm[kCloud] = 150;
  state.tpm[kCloud] = 60'000;
  StateRecorder rec(state);
  Request r(kAcme, "default");
  const Decision d = engine().decide(r.get(), rec);
  EXPECT_EQ(d.rule, "busy");
  // local has max_in_flight: its in-flight count is read when it is admitted.
  const auto reads = sorted(rec.reads());
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_TRUE(same_read(reads[0], Kind::in_flight, kLocal, 0));
  EXPECT_TRUE(same_read(reads[1], Kind::rpm, kCloud, 150));
  EXPECT_TRUE(same_read(reads[2], Kind::tpm, kCloud, 60'000));
}

TEST_F(StateRecordTest, RecorderCapturesABudgetRuleOnce) {
  cfg.rule("thrifty", {"small"}).when.budget =
      config::BudgetCondition{0.8, config::BudgetPeriod::monthly};
  cfg.config().policies.back().route.allow_lower_tier = true;
  cfg.rule("second", {"small"}).when.budget =
      config::BudgetCondition{0.9, config::BudgetPeriod::monthly};
  cfg.config().policies.back().route.allow_lower_tier = true;
  cfg.rule("rest", {"cloud"});
  state.monthly = 0.5;
  StateRecorder rec(state);
  Request r(kAcme, "default");
  EXPECT_EQ(engine().decide(r.get(), rec).rule, "rest");
  const auto reads = sorted(rec.reads());
  ASSERT_EQ(reads.size(), 1u);  // two rules, one read
  EXPECT_TRUE(same_read(reads[0], Kind::budget,
                        static_cast<std::size_t>(config::BudgetPeriod::monthly), 0.5));
}

TEST_F(StateRecordTest, RecorderCapturesAMaxInFlightBackendAndTheFirstValue) {
  cfg.rule("all", {"local", "small"}).route.allow_lower_tier = true;
  state.in_flight[kLocal] = 64;  // at capacity
  StateRecorder rec(state);
  Request r(kAcme, "default");
  const Decision d = engine().decide(r.get(), rec);
  ASSERT_EQ(d.backends, (std::vector<std::size_t>{kSmall}));
  state.in_flight[kLocal] = 1;
  (void)engine().decide(r.get(), rec);  // a second read keeps the first value
  ASSERT_EQ(rec.reads().size(), 1u);
  EXPECT_TRUE(same_read(rec.reads()[0], Kind::in_flight, kLocal, 64));
  rec.clear();
  EXPECT_TRUE(rec.reads().empty());
}

TEST_F(StateRecordTest, RecorderCapturesTheExhaustedRead) {
  config::Tenant& capped = cfg.tenant("capped");
  capped.budget.monthly_usd = 100;
  capped.budget.on_exhausted = config::BudgetAction::self_hosted_only;
  state.exhausted = true;
  StateRecorder rec(state);
  Request r(2, "default");
  const Decision d = engine().decide(r.get(), rec);
  EXPECT_EQ(d.backends, (std::vector<std::size_t>{kLocal}));
  const auto reads = sorted(rec.reads());
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_TRUE(same_read(reads[0], Kind::in_flight, kLocal, 0));
  EXPECT_TRUE(same_read(reads[1], Kind::exhausted, 0, 1));
}

// -------------------------------------------------------------------------------------------------
// RecordedState

TEST_F(StateRecordTest, RecordedStateRoundTripGivesTheSameDecision) {
  config::VolumeCondition v;
  v.backend = "local";
  v.in_flight_above = 0.5;
  cfg.rule("spill", {"cloud"}).when.volume = v;
  cfg.rule("thrifty", {"small"}).when.budget =
      config::BudgetCondition{0.8, config::BudgetPeriod::any};
  cfg.config().policies.back().route.allow_lower_tier = true;
  cfg.rule("rest", {"local", "cloud"});
  for (const auto& [in_flight, monthly] :
       std::vector<std::pair<int, double>>{{40, 0}, {10, 0.9}, {10, 0.1}, {64, 0.1}}) {
    state.in_flight[kLocal] = in_flight;
    state.monthly = monthly;
    StateRecorder rec(state);
    Request r(kAcme, "default");
    const Decision live = engine().decide(r.get(), rec);

    RecordedState recorded;
    for (const StateRead& read : rec.reads()) {
      recorded.set(read);
    }
    const Decision again = engine().decide(r.get(), recorded);
    EXPECT_EQ(again.rule, live.rule) << in_flight << " " << monthly;
    EXPECT_EQ(again.backends, live.backends) << in_flight << " " << monthly;
    EXPECT_EQ(again.outcome, live.outcome);
    EXPECT_EQ(recorded.unknown_reads(), 0u);
  }
}

TEST_F(StateRecordTest, RecordedStateAnswersZeroForUnrecordedFactsAndCountsThem) {
  RecordedState s;
  s.set_in_flight(kLocal, 7);
  s.set_rpm(kCloud, 12.5);
  s.set_tpm(kCloud, 900);
  s.set_budget(config::BudgetPeriod::daily, 0.25);
  s.set_exhausted(true);
  EXPECT_EQ(s.backend_in_flight(kLocal), 7);
  EXPECT_EQ(s.backend_rpm(kCloud), 12.5);
  EXPECT_EQ(s.backend_tpm(kCloud), 900);
  EXPECT_EQ(s.budget_fraction(kAcme, config::BudgetPeriod::daily), 0.25);
  EXPECT_TRUE(s.budget_exhausted(kAcme));
  EXPECT_EQ(s.unknown_reads(), 0u);

  EXPECT_EQ(s.backend_in_flight(kCloud), 0);
  EXPECT_EQ(s.backend_rpm(kLocal), 0);
  EXPECT_EQ(s.budget_fraction(kAcme, config::BudgetPeriod::monthly), 0);
  EXPECT_EQ(s.unknown_reads(), 3u);

  s.set_in_flight(kLocal, 9);  // the last value set wins
  EXPECT_EQ(s.backend_in_flight(kLocal), 9);
  s.clear();
  EXPECT_EQ(s.unknown_reads(), 0u);
  EXPECT_FALSE(s.budget_exhausted(kAcme));
  EXPECT_EQ(s.unknown_reads(), 1u);
}

// -------------------------------------------------------------------------------------------------
// Engine load (spill rules)

TEST_F(StateRecordTest, RecorderCapturesTheLoadASpillRuleRead) {
  config::Policy& p = cfg.rule("fill", {"local", "cloud"});
  p.route.strategy = config::Strategy::spill;
  cfg.rule("rest", {"local"});
  LoadSignals load;
  load.source = LoadSource::engine;
  load.waiting = 12;
  load.running = 30;
  load.kv_cache = 0.5;
  load.ttft_p50 = 0.25;
  load.age_ms = 400;
  load.endpoints = 2;
  load.fresh = 1;
  load.with_headroom = 0;
  state.load[kLocal] = load;
  state.in_flight[kLocal] = 3;
  StateRecorder rec(state);
  Request r(kAcme, "default");
  const Decision live = engine().decide(r.get(), rec);
  ASSERT_EQ(live.spill, SpillReason::queue);

  std::vector<StateRead> loads;
  for (const StateRead& read : rec.reads()) {
    if (read.kind >= kFirstLoadKind && read.kind <= kLastLoadKind) {
      loads.push_back(read);
    }
  }
  ASSERT_EQ(loads.size(), 9u);
  EXPECT_TRUE(same_read(loads[0], Kind::load_source, kLocal, 1));  // engine, first
  EXPECT_TRUE(same_read(loads[1], Kind::load_waiting, kLocal, 12));
  EXPECT_TRUE(same_read(loads[3], Kind::load_kv_cache, kLocal, 0.5));
  EXPECT_TRUE(same_read(loads[5], Kind::load_age_ms, kLocal, 400));
  EXPECT_TRUE(same_read(loads[8], Kind::load_with_headroom, kLocal, 0));

  // Played back, the same decision for the same reason.
  RecordedState recorded;
  for (const StateRead& read : rec.reads()) {
    recorded.set(read);
  }
  const Decision again = engine().decide(r.get(), recorded);
  EXPECT_EQ(again.backends, live.backends);
  EXPECT_EQ(again.spill, SpillReason::queue);
  EXPECT_EQ(recorded.unknown_reads(), 0u);
  const LoadSignals back = recorded.backend_load(kLocal);
  EXPECT_EQ(back.source, LoadSource::engine);
  EXPECT_EQ(back.waiting, 12);
  EXPECT_EQ(back.running, 30);
  EXPECT_EQ(back.kv_cache, 0.5);
  EXPECT_EQ(back.ttft_p50, 0.25);
  EXPECT_EQ(back.age_ms, 400);
  EXPECT_EQ(back.endpoints, 2u);
  EXPECT_EQ(back.fresh, 1u);
  EXPECT_EQ(back.with_headroom, 0u);
}

TEST_F(StateRecordTest, RecordedStateWithoutALoadFactAnswersNoneAndCountsIt) {
  RecordedState s;
  EXPECT_EQ(s.backend_load(kLocal).source, LoadSource::none);
  EXPECT_EQ(s.unknown_reads(), 1u);
  LoadSignals stale;
  stale.source = LoadSource::stale;
  stale.age_ms = 9'000;
  s.set_load(kLocal, stale);
  EXPECT_EQ(s.backend_load(kLocal).source, LoadSource::stale);
  EXPECT_EQ(s.backend_load(kLocal).age_ms, 9'000);
  EXPECT_EQ(s.unknown_reads(), 1u);
}

}  // namespace
}  // namespace sb::policies
