// Many replicas, one truth: gateway processes sharing budgets and rate limits through a real
// redis-server on loopback. A budget is never exceeded across replicas, rates hold across them,
// a killed replica's lease comes back, Redis going away applies `on_unavailable` and loses no
// spend, a slow Redis costs requests no more than the configured timeouts, and credentials and
// TLS are checked at startup.

#include <atomic>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/redis_server.h"
#include "tests/support/tcp_relay.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "sk-test-payments";
constexpr const char* kKeyHash =
    "sha256:6e7619f899e820b5223eb451459f973b0bbdd8239bc2e2a85acb2bbc1ac5482c";  // sk-test-payments

/// Runs redis-cli against the test server; its output without the trailing newline.
std::string redis_cli(std::uint16_t port, const std::string& args) {
  const std::string cmd =
      "redis-cli --no-auth-warning -h 127.0.0.1 -p " + std::to_string(port) + " " + args;
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
      out.append(buf, n);
    }
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

/// Today's daily budget key of tenant `team` (UTC).
std::string day_key() {
  const auto now = std::chrono::system_clock::now();
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(now)};
  char buf[64];
  std::snprintf(buf, sizeof buf, "sbtest:{t:team}:day:%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::int64_t redis_int(std::uint16_t port, const std::string& args) {
  const std::string s = redis_cli(port, args);
  return s.empty() ? 0 : std::stoll(s);
}

/// Sum, in nano-dollars, of every switchboard_cost_usd_total series of one replica.
std::int64_t cost_nanos(std::uint16_t admin_port) {
  auto r = request(admin_port, "GET", "/metrics");
  if (!r) {
    return -1;
  }
  double sum = 0;
  std::size_t pos = 0;
  const std::string name = "switchboard_cost_usd_total{";
  while ((pos = r->body.find(name, pos)) != std::string::npos) {
    const std::size_t sp = r->body.find("} ", pos);
    const std::size_t eol = r->body.find('\n', sp);
    sum += std::stod(r->body.substr(sp + 2, eol - sp - 2));
    pos = eol;
  }
  return std::llround(sum * 1e9);
}

struct Replicas {
  std::vector<std::unique_ptr<GatewayProcess>> gw;
  std::uint16_t port(std::size_t i) const { return gw[i % gw.size()]->port(); }
};

class SharedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>();
    FakeUpstreamOptions o;
    o.name = "closed";
    o.latency = 1500ms;  // every admitted request holds its reservation while the others arrive
    // Usage the fixture reports: 10 prompt tokens (free) and 700 completion tokens at $1000 per
    // million, so each served request costs exactly $0.7.
    o.report_prompt_tokens = 10;
    o.report_completion_tokens = 700;
    closed_ = std::make_unique<FakeUpstream>(o);
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
  }

  std::string config(const std::string& tenant_limits, const std::string& state_extra = {},
                     std::uint16_t redis_port = 0) const {
    return R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
state:
  store: redis
  url: "redis://127.0.0.1:)" +
           std::to_string(redis_port != 0 ? redis_port : redis_->port()) + R"(/0"
  prefix: sbtest
  lease: {ttl: 2s, horizon: 1s}
  sync_interval: 100ms
)" + state_extra +
           R"(backends:
  closed:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
           closed_->base_url() + R"("
    api_key: sk-backend
    model: gpt-4o
    clearance: restricted
    price: {input_per_mtok: 0, output_per_mtok: 1000}
    timeouts: {connect: 1s, first_token: 10s, idle: 10s, total: 20s}
  local:
    provider: vllm
    base_url: ")" +
           local_->base_url() + R"("
    model: pinned/local
    clearance: restricted
    price: {input_per_mtok: 0.5, output_per_mtok: 1.5}
models:
  default: {candidates: [closed]}
  mixed: {candidates: [closed, local]}
tenants:
  team: {api_keys: [")" +
           kKeyHash + R"("], )" + tenant_limits + R"(}
)";
  }

  Replicas start(std::size_t n, const std::string& yaml) {
    Replicas r;
    for (std::size_t i = 0; i < n; ++i) {
      r.gw.push_back(std::make_unique<GatewayProcess>(yaml));
      EXPECT_TRUE(r.gw.back()->started()) << r.gw.back()->stderr_text();
    }
    return r;
  }

  struct Counts {
    std::atomic<int> ok{0};
    std::atomic<int> limited{0};
    std::atomic<int> other{0};
    std::string last_other;
  };

  /// `n` concurrent requests spread round-robin over the replicas.
  void burst(const Replicas& r, int n, Counts& c, std::string_view model = "default",
             std::string_view extra = ",\"max_tokens\":1000") {
    std::vector<std::thread> clients;
    for (int i = 0; i < n; ++i) {
      clients.emplace_back([&, i] {
        auto resp = request(r.port(static_cast<std::size_t>(i)), "POST", "/v1/chat/completions",
                            chat_body(model, "hi", false, extra),
                            {{"Authorization", std::string("Bearer ") + kKey}});
        if (resp && resp->status == 200) {
          ++c.ok;
        } else if (resp && resp->status == 429) {
          ++c.limited;
        } else {
          ++c.other;
        }
      });
    }
    for (auto& t : clients) {
      t.join();
    }
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<FakeUpstream> closed_;
  std::unique_ptr<FakeUpstream> local_;
};

TEST_F(SharedStateTest, ThreeReplicasTogetherNeverExceedABudget) {
  // Each request reserves $1 (max_tokens 1000 at $1000 per million output tokens); the daily
  // budget holds $5 for the three replicas together.
  Replicas r = start(3, config("budget: {daily_usd: 5, on_exhausted: reject}"));
  Counts c;
  burst(r, 45, c);
  EXPECT_EQ(c.ok.load(), 5);
  EXPECT_EQ(c.limited.load(), 40);
  EXPECT_EQ(c.other.load(), 0);
  EXPECT_EQ(closed_->requests().size(), 5u);

  // Spend in Redis is what the replicas counted, to the nano-dollar, once reported.
  std::int64_t counted = 0;
  for (const auto& g : r.gw) {
    counted += cost_nanos(g->admin_port());
  }
  EXPECT_GT(counted, 0);
  std::int64_t spent = 0;
  for (int i = 0; i < 50 && spent != counted; ++i) {
    std::this_thread::sleep_for(100ms);
    spent = redis_int(redis_->port(), "HGET " + day_key() + " spent");
  }
  EXPECT_EQ(spent, counted);
  EXPECT_EQ(spent, std::int64_t{5} * 700'000'000) << "5 requests x 700 tokens x $1000 per million";
}

TEST_F(SharedStateTest, RequestsPerMinuteHoldAcrossReplicas) {
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  Replicas r = start(3, config("rate: {rpm: 10}"));
  Counts c;
  burst(r, 30, c, "default", "");
  EXPECT_EQ(c.ok.load(), 10);
  EXPECT_EQ(c.limited.load(), 20);
  EXPECT_EQ(c.other.load(), 0);
  // Still within the minute: nothing more.
  Counts again;
  burst(r, 6, again, "default", "");
  EXPECT_EQ(again.ok.load(), 0);
  EXPECT_EQ(again.limited.load(), 6);
}

TEST_F(SharedStateTest, TokensPerMinuteHoldAcrossReplicas) {
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  // Each request is reserved at its worst case: a few prompt tokens + max_tokens 100.
  Replicas r = start(3, config("rate: {tpm: 1000}"));
  Counts c;
  burst(r, 30, c, "default", ",\"max_tokens\":100");
  // Every ask is more than 100 tokens (the output bound) and well under 300 (a tiny prompt):
  // at most 9 fit in 1000 together; replicas each counting alone would serve about three times
  // as many.
  EXPECT_GE(c.ok.load(), 3);
  EXPECT_LE(c.ok.load(), 9) << "at most 1000 tokens reserved at worst case in the minute";
  EXPECT_EQ(c.ok.load() + c.limited.load(), 30);
}

TEST_F(SharedStateTest, AKilledReplicasLeaseComesBackWithinTheLeaseTtl) {
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  Replicas r = start(2, config("budget: {daily_usd: 1000, on_exhausted: reject}"));
  // Steady traffic on the first replica: it leases ahead of need.
  const std::string key = day_key();
  std::int64_t leased = 0;
  for (int i = 0; i < 60 && leased == 0; ++i) {
    for (int n = 0; n < 5; ++n) {
      auto resp = request(r.gw[0]->port(), "POST", "/v1/chat/completions",
                          chat_body("default", "hi", false, ",\"max_tokens\":100"),
                          {{"Authorization", std::string("Bearer ") + kKey}});
      ASSERT_TRUE(resp);
      ASSERT_EQ(resp->status, 200u) << resp->body;
    }
    leased = redis_int(redis_->port(), "HGET " + key + " leased");
  }
  ASSERT_GT(leased, 0) << redis_cli(redis_->port(), "HGETALL " + key);
  r.gw[0]->send_signal(SIGKILL);
  r.gw[0]->wait_exit(5s);
  // After the TTL (2 s) any call of another replica finds the lease expired and returns it.
  std::this_thread::sleep_for(2500ms);
  auto resp = request(r.gw[1]->port(), "POST", "/v1/chat/completions",
                      chat_body("default", "hi", false, ",\"max_tokens\":100"),
                      {{"Authorization", std::string("Bearer ") + kKey}});
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200u);
  std::int64_t holders = 0;
  for (int i = 0; i < 30; ++i) {
    const std::string all = redis_cli(redis_->port(), "HKEYS " + key);
    holders = 0;
    for (std::size_t p = all.find("x:"); p != std::string::npos; p = all.find("x:", p + 1)) {
      ++holders;
    }
    if (holders <= 1) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_LE(holders, 1) << "only the live replica holds a lease: "
                        << redis_cli(redis_->port(), "HGETALL " + key);
}

TEST_F(SharedStateTest, ADrainingReplicaReportsEverythingAndGivesItsLeaseBack) {
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  Replicas r = start(1, config("budget: {daily_usd: 1000, on_exhausted: reject}"));
  const std::string key = day_key();
  std::int64_t leased = 0;
  for (int i = 0; i < 60 && leased == 0; ++i) {
    for (int n = 0; n < 5; ++n) {
      auto resp = request(r.gw[0]->port(), "POST", "/v1/chat/completions",
                          chat_body("default", "hi", false, ",\"max_tokens\":100"),
                          {{"Authorization", std::string("Bearer ") + kKey}});
      ASSERT_TRUE(resp);
      ASSERT_EQ(resp->status, 200u) << resp->body;
    }
    leased = redis_int(redis_->port(), "HGET " + key + " leased");
  }
  ASSERT_GT(leased, 0);
  const std::int64_t counted = cost_nanos(r.gw[0]->admin_port());
  r.gw[0]->send_signal(SIGTERM);
  EXPECT_EQ(r.gw[0]->wait_exit(10s), 0) << r.gw[0]->stderr_text();
  EXPECT_EQ(redis_int(redis_->port(), "HGET " + key + " leased"), 0)
      << redis_cli(redis_->port(), "HGETALL " + key);
  EXPECT_EQ(redis_int(redis_->port(), "HGET " + key + " spent"), counted);
}

TEST_F(SharedStateTest, SpendWhileRedisIsAwayIsJournaledAndReportedWhenItReturns) {
  // A Redis that keeps its data across a restart (append-only file), as deploy/ runs it.
  redis_ = std::make_unique<RedisServer>(RedisServer::Options{.persist = true});
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  Replicas r = start(
      2, config("budget: {daily_usd: 1000, on_exhausted: reject}", "  on_unavailable: local\n"));
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::atomic<int> failed{0};
  // Under load all along: two clients per replica.
  std::vector<std::thread> load;
  for (int i = 0; i < 4; ++i) {
    load.emplace_back([&, i] {
      while (!stop) {
        auto resp = request(r.port(static_cast<std::size_t>(i)), "POST", "/v1/chat/completions",
                            chat_body("default", "hi", false, ",\"max_tokens\":50"),
                            {{"Authorization", std::string("Bearer ") + kKey}});
        if (resp && resp->status == 200) {
          ++served;
        } else {
          ++failed;
        }
      }
    });
  }
  std::this_thread::sleep_for(1s);
  redis_->stop();
  std::this_thread::sleep_for(3s);  // past the lease TTL: mode local, journaled
  for (const auto& g : r.gw) {
    EXPECT_TRUE(g->alive());
    EXPECT_TRUE(g->wait_for_log("shared state store unreachable", 3s)) << g->stderr_text();
  }
  redis_->restart();
  std::this_thread::sleep_for(1s);
  stop = true;
  for (auto& t : load) {
    t.join();
  }
  EXPECT_GT(served.load(), 20);
  EXPECT_EQ(failed.load(), 0) << "mode local serves throughout";
  for (const auto& g : r.gw) {
    EXPECT_TRUE(g->wait_for_log("shared state store reachable", 3s)) << g->stderr_text();
  }
  // Every nano-dollar served, before, during and after the outage, is in Redis once. A request's
  // cost reaches its metrics just after its answer (and its spend reaches Redis before it): both
  // are read again until they agree or time runs out.
  std::int64_t counted = 0;
  std::int64_t spent = -1;
  for (int i = 0; i < 50 && spent != counted; ++i) {
    std::this_thread::sleep_for(100ms);
    counted = 0;
    for (const auto& g : r.gw) {
      counted += cost_nanos(g->admin_port());
    }
    spent = redis_int(redis_->port(), "HGET " + day_key() + " spent");
  }
  EXPECT_GT(counted, 0);
  EXPECT_EQ(spent, counted);
}

TEST_F(SharedStateTest, SelfHostedOnlyKeepsServingSelfHostedWhileRedisIsAway) {
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  Replicas r = start(1, config("budget: {daily_usd: 1000, on_exhausted: reject}"));
  redis_->kill9();
  // Leases run out (ttl 2 s); then closed backends drop out and the self-hosted one serves.
  std::this_thread::sleep_for(2500ms);
  auto mixed = request(r.gw[0]->port(), "POST", "/v1/chat/completions",
                       chat_body("mixed", "hi", false, ",\"max_tokens\":50"),
                       {{"Authorization", std::string("Bearer ") + kKey}});
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->status, 200u) << mixed->body;
  EXPECT_EQ(mixed->header("x-switchboard-backend"), "local");
  auto closed_only = request(r.gw[0]->port(), "POST", "/v1/chat/completions",
                             chat_body("default", "hi", false, ",\"max_tokens\":50"),
                             {{"Authorization", std::string("Bearer ") + kKey}});
  ASSERT_TRUE(closed_only);
  EXPECT_EQ(closed_only->status, 503u) << closed_only->body;
  EXPECT_NE(closed_only->body.find("state_store_unavailable"), std::string::npos);
  auto ready = request(r.gw[0]->admin_port(), "GET", "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200u) << "self-hosted-only still serves: stays in rotation";
  auto metrics = request(r.gw[0]->admin_port(), "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("switchboard_state_store_up 0"), std::string::npos);
}

TEST_F(SharedStateTest, RejectModeRefusesAndLeavesRotationWhileRedisIsAway) {
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  Replicas r = start(
      1, config("budget: {daily_usd: 1000, on_exhausted: reject}", "  on_unavailable: reject\n"));
  auto ready = request(r.gw[0]->admin_port(), "GET", "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200u);
  redis_->kill9();
  std::this_thread::sleep_for(2500ms);
  auto resp = request(r.gw[0]->port(), "POST", "/v1/chat/completions",
                      chat_body("mixed", "hi", false, ",\"max_tokens\":50"),
                      {{"Authorization", std::string("Bearer ") + kKey}});
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 503u) << resp->body;
  ready = request(r.gw[0]->admin_port(), "GET", "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503u) << ready->body;
  redis_->restart();
  for (int i = 0; i < 50; ++i) {
    resp = request(r.gw[0]->port(), "POST", "/v1/chat/completions",
                   chat_body("mixed", "hi", false, ",\"max_tokens\":50"),
                   {{"Authorization", std::string("Bearer ") + kKey}});
    if (resp && resp->status == 200) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->status, 200u) << resp->body;
}

TEST_F(SharedStateTest, ASlowRedisCostsRequestsNoMoreThanTheTimeouts) {
  closed_ = std::make_unique<FakeUpstream>(FakeUpstreamOptions{.name = "closed"});
  TcpRelay relay(redis_->port());
  Replicas r =
      start(1, config("budget: {daily_usd: 1000, on_exhausted: reject}",
                      "  command_timeout: 200ms\n  connect_timeout: 300ms\n", relay.port()));
  relay.set_delay(5s);  // every Redis reply now takes far longer than the command timeout
  std::this_thread::sleep_for(2500ms);  // leases expire
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto resp = request(r.gw[0]->port(), "POST", "/v1/chat/completions",
                        chat_body("mixed", "hi", false, ",\"max_tokens\":50"),
                        {{"Authorization", std::string("Bearer ") + kKey}});
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status, 200u) << resp->body;
    // One command timeout (or a connect timeout), plus the request itself: far below 5 s.
    EXPECT_LT(took, 2s) << "request " << i;
  }
}

TEST_F(SharedStateTest, PasswordsAclUsersAndTlsAreCheckedAtStartWithClearErrors) {
  RedisServer secured(RedisServer::Options{.requirepass = "right-password"});
  {
    GatewayProcess gw(
        config("budget: {daily_usd: 5}",
               // Timeouts a loaded machine (sanitizers, two test jobs) cannot miss: the check
               // must meet Redis's answer, not time out before it and start on a store it
               // thinks unreachable.
               "  password: wrong-password\n  command_timeout: 3s\n  connect_timeout: 3s\n",
               secured.port()));
    EXPECT_FALSE(gw.started());
    EXPECT_NE(gw.stderr_text().find("WRONGPASS"), std::string::npos) << gw.stderr_text();
    EXPECT_EQ(gw.stderr_text().find("wrong-password"), std::string::npos)
        << "the password never appears in a message";
  }
  {
    GatewayProcess gw(
        config("budget: {daily_usd: 5}", "  password: right-password\n", secured.port()));
    ASSERT_TRUE(gw.started()) << gw.stderr_text();
  }
  RedisServer acl(RedisServer::Options{.acl_user = "switchboard", .acl_password = "acl-pass"});
  {
    GatewayProcess wrong(config("budget: {daily_usd: 5}",
                                "  username: switchboard\n  password: not-it\n"
                                "  command_timeout: 3s\n  connect_timeout: 3s\n",
                                acl.port()));
    EXPECT_FALSE(wrong.started());
    EXPECT_NE(wrong.stderr_text().find("WRONGPASS"), std::string::npos) << wrong.stderr_text();
    GatewayProcess right(config("budget: {daily_usd: 5}",
                                "  username: switchboard\n  password: acl-pass\n", acl.port()));
    ASSERT_TRUE(right.started()) << right.stderr_text();
    auto resp = request(right.port(), "POST", "/v1/chat/completions",
                        chat_body("mixed", "hi", false, ",\"max_tokens\":50"),
                        {{"Authorization", std::string("Bearer ") + kKey}});
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status, 200u) << resp->body;
  }
  RedisServer tls(RedisServer::Options{.tls = true});
  {
    std::string yaml = config("budget: {daily_usd: 5}", {}, tls.port());
    const std::string plain = "redis://127.0.0.1:" + std::to_string(tls.port());
    yaml.replace(yaml.find(plain), plain.size(),
                 "rediss://127.0.0.1:" + std::to_string(tls.port()));
    const std::string with_ca = yaml;
    yaml.replace(yaml.find("  prefix:"), 0,
                 "  tls: {ca_file: \"" + RedisServer::other_ca_file() + "\"}\n");
    GatewayProcess wrong_ca(yaml);
    EXPECT_FALSE(wrong_ca.started());
    EXPECT_NE(wrong_ca.stderr_text().find("certificate verify failed"), std::string::npos)
        << wrong_ca.stderr_text();
    std::string good = with_ca;
    good.replace(good.find("  prefix:"), 0,
                 "  tls: {ca_file: \"" + RedisServer::ca_file() + "\"}\n");
    GatewayProcess right_ca(good);
    ASSERT_TRUE(right_ca.started()) << right_ca.stderr_text();
    auto resp = request(right_ca.port(), "POST", "/v1/chat/completions",
                        chat_body("mixed", "hi", false, ",\"max_tokens\":50"),
                        {{"Authorization", std::string("Bearer ") + kKey}});
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status, 200u) << resp->body;
  }
}

}  // namespace
}  // namespace sb::testing
