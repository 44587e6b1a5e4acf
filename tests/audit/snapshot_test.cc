// Config snapshots: every shipped example and a config full of secrets and files snapshot into a
// text that loads anywhere (no files, any environment), holds no secret, and routes the same.

#include "gateway/audit/snapshot.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/audit/audit_fixtures.h"

#ifndef SB_SOURCE_DIR
#error "SB_SOURCE_DIR must name the source tree"
#endif

namespace sb::gateway::audit {
namespace {

namespace fs = std::filesystem;
using testing::read_all;
using testing::write_all;

constexpr std::string_view kSecretMark = "sk-secret";

// Secrets for every name that sounds like one; other names unset (their defaults apply).
std::optional<std::string> secret_env(const std::string& name) {
  for (const char* word : {"KEY", "PASSWORD", "TOKEN", "SECRET"}) {
    if (name.find(word) != std::string::npos) {
      return std::string(kSecretMark) + "-" + name + "-0123456789abcdef";
    }
  }
  return std::nullopt;
}

std::vector<std::string> messages(const config::LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// What routes: identical in the original and in its snapshot.
void expect_same_routing(const config::Config& a, const config::Config& b) {
  ASSERT_EQ(a.backends.size(), b.backends.size());
  for (std::size_t i = 0; i < a.backends.size(); ++i) {
    const config::Backend& x = a.backends[i];
    const config::Backend& y = b.backends[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.provider, y.provider) << x.name;
    EXPECT_EQ(x.hosting, y.hosting) << x.name;
    EXPECT_EQ(x.base_url, y.base_url) << x.name;
    EXPECT_EQ(x.model, y.model) << x.name;
    EXPECT_EQ(x.clearance_level, y.clearance_level) << x.name;
    EXPECT_EQ(x.tier_level, y.tier_level) << x.name;
    EXPECT_EQ(x.license_name, y.license_name) << x.name;
    EXPECT_EQ(x.license_commercial, y.license_commercial) << x.name;
  }
  EXPECT_EQ(a.sensitivity.levels, b.sensitivity.levels);
  EXPECT_EQ(a.sensitivity, b.sensitivity);
  EXPECT_EQ(a.tiers.levels, b.tiers.levels);
  EXPECT_EQ(a.egress, b.egress);
  ASSERT_EQ(a.tenants.size(), b.tenants.size());
  for (std::size_t i = 0; i < a.tenants.size(); ++i) {
    EXPECT_EQ(a.tenants[i].name, b.tenants[i].name);
    EXPECT_EQ(a.tenants[i].floor, b.tenants[i].floor);
    EXPECT_EQ(a.tenants[i].use, b.tenants[i].use);
    EXPECT_EQ(a.tenants[i].key_hashes.size(), b.tenants[i].key_hashes.size());
  }
  EXPECT_EQ(a.auth.anonymous_tenant, b.auth.anonymous_tenant);
  ASSERT_EQ(a.policies.size(), b.policies.size());
  for (std::size_t i = 0; i < a.policies.size(); ++i) {
    EXPECT_EQ(a.policies[i].name, b.policies[i].name);
  }
  ASSERT_EQ(a.models.size(), b.models.size());
  for (std::size_t i = 0; i < a.models.size(); ++i) {
    EXPECT_EQ(a.models[i].name, b.models[i].name);
  }
  EXPECT_EQ(a.policy_headers, b.policy_headers);
}

TEST(SnapshotTest, EveryExampleSnapshotsIntoALoadableConfigWithoutSecrets) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(SB_SOURCE_DIR) / "config" / "examples")) {
    files.push_back(e.path());
  }
  ASSERT_FALSE(files.empty());
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    const config::LoadResult original = config::load_file(f.string(), secret_env);
    ASSERT_TRUE(original.ok()) << ::testing::PrintToString(messages(original));
    const std::string snap = snapshot_text(original.config->text, secret_env);
    ASSERT_FALSE(snap.empty());
    EXPECT_EQ(snap.find(kSecretMark), std::string::npos) << snap;
    const config::LoadResult loaded = config::load_string(snap, "snapshot", lenient_env);
    ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(messages(loaded)) << "\n" << snap;
    expect_same_routing(*original.config, *loaded.config);
    // Deterministic: the same config gives the same hash.
    EXPECT_EQ(snapshot_hash(snapshot_text(original.config->text, secret_env)), snapshot_hash(snap));
  }
}

// The loader reads OTEL_* by itself, with no `${}` in the YAML: under the lenient environment
// they are unset (a placeholder is no URL and failed every snapshot's load), others "REDACTED".
TEST(SnapshotTest, LoadsUnderTheLenientEnvironmentWithTheOtelVariablesUnset) {
  EXPECT_FALSE(lenient_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
  EXPECT_FALSE(lenient_env("OTEL_EXPORTER_OTLP_ENDPOINT"));
  EXPECT_FALSE(lenient_env("OTEL_SERVICE_NAME"));
  EXPECT_EQ(lenient_env("VLLM_URL"), std::string(kRedacted));
  const std::string snap = snapshot_text(
      "backends:\n  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n"
      "models:\n  default: {candidates: [a]}\n",
      secret_env);
  ASSERT_FALSE(snap.empty());
  const config::LoadResult loaded = config::load_string(snap, "snapshot", lenient_env);
  ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(messages(loaded)) << "\n" << snap;
  EXPECT_FALSE(loaded.config->telemetry.traces.enabled);
}

class SnapshotFilesTest : public testing::TrailDir {};

TEST_F(SnapshotFilesTest, SecretFilesAndTlsFilesAreReplacedSoItLoadsElsewhere) {
  const auto secret_file = [&](const std::string& name, const std::string& value) {
    write_all(root_ + "/" + name, value + "\n");
    ::chmod((root_ + "/" + name).c_str(), 0600);
  };
  secret_file("openai.key", "sk-secret-file-key-0123456789");
  secret_file("admin.token", "sk-secret-admin-token-0123456789");
  secret_file("redis.pass", "sk-secret-redis-pass");
  secret_file("audit.key", std::string(40, 'a'));
  write_all(root_ + "/ca.pem", "not read at load\n");
  const std::string yaml = R"(server:
  listen: "127.0.0.1:0"
admin:
  listen: "0.0.0.0:9090"
  token_file: admin.token
state:
  store: redis
  url: "rediss://user:sk-secret-in-url@127.0.0.1:6379/0"
  password_file: redis.pass
  tls: {ca_file: ca.pem}
audit: {path: trail, key_file: audit.key}
backends:
  local:
    provider: vllm
    base_url: "${LOCAL_URL:-http://127.0.0.1:8000/v1}"
    model: "cost$$5"
    clearance: restricted
    tls: {ca_file: ca.pem}
  cloud:
    provider: openai
    base_url: "https://api.openai.com/v1"
    api_key_file: openai.key
    model: gpt-4o
    clearance: internal
  inline:
    provider: anthropic
    base_url: "https://api.anthropic.com/v1"
    api_key: "sk-secret-inline-0123456789"
    model: claude
tenants:
  acme: {api_keys: ["sha256:7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725"]}
  lab: {use: research, api_keys: ["sha256:15b184c4c9b35a2f9a98a5d7c9120c45b6d2e759ed8bc2adc2ed744378a3e983"]}
)";
  write_all(root_ + "/c.yaml", yaml);
  const config::LoadResult original = config::load_file(root_ + "/c.yaml", secret_env);
  ASSERT_TRUE(original.ok()) << ::testing::PrintToString(messages(original));
  const std::string snap = snapshot_text(original.config->text, secret_env);
  EXPECT_EQ(snap.find(kSecretMark), std::string::npos) << snap;
  EXPECT_EQ(snap.find("_file"), std::string::npos) << snap;
  EXPECT_EQ(snap.find("7d8828bb"), std::string::npos) << snap;
  EXPECT_EQ(snap.find("audit"), std::string::npos) << snap;
  EXPECT_NE(snap.find("rediss://user:REDACTED@127.0.0.1:6379/0"), std::string::npos) << snap;
  // From another directory, where none of the files exist.
  const config::LoadResult loaded = config::load_string(snap, "snapshot", lenient_env);
  ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(messages(loaded)) << "\n" << snap;
  expect_same_routing(*original.config, *loaded.config);
  EXPECT_EQ(loaded.config->backends[0].model, "cost$5");  // a literal '$' stays one
  EXPECT_EQ(std::string_view(loaded.config->backends[1].api_key), "REDACTED");
  EXPECT_EQ(std::string_view(loaded.config->state.password), "REDACTED");
  EXPECT_FALSE(loaded.config->audit.enabled());
}

// The collector's address and its auth headers are not part of what routes: dropped. And the
// loader's own OTEL_* lookups find nothing, wherever the snapshot is checked.
TEST(SnapshotTest, DropsTelemetryAndLoadsWithoutTheOtelEnvironment) {
  const std::string yaml = R"(
backends:
  local: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
models:
  default: {candidates: [local]}
telemetry:
  traces: {endpoint: "http://collector:4318", headers: {authorization: "Bearer otlp-secret-token"}}
)";
  const config::LoadResult original = config::load_string(yaml, "t.yaml");
  ASSERT_TRUE(original.ok()) << ::testing::PrintToString(messages(original));
  const std::string snap = snapshot_text(original.config->text);
  EXPECT_EQ(snap.find("otlp-secret-token"), std::string::npos) << snap;
  EXPECT_EQ(snap.find("telemetry"), std::string::npos) << snap;
  const config::LoadResult loaded = config::load_string(snap, "snapshot", lenient_env);
  ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(messages(loaded)) << "\n" << snap;
  EXPECT_FALSE(loaded.config->telemetry.traces.enabled);
  EXPECT_EQ(lenient_env("OTEL_EXPORTER_OTLP_ENDPOINT"), std::nullopt);
  EXPECT_EQ(lenient_env("OPENAI_API_KEY"), std::optional<std::string>("REDACTED"));
}

TEST(SnapshotHashTest, IsLowercaseHexSha256) {
  EXPECT_EQ(snapshot_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(snapshot_text("[not: a mapping"), "");
}

}  // namespace
}  // namespace sb::gateway::audit
