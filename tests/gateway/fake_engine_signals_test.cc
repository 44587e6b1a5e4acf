// The fake engine (tests/support/fake_engine.h) and the gateway's reader of engine signals agree:
// its /metrics text reads as vLLM's signals with the model's live values, so the capacity bench
// and the spill tests drive the scraper through the same exposition a real vLLM serves.
#include <gtest/gtest.h>

#include <string>

#include "adapters/engine_signals.h"
#include "tests/support/fake_engine.h"

namespace sb::testing {
namespace {

using adapters::EngineMetrics;
using adapters::EngineReading;

EngineReading read_vllm(const std::string& text) {
  EngineReading r;
  std::string error;
  EXPECT_TRUE(adapters::read_engine_signals(EngineMetrics::vllm, text, r, error)) << error;
  return r;
}

EngineOptions engine() {
  EngineOptions o;
  o.model = "meta-llama/Llama-3.1-8B-Instruct";
  o.tokens_per_second = 100;
  o.prefill_tokens_per_second = 1000;
  o.max_batch = 2;
  o.kv_tokens = 1000;
  return o;
}

TEST(FakeEngineSignalsTest, IdleEngineReadsAsAnEmptyQueue) {
  EngineModel m(engine());
  const EngineReading r = read_vllm(m.metrics_text());
  EXPECT_EQ(r.waiting, 0.0);
  EXPECT_EQ(r.running, 0.0);
  EXPECT_EQ(r.kv_cache, 0.0);
  ASSERT_EQ(r.ttft.buckets.size(), vllm_ttft_buckets().size() + 1);
  EXPECT_EQ(r.ttft.buckets.back().second, 0.0);
}

TEST(FakeEngineSignalsTest, QueueBatchAndKvReadAsTheModelHoldsThem) {
  EngineModel m(engine());
  for (int i = 0; i < 5; ++i) {
    m.submit(0, 200, 10);
  }
  const EngineReading r = read_vllm(m.metrics_text());
  EXPECT_EQ(r.running, 2.0);
  EXPECT_EQ(r.waiting, 3.0);
  EXPECT_DOUBLE_EQ(*r.kv_cache, 0.4);
}

TEST(FakeEngineSignalsTest, TtftWindowQuantileFollowsTheQueueWait) {
  auto o = engine();
  o.max_batch = 1;
  EngineModel m(o);
  const EngineReading before = read_vllm(m.metrics_text());
  // Ten requests one after another: prefill 0.1 s, then 10 tokens at 100/s; the k-th waits for
  // the k before it, so time to first token grows from 0.1 s to about 1.9 s.
  for (int i = 0; i < 10; ++i) {
    m.submit(0, 100, 10);
  }
  m.advance(5);
  const EngineReading after = read_vllm(m.metrics_text());
  EXPECT_EQ(after.ttft.buckets.back().second, 10.0);
  const auto p50 = adapters::window_quantile(before.ttft, after.ttft, 0.5);
  ASSERT_TRUE(p50);
  EXPECT_GT(*p50, 0.5);
  EXPECT_LT(*p50, 2.5);
  // Nothing new between two readings: no quantile.
  EXPECT_FALSE(adapters::window_quantile(after.ttft, read_vllm(m.metrics_text()).ttft, 0.5));
}

}  // namespace
}  // namespace sb::testing
