#include "policies/config.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace sb::config {
namespace {

using namespace std::chrono_literals;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// -------------------------------------------------------------------------------------------------
// One complete config, every field asserted.

constexpr std::string_view kFull = R"(
server:
  listen: "[::1]:8443"
  threads: 6
  max_body_bytes: 2MiB
  max_header_bytes: 16KB
  header_timeout: 1500ms
  idle_timeout: 1.5m
  drain_timeout: 0s
  stream_keepalive: 0s
admin:
  listen: "localhost:0"
state:
  store: redis
  url: "${REDIS_URL}"
backends:
  gpu-box:
    provider: vllm
    base_url: "HTTP://10.1.2.3:8000/v1/"
    model: "meta-llama/Llama-3.1-8B-Instruct"
    tier: standard
    clearance: restricted
    max_in_flight: 32
    timeouts: {connect: 250ms, first_token: 30s, idle: 10s, total: 1h}
    tls: {verify: false}
    headers:
      X-Team: "search"
      X-Cost-Center: "${COST_CENTER:-cc-0}"
    price: {gpu_hour_usd: 2.5, tokens_per_second: 1000}
  claude:
    provider: anthropic
    base_url: "https://api.anthropic.com/v1"
    model: claude-3-5-sonnet-latest
    api_key: "${ANTHROPIC_API_KEY}"
    tier: frontier
    clearance: internal
    price:
      input_per_mtok: 3
      output_per_mtok: 15.0
      cached_input_per_mtok: 0.3
  edge:
    provider: openai-compatible
    hosting: closed
    base_url: "https://edge.example.com"
    model: m
models:
  default: {candidates: [gpu-box, claude]}
  smart:
    candidates:
      - claude
    tier: frontier
)";

TEST(ConfigTest, LoadsEveryFieldOfAFullConfig) {
  LoadResult result = load_string(
      kFull, "full.yaml",
      env_of({{"REDIS_URL", "redis://cache:6379/1"}, {"ANTHROPIC_API_KEY", "sk-ant-123"}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;

  EXPECT_EQ(c.source, "full.yaml");
  EXPECT_EQ(c.server.listen, "[::1]:8443");
  EXPECT_EQ(c.server.threads, 6u);
  EXPECT_EQ(c.server.max_body_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(c.server.max_header_bytes, 16'000u);
  EXPECT_EQ(c.server.header_timeout, 1500ms);
  EXPECT_EQ(c.server.idle_timeout, 90s);
  EXPECT_EQ(c.server.drain_timeout, 0ms);
  EXPECT_EQ(c.server.stream_keepalive, 0ms);
  EXPECT_FALSE(c.server.tls.has_value());
  EXPECT_EQ(c.admin.listen, "localhost:0");
  EXPECT_EQ(c.state.store, config::StateSettings::Store::redis);
  EXPECT_EQ(c.state.url, "redis://cache:6379/1");
  EXPECT_EQ(c.state.host, "cache");
  EXPECT_EQ(c.state.port, 6379);
  EXPECT_EQ(c.state.database, 1u);
  EXPECT_FALSE(c.state.tls);
  EXPECT_TRUE(c.notices.empty()) << ::testing::PrintToString(c.notices);

  ASSERT_EQ(c.backends.size(), 3u);
  const Backend& gpu = c.backends[0];
  EXPECT_EQ(gpu.name, "gpu-box");
  EXPECT_EQ(gpu.provider, Provider::vllm);
  EXPECT_EQ(gpu.hosting, Hosting::self_hosted);
  EXPECT_EQ(gpu.base_url, "http://10.1.2.3:8000/v1");  // scheme lower-cased, trailing '/' gone
  EXPECT_EQ(gpu.model, "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(gpu.api_key, "");
  EXPECT_EQ(gpu.tier, "standard");
  EXPECT_EQ(gpu.clearance, "restricted");
  EXPECT_EQ(gpu.max_in_flight, 32u);
  EXPECT_EQ(gpu.timeouts.connect, 250ms);
  EXPECT_EQ(gpu.timeouts.first_token, 30s);
  EXPECT_EQ(gpu.timeouts.idle, 10s);
  EXPECT_EQ(gpu.timeouts.total, 1h);
  EXPECT_EQ(gpu.ca_file, "");
  EXPECT_FALSE(gpu.tls_verify);
  EXPECT_EQ(gpu.headers,
            (std::map<std::string, std::string>{{"X-Cost-Center", "cc-0"}, {"X-Team", "search"}}));
  EXPECT_DOUBLE_EQ(gpu.price.gpu_hour_usd, 2.5);
  EXPECT_DOUBLE_EQ(gpu.price.tokens_per_second, 1000);
  EXPECT_DOUBLE_EQ(gpu.price.input_per_mtok, 0);
  EXPECT_DOUBLE_EQ(gpu.price.output_per_mtok, 0);
  EXPECT_DOUBLE_EQ(gpu.price.cached_input_per_mtok, 0);

  const Backend& claude = c.backends[1];
  EXPECT_EQ(claude.name, "claude");
  EXPECT_EQ(claude.provider, Provider::anthropic);
  EXPECT_EQ(claude.hosting, Hosting::closed);  // the provider's default
  EXPECT_EQ(claude.base_url, "https://api.anthropic.com/v1");
  EXPECT_EQ(claude.model, "claude-3-5-sonnet-latest");
  EXPECT_EQ(claude.api_key, "sk-ant-123");
  EXPECT_EQ(claude.tier, "frontier");
  EXPECT_EQ(claude.clearance, "internal");
  EXPECT_EQ(claude.max_in_flight, 0u);
  EXPECT_EQ(claude.timeouts.connect, 2s);  // defaults
  EXPECT_EQ(claude.timeouts.first_token, 60s);
  EXPECT_EQ(claude.timeouts.idle, 300s);
  EXPECT_EQ(claude.timeouts.total, 600s);
  EXPECT_TRUE(claude.tls_verify);
  EXPECT_TRUE(claude.headers.empty());
  EXPECT_DOUBLE_EQ(claude.price.input_per_mtok, 3);
  EXPECT_DOUBLE_EQ(claude.price.output_per_mtok, 15);
  EXPECT_DOUBLE_EQ(claude.price.cached_input_per_mtok, 0.3);

  const Backend& edge = c.backends[2];
  EXPECT_EQ(edge.provider, Provider::openai_compatible);
  EXPECT_EQ(edge.hosting, Hosting::closed);  // explicit, overriding the provider's default
  EXPECT_EQ(edge.base_url, "https://edge.example.com");
  EXPECT_EQ(edge.tier, "standard");
  EXPECT_EQ(edge.clearance, "public");

  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[0].name, "default");
  EXPECT_EQ(c.models[0].candidates, (std::vector<std::string>{"gpu-box", "claude"}));
  EXPECT_EQ(c.models[0].tier, "");
  EXPECT_EQ(c.models[1].name, "smart");
  EXPECT_EQ(c.models[1].candidates, (std::vector<std::string>{"claude"}));
  EXPECT_EQ(c.models[1].tier, "frontier");

  EXPECT_EQ(c.find_backend("claude"), &c.backends[1]);
  EXPECT_EQ(c.find_backend("nope"), nullptr);
  EXPECT_EQ(c.find_model("smart"), &c.models[1]);
  EXPECT_EQ(c.find_model("gpu-box"), nullptr);  // models given: no alias per backend
}

TEST(ConfigTest, MinimalConfigTakesDefaultsAndAnAliasPerBackend) {
  LoadResult result = load_string(R"(
backends:
  a: {provider: ollama, base_url: "http://127.0.0.1:11434/v1", model: llama3}
  b: {provider: gemini, base_url: "https://generativelanguage.googleapis.com/v1beta", model: g}
)",
                                  "min.yaml", env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;
  ServerSettings defaults;
  EXPECT_EQ(c.server.listen, defaults.listen);
  EXPECT_EQ(c.server.threads, 0u);
  EXPECT_EQ(c.server.max_body_bytes, 32u << 20);
  EXPECT_EQ(c.server.max_header_bytes, 64u << 10);
  EXPECT_EQ(c.server.header_timeout, 10s);
  EXPECT_EQ(c.server.idle_timeout, 60s);
  EXPECT_EQ(c.server.drain_timeout, 30s);
  EXPECT_EQ(c.server.stream_keepalive, 15s);
  EXPECT_EQ(c.admin.listen, "127.0.0.1:9090");
  EXPECT_EQ(c.state.store, config::StateSettings::Store::memory);
  EXPECT_EQ(c.backends[0].hosting, Hosting::self_hosted);
  EXPECT_EQ(c.backends[1].hosting, Hosting::closed);
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[0].name, "a");
  EXPECT_EQ(c.models[0].candidates, (std::vector<std::string>{"a"}));
  EXPECT_EQ(c.models[1].name, "b");
  EXPECT_EQ(c.models[1].candidates, (std::vector<std::string>{"b"}));
}

TEST(ConfigTest, CacheWritePricesAndOutputBounds) {
  LoadResult result = load_string(R"(
backends:
  claude:
    provider: anthropic
    allow_insecure: true
    base_url: "http://127.0.0.1:1/v1"
    model: claude-sonnet-4-20250514
    max_output_tokens: 64000
    price: {input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3,
            cache_write_per_mtok: 3.75}
  gpt: {provider: openai, allow_insecure: true, base_url: "http://127.0.0.1:1/v1", model: gpt-4o}
  o3: {provider: openai, allow_insecure: true, base_url: "http://127.0.0.1:1/v1", model: o3-mini}
  ant: {provider: anthropic, allow_insecure: true, base_url: "http://127.0.0.1:1/v1", model: c}
  gem: {provider: gemini, allow_insecure: true, base_url: "http://127.0.0.1:1/v1", model: gemini-2.5-pro}
  vllm: {provider: vllm, base_url: "http://127.0.0.1:1/v1", model: m}
cost: {min_output_tokens: 128}
)",
                                  "out.yaml", env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;
  EXPECT_DOUBLE_EQ(c.backends[0].price.cache_write_per_mtok, 3.75);
  EXPECT_EQ(c.backends[0].max_output_tokens, 64'000u);
  EXPECT_DOUBLE_EQ(c.backends[1].price.cache_write_per_mtok, 0);  // the input price then
  EXPECT_EQ(c.backends[1].max_output_tokens, 16'384u);            // documented defaults
  EXPECT_EQ(c.backends[2].max_output_tokens, 100'000u);
  EXPECT_EQ(c.backends[3].max_output_tokens, 4'096u);
  EXPECT_EQ(c.backends[4].max_output_tokens, 65'536u);
  EXPECT_EQ(c.backends[5].max_output_tokens, 4'096u);
  EXPECT_EQ(c.cost.min_output_tokens, 128u);
  EXPECT_EQ(config::CostSettings{}.min_output_tokens, 256u);
}

TEST(ConfigTest, ThreadsAutoMeansOnePerCore) {
  LoadResult result = load_string(R"(
server: {threads: auto}
backends: {a: {provider: vllm, base_url: "http://h", model: m}}
)",
                                  "t.yaml", env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->server.threads, 0u);
}

TEST(ConfigTest, ProviderAndHostingNamesRoundTrip) {
  EXPECT_EQ(to_string(Provider::vllm), "vllm");
  EXPECT_EQ(to_string(Provider::llamacpp), "llamacpp");
  EXPECT_EQ(to_string(Provider::ollama), "ollama");
  EXPECT_EQ(to_string(Provider::tgi), "tgi");
  EXPECT_EQ(to_string(Provider::sglang), "sglang");
  EXPECT_EQ(to_string(Provider::openai_compatible), "openai-compatible");
  EXPECT_EQ(to_string(Provider::openai), "openai");
  EXPECT_EQ(to_string(Provider::anthropic), "anthropic");
  EXPECT_EQ(to_string(Provider::gemini), "gemini");
  EXPECT_EQ(to_string(Provider::azure_openai), "azure-openai");
  EXPECT_EQ(to_string(Provider::bedrock), "bedrock");
  EXPECT_EQ(to_string(Hosting::self_hosted), "self-hosted");
  EXPECT_EQ(to_string(Hosting::closed), "closed");
}

TEST(ConfigTest, ErrorWithoutPathOmitsThePathSegment) {
  EXPECT_EQ((ConfigError{"f.yaml", 3, 7, "server.listen", "bad"}).to_string(),
            "f.yaml:3:7: server.listen: bad");
  EXPECT_EQ((ConfigError{"f.yaml", 1, 2, "", "bad"}).to_string(), "f.yaml:1:2: bad");
}

// -------------------------------------------------------------------------------------------------
// Environment substitution.

constexpr std::string_view kEnvBase = R"(backends:
  a:
    provider: vllm
    base_url: "${LOCAL_URL:-http://127.0.0.1:8000/v1}"
    model: "${MODEL}"
    api_key: "KEY"
)";

LoadResult load_env(std::string_view api_key, std::map<std::string, std::string> vars) {
  std::string yaml(kEnvBase);
  yaml.replace(yaml.find("KEY"), 3, api_key);
  vars.emplace("MODEL", "m");
  return load_string(yaml, "t.yaml", env_of(std::move(vars)));
}

TEST(ConfigEnvTest, DefaultIsUsedWhenTheVariableIsUnsetOrEmpty) {
  for (const auto& vars : {std::map<std::string, std::string>{},
                           std::map<std::string, std::string>{{"LOCAL_URL", ""}}}) {
    LoadResult result = load_env("", vars);
    ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
    EXPECT_EQ(result.config->backends[0].base_url, "http://127.0.0.1:8000/v1");
  }
}

TEST(ConfigEnvTest, VariableWinsOverTheDefaultAndIsValidatedAfterSubstitution) {
  LoadResult ok = load_env("", {{"LOCAL_URL", "http://gpu:9000/v1/"}});
  ASSERT_TRUE(ok.ok()) << ::testing::PrintToString(messages(ok));
  EXPECT_EQ(ok.config->backends[0].base_url, "http://gpu:9000/v1");

  LoadResult bad = load_env("", {{"LOCAL_URL", "gpu:9000"}});
  EXPECT_EQ(messages(bad),
            std::vector<std::string>{"t.yaml:4:15: backends.a.base_url: expected an http:// or "
                                     "https:// URL, got 'gpu:9000'"});
}

TEST(ConfigEnvTest, SubstitutesInsideLongerValues) {
  LoadResult result = load_env("sk-${A}-${B:-x}-${C:-${D:-inner}}", {{"A", "1"}});
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends[0].api_key, "sk-1-x-inner");
}

TEST(ConfigEnvTest, DoubleDollarIsALiteralDollar) {
  LoadResult result = load_env("$${MODEL} costs $$5 or $5", {});
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends[0].api_key, "${MODEL} costs $5 or $5");
}

TEST(ConfigEnvTest, SetButEmptyVariableIsKept) {
  LoadResult result = load_env("${EMPTY}", {{"EMPTY", ""}});
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends[0].api_key, "");
}

TEST(ConfigEnvTest, SubstitutedTextIsNotExpandedAgain) {
  LoadResult result = load_env("${RAW}", {{"RAW", "${MODEL}$$"}});
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends[0].api_key, "${MODEL}$$");
}

TEST(ConfigEnvTest, MalformedReferencesAreErrors) {
  EXPECT_EQ(
      messages(load_env("${OPEN", {})),
      std::vector<std::string>{"t.yaml:6:14: backends.a.api_key: unterminated '${' (missing '}')"});
  EXPECT_EQ(messages(load_env("${}", {})),
            std::vector<std::string>{
                "t.yaml:6:14: backends.a.api_key: invalid environment variable reference '${}'"});
  EXPECT_EQ(messages(load_env("${1ABC}", {})),
            std::vector<std::string>{"t.yaml:6:14: backends.a.api_key: invalid environment "
                                     "variable reference '${1ABC}'"});
  EXPECT_EQ(messages(load_env("${A:x}", {})),
            std::vector<std::string>{"t.yaml:6:14: backends.a.api_key: invalid environment "
                                     "variable reference '${A:x}'"});
}

// -------------------------------------------------------------------------------------------------
// One valid config, broken one way per case; each case asserts the exact messages.

constexpr std::string_view kBase = R"(server:
  listen: "127.0.0.1:8080"
  threads: 4
  max_body_bytes: 1MiB
backends:
  local:
    provider: vllm
    base_url: "http://127.0.0.1:8000/v1"
    model: llama
    timeouts: {connect: 1s}
  cloud:
    provider: openai
    base_url: "https://api.openai.com/v1"
    model: gpt-4o
    api_key: "${OPENAI_KEY}"
models:
  default: {candidates: [local, cloud]}
)";

struct Break {
  std::string from;  // replaced once in kBase (empty: appended)
  std::string to;
};

struct BrokenCase {
  std::string name;
  std::vector<Break> breaks;
  std::vector<std::string> expected;
  std::map<std::string, std::string> env = {{"OPENAI_KEY", "sk-test"}};
};

std::string apply(const std::vector<Break>& breaks) {
  std::string yaml(kBase);
  for (const Break& b : breaks) {
    if (b.from.empty()) {
      yaml += b.to;
      continue;
    }
    std::size_t at = yaml.find(b.from);
    EXPECT_NE(at, std::string::npos) << b.from;
    EXPECT_EQ(yaml.find(b.from, at + 1), std::string::npos) << "ambiguous: " << b.from;
    if (at != std::string::npos) {
      yaml.replace(at, b.from.size(), b.to);
    }
  }
  return yaml;
}

class BrokenConfigTest : public ::testing::TestWithParam<BrokenCase> {};

TEST(BrokenConfigBaseTest, BaseConfigIsValid) {
  LoadResult result = load_string(kBase, "t.yaml", env_of({{"OPENAI_KEY", "sk-test"}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends[1].api_key, "sk-test");
}

// ---------------------------------------------------------------------------------------------
// Safe defaults: the closed-provider rules relax only with allow_insecure, the data plane opens
// to other machines only when every request needs a key, the admin token.

TEST(ClosedProviderTest, AllowInsecurePermitsPlainHttpAndUncheckedTls) {
  std::string yaml(kBase);
  yaml.replace(yaml.find("https://api.openai.com/v1"), 25, "http://127.0.0.1:9/v1");
  yaml.replace(yaml.find("    api_key:"), 0,
               "    allow_insecure: ${OPENAI_ALLOW_INSECURE:-false}\n    tls: {verify: false}\n");
  LoadResult refused = load_string(yaml, "t.yaml", env_of({{"OPENAI_KEY", "k"}}));
  EXPECT_EQ(messages(refused).size(), 2u) << ::testing::PrintToString(messages(refused));
  LoadResult result =
      load_string(yaml, "t.yaml", env_of({{"OPENAI_KEY", "k"}, {"OPENAI_ALLOW_INSECURE", "true"}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Backend& cloud = result.config->backends[1];
  EXPECT_TRUE(cloud.allow_insecure);
  EXPECT_FALSE(cloud.tls_verify);
  EXPECT_EQ(cloud.base_url, "http://127.0.0.1:9/v1");
}

TEST(ClosedProviderTest, EveryClosedProviderFollowsTheRules) {
  const std::map<std::string, std::string> extra = {
      {"openai", ""},
      {"anthropic", ""},
      {"gemini", ""},
      {"azure-openai", "    api_version: \"2024-10-21\"\n"},
      {"bedrock",
       "    aws: {region: us-east-1, access_key_id: AKID, secret_access_key: SECRET}\n"}};
  for (const auto& [provider, more] : extra) {
    const std::string yaml = "backends:\n  c:\n    provider: " + provider +
                             "\n    base_url: \"http://127.0.0.1:9\"\n    model: m\n" + more;
    EXPECT_EQ(messages(load_string(yaml, "t.yaml", env_of({}))),
              std::vector<std::string>{
                  "t.yaml:4:15: backends.c.base_url: plain http:// to closed provider " + provider +
                  " sends its key and the prompts unencrypted (use https://, or allow_insecure: "
                  "true for labs and tests)"});
    EXPECT_TRUE(load_string(yaml + "    allow_insecure: true\n", "t.yaml", env_of({})).ok());
  }
  // A self-hosted engine over http, or without certificate checks, is the operator's own call.
  EXPECT_TRUE(load_string("backends:\n  v: {provider: vllm, base_url: \"http://10.0.0.1:8000/v1\", "
                          "model: m, tls: {verify: false}}\n",
                          "t.yaml", env_of({}))
                  .ok());
}

constexpr std::string_view kKeyHash =
    "sha256:7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725";

Config load_ok(const std::string& yaml) {
  LoadResult result = load_string(yaml, "t.yaml", env_of({}));
  EXPECT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  return result.ok() ? *result.config : Config{};
}

TEST(ListenDefaultTest, WithoutTenantKeysOnlyThisMachineIsServed) {
  const std::string backends =
      "backends:\n  v: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n";
  for (const std::string& server : {std::string(), std::string("server: {listen: auto}\n")}) {
    const Config c = load_ok(server + backends);
    EXPECT_EQ(c.server.listen, "127.0.0.1:8080");
    EXPECT_EQ(c.server.listen_reason,
              "server.listen is not set and no tenant has api_keys: only this machine can connect "
              "(add tenants with api_keys, or set server.listen, e.g. \"0.0.0.0:8080\", to serve "
              "other machines)");
  }
  const Config anonymous =
      load_ok(backends + "tenants:\n  t: {api_keys: [\"" + std::string(kKeyHash) +
              "\"]}\n  guest: {}\nauth: {anonymous_tenant: guest}\n");
  EXPECT_EQ(anonymous.server.listen, "127.0.0.1:8080");
  EXPECT_EQ(anonymous.server.listen_reason,
            "server.listen is not set and auth.anonymous_tenant serves requests without an API "
            "key: only this machine can connect (add tenants with api_keys, or set server.listen, "
            "e.g. \"0.0.0.0:8080\", to serve other machines)");
  const Config keyed =
      load_ok(backends + "tenants:\n  t: {api_keys: [\"" + std::string(kKeyHash) + "\"]}\n");
  EXPECT_EQ(keyed.server.listen, "0.0.0.0:8080");
  EXPECT_EQ(keyed.server.listen_reason,
            "server.listen is not set and every request needs an API key (tenants with api_keys, "
            "no auth.anonymous_tenant): other machines may connect");
  const Config explicit_open = load_ok("server: {listen: \"0.0.0.0:8081\"}\n" + backends);
  EXPECT_EQ(explicit_open.server.listen, "0.0.0.0:8081");
  EXPECT_EQ(explicit_open.server.listen_reason,
            "set by server.listen; no API key is required, so anyone who can reach this address "
            "is served");
  const Config explicit_local = load_ok("server: {listen: \"[::1]:8081\"}\n" + backends);
  EXPECT_EQ(explicit_local.server.listen_reason, "set by server.listen");
}

TEST(AdminTokenTest, LoopbackNeedsNoTokenAndATokenIsKept) {
  const std::string backends =
      "backends:\n  v: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n";
  for (const char* listen : {"127.0.0.1:9090", "127.1.2.3:0", "[::1]:9090", "localhost:9090",
                             "[::ffff:127.0.0.1]:9090"}) {
    const Config c = load_ok("admin: {listen: \"" + std::string(listen) + "\"}\n" + backends);
    EXPECT_EQ(c.admin.token, "") << listen;
  }
  const Config c =
      load_ok("admin: {listen: \"0.0.0.0:9090\", token: \"0123456789abcdef\"}\n" + backends);
  EXPECT_EQ(c.admin.token, "0123456789abcdef");
  EXPECT_EQ(c.admin.token_file, "");
}

// Key material is held in its own mappings, which the kernel leaves out of core dumps.
std::string vm_flags_of(std::uintptr_t address) {
  std::ifstream in("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find_first_not_of("0123456789abcdef") == dash) {
      const std::uintptr_t begin = std::stoull(line.substr(0, dash), nullptr, 16);
      const std::uintptr_t end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
      inside = address >= begin && address < end;
    } else if (inside && line.starts_with("VmFlags:")) {
      return line + " ";
    }
  }
  return {};
}

TEST(SecretMemoryTest, KeysAndTheAdminTokenLiveInMappingsLeftOutOfCoreDumps) {
  const std::size_t before = secret_memory_stats().mappings;
  {
    const Config c = load_ok(
        "admin: {token: \"admin-token-0123456789abcdef\"}\n"
        "backends:\n  a: {provider: openai, base_url: \"https://api.openai.com/v1\", model: m, "
        "api_key: \"sk-a-key-longer-than-the-small-string-buffer\"}\n"
        "  b: {provider: bedrock, base_url: \"https://bedrock-runtime.us-east-1.amazonaws.com\", "
        "model: m, aws: {region: us-east-1, access_key_id: AKID, secret_access_key: "
        "\"a-secret-access-key-of-forty-characters!\"}}\n");
    for (const char* data : {c.admin.token.data(), c.backends[0].api_key.data(),
                             c.backends[1].aws_secret_access_key.data()}) {
      const auto address = reinterpret_cast<std::uintptr_t>(data);
      EXPECT_EQ(address % static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)), 0u);
      EXPECT_NE(vm_flags_of(address).find(" dd "), std::string::npos) << vm_flags_of(address);
    }
    EXPECT_EQ(secret_memory_stats().mappings, before + 3);
  }
  EXPECT_EQ(secret_memory_stats().mappings, before);  // wiped and unmapped with the config
}

TEST_P(BrokenConfigTest, ReportsExactErrors) {
  const BrokenCase& c = GetParam();
  LoadResult result = load_string(apply(c.breaks), "t.yaml", env_of(c.env));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.config.has_value());
  EXPECT_EQ(messages(result), c.expected);
}

const std::vector<BrokenCase> kBrokenCases = {
    {"MaxOutputTokensZero",
     {{"model: llama\n", "model: llama\n    max_output_tokens: 0\n"}},
     {"t.yaml:10:24: backends.local.max_output_tokens: expected an integer from 1 to 10000000"}},
    {"BudgetAboveABillionDollars",
     {{"", "tenants:\n  t: {budget: {daily_usd: 2e9}}\n"}},
     {"t.yaml:19:27: tenants.t.budget.daily_usd: expected an amount in USD of at most 1000000000"}},
    {"MinOutputTokensZero",
     {{"", "cost: {min_output_tokens: 0}\n"}},
     {"t.yaml:18:27: cost.min_output_tokens: expected a positive integer"}},
    {"NegativeCacheWritePrice",
     {{"model: gpt-4o\n", "model: gpt-4o\n    price: {cache_write_per_mtok: -1}\n"}},
     {"t.yaml:15:35: backends.cloud.price.cache_write_per_mtok: expected a non-negative number"}},
    {"UnknownTopLevelKey",
     {{"", "tenant: {}\n"}},
     {"t.yaml:18:1: unknown key 'tenant' (expected one of: server, admin, state, responses, "
      "audit, backends, models, egress, auth, tenants, sensitivity, tiers, policy_headers, "
      "policies, cost, retries, telemetry)"}},
    {"UnknownNestedKeyNamesItsSection",
     {{"threads: 4", "thread: 4"}},
     {"t.yaml:3:3: server: unknown key 'thread' (expected one of: listen, threads, "
      "max_body_bytes, max_header_bytes, header_timeout, idle_timeout, drain_timeout, "
      "stream_keepalive, max_connections, max_buffered_body_bytes, tls)"}},
    {"UnknownKeyDeepInABackend",
     {{"{connect: 1s}", "{connect: 1s, read: 2s}"}},
     {"t.yaml:10:29: backends.local.timeouts: unknown key 'read' (expected one of: connect, "
      "first_token, idle, total)"}},
    {"DuplicateKey",
     {{"  threads: 4\n", "  threads: 4\n  threads: 5\n"}},
     {"t.yaml:4:3: server: duplicate key 'threads'"}},
    {"ThreadsOfTheWrongType",
     {{"threads: 4", "threads: [4]"}},
     {"t.yaml:3:12: server.threads: expected a positive integer or 'auto'"}},
    {"ThreadsZero",
     {{"threads: 4", "threads: 0"}},
     {"t.yaml:3:12: server.threads: expected a positive integer or 'auto'"}},
    {"ThreadsNegative",
     {{"threads: 4", "threads: -2"}},
     {"t.yaml:3:12: server.threads: expected a positive integer or 'auto'"}},
    {"SectionThatIsNotAMapping",
     {{"", "admin: 127.0.0.1:9090\n"}},
     {"t.yaml:18:8: admin: expected a mapping"}},
    {"EmptyValueIsReportedAtItsKey",
     {{"threads: 4", "threads:"}},
     {"t.yaml:3:3: server.threads: expected a positive integer or 'auto'"}},
    {"BadDuration",
     {{"{connect: 1s}", "{connect: 1 s}"}},
     {"t.yaml:10:25: backends.local.timeouts.connect: invalid duration '1 s' (expected e.g. "
      "500ms, 2s, 1.5s, 5m, 1h)"}},
    {"StreamKeepaliveIsADuration",
     {{"  threads: 4\n", "  threads: 4\n  stream_keepalive: often\n"}},
     {"t.yaml:4:21: server.stream_keepalive: invalid duration 'often' (expected e.g. 500ms, 2s, "
      "1.5s, 5m, 1h)"}},
    {"BareNumberIsNotADuration",
     {{"{connect: 1s}", "{connect: 10}"}},
     {"t.yaml:10:25: backends.local.timeouts.connect: invalid duration '10' (expected e.g. "
      "500ms, 2s, 1.5s, 5m, 1h)"}},
    {"ZeroTimeout",
     {{"{connect: 1s}", "{connect: 0s}"}},
     {"t.yaml:10:25: backends.local.timeouts.connect: must be greater than zero"}},
    {"ZeroHeaderTimeout",
     {{"  threads: 4\n", "  threads: 4\n  header_timeout: 0ms\n"}},
     {"t.yaml:4:19: server.header_timeout: must be greater than zero"}},
    {"BadSize",
     {{"1MiB", "1.5MiB"}},
     {"t.yaml:4:19: server.max_body_bytes: invalid size '1.5MiB' (expected e.g. 512, 64KiB, "
      "4MiB, 10MB)"}},
    {"ZeroBodySize",
     {{"1MiB", "0"}},
     {"t.yaml:4:19: server.max_body_bytes: must be greater than zero"}},
    {"ListenPortOutOfRange",
     {{"127.0.0.1:8080", "127.0.0.1:80800"}},
     {"t.yaml:2:11: server.listen: invalid port '80800' (expected 0-65535)"}},
    {"ListenWithoutPort",
     {{"\"127.0.0.1:8080\"", "localhost"}},
     {"t.yaml:2:11: server.listen: expected 'host:port' or '[ipv6]:port', got 'localhost'"}},
    {"ListenUnbracketedIpv6",
     {{"127.0.0.1:8080", "::1:8080"}},
     {"t.yaml:2:11: server.listen: expected 'host:port' or '[ipv6]:port', got '::1:8080'"}},
    {"UnknownProvider",
     {{"provider: vllm", "provider: vllmm"}},
     {"t.yaml:7:15: backends.local.provider: unknown provider 'vllmm' (expected one of: vllm, "
      "llamacpp, ollama, tgi, sglang, openai-compatible, openai, anthropic, gemini, "
      "azure-openai, bedrock)"}},
    {"MissingBaseUrl",
     {{"    base_url: \"http://127.0.0.1:8000/v1\"\n", ""}},
     {"t.yaml:7:5: backends.local: missing required key 'base_url'"}},
    {"BadUrlScheme",
     {{"http://127.0.0.1:8000/v1", "ftp://127.0.0.1/v1"}},
     {"t.yaml:8:15: backends.local.base_url: expected an http:// or https:// URL, got "
      "'ftp://127.0.0.1/v1'"}},
    {"UrlWithoutHost",
     {{"http://127.0.0.1:8000/v1", "http:///v1"}},
     {"t.yaml:8:15: backends.local.base_url: URL has no host"}},
    {"UrlWithBadPort",
     {{"http://127.0.0.1:8000/v1", "http://127.0.0.1:0/v1"}},
     {"t.yaml:8:15: backends.local.base_url: URL has an invalid port '0'"}},
    {"UrlWithCredentials",
     {{"http://127.0.0.1:8000/v1", "http://user:pw@127.0.0.1:8000/v1"}},
     {"t.yaml:8:15: backends.local.base_url: URL must not contain credentials (use api_key or "
      "headers)"}},
    {"UrlWithQuery",
     {{"http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1?x=1"}},
     {"t.yaml:8:15: backends.local.base_url: URL must not contain a query or fragment"}},
    {"EmptyModel",
     {{"model: llama", "model: \"\""}},
     {"t.yaml:9:12: backends.local.model: must not be empty"}},
    {"BadHosting",
     {{"    model: llama\n", "    model: llama\n    hosting: cloud\n"}},
     {"t.yaml:10:14: backends.local.hosting: unknown hosting 'cloud' (expected one of: "
      "self-hosted, closed)"}},
    {"BadTierAndClearance",
     {{"    model: llama\n", "    model: llama\n    tier: huge\n    clearance: secret\n"}},
     {"t.yaml:10:11: backends.local.tier: unknown tier 'huge' (expected one of: small, "
      "standard, frontier)",
      "t.yaml:11:16: backends.local.clearance: unknown level 'secret' (levels: public, "
      "internal, confidential, restricted)"}},
    {"NegativeMaxInFlight",
     {{"    model: llama\n", "    model: llama\n    max_in_flight: -1\n"}},
     {"t.yaml:10:20: backends.local.max_in_flight: expected a non-negative integer"}},
    {"NegativePrice",
     {{"    model: gpt-4o\n", "    model: gpt-4o\n    price: {input_per_mtok: -2.5}\n"}},
     {"t.yaml:15:29: backends.cloud.price.input_per_mtok: expected a non-negative number"}},
    {"GpuPriceWithoutThroughput",
     {{"    model: llama\n", "    model: llama\n    price: {gpu_hour_usd: 2}\n"}},
     {"t.yaml:10:12: backends.local.price: tokens_per_second must be greater than zero when "
      "gpu_hour_usd is set"}},
    {"TlsVerifyNotABoolean",
     {{"    model: llama\n", "    model: llama\n    tls: {verify: yes}\n"}},
     {"t.yaml:10:19: backends.local.tls.verify: expected true or false"}},
    {"CaFileMissing",
     {{"    model: llama\n", "    model: llama\n    tls: {ca_file: no-such-dir/ca.pem}\n"}},
     {"t.yaml:10:20: backends.local.tls.ca_file: cannot read file 'no-such-dir/ca.pem': No such "
      "file or directory"}},
    {"ReservedHeader",
     {{"    model: llama\n",
       "    model: llama\n    headers: {X-Ok: a, Connection: close, authorization: b}\n"}},
     {"t.yaml:10:24: backends.local.headers: header 'Connection' cannot be set (hop-by-hop or "
      "managed by the gateway)",
      "t.yaml:10:43: backends.local.headers: header 'authorization' cannot be set (hop-by-hop or "
      "managed by the gateway)"}},
    {"BadHeaderNameAndDuplicate",
     {{"    model: llama\n",
       "    model: llama\n    headers:\n      \"X Bad\": a\n      X-Id: b\n      x-id: c\n"}},
     {"t.yaml:11:7: backends.local.headers: invalid header name 'X Bad'",
      "t.yaml:13:7: backends.local.headers: duplicate header 'x-id'"}},
    {"HeaderValueWithNewline",
     {{"    model: llama\n", "    model: llama\n    headers: {X-A: \"a\\r\\nInjected: 1\"}\n"}},
     {"t.yaml:10:20: backends.local.headers.X-A: header value must not contain control "
      "characters"}},
    {"BadBackendName",
     {{"  local:\n", "  \"local box\":\n"}, {"[local, cloud]", "[\"local box\", cloud]"}},
     {"t.yaml:6:3: backends: invalid backend name 'local box' (use letters, digits, '_', '.' "
      "and '-')"}},
    {"UnknownBackendInCandidates",
     {{"[local, cloud]", "[local, clod]"}},
     {"t.yaml:17:33: models.default.candidates[1]: unknown backend 'clod'"}},
    {"DuplicateCandidate",
     {{"[local, cloud]", "[local, local]"}},
     {"t.yaml:17:33: models.default.candidates[1]: duplicate backend 'local'"}},
    {"EmptyCandidates",
     {{"[local, cloud]", "[]"}},
     {"t.yaml:17:25: models.default.candidates: must not be empty"}},
    {"CandidatesNotAList",
     {{"[local, cloud]", "local"}},
     {"t.yaml:17:25: models.default.candidates: expected a list of backend names"}},
    {"ModelWithoutCandidates",
     {{"{candidates: [local, cloud]}", "{tier: small}"}},
     {"t.yaml:17:12: models.default: missing required key 'candidates'"}},
    {"UnsetEnvironmentVariable",
     {},
     {"t.yaml:15:14: backends.cloud.api_key: environment variable 'OPENAI_KEY' is not set"},
     {}},
    {"RedisWithoutUrl",
     {{"", "state: {store: redis}\n"}},
     {"t.yaml:18:8: state: a url is required when store is 'redis'"}},
    {"RedisWithWrongScheme",
     {{"", "state: {store: redis, url: \"http://cache:6379\"}\n"}},
     {"t.yaml:18:28: state.url: expected a redis:// or rediss:// URL, got 'http://cache:6379'"}},
    {"UnknownStore",
     {{"", "state: {store: etcd}\n"}},
     {"t.yaml:18:16: state.store: unknown store 'etcd' (expected one of: memory, redis)"}},
    {"SeveralErrorsInFileOrder",
     {{"threads: 4", "threads: many"},
      {"{connect: 1s}", "{connect: 1s, read: 2s}"},
      {"[local, cloud]", "[local, clod]"},
      {"provider: openai", "provider: openia"},
      {"1MiB", "1 MiB"}},
     {"t.yaml:3:12: server.threads: expected a positive integer or 'auto'",
      "t.yaml:4:19: server.max_body_bytes: invalid size '1 MiB' (expected e.g. 512, 64KiB, 4MiB, "
      "10MB)",
      "t.yaml:10:29: backends.local.timeouts: unknown key 'read' (expected one of: connect, "
      "first_token, idle, total)",
      "t.yaml:12:15: backends.cloud.provider: unknown provider 'openia' (expected one of: vllm, "
      "llamacpp, ollama, tgi, sglang, openai-compatible, openai, anthropic, gemini, "
      "azure-openai, bedrock)",
      "t.yaml:17:33: models.default.candidates[1]: unknown backend 'clod'"}},
    {"YamlSyntaxError",
     {{"{candidates: [local, cloud]}", "{candidates: [local, cloud]"}},
     {"t.yaml:18:1: YAML syntax error: end of map flow not found"}},
    {"TlsCertFileMissing",
     {{"  max_body_bytes: 1MiB\n",
       "  max_body_bytes: 1MiB\n  tls:\n    cert: no-such-dir/server.crt\n"}},
     {"t.yaml:6:5: server.tls: missing required key 'key'",
      "t.yaml:6:11: server.tls.cert: cannot read file 'no-such-dir/server.crt': No such file or "
      "directory"}},
    // Closed providers: verified TLS unless allow_insecure, never self-hosted.
    {"ClosedProviderOverPlainHttp",
     {{"https://api.openai.com/v1", "http://api.openai.com/v1"}},
     {"t.yaml:13:15: backends.cloud.base_url: plain http:// to closed provider openai sends its "
      "key and the prompts unencrypted (use https://, or allow_insecure: true for labs and "
      "tests)"}},
    {"ClosedProviderWithoutCertificateChecks",
     {{"    api_key: \"${OPENAI_KEY}\"\n",
       "    api_key: \"${OPENAI_KEY}\"\n    tls: {verify: false}\n"}},
     {"t.yaml:16:19: backends.cloud.tls.verify: verify: false for closed provider openai needs "
      "allow_insecure: true (labs and tests only)"}},
    {"ClosedProviderDeclaredSelfHosted",
     {{"    api_key: \"${OPENAI_KEY}\"\n",
       "    api_key: \"${OPENAI_KEY}\"\n    hosting: self-hosted\n"}},
     {"t.yaml:16:14: backends.cloud.hosting: provider openai is a closed API and cannot be "
      "self-hosted (it would escape egress: none)"}},
    {"ClosedProviderSelfHostedEvenWithAllowInsecure",
     {{"    api_key: \"${OPENAI_KEY}\"\n",
       "    api_key: \"${OPENAI_KEY}\"\n    allow_insecure: true\n    hosting: self-hosted\n"}},
     {"t.yaml:17:14: backends.cloud.hosting: provider openai is a closed API and cannot be "
      "self-hosted (it would escape egress: none)"}},
    {"AllowInsecureIsABoolean",
     {{"    api_key: \"${OPENAI_KEY}\"\n",
       "    api_key: \"${OPENAI_KEY}\"\n    allow_insecure: yes\n"}},
     {"t.yaml:16:21: backends.cloud.allow_insecure: expected true or false"}},
    // The admin plane beyond loopback needs a token.
    {"AdminBeyondLoopbackWithoutToken",
     {{"", "admin: {listen: \"0.0.0.0:9090\"}\n"}},
     {"t.yaml:18:17: admin.listen: '0.0.0.0:9090' is not a loopback address: set admin.token or "
      "admin.token_file (/admin/reload and /admin/explain need a Bearer token beyond "
      "loopback)"}},
    {"AdminOnAHostNameWithoutToken",
     {{"", "admin: {listen: \"admin.internal:9090\"}\n"}},
     {"t.yaml:18:17: admin.listen: 'admin.internal:9090' is not a loopback address: set "
      "admin.token or admin.token_file (/admin/reload and /admin/explain need a Bearer token "
      "beyond loopback)"}},
    {"AdminBeyondLoopbackWithAnEmptyToken",
     {{"", "admin: {listen: \"[::]:9090\", token: \"${ADMIN_TOKEN:-}\"}\n"}},
     {"t.yaml:18:17: admin.listen: '[::]:9090' is not a loopback address: set admin.token or "
      "admin.token_file (/admin/reload and /admin/explain need a Bearer token beyond "
      "loopback)"}},
    {"AdminTokenTooShort",
     {{"", "admin: {listen: \"0.0.0.0:9090\", token: short-token}\n"}},
     {"t.yaml:18:40: admin.token: must be at least 16 characters"}},
    {"AdminTokenWithASpace",
     {{"", "admin: {token: \"0123456789 abcdef\"}\n"}},
     {"t.yaml:18:16: admin.token: must be visible ASCII characters only (no spaces or control "
      "characters)"}},
    {"AdminTokenFromAnUnsetVariable",
     {{"", "admin: {listen: \"0.0.0.0:9090\", token: \"${ADMIN_TOKEN}\"}\n"}},
     {"t.yaml:18:40: admin.token: environment variable 'ADMIN_TOKEN' is not set"}},
};

INSTANTIATE_TEST_SUITE_P(ConfigTest, BrokenConfigTest, ::testing::ValuesIn(kBrokenCases),
                         [](const ::testing::TestParamInfo<BrokenCase>& p) {
                           return p.param.name;
                         });

// -------------------------------------------------------------------------------------------------
// Whole-document problems.

TEST(ConfigDocumentTest, EmptyDocumentNeedsBackends) {
  EXPECT_EQ(messages(load_string("", "e.yaml", env_of({}))),
            std::vector<std::string>{"e.yaml:1:1: missing required key 'backends'"});
}

TEST(ConfigDocumentTest, EmptyBackendsSectionIsAnError) {
  EXPECT_EQ(messages(load_string("backends: {}\n", "e.yaml", env_of({}))),
            std::vector<std::string>{"e.yaml:1:11: backends: at least one backend is required"});
  EXPECT_EQ(messages(load_string("backends:\n", "e.yaml", env_of({}))),
            std::vector<std::string>{"e.yaml:1:1: backends: at least one backend is required"});
}

TEST(ConfigDocumentTest, RootMustBeAMapping) {
  EXPECT_EQ(messages(load_string("- a\n- b\n", "e.yaml", env_of({}))),
            std::vector<std::string>{"e.yaml:1:1: expected a mapping"});
}

TEST(ConfigDocumentTest, OnlyOneDocumentIsAllowed) {
  LoadResult result = load_string(
      "backends: {a: {provider: vllm, base_url: \"http://h\", model: m}}\n---\nserver: {}\n",
      "e.yaml", env_of({}));
  EXPECT_EQ(messages(result),
            std::vector<std::string>{"e.yaml:3:1: expected a single YAML document, found 2"});
}

TEST(ConfigDocumentTest, UndefinedAliasIsASyntaxError) {
  EXPECT_EQ(messages(load_string("backends: *nothing\n", "e.yaml", env_of({}))),
            std::vector<std::string>{
                "e.yaml:1:11: YAML syntax error: the referenced anchor is not defined"});
}

// yaml-cpp 0.7 never returns on these (found by the config fuzzer): the loader refuses them first.
TEST(ConfigDocumentTest, StrayFlowEntryIsASyntaxErrorNotAHang) {
  const std::pair<const char*, const char*> cases[] = {
      {",\n", "e.yaml:1:1: YAML syntax error: unexpected ',' outside any collection"},
      {"# comment\n  ,\n", "e.yaml:2:3: YAML syntax error: unexpected ',' outside any collection"},
      {"server: {}\n---\n,\n",
       "e.yaml:3:1: YAML syntax error: unexpected ',' outside any collection"},
      {"  backends: {}\n ,\n",
       "e.yaml:2:2: YAML syntax error: unexpected ',' outside any collection"},
  };
  for (const auto& [yaml, message] : cases) {
    EXPECT_EQ(messages(load_string(yaml, "e.yaml", env_of({}))), std::vector<std::string>{message})
        << yaml;
  }
  // A flow collection continued on a line that starts with ',' is still read by yaml-cpp.
  EXPECT_EQ(messages(load_string("policy_headers: [a\n  , b]\n", "e.yaml", env_of({})))
                .front()
                .find("unexpected ','"),
            std::string::npos);
}

// -------------------------------------------------------------------------------------------------
// Server TLS with real files.

class ServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sb-config-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "server.crt") << "-----BEGIN CERTIFICATE-----\n";
    std::ofstream(dir_ / "server.key") << "-----BEGIN PRIVATE KEY-----\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST_F(ServerTlsTest, ReadableCertAndKeyEnableTls) {
  std::string yaml = "server:\n  tls:\n    cert: \"" + (dir_ / "server.crt").string() +
                     "\"\n    key: \"" + (dir_ / "server.key").string() +
                     "\"\nbackends: {a: {provider: vllm, base_url: \"http://h\", model: m}}\n";
  LoadResult result = load_string(yaml, "t.yaml", env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  ASSERT_TRUE(result.config->server.tls.has_value());
  EXPECT_EQ(result.config->server.tls->cert_file, (dir_ / "server.crt").string());
  EXPECT_EQ(result.config->server.tls->key_file, (dir_ / "server.key").string());
}

TEST_F(ServerTlsTest, DirectoryIsNotAReadableFile) {
  std::string yaml = "server:\n  tls:\n    cert: \"" + dir_.string() + "\"\n    key: \"" +
                     (dir_ / "server.key").string() +
                     "\"\nbackends: {a: {provider: vllm, base_url: \"http://h\", model: m}}\n";
  EXPECT_EQ(messages(load_string(yaml, "t.yaml", env_of({}))),
            std::vector<std::string>{"t.yaml:3:11: server.tls.cert: cannot read file '" +
                                     dir_.string() + "': Is a directory"});
}

// -------------------------------------------------------------------------------------------------
// sensitivity.unscannable and forward_headers

TEST(ConfigScanTest, UnscannableDefaultsToTheHighestLevelForEveryKind) {
  LoadResult result = load_string(kBase, "t.yaml", env_of({{"OPENAI_KEY", "sk-test"}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->sensitivity.unscannable.level, 3);
  EXPECT_EQ(result.config->sensitivity.unscannable.kinds, kUnscannableAll);
  EXPECT_TRUE(result.config->backends[1].forward_headers.empty());

  LoadResult custom = load_string(std::string(kBase) + "sensitivity: {levels: [public, high]}\n",
                                  "t.yaml", env_of({{"OPENAI_KEY", "sk-test"}}));
  ASSERT_TRUE(custom.ok()) << ::testing::PrintToString(messages(custom));
  EXPECT_EQ(custom.config->sensitivity.unscannable.level, 1) << "the highest of a custom scale";
}

TEST(ConfigScanTest, UnscannableAndForwardHeadersAreRead) {
  std::string yaml(kBase);
  yaml.replace(yaml.find("    api_key: \"${OPENAI_KEY}\"\n"), 0,
               "    forward_headers: [X-App-Trace, openai-beta]\n");
  yaml += "sensitivity:\n  unscannable: {level: confidential, kinds: [token_ids, audio, files]}\n";
  LoadResult result = load_string(yaml, "t.yaml", env_of({{"OPENAI_KEY", "sk-test"}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->sensitivity.unscannable.level, 2);
  EXPECT_EQ(result.config->sensitivity.unscannable.kinds,
            kUnscannableTokenIds | kUnscannableAudio | kUnscannableFiles);
  EXPECT_EQ(result.config->backends[1].forward_headers,
            (std::vector<std::string>{"x-app-trace", "openai-beta"}));
}

TEST(ConfigScanTest, BadUnscannableAndForwardHeadersAreErrors) {
  const auto errors = [](const std::string& yaml) {
    return messages(load_string(yaml, "t.yaml", env_of({{"OPENAI_KEY", "sk-test"}})));
  };
  EXPECT_EQ(errors(std::string(kBase) + "sensitivity: {unscannable: {kinds: [video]}}\n"),
            (std::vector<std::string>{
                "t.yaml:18:37: sensitivity.unscannable.kinds[0]: unknown kind 'video' (expected "
                "one of: token_ids, audio, files, images)"}));
  EXPECT_EQ(errors(std::string(kBase) + "sensitivity: {unscannable: {level: secret}}\n"),
            (std::vector<std::string>{
                "t.yaml:18:36: sensitivity.unscannable.level: unknown level 'secret' (levels: "
                "public, internal, confidential, restricted)"}));
  std::string cookie(kBase);
  cookie.replace(cookie.find("    api_key: \"${OPENAI_KEY}\"\n"), 0,
                 "    forward_headers: [Cookie, \"bad name\"]\n");
  EXPECT_EQ(errors(cookie),
            (std::vector<std::string>{
                "t.yaml:15:23: backends.cloud.forward_headers[0]: header 'cookie' is never "
                "forwarded (hop-by-hop, a credential or managed by the gateway)",
                "t.yaml:15:31: backends.cloud.forward_headers[1]: invalid header name 'bad "
                "name'"}));
}

}  // namespace
}  // namespace sb::config
