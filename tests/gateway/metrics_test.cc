#include "gateway/observability/metrics.h"

#include <gtest/gtest.h>

namespace sb::metrics {
namespace {

TEST(MetricsRegistryTest, SameLabelsReturnTheSameCell) {
  Registry r;
  Counter& a = r.counter("x_total", "help", {{"k", "v"}});
  Counter& b = r.counter("x_total", "help", {{"k", "v"}});
  Counter& c = r.counter("x_total", "help", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
}

TEST(MetricsRegistryTest, SerializesCountersGaugesAndHistogramsInTextFormat) {
  Registry r;
  r.counter("sb_requests_total", "Requests.", {{"status", "200"}}).inc(3);
  r.gauge("sb_in_flight", "In flight.", {{"backend", "a"}}).add(2);
  Histogram& h = r.histogram("sb_latency_seconds", "Latency.", {}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = r.serialize();
  EXPECT_NE(text.find("# TYPE sb_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("sb_requests_total{status=\"200\"} 3"), std::string::npos);
  EXPECT_NE(text.find("sb_in_flight{backend=\"a\"} 2"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_bucket{le=\"0.1\"} 1"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_bucket{le=\"1\"} 2"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_count 3"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_sum 5.55"), std::string::npos);
}

TEST(MetricsRegistryTest, MoneyIsExportedAsExactDecimalDollars) {
  Registry r;
  r.counter("a_total", "Before.", {}).inc(1);
  Money& cost = r.money_counter("sb_cost_usd_total", "Cost \\ in \"USD\".", {{"tenant", "t\"1"}});
  for (int i = 0; i < 80; ++i) {
    cost.add(142'500);  // 142.5 micro-dollars
  }
  r.money_counter("sb_cost_usd_total", "Cost.", {{"tenant", "big"}}).add(9'000'000'000'000'000'001);
  r.money_gauge("sb_left_usd", "Left.", {}).set(-250'000'000);
  r.counter("z_total", "After.", {}).inc(2);
  const std::string text = r.serialize();
  EXPECT_NE(text.find("# TYPE sb_cost_usd_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sb_cost_usd_total{tenant=\"t\\\"1\"} 0.011400000\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sb_cost_usd_total{tenant=\"big\"} 9000000000.000000001\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE sb_left_usd gauge\nsb_left_usd -0.250000000\n"), std::string::npos)
      << text;
  // The families around them are still serialized, in name order.
  EXPECT_LT(text.find("a_total 1"), text.find("sb_cost_usd_total"));
  EXPECT_GT(text.find("z_total 2"), text.find("sb_left_usd"));
  EXPECT_THROW(r.double_counter("sb_cost_usd_total", "h", {{"tenant", "x"}}), std::logic_error);
}

TEST(MetricsRegistryTest, RejectsOneNameWithTwoTypes) {
  Registry r;
  r.counter("dup", "h", {});
  EXPECT_THROW(r.gauge("dup", "h", {}), std::logic_error);
}

}  // namespace
}  // namespace sb::metrics
