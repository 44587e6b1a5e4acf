// The capacity keys of the config: `endpoints`, `load`, `affinity` on backends, `when.load`,
// `strategy: spill` with its `queue`, and Backend::scrape; every error at FILE:LINE:COL.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"
#include "policies/providers.h"

namespace sb::config {
namespace {

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

LoadResult load(std::string_view yaml) {
  return load_string(yaml, "t.yaml", [](const std::string&) { return std::nullopt; });
}

/// A config whose first backend's extra keys are `backend` (indented 4) and whose rules are
/// `rules` (each line indented 2), with a catch-all rule last.
std::string with(std::string_view backend, std::string_view rules = "") {
  std::string yaml = "backends:\n  pool:\n    provider: vllm\n    model: m\n";
  yaml += backend;
  yaml +=
      "  cloud: {provider: openai, base_url: \"https://api.openai.com/v1\", model: gpt-4o-mini}\n"
      "  ollama: {provider: ollama, base_url: \"http://127.0.0.1:11434\", model: m}\n"
      "policies:\n";
  yaml += rules;
  yaml += "  - name: default\n    route: {to: [pool]}\n";
  return yaml;
}

using Messages = std::vector<std::string>;

// ---- endpoints

TEST(LoadConfigTest, EndpointsFillThePoolAndBaseUrl) {
  const LoadResult r =
      load(with("    endpoints: [\"http://gpu-a:8000/v1/\", \"HTTP://gpu-b:8000/v1\"]\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const Backend& b = r.config->backends[0];
  EXPECT_EQ(b.endpoints,
            (std::vector<std::string>{"http://gpu-a:8000/v1", "http://gpu-b:8000/v1"}));
  EXPECT_EQ(b.base_url, "http://gpu-a:8000/v1");
}

TEST(LoadConfigTest, BaseUrlAloneIsAPoolOfOne) {
  const LoadResult r = load(with("    base_url: \"http://gpu-a:8000/v1\"\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(r.config->backends[0].endpoints, (std::vector<std::string>{"http://gpu-a:8000/v1"}));
  EXPECT_EQ(r.config->backends[1].endpoints,
            (std::vector<std::string>{"https://api.openai.com/v1"}));
}

TEST(LoadConfigTest, NeitherBaseUrlNorEndpointsIsAnError) {
  EXPECT_EQ(messages(load(with(""))),
            (Messages{"t.yaml:3:5: backends.pool: missing required key 'base_url'"}));
}

TEST(LoadConfigTest, EndpointsAndBaseUrlTogetherAreAnError) {
  EXPECT_EQ(messages(load(with("    base_url: \"http://a:1/v1\"\n"
                               "    endpoints: [\"http://b:1/v1\"]\n"))),
            (Messages{"t.yaml:6:16: backends.pool.endpoints: only one of base_url and endpoints "
                      "may be set"}));
}

TEST(LoadConfigTest, EmptyEndpointsAreAnError) {
  EXPECT_EQ(messages(load(with("    endpoints: []\n"))),
            (Messages{"t.yaml:5:16: backends.pool.endpoints: must not be empty"}));
}

TEST(LoadConfigTest, AtMostKMaxEndpoints) {
  auto list = [](std::size_t n) {
    std::string yaml = "    endpoints:\n";
    for (std::size_t i = 0; i < n; ++i) {
      yaml += "      - \"http://gpu" + std::to_string(i) + ":8000/v1\"\n";
    }
    return yaml;
  };
  const LoadResult full = load(with(list(kMaxEndpoints)));
  ASSERT_TRUE(full.ok()) << ::testing::PrintToString(messages(full));
  EXPECT_EQ(full.config->find_backend("pool")->endpoints.size(), kMaxEndpoints);
  EXPECT_EQ(messages(load(with(list(kMaxEndpoints + 1)))),
            (Messages{"t.yaml:6:7: backends.pool.endpoints: at most 64 endpoints (found 65)"}));
}

TEST(LoadConfigTest, EndpointsMustBeAList) {
  EXPECT_EQ(messages(load(with("    endpoints: \"http://a:1/v1\"\n"))),
            (Messages{"t.yaml:5:16: backends.pool.endpoints: expected a list of URLs"}));
}

TEST(LoadConfigTest, BadEndpointIsReportedAtTheItem) {
  EXPECT_EQ(
      messages(load(with("    endpoints:\n"
                         "      - \"http://a:1/v1\"\n"
                         "      - \"ftp://b:1/v1\"\n"
                         "      - \"http://user:pw@c:1/v1\"\n"
                         "      - \"http://a:1/v1/\"\n"))),
      (Messages{"t.yaml:7:9: backends.pool.endpoints[1]: expected an http:// or https:// URL, got "
                "'ftp://b:1/v1'",
                "t.yaml:8:9: backends.pool.endpoints[2]: URL must not contain credentials (use "
                "api_key or headers)",
                "t.yaml:9:9: backends.pool.endpoints[3]: duplicate endpoint 'http://a:1/v1'"}));
}

TEST(LoadConfigTest, EndpointsOnAClosedBackendAreAnError) {
  const LoadResult r = load(R"(backends:
  cloud:
    provider: openai
    model: gpt-4o
    endpoints: ["https://a.example/v1"]
)");
  EXPECT_EQ(messages(r),
            (Messages{"t.yaml:5:16: backends.cloud.endpoints: only for self-hosted backends"}));
}

// ---- load

TEST(LoadConfigTest, LoadDefaultsComeFromTheProvider) {
  const LoadResult r = load(with("    base_url: \"http://a:1/v1\"\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const Backend& pool = r.config->backends[0];
  EXPECT_EQ(pool.load.metrics, "vllm");
  EXPECT_FALSE(pool.load.declared);
  EXPECT_EQ(pool.load.path, "/metrics");
  EXPECT_EQ(pool.load.interval, Duration(1'000));
  EXPECT_EQ(pool.load.on_stale, OnStale::in_flight);
  EXPECT_EQ(r.config->backends[1].load.metrics, "none");  // closed
  EXPECT_EQ(r.config->backends[2].load.metrics, "none");  // ollama exports no load figures
  EXPECT_TRUE(pool.affinity.enabled);
  EXPECT_EQ(pool.affinity.prefix_tokens, 256u);
}

TEST(LoadConfigTest, ProviderTableNamesTheEnginesWithMetrics) {
  EXPECT_EQ(default_load_metrics(Provider::vllm), "vllm");
  EXPECT_EQ(default_load_metrics(Provider::sglang), "sglang");
  EXPECT_EQ(default_load_metrics(Provider::tgi), "tgi");
  EXPECT_EQ(default_load_metrics(Provider::llamacpp), "llamacpp");
  EXPECT_EQ(default_load_metrics(Provider::ollama), "none");
  EXPECT_EQ(default_load_metrics(Provider::openai_compatible), "none");
  EXPECT_EQ(default_load_metrics(Provider::openai), "none");
}

TEST(LoadConfigTest, EveryLoadKeyIsRead) {
  const LoadResult r = load(with(R"(    base_url: "http://a:1/v1"
    max_in_flight: 64
    load:
      metrics: sglang
      path: /stats/metrics
      interval: 2s
      timeout: 250ms
      stale_after: 10s
      on_stale: full
      headroom: {queue: 8, kv_cache: 0.75, in_flight: 0.5}
    affinity: {prefix_tokens: 128, max_load_factor: 1.5}
)"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const Backend& b = r.config->backends[0];
  EXPECT_TRUE(b.load.declared);
  EXPECT_EQ(b.load.metrics, "sglang");
  EXPECT_EQ(b.load.path, "/stats/metrics");
  EXPECT_EQ(b.load.interval, Duration(2'000));
  EXPECT_EQ(b.load.timeout, Duration(250));
  EXPECT_EQ(b.load.stale_after, Duration(10'000));
  EXPECT_EQ(b.load.on_stale, OnStale::full);
  EXPECT_EQ(b.load.headroom_queue, 8);
  EXPECT_EQ(b.load.headroom_kv_cache, 0.75);
  EXPECT_EQ(b.load.headroom_in_flight, 0.5);
  EXPECT_TRUE(b.affinity.enabled);
  EXPECT_EQ(b.affinity.prefix_tokens, 128u);
  EXPECT_EQ(b.affinity.max_load_factor, 1.5);
  EXPECT_TRUE(b.scrape);
}

TEST(LoadConfigTest, OnStaleTakesItsThreeValues) {
  const auto on_stale = [](std::string_view v) {
    const LoadResult r = load(
        with("    base_url: \"http://a:1/v1\"\n    load: {on_stale: " + std::string(v) + "}\n"));
    EXPECT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
    return r.ok() ? r.config->backends[0].load.on_stale : OnStale::full;
  };
  EXPECT_EQ(on_stale("in-flight"), OnStale::in_flight);
  EXPECT_EQ(on_stale("full"), OnStale::full);
  EXPECT_EQ(on_stale("idle"), OnStale::idle);
}

TEST(LoadConfigTest, AffinityNoneTurnsItOff) {
  const LoadResult r = load(with("    base_url: \"http://a:1/v1\"\n    affinity: none\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_FALSE(r.config->backends[0].affinity.enabled);
}

TEST(LoadConfigTest, BadLoadValuesAreReportedAtTheValue) {
  const LoadResult r = load(with(R"(    base_url: "http://a:1/v1"
    load:
      metrics: prometheus
      path: metrics
      interval: 0s
      on_stale: maybe
      headroom: {queue: 0, kv_cache: 1.5, in_flight: 0}
      scrape: yes
    affinity: {prefix_tokens: 0, max_load_factor: 0.5}
)"));
  EXPECT_EQ(
      messages(r),
      (Messages{
          "t.yaml:7:16: backends.pool.load.metrics: unknown metrics 'prometheus' (expected one "
          "of: vllm, sglang, tgi, llamacpp, none)",
          "t.yaml:8:13: backends.pool.load.path: expected an absolute path like /metrics",
          "t.yaml:9:17: backends.pool.load.interval: must be greater than zero",
          "t.yaml:10:17: backends.pool.load.on_stale: unknown on_stale 'maybe' (expected one of: "
          "in-flight, full, idle)",
          "t.yaml:11:25: backends.pool.load.headroom.queue: expected a number greater than zero",
          "t.yaml:11:38: backends.pool.load.headroom.kv_cache: expected a fraction in (0, 1]",
          "t.yaml:11:54: backends.pool.load.headroom.in_flight: expected a fraction in (0, 1]",
          "t.yaml:12:7: backends.pool.load: unknown key 'scrape' (expected one of: metrics, path, "
          "interval, timeout, stale_after, on_stale, headroom)",
          "t.yaml:13:31: backends.pool.affinity.prefix_tokens: expected an integer from 1 to "
          "1000000",
          "t.yaml:13:51: backends.pool.affinity.max_load_factor: expected a number of at least 1",
      }));
}

TEST(LoadConfigTest, AffinityMustBeNoneOrAMapping) {
  EXPECT_EQ(messages(load(with("    base_url: \"http://a:1/v1\"\n    affinity: sticky\n"))),
            (Messages{"t.yaml:6:15: backends.pool.affinity: expected none or {prefix_tokens, "
                      "max_load_factor}"}));
}

TEST(LoadConfigTest, LoadAndAffinityOnAClosedBackendAreErrors) {
  const LoadResult r = load(R"(backends:
  cloud:
    provider: openai
    base_url: "https://api.openai.com/v1"
    model: gpt-4o
    load: {metrics: vllm}
    affinity: none
)");
  EXPECT_EQ(messages(r),
            (Messages{"t.yaml:6:11: backends.cloud.load: only for self-hosted backends",
                      "t.yaml:7:15: backends.cloud.affinity: only for self-hosted "
                      "backends"}));
}

// ---- when.load

TEST(LoadConfigTest, WhenLoadIsRead) {
  const LoadResult r =
      load(with("    base_url: \"http://a:1/v1\"\n",
                "  - name: hot\n"
                "    when: {load: {backend: pool, queue_above: 16, kv_cache_above: "
                "0.95, ttft_p50_above: 2s}}\n"
                "    route: {to: [cloud]}\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const LoadCondition& c = *r.config->policies[0].when.load;
  EXPECT_EQ(c.backend, "pool");
  EXPECT_EQ(c.queue_above, 16);
  EXPECT_EQ(c.kv_cache_above, 0.95);
  EXPECT_EQ(c.ttft_p50_above, Duration(2'000));
  EXPECT_TRUE(r.config->backends[0].scrape);  // named by when.load
  EXPECT_FALSE(r.config->backends[1].scrape);
}

TEST(LoadConfigTest, WhenLoadErrors) {
  const LoadResult r = load(with("    base_url: \"http://a:1/v1\"\n",
                                 "  - name: a\n"
                                 "    when: {load: {backend: nope, queue_above: 1}}\n"
                                 "    route: {to: [cloud]}\n"
                                 "  - name: b\n"
                                 "    when: {load: {backend: cloud, queue_above: 1}}\n"
                                 "    route: {to: [cloud]}\n"
                                 "  - name: c\n"
                                 "    when: {load: {backend: pool}}\n"
                                 "    route: {to: [cloud]}\n"
                                 "  - name: d\n"
                                 "    when: {load: {backend: pool, kv_cache_above: 1.5}}\n"
                                 "    route: {to: [cloud]}\n"
                                 "  - name: e\n"
                                 "    when: {load: {queue_above: 1}}\n"
                                 "    route: {to: [cloud]}\n"));
  EXPECT_EQ(messages(r),
            (Messages{
                "t.yaml:10:28: policies[0].when.load.backend: unknown backend 'nope'",
                "t.yaml:13:28: policies[1].when.load.backend: backend 'cloud' is closed (load "
                "signals are read from self-hosted engines)",
                "t.yaml:16:18: policies[2].when.load: expected at least one of queue_above, "
                "kv_cache_above, ttft_p50_above",
                "t.yaml:19:50: policies[3].when.load.kv_cache_above: expected a fraction in [0, 1]",
                "t.yaml:22:18: policies[4].when.load: missing required key 'backend'",
            }));
}

// ---- spill

TEST(LoadConfigTest, SpillRuleWithItsQueue) {
  const LoadResult r = load(with("    base_url: \"http://a:1/v1\"\n",
                                 "  - name: fill\n"
                                 "    when: {tier: {at_most: standard}}\n"
                                 "    route:\n"
                                 "      queue: {max: 0, timeout: 3s}\n"
                                 "      to: [pool, cloud]\n"
                                 "      strategy: spill\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const Route& route = r.config->policies[0].route;
  EXPECT_EQ(route.strategy, Strategy::spill);
  EXPECT_EQ(route.queue.max, 0u);
  EXPECT_EQ(route.queue.timeout, Duration(3'000));
  EXPECT_TRUE(r.config->backends[0].scrape);              // named by a spill rule, vllm has metrics
  EXPECT_FALSE(r.config->backends[1].scrape);             // closed
  EXPECT_EQ(r.config->policies[1].route.queue.max, 64u);  // the default
}

TEST(LoadConfigTest, SpillRuleWithoutToScrapesTheAliasCandidates) {
  const LoadResult r = load(R"(backends:
  a: {provider: vllm, base_url: "http://a:1/v1", model: m}
  b: {provider: tgi, base_url: "http://b:1/v1", model: m}
  c: {provider: ollama, base_url: "http://c:1", model: m}
  d: {provider: sglang, base_url: "http://d:1/v1", model: m}
models:
  chat: {candidates: [a, c]}
  other: {candidates: [d]}
policies:
  - name: fill
    when: {model: chat}
    route: {strategy: spill}
  - name: default
    route: {to: [b]}
)");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_TRUE(r.config->backends[0].scrape);
  EXPECT_FALSE(r.config->backends[1].scrape);  // not named by a spill rule or when.load
  EXPECT_FALSE(r.config->backends[2].scrape);  // ollama: no metrics
  EXPECT_FALSE(r.config->backends[3].scrape);  // not a candidate of the rule's models
}

TEST(LoadConfigTest, MetricsNoneTurnsScrapingOff) {
  const LoadResult r = load(with("    base_url: \"http://a:1/v1\"\n    load: {metrics: none}\n",
                                 "  - name: fill\n"
                                 "    route: {to: [pool, cloud], strategy: spill}\n"
                                 "    when: {tier: {at_most: standard}}\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_FALSE(r.config->backends[0].scrape);
}

TEST(LoadConfigTest, DeclaredLoadScrapesWithoutARule) {
  const LoadResult r = load(with("    base_url: \"http://a:1/v1\"\n    load: {interval: 5s}\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_TRUE(r.config->backends[0].scrape);
}

TEST(LoadConfigTest, SpillErrors) {
  const LoadResult r = load(with("    base_url: \"http://a:1/v1\"\n",
                                 "  - name: a\n"
                                 "    when: {tier: {at_most: standard}}\n"
                                 "    route: {to: [cloud], queue: {max: 4}}\n"
                                 "  - name: b\n"
                                 "    when: {tier: {at_most: standard}}\n"
                                 "    route: {to: [cloud], strategy: spill}\n"
                                 "  - name: c\n"
                                 "    when: {tier: {at_most: standard}}\n"
                                 "    route: {to: [pool], strategy: spill, queue: {max: -1, "
                                 "timeout: 0s}}\n"));
  EXPECT_EQ(messages(r),
            (Messages{
                "t.yaml:11:33: policies[0].route.queue: only for strategy: spill",
                "t.yaml:14:17: policies[1].route.to: spill needs a self-hosted backend in to",
                "t.yaml:17:55: policies[2].route.queue.max: expected an integer from 0 (never "
                "wait) to 1000000",
                "t.yaml:17:68: policies[2].route.queue.timeout: must be greater than zero",
            }));
}

}  // namespace
}  // namespace sb::config
