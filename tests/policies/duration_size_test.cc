#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "policies/config.h"

namespace sb::config {
namespace {

using namespace std::chrono_literals;

TEST(ParseDurationTest, AcceptsEveryUnit) {
  const std::vector<std::pair<std::string, Duration>> cases = {
      {"0ms", 0ms},           {"0s", 0ms},     {"1ms", 1ms},
      {"500ms", 500ms},       {"2s", 2s},      {"1.5s", 1500ms},
      {"0.25s", 250ms},       {"0.001s", 1ms}, {"5m", 5min},
      {"1.5m", 90s},          {"1h", 1h},      {"0.5h", 30min},
      {"24h", 24h},           {"007s", 7s},    {"1.500000000s", 1500ms},
      {"2562047h", 2562047h},  // the largest whole hour a nanosecond clock can hold
  };
  for (const auto& [text, expected] : cases) {
    std::optional<Duration> got = parse_duration(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, expected) << text;
  }
}

TEST(ParseDurationTest, RejectsAnythingElse) {
  const std::vector<std::string> cases = {
      "",
      "10",  // bare number: the unit is required
      "0",
      "s",
      "ms",
      "-1s",  // negative
      "+1s",
      " 1s",  // spaces
      "1s ",
      "2 s",
      "1S",  // units are lower-case
      "1sec",
      "1d",  // no days
      "1us",
      "1ns",
      "1h30m",  // one number, one unit
      "1s500ms",
      ".5s",  // digits on both sides of the point
      "1.s",
      "1.5.5s",
      "1,5s",
      "0.5ms",  // below the millisecond
      "1.0001s",
      "1.0000000001s",  // more than nine fraction digits
      "1e3ms",
      "0x10s",
      "inf",
      "nans",
      "2562048h",  // beyond what a nanosecond clock holds
      "9223372036854775807ms",
      "99999999999999999999s",  // beyond uint64
  };
  for (const std::string& text : cases) {
    EXPECT_FALSE(parse_duration(text).has_value()) << "'" << text << "'";
  }
}

TEST(ParseSizeTest, AcceptsPlainBytesAndBothUnitFamilies) {
  const std::vector<std::pair<std::string, std::uint64_t>> cases = {
      {"0", 0},
      {"512", 512},
      {"512B", 512},
      {"64KiB", 64ull << 10},
      {"4MiB", 4ull << 20},
      {"1GiB", 1ull << 30},
      {"2TiB", 2ull << 40},
      {"10KB", 10'000},
      {"10MB", 10'000'000},
      {"3GB", 3'000'000'000},
      {"1TB", 1'000'000'000'000},
      {"18446744073709551615", 18446744073709551615ull},
      {"16777215TiB", 16777215ull << 40},
  };
  for (const auto& [text, expected] : cases) {
    std::optional<std::uint64_t> got = parse_size(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, expected) << text;
  }
}

TEST(ParseSizeTest, RejectsAnythingElse) {
  const std::vector<std::string> cases = {
      "",
      "B",
      "KiB",
      "-1",  // negative
      "+1",
      "1.5MiB",  // integers only
      "0.5KB",
      "10 KB",  // spaces
      " 10",
      "10 ",
      "10kb",  // units are case-sensitive
      "10kib",
      "10K",
      "10Ki",
      "10M",
      "10Mb",
      "10PB",
      "1e6",
      "0x10",
      "18446744073709551616",  // overflow of the number itself
      "16777216TiB",           // overflow after the unit
      "18446744073709552KB",
  };
  for (const std::string& text : cases) {
    EXPECT_FALSE(parse_size(text).has_value()) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace sb::config
