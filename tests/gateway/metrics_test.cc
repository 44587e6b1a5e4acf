#include "gateway/metrics.h"

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

TEST(MetricsRegistryTest, RejectsOneNameWithTwoTypes) {
  Registry r;
  r.counter("dup", "h", {});
  EXPECT_THROW(r.gauge("dup", "h", {}), std::logic_error);
}

}  // namespace
}  // namespace sb::metrics
