// Reload and shutdown of the real process: SIGHUP swaps a valid config and keeps the old one on
// a broken file; SIGTERM lets in-flight streams finish and exits 0.

#include <signal.h>

#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/integration/test_config.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions o;
    o.name = "local";
    local_ = std::make_unique<FakeUpstream>(o);
    closed_ = std::make_unique<FakeUpstream>();
    settings_.down_url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
    gw_ = std::make_unique<GatewayProcess>(make_config(*local_, *closed_, settings_));
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }
  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  Settings settings_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(LifecycleTest, SighupWithABrokenFileKeepsServingTheOldConfig) {
  gw_->write_config("server:\n  listen: \"127.0.0.1:0\"\n  thredas: 2\nbackends: {}\n");
  gw_->send_signal(SIGHUP);
  ASSERT_TRUE(gw_->wait_for_log("configuration rejected", 5s)) << gw_->stderr_text();
  EXPECT_NE(gw_->stderr_text().find("unknown key 'thredas'"), std::string::npos)
      << gw_->stderr_text();
  auto r = request(gw_->port(), "POST", "/v1/chat/completions", chat_body("default", "x", false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  auto m = request(gw_->admin_port(), "GET", "/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("switchboard_config_reload_total{result=\"failure\"} 1"),
            std::string::npos);
}

TEST_F(LifecycleTest, SighupWithAValidFileSwapsTheConfig) {
  std::string yaml = make_config(*local_, *closed_, settings_);
  yaml += "  renamed: {candidates: [local]}\n";
  gw_->write_config(yaml);
  gw_->send_signal(SIGHUP);
  ASSERT_TRUE(gw_->wait_for_log("configuration reloaded", 5s)) << gw_->stderr_text();
  auto r = request(gw_->port(), "POST", "/v1/chat/completions", chat_body("renamed", "x", false));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
}

TEST_F(LifecycleTest, InFlightStreamFinishesOnTheSnapshotItStartedWith) {
  std::vector<std::string> pieces;
  for (int i = 0; i < 8; ++i) {
    pieces.push_back(" p" + std::to_string(i));
  }
  local_->push(sse_response(chat_stream_events("pinned/model-a", pieces, false, {}), 50ms));
  Client c(gw_->port());
  const std::string body = chat_body("default", "x", true);
  c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body);
  auto head = c.read_head();
  ASSERT_TRUE(head);
  ASSERT_TRUE(c.read_chunk());
  // The new config drops the alias and the backend this stream is using.
  const std::string yaml =
      "server:\n  listen: \"127.0.0.1:0\"\n  threads: 2\nadmin:\n  listen: "
      "\"127.0.0.1:0\"\nbackends:\n  other:\n    provider: vllm\n    "
      "base_url: \"" +
      closed_->base_url() + "\"\n    model: \"o\"\n";
  gw_->write_config(yaml);
  gw_->send_signal(SIGHUP);
  ASSERT_TRUE(gw_->wait_for_log("configuration reloaded", 5s)) << gw_->stderr_text();
  std::string rest;
  while (auto chunk = c.read_chunk()) {
    rest += *chunk;
  }
  EXPECT_NE(rest.find(" p7"), std::string::npos) << rest;
  EXPECT_NE(rest.find("[DONE]"), std::string::npos);
  auto gone =
      request(gw_->port(), "POST", "/v1/chat/completions", chat_body("default", "x", false));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404u);
  auto other = request(gw_->port(), "POST", "/v1/chat/completions", chat_body("other", "x", false));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200u);
}

TEST_F(LifecycleTest, AdminReloadReportsRejection) {
  gw_->write_config("backends: [}\n");
  auto r = request(gw_->admin_port(), "POST", "/admin/reload");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  auto ok = request(gw_->port(), "GET", "/v1/models");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200u);
}

TEST_F(LifecycleTest, SigtermLetsAnInFlightStreamFinishThenExitsZero) {
  std::vector<std::string> pieces;
  for (int i = 0; i < 10; ++i) {
    pieces.push_back(" w" + std::to_string(i));
  }
  const auto events = chat_stream_events("pinned/model-a", pieces, false, {});
  local_->push(sse_response(events, 50ms));
  Client c(gw_->port());
  const std::string body = chat_body("default", "x", true);
  c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body);
  auto head = c.read_head();
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200u);
  ASSERT_TRUE(c.read_chunk());
  gw_->send_signal(SIGTERM);
  std::string rest;
  while (auto chunk = c.read_chunk()) {
    rest += *chunk;
  }
  EXPECT_NE(rest.find("[DONE]"), std::string::npos) << rest;
  EXPECT_NE(rest.find(" w9"), std::string::npos);
  const auto code = gw_->wait_exit(10s);
  ASSERT_TRUE(code.has_value()) << gw_->stderr_text();
  EXPECT_EQ(*code, 0);
  Client after(gw_->port());
  EXPECT_FALSE(after.connected()) << "no new connections after shutdown";
}

}  // namespace
}  // namespace sb::testing
