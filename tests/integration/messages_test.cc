// POST /v1/messages through the real process: an Anthropic SDK's request is routed by the same
// policies as a chat completion and answered in Anthropic's shape, whatever the backend speaks.

#include <algorithm>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

class MessagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    vendor_ = std::make_unique<FakeUpstream>();
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
tenants:
  team-a: {api_keys: ["sha256:8879f6a4ae35c420a15d35fed3b8dd07577207803d404f6d4cc4fa829dafa910"]}  # sk-team-a
sensitivity:
  levels: [public, internal, restricted]
  detectors:
    credit_card: restricted
backends:
  claude:
    provider: anthropic
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + vendor_->base_url() +
                             R"("
    api_key: "sk-ant-backend"
    model: "claude-3-5-sonnet-20241022"
    clearance: internal
  local:
    provider: vllm
    base_url: ")" + local_->base_url() +
                             R"("
    model: "pinned/local"
    max_output_tokens: 8192   # the model's own limit: agents asking for more are clamped
    clearance: restricted
models:
  claude: {candidates: [claude]}
  local: {candidates: [local]}
  smart: {candidates: [claude, local]}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::optional<HttpResponse> messages(std::string_view body, std::string_view key = "sk-team-a") {
    return request(gw_->port(), "POST", "/v1/messages", body,
                   {{"x-api-key", std::string(key)}, {"anthropic-version", "2023-06-01"}});
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> vendor_;
  std::unique_ptr<GatewayProcess> gw_;
};

// The event names of an Anthropic SSE body, in order.
std::vector<std::string> event_names(std::string_view body) {
  std::vector<std::string> names;
  std::size_t at = 0;
  while ((at = body.find("event: ", at)) != std::string_view::npos) {
    const std::size_t end = body.find('\n', at);
    names.emplace_back(body.substr(at + 7, end - at - 7));
    at = end;
  }
  return names;
}

TEST_F(MessagesTest, NonStreamFromAnOpenAIBackendIsAMessage) {
  auto got =
      messages(R"({"model":"local","max_tokens":64,"system":"be brief",)"
               R"("messages":[{"role":"user","content":[{"type":"text","text":"hi there"}]}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_NE(got->body.find(R"("type":"message")"), std::string::npos) << got->body;
  EXPECT_NE(got->body.find(R"("text":"Hello from local: hi there")"), std::string::npos);
  EXPECT_NE(got->body.find(R"("stop_reason":"end_turn")"), std::string::npos);
  EXPECT_NE(got->body.find(R"("model":"local")"), std::string::npos);
  EXPECT_NE(got->body.find(R"("output_tokens":)"), std::string::npos);
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  const auto sent = local_->requests().front();
  EXPECT_EQ(sent.target, "/v1/chat/completions");
  EXPECT_NE(sent.body.find(R"("role":"system","content":"be brief")"), std::string::npos)
      << sent.body;
  EXPECT_NE(sent.body.find(R"("max_tokens":64)"), std::string::npos) << sent.body;
  EXPECT_NE(sent.body.find(R"("model":"pinned/local")"), std::string::npos) << sent.body;
  EXPECT_FALSE(sent.header("x-api-key")) << "the client's key never reaches a backend";
}

TEST_F(MessagesTest, AnAgentsHistoryOfScreenshotsPastFourMiBGoesThroughByDefault) {
  // Coding agents resend their whole history, images included, on every turn: a body Anthropic
  // takes (up to 32 MB) must not be refused here, or the agent's session is stuck on a 413.
  const std::string image(2 * 1024 * 1024, 'A');  // 2 MiB of base64 each
  std::string body = R"({"model":"local","max_tokens":64,"messages":[)";
  for (int turn = 0; turn < 3; ++turn) {
    body += turn == 0 ? "" : ",";
    body += R"({"role":"user","content":[{"type":"image","source":{"type":"base64",)"
            R"("media_type":"image/png","data":")" +
            image + R"("}},{"type":"text","text":"and this one?"}]},)";
    body += R"({"role":"assistant","content":"I see it."})";
  }
  body += R"(,{"role":"user","content":"thanks"}]})";
  ASSERT_GT(body.size(), 6u << 20);
  auto got = messages(body);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body.substr(0, 300);
  ASSERT_TRUE(local_->wait_for_requests(1, 5s));
  const std::string sent = local_->requests().back().body;  // a copy: requests() is one
  EXPECT_GT(sent.size(), 6u << 20) << "every image reached the engine";
  std::size_t images = 0;
  for (std::size_t at = 0; (at = sent.find("data:image/png;base64,", at)) != std::string::npos;
       ++at) {
    ++images;
  }
  EXPECT_EQ(images, 3u);
}

TEST_F(MessagesTest, SystemTurnsInsideTheConversationAreAccepted) {
  // Claude Code's first request carries a system turn among its messages.
  auto got = messages(R"({"model":"local","max_tokens":64,"system":"be brief","messages":[)"
                      R"({"role":"user","content":"hi there"},)"
                      R"({"role":"system","content":[{"type":"text","text":"answer in French"}]},)"
                      R"({"role":"system","output_config":{"effort":"low"}},)"
                      R"({"role":"user","content":"again"}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  const std::string sent = local_->requests().front().body;
  const std::size_t hi = sent.find("hi there");
  const std::size_t french = sent.find(R"("role":"system","content":"answer in French")");
  const std::size_t again = sent.find("again");
  ASSERT_NE(french, std::string::npos) << sent;
  EXPECT_LT(hi, french) << "kept in its place: " << sent;
  EXPECT_LT(french, again) << sent;
}

TEST_F(MessagesTest, StreamFromAnOpenAIBackendIsAnthropicEvents) {
  auto got = messages(R"({"model":"local","max_tokens":64,"stream":true,)"
                      R"("messages":[{"role":"user","content":"hi there"}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("content-type").substr(0, 17), "text/event-stream");
  const auto names = event_names(got->body);
  ASSERT_GE(names.size(), 6u) << got->body;
  EXPECT_EQ(names.front(), "message_start");
  EXPECT_EQ(names[1], "content_block_start");
  EXPECT_EQ(names[names.size() - 2], "message_delta");
  EXPECT_EQ(names.back(), "message_stop");
  EXPECT_EQ(got->body.find("[DONE]"), std::string::npos) << "no OpenAI framing leaks";
  EXPECT_EQ(got->body.find("chat.completion.chunk"), std::string::npos);
  // The true usage arrives in message_delta: the gateway asked the backend for it.
  EXPECT_NE(got->body.find(R"("stop_reason":"end_turn")"), std::string::npos);
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  EXPECT_NE(local_->requests().front().body.find(R"("include_usage":true)"), std::string::npos);
}

TEST_F(MessagesTest, AnthropicBackendRoundTripsToolUse) {
  Response r;
  r.body =
      R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-3-5-sonnet-20241022",)"
      R"("content":[{"type":"tool_use","id":"toolu_01","name":"get_weather",)"
      R"("input":{"city":"Paris"}}],"stop_reason":"tool_use","stop_sequence":null,)"
      R"("usage":{"input_tokens":20,"output_tokens":9}})";
  vendor_->push(r);
  auto got = messages(
      R"({"model":"claude","max_tokens":64,"tools":[{"name":"get_weather",)"
      R"("description":"Weather","input_schema":{"type":"object","properties":{"city":)"
      R"({"type":"string"}}}}],"messages":[{"role":"user","content":"weather in Paris?"}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_NE(got->body.find(R"("type":"tool_use")"), std::string::npos) << got->body;
  EXPECT_NE(got->body.find(R"("name":"get_weather")"), std::string::npos);
  EXPECT_NE(got->body.find(R"("input":{"city":"Paris"})"), std::string::npos);
  EXPECT_NE(got->body.find(R"("stop_reason":"tool_use")"), std::string::npos);
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  const auto sent = vendor_->requests().front();
  EXPECT_EQ(sent.target, "/v1/messages");
  EXPECT_EQ(sent.header("x-api-key").value_or(""), "sk-ant-backend");
  EXPECT_NE(sent.body.find(R"("input_schema")"), std::string::npos) << sent.body;
}

TEST_F(MessagesTest, SensitiveContentStaysOnTheClearedBackend) {
  // "smart" prefers claude, cleared only to internal: a card number must go to local.
  auto got =
      messages(R"({"model":"smart","max_tokens":16,)"
               R"("messages":[{"role":"user","content":"charge 4111 1111 1111 1111 please"}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "local");
  EXPECT_EQ(got->header("x-switchboard-sensitivity"), "restricted");
  EXPECT_EQ(vendor_->request_count(), 0u);
}

TEST_F(MessagesTest, WhatOnlyTheAnthropicBackendWouldReceiveIsScannedToo) {
  // metadata other than user_id is not translated: only the faithful lane would carry it, so the
  // client's body is scanned as well, and the card keeps the request off claude.
  auto got = messages(R"({"model":"smart","max_tokens":16,"metadata":{"note":)"
                      R"("4111 1111 1111 1111"},"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "local");
  EXPECT_EQ(got->header("x-switchboard-sensitivity"), "restricted");
  EXPECT_EQ(vendor_->request_count(), 0u);
}

TEST_F(MessagesTest, ErrorsAreAnthropicShaped) {
  auto unauth = messages(R"({"model":"local","max_tokens":5,"messages":[]})", "wrong");
  ASSERT_TRUE(unauth);
  EXPECT_EQ(unauth->status, 401u);
  EXPECT_NE(unauth->body.find(R"({"type":"error","error":{"type":"authentication_error")"),
            std::string::npos)
      << unauth->body;

  auto bad_json = messages(R"({"model":)");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400u);
  EXPECT_NE(bad_json->body.find(R"("type":"invalid_request_error")"), std::string::npos);

  auto no_max = messages(R"({"model":"local","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(no_max);
  EXPECT_EQ(no_max->status, 400u);
  EXPECT_NE(no_max->body.find("max_tokens"), std::string::npos) << no_max->body;

  auto unknown = messages(R"({"model":"gpt-9","max_tokens":5,)"
                          R"("messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404u);
  EXPECT_NE(unknown->body.find(R"("type":"not_found_error")"), std::string::npos);

  Response limited;
  limited.status = 429;
  limited.headers = {{"retry-after", "7"}};
  limited.body = error_body("Rate limit reached", "rate_limit_error", "rate_limit_exceeded");
  local_->push(limited);
  auto got = messages(R"({"model":"local","max_tokens":5,)"
                      R"("messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 429u);
  EXPECT_EQ(got->header("retry-after"), "7");
  EXPECT_NE(got->body.find(R"({"type":"error","error":{"type":"rate_limit_error")"),
            std::string::npos)
      << got->body;
  EXPECT_NE(got->body.find("Rate limit reached"), std::string::npos);
  EXPECT_EQ(local_->requests().size(), 1u) << "invalid requests never reach a backend";
}

TEST_F(MessagesTest, StreamCutMidwayEndsWithAnErrorEvent) {
  auto events = chat_stream_events("pinned/local", {"Hello", " there", " friend"}, true, {3, 3});
  Response cut = sse_response(events);
  cut.reset_after_chunks = 2;
  local_->push(cut);
  auto got = messages(R"({"model":"local","max_tokens":64,"stream":true,)"
                      R"("messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u);
  const auto names = event_names(got->body);
  ASSERT_FALSE(names.empty()) << got->body;
  EXPECT_EQ(names.front(), "message_start");
  EXPECT_EQ(names.back(), "error") << got->body;
  EXPECT_EQ(got->body.find("message_stop"), std::string::npos) << "never a clean end";
}

// A Claude-Code-like body: cache_control, thinking with a signed block, redacted thinking,
// output_config, context_management, a server tool, defer_loading, is_error, a system turn.
std::string faithful_body(std::string_view model, bool stream) {
  std::string b = R"({"model":")" + std::string(model) + R"(","max_tokens":2048,)";
  b += stream ? R"("stream":true,)" : "";
  b +=
      R"("thinking":{"type":"enabled","budget_tokens":1024},"output_config":{"effort":"medium"},)"
      R"("context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},)"
      R"("system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],)"
      R"("tools":[{"name":"Bash","description":"run","input_schema":{"type":"object"}},)"
      R"({"name":"Later","description":"x","input_schema":{"type":"object"},"defer_loading":true},)"
      R"({"type":"web_search_20250305","name":"web_search","max_uses":2}],)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"hi there",)"
      R"("cache_control":{"type":"ephemeral"}}]},)"
      R"({"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"c2ln"},)"
      R"({"type":"redacted_thinking","data":"ZW5j"},)"
      R"({"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1",)"
      R"("content":"no such dir","is_error":true}]},)"
      R"({"role":"system","content":"# Environment"}]})";
  return b;
}

TEST_F(MessagesTest, AnAnthropicBackendGetsTheClientsBodyVerbatim) {
  const std::string body = faithful_body("claude", false);
  auto got = request(
      gw_->port(), "POST", "/v1/messages?beta=true", body,
      {{"x-api-key", "sk-team-a"},
       {"anthropic-version", "2023-06-01"},
       {"anthropic-beta", "interleaved-thinking-2025-05-14,context-management-2025-06-27"}});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "claude");
  EXPECT_NE(got->body.find(R"("type":"message")"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("msg_msg_"), std::string::npos) << got->body;
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  const RecordedRequest sent = vendor_->requests().front();
  std::string expected = body;
  expected.replace(expected.find(R"("model":"claude")"), 16,
                   R"("model":"claude-3-5-sonnet-20241022")");
  EXPECT_EQ(sent.body, expected) << "only the model differs";
  EXPECT_EQ(sent.header("anthropic-beta").value_or(""),
            "interleaved-thinking-2025-05-14,context-management-2025-06-27");
  EXPECT_EQ(sent.header("anthropic-version").value_or(""), "2023-06-01");
  EXPECT_EQ(sent.header("x-api-key").value_or(""), "sk-ant-backend");
}

TEST_F(MessagesTest, AnAnthropicStreamIsRelayedAsItCame) {
  auto got = messages(faithful_body("claude", true));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto names = event_names(got->body);
  ASSERT_FALSE(names.empty()) << got->body;
  EXPECT_EQ(names.front(), "message_start");
  EXPECT_EQ(names.back(), "message_stop") << got->body;
  EXPECT_NE(std::find(names.begin(), names.end(), "ping"), names.end()) << got->body;
  EXPECT_EQ(got->body.find("msg_msg_"), std::string::npos) << got->body;
}

TEST_F(MessagesTest, AnOpenAIFormatEngineGetsNoAnthropicHeadersAndAClampedMaxTokens) {
  auto got = request(
      gw_->port(), "POST", "/v1/messages",
      R"({"model":"local","max_tokens":128000,"messages":[{"role":"user","content":"hi"}]})",
      {{"x-api-key", "sk-team-a"},
       {"anthropic-version", "2023-06-01"},
       {"anthropic-beta", "claude-code-20250219"}});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  const RecordedRequest sent = local_->requests().front();
  EXPECT_FALSE(sent.header("anthropic-beta"));
  EXPECT_FALSE(sent.header("anthropic-version"));
  EXPECT_NE(sent.body.find(R"("max_tokens":8192)"), std::string::npos) << sent.body;
}

TEST_F(MessagesTest, ALimitWrittenAsAFloatOrAStringIsClampedToo) {
  // What the typed reading refuses as a limit but a lenient engine (vLLM's request model) reads
  // as one: an engine is not asked for more than its declared limit by writing it so.
  const struct {
    const char* path;
    std::string body;
    std::string_view want;
  } cases[] = {
      {"/v1/chat/completions",
       R"({"model":"local","max_tokens":1e5,"messages":[{"role":"user","content":"hi"}]})",
       R"("max_tokens":8192,)"},
      {"/v1/chat/completions",
       R"({"model":"local","max_completion_tokens":128000.0,"messages":[{"role":"user","content":"hi"}]})",
       R"("max_completion_tokens":8192,)"},
      {"/v1/chat/completions",
       R"({"model":"local","max_tokens":"32000","messages":[{"role":"user","content":"hi"}]})",
       R"("max_tokens":8192,)"},
      {"/v1/chat/completions",
       R"({"model":"local","max_tokens":50.0,"messages":[{"role":"user","content":"hi"}]})",
       R"("max_tokens":50.0,)"},  // within the limit: as sent
      {"/v1/completions", R"({"model":"local","max_tokens":1e5,"prompt":"hi"})",
       R"("max_tokens":8192,)"},
      {"/v1/messages",
       R"({"model":"local","max_tokens":1e5,"messages":[{"role":"user","content":"hi"}]})",
       R"("max_tokens":8192)"},
  };
  std::size_t seen = 0;
  for (const auto& c : cases) {
    auto got = request(gw_->port(), "POST", c.path, c.body,
                       {{"x-api-key", "sk-team-a"}, {"anthropic-version", "2023-06-01"}});
    ASSERT_TRUE(got) << c.body;
    ASSERT_EQ(got->status, 200u) << c.body << ": " << got->body;
    ASSERT_TRUE(local_->wait_for_requests(++seen, 2s)) << c.body;
    const std::string sent = local_->requests().back().body;
    EXPECT_NE(sent.find(c.want), std::string::npos) << c.body << " went as " << sent;
  }
}

TEST_F(MessagesTest, TheTypedLaneClampsEveryLimitWhereverAndHoweverItIsWritten) {
  // The typed reading says where the members are: each limit over the declared one is rewritten
  // in place, the rest of the body byte for byte.
  const struct {
    std::string body;
    std::vector<std::string_view> want;
  } cases[] = {
      {R"({"model":"local","max_completion_tokens":40000,"max_tokens":50000,"messages":[{"role":"user","content":"hi"}]})",
       {R"({"model":"pinned/local","max_completion_tokens":8192,"max_tokens":8192,"messages":[)"}},
      {R"({ "model": "local", "messages": [ {"role": "user", "content": "hi"} ], "max_tokens" : 32000 } )",
       {R"("messages": [ {"role": "user", "content": "hi"} ], "max_tokens" : 8192 })"}},
      {R"({"model":"local","max\u005ftokens":32000,"messages":[{"role":"user","content":"hi"}]})",
       {R"("max\u005ftokens":8192,)"}},
  };
  std::size_t seen = local_->requests().size();
  for (const auto& c : cases) {
    auto got = request(gw_->port(), "POST", "/v1/chat/completions", c.body,
                       {{"authorization", "Bearer sk-team-a"}});
    ASSERT_TRUE(got) << c.body;
    ASSERT_EQ(got->status, 200u) << c.body << ": " << got->body;
    ASSERT_TRUE(local_->wait_for_requests(++seen, 2s)) << c.body;
    const std::string sent = local_->requests().back().body;
    for (std::string_view w : c.want) {
      EXPECT_NE(sent.find(w), std::string::npos) << c.body << " went as " << sent;
    }
  }
}

TEST_F(MessagesTest, ServerToolsGoToAnthropicAndAreLeftOutForEngines) {
  const std::string server_tool =
      R"(,"max_tokens":64,"tools":[{"type":"web_search_20250305","name":"web_search"}],)"
      R"("messages":[{"role":"user","content":"search the news"}]})";
  auto native = messages(R"({"model":"claude")" + server_tool);
  ASSERT_TRUE(native);
  EXPECT_EQ(native->status, 200u) << native->body;
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  EXPECT_NE(vendor_->requests().front().body.find("web_search_20250305"), std::string::npos);
  auto local = messages(R"({"model":"local")" + server_tool);
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200u) << local->body;
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  EXPECT_EQ(local_->requests().front().body.find("web_search"), std::string::npos)
      << "the engine cannot run Anthropic's server tools";
}

TEST_F(MessagesTest, WhatChatCannotCarryIsRefusedClearlyOffTheFaithfulLane) {
  // A PDF: an engine cannot read it, and dropping it would change the question.
  auto got =
      messages(R"({"model":"local","max_tokens":64,"messages":[{"role":"user","content":[)"
               R"({"type":"document","source":{"type":"base64","media_type":)"
               R"("application/pdf","data":"JVBERi0xLjQK"}},{"type":"text","text":"sum up"}]}]})");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 400u) << got->body;
  EXPECT_NE(got->body.find(R"("type":"invalid_request_error")"), std::string::npos) << got->body;
  EXPECT_EQ(local_->request_count(), 0u);
}

TEST_F(MessagesTest, CountTokensIsExactFromAnthropicAndEstimatedElsewhere) {
  const std::string body =
      R"({"model":"%s","messages":[{"role":"user","content":"how many tokens is this"}]})";
  auto count = [&](std::string_view model) {
    std::string b = body;
    b.replace(b.find("%s"), 2, model);
    return request(gw_->port(), "POST", "/v1/messages/count_tokens?beta=true", b,
                   {{"x-api-key", "sk-team-a"}, {"anthropic-version", "2023-06-01"}});
  };
  auto exact = count("claude");
  ASSERT_TRUE(exact);
  ASSERT_EQ(exact->status, 200u) << exact->body;
  EXPECT_TRUE(exact->body.starts_with(R"({"input_tokens":)")) << exact->body;
  EXPECT_EQ(exact->header("x-switchboard-token-count"), "exact");
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  EXPECT_EQ(vendor_->requests().front().target, "/v1/messages/count_tokens?beta=true");

  auto estimated = count("local");
  ASSERT_TRUE(estimated);
  ASSERT_EQ(estimated->status, 200u) << estimated->body;
  EXPECT_TRUE(estimated->body.starts_with(R"({"input_tokens":)")) << estimated->body;
  EXPECT_EQ(estimated->header("x-switchboard-token-count"), "estimated");
  EXPECT_EQ(local_->request_count(), 0u) << "an estimate sends nothing";

  auto unknown = count("gpt-9");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404u);
  EXPECT_NE(unknown->body.find(R"("type":"not_found_error")"), std::string::npos);
}

}  // namespace
}  // namespace sb::testing
