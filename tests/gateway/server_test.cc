// The server's last-resort error accounting and its process-wide request-body budget, without
// running it: what switchboard_internal_errors_total and the 503 of the body budget rest on.

#include "gateway/control/server.h"
#include "gateway/observability/access_log.h"
#include "gateway/observability/internal_errors.h"
#include "gateway/runtime/worker.h"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace sb::gateway {
namespace {

std::unique_ptr<Server> make_server(metrics::Registry*& registry_out) {
  auto loaded = config::load_string(R"(
backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:9/v1", model: m}
)",
                                    "server_test.yaml");
  EXPECT_TRUE(loaded.ok());
  auto registry = std::make_unique<metrics::Registry>();
  auto shared = std::make_unique<SharedState>(*registry);
  std::vector<std::string> errors;
  auto snap = Snapshot::build(std::move(*loaded.config), *shared, nullptr, errors);
  EXPECT_TRUE(snap) << (errors.empty() ? "" : errors.front());
  registry_out = registry.get();
  return std::make_unique<Server>("server_test.yaml", std::move(snap), std::move(registry),
                                  std::move(shared));
}

TEST(ServerTest, EveryInternalErrorSeriesExistsAtZero) {
  metrics::Registry* registry = nullptr;
  auto server = make_server(registry);
  const std::string text = registry->serialize();
  for (const char* where :
       {"session", "admin", "accept", "health", "reload", "flush", "worker", "upstream"}) {
    EXPECT_NE(
        text.find("switchboard_internal_errors_total{where=\"" + std::string(where) + "\"} 0"),
        std::string::npos)
        << where;
  }
}

TEST(ServerTest, AnEscapedExceptionIsCountedWhereItEscaped) {
  metrics::Registry* registry = nullptr;
  auto server = make_server(registry);
  server->report_internal_error(Where::session,
                                std::make_exception_ptr(std::length_error("field value too large")),
                                "c0-1", "req_1");
  auto guard = server->guard(Where::health);
  guard(std::make_exception_ptr(42));  // not a std::exception
  guard(nullptr);                      // a coroutine that ended normally
  const std::string text = registry->serialize();
  EXPECT_NE(text.find("switchboard_internal_errors_total{where=\"session\"} 1"), std::string::npos);
  EXPECT_NE(text.find("switchboard_internal_errors_total{where=\"health\"} 1"), std::string::npos);
  EXPECT_NE(text.find("switchboard_internal_errors_total{where=\"admin\"} 0"), std::string::npos);
}

TEST(ServerTest, BodyBudgetRefusesPastTheCapAndTakesNothingThen) {
  metrics::Registry* registry = nullptr;
  auto server = make_server(registry);
  EXPECT_TRUE(server->acquire_body_bytes(600, 1000));
  EXPECT_FALSE(server->acquire_body_bytes(500, 1000));
  EXPECT_TRUE(server->acquire_body_bytes(400, 1000));
  EXPECT_FALSE(server->acquire_body_bytes(1, 1000));
  server->release_body_bytes(600);
  EXPECT_TRUE(server->acquire_body_bytes(600, 1000));
  server->release_body_bytes(1000);
  EXPECT_NE(registry->serialize().find("switchboard_buffered_body_bytes 0"), std::string::npos);
}

TEST(ServerTest, ReloadOfAMissingFileFailsWithoutThrowing) {
  metrics::Registry* registry = nullptr;
  auto server = make_server(registry);
  EXPECT_FALSE(server->reload());
}

// The routing engine gets the config without credentials; the runtime keeps them to call the
// upstreams.
// Request ids: "req_", the process's 12 hex digits, the worker's 2, a counter's 8 or more; each
// new, in order.
TEST(WorkerTest, RequestIdsNameTheProcessTheWorkerAndACounter) {
  metrics::Registry registry;
  AccessLog log{-1};
  InternalErrors errors{registry};
  Worker worker{0x1a, log, errors, upstream::PoolSettings{}};
  const std::string first = worker.next_request_id();
  const std::string second = worker.next_request_id();
  ASSERT_EQ(first.size(), 4u + 12u + 2u + 8u) << first;
  EXPECT_TRUE(first.starts_with("req_"));
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef", 4), std::string::npos) << first;
  EXPECT_EQ(first.substr(16, 2), "1a");
  EXPECT_EQ(first.substr(18), "00000001");
  EXPECT_EQ(second.substr(0, 18), first.substr(0, 18));
  EXPECT_EQ(second.substr(18), "00000002");
  Worker other{3, log, errors, upstream::PoolSettings{}};
  EXPECT_EQ(other.next_request_id().substr(16), "0300000001");
}

std::shared_ptr<const Snapshot> snapshot_with_tenants(SharedState& shared,
                                                      const std::string& tenants) {
  auto loaded = config::load_string(R"(
backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:9/v1", model: m}
tenants:
)" + tenants,
                                    "keys_test.yaml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors.front().to_string());
  std::vector<std::string> errors;
  auto snap = Snapshot::build(std::move(*loaded.config), shared, nullptr, errors);
  EXPECT_TRUE(snap) << (errors.empty() ? "" : errors.front());
  return snap;
}

// The thread remembers the last key it accepted: never across a reload, never for another key.
TEST(SnapshotTest, AKeyIsCheckedAgainstTheSnapshotThatAsksNotTheLastAnswer) {
  metrics::Registry registry;
  SharedState shared(registry);
  const std::string one = "sk-key-one-0123456789";
  const std::string two = "sk-key-two-0123456789";
  const std::string hash_one =
      "sha256:5270790333cbc4fa4cf2e583d5d8a3ea08ae581b886e5cac288734babceb574f";
  const std::string hash_two =
      "sha256:10ec801b325035c382f8789f6522ae307bdb86ae0f1b87fde996daf6c79645df";
  auto both = snapshot_with_tenants(shared, "  t1: {api_keys: [\"" + hash_one +
                                                "\"]}\n  t2: {api_keys: [\"" + hash_two + "\"]}\n");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->authenticate(one), std::optional<std::size_t>(0));
  EXPECT_EQ(both->authenticate(one), std::optional<std::size_t>(0));     // remembered
  EXPECT_EQ(both->authenticate("sk-key-one-0123456788"), std::nullopt);  // same length
  EXPECT_EQ(both->authenticate(two), std::optional<std::size_t>(1));

  // A reload takes key one away and moves key two to the first tenant.
  EXPECT_EQ(both->authenticate(two), std::optional<std::size_t>(1));
  auto moved = snapshot_with_tenants(shared, "  t1: {api_keys: [\"" + hash_two + "\"]}\n");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->authenticate(two), std::optional<std::size_t>(0));
  EXPECT_EQ(moved->authenticate(one), std::nullopt);
  EXPECT_EQ(both->authenticate(one), std::optional<std::size_t>(0));  // the older one still says
  EXPECT_EQ(moved->authenticate(one), std::nullopt);
}

TEST(SnapshotTest, TheRoutingEngineHoldsNoCredentials) {
  auto loaded = config::load_string(R"(
admin: {token: "an-admin-token-of-some-length"}
backends:
  a: {provider: openai, base_url: "https://api.openai.com/v1", model: m, api_key: "sk-secret-key",
      headers: {x-extra-auth: "header-secret"}}
  b:
    provider: bedrock
    base_url: "https://bedrock-runtime.us-east-1.amazonaws.com"
    model: anthropic.claude-3-haiku
    aws: {region: us-east-1, access_key_id: AKIAEXAMPLE, secret_access_key: aws-secret}
)",
                                    "snapshot_test.yaml");
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors.front().to_string());
  metrics::Registry registry;
  SharedState shared(registry);
  std::vector<std::string> errors;
  auto snap = Snapshot::build(std::move(*loaded.config), shared, nullptr, errors);
  ASSERT_TRUE(snap) << (errors.empty() ? "" : errors.front());
  const config::Config& routing = snap->engine().config();
  ASSERT_EQ(routing.backends.size(), 2u);
  EXPECT_EQ(routing.backends[0].name, "a");
  EXPECT_TRUE(routing.backends[0].api_key.empty());
  EXPECT_TRUE(routing.backends[0].headers.empty());
  EXPECT_TRUE(routing.backends[1].aws_access_key_id.empty());
  EXPECT_TRUE(routing.backends[1].aws_secret_access_key.empty());
  EXPECT_TRUE(routing.admin.token.empty());
  EXPECT_EQ(std::string_view(snap->config().backends[0].api_key), "sk-secret-key");
  EXPECT_EQ(std::string_view(snap->config().backends[1].aws_secret_access_key), "aws-secret");
  EXPECT_EQ(snap->config().backends[0].headers.at("x-extra-auth"), "header-secret");
}

}  // namespace
}  // namespace sb::gateway
