// W3C traceparent parsing (an accept/reject table), formatting, id generation and the
// parent-based ratio sampler.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "gateway/observability/trace_context.h"

namespace sb::gateway::trace {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, ParsesAValidTraceparent) {
  const std::optional<TraceContext> c = parse_traceparent(kValid);
  ASSERT_TRUE(c);
  EXPECT_EQ(to_hex(c->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(c->span_id), "00f067aa0ba902b7");
  EXPECT_EQ(c->flags, 1);
  EXPECT_TRUE(c->sampled());
  EXPECT_EQ(format_traceparent(c->trace_id, c->span_id, c->flags), kValid);
}

TEST(TraceContextTest, AcceptRejectTable) {
  const struct {
    std::string_view value;
    bool valid;
    std::uint8_t flags = 0;
  } cases[] = {
      {kValid, true, 1},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true, 0},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", true, 0xff},  // unknown bits
      // A later version: its first four fields, and more only after a '-'.
      {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, 1},
      {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", true, 1},
      {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false},
      {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},   // forbidden version
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", false},  // 00: exact length
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", false},
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},  // upper case
      {"0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", false},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0F", false},
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},  // zero trace id
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},  // zero parent id
      {"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", false},  // field lengths
      {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},  // separators
      {"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", false},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", false},
      {"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false},  // bad hex
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", false},
      {" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", false},
      {"", false},
      {"00", false},
  };
  for (const auto& c : cases) {
    const std::optional<TraceContext> p = parse_traceparent(c.value);
    EXPECT_EQ(p.has_value(), c.valid) << c.value;
    if (p && c.valid) {
      EXPECT_EQ(p->flags, c.flags) << c.value;
    }
  }
}

TEST(TraceContextTest, TracestateIsKeptWhenBoundedAndPrintable) {
  EXPECT_TRUE(keep_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
  EXPECT_TRUE(keep_tracestate(std::string(kMaxTracestateBytes, 'a')));
  EXPECT_FALSE(keep_tracestate(std::string(kMaxTracestateBytes + 1, 'a')));
  EXPECT_FALSE(keep_tracestate(""));
  EXPECT_FALSE(keep_tracestate("a=b\r\nx: y"));
  EXPECT_FALSE(keep_tracestate("a=\x80"));
}

TEST(TraceContextTest, IdsAreRandomAndNeverZero) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const TraceId t = new_trace_id();
    const SpanId s = new_span_id();
    EXPECT_FALSE(is_zero(t));
    EXPECT_FALSE(is_zero(s));
    seen.insert(to_hex(t));
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TraceId with_low(std::uint64_t low) {
  TraceId id{};
  id[0] = 0xab;  // the high half never matters
  for (int i = 0; i < 8; ++i) {
    id[15 - i] = static_cast<std::uint8_t>(low >> (8 * i));
  }
  return id;
}

TEST(SamplerTest, RatioZeroAndOneForRoots) {
  const Sampler none(0.0), all(1.0);
  for (std::uint64_t low : {0ULL, 1ULL, 1ULL << 63, ~0ULL}) {
    EXPECT_FALSE(none.sample_root(with_low(low)));
    EXPECT_TRUE(all.sample_root(with_low(low)));
  }
  EXPECT_EQ(Sampler(-1).ratio(), 0.0);
  EXPECT_EQ(Sampler(7).ratio(), 1.0);
}

TEST(SamplerTest, RootsAreSampledByTheLowEightBytes) {
  const Sampler half(0.5);  // bound 2^63
  EXPECT_TRUE(half.sample_root(with_low(0)));
  EXPECT_TRUE(half.sample_root(with_low((1ULL << 63) - 1)));
  EXPECT_FALSE(half.sample_root(with_low(1ULL << 63)));
  EXPECT_FALSE(half.sample_root(with_low(~0ULL)));
  const Sampler quarter(0.25);  // bound 2^62
  EXPECT_TRUE(quarter.sample_root(with_low((1ULL << 62) - 1)));
  EXPECT_FALSE(quarter.sample_root(with_low(1ULL << 62)));
}

TEST(SamplerTest, AParentDecides) {
  TraceContext sampled{with_low(~0ULL), new_span_id(), kSampledFlag};
  TraceContext unsampled{with_low(0), new_span_id(), 0};
  EXPECT_TRUE(Sampler(0.0).should_sample(&sampled, sampled.trace_id));
  EXPECT_FALSE(Sampler(1.0).should_sample(&unsampled, unsampled.trace_id));
  EXPECT_TRUE(Sampler(0.5).should_sample(nullptr, with_low(0)));
  EXPECT_FALSE(Sampler(0.5).should_sample(nullptr, with_low(~0ULL)));
}

}  // namespace
}  // namespace sb::gateway::trace
