// Keep-alive comments on streams whose upstream is silent (server.stream_keepalive), through the
// real process: a client (and any proxy in front of the gateway) hears `: keepalive` while a
// reasoning model thinks, in every dialect; the answer itself is unchanged, its time to first
// token is the first event's, the upstream's idle timeout still counts from its last byte, and
// once a comment has gone out the attempt is committed (no fallback behind the client's back).

#include <memory>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kComment = ": keepalive\n\n";

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// `body` without its keep-alive comments, and with the time of each event left out.
std::string without_comments(std::string body) {
  for (std::size_t at = body.find(kComment); at != std::string::npos; at = body.find(kComment)) {
    body.erase(at, kComment.size());
  }
  return std::regex_replace(body, std::regex(R"("created":[0-9]+)"), R"("created":0)");
}

// A chat stream whose every event (the first too) comes `gap` after the previous.
Response thinking_stream(std::chrono::milliseconds gap) {
  Response r = sse_response(chat_stream_events("m", {"Deep", " thought"}, true, {5, 2}), gap);
  r.chunks.front().delay = gap;
  return r;
}

class KeepAliveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions a;
    a.name = "thinker";
    thinker_ = std::make_unique<FakeUpstream>(a);
    FakeUpstreamOptions b;
    b.name = "spare";
    spare_ = std::make_unique<FakeUpstream>(b);
    FakeUpstreamOptions c;
    c.name = "secure";
    c.tls = true;
    c.cert_file = std::string(SB_TEST_CERTS_DIR) + "/server.pem";
    c.key_file = std::string(SB_TEST_CERTS_DIR) + "/server.key";
    secure_ = std::make_unique<FakeUpstream>(c);
    gw_ = std::make_unique<GatewayProcess>(config("100ms"));
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::string config(std::string_view keepalive) const {
    return R"(server: {listen: "127.0.0.1:0", threads: 1, stream_keepalive: )" +
           std::string(keepalive) + R"(}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 1}
backends:
  thinker:
    provider: vllm
    base_url: ")" +
           thinker_->base_url() + R"("
    model: m
    timeouts: {first_token: 5s, idle: 800ms, total: 20s}
  spare:
    provider: vllm
    base_url: ")" +
           spare_->base_url() + R"("
    model: m
  secure:
    provider: openai-compatible
    base_url: ")" +
           secure_->base_url() + R"("
    model: m
    tls: {ca_file: ")" +
           std::string(SB_TEST_CERTS_DIR) + R"(/ca.pem"}
    timeouts: {first_token: 5s, idle: 800ms, total: 20s}
models:
  secure: {candidates: [secure]}
  thinker: {candidates: [thinker]}
  thinker-or-spare: {candidates: [thinker, spare]}
)";
  }

  std::optional<HttpResponse> chat(GatewayProcess& gw, const std::string& model, bool stream,
                                   const std::string& id) {
    return request(gw.port(), "POST", "/v1/chat/completions", chat_body(model, "ponder", stream),
                   {{"x-request-id", id}});
  }

  static double number_after(const std::string& line, std::string_view key) {
    const std::size_t at = line.find(key);
    return at == std::string::npos ? -1 : std::stod(line.substr(at + key.size()));
  }

  std::unique_ptr<FakeUpstream> thinker_;
  std::unique_ptr<FakeUpstream> spare_;
  std::unique_ptr<FakeUpstream> secure_;  // over TLS, as closed providers are
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(KeepAliveTest, ASilentUpstreamsClientHearsCommentsAndGetsTheSameAnswer) {
  thinker_->push(thinking_stream(350ms));
  auto got = chat(*gw_, "thinker", true, "kept-alive");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  // A comment before the first event (the head goes with it) and between the events.
  EXPECT_EQ(got->body.rfind(kComment, 0), 0u) << got->body;
  EXPECT_GE(count(got->body, kComment), 4u) << got->body;
  // Without them, the stream is what the upstream sent.
  thinker_->push(sse_response(chat_stream_events("m", {"Deep", " thought"}, true, {5, 2})));
  auto plain = chat(*gw_, "thinker", true, "not-kept-alive");
  ASSERT_TRUE(plain);
  EXPECT_EQ(count(plain->body, kComment), 0u) << plain->body;
  EXPECT_EQ(without_comments(got->body), without_comments(plain->body));
  // Time to first token is the first event's (after 350 ms), not the first comment's (100 ms).
  const std::string line = gw_->access_line("kept-alive");
  ASSERT_FALSE(line.empty()) << gw_->stdout_text();
  EXPECT_GE(number_after(line, "\"ttft_ms\":"), 300.0) << line;
  EXPECT_NE(line.find("\"status\":200"), std::string::npos) << line;
  EXPECT_EQ(line.find("\"error\":\"client_gone\""), std::string::npos) << line;
}

// Over TLS (every closed provider): the reads the comments interrupt consumed nothing of the TLS
// stream, and the answer arrives whole.
TEST_F(KeepAliveTest, AnUpstreamOverTlsReadsOnAfterEachComment) {
  secure_->push(thinking_stream(300ms));
  auto got = chat(*gw_, "secure", true, "secure");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_GE(count(got->body, kComment), 4u) << got->body;
  secure_->push(sse_response(chat_stream_events("m", {"Deep", " thought"}, true, {5, 2})));
  auto plain = chat(*gw_, "secure", true, "secure-unpaced");
  ASSERT_TRUE(plain);
  EXPECT_EQ(without_comments(got->body), without_comments(plain->body));
}

TEST_F(KeepAliveTest, ACompleteAnswerGetsNoComments) {
  Response slow;
  slow.headers = {{"Content-Type", "application/json"}};
  slow.body = chat_completion_body("m", "Deep thought", {5, 2});
  slow.chunks = {Chunk{slow.body.substr(0, 10), 350ms}, Chunk{slow.body.substr(10), 0ms}};
  slow.body.clear();
  thinker_->push(slow);
  auto got = chat(*gw_, "thinker", false, "whole");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->body.front(), '{') << got->body;
  EXPECT_NE(got->body.find("Deep thought"), std::string::npos) << got->body;
  EXPECT_EQ(count(got->body, "keepalive"), 0u) << got->body;
}

TEST_F(KeepAliveTest, EveryDialectGetsTheCommentsAndItsWholeStream) {
  thinker_->push(thinking_stream(300ms));
  auto messages = request(gw_->port(), "POST", "/v1/messages",
                          R"({"model":"thinker","max_tokens":64,"stream":true,)"
                          R"("messages":[{"role":"user","content":"ponder"}]})",
                          {{"anthropic-version", "2023-06-01"}});
  ASSERT_TRUE(messages);
  EXPECT_EQ(messages->status, 200u) << messages->body;
  EXPECT_GE(count(messages->body, kComment), 2u) << messages->body;
  EXPECT_NE(messages->body.find("\"text\":\"Deep\""), std::string::npos) << messages->body;
  EXPECT_NE(messages->body.find("event: message_stop"), std::string::npos) << messages->body;

  thinker_->push(thinking_stream(300ms));
  auto responses = request(gw_->port(), "POST", "/v1/responses",
                           R"({"model":"thinker","stream":true,"input":"ponder"})");
  ASSERT_TRUE(responses);
  EXPECT_EQ(responses->status, 200u) << responses->body;
  EXPECT_GE(count(responses->body, kComment), 2u) << responses->body;
  EXPECT_NE(responses->body.find("\"delta\":\"Deep\""), std::string::npos) << responses->body;
  EXPECT_NE(responses->body.find("event: response.completed"), std::string::npos)
      << responses->body;
}

// The first comment sends the head: an upstream that fails after it ends the stream with an
// error event; the next candidate is not tried behind the client's back.
TEST_F(KeepAliveTest, AfterAKeepAliveTheAttemptIsCommitted) {
  Response silent_then_reset;
  silent_then_reset.headers = {{"Content-Type", "text/event-stream"}};
  silent_then_reset.chunks = {Chunk{"", 350ms}};
  silent_then_reset.reset_after_chunks = 1;
  thinker_->push(silent_then_reset);
  auto got = chat(*gw_, "thinker-or-spare", true, "committed");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->body.rfind(kComment, 0), 0u) << got->body;
  EXPECT_NE(got->body.find("upstream_stream_interrupted"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("[DONE]"), std::string::npos) << got->body;
  EXPECT_EQ(spare_->requests().size(), 0u);
}

// Comments to the client do not reset the upstream's idle timeout: a stream silent after its
// first event is cut `idle` after it, with the timeout's error event.
TEST_F(KeepAliveTest, TheUpstreamsIdleTimeoutCountsFromItsLastByte) {
  Response stalls = sse_response(chat_stream_events("m", {"Deep", " thought"}, false, {5, 2}));
  stalls.stall_after_chunks = 1;
  thinker_->push(stalls);
  auto got = chat(*gw_, "thinker", true, "stalled");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_GE(count(got->body, kComment), 2u) << got->body;
  EXPECT_NE(got->body.find("stream interrupted (idle_timeout)"), std::string::npos) << got->body;
}

TEST_F(KeepAliveTest, ZeroTurnsThemOff) {
  GatewayProcess off(config("0s"));
  ASSERT_TRUE(off.started()) << off.stderr_text();
  thinker_->push(thinking_stream(250ms));
  auto got = chat(off, "thinker", true, "off");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(count(got->body, "keepalive"), 0u) << got->body;
  EXPECT_NE(got->body.find("[DONE]"), std::string::npos) << got->body;
}

}  // namespace
}  // namespace sb::testing
