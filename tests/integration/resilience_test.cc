// Retries, circuit breakers and active health checks through the real process: a failing backend
// is tried again with backoff (or after the wait it asked for) only before the first byte, taken
// out of rotation when it keeps failing or fails its health probe, and brought back.

#include <csignal>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

Response status_response(unsigned status, Headers headers = {}) {
  Response r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = error_body("scripted failure", status == 429 ? "rate_limit_error" : "server_error",
                      status == 429 ? "rate_limit_exceeded" : "");
  return r;
}

class ResilienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions a;
    a.name = "flaky";
    flaky_ = std::make_unique<FakeUpstream>(a);
    FakeUpstreamOptions b;
    b.name = "spare";
    spare_ = std::make_unique<FakeUpstream>(b);
    FakeUpstreamOptions c;
    c.name = "sick";
    sick_ = std::make_unique<FakeUpstream>(c);
    gw_ = std::make_unique<GatewayProcess>(config("/nope"));
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::string config(const std::string& health_path) const {
    return R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 3, backoff: 1ms, max_backoff: 5ms, max_retry_after: 2s}
backends:
  flaky:
    provider: vllm
    base_url: ")" +
           flaky_->base_url() + R"("
    model: m
    timeouts: {first_token: 300ms, total: 500ms}
    circuit_breaker: {consecutive_failures: 4, open_for: 300ms, max_open_for: 300ms}
  sick:
    provider: vllm
    base_url: ")" +
           sick_->base_url() + R"("
    model: m
    health_check: {interval: 100ms, timeout: 1s, path: ")" +
           health_path + R"(", unhealthy_threshold: 1}
  spare:
    provider: vllm
    base_url: ")" +
           spare_->base_url() + R"("
    model: m
models:
  flaky: {candidates: [flaky]}
  flaky-or-spare: {candidates: [flaky, spare]}
  sick-or-spare: {candidates: [sick, spare]}
)";
  }

  std::optional<HttpResponse> chat(const std::string& model, bool stream = false) {
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body(model, "ping", stream));
  }

  // POST requests the fake received (health probes are GETs).
  static std::size_t posts(const FakeUpstream& f) {
    std::size_t n = 0;
    for (const auto& r : f.requests()) {
      n += r.method == "POST" ? 1 : 0;
    }
    return n;
  }

  std::unique_ptr<FakeUpstream> flaky_;
  std::unique_ptr<FakeUpstream> spare_;
  std::unique_ptr<FakeUpstream> sick_;  // health-checked: its probes must not take scripts
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(ResilienceTest, RetriesTheSameBackendUntilItAnswers) {
  flaky_->push(status_response(503));
  flaky_->push(status_response(502));
  auto got = chat("flaky");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "flaky");
  EXPECT_NE(got->body.find("Hello from flaky: ping"), std::string::npos);
  EXPECT_EQ(posts(*flaky_), 3u);
  const std::string m =
      wait_for_metrics(gw_->admin_port(), {"switchboard_retries_total{backend=\"flaky\"} 2"});
  EXPECT_NE(m.find("switchboard_retries_total{backend=\"flaky\"} 2"), std::string::npos);
}

TEST_F(ResilienceTest, AfterTheLastTryTheClientGetsTheUpstreamAnswer) {
  for (int i = 0; i < 3; ++i) {
    flaky_->push(status_response(429, {{"retry-after", "0"}}));
  }
  auto got = chat("flaky");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 429u) << got->body;
  EXPECT_EQ(got->header("retry-after"), "0");
  EXPECT_NE(got->body.find("scripted failure"), std::string::npos);
  EXPECT_EQ(posts(*flaky_), 3u) << "three tries, as configured";
}

TEST_F(ResilienceTest, ALongRetryAfterMovesOnInsteadOfWaiting) {
  flaky_->push(status_response(429, {{"retry-after", "30"}}));
  auto got = chat("flaky-or-spare");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "spare");
  EXPECT_EQ(posts(*flaky_), 1u) << "no retry on a backend that asked for 30 s";

  // With nowhere else to go, the upstream's answer and its Retry-After reach the client.
  flaky_->push(status_response(429, {{"retry-after", "30"}}));
  auto alone = chat("flaky");
  ASSERT_TRUE(alone);
  EXPECT_EQ(alone->status, 429u);
  EXPECT_EQ(alone->header("retry-after"), "30");
  EXPECT_EQ(posts(*flaky_), 2u);
}

TEST_F(ResilienceTest, ATimeoutIsNotRetriedOnTheSameBackend) {
  Response stall;
  stall.kind = Response::Kind::stall;
  flaky_->push(stall);
  auto got = chat("flaky-or-spare");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "spare");
  EXPECT_EQ(posts(*flaky_), 1u);
}

// A complete answer's header is awaited for the backend's `total` (500 ms here), then 504.
TEST_F(ResilienceTest, ACompleteAnswerStalledPastTheTotalTimeoutIs504) {
  Response stall;
  stall.kind = Response::Kind::stall;
  flaky_->push(stall);
  auto got = chat("flaky");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 504u) << got->body;
  EXPECT_NE(got->body.find("timeout_error"), std::string::npos) << got->body;
  EXPECT_EQ(posts(*flaky_), 1u);
}

TEST_F(ResilienceTest, NothingIsRetriedAfterTheFirstByte) {
  Response cut = sse_response(chat_stream_events("m", {"a", " b", " c", " d"}, false, {1, 4}));
  cut.reset_after_chunks = 2;
  flaky_->push(cut);
  auto got = chat("flaky-or-spare", true);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u);
  EXPECT_NE(got->body.find("upstream_stream_interrupted"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("[DONE]"), std::string::npos);
  EXPECT_EQ(posts(*flaky_), 1u);
  EXPECT_EQ(posts(*spare_), 0u);
}

TEST_F(ResilienceTest, CircuitOpensSkipsTheBackendAndRecovers) {
  for (int i = 0; i < 4; ++i) {
    flaky_->push(status_response(500));
  }
  // Three tries fail on flaky (3 failures), the spare answers.
  auto first = chat("flaky-or-spare");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->header("x-switchboard-backend"), "spare");
  // The fourth failure in a row opens the circuit.
  auto second = chat("flaky-or-spare");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->header("x-switchboard-backend"), "spare");
  ASSERT_EQ(posts(*flaky_), 4u);
  wait_for_metrics(gw_->admin_port(), {"switchboard_backend_up{backend=\"flaky\"} 0\n"});
  // Open: not even tried.
  auto third = chat("flaky-or-spare");
  ASSERT_TRUE(third);
  if (posts(*flaky_) == 4u) {
    EXPECT_EQ(third->header("x-switchboard-backend"), "spare");
  }
  // After the open time one probe goes through; flaky answers again and the circuit closes.
  const std::string half =
      wait_for_metrics(gw_->admin_port(), {"switchboard_backend_up{backend=\"flaky\"} 0.5"}, 5s);
  ASSERT_NE(half.find("switchboard_backend_up{backend=\"flaky\"} 0.5"), std::string::npos);
  auto probe = chat("flaky-or-spare");
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->header("x-switchboard-backend"), "flaky") << probe->body;
  const std::string closed =
      wait_for_metrics(gw_->admin_port(), {"switchboard_backend_up{backend=\"flaky\"} 1"});
  EXPECT_NE(closed.find("switchboard_backend_up{backend=\"flaky\"} 1"), std::string::npos);
}

TEST_F(ResilienceTest, AFailingHealthCheckTakesTheBackendOutUntilItPasses) {
  const std::string down =
      wait_for_metrics(gw_->admin_port(), {"switchboard_backend_up{backend=\"sick\"} 0\n"}, 5s);
  ASSERT_NE(down.find("switchboard_backend_up{backend=\"sick\"} 0\n"), std::string::npos);
  EXPECT_TRUE(gw_->wait_for_log("backend unhealthy", 2s)) << gw_->stderr_text();
  auto got = chat("sick-or-spare");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->header("x-switchboard-backend"), "spare");
  EXPECT_EQ(posts(*sick_), 0u) << "an unhealthy backend gets no traffic";
  bool probed = false;
  for (const auto& r : sick_->requests()) {
    probed = probed || (r.method == "GET" && r.target == "/nope");
  }
  EXPECT_TRUE(probed);

  // The probe path fixed by a reload: the backend passes and serves again.
  gw_->write_config(config("/health"));
  gw_->send_signal(SIGHUP);
  const std::string up =
      wait_for_metrics(gw_->admin_port(), {"switchboard_backend_up{backend=\"sick\"} 1"}, 5s);
  ASSERT_NE(up.find("switchboard_backend_up{backend=\"sick\"} 1"), std::string::npos);
  auto back = chat("sick-or-spare");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->header("x-switchboard-backend"), "sick");
}

}  // namespace
}  // namespace sb::testing
