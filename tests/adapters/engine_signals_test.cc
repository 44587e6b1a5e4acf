#include "adapters/engine_signals.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace sb::adapters {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// A golden exposition under tests/adapters/testdata/engine_metrics, byte for byte.
std::string golden(const std::string& name) {
  const std::string path = std::string(SB_ENGINE_METRICS_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open " + path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Read {
  bool ok = false;
  std::string error;
  EngineReading reading;
};

Read read(EngineMetrics kind, std::string_view text) {
  Read r;
  r.ok = read_engine_signals(kind, text, r.reading, r.error);
  return r;
}

std::string error_of(EngineMetrics kind, std::string_view text) {
  const Read r = read(kind, text);
  EXPECT_FALSE(r.ok) << text;
  EXPECT_FALSE(r.reading.waiting || r.reading.running || r.reading.kv_cache);
  EXPECT_TRUE(r.reading.ttft.empty());
  return r.error;
}

HistogramBuckets histogram(std::vector<std::pair<double, double>> buckets) {
  return HistogramBuckets{std::move(buckets)};
}

TEST(EngineSignalsTest, VllmV0ReadsGpuCacheUsageAndTtft) {
  const Read r = read(EngineMetrics::vllm, golden("vllm_v0.txt"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reading.waiting, 3);
  EXPECT_EQ(r.reading.running, 12);
  EXPECT_EQ(r.reading.kv_cache, 0.4375);
  const auto& b = r.reading.ttft.buckets;
  ASSERT_EQ(b.size(), 17u);
  EXPECT_EQ(b[0], std::make_pair(0.001, 0.0));
  EXPECT_EQ(b[3], std::make_pair(0.02, 4.0));
  EXPECT_EQ(b[11], std::make_pair(1.0, 538.0));
  EXPECT_EQ(b[15], std::make_pair(10.0, 548.0));
  EXPECT_EQ(b[16], std::make_pair(kInf, 548.0));
}

TEST(EngineSignalsTest, VllmV1SumsEnginesAndPrefersKvCacheUsagePerc) {
  const Read r = read(EngineMetrics::vllm, golden("vllm_v1.txt"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reading.waiting, 2);           // engine 0: 2, engine 1: 0
  EXPECT_EQ(r.reading.running, 16);          // 7 + 9
  EXPECT_EQ(r.reading.kv_cache, 0.7109375);  // the fuller engine
  const auto& b = r.reading.ttft.buckets;
  ASSERT_EQ(b.size(), 23u);
  EXPECT_EQ(b[5], std::make_pair(0.06, 21.0));
  EXPECT_EQ(b[7], std::make_pair(0.1, 435.0));
  EXPECT_EQ(b[8], std::make_pair(0.25, 1782.0));
  EXPECT_EQ(b[21], std::make_pair(2560.0, 2929.0));
  EXPECT_EQ(b[22], std::make_pair(kInf, 2929.0));
}

TEST(EngineSignalsTest, SglangReadsQueueRunningTokenUsageAndTtft) {
  const Read r = read(EngineMetrics::sglang, golden("sglang.txt"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reading.waiting, 6);
  EXPECT_EQ(r.reading.running, 24);
  EXPECT_EQ(r.reading.kv_cache, 0.83);
  const auto& b = r.reading.ttft.buckets;
  ASSERT_EQ(b.size(), 21u);
  EXPECT_EQ(b[8], std::make_pair(0.25, 9214.0));
  EXPECT_EQ(b[20], std::make_pair(kInf, 41962.0));
}

TEST(EngineSignalsTest, TgiHasQueueAndBatchButNoKvCacheNorTtft) {
  const Read r = read(EngineMetrics::tgi, golden("tgi.txt"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reading.waiting, 5);
  EXPECT_EQ(r.reading.running, 8);
  EXPECT_FALSE(r.reading.kv_cache);
  EXPECT_TRUE(r.reading.ttft.empty());  // tgi_request_queue_duration is not a TTFT
}

TEST(EngineSignalsTest, LlamacppOldBuildsExportKvCacheUsageRatio) {
  const Read r = read(EngineMetrics::llamacpp, golden("llamacpp_old.txt"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reading.waiting, 1);
  EXPECT_EQ(r.reading.running, 3);
  EXPECT_EQ(r.reading.kv_cache, 0.215332);
  EXPECT_TRUE(r.reading.ttft.empty());
}

TEST(EngineSignalsTest, LlamacppNewBuildsHaveNoKvCacheSignal) {
  const Read r = read(EngineMetrics::llamacpp, golden("llamacpp_new.txt"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reading.waiting, 2);
  EXPECT_EQ(r.reading.running, 4);
  EXPECT_FALSE(r.reading.kv_cache);
}

TEST(EngineSignalsTest, AnotherEnginesTextIsAnError) {
  EXPECT_EQ(error_of(EngineMetrics::sglang, golden("vllm_v1.txt")),
            "no sglang:num_queue_reqs or sglang:num_running_reqs sample: not a SGLang metrics "
            "endpoint");
  EXPECT_EQ(error_of(EngineMetrics::vllm, golden("tgi.txt")),
            "no vllm:num_requests_waiting or vllm:num_requests_running sample: not a vLLM "
            "metrics endpoint");
  EXPECT_FALSE(read(EngineMetrics::tgi, golden("llamacpp_new.txt")).ok);
  EXPECT_FALSE(read(EngineMetrics::llamacpp, golden("sglang.txt")).ok);
}

TEST(EngineSignalsTest, EmptyTextAndNoneAreErrors) {
  EXPECT_EQ(error_of(EngineMetrics::vllm, ""),
            "no vllm:num_requests_waiting or vllm:num_requests_running sample: not a vLLM "
            "metrics endpoint");
  EXPECT_EQ(error_of(EngineMetrics::none, "vllm:num_requests_waiting 1\n"),
            "engine metrics 'none' have no signals to read");
}

TEST(EngineSignalsTest, OneQueueSignalIsEnough) {
  const Read r = read(EngineMetrics::vllm, "vllm:num_requests_running{engine=\"0\"} 4\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.reading.waiting);
  EXPECT_EQ(r.reading.running, 4);
  EXPECT_FALSE(r.reading.kv_cache);
}

TEST(EngineSignalsTest, KvCacheUsagePercWinsOverTheDeprecatedName) {
  const Read both = read(EngineMetrics::vllm,
                         "vllm:gpu_cache_usage_perc 0.9\n"
                         "vllm:num_requests_waiting 0\n"
                         "vllm:kv_cache_usage_perc 0.25\n");
  ASSERT_TRUE(both.ok) << both.error;
  EXPECT_EQ(both.reading.kv_cache, 0.25);
}

TEST(EngineSignalsTest, MalformedTextFailsWithItsLine) {
  std::string text = golden("vllm_v0.txt");
  const std::size_t at = text.find("vllm:num_requests_waiting{");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 4, "vllm-");  // vllm-:num_requests_waiting{...
  const std::size_t line = 1 + std::count(text.begin(), text.begin() + at, '\n');
  EXPECT_EQ(error_of(EngineMetrics::vllm, text),
            "line " + std::to_string(line) + ": invalid character in metric name");
  EXPECT_EQ(error_of(EngineMetrics::vllm, "vllm:num_requests_waiting 1\r\n"),
            "line 1: carriage return (CRLF line ends are not accepted)");
}

TEST(EngineSignalsTest, SignalValuesAreChecked) {
  EXPECT_EQ(
      error_of(EngineMetrics::vllm, "vllm:num_requests_waiting 1\nvllm:kv_cache_usage_perc NaN\n"),
      "line 2: vllm:kv_cache_usage_perc is nan, not a fraction between 0 and 1");
  EXPECT_EQ(error_of(EngineMetrics::sglang, "sglang:num_queue_reqs 1\nsglang:token_usage 1.5\n"),
            "line 2: sglang:token_usage is 1.5, not a fraction between 0 and 1");
  EXPECT_EQ(error_of(EngineMetrics::tgi, "tgi_queue_size -1\n"),
            "line 1: tgi_queue_size is -1, not a count");
  EXPECT_EQ(error_of(EngineMetrics::llamacpp, "llamacpp:requests_deferred +Inf\n"),
            "line 1: llamacpp:requests_deferred is inf, not a count");
  EXPECT_FALSE(read(EngineMetrics::vllm, "vllm:num_requests_running NaN\n").ok);
  EXPECT_EQ(error_of(EngineMetrics::vllm,
                     "vllm:num_requests_waiting{engine=\"0\"} 1e308\n"
                     "vllm:num_requests_waiting{engine=\"1\"} 1e308\n"),
            "line 2: vllm:num_requests_waiting summed over its label sets is not finite");
}

TEST(EngineSignalsTest, TtftHistogramMustBeWellFormed) {
  const std::string head = "vllm:num_requests_waiting 0\n";
  const std::string b = "vllm:time_to_first_token_seconds_bucket";
  EXPECT_EQ(error_of(EngineMetrics::vllm, head + b + "{le=\"0.1\"} 1\n" + b + "{le=\"1\"} 2\n"),
            "vllm:time_to_first_token_seconds has no le=\"+Inf\" bucket");
  EXPECT_EQ(error_of(EngineMetrics::vllm, head + b + "{engine=\"0\"} 1\n"),
            "line 2: vllm:time_to_first_token_seconds_bucket has no le label");
  EXPECT_EQ(error_of(EngineMetrics::vllm, head + b + "{le=\"fast\"} 1\n"),
            "line 2: vllm:time_to_first_token_seconds_bucket has an invalid le label");
  EXPECT_EQ(error_of(EngineMetrics::vllm, head + b + "{le=\"NaN\"} 1\n"),
            "line 2: vllm:time_to_first_token_seconds_bucket has an invalid le label");
  EXPECT_EQ(error_of(EngineMetrics::vllm, head + b + "{le=\"0.1\"} -1\n"),
            "line 2: vllm:time_to_first_token_seconds_bucket is -1, not a count");
  EXPECT_EQ(error_of(EngineMetrics::vllm, head + b + "{le=\"+Inf\"} 3\n" + b + "{le=\"0.5\"} 5\n"),
            "vllm:time_to_first_token_seconds bucket counts are not cumulative (le=inf holds "
            "fewer than the bucket below)");
  // _sum, _count and _created samples are not buckets.
  const Read ok = read(EngineMetrics::vllm, head + b + "{le=\"+Inf\"} 3\n" +
                                                "vllm:time_to_first_token_seconds_count 3\n" +
                                                "vllm:time_to_first_token_seconds_sum 1.5\n");
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.reading.ttft.buckets, (std::vector<std::pair<double, double>>{{kInf, 3}}));
}

TEST(EngineSignalsTest, OverTheParserLimitsIsAnError) {
  std::string big = "vllm:num_requests_waiting 1\n";
  big += std::string(4 * 1024 * 1024, '\n');
  EXPECT_EQ(error_of(EngineMetrics::vllm, big), "text is 4194332 bytes, over the limit of 4194304");
}

TEST(EngineSignalsTest, NamesRoundTrip) {
  for (EngineMetrics kind : {EngineMetrics::none, EngineMetrics::vllm, EngineMetrics::sglang,
                             EngineMetrics::tgi, EngineMetrics::llamacpp}) {
    EXPECT_EQ(engine_metrics_from_name(to_string(kind)), kind);
  }
  EXPECT_EQ(to_string(EngineMetrics::llamacpp), "llamacpp");
  EXPECT_FALSE(engine_metrics_from_name("VLLM"));
  EXPECT_FALSE(engine_metrics_from_name("llama.cpp"));
  EXPECT_FALSE(engine_metrics_from_name(""));
}

// ---- window_quantile ----

const HistogramBuckets kZero = histogram({{0.1, 0}, {0.5, 0}, {1, 0}, {kInf, 0}});
const HistogramBuckets kForty = histogram({{0.1, 10}, {0.5, 30}, {1, 40}, {kInf, 40}});

TEST(WindowQuantileTest, InterpolatesInsideTheBucketHoldingTheRank) {
  // rank 20 of 40 falls in (0.1, 0.5], 10 of its 20 observations in.
  EXPECT_DOUBLE_EQ(*window_quantile(kZero, kForty, 0.5), 0.3);
  // rank 4 falls in the first bucket, whose lower bound is 0.
  EXPECT_DOUBLE_EQ(*window_quantile(kZero, kForty, 0.1), 0.04);
  // rank 36 falls in (0.5, 1].
  EXPECT_DOUBLE_EQ(*window_quantile(kZero, kForty, 0.9), 0.8);
}

TEST(WindowQuantileTest, CountsOnlyWhatWasObservedBetweenTheReadings) {
  const HistogramBuckets earlier = histogram({{0.1, 5}, {0.5, 5}, {1, 5}, {kInf, 5}});
  const HistogramBuckets later = histogram({{0.1, 5}, {0.5, 15}, {1, 25}, {kInf, 25}});
  // The window holds 0 + 10 + 10 observations: the median is the top of (0.1, 0.5].
  EXPECT_DOUBLE_EQ(*window_quantile(earlier, later, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(*window_quantile(earlier, later, 0.75), 0.75);
}

TEST(WindowQuantileTest, ARestartUsesTheLaterReadingAlone) {
  const HistogramBuckets before = histogram({{0.1, 100}, {0.5, 200}, {1, 300}, {kInf, 300}});
  EXPECT_DOUBLE_EQ(*window_quantile(before, kForty, 0.5), 0.3);
}

TEST(WindowQuantileTest, NothingObservedIsNoAnswer) {
  EXPECT_FALSE(window_quantile(kForty, kForty, 0.5));
  EXPECT_FALSE(window_quantile(kZero, kZero, 0.5));
}

TEST(WindowQuantileTest, RankInTheInfBucketAnswersTheHighestFiniteBound) {
  const HistogramBuckets slow = histogram({{0.1, 0}, {0.5, 0}, {1, 0}, {kInf, 10}});
  EXPECT_DOUBLE_EQ(*window_quantile(kZero, slow, 0.5), 1.0);
  const HistogramBuckets tail = histogram({{0.1, 1}, {0.5, 2}, {1, 3}, {kInf, 10}});
  EXPECT_DOUBLE_EQ(*window_quantile(kZero, tail, 0.9), 1.0);
}

TEST(WindowQuantileTest, NoAnswerForOtherBoundsEmptyReadingsOrABadQuantile) {
  const HistogramBuckets other = histogram({{0.2, 10}, {0.5, 30}, {1, 40}, {kInf, 40}});
  EXPECT_FALSE(window_quantile(kZero, other, 0.5));
  EXPECT_FALSE(window_quantile(HistogramBuckets{}, kForty, 0.5));
  EXPECT_FALSE(window_quantile(kZero, HistogramBuckets{}, 0.5));
  EXPECT_FALSE(window_quantile(HistogramBuckets{}, HistogramBuckets{}, 0.5));
  const HistogramBuckets inf_only = histogram({{kInf, 0}});
  EXPECT_FALSE(window_quantile(inf_only, histogram({{kInf, 9}}), 0.5));
  const HistogramBuckets no_inf = histogram({{0.1, 10}, {1, 20}});
  EXPECT_FALSE(window_quantile(histogram({{0.1, 0}, {1, 0}}), no_inf, 0.5));
  for (double q : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    EXPECT_FALSE(window_quantile(kZero, kForty, q)) << q;
  }
}

TEST(WindowQuantileTest, NonPositiveFirstBoundAnswersThatBound) {
  const HistogramBuckets zero = histogram({{-1, 0}, {0, 0}, {1, 0}, {kInf, 0}});
  const HistogramBuckets later = histogram({{-1, 8}, {0, 9}, {1, 10}, {kInf, 10}});
  EXPECT_DOUBLE_EQ(*window_quantile(zero, later, 0.5), -1);
}

TEST(WindowQuantileTest, GoldenVllmV1MedianSinceStart) {
  const Read r = read(EngineMetrics::vllm, golden("vllm_v1.txt"));
  ASSERT_TRUE(r.ok) << r.error;
  HistogramBuckets start = r.reading.ttft;
  for (auto& bucket : start.buckets) {
    bucket.second = 0;
  }
  // 2929 observations: rank 1464.5 lies in (0.1, 0.25], which holds 1782 - 435 of them.
  const double expected = 0.1 + (0.25 - 0.1) * ((1464.5 - 435) / (1782 - 435));
  EXPECT_DOUBLE_EQ(*window_quantile(start, r.reading.ttft, 0.5), expected);
}

}  // namespace
}  // namespace sb::adapters
