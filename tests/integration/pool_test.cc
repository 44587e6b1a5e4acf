// Pools and engine load through the real process: a backend with several `endpoints:` shares
// its traffic between them (power of two choices, or prefix affinity) and moves it off an
// endpoint that fails; engines' Prometheus metrics are scraped in the background and exported
// as switchboard_backend_* gauges, and go stale when the metrics endpoint stops answering; a
// `spill` rule's queue answers 503 with Retry-After when full or when its wait times out.

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

// A vLLM (v1) exposition with the load signals the gateway reads.
std::string vllm_metrics(double waiting, double running, double kv) {
  const std::string labels = R"({engine="0",model_name="m"})";
  std::string t;
  t += "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n";
  t += "# TYPE vllm:num_requests_waiting gauge\n";
  t += "vllm:num_requests_waiting" + labels + " " + std::to_string(waiting) + "\n";
  t += "# HELP vllm:num_requests_running Number of requests in model execution batches.\n";
  t += "# TYPE vllm:num_requests_running gauge\n";
  t += "vllm:num_requests_running" + labels + " " + std::to_string(running) + "\n";
  t += "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n";
  t += "# TYPE vllm:kv_cache_usage_perc gauge\n";
  t += "vllm:kv_cache_usage_perc" + labels + " " + std::to_string(kv) + "\n";
  return t;
}

std::size_t posts(const FakeUpstream& f) {
  std::size_t n = 0;
  for (const auto& r : f.requests()) {
    n += r.method == "POST" ? 1 : 0;
  }
  return n;
}

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"gpu-a", "gpu-b"}) {
      FakeUpstreamOptions o;
      o.name = name;
      o.metrics = vllm_metrics(0, 0, 0.1);
      engines_.push_back(std::make_unique<FakeUpstream>(o));
    }
  }

  void start(const std::string& backend_extra, const std::string& rest = {}) {
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 3, backoff: 1ms, max_backoff: 5ms}
backends:
  pool:
    provider: vllm
    endpoints: [")" + engines_[0]->base_url() +
                             R"(", ")" + engines_[1]->base_url() + R"("]
    model: m
    timeouts: {connect: 200ms, first_token: 2s}
    circuit_breaker: {consecutive_failures: 2, open_for: 10s, max_open_for: 10s}
)" + backend_extra + R"(
models:
  pool: {candidates: [pool]}
)" + rest;
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::optional<HttpResponse> chat(const std::string& text) {
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body("pool", text, false));
  }

  std::string endpoint_label(std::size_t i) const {
    return "backend=\"pool\",endpoint=\"" + engines_[i]->base_url() + "\"";
  }

  std::vector<std::unique_ptr<FakeUpstream>> engines_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(PoolTest, TwoEndpointsShareTheLoad) {
  start("    affinity: none");
  for (int i = 0; i < 60; ++i) {
    auto r = chat("question " + std::to_string(i));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(r->header("x-switchboard-backend"), "pool");
  }
  const std::size_t a = posts(*engines_[0]);
  const std::size_t b = posts(*engines_[1]);
  EXPECT_EQ(a + b, 60u);
  // Sequential requests leave both idle: the two choices tie and the first drawn wins, so the
  // split is a fair coin's (60 tosses: below 15 on one side about 1 in 10,000).
  EXPECT_GE(a, 15u);
  EXPECT_GE(b, 15u);
  const std::string m = wait_for_metrics(
      gw_->admin_port(),
      {"switchboard_endpoint_requests_total{" + endpoint_label(0) + "} " + std::to_string(a),
       "switchboard_endpoint_requests_total{" + endpoint_label(1) + "} " + std::to_string(b)});
  EXPECT_NE(
      m.find("switchboard_endpoint_requests_total{" + endpoint_label(0) + "} " + std::to_string(a)),
      std::string::npos)
      << m;
}

TEST_F(PoolTest, AffinityKeepsAConversationOnOneEndpointAndSpreadsOthers) {
  start("    affinity: {prefix_tokens: 64, max_load_factor: 1.25}");
  for (int i = 0; i < 10; ++i) {
    auto r = chat("the same long conversation that should reuse one replica's prefix cache");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
  }
  const std::size_t a = posts(*engines_[0]);
  const std::size_t b = posts(*engines_[1]);
  EXPECT_TRUE((a == 10 && b == 0) || (a == 0 && b == 10)) << a << " / " << b;
  for (int i = 0; i < 40; ++i) {
    auto r = chat("conversation number " + std::to_string(i));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_GE(posts(*engines_[0]), 8u);
  EXPECT_GE(posts(*engines_[1]), 8u);
}

TEST_F(PoolTest, AKilledEndpointsTrafficMovesToTheOther) {
  start("    affinity: none");
  const std::string dead_url = engines_[1]->base_url();
  // The engine dies: every connection it takes is reset unanswered. (Destroying the fake would
  // not refuse connections here: the gateway process, forked after the fakes started, inherits
  // their listening sockets, so connects would hang in its backlog.)
  engines_[1]->drop_connections();
  for (int i = 0; i < 20; ++i) {
    Response reset;
    reset.kind = Response::Kind::reset_on_read;
    engines_[1]->push(reset);
  }
  for (int i = 0; i < 20; ++i) {
    auto r = chat("still there? " + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    EXPECT_NE(r->body.find("Hello from gpu-a"), std::string::npos) << r->body;
  }
  EXPECT_EQ(posts(*engines_[0]), 20u);
  // The dead endpoint's circuit opened after two failures: at most two tries went to it.
  const std::string m =
      wait_for_metrics(gw_->admin_port(), {"switchboard_endpoint_requests_total"});
  const std::string dead =
      "switchboard_endpoint_requests_total{backend=\"pool\",endpoint=\"" + dead_url + "\"} ";
  const auto at = m.find(dead);
  ASSERT_NE(at, std::string::npos) << m;
  EXPECT_LE(std::stoi(m.substr(at + dead.size())), 2) << m;
  // The pool stays up while one endpoint is.
  EXPECT_NE(m.find("switchboard_backend_up{backend=\"pool\"} 1"), std::string::npos) << m;
}

// Health checks run per endpoint: a replica failing its probe leaves the rotation alone (no
// request is even tried on it), the pool stays up on the other, and a passing probe brings it
// back. The probe path is the fakes' /metrics, which answers 503 once it is taken away.
TEST_F(PoolTest, AReplicaFailingItsHealthCheckIsTakenOutAloneAndComesBack) {
  start(
      "    affinity: none\n"
      "    health_check: {interval: 50ms, timeout: 500ms, path: /metrics, unhealthy_threshold: 1}");
  engines_[1]->set_metrics(std::nullopt);
  ASSERT_TRUE(gw_->wait_for_log("backend unhealthy", 5s)) << gw_->stderr_text();
  EXPECT_NE(gw_->stderr_text().find(engines_[1]->base_url()), std::string::npos)
      << gw_->stderr_text();
  const std::size_t before = posts(*engines_[1]);
  for (int i = 0; i < 10; ++i) {
    auto r = chat("which replica? " + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    EXPECT_NE(r->body.find("Hello from gpu-a"), std::string::npos) << r->body;
  }
  EXPECT_EQ(posts(*engines_[1]), before) << "an unhealthy replica gets no traffic";
  const std::string m = wait_for_metrics(gw_->admin_port(), {"switchboard_backend_up"});
  EXPECT_NE(m.find("switchboard_backend_up{backend=\"pool\"} 1"), std::string::npos) << m;

  engines_[1]->set_metrics(vllm_metrics(0, 0, 0.1));
  ASSERT_TRUE(gw_->wait_for_log("backend healthy again", 5s)) << gw_->stderr_text();
  for (int i = 0; i < 20; ++i) {
    auto r = chat("both again? " + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_GT(posts(*engines_[1]), before) << "the replica is back in the rotation";
}

TEST_F(PoolTest, ScrapedEngineMetricsAreExported) {
  engines_[0]->set_metrics(vllm_metrics(7, 3, 0.5));
  engines_[1]->set_metrics(vllm_metrics(1, 2, 0.25));
  start(
      "    load: {metrics: vllm, interval: 50ms, timeout: 500ms, stale_after: 2s}\n"
      "    price: {gpu_hour_usd: 2.5, tokens_per_second: 1000}");
  const std::vector<std::string> needles = {
      // The fleet's whole GPU cost: the price is per endpoint.
      "switchboard_backend_gpu_cost_usd_per_hour{backend=\"pool\"} 5",
      "switchboard_backend_queue_depth{" + endpoint_label(0) + "} 7",
      "switchboard_backend_running{" + endpoint_label(0) + "} 3",
      "switchboard_backend_kv_cache_usage{" + endpoint_label(0) + "} 0.5",
      "switchboard_backend_queue_depth{" + endpoint_label(1) + "} 1",
      "switchboard_backend_kv_cache_usage{" + endpoint_label(1) + "} 0.25",
      "switchboard_backend_signals_fresh{backend=\"pool\"} 2",
      "switchboard_load_scrapes_total{backend=\"pool\",result=\"ok\"}"};
  const std::string m = wait_for_metrics(gw_->admin_port(), needles, 5s);
  for (const std::string& n : needles) {
    EXPECT_NE(m.find(n), std::string::npos) << n << "\n" << m;
  }
  // The scrapes are the gateway's own GETs, never a client's request.
  EXPECT_GE(engines_[0]->metrics_requests(), 1u);
  EXPECT_EQ(posts(*engines_[0]), 0u);
}

TEST_F(PoolTest, SignalsGoStaleWhenTheMetricsEndpointIsDown) {
  engines_[0]->set_metrics(vllm_metrics(4, 1, 0.3));
  start("    load: {metrics: vllm, interval: 50ms, timeout: 200ms, stale_after: 400ms}");
  wait_for_metrics(gw_->admin_port(), {"switchboard_backend_signals_fresh{backend=\"pool\"} 2"},
                   5s);
  engines_[0]->set_metrics(std::nullopt);
  const std::vector<std::string> needles = {
      "switchboard_backend_signals_fresh{backend=\"pool\"} 1",
      "switchboard_backend_queue_depth{" + endpoint_label(0) + "} -1"};
  const std::string m = wait_for_metrics(gw_->admin_port(), needles, 5s);
  for (const std::string& n : needles) {
    EXPECT_NE(m.find(n), std::string::npos) << n << "\n" << m;
  }
  EXPECT_EQ(m.find("switchboard_load_scrapes_total{backend=\"pool\",result=\"error\"} 0\n"),
            std::string::npos)
      << m;
  // Requests are still served while the signals are stale.
  auto r = chat("hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
}

TEST_F(PoolTest, MalformedMetricsAreCountedAndNotPublished) {
  engines_[0]->set_metrics("vllm:num_requests_waiting{ 3\n");
  start("    load: {metrics: vllm, interval: 50ms, timeout: 200ms, stale_after: 2s}");
  // The malformed series may be listed (at 0) before endpoint 0's first scrape is counted: wait
  // for the count too.
  const std::string zero =
      "switchboard_load_scrapes_total{backend=\"pool\",result=\"malformed\"} 0\n";
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string m;
  do {
    m = wait_for_metrics(gw_->admin_port(),
                         {"switchboard_load_scrapes_total{backend=\"pool\",result=\"malformed\"}",
                          "switchboard_backend_signals_fresh{backend=\"pool\"} 1"},
                         5s);
    if (m.find(zero) == std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_NE(m.find("switchboard_backend_queue_depth{" + endpoint_label(0) + "} -1"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find(zero), std::string::npos) << m;
}

// A sensitive request under a spill rule may not go to the closed backend: it waits for the
// self-hosted one, in a bounded queue with a timeout.
class SpillQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { start("300ms"); }

  void start(const std::string& queue_timeout, unsigned queue_max = 1,
             std::chrono::milliseconds latency = 1500ms) {
    gw_.reset();
    FakeUpstreamOptions l;
    l.name = "local";
    l.latency = latency;  // holds its one slot
    local_ = std::make_unique<FakeUpstream>(l);
    FakeUpstreamOptions c;
    c.name = "closed";
    closed_ = std::make_unique<FakeUpstream>(c);
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
backends:
  local:
    provider: vllm
    base_url: ")" + local_->base_url() +
                             R"("
    model: m
    clearance: restricted
    max_in_flight: 1
    load: {metrics: none}
  closed:
    provider: openai
    allow_insecure: true
    base_url: ")" + closed_->base_url() +
                             R"("
    api_key: "sk-backend"
    model: gpt-4o
    clearance: internal
models:
  default: {candidates: [local, closed]}
policies:
  - name: fill-gpus-first
    route: {to: [local, closed], strategy: spill, queue: {max: )" +
                             std::to_string(queue_max) + ", timeout: " + queue_timeout + R"(}}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::optional<HttpResponse> sensitive(const std::string& text) {
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body("default", text, false),
                   {{"x-data-classification", "confidential"}});
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(SpillQueueTest, FullQueueAndTimeoutAnswer503WithRetryAfter) {
  auto first = std::async(std::launch::async, [&] { return sensitive("one"); });
  ASSERT_TRUE(local_->wait_for_requests(1, 3s));
  auto second = std::async(std::launch::async, [&] { return sensitive("two"); });
  std::this_thread::sleep_for(100ms);  // the second is waiting in the queue (max 1)
  auto third = sensitive("three");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 503u) << third->body;
  EXPECT_FALSE(third->header("retry-after").empty());
  EXPECT_NE(third->body.find("queue_full"), std::string::npos) << third->body;
  auto waited = second.get();
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->status, 503u) << waited->body;
  EXPECT_FALSE(waited->header("retry-after").empty());
  EXPECT_NE(waited->body.find("queue_timeout"), std::string::npos) << waited->body;
  auto served = first.get();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u) << served->body;
  EXPECT_EQ(closed_->request_count(), 0u) << "sensitive traffic never spills";
  const std::string m = wait_for_metrics(
      gw_->admin_port(), {"switchboard_queue_timeouts_total{backend=\"local\"} 2",
                          "switchboard_queue_wait_seconds_count{backend=\"local\"} 1"});
  EXPECT_NE(m.find("switchboard_queue_timeouts_total{backend=\"local\"} 2"), std::string::npos)
      << m;
}

TEST_F(SpillQueueTest, CleanTrafficSpillsWhileSensitiveTrafficWaits) {
  auto first = std::async(std::launch::async, [&] { return sensitive("one"); });
  ASSERT_TRUE(local_->wait_for_requests(1, 3s));
  auto clean = request(gw_->port(), "POST", "/v1/chat/completions",
                       chat_body("default", "nothing sensitive", false));
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->status, 200u) << clean->body;
  EXPECT_EQ(clean->header("x-switchboard-backend"), "closed");
  const std::string spilled =
      "switchboard_spills_total{from=\"local\",reason=\"in_flight\",to=\"closed\"} 1";
  const std::string m = wait_for_metrics(gw_->admin_port(), {spilled});
  EXPECT_NE(m.find(spilled), std::string::npos) << m;
  EXPECT_NE(m.find("switchboard_spill_cost_usd_total{from=\"local\",to=\"closed\"}"),
            std::string::npos)
      << m;
  auto served = first.get();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u);
}

TEST_F(SpillQueueTest, AWaitingRequestIsServedWhenTheSlotFrees) {
  start("5s");
  auto first = std::async(std::launch::async, [&] { return sensitive("one"); });
  ASSERT_TRUE(local_->wait_for_requests(1, 3s));
  auto second = sensitive("two");  // waits about a second for the first to finish
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200u) << second->body;
  EXPECT_EQ(second->header("x-switchboard-backend"), "local");
  auto served = first.get();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u);
  EXPECT_EQ(closed_->request_count(), 0u);
  const std::string m = wait_for_metrics(
      gw_->admin_port(), {"switchboard_queue_wait_seconds_count{backend=\"local\"} 1"});
  EXPECT_NE(m.find("switchboard_queue_timeouts_total{backend=\"local\"} 0"), std::string::npos)
      << m;
}

// A client that gives up while its request waits in the queue (an SDK's timeout): the request
// leaves the queue at once, recorded as 499 client_gone, and is never sent when the slot frees.
TEST_F(SpillQueueTest, AClientThatLeavesTheQueueIsNeverSent) {
  start("5s");
  auto first = std::async(std::launch::async, [&] { return sensitive("one"); });
  ASSERT_TRUE(local_->wait_for_requests(1, 3s));
  const std::string body = chat_body("default", "two", false);
  {
    Client client(gw_->port());
    ASSERT_TRUE(client.connected());
    client.send_raw(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "x-data-classification: confidential\r\nx-request-id: left-the-queue\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
    std::this_thread::sleep_for(200ms);  // waiting in the queue
  }                                      // the client closes its connection
  // Recorded at once, while the first request still holds the slot.
  const std::string line = gw_->access_line("left-the-queue", 1s);
  ASSERT_FALSE(line.empty()) << "no access line while the first request holds the slot";
  EXPECT_NE(line.find(R"("status":499)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("error":"client_gone")"), std::string::npos) << line;
  auto served = first.get();
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200u);
  // The slot is free: a request still queued would be sent now.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(local_->request_count(), 1u) << "a request nobody waits for was sent";
  EXPECT_EQ(closed_->request_count(), 0u);
  const std::string m = wait_for_metrics(
      gw_->admin_port(), {"switchboard_queue_wait_seconds_count{backend=\"local\"} 1"});
  EXPECT_NE(m.find("switchboard_queue_timeouts_total{backend=\"local\"} 0"), std::string::npos)
      << m;
}

// Several waiters and one slot: each freed slot goes to one of them, and a waiter that saw the
// slot free but lost it to another (on the gateway's other thread) waits again instead of being
// refused. Every sensitive request is served, locally, one after the other.
TEST_F(SpillQueueTest, WaitersTakeTheFreedSlotInTurnAndNoneIsRefused) {
  start("20s", 8, 150ms);
  std::vector<std::future<std::optional<HttpResponse>>> waiting;
  for (int i = 0; i < 7; ++i) {
    waiting.push_back(
        std::async(std::launch::async, [&, i] { return sensitive("turn " + std::to_string(i)); }));
  }
  for (auto& f : waiting) {
    auto r = f.get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(r->header("x-switchboard-backend"), "local");
  }
  EXPECT_EQ(local_->request_count(), 7u);
  EXPECT_EQ(closed_->request_count(), 0u);
  const std::string m = wait_for_metrics(gw_->admin_port(), {"switchboard_queue_wait_seconds"});
  EXPECT_NE(m.find("switchboard_queue_timeouts_total{backend=\"local\"} 0"), std::string::npos)
      << m;
}

}  // namespace
}  // namespace sb::testing
