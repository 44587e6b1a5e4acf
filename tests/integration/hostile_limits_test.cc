// Hostile clients against the real process, past framing: oversized trailers and chunk
// extensions (which used to abort the process or grow it without bound), 64 KiB+ header values,
// 100-continue abuse, pipelining floods, the request-body budget, silent connections and the
// connection limit. Every case checks that the process stays up, that a healthy client is still
// served, and that memory stays within a generous bound.

#include <csignal>
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

constexpr const char* kKey = "sk-team-a";
// Generous: the gateway idles near 20 MB; the floods below used to take it past 500 MB.
constexpr std::uint64_t kMaxRssKib = 160 * 1024 * kMemoryScale;

std::string config(const FakeUpstream& local, std::string_view server_extra) {
  return R"(server:
  listen: "127.0.0.1:0"
  threads: 2
  max_body_bytes: 256KiB
  max_header_bytes: 128KiB
  max_buffered_body_bytes: 512KiB
)" + std::string(server_extra) +
         R"(admin: {listen: "127.0.0.1:0"}
tenants:
  team-a: {api_keys: ["sha256:8879f6a4ae35c420a15d35fed3b8dd07577207803d404f6d4cc4fa829dafa910"]}  # sk-team-a
backends:
  local:
    provider: vllm
    base_url: ")" +
         local.base_url() +
         R"("
    model: "pinned/model-a"
models:
  default: {candidates: [local]}
)";
}

std::string chunk(std::string_view data, std::string_view extension = {}) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + std::string(extension) + "\r\n" + std::string(data) + "\r\n";
}

std::string chunked_head(bool with_key, std::string_view extra = {}) {
  std::string h = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n";
  if (with_key) {
    h += "Authorization: Bearer " + std::string(kKey) + "\r\n";
  }
  h += extra;
  return h + "\r\n";
}

class HostileLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FakeUpstreamOptions o;
    o.name = "local";
    local_ = new FakeUpstream(o);
    gw_ = new GatewayProcess(
        config(*local_, "  header_timeout: 300ms\n  idle_timeout: 2s\n  max_connections: 200\n"));
  }
  static void TearDownTestSuite() {
    delete gw_;
    delete local_;
  }
  void SetUp() override { ASSERT_TRUE(gw_->started()) << gw_->stderr_text(); }
  void TearDown() override {
    ASSERT_TRUE(gw_->alive()) << "the gateway died: " << gw_->stderr_text();
    ExpectHealthy(*gw_);
    EXPECT_LT(gw_->memory_kib("VmHWM"), kMaxRssKib);
  }

 public:
  // A healthy client with a key is served.
  static void ExpectHealthy(const GatewayProcess& gw) {
    auto r =
        request(gw.port(), "POST", "/v1/chat/completions", chat_body("default", "hello", false),
                {{"Authorization", std::string("Bearer ") + kKey}});
    ASSERT_TRUE(r) << "no answer for a healthy client";
    EXPECT_EQ(r->status, 200u) << r->body;
  }

 protected:
  static FakeUpstream* local_;
  static GatewayProcess* gw_;
};
FakeUpstream* HostileLimitsTest::local_ = nullptr;
GatewayProcess* HostileLimitsTest::gw_ = nullptr;

TEST_F(HostileLimitsTest, TrailerOf64KiBBeforeAuthenticationIsRefusedWithoutCrashing) {
  // The request has no key: the 401 comes from the header, the trailer is never parsed.
  Client client(gw_->port(), 5s);
  client.send_raw(chunked_head(false) + chunk("{}") + "0\r\nX-Big: " + std::string(70 * 1024, 't') +
                  "\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401u);
  EXPECT_TRUE(r->closed);
}

TEST_F(HostileLimitsTest, TrailerOf64KiBIsA400) {
  Client client(gw_->port(), 5s);
  client.send_raw(chunked_head(true) + chunk(chat_body("default", "hi", false)) +
                  "0\r\nX-Big: " + std::string(70 * 1024, 't') + "\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  EXPECT_NE(r->body.find("trailer"), std::string::npos) << r->body;
  EXPECT_TRUE(r->closed);
}

TEST_F(HostileLimitsTest, SmallTrailersAreDroppedAndTheRequestServed) {
  Client client(gw_->port(), 5s);
  client.send_raw(chunked_head(true) + chunk(chat_body("default", "hi", false)) +
                  "0\r\nX-Trailer: v\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
}

TEST_F(HostileLimitsTest, ChunkExtensionFloodIsCutAtTheFirstLongChunkHeader) {
  const std::uint64_t before = gw_->memory_kib("VmRSS");
  Client client(gw_->port(), 5s);
  client.send_raw(chunked_head(true) + "1;ext=");
  const std::string piece(1 << 20, 'e');
  for (int i = 0; i < 64; ++i) {  // 64 MiB of extension, if the gateway kept reading
    client.send_raw(piece);
  }
  auto r = client.read_response();
  if (r) {  // the 400 may be lost to the reset our unread flood causes
    EXPECT_EQ(r->status, 400u);
  }
  EXPECT_LT(gw_->memory_kib("VmRSS"), before + 16 * 1024);
}

TEST_F(HostileLimitsTest, ManyChunksWithExtensionsUnderTheCapAreServed) {
  const std::string body = chat_body("default", "hi", false);
  std::string wire = chunked_head(true);
  const std::string ext = ";e=" + std::string(900, 'x');
  for (char c : body) {
    wire += chunk(std::string(1, c), ext);
  }
  wire += "0\r\n\r\n";
  Client client(gw_->port(), 5s);
  client.send_raw(wire);
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
}

TEST_F(HostileLimitsTest, HeaderValueOver64KiBIs431EvenUnderALargerHeaderLimit) {
  // max_header_bytes is 128 KiB here; Beast cannot hold one field of 64 KiB.
  Client client(gw_->port(), 5s);
  client.send_raw("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(66 * 1024, 'v') +
                  "\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r) << "the connection was dropped without an answer";
  EXPECT_EQ(r->status, 431u);
}

TEST_F(HostileLimitsTest, ManyHeadersUnderTheLimitAreServed) {
  std::string head =
      "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kKey) + "\r\n";
  for (int i = 0; i < 1500; ++i) {
    head += "X-H" + std::to_string(i) + ": v\r\n";
  }
  Client client(gw_->port(), 5s);
  client.send_raw(head + "\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

TEST_F(HostileLimitsTest, ExpectContinueWithoutKeyIs401WithoutA100) {
  Client client(gw_->port(), 5s);
  client.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 200000\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401u) << "no 100 Continue may come before the 401";
  EXPECT_TRUE(r->closed);
}

TEST_F(HostileLimitsTest, ExpectContinueWithKeyGets100ThenTheAnswer) {
  const std::string body = chat_body("default", "hi", false);
  Client client(gw_->port(), 5s);
  client.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Authorization: Bearer " +
      std::string(kKey) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  auto interim = client.read_head();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100u);
  client.send_raw(body);
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
}

TEST_F(HostileLimitsTest, UnknownPathWithABodyIs404BeforeTheBody) {
  Client client(gw_->port(), 5s);
  client.send_raw("POST /v1/nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404u);
  EXPECT_TRUE(r->closed);
}

TEST_F(HostileLimitsTest, BodiesPastTheBufferedBudgetGet503WithRetryAfter) {
  // Two bodies of 256 KiB (announced, half sent) hold the whole 512 KiB budget.
  const std::string head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: "
      "Bearer " +
      std::string(kKey) + "\r\nContent-Length: " + std::to_string(256 * 1024) + "\r\n\r\n";
  Client a(gw_->port(), 5s);
  Client b(gw_->port(), 5s);
  a.send_raw(head + std::string(1000, ' '));
  b.send_raw(head + std::string(1000, ' '));
  std::this_thread::sleep_for(100ms);  // both headers read, budget taken
  Client c(gw_->port(), 5s);
  c.send_raw(head);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503u) << r->body;
  EXPECT_EQ(r->header("Retry-After"), "1");
  EXPECT_NE(r->body.find("retry"), std::string::npos) << r->body;
  const std::string metrics = wait_for_metrics(
      gw_->admin_port(),
      {"switchboard_overload_rejections_total{limit=\"max_buffered_body_bytes\"} 1"});
  EXPECT_NE(metrics.find("limit=\"max_buffered_body_bytes\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("switchboard_buffered_body_bytes 524288"), std::string::npos);
}

TEST_F(HostileLimitsTest, SlowBodyIsCutAtTheIdleTimeout) {
  Client client(gw_->port(), 5s);
  client.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  std::string(kKey) + "\r\nContent-Length: 100\r\n\r\n{");
  for (int i = 0; i < 3; ++i) {  // a byte now and then, never the whole body
    std::this_thread::sleep_for(200ms);
    client.send_raw(" ");
  }
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(HostileLimitsTest, PipelinedFloodIsAnsweredInOrder) {
  const std::string one = "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                          std::string(kKey) + "\r\n\r\n";
  std::string flood;
  for (int i = 0; i < 300; ++i) {
    flood += one;
  }
  Client client(gw_->port(), 5s);
  std::thread writer([&] { client.send_raw(flood); });
  int answered = 0;
  for (; answered < 300; ++answered) {
    auto r = client.read_response();
    if (!r || r->status != 200) {
      break;
    }
  }
  writer.join();
  EXPECT_EQ(answered, 300);
}

TEST_F(HostileLimitsTest, PipelinedFloodThatNeverReadsHoldsNoMoreThanOneRequest) {
  // 1 MiB of pipelined requests whose answers are never read: the gateway reads one request at
  // a time and stops reading while its answers cannot be written, so memory does not follow the
  // flood; other clients are served meanwhile.
  const std::string one = "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                          std::string(kKey) + "\r\n\r\n";
  std::string flood;
  while (flood.size() < (1u << 20)) {
    flood += one;
  }
  const std::uint64_t before = gw_->memory_kib("VmRSS");
  Client client(gw_->port(), 5s);
  client.send_raw(flood);
  ExpectHealthy(*gw_);
  EXPECT_LT(gw_->memory_kib("VmRSS"), before + 8 * 1024);
}

TEST_F(HostileLimitsTest, SilentConnectionsAreClosedAtTheHeaderTimeout) {
  std::vector<std::unique_ptr<Client>> silent;
  for (int i = 0; i < 100; ++i) {
    silent.push_back(std::make_unique<Client>(gw_->port(), 1200ms));
    ASSERT_TRUE(silent.back()->connected());
  }
  // header_timeout is 300 ms, idle_timeout 2 s: every one is closed well before the 1.2 s the
  // client waits, without a byte sent (a new connection used to live for the idle timeout).
  for (auto& c : silent) {
    EXPECT_TRUE(c->wait_closed());
  }
}

TEST_F(HostileLimitsTest, InternalErrorSeriesExistFromTheStart) {
  const std::string metrics = wait_for_metrics(
      gw_->admin_port(), {"switchboard_internal_errors_total{where=\"session\"} 0"});
  for (const char* where : {"session", "admin", "accept", "health", "reload", "upstream"}) {
    EXPECT_NE(
        metrics.find("switchboard_internal_errors_total{where=\"" + std::string(where) + "\"} 0"),
        std::string::npos)
        << where;
  }
}

// The connection limit, with a header timeout long enough to hold connections open.
TEST(HostileConnectionLimitTest, ConnectionsPastMaxConnectionsAreClosedAtOnce) {
  FakeUpstreamOptions o;
  o.name = "local";
  FakeUpstream local(o);
  GatewayProcess gw(config(local, "  header_timeout: 5s\n  max_connections: 16\n"));
  ASSERT_TRUE(gw.started()) << gw.stderr_text();
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 16; ++i) {
    held.push_back(std::make_unique<Client>(gw.port(), 3s));
    ASSERT_TRUE(held.back()->connected());
  }
  std::this_thread::sleep_for(100ms);  // all sixteen accepted
  Client extra(gw.port(), 3s);
  EXPECT_TRUE(extra.wait_closed()) << "the 17th connection must be closed at once";
  const std::string full = wait_for_metrics(
      gw.admin_port(), {"switchboard_overload_rejections_total{limit=\"max_connections\"} 1",
                        "switchboard_client_connections 16"});
  EXPECT_NE(full.find("switchboard_client_connections 16"), std::string::npos) << full;
  // The admin plane is not counted against the data plane's limit.
  auto health = request(gw.admin_port(), "GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200u);
  held.clear();
  const std::string after = wait_for_metrics(gw.admin_port(), {"switchboard_client_connections 0"});
  EXPECT_NE(after.find("switchboard_client_connections 0"), std::string::npos);
  HostileLimitsTest::ExpectHealthy(gw);
}

}  // namespace
}  // namespace sb::testing
