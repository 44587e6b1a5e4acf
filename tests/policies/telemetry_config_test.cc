// The `telemetry:` section: trace export settings, the OTEL_* environment variables that fill
// what the YAML leaves out, and one valid config broken one way per case with the exact message.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"

namespace sb::config {
namespace {

using namespace std::chrono_literals;
using Errors = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

Errors messages(const LoadResult& result) {
  Errors out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// Line 1 is `backends:`, line 3 `telemetry:`, line 4 `  traces:`; the given keys follow from
// line 5, indented by four spaces.
LoadResult load(std::string_view traces, const Env& env = {}) {
  std::string yaml =
      "backends:\n"
      "  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n";
  if (!traces.empty()) {
    yaml += "telemetry:\n  traces:\n";
    yaml += traces;
  }
  return load_string(yaml, "t.yaml", [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

TraceSettings settings_of(const LoadResult& r) {
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  return r.ok() ? r.config->telemetry.traces : TraceSettings{};
}

Errors errors_of(std::string_view traces, const Env& env = {}) {
  const LoadResult r = load(traces, env);
  EXPECT_FALSE(r.ok());
  return messages(r);
}

TEST(TelemetryConfigTest, OffWithoutEndpoint) {
  const TraceSettings s = settings_of(load(""));
  EXPECT_FALSE(s.enabled);
  EXPECT_EQ(s.service_name, "switchboard");
  EXPECT_EQ(s.sample_ratio, 1.0);
  EXPECT_FALSE(s.propagate_to_closed);
  EXPECT_EQ(s.queue, 2048u);
  EXPECT_EQ(s.batch, 512u);
  EXPECT_EQ(s.interval, 1s);
  EXPECT_EQ(s.timeout, 5s);
  EXPECT_FALSE(settings_of(load("    service_name: x\n")).enabled);
}

TEST(TelemetryConfigTest, EveryKeyIsRead) {
  const TraceSettings s = settings_of(
      load("    endpoint: \"http://127.0.0.1:4318\"\n    service_name: gw\n    sample_ratio: 0.25\n"
           "    propagate_to_closed: true\n    queue: 100\n    batch: 10\n    interval: 200ms\n"
           "    timeout: 2s\n    headers: {Authorization: \"Bearer t\"}\n"
           "    resource: {deployment.environment: prod}\n"));
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.endpoint, "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(s.service_name, "gw");
  EXPECT_EQ(s.sample_ratio, 0.25);
  EXPECT_TRUE(s.propagate_to_closed);
  EXPECT_EQ(s.queue, 100u);
  EXPECT_EQ(s.batch, 10u);
  EXPECT_EQ(s.interval, 200ms);
  EXPECT_EQ(s.timeout, 2s);
  EXPECT_EQ(s.headers, (std::map<std::string, std::string>{{"Authorization", "Bearer t"}}));
  EXPECT_EQ(s.resource, (std::map<std::string, std::string>{{"deployment.environment", "prod"}}));
}

TEST(TelemetryConfigTest, DefaultBatchFollowsASmallerQueue) {
  EXPECT_EQ(settings_of(load("    queue: 100\n")).batch, 100u);
  EXPECT_EQ(settings_of(load("    queue: 1000\n")).batch, 512u);
}

TEST(TelemetryConfigTest, EndpointGetsTheTracesPathOnce) {
  EXPECT_EQ(settings_of(load("    endpoint: \"http://c:4318/\"\n")).endpoint,
            "http://c:4318/v1/traces");
  EXPECT_EQ(settings_of(load("    endpoint: \"http://c:4318/otlp\"\n")).endpoint,
            "http://c:4318/otlp/v1/traces");
  EXPECT_EQ(settings_of(load("    endpoint: \"http://c:4318/v1/traces\"\n")).endpoint,
            "http://c:4318/v1/traces");
}

TEST(TelemetryConfigTest, EnvironmentFillsWhatTheYamlLeavesOut) {
  const Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://10.0.0.1:4318"},
                {"OTEL_SERVICE_NAME", "from-env"},
                {"OTEL_TRACES_SAMPLER_ARG", "0.5"},
                {"OTEL_RESOURCE_ATTRIBUTES", "a=1, b = x%20y ,service.name=ignored"}};
  TraceSettings s = settings_of(load("", env));
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.endpoint, "http://10.0.0.1:4318/v1/traces");
  EXPECT_EQ(s.service_name, "from-env");
  EXPECT_EQ(s.sample_ratio, 0.5);
  EXPECT_EQ(s.resource, (std::map<std::string, std::string>{{"a", "1"}, {"b", "x y"}}));
  s =
      settings_of(load("    endpoint: \"http://y:1\"\n    service_name: yaml\n    sample_ratio: 0\n"
                       "    resource: {a: yaml}\n",
                       env));
  EXPECT_EQ(s.endpoint, "http://y:1/v1/traces");
  EXPECT_EQ(s.service_name, "yaml");
  EXPECT_EQ(s.sample_ratio, 0.0);
  EXPECT_EQ(s.resource, (std::map<std::string, std::string>{{"a", "yaml"}, {"b", "x y"}}));
}

TEST(TelemetryConfigTest, TracesEndpointVariableIsTakenAsIs) {
  const Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"},
                {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4318/custom"}};
  EXPECT_EQ(settings_of(load("", env)).endpoint, "http://t:4318/custom");
}

TEST(TelemetryConfigTest, ResourceServiceNameFromEnvironmentWhenNothingElse) {
  const Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://b:4318"},
                {"OTEL_RESOURCE_ATTRIBUTES", "service.name=res"}};
  EXPECT_EQ(settings_of(load("", env)).service_name, "res");
}

TEST(TelemetryConfigTest, SdkDisabledTurnsTracingOff) {
  const Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://b:4318"}, {"OTEL_SDK_DISABLED", "TRUE"}};
  EXPECT_FALSE(settings_of(load("    endpoint: \"http://c:1\"\n", env)).enabled);
  EXPECT_FALSE(settings_of(load("", env)).enabled);
  const Env not_disabled{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://b:4318"},
                         {"OTEL_SDK_DISABLED", "false"}};
  EXPECT_TRUE(settings_of(load("", not_disabled)).enabled);
}

TEST(TelemetryConfigTest, InvalidEnvironmentValuesAreNotices) {
  const Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://b:4318"},
                {"OTEL_TRACES_SAMPLER_ARG", "2"},
                {"OTEL_RESOURCE_ATTRIBUTES", "novalue,k=%zz"}};
  const LoadResult r = load("", env);
  const TraceSettings s = settings_of(r);
  EXPECT_EQ(s.sample_ratio, 1.0);
  EXPECT_TRUE(s.resource.empty());
  EXPECT_EQ(r.config->notices,
            (Errors{"telemetry: OTEL_TRACES_SAMPLER_ARG '2' ignored: expected a number from 0 to 1",
                    "telemetry: OTEL_RESOURCE_ATTRIBUTES entry 'novalue' ignored: expected "
                    "key=value",
                    "telemetry: OTEL_RESOURCE_ATTRIBUTES entry 'k=%zz' ignored: expected "
                    "key=value"}));
}

// A platform-wide OTEL_* endpoint the gateway cannot use (https, another scheme) turns tracing
// off with a notice; the gateway still starts. The same value in the YAML is an error.
TEST(TelemetryConfigTest, BadEnvironmentEndpointTurnsTracingOffWithANotice) {
  const LoadResult r = load("", {{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"}});
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_FALSE(r.config->telemetry.traces.enabled);
  EXPECT_EQ(r.config->notices.back(),
            "telemetry: OTEL_EXPORTER_OTLP_ENDPOINT 'ftp://x' ignored (tracing off): expected an "
            "http:// URL (OTLP/HTTP)");
  const LoadResult https =
      load("    queue: 5\n", {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://x"}});
  ASSERT_TRUE(https.ok());
  EXPECT_FALSE(https.config->telemetry.traces.enabled);
  EXPECT_NE(https.config->notices.back().find("https is not supported yet"), std::string::npos);
  EXPECT_FALSE(load("    endpoint: \"https://x\"\n").ok());
}

TEST(TelemetryConfigTest, BrokenOneWayPerCase) {
  const struct {
    std::string_view yaml;
    std::string error;
  } cases[] = {
      {"    endpoint: \"https://c:4318\"\n",
       "t.yaml:5:15: telemetry.traces.endpoint: https is not supported yet: export to a "
       "collector over http (on loopback or a sidecar)"},
      {"    endpoint: \"grpc://c:4317\"\n",
       "t.yaml:5:15: telemetry.traces.endpoint: expected an http:// URL (OTLP/HTTP)"},
      {"    endpoint: \"http://u:p@c:4318\"\n",
       "t.yaml:5:15: telemetry.traces.endpoint: must not hold credentials (use headers:)"},
      {"    endpoint: \"http://c:4318/?a=1\"\n",
       "t.yaml:5:15: telemetry.traces.endpoint: must not have a query or fragment"},
      {"    endpoint: \"http://:4318\"\n",
       "t.yaml:5:15: telemetry.traces.endpoint: not a valid URL"},
      {"    endpoint: \"\"\n", "t.yaml:5:15: telemetry.traces.endpoint: must not be empty"},
      {"    sample_ratio: 1.5\n",
       "t.yaml:5:19: telemetry.traces.sample_ratio: expected a number from 0 to 1"},
      {"    sample_ratio: x\n",
       "t.yaml:5:19: telemetry.traces.sample_ratio: expected a number from 0 to 1"},
      {"    queue: 0\n",
       "t.yaml:5:12: telemetry.traces.queue: expected an integer from 1 to 1000000"},
      {"    queue: 10\n    batch: 11\n",
       "t.yaml:6:12: telemetry.traces.batch: must not be more than queue (10)"},
      {"    interval: 0s\n", "t.yaml:5:15: telemetry.traces.interval: must be greater than zero"},
      {"    timeout: 2m\n", "t.yaml:5:14: telemetry.traces.timeout: must be at most 60s"},
      {"    propagate_to_closed: maybe\n",
       "t.yaml:5:26: telemetry.traces.propagate_to_closed: expected true or false"},
      {"    headers: {Content-Type: x}\n",
       "t.yaml:5:15: telemetry.traces.headers: header 'Content-Type' cannot be set "
       "(hop-by-hop or set by the exporter)"},
      {"    headers: {\"a b\": x}\n",
       "t.yaml:5:15: telemetry.traces.headers: invalid header name 'a b'"},
      {"    headers: {x: [1]}\n", "t.yaml:5:18: telemetry.traces.headers.x: expected a string"},
      {"    resource: {service.name: x}\n",
       "t.yaml:5:16: telemetry.traces.resource: set service.name with "
       "telemetry.traces.service_name"},
      {"    resource: {a: [1]}\n",
       "t.yaml:5:19: telemetry.traces.resource.a: expected a scalar value"},
      {"    colour: red\n",
       "t.yaml:5:5: telemetry.traces: unknown key 'colour' (expected one of: endpoint, "
       "service_name, sample_ratio, propagate_to_closed, queue, batch, interval, timeout, "
       "headers, resource)"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(errors_of(c.yaml), Errors{c.error}) << c.yaml;
  }
}

TEST(TelemetryConfigTest, UnknownTelemetryKey) {
  const LoadResult r = load_string(
      "backends:\n  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n"
      "telemetry: {metrics: {}}\n",
      "t.yaml", [](const std::string&) { return std::nullopt; });
  EXPECT_EQ(messages(r), Errors{"t.yaml:3:13: telemetry: unknown key 'metrics' (expected one of: "
                                "traces)"});
}

}  // namespace
}  // namespace sb::config
