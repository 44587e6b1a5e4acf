// IPv6 addresses are found by a search of their colons (rules::ip_v6_all), not by Hyperscan
// expressions. The search must find exactly what the two expressions it replaced found: every
// report of `::(?:[^:]|$)` and of `[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}`, each checked by
// rules::ip_v6 from where it ended. Those reports are computed here the plain way and compared
// on generated texts dense in colons, hex digits and dots.

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "policies/cpu.h"
#include "policies/detector_rules_internal.h"

namespace sb::policies::rules {
namespace {

bool hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Whether `[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}` has a match ending at `e`.
bool eight_groups_end_at(std::string_view buf, std::size_t e) {
  std::size_t at = e;
  for (int group = 0; group < 7; ++group) {
    std::size_t digits = 0;
    while (digits < 4 && at > 0 && hex(buf[at - 1])) {
      --at;
      ++digits;
    }
    // The group is all that lies between two colons (a longer run cannot be a group).
    if (digits == 0 || at == 0 || buf[at - 1] != ':') {
      return false;
    }
    --at;
  }
  return at > 0 && hex(buf[at - 1]);
}

// What the two expressions reported, checked: the spans of the addresses, sorted and unique.
std::vector<std::pair<std::size_t, std::size_t>> by_expressions(std::string_view buf) {
  std::vector<std::size_t> ends;
  for (std::size_t p = 0; p + 1 < buf.size(); ++p) {
    if (buf[p] == ':' && buf[p + 1] == ':') {
      if (p + 2 == buf.size()) {
        ends.push_back(p + 2);
      } else if (buf[p + 2] != ':') {
        ends.push_back(p + 3);
      }
    }
  }
  for (std::size_t e = 1; e <= buf.size(); ++e) {
    if (eight_groups_end_at(buf, e)) {
      ends.push_back(e);
    }
  }
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (std::size_t e : ends) {
    Span s;
    if (ip_v6(buf, e, s)) {
      spans.emplace_back(s.begin, s.end);
    }
  }
  std::sort(spans.begin(), spans.end());
  spans.erase(std::unique(spans.begin(), spans.end()), spans.end());
  return spans;
}

using Finder = void (*)(std::string_view, std::vector<Span>&);

std::vector<std::pair<std::size_t, std::size_t>> by_search(std::string_view buf,
                                                           Finder find = ip_v6_all) {
  std::vector<Span> found;
  find(buf, found);
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (const Span& s : found) {
    spans.emplace_back(s.begin, s.end);
  }
  std::sort(spans.begin(), spans.end());
  spans.erase(std::unique(spans.begin(), spans.end()), spans.end());
  return spans;
}

// Groups of 0-6 characters (mostly hex) joined by `:`, `::`, `:::` or `.`, between words and
// spaces: addresses, near misses and source-code paths (`std::string`).
std::string generated(std::mt19937& rng) {
  static constexpr std::string_view kHex = "0123456789abcdefABCDEF";
  static constexpr std::string_view kOther = " \n_gxz.-/[]";
  std::string out;
  const int pieces = std::uniform_int_distribution<int>(0, 14)(rng);
  for (int i = 0; i < pieces; ++i) {
    const int len = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int k = 0; k < len; ++k) {
      const bool other = std::uniform_int_distribution<int>(0, 19)(rng) == 0;
      const std::string_view from = other ? kOther : kHex;
      out += from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
    }
    switch (std::uniform_int_distribution<int>(0, 11)(rng)) {
      case 0:
        out += "::";
        break;
      case 1:
        out += ".";
        break;
      case 2:
        out += ' ';
        break;
      case 3:
        out += ":::";
        break;
      default:
        out += ':';
    }
  }
  return out;
}

TEST(DetectorIpv6Test, TheSearchFindsWhatTheExpressionsFound) {
  std::mt19937 rng(20261205);
  std::size_t with_addresses = 0;
  for (int i = 0; i < 300000; ++i) {
    const std::string text = generated(rng);
    const auto expected = by_expressions(text);
    ASSERT_EQ(by_search(text), expected) << "text: " << text;
    with_addresses += expected.empty() ? 0 : 1;
  }
  // The generator must reach real addresses, or the comparison proves nothing.
  EXPECT_GT(with_addresses, 3000u);
}

// The search takes the colons of 64-byte blocks at once (SSE2, or AVX2 where the CPU has it),
// then the last bytes one by one: texts of up to a kilobyte, their runs across every block
// boundary, give each way the answers of the expressions.
TEST(DetectorIpv6Test, EachWayFindsWhatTheExpressionsFoundAcrossBlocks) {
  std::vector<Finder> ways = {ip_v6_all_sse2};
  if (cpu::has_avx2()) {
    ways.push_back(ip_v6_all_avx2);
  }
  std::mt19937 rng(1205);
  std::size_t with_addresses = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int parts = std::uniform_int_distribution<int>(1, 12)(rng);
    for (int k = 0; k < parts; ++k) {
      text += generated(rng);
      // Prose between them now and then, so that blocks without a colon are passed over too.
      text += std::string(std::uniform_int_distribution<std::size_t>(0, 2)(rng) == 0 ? 70 : 0, 'w');
    }
    const auto expected = by_expressions(text);
    for (const Finder way : ways) {
      ASSERT_EQ(by_search(text, way), expected) << "text: " << text;
    }
    with_addresses += expected.empty() ? 0 : 1;
  }
  EXPECT_GT(with_addresses, 2000u);
  // An address at every offset, before every length of the last bytes: its colons at the end of a
  // block, at the start of the last bytes, across the two.
  for (std::size_t at = 0; at < 200; ++at) {
    for (std::size_t after = 0; after < 70; after += 3) {
      const std::string text = std::string(at, ' ') + "::1 " + std::string(after, ' ');
      for (const Finder way : ways) {
        ASSERT_EQ(by_search(text, way).size(), 1u) << at << " " << after;
      }
    }
  }
}

TEST(DetectorIpv6Test, AddressesAndNearMisses) {
  const std::vector<std::tuple<std::string, std::size_t>> cases = {
      {"ping 2001:db8::1 now", 1},
      {"fe80::1ff:fe23:4567:890a%eth0", 1},
      {"2001:0db8:85a3:0000:0000:8a2e:0370:7334", 1},
      {"at 1:2:3:4:5:6:7:8.", 1},
      {"::1 and ::ffff:192.0.2.1", 2},
      {"std::string and boost::json::value", 0},
      {"x::1", 0},  // glued to a word character
      {"a::b", 1},  // two hex groups
      {"1:2:3:4:5:6:7", 0},
      {"1:2:3:4:5:6:7:8:9", 0},
      {"1::2::3", 0},
      {"abcde:1:2:3:4:5:6:7 ", 0},  // the first group glued to more hex: a word
      {"", 0},
      {":", 0},
      {"::", 0},  // no hex digit
  };
  for (const auto& [text, n] : cases) {
    EXPECT_EQ(by_search(text).size(), n) << text;
    EXPECT_EQ(by_search(text), by_expressions(text)) << text;
  }
}

TEST(DetectorIpv6Test, EightGroupsMeansSingleColonsBetweenShortGroups) {
  EXPECT_TRUE(has_eight_groups("1:2:3:4:5:6:7:8"));
  EXPECT_TRUE(has_eight_groups("abcdef1:2:3:4:5:6:7:8abcdef"));  // first and last may run on
  EXPECT_FALSE(has_eight_groups("1:2:3:4:5:6:7"));
  EXPECT_FALSE(has_eight_groups("1:2:3:45678:5:6:7:8"));       // an inner group of five
  EXPECT_TRUE(has_eight_groups("1:2:3:45678:5:6:7:8:9:a:b"));  // a new chain from 45678
  EXPECT_FALSE(has_eight_groups("1:2:3::5:6:7:8"));
  EXPECT_FALSE(has_eight_groups("1:2:3:4.5:6:7:8"));
}

}  // namespace
}  // namespace sb::policies::rules
