// The `responses:` section: the store behind previous_response_id (memory, redis, none), its
// ttl and bounds. Defaults first, then one valid config broken one way per case, with the exact
// message at FILE:LINE:COL.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"

namespace sb::config {
namespace {

using namespace std::chrono_literals;
using Errors = std::vector<std::string>;

Errors messages(const LoadResult& result) {
  Errors out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// Line 1 is `backends:`; `state:` (when given) is on line 3; `responses:` follows it, its keys
// from the next line on, indented by two spaces.
LoadResult load(std::string_view responses, bool redis_state = false) {
  std::string yaml =
      "backends:\n"
      "  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n";
  yaml += redis_state ? "state: {store: redis, url: \"redis://127.0.0.1:6379\"}\n"
                      : "state: {store: memory}\n";
  if (!responses.empty()) {
    yaml += "responses:\n";
    yaml += responses;
  }
  return load_string(yaml, "t.yaml", [](const std::string&) { return std::nullopt; });
}

ResponsesSettings settings_of(const LoadResult& r) {
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  return r.ok() ? r.config->responses : ResponsesSettings{};
}

TEST(ResponsesConfigTest, DefaultsWithoutTheSection) {
  const LoadResult r = load("");
  const ResponsesSettings s = settings_of(r);
  EXPECT_EQ(s.store, ResponsesSettings::Store::memory);
  EXPECT_EQ(s.ttl, 24h);
  EXPECT_EQ(s.max_entries, 100'000u);
  EXPECT_EQ(s.max_bytes, 256ull << 20);
  EXPECT_EQ(s.max_entry_bytes, 8ull << 20);
}

TEST(ResponsesConfigTest, StoreFollowsARedisState) {
  EXPECT_EQ(settings_of(load("", true)).store, ResponsesSettings::Store::redis);
  EXPECT_EQ(settings_of(load("  ttl: 1h\n", true)).store, ResponsesSettings::Store::redis);
}

TEST(ResponsesConfigTest, ExplicitStoreWins) {
  EXPECT_EQ(settings_of(load("  store: memory\n", true)).store, ResponsesSettings::Store::memory);
  EXPECT_EQ(settings_of(load("  store: none\n", true)).store, ResponsesSettings::Store::none);
  EXPECT_EQ(settings_of(load("  store: none\n")).store, ResponsesSettings::Store::none);
  EXPECT_EQ(settings_of(load("  store: redis\n", true)).store, ResponsesSettings::Store::redis);
}

TEST(ResponsesConfigTest, EveryKeyIsRead) {
  const LoadResult r = load(
      "  store: memory\n  ttl: 30m\n  max_entries: 500\n  max_bytes: 64MiB\n"
      "  max_entry_bytes: 1MiB\n");
  const ResponsesSettings s = settings_of(r);
  EXPECT_EQ(s.ttl, 30min);
  EXPECT_EQ(s.max_entries, 500u);
  EXPECT_EQ(s.max_bytes, 64ull << 20);
  EXPECT_EQ(s.max_entry_bytes, 1ull << 20);
  EXPECT_TRUE(r.config->notices.empty()) << ::testing::PrintToString(r.config->notices);
}

TEST(ResponsesConfigTest, AMaxBytesBelowTheEntryDefaultLowersTheEntryLimit) {
  const ResponsesSettings s = settings_of(load("  max_bytes: 1MiB\n"));
  EXPECT_EQ(s.max_bytes, 1ull << 20);
  EXPECT_EQ(s.max_entry_bytes, 1ull << 20);
}

TEST(ResponsesConfigTest, MemoryBoundsUnderRedisAreNoticedAsUnused) {
  const LoadResult r =
      load("  max_entries: 10\n  max_bytes: 1MiB\n  max_entry_bytes: 4MiB\n", true);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(r.config->responses.max_entry_bytes, 4ull << 20);  // not bounded by max_bytes there
  EXPECT_EQ(r.config->notices,
            std::vector<std::string>{
                "responses: max_entries, max_bytes unused: they bound store 'memory' only (Redis "
                "entries are bounded by ttl, max_entry_bytes and the server's maxmemory)"});
}

struct BadCase {
  const char* name;
  const char* body;
  bool redis_state;
  Errors errors;
};

class ResponsesConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ResponsesConfigErrorTest, IsReportedAtTheValue) {
  EXPECT_EQ(messages(load(GetParam().body, GetParam().redis_state)), GetParam().errors);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ResponsesConfigErrorTest,
    ::testing::Values(
        BadCase{"UnknownKey",
                "  ttl: 1h\n  max_entry: 5\n",
                false,
                {"t.yaml:6:3: responses: unknown key 'max_entry' (expected one of: store, ttl, "
                 "max_entries, max_bytes, max_entry_bytes)"}},
        BadCase{
            "NotAMapping", "  - memory\n", false, {"t.yaml:5:3: responses: expected a mapping"}},
        BadCase{"UnknownStore",
                "  store: disk\n",
                false,
                {"t.yaml:5:10: responses.store: unknown store 'disk' (expected one of: memory, "
                 "redis, none)"}},
        BadCase{"RedisWithoutARedisState",
                "  store: redis\n",
                false,
                {"t.yaml:5:10: responses.store: store 'redis' needs state.store: redis (its url, "
                 "credentials and prefix are used)"}},
        BadCase{"ZeroTtl",
                "  ttl: 0s\n",
                false,
                {"t.yaml:5:8: responses.ttl: must be greater than zero"}},
        BadCase{"TtlWithoutAUnit",
                "  ttl: 60\n",
                false,
                {"t.yaml:5:8: responses.ttl: invalid duration '60' (expected e.g. 500ms, 2s, 1.5s, "
                 "5m, 1h)"}},
        BadCase{"TtlAboveAYear",
                "  ttl: 8761h\n",
                false,
                {"t.yaml:5:8: responses.ttl: must be at most 8760h (one year)"}},
        BadCase{"ZeroEntries",
                "  max_entries: 0\n",
                false,
                {"t.yaml:5:16: responses.max_entries: expected a positive integer up to "
                 "1000000000"}},
        BadCase{"EntriesNotANumber",
                "  max_entries: lots\n",
                false,
                {"t.yaml:5:16: responses.max_entries: expected a positive integer up to "
                 "1000000000"}},
        BadCase{"ZeroBytes",
                "  max_bytes: 0\n",
                false,
                {"t.yaml:5:14: responses.max_bytes: must be greater than zero"}},
        BadCase{"EntryAboveMaxBytes",
                "  max_bytes: 1MiB\n  max_entry_bytes: 2MiB\n",
                false,
                {"t.yaml:6:20: responses.max_entry_bytes: must not be more than max_bytes "
                 "(1048576)"}},
        BadCase{"EntryAboveTheDefaultMaxBytes",
                "  max_entry_bytes: 300MiB\n",
                false,
                {"t.yaml:5:20: responses.max_entry_bytes: must not be more than max_bytes "
                 "(268435456, the default)"}},
        BadCase{"EntryAboveRedisLimit",
                "  max_entry_bytes: 513MiB\n",
                true,
                {"t.yaml:5:20: responses.max_entry_bytes: must be at most 512MiB"}},
        BadCase{"EntryZero",
                "  max_entry_bytes: 0\n",
                false,
                {"t.yaml:5:20: responses.max_entry_bytes: must be greater than zero"}}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace sb::config
