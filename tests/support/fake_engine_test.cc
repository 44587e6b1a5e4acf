// The fake engine's capacity model (queueing, KV admission, pacing, metrics text) with simulated
// time passed in, and its HTTP answers in vLLM's format.
#include "tests/support/fake_engine.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/http_test_client.h"

namespace sb::testing {
namespace {

EngineOptions small_engine() {
  EngineOptions o;
  o.model = "m";
  o.tokens_per_second = 100;
  o.stream_tokens_per_second = 100;
  o.prefill_tokens_per_second = 1000;
  o.max_batch = 2;
  o.kv_tokens = 1000;
  o.output_tokens = 10;
  return o;
}

/// The value of the one sample of `name` whose labels contain `labels`; -1 when absent.
double sample(const std::string& text, const std::string& name, const std::string& labels = "") {
  std::size_t at = 0;
  while ((at = text.find(name + "{", at)) != std::string::npos) {
    if (at != 0 && text[at - 1] != '\n') {
      ++at;
      continue;
    }
    auto end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    if (line.find(labels) != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
    at = end;
  }
  return -1;
}

TEST(EngineModelTest, BatchLimitQueuesTheRestInArrivalOrder) {
  EngineModel m(small_engine());
  auto a = m.submit(0, 10, 10);
  auto b = m.submit(0, 10, 10);
  auto c = m.submit(0, 10, 10);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(m.running(), 2u);
  EXPECT_EQ(m.waiting(), 1u);
  EXPECT_TRUE(m.progress(*a).running);
  EXPECT_FALSE(m.progress(*c).running);
  // Two decoding requests share 100 tokens/s: 10 tokens each take 0.2 s after a 0.01 s prefill.
  m.advance(0.15);
  EXPECT_FALSE(m.progress(*a).done);
  EXPECT_EQ(m.waiting(), 1u);
  m.advance(0.25);
  EXPECT_TRUE(m.progress(*a).done);
  EXPECT_TRUE(m.progress(*b).done);
  EXPECT_TRUE(m.progress(*c).running);
  EXPECT_EQ(m.waiting(), 0u);
}

TEST(EngineModelTest, TimeToFirstTokenIsQueueWaitPlusPrefill) {
  auto o = small_engine();
  o.max_batch = 1;
  EngineModel m(o);
  auto a = m.submit(0, 100, 5);  // prefill 0.1 s, then 5 tokens at 100/s: done at 0.15 s
  auto b = m.submit(0, 200, 5);  // waits for a, then prefill 0.2 s
  m.advance(1);
  ASSERT_TRUE(m.progress(*a).first_token);
  EXPECT_NEAR(m.progress(*a).ttft, 0.1, 0.011);
  EXPECT_NEAR(m.progress(*b).ttft, 0.15 + 0.2, 0.021);
}

TEST(EngineModelTest, HeadOfQueueWaitsForKvAndNobodyOvertakesIt) {
  EngineModel m(small_engine());
  auto big = m.submit(0, 700, 10);
  auto huge = m.submit(0, 400, 10);  // 700 + 400 > 1000: waits although the batch has a slot
  auto small = m.submit(0, 10, 10);  // would fit, but FIFO keeps it behind `huge`
  EXPECT_EQ(m.running(), 1u);
  EXPECT_EQ(m.waiting(), 2u);
  EXPECT_EQ(m.kv_used(), 700);
  EXPECT_FALSE(m.progress(*small).running);
  m.advance(0.5);  // big: 0.7 s of prefill, then 9 tokens more at 100/s
  EXPECT_FALSE(m.progress(*huge).running);
  m.advance(0.85);  // big done at about 0.79
  EXPECT_TRUE(m.progress(*big).done);
  EXPECT_TRUE(m.progress(*huge).running);
  EXPECT_TRUE(m.progress(*small).running);
}

TEST(EngineModelTest, RejectsAPromptLargerThanTheKvBudget) {
  EngineModel m(small_engine());
  EXPECT_FALSE(m.submit(0, 1001, 1));
  EXPECT_FALSE(m.submit(0, -1, 1));
  EXPECT_FALSE(m.submit(0, 1, -1));
  EXPECT_TRUE(m.submit(0, 1000, 1));
}

TEST(EngineModelTest, KvUsageCountsGeneratedTokensAndFreesOnFinish) {
  EngineModel m(small_engine());
  auto a = m.submit(0, 100, 10);
  EXPECT_DOUBLE_EQ(m.kv_usage(), 0.1);
  m.advance(0.15);  // 0.1 s prefill (first token), then about 5 tokens
  EXPECT_GT(m.kv_used(), 100);
  EXPECT_LT(m.kv_used(), 110);
  m.advance(1);
  EXPECT_TRUE(m.progress(*a).done);
  EXPECT_EQ(m.kv_used(), 0);
  m.forget(*a);
  EXPECT_FALSE(m.progress(*a).known);
}

TEST(EngineModelTest, ForgettingAWaitingRequestLetsTheNextIn) {
  auto o = small_engine();
  o.max_batch = 1;
  EngineModel m(o);
  auto a = m.submit(0, 10, 10);
  auto b = m.submit(0, 10, 10);
  auto c = m.submit(0, 10, 10);
  m.forget(*b);
  EXPECT_EQ(m.waiting(), 1u);
  m.forget(*a);
  EXPECT_TRUE(m.progress(*c).running);
}

TEST(EngineModelTest, OneRequestDecodesNoFasterThanItsStreamCeiling) {
  auto o = small_engine();
  o.tokens_per_second = 1000;
  o.stream_tokens_per_second = 50;
  EngineModel m(o);
  auto a = m.submit(0, 0, 100);
  m.advance(1);
  EXPECT_NEAR(static_cast<double>(m.progress(*a).generated), 50, 2);
}

TEST(EngineModelTest, MetricsTextReportsTheLiveState) {
  EngineModel m(small_engine());
  m.submit(0, 100, 10);
  m.submit(0, 100, 10);
  m.submit(0, 100, 10);
  std::string text = m.metrics_text();
  EXPECT_NE(text.find("# HELP vllm:num_requests_waiting "), std::string::npos);
  EXPECT_NE(text.find("# TYPE vllm:time_to_first_token_seconds histogram\n"), std::string::npos);
  EXPECT_EQ(sample(text, "vllm:num_requests_running", "model_name=\"m\""), 2);
  EXPECT_EQ(sample(text, "vllm:num_requests_waiting"), 1);
  EXPECT_DOUBLE_EQ(sample(text, "vllm:kv_cache_usage_perc"), 0.2);
  EXPECT_EQ(sample(text, "vllm:time_to_first_token_seconds_count"), 0);

  m.advance(0.2);  // both running requests are past their 0.1 s prefill
  text = m.metrics_text();
  EXPECT_EQ(sample(text, "vllm:time_to_first_token_seconds_count"), 2);
  EXPECT_EQ(sample(text, "vllm:time_to_first_token_seconds_bucket", "le=\"0.08\""), 0);
  EXPECT_EQ(sample(text, "vllm:time_to_first_token_seconds_bucket", "le=\"0.25\""), 2);
  EXPECT_EQ(sample(text, "vllm:time_to_first_token_seconds_bucket", "le=\"+Inf\""), 2);
  EXPECT_NEAR(sample(text, "vllm:time_to_first_token_seconds_sum"), 0.2, 0.02);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.001\","
                      "model_name=\"m\"} 0.0\n"),
            std::string::npos);
}

TEST(EngineModelTest, MetricsLabelEscapesTheModelName) {
  auto o = small_engine();
  o.model = "a\"b\\c";
  EngineModel m(o);
  EXPECT_NE(m.metrics_text().find("model_name=\"a\\\"b\\\\c\""), std::string::npos);
}

class FakeEngineTest : public ::testing::Test {
 protected:
  FakeEngineTest() {
    auto o = small_engine();
    o.tokens_per_second = 100000;
    o.stream_tokens_per_second = 100000;
    o.prefill_tokens_per_second = 1e6;
    o.output_tokens = 4;
    engine_ = std::make_unique<FakeEngine>(o);
  }
  client::Reply call(boost::beast::http::request<boost::beast::http::string_body> req) {
    client::Client c;
    EXPECT_FALSE(c.connect(engine_->port()));
    return c.request(std::move(req));
  }
  std::unique_ptr<FakeEngine> engine_;
};

TEST_F(FakeEngineTest, StreamsTokensThenUsageThenDone) {
  auto reply =
      call(client::post("/v1/chat/completions",
                        R"({"model":"m","stream":true,"stream_options":{"include_usage":true},)"
                        R"("messages":[{"role":"user","content":"one two three"}]})"));
  ASSERT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.header("content-type"), "text/event-stream; charset=utf-8");
  const std::string& b = reply.body;
  EXPECT_NE(b.find(R"("delta":{"role":"assistant","content":""})"), std::string::npos);
  EXPECT_NE(b.find(R"("delta":{"content":"Hello"})"), std::string::npos);
  EXPECT_NE(b.find(R"("finish_reason":"stop","stop_reason":null)"), std::string::npos);
  EXPECT_NE(b.find(R"("choices":[],"usage":{"prompt_tokens":6,"total_tokens":10,)"
                   R"("completion_tokens":4,)"),
            std::string::npos);
  EXPECT_TRUE(b.ends_with("data: [DONE]\n\n"));
}

TEST_F(FakeEngineTest, WholeAnswerStopsAtMaxTokens) {
  auto reply = call(
      client::post("/v1/chat/completions",
                   R"({"model":"m","max_tokens":2,"messages":[{"role":"user","content":"hi"}]})"));
  ASSERT_EQ(reply.status(), 200u);
  auto doc = reply.json_body();
  EXPECT_EQ(doc.at("choices").at(0).at("message").at("content"), "Hello token");
  EXPECT_EQ(doc.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(doc.at("usage").at("completion_tokens"), 2);
}

TEST_F(FakeEngineTest, RejectsBadRequestsAndUnknownModels) {
  EXPECT_EQ(call(client::post("/v1/chat/completions", "{not json")).status(), 400u);
  auto unknown = call(client::post("/v1/chat/completions",
                                   R"({"model":"x","messages":[{"role":"user","content":"a"}]})"));
  EXPECT_EQ(unknown.status(), 404u);
  EXPECT_EQ(unknown.json_body().at("type"), "NotFoundError");
  EXPECT_EQ(call(client::get("/nowhere")).status(), 404u);
}

TEST_F(FakeEngineTest, ServesHealthModelsAndMetrics) {
  EXPECT_EQ(call(client::get("/health")).status(), 200u);
  auto models = call(client::get("/v1/models"));
  EXPECT_EQ(models.json_body().at("data").at(0).at("id"), "m");
  auto metrics = call(client::get("/metrics"));
  EXPECT_EQ(sample(metrics.body, "vllm:num_requests_waiting"), 0);
}

}  // namespace
}  // namespace sb::testing
