// Closed providers with their own wire formats, through the real process: the fake upstream
// speaks Anthropic's Messages API and Gemini's generateContent byte for byte, and the client
// still sees exactly what OpenAI would send.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAnthropicMessage =
    R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022",)"
    R"("content":[{"type":"text","text":"Hi from Claude"}],"stop_reason":"end_turn",)"
    R"("stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":4}})";

std::vector<std::string> anthropic_stream() {
  const auto event = [](const char* name, const std::string& data) {
    return std::string("event: ") + name + "\ndata: " + data + "\n\n";
  };
  return {
      event(
          "message_start",
          R"({"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}})"),
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"),
      event("ping", R"({"type":"ping"})"),
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"),
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}})"),
      event("content_block_stop", R"({"type":"content_block_stop","index":0})"),
      event(
          "message_delta",
          R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}})"),
      event("message_stop", R"({"type":"message_stop"})"),
  };
}

constexpr const char* kGeminiResponse =
    R"({"candidates":[{"content":{"parts":[{"text":"Hi from Gemini"}],"role":"model"},)"
    R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,)"
    R"("candidatesTokenCount":4,"totalTokenCount":12},"modelVersion":"gemini-2.0-flash"})";

class ProvidersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    vendor_ = std::make_unique<FakeUpstream>();
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
backends:
  claude:
    provider: anthropic
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + vendor_->base_url() +
                             R"("
    api_key: "sk-ant-backend"
    model: "claude-3-5-sonnet-20241022"
    clearance: internal
  gemini:
    provider: gemini
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + vendor_->base_url() +
                             R"("
    api_key: "goog-backend"
    model: "gemini-2.0-flash"
    clearance: internal
  local:
    provider: vllm
    base_url: ")" + local_->base_url() +
                             R"("
    model: "pinned/local"
    clearance: restricted
models:
  claude: {candidates: [claude]}
  gemini: {candidates: [gemini]}
  claude-or-local: {candidates: [claude, local]}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }
  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> vendor_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(ProvidersTest, AnthropicNonStreamBecomesAChatCompletion) {
  Response r;
  r.body = kAnthropicMessage;
  vendor_->push(r);
  auto got = request(gw_->port(), "POST", "/v1/chat/completions",
                     R"({"model":"claude","messages":[{"role":"system","content":"be brief"},)"
                     R"({"role":"user","content":"hi"}]})",
                     {{"Authorization", "Bearer client-key"}});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_NE(got->body.find("\"object\":\"chat.completion\""), std::string::npos) << got->body;
  EXPECT_NE(got->body.find("Hi from Claude"), std::string::npos);
  EXPECT_NE(got->body.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_NE(got->body.find("\"prompt_tokens\":10"), std::string::npos);
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  const auto sent = vendor_->requests().front();
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.header("x-api-key").value_or(""), "sk-ant-backend");
  EXPECT_FALSE(sent.header("authorization")) << "the client's key never reaches the provider";
  EXPECT_TRUE(sent.header("anthropic-version"));
  EXPECT_NE(sent.body.find("\"system\""), std::string::npos) << sent.body;
  EXPECT_NE(sent.body.find("\"max_tokens\""), std::string::npos) << sent.body;
}

TEST_F(ProvidersTest, AnthropicStreamBecomesOpenAIChunks) {
  vendor_->push(sse_response(anthropic_stream()));
  auto got = request(gw_->port(), "POST", "/v1/chat/completions",
                     R"({"model":"claude","stream":true,"stream_options":{"include_usage":true},)"
                     R"("messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto events = sse_data(got->body);
  ASSERT_GE(events.size(), 4u) << got->body;
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (const auto& e : events) {
    EXPECT_EQ(e.find("\"type\":\"content_block_delta\""), std::string::npos) << "untranslated";
    const auto at = e.find("\"content\":\"");
    if (at != std::string::npos) {
      text += e.substr(at + 11, e.find('"', at + 11) - at - 11);
    }
  }
  EXPECT_EQ(text, "Hello world");
  EXPECT_NE(events[events.size() - 2].find("\"completion_tokens\":5"), std::string::npos)
      << events[events.size() - 2];
}

TEST_F(ProvidersTest, OverloadedAnthropicFallsBackToTheNextBackend) {
  Response overloaded;
  overloaded.status = 529;
  overloaded.body =
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})";
  vendor_->push(overloaded);
  auto got = request(gw_->port(), "POST", "/v1/chat/completions",
                     R"({"model":"claude-or-local","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "local");
  const std::string m = wait_for_metrics(
      gw_->admin_port(), {"switchboard_fallbacks_total{from=\"claude\",to=\"local\"} 1"});
  EXPECT_NE(m.find("switchboard_fallbacks_total{from=\"claude\",to=\"local\"} 1"),
            std::string::npos);
}

TEST_F(ProvidersTest, GeminiNonStreamAndStream) {
  Response r;
  r.body = kGeminiResponse;
  vendor_->push(r);
  auto got = request(gw_->port(), "POST", "/v1/chat/completions",
                     R"({"model":"gemini","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_NE(got->body.find("Hi from Gemini"), std::string::npos) << got->body;
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  EXPECT_EQ(vendor_->requests().front().target, "/v1/models/gemini-2.0-flash:generateContent");
  EXPECT_EQ(vendor_->requests().front().header("x-goog-api-key").value_or(""), "goog-backend");

  vendor_->push(sse_response(
      {"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},"
       "\"index\":0}],\"modelVersion\":\"gemini-2.0-flash\"}\r\n\r\n",
       "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}],\"role\":\"model\"},"
       "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,"
       "\"candidatesTokenCount\":2,\"totalTokenCount\":5},\"modelVersion\":\"gemini-2.0-flash\"}"
       "\r\n\r\n"}));
  auto streamed = request(gw_->port(), "POST", "/v1/chat/completions",
                          R"({"model":"gemini","stream":true,)"
                          R"("messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200u) << streamed->body;
  const auto events = sse_data(streamed->body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]") << "Gemini sends no [DONE]; the client still gets one";
  EXPECT_EQ(vendor_->requests().back().target,
            "/v1/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
}

}  // namespace
}  // namespace sb::testing
