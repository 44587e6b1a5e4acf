// A client that gives up (an agent's cancel, an SDK's timeout, a closed laptop) through the real
// process: the gateway ends the upstream exchange at once, so that a self-hosted engine stops
// generating an answer nobody will read, tries no other backend for it, counts no upstream
// failure, and records the request as 499 client_gone.

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

class ClientAbortTest : public ::testing::Test {
 public:
  static std::string post(const std::string& id, bool stream,
                          std::string_view model = "slow-or-spare") {
    const std::string body = chat_body(model, "ping", stream);
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "x-request-id: " +
           id + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

 protected:
  void SetUp() override {
    FakeUpstreamOptions s;
    s.name = "slow";
    slow_ = std::make_unique<FakeUpstream>(s);
    FakeUpstreamOptions p;
    p.name = "spare";
    spare_ = std::make_unique<FakeUpstream>(p);
    // Long upstream timeouts: only the client's leaving can end a stalled exchange in time.
    gw_ = std::make_unique<GatewayProcess>(R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 3, backoff: 1ms, max_backoff: 5ms}
backends:
  slow:
    provider: vllm
    base_url: ")" + slow_->base_url() + R"("
    model: m
    timeouts: {first_token: 60s, idle: 60s, total: 120s}
  spare:
    provider: vllm
    base_url: ")" + spare_->base_url() + R"("
    model: m
models:
  slow-or-spare: {candidates: [slow, spare]}
  spare-then-slow: {candidates: [spare, slow]}
)");
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  // Polls `done` every 10 ms for up to `limit`.
  template <class Done>
  static bool eventually(Done done, std::chrono::milliseconds limit = 5000ms) {
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms)) {
      if (done()) {
        return true;
      }
    }
    return done();
  }

  std::unique_ptr<FakeUpstream> slow_;
  std::unique_ptr<FakeUpstream> spare_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(ClientAbortTest, AClientThatLeavesAWaitingRequestEndsItsUpstreamExchange) {
  Response stall;
  stall.kind = Response::Kind::stall;  // an engine still generating a long answer
  slow_->push(stall);
  {
    Client client(gw_->port());
    client.send_raw(post("gone-waiting", false));
    ASSERT_TRUE(eventually([&] { return slow_->requests().size() == 1; }));
  }  // the client closes its connection
  EXPECT_TRUE(eventually([&] { return slow_->abandoned() == 1; }))
      << "the upstream exchange outlived its client";
  const std::string line = gw_->access_line("gone-waiting");
  EXPECT_NE(line.find(R"("status":499)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("error":"client_gone")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("attempts":1)"), std::string::npos) << line;
  // The prompt went upstream: it is counted (an estimate: no usage came back).
  EXPECT_EQ(line.find(R"("tokens_in":null)"), std::string::npos) << line;
  EXPECT_TRUE(spare_->requests().empty()) << "a request nobody waits for was tried again";
  const std::string m =
      wait_for_metrics(gw_->admin_port(), {R"(rule="default",status="499",tenant="default"} 1)"});
  EXPECT_NE(m.find(R"(backend="slow",hosting="self-hosted",model="slow-or-spare",)"
                   R"(rule="default",status="499",tenant="default"} 1)"),
            std::string::npos)
      << m;
  const std::string estimated =
      R"(switchboard_tokens_total{backend="slow",direction="input",source="estimated",)"
      R"(tenant="default"} )";
  const std::size_t at = m.find(estimated);
  ASSERT_NE(at, std::string::npos) << m;
  EXPECT_GT(std::stod(m.substr(at + estimated.size())), 0.0) << m;
  // A client's leaving is no failure of the backend's.
  const std::string errors = R"(switchboard_upstream_errors_total{backend="slow")";
  for (std::size_t e = m.find(errors); e != std::string::npos; e = m.find(errors, e + 1)) {
    const std::string error_line = m.substr(e, m.find('\n', e) - e);
    EXPECT_TRUE(error_line.ends_with(" 0")) << error_line;
  }

  // The connection the gateway keeps for the next request still serves it.
  auto r =
      request(gw_->port(), "POST", "/v1/chat/completions", chat_body("slow-or-spare", "hi", false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "slow");
}

TEST_F(ClientAbortTest, AClientThatLeavesAStreamBetweenEventsEndsItsUpstreamExchange) {
  Response r = sse_response(chat_stream_events("m", {"Hel", "lo"}, false, {}));
  r.stall_after_chunks = 2;  // the role chunk and "Hel", then a long pause (a tool's thinking)
  slow_->push(r);
  {
    Client client(gw_->port());
    client.send_raw(post("gone-streaming", true));
    const std::optional<HttpResponse> head = client.read_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200u);
    const std::optional<std::string> first = client.read_chunk();
    ASSERT_TRUE(first);
  }
  EXPECT_TRUE(eventually([&] { return slow_->abandoned() == 1; }))
      << "the upstream stream outlived its client";
  const std::string line = gw_->access_line("gone-streaming");
  EXPECT_NE(line.find(R"("status":200)"), std::string::npos) << line;  // its head was sent
  EXPECT_NE(line.find(R"("error":"client_gone")"), std::string::npos) << line;
  EXPECT_TRUE(spare_->requests().empty());
}

TEST_F(ClientAbortTest, TheTryAfterAFailedOneIsWatchedToo) {
  // The first backend fails (and is retried) at once; the client leaves while the next one works.
  for (int k = 0; k < 3; ++k) {
    Response failed;
    failed.status = 503;
    failed.body = error_body("overloaded", "server_error", "");
    spare_->push(failed);
  }
  Response stall;
  stall.kind = Response::Kind::stall;
  slow_->push(stall);
  {
    Client client(gw_->port());
    client.send_raw(post("gone-after-failover", false, "spare-then-slow"));
    ASSERT_TRUE(eventually([&] { return slow_->requests().size() == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return slow_->abandoned() == 1; }))
      << "the upstream exchange outlived its client";
  const std::string line = gw_->access_line("gone-after-failover");
  EXPECT_NE(line.find(R"("status":499)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("backend":"slow")"), std::string::npos) << line;
}

TEST(ClientAbortPipelineTest, APipelinedRequestIsNotTakenForALeavingClient) {
  // Bytes from the client while its request waits are not a hangup: both requests are answered
  // on the connection, in order.
  FakeUpstreamOptions o;
  o.name = "slow";
  o.latency = 300ms;  // each answer waits: the second request arrives meanwhile
  FakeUpstream slow(o);
  GatewayProcess gw(R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
backends:
  slow:
    provider: vllm
    base_url: ")" + slow.base_url() +
                    R"("
    model: m
models:
  slow-or-spare: {candidates: [slow]}
)");
  ASSERT_TRUE(gw.started()) << gw.stderr_text();
  Client client(gw.port());
  client.send_raw(ClientAbortTest::post("first", false));
  std::this_thread::sleep_for(50ms);
  client.send_raw(ClientAbortTest::post("second", false));
  for (const char* id : {"first", "second"}) {
    const std::optional<HttpResponse> r = client.read_response();
    ASSERT_TRUE(r) << id;
    EXPECT_EQ(r->status, 200u) << id << ": " << r->body;
    EXPECT_EQ(r->header("x-request-id"), id);
  }
  EXPECT_EQ(slow.requests().size(), 2u);
}

}  // namespace
}  // namespace sb::testing
