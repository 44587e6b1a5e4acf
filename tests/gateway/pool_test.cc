// The endpoint picker of pooled backends (gateway/runtime/pool.h): power of two choices,
// prefix affinity with bounded load, endpoints whose circuit is open left out.

#include "gateway/runtime/pool.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sb::gateway::pool {
namespace {

std::uint64_t hash_of(std::string_view text) {
  const std::array<std::string_view, 1> texts{text};
  return prefix_hash(texts, 1024);
}

// Simulates `n` requests that each stay in flight on the endpoint they were sent to (load is
// the count), picked with `options` (prefix per request from `prefix_of`).
template <class PrefixOf>
std::vector<double> simulate(std::size_t endpoints, int n, PrefixOf prefix_of) {
  std::vector<Candidate> c(endpoints);
  std::mt19937_64 rng(42);
  for (int k = 0; k < n; ++k) {
    PickOptions o;
    o.prefix = prefix_of(k);
    o.random = rng();
    const std::optional<std::size_t> i = pick(c, o);
    EXPECT_TRUE(i.has_value());
    if (i) {
      c[*i].load += 1;
    }
  }
  std::vector<double> loads;
  for (const Candidate& x : c) {
    loads.push_back(x.load);
  }
  return loads;
}

TEST(PoolPickTest, TwoChoicesSpreadLoadEvenly) {
  const std::vector<double> loads =
      simulate(4, 4000, [](int) { return std::optional<std::uint64_t>(); });
  for (const double l : loads) {
    // Two choices on load keep every replica within a couple of requests of the mean.
    EXPECT_NEAR(l, 1000, 3);
  }
}

TEST(PoolPickTest, TwoChoicesPreferTheLighterEndpoint) {
  std::vector<Candidate> c(2);
  c[0].load = 10;
  c[1].load = 1;
  for (std::uint64_t r = 0; r < 50; ++r) {
    EXPECT_EQ(pick(c, {.random = r}), 1u);
  }
}

TEST(PoolPickTest, KvUseBreaksTiesOfLoad) {
  std::vector<Candidate> c(2);
  c[0].load = c[1].load = 3;
  c[0].kv_cache = 0.9;
  c[1].kv_cache = 0.2;
  for (std::uint64_t r = 0; r < 50; ++r) {
    EXPECT_EQ(pick(c, {.random = r}), 1u);
  }
}

TEST(PoolPickTest, AffinitySticksForOnePrefix) {
  std::vector<Candidate> c(4);
  PickOptions o;
  o.prefix = hash_of("You are a helpful assistant. Summarise this contract.");
  const std::optional<std::size_t> first = pick(c, o);
  ASSERT_TRUE(first);
  for (std::uint64_t r = 0; r < 100; ++r) {
    o.random = r;
    EXPECT_EQ(pick(c, o), first);
  }
}

TEST(PoolPickTest, AffinitySpreadsDifferentPrefixes) {
  // Many conversations, each with its own prefix, loads left equal: every replica gets a share
  // close to a quarter (rendezvous hashing is uniform).
  std::vector<Candidate> c(4);
  std::array<int, 4> hits{};
  for (int k = 0; k < 4000; ++k) {
    PickOptions o;
    o.prefix = hash_of("conversation " + std::to_string(k));
    const std::optional<std::size_t> i = pick(c, o);
    ASSERT_TRUE(i);
    ++hits[*i];
  }
  for (const int h : hits) {
    EXPECT_GT(h, 850);
    EXPECT_LT(h, 1150);
  }
}

TEST(PoolPickTest, BoundedLoadMovesAHotPrefix) {
  // Every request shares one prefix and stays in flight: affinity alone would put all of them
  // on one replica; the bound keeps each within max_load_factor x mean + 1.
  const std::uint64_t hot = hash_of("the same system prompt for everyone");
  const std::vector<double> loads =
      simulate(3, 300, [&](int) { return std::optional<std::uint64_t>(hot); });
  double sum = 0;
  for (const double l : loads) {
    sum += l;
  }
  const double mean = sum / 3;
  for (const double l : loads) {
    EXPECT_LE(l, 1.25 * mean + 2);
    EXPECT_GT(l, 0);
  }
}

TEST(PoolPickTest, AffineEndpointKeptWithinTheBound) {
  std::vector<Candidate> c(2);
  PickOptions o;
  o.prefix = hash_of("prefix");
  const std::size_t home = *pick(c, o);
  c[home].load = 3;  // mean 1.5: bound 1.25 x 1.5 + 1 = 2.875 < 3, moves
  EXPECT_EQ(pick(c, o), 1 - home);
  c[home].load = 2;  // mean 1: bound 2.25, stays
  EXPECT_EQ(pick(c, o), home);
}

TEST(PoolPickTest, AnOpenEndpointIsAvoided) {
  std::vector<Candidate> c(3);
  c[1].admits = false;
  c[0].load = 5;
  c[2].load = 5;
  for (std::uint64_t r = 0; r < 200; ++r) {
    EXPECT_NE(pick(c, {.random = r}), 1u);
  }
  PickOptions o;
  for (int k = 0; k < 200; ++k) {
    o.prefix = hash_of(std::to_string(k) + " prefix");
    EXPECT_NE(pick(c, o), 1u);
  }
}

TEST(PoolPickTest, AllOpenPicksNone) {
  std::vector<Candidate> c(3);
  for (Candidate& x : c) {
    x.admits = false;
  }
  EXPECT_FALSE(pick(c, {}));
  PickOptions o;
  o.prefix = 7;
  EXPECT_FALSE(pick(c, o));
  EXPECT_FALSE(pick(std::span<const Candidate>(), {}));
}

TEST(PoolPickTest, ARetryPrefersAnotherEndpoint) {
  std::vector<Candidate> c(2);
  c[1].load = 100;  // heavier, but the lighter one just failed this request
  PickOptions o;
  o.avoid = 0;
  EXPECT_EQ(pick(c, o), 1u);
  c[1].admits = false;  // the only one left admitting: back to it
  EXPECT_EQ(pick(c, o), 0u);
}

TEST(PoolPickTest, SingleEndpointNeedsNoChoice) {
  std::vector<Candidate> c(1);
  c[0].load = 1e9;
  EXPECT_EQ(pick(c, {.random = 12345}), 0u);
}

TEST(PoolPrefixHashTest, ReadsOnlyTheFirstBytesAcrossTexts) {
  const std::array<std::string_view, 2> a{"system prompt", "user: hello"};
  const std::array<std::string_view, 1> b{"system promptuser: hello"};
  EXPECT_EQ(prefix_hash(a, 1000), prefix_hash(b, 1000));
  const std::array<std::string_view, 2> c{"system prompt", "user: other"};
  EXPECT_EQ(prefix_hash(a, 13), prefix_hash(c, 13));
  EXPECT_NE(prefix_hash(a, 1000), prefix_hash(c, 1000));
}

}  // namespace
}  // namespace sb::gateway::pool
