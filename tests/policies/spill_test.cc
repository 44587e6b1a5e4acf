// Capacity-aware routing in the engine: `when.load` on engine signals, and the `spill` strategy
// (headroom keeps traffic local; without it, clean traffic spills to closed backends and
// sensitive traffic stays local and may wait).

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <string>
#include <vector>

#include "policies/engine.h"
#include "tests/policies/config_builder.h"
#include "tests/policies/fake_state.h"

namespace sb::policies {
namespace {

using config::Strategy;
using testing::ConfigBuilder;
using testing::FakeState;
using testing::Request;

constexpr std::string_view kCardText = "card 4111 1111 1111 1111 expires soon";  // restricted

constexpr std::size_t kLocal = 0;
constexpr std::size_t kLocal2 = 1;
constexpr std::size_t kAcme = 0;

using Names = std::vector<std::string>;

LoadSignals engine_load(unsigned with_headroom, double waiting = 0, double kv_cache = 0.5) {
  LoadSignals s;
  s.source = LoadSource::engine;
  s.endpoints = 2;
  s.fresh = 2;
  s.with_headroom = with_headroom;
  s.waiting = waiting;
  s.running = 8;
  s.kv_cache = kv_cache;
  s.ttft_p50 = 0.2;
  s.age_ms = 300;
  return s;
}

LoadSignals stale_load() {
  LoadSignals s;
  s.source = LoadSource::stale;
  s.endpoints = 2;
  s.age_ms = 9'000;
  return s;
}

class SpillTest : public ::testing::Test {
 protected:
  SpillTest() {
    cfg.self_hosted("local", "standard", "restricted", 4);
    cfg.self_hosted("local2", "standard", "restricted", 4);
    cfg.closed("cloud", "standard", "internal");
    cfg.model("default", {"local", "cloud"});
    cfg.tenant("acme");
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

  Decision decide(std::string_view text = "hello there", bool explain = true) {
    Request r(kAcme, "default");
    r.text(text);
    return engine().decide(r.get(), state, explain);
  }

  Names names(const Decision& d) {
    Names out;
    for (std::size_t b : d.backends) {
      out.push_back(engine().config().backends[b].name);
    }
    return out;
  }

  /// `fill` (spill over `to`) then the catch-all `rest` (to cloud: a match there shows `fill`
  /// routed nothing).
  config::Policy& spill_rule(std::vector<std::string> to = {"local", "cloud"}) {
    config::Policy& p = cfg.rule("fill", std::move(to));
    p.route.strategy = Strategy::spill;
    p.route.queue.max = 7;
    cfg.rule("rest", {"cloud"});
    return cfg.config().policies.front();
  }

  const config::SpillQueue* queue_of_fill() {
    return &engine().config().policies.front().route.queue;
  }

  ConfigBuilder cfg;
  FakeState state;
  std::unique_ptr<const Engine> engine_;
};

// -------------------------------------------------------------------------------------------------
// when.load

class WhenLoadTest : public SpillTest {
 protected:
  config::LoadCondition& hot_rule() {
    cfg.rule("hot", {"cloud"}).when.load = config::LoadCondition{"local", 16, {}, {}};
    cfg.rule("rest", {"local"});
    return *cfg.config().policies.front().when.load;
  }
};

TEST_F(WhenLoadTest, HoldsWhenTheEngineQueueIsAboveTheThreshold) {
  hot_rule();
  state.load[kLocal] = engine_load(0, 20);
  Decision d = decide();
  EXPECT_EQ(d.rule, "hot");
  EXPECT_EQ(names(d), (Names{"cloud"}));

  state.load[kLocal] = engine_load(2, 10);
  d = decide();
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace.at(0).failed, "load: local queue 10 not above 16");
}

TEST_F(WhenLoadTest, EverySetThresholdMustHold) {
  config::LoadCondition& c = hot_rule();
  c.kv_cache_above = 0.9;
  c.ttft_p50_above = config::Duration(1'500);
  state.load[kLocal] = engine_load(0, 20, 0.95);
  state.load[kLocal].ttft_p50 = 2.0;
  EXPECT_EQ(decide().rule, "hot");

  state.load[kLocal].kv_cache = 0.5;
  Decision d = decide();
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace.at(0).failed, "load: local kv_cache 0.5 not above 0.9");

  state.load[kLocal].kv_cache = 0.95;
  state.load[kLocal].ttft_p50 = 1.0;
  d = decide();
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace.at(0).failed, "load: local ttft_p50 1 not above 1.5");
}

TEST_F(WhenLoadTest, FigureTheEngineDoesNotExportNeverHolds) {
  config::LoadCondition& c = hot_rule();
  c.queue_above.reset();
  c.kv_cache_above = 0;
  state.load[kLocal] = engine_load(0, 20, -1);
  Decision d = decide();
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace.at(0).failed, "load: local kv_cache unknown not above 0");
}

TEST_F(WhenLoadTest, StaleOrAbsentSignalsHoldNothing) {
  hot_rule();
  state.load[kLocal] = stale_load();
  state.load[kLocal].waiting = 100;  // whatever a stale reading says
  Decision d = decide();
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace.at(0).failed, "load: local signals stale");

  state.load[kLocal] = LoadSignals{};
  d = decide();
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.trace.at(0).failed, "load: local has no engine signals");
}

// -------------------------------------------------------------------------------------------------
// spill: clean traffic

TEST_F(SpillTest, LocalWithHeadroomComesFirst) {
  spill_rule();
  state.load[kLocal] = engine_load(1, 3);
  const Decision d = decide();
  EXPECT_EQ(d.outcome, Outcome::route);
  EXPECT_EQ(d.rule, "fill");
  EXPECT_EQ(names(d), (Names{"local", "cloud"}));
  EXPECT_EQ(d.spill, SpillReason::none);
  EXPECT_EQ(d.wait, nullptr);
  ASSERT_EQ(d.load.size(), 1u);
  EXPECT_EQ(d.load[0].backend, kLocal);
  EXPECT_TRUE(d.load[0].headroom);
  EXPECT_EQ(d.load[0].signals.waiting, 3);
}

TEST_F(SpillTest, CleanTrafficSpillsToClosedWhenTheQueueIsFull) {
  spill_rule();
  state.load[kLocal] = engine_load(0, 12, 0.5);
  const Decision d = decide();
  EXPECT_EQ(names(d), (Names{"cloud", "local"}));
  EXPECT_EQ(d.spill, SpillReason::queue);
  EXPECT_EQ(d.spill_from, kLocal);
  EXPECT_EQ(d.wait, nullptr);
  ASSERT_EQ(d.load.size(), 1u);
  EXPECT_FALSE(d.load[0].headroom);
}

TEST_F(SpillTest, CleanTrafficSpillsWhenTheKvCacheIsFull) {
  spill_rule();
  state.load[kLocal] = engine_load(0, 0, 0.97);
  const Decision d = decide();
  EXPECT_EQ(names(d), (Names{"cloud", "local"}));
  EXPECT_EQ(d.spill, SpillReason::kv_cache);
}

TEST_F(SpillTest, EngineHeadroomStillNeedsRoomBelowMaxInFlight) {
  spill_rule();
  state.load[kLocal] = engine_load(2, 0);
  state.in_flight[kLocal] = 4;  // max_in_flight 4
  const Decision d = decide();
  // At capacity with a closed backend left: excluded as any rule would, and the spill says why.
  EXPECT_EQ(names(d), (Names{"cloud"}));
  EXPECT_EQ(d.spill, SpillReason::in_flight);
  EXPECT_EQ(d.spill_from, kLocal);
  ASSERT_EQ(d.trace.at(0).excluded.size(), 1u);
  EXPECT_EQ(d.trace[0].excluded[0].reason, "at capacity 4/4");
}

TEST_F(SpillTest, WithoutSignalsTheGatewaysInFlightCountDecides) {
  cfg.config().backends[kLocal].load.headroom_in_flight = 0.5;  // headroom below 2 of 4
  spill_rule();
  state.in_flight[kLocal] = 1;
  EXPECT_EQ(names(decide()), (Names{"local", "cloud"}));
  state.in_flight[kLocal] = 2;
  const Decision d = decide();
  EXPECT_EQ(names(d), (Names{"cloud", "local"}));
  EXPECT_EQ(d.spill, SpillReason::in_flight);
  ASSERT_EQ(d.load.size(), 1u);
  EXPECT_EQ(d.load[0].signals.source, LoadSource::none);
  EXPECT_EQ(d.load[0].in_flight, 2);
}

TEST_F(SpillTest, WithoutMaxInFlightAndSignalsThereIsAlwaysHeadroom) {
  cfg.config().backends[kLocal].max_in_flight = 0;
  spill_rule();
  state.in_flight[kLocal] = 1'000;
  EXPECT_EQ(names(decide()), (Names{"local", "cloud"}));
}

TEST_F(SpillTest, StaleSignalsFollowOnStale) {
  cfg.config().backends[kLocal].load.headroom_in_flight = 0.5;  // headroom below 2 of 4
  spill_rule();
  state.load[kLocal] = stale_load();
  state.in_flight[kLocal] = 1;

  // in-flight (the default): judged as without signals; 1 < 0.5 x 4, 3 is not.
  EXPECT_EQ(names(decide()), (Names{"local", "cloud"}));
  state.in_flight[kLocal] = 3;
  Decision d = decide();
  EXPECT_EQ(names(d), (Names{"cloud", "local"}));
  EXPECT_EQ(d.spill, SpillReason::in_flight);

  cfg.config().backends[kLocal].load.on_stale = config::OnStale::full;
  engine_.reset();
  state.in_flight[kLocal] = 0;
  d = decide();
  EXPECT_EQ(names(d), (Names{"cloud", "local"}));
  EXPECT_EQ(d.spill, SpillReason::stale);

  cfg.config().backends[kLocal].load.on_stale = config::OnStale::idle;
  engine_.reset();
  state.in_flight[kLocal] = 3;
  d = decide();
  EXPECT_EQ(names(d), (Names{"local", "cloud"}));
  EXPECT_EQ(d.spill, SpillReason::none);
}

TEST_F(SpillTest, LocalsWithHeadroomGoFirstThenClosedThenTheRest) {
  spill_rule({"local", "local2", "cloud"});
  state.load[kLocal] = engine_load(0, 9);
  state.load[kLocal2] = engine_load(1, 1);
  const Decision d = decide();
  EXPECT_EQ(names(d), (Names{"local2", "cloud", "local"}));
  EXPECT_EQ(d.spill, SpillReason::none);
  ASSERT_EQ(d.load.size(), 2u);
  EXPECT_EQ(d.load[0].backend, kLocal);
  EXPECT_EQ(d.load[1].backend, kLocal2);
}

TEST_F(SpillTest, SpillFromNamesTheFirstLocal) {
  spill_rule({"local2", "local", "cloud"});
  state.load[kLocal] = engine_load(0, 0, 0.99);
  state.load[kLocal2] = engine_load(0, 9);
  const Decision d = decide();
  EXPECT_EQ(names(d), (Names{"cloud", "local2", "local"}));
  EXPECT_EQ(d.spill, SpillReason::queue);
  EXPECT_EQ(d.spill_from, kLocal2);
}

TEST_F(SpillTest, SpillRuleWithoutToUsesTheAliasCandidates) {
  spill_rule({});
  state.load[kLocal] = engine_load(0, 9);
  EXPECT_EQ(names(decide()), (Names{"cloud", "local"}));
}

// -------------------------------------------------------------------------------------------------
// spill: sensitive traffic and traffic with no closed backend

TEST_F(SpillTest, SensitiveRequestNeverSpillsUnderAnyLoadAndMayWait) {
  spill_rule();
  const std::vector<LoadSignals> loads = {LoadSignals{}, stale_load(), engine_load(0, 50, 0.99),
                                          engine_load(2, 0, 0.1)};
  for (config::OnStale on_stale :
       {config::OnStale::in_flight, config::OnStale::full, config::OnStale::idle}) {
    cfg.config().backends[kLocal].load.on_stale = on_stale;
    engine_.reset();
    for (const LoadSignals& load : loads) {
      for (std::int64_t in_flight = 0; in_flight <= 6; ++in_flight) {
        SCOPED_TRACE(std::string(to_string(load.source)) + " in_flight " +
                     std::to_string(in_flight) + " on_stale " +
                     std::to_string(static_cast<int>(on_stale)));
        state.load[kLocal] = load;
        state.in_flight[kLocal] = in_flight;
        const Decision d = decide(kCardText);
        EXPECT_EQ(d.outcome, Outcome::route);
        EXPECT_EQ(d.rule, "fill");
        // Kept local even at max_in_flight (4): the gateway's queue waits for room.
        EXPECT_EQ(names(d), (Names{"local"}));
        EXPECT_EQ(d.wait, queue_of_fill());
        EXPECT_EQ(d.spill, SpillReason::none);
        ASSERT_EQ(d.load.size(), 1u);
      }
    }
  }
}

TEST_F(SpillTest, SensitiveRequestPrefersTheLocalWithHeadroom) {
  spill_rule({"local", "local2", "cloud"});
  state.load[kLocal] = engine_load(0, 9);
  state.load[kLocal2] = engine_load(1, 0);
  state.in_flight[kLocal] = 4;
  const Decision d = decide(kCardText);
  EXPECT_EQ(names(d), (Names{"local2", "local"}));
  EXPECT_EQ(d.wait, queue_of_fill());
}

TEST_F(SpillTest, OtherStrategiesStillExcludeLocalsAtMaxInFlight) {
  cfg.rule("fill", {"local", "cloud"});  // ordered
  cfg.rule("rest", {"local"});
  state.in_flight[kLocal] = 4;
  const Decision d = decide(kCardText);
  EXPECT_EQ(d.outcome, Outcome::unavailable);
  EXPECT_EQ(d.wait, nullptr);
  EXPECT_TRUE(d.load.empty());
}

TEST_F(SpillTest, EgressNoneKeepsCleanTrafficLocalAndWaiting) {
  cfg.config().egress = config::Egress::none;
  spill_rule();
  cfg.config().policies.back().route.to = {"local"};  // `rest` must route somewhere cleared
  state.load[kLocal] = engine_load(0, 50);
  state.in_flight[kLocal] = 4;
  const Decision d = decide();
  EXPECT_EQ(d.rule, "fill");
  EXPECT_EQ(names(d), (Names{"local"}));
  EXPECT_EQ(d.wait, queue_of_fill());
  EXPECT_EQ(d.spill, SpillReason::none);
}

TEST_F(SpillTest, SpillFactsOfARuleThatRoutedNothingAreForgotten) {
  // `fill` has only a local backend below the request's tier: it routes nothing and `rest` does.
  cfg.config().backends[kLocal].tier = "small";
  spill_rule({"local"});
  Request r(kAcme, "default");
  r.text("hello");
  r.facts.tier_header = "standard";
  const Decision d = engine().decide(r.get(), state, true);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_EQ(d.wait, nullptr);
  EXPECT_TRUE(d.load.empty());
}

// -------------------------------------------------------------------------------------------------
// explain

TEST_F(SpillTest, ExplainShowsTheSignalsAndTheSpillReason) {
  spill_rule();
  state.load[kLocal] = engine_load(0, 12, 0.5);
  state.in_flight[kLocal] = 2;
  Request r(kAcme, "default");
  r.text("hello");
  const Decision d = engine().decide(r.get(), state, true);
  const boost::json::value v = boost::json::parse(engine().explain_json(d, r.get()));
  const boost::json::object& o = v.as_object();
  ASSERT_TRUE(o.contains("load")) << boost::json::serialize(v);
  const boost::json::object& local = o.at("load").as_array().at(0).as_object();
  EXPECT_EQ(local.at("name").as_string(), "local");
  EXPECT_EQ(local.at("source").as_string(), "engine");
  EXPECT_EQ(local.at("waiting").as_double(), 12);
  EXPECT_EQ(local.at("kv_cache").as_double(), 0.5);
  EXPECT_EQ(local.at("fresh").to_number<double>(), 2);
  EXPECT_EQ(local.at("endpoints").to_number<double>(), 2);
  EXPECT_EQ(local.at("age_ms").to_number<double>(), 300);
  EXPECT_EQ(local.at("in_flight").to_number<double>(), 2);
  EXPECT_EQ(local.at("max_in_flight").to_number<double>(), 4);
  EXPECT_EQ(local.at("headroom").as_bool(), false);
  const boost::json::object& spill = o.at("spill").as_object();
  EXPECT_EQ(spill.at("reason").as_string(), "queue");
  EXPECT_EQ(spill.at("from").as_string(), "local");
  EXPECT_TRUE(spill.at("wait").is_null());
}

TEST_F(SpillTest, ExplainOfOtherRulesHasNoLoad) {
  cfg.rule("rest", {"local", "cloud"});
  Request r(kAcme, "default");
  r.text("hello");
  const Decision d = engine().decide(r.get(), state, true);
  const boost::json::value v = boost::json::parse(engine().explain_json(d, r.get()));
  EXPECT_FALSE(v.as_object().contains("load"));
  EXPECT_FALSE(v.as_object().contains("spill"));
}

TEST(SpillReasonTest, Names) {
  EXPECT_EQ(to_string(SpillReason::none), "none");
  EXPECT_EQ(to_string(SpillReason::queue), "queue");
  EXPECT_EQ(to_string(SpillReason::kv_cache), "kv_cache");
  EXPECT_EQ(to_string(SpillReason::in_flight), "in_flight");
  EXPECT_EQ(to_string(SpillReason::stale), "stale");
}

}  // namespace
}  // namespace sb::policies
