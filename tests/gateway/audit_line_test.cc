// The audit trail's decision and attempt bodies: valid JSON once closed, every fact a re-decision
// needs, and nothing of the request's content.

#include "gateway/pipeline/audit_line.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "policies/config.h"
#include "policies/engine.h"
#include "policies/load.h"
#include "policies/state.h"
#include "policies/state_record.h"

namespace sb::gateway {
namespace {

namespace json = boost::json;

constexpr const char* kConfig = R"(
backends:
  local: {provider: vllm, base_url: "http://127.0.0.1:1/v1", model: m, clearance: restricted,
          max_in_flight: 4}
  closed: {provider: openai, base_url: "https://api.openai.com/v1", api_key: k, model: gpt,
           clearance: internal, tier: frontier, price: {input_per_mtok: 2.5, output_per_mtok: 10}}
models:
  default: {candidates: [closed, local]}
tenants:
  team: {floor: internal, budget: {daily_usd: 10}}
auth: {anonymous_tenant: team}
policy_headers: [x-team]
policies:
  - {name: home, when: {sensitivity: {at_least: confidential}}, route: {to: [local]}}
  - {name: overflow, when: {volume: {backend: local, in_flight_above: 0.5}}, route: {to: [closed]}}
  - {name: default, route: {to: [closed, local]}}
)";

class AuditLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::LoadResult loaded = config::load_string(kConfig, "audit.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors.front().to_string();
    auto cfg = std::make_shared<const config::Config>(std::move(*loaded.config));
    std::string error;
    engine_ = policies::Engine::build(cfg, error);
    ASSERT_NE(engine_, nullptr) << error;
    state_ = std::make_unique<policies::MemoryState>(*cfg);
  }

  json::object decide_line(const std::string& text, std::string& body) {
    texts_ = {text};
    headers_ = {{"x-team", "payments"}};
    facts_.tenant = 0;
    facts_.model = "default";
    facts_.texts = texts_;
    facts_.estimated_prompt_tokens = 42;
    facts_.max_tokens = 100;
    facts_.tools = true;
    facts_.depth = 3;
    facts_.headers = headers_;
    policies::StateRecorder recorder(*state_);
    const policies::Decision d = engine_->decide(facts_, recorder);
    audit_line::DecisionFacts f;
    f.request_id = "req-1";
    f.endpoint = "chat";
    f.config_hash = hash_;
    f.model = facts_.model;
    f.facts = &facts_;
    f.reads = recorder.reads();
    body = audit_line::decision(*engine_, d, f);
    std::string line = body;
    audit_line::close_line(line);
    EXPECT_EQ(line.back(), '\n');
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    EXPECT_FALSE(ec) << line;
    return ec ? json::object() : v.as_object();
  }

  std::unique_ptr<const policies::Engine> engine_;
  std::unique_ptr<policies::MemoryState> state_;
  std::vector<std::string_view> texts_;
  std::vector<std::pair<std::string_view, std::string_view>> headers_;
  policies::RequestFacts facts_;
  const std::string hash_ = std::string(64, 'a');
};

TEST_F(AuditLineTest, DecisionRecordsWhatAReDecisionNeedsAndNoContent) {
  std::string body;
  const json::object line =
      decide_line("mail jane.doe@acme-payroll.io about the SECRET-launch-plan", body);
  EXPECT_EQ(body.find("jane.doe"), std::string::npos) << body;
  EXPECT_EQ(body.find("launch"), std::string::npos) << body;
  EXPECT_EQ(line.at("type").as_string(), "decision");
  EXPECT_EQ(line.at("v").as_int64(), 1);
  EXPECT_EQ(line.at("config").as_string(), std::string(64, 'a'));
  EXPECT_EQ(line.at("tenant").as_string(), "team");
  EXPECT_EQ(line.at("rule").as_string(), "home");
  EXPECT_EQ(line.at("sensitivity").as_string(), "confidential");
  const json::object& why = line.at("why").as_object();
  EXPECT_EQ(why.at("detected").as_string(), "confidential");
  EXPECT_EQ(why.at("entities").as_object().at("email").as_int64(), 1);
  EXPECT_EQ(why.at("floor").as_string(), "internal");
  EXPECT_EQ(why.at("tier_source").as_string(), "default");
  const json::object& features = line.at("features").as_object();
  EXPECT_EQ(features.at("prompt_tokens").as_int64(), 42);
  EXPECT_EQ(features.at("max_tokens").as_int64(), 100);
  EXPECT_TRUE(features.at("tools").as_bool());
  EXPECT_EQ(features.at("depth").as_int64(), 3);
  EXPECT_EQ(features.at("headers").as_object().at("x-team").as_string(), "payments");
  ASSERT_EQ(line.at("backends").as_array().size(), 1u);
  EXPECT_EQ(line.at("backends").as_array()[0].as_string(), "local");
}

TEST_F(AuditLineTest, AnswersAskedForAreRecordedWhenMoreThanOne) {
  std::string body;
  const json::object one = decide_line("hello there", body);
  EXPECT_FALSE(one.at("features").as_object().contains("choices")) << body;
  const std::int64_t one_estimate = one.at("estimated_tokens").as_int64();
  facts_.choices = 3;
  std::string three_body;
  const json::object three = decide_line("hello there", three_body);
  EXPECT_EQ(three.at("features").as_object().at("choices").as_int64(), 3);
  EXPECT_EQ(three.at("estimated_tokens").as_int64(), one_estimate + 200);  // 2 x max_tokens more
}

TEST_F(AuditLineTest, DecisionRecordsTheStateTheEngineRead) {
  state_->add_in_flight(0, 3);  // local: 3 of 4 in flight, above the overflow threshold
  std::string body;
  const json::object line = decide_line("hello there", body);
  EXPECT_EQ(line.at("rule").as_string(), "overflow");
  const json::object& state = line.at("state").as_object();
  EXPECT_EQ(state.at("in_flight").as_object().at("local").to_number<double>(), 3.0);
  EXPECT_TRUE(state.at("rpm").as_object().empty());
  EXPECT_EQ(line.at("backends").as_array()[0].as_string(), "closed");
  EXPECT_GT(line.at("estimated_cost_nanos").as_int64(), 0);
}

TEST_F(AuditLineTest, DecisionRecordsTheEngineLoadASpillRuleRead) {
  constexpr const char* kSpill = R"(
backends:
  local: {provider: vllm, base_url: "http://127.0.0.1:1/v1", model: m, clearance: restricted,
          max_in_flight: 4}
  closed: {provider: openai, base_url: "https://api.openai.com/v1", api_key: k, model: gpt}
models:
  default: {candidates: [local, closed]}
policies:
  - {name: fill, route: {to: [local, closed], strategy: spill}}
)";
  config::LoadResult loaded = config::load_string(kSpill, "audit.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front().to_string();
  auto cfg = std::make_shared<const config::Config>(std::move(*loaded.config));
  std::string error;
  engine_ = policies::Engine::build(cfg, error);
  ASSERT_NE(engine_, nullptr) << error;
  state_ = std::make_unique<policies::MemoryState>(*cfg);
  auto board = std::make_shared<policies::LoadBoard>(2);
  board->publish(0, 6, 10, 0.5, 0.25, policies::load_clock_ms());
  board->publish(1, 5, 10, 0.75, -1, policies::load_clock_ms());
  state_->attach_load(0, board);
  std::string body;
  const json::object line = decide_line("hello there", body);
  EXPECT_EQ(line.at("rule").as_string(), "fill");
  EXPECT_EQ(line.at("backends").as_array()[0].as_string(), "closed");  // queue 5 and 6 >= 4
  const json::object& load =
      line.at("state").as_object().at("load").as_object().at("local").as_object();
  EXPECT_EQ(load.at("source").as_string(), "engine");
  EXPECT_EQ(load.at("waiting").to_number<double>(), 11.0);
  EXPECT_EQ(load.at("running").to_number<double>(), 20.0);
  EXPECT_EQ(load.at("kv_cache").to_number<double>(), 0.5);
  EXPECT_EQ(load.at("ttft_p50").to_number<double>(), 0.25);
  EXPECT_EQ(load.at("endpoints").to_number<double>(), 2.0);
  EXPECT_EQ(load.at("fresh").to_number<double>(), 2.0);
  EXPECT_EQ(load.at("with_headroom").to_number<double>(), 0.0);
  EXPECT_GE(load.at("age_ms").to_number<double>(), 0.0);
}

TEST_F(AuditLineTest, DecisionWithoutLoadReadsHasNoLoadKey) {
  std::string body;
  const json::object line = decide_line("hello there", body);
  EXPECT_FALSE(line.at("state").as_object().contains("load")) << body;
}

TEST_F(AuditLineTest, AttemptRecordsBackendHostingUsageAndCost) {
  adapters::Usage u;
  u.input = 120;
  u.output = 30;
  u.cached_input = 100;
  audit_line::AttemptFacts f;
  f.request_id = "req-\"quoted\"";
  const std::string hash(64, 'b');
  f.config_hash = hash;
  f.tenant = "team";
  f.model = "default";
  f.sensitivity = "internal";
  f.n = 2;
  f.backend = 1;
  f.status = 200;
  f.result = "ok";
  f.stream = true;
  f.upstream_ms = 12.3456;
  f.usage = &u;
  f.cost_nanos = 123456;
  std::string line = audit_line::attempt(*engine_, f);
  audit_line::close_line(line);
  const json::object o = json::parse(line).as_object();
  EXPECT_EQ(o.at("request_id").as_string(), "req-\"quoted\"");
  EXPECT_EQ(o.at("backend").as_string(), "closed");
  EXPECT_EQ(o.at("hosting").as_string(), "closed");
  EXPECT_EQ(o.at("provider").as_string(), "openai");
  EXPECT_EQ(o.at("n").as_int64(), 2);
  EXPECT_EQ(o.at("usage").as_object().at("cached").as_int64(), 100);
  EXPECT_EQ(o.at("cost_nanos").as_int64(), 123456);
  EXPECT_DOUBLE_EQ(o.at("upstream_ms").to_number<double>(), 12.346);

  f.usage = nullptr;
  f.result = "connect_timeout";
  std::string failed = audit_line::attempt(*engine_, f);
  audit_line::close_line(failed);
  EXPECT_TRUE(json::parse(failed).as_object().at("usage").is_null());
}

}  // namespace
}  // namespace sb::gateway
