// Policy routing through the real process: content-detected sensitivity keeps data at home, the
// clearance invariant holds even when the only cleared backend is down, tenants authenticate,
// budgets cannot be overspent by concurrency, and every decision explains itself.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/integration/test_config.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPaymentsKey = "sk-test-payments";

std::string routing_config(const FakeUpstream& local, const FakeUpstream& closed,
                           const std::string& local_url_override = {},
                           const std::string& extra = {}) {
  const std::string local_url = local_url_override.empty() ? local.base_url() : local_url_override;
  return R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
backends:
  local:
    provider: vllm
    hosting: self-hosted
    base_url: ")" +
         local_url + R"("
    model: "pinned/local"
    tier: standard
    clearance: restricted
    price: {gpu_hour_usd: 3.6, tokens_per_second: 1000}
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
  closed:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
         closed.base_url() + R"("
    api_key: "sk-backend"
    model: "gpt-4o"
    tier: frontier
    clearance: internal
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
models:
  default: {candidates: [closed, local]}
policies:
  - name: sensitive-stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: [local], on_unavailable: reject}
  - name: default
    route: {to: [closed, local]}
)" + extra;
}

class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions co;
    co.name = "closed";
    closed_ = std::make_unique<FakeUpstream>(co);
  }
  void start(const std::string& yaml) {
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }
  std::optional<HttpResponse> chat(std::string_view text,
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body("default", text, false),
                   headers);
  }
  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(RoutingTest, CleanTrafficGoesToTheDefaultRoute) {
  start(routing_config(*local_, *closed_));
  auto r = chat("what is the capital of France");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "closed");
  EXPECT_EQ(r->header("x-switchboard-rule"), "default");
  EXPECT_EQ(r->header("x-switchboard-sensitivity"), "public");
  EXPECT_EQ(r->header("x-switchboard-tier"), "standard");
}

TEST_F(RoutingTest, CardNumberKeepsTheRequestSelfHosted) {
  start(routing_config(*local_, *closed_));
  auto r = chat("charge card 4111 1111 1111 1111 please");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "local");
  EXPECT_EQ(r->header("x-switchboard-rule"), "sensitive-stays-home");
  EXPECT_EQ(r->header("x-switchboard-sensitivity"), "restricted");
  EXPECT_TRUE(closed_->requests().empty());
  // The audit line names the entity type, never the value.
  std::string log;
  for (int i = 0; i < 200 && log.find("\"type\":\"audit\"") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
    log = gw_->stdout_text();
  }
  EXPECT_NE(log.find("\"credit_card\":1"), std::string::npos) << log;
  EXPECT_EQ(log.find("4111 1111"), std::string::npos) << log;
}

TEST_F(RoutingTest, ClassificationHeaderRaisesButNeverLowers) {
  start(routing_config(*local_, *closed_));
  auto raised = chat("nothing special here", {{"x-data-classification", "confidential"}});
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->header("x-switchboard-backend"), "local");
  EXPECT_EQ(raised->header("x-switchboard-sensitivity"), "confidential");
  auto not_lowered = chat("mail me at jane.doe@contoso.com", {{"x-data-classification", "public"}});
  ASSERT_TRUE(not_lowered);
  EXPECT_EQ(not_lowered->header("x-switchboard-backend"), "local");
  EXPECT_EQ(not_lowered->header("x-switchboard-sensitivity"), "confidential");
  auto bogus = chat("x", {{"x-data-classification", "top-secret"}});
  ASSERT_TRUE(bogus);
  EXPECT_EQ(bogus->status, 400u);
  EXPECT_TRUE(closed_->requests().empty());
}

TEST_F(RoutingTest, SensitiveRequestFailsRatherThanLeakWhenTheClearedBackendIsDown) {
  // The only backend cleared for the data is down; the closed one is up and must see nothing,
  // not as a fallback, not as a retry.
  start(routing_config(*local_, *closed_,
                       "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1"));
  auto r = chat("my SSN is 123-45-6789 and card 5555 5555 5555 4444");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->status == 502u || r->status == 503u || r->status == 403u) << r->status;
  EXPECT_NE(r->header("x-switchboard-sensitivity"), "public");
  auto stream = request(gw_->port(), "POST", "/v1/chat/completions",
                        chat_body("default", "card 4111111111111111", true));
  ASSERT_TRUE(stream);
  EXPECT_NE(stream->status, 200u);
  EXPECT_TRUE(closed_->requests().empty()) << "sensitive data reached the closed provider";
}

TEST_F(RoutingTest, NoClearedBackendIsA403NamingTheEntityTypes) {
  // A config where nothing is cleared above internal.
  const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
backends:
  closed: {provider: openai, allow_insecure: true, base_url: ")" +
                           closed_->base_url() + R"(", model: gpt-4o, clearance: internal}
models:
  default: {candidates: [closed]}
)";
  start(yaml);
  auto r = chat("card 4111 1111 1111 1111 and mail bob@fabrikam.org");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403u) << r->body;
  EXPECT_NE(r->body.find("restricted"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("credit_card"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("4111 1111"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("bob@fabrikam.org"), std::string::npos) << r->body;
  // The refusal tells the decision as an answer does.
  EXPECT_EQ(r->header("x-switchboard-rule"), "default");
  EXPECT_EQ(r->header("x-switchboard-sensitivity"), "restricted");
  EXPECT_EQ(r->header("x-switchboard-tier"), "standard");
  EXPECT_TRUE(closed_->requests().empty());
  // A body refused before any decision carries none of it.
  auto bad = request(gw_->port(), "POST", "/v1/chat/completions", "{not json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400u);
  EXPECT_EQ(bad->header("x-switchboard-rule"), "");
  EXPECT_EQ(bad->header("x-switchboard-tier"), "");
}

TEST_F(RoutingTest, ExplainShowsTheDecisionWithoutValues) {
  start(routing_config(*local_, *closed_));
  const std::string body = chat_body("default", "card 4111 1111 1111 1111", false);
  auto r = request(gw_->admin_port(), "POST", "/admin/explain", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_NE(r->body.find("sensitive-stays-home"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("credit_card"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"closed\""), std::string::npos) << "every other backend is named";
  EXPECT_EQ(r->body.find("4111 1111"), std::string::npos) << r->body;
  EXPECT_TRUE(local_->requests().empty()) << "explain sends nothing";
  EXPECT_TRUE(closed_->requests().empty());
}

TEST_F(RoutingTest, ExplainScansEveryValueOfARepeatedKey) {
  // As the data plane decides: the DOM keeps the last `messages`, the bytes hold both.
  start(routing_config(*local_, *closed_));
  const std::string body =
      R"({"model":"default","messages":[{"role":"user","content":"card 4111 1111 1111 1111"}],)"
      R"("messages":[{"role":"user","content":"hello"}]})";
  auto r = request(gw_->admin_port(), "POST", "/admin/explain", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_NE(r->body.find("sensitive-stays-home"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("credit_card"), std::string::npos) << r->body;
}

TEST_F(RoutingTest, MetricsCountDecisionsSensitivityAndCost) {
  start(routing_config(*local_, *closed_));
  ASSERT_TRUE(chat("card 4111 1111 1111 1111"));
  ASSERT_TRUE(chat("hello"));
  const std::vector<std::string> expected = {
      "switchboard_sensitive_requests_total{entity=\"credit_card\",level=\"restricted\"} 1",
      "switchboard_decisions_total{outcome=\"route\",rule=\"default\"} 1",
      "switchboard_decisions_total{outcome=\"route\",rule=\"sensitive-stays-home\"} 1",
      "switchboard_cost_usd_total{backend=\"closed\",hosting=\"closed\",tenant=\"default\"}",
      "switchboard_cost_usd_total{backend=\"local\",hosting=\"self-hosted\",tenant=\"default\"}",
      "switchboard_savings_usd_total{tenant=\"default\"}",
  };
  const std::string m = wait_for_metrics(gw_->admin_port(), expected);
  for (const auto& e : expected) {
    EXPECT_NE(m.find(e), std::string::npos) << e << "\n" << m;
  }
}

constexpr const char* kTeamKeyHash =
    "sha256:6e7619f899e820b5223eb451459f973b0bbdd8239bc2e2a85acb2bbc1ac5482c";  // sk-test-payments

TEST_F(RoutingTest, ApiKeysAuthenticateTenantsAndTheirFloorApplies) {
  start(routing_config(*local_, *closed_, {},
                       std::string("tenants:\n  payments: {api_keys: [\"") + kTeamKeyHash +
                           "\"], floor: confidential}\n"));
  auto none = chat("hello");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401u);
  auto wrong = chat("hello", {{"Authorization", "Bearer sk-wrong"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401u);
  EXPECT_NE(wrong->body.find("invalid_api_key"), std::string::npos);
  auto ok = chat("hello", {{"Authorization", std::string("Bearer ") + kPaymentsKey}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200u) << ok->body;
  // The tenant's floor makes even clean text confidential: it stays home.
  EXPECT_EQ(ok->header("x-switchboard-sensitivity"), "confidential");
  EXPECT_EQ(ok->header("x-switchboard-backend"), "local");
  auto anthropic_style = chat("hello", {{"x-api-key", kPaymentsKey}});
  ASSERT_TRUE(anthropic_style);
  EXPECT_EQ(anthropic_style->status, 200u);
  EXPECT_TRUE(closed_->requests().empty());
  EXPECT_EQ(local_->requests().size(), 2u);
  EXPECT_FALSE(local_->requests().front().header("authorization"))
      << "the client's key never reaches an upstream";
}

TEST_F(RoutingTest, ConcurrentRequestsCannotOverspendABudget) {
  // Each request reserves $1 (1000 output tokens at $1000 per million); the budget holds $5.
  FakeUpstreamOptions slow;
  slow.name = "closed";
  slow.latency = 1500ms;
  closed_ = std::make_unique<FakeUpstream>(slow);
  const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
backends:
  closed:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + closed_->base_url() +
                           R"("
    model: gpt-4o
    clearance: restricted
    price: {input_per_mtok: 0, output_per_mtok: 1000}
    timeouts: {connect: 1s, first_token: 10s, idle: 10s, total: 20s}
models:
  default: {candidates: [closed]}
tenants:
  team: {api_keys: [")" + std::string(kTeamKeyHash) +
                           R"("], budget: {daily_usd: 5, on_exhausted: reject}}
)";
  start(yaml);
  std::atomic<int> ok{0};
  std::atomic<int> limited{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 50; ++i) {
    clients.emplace_back([&] {
      auto r = request(gw_->port(), "POST", "/v1/chat/completions",
                       chat_body("default", "hi", false, ",\"max_tokens\":1000"),
                       {{"Authorization", std::string("Bearer ") + kPaymentsKey}});
      if (r && r->status == 200) {
        ++ok;
      } else if (r && r->status == 429) {
        ++limited;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(limited.load(), 45);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(closed_->requests().size(), 5u);
}

TEST_F(RoutingTest, EgressNoneTurnsClosedBackendsOff) {
  start(routing_config(*local_, *closed_, {}, "egress: none\n"));
  EXPECT_NE(gw_->stderr_text().find("egress"), std::string::npos) << gw_->stderr_text();
  auto r = chat("clean question");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "local");
  EXPECT_TRUE(closed_->requests().empty());
}

}  // namespace
}  // namespace sb::testing
