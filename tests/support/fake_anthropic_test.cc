// What the fake's Anthropic lane learned for coding agents, over real HTTP: system turns inside
// `messages`, POST .../messages/count_tokens, and signed thinking blocks (whole and streamed).

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <vector>

#include "tests/support/fake_upstream.h"
#include "tests/support/http_test_client.h"

namespace sb::testing {
namespace {

using namespace client;

FakeUpstreamOptions named(std::string name) {
  FakeUpstreamOptions options;
  options.name = std::move(name);
  return options;
}

Reply send(const FakeUpstream& fake, http::request<http::string_body> req) {
  Client c;
  if (error_code ec = c.connect(fake.port())) {
    Reply failed;
    failed.ec = ec;
    return failed;
  }
  return c.request(std::move(req));
}

const Headers kAuth = {{"x-api-key", "sk-ant"}, {"anthropic-version", "2023-06-01"}};

struct SseEvent {
  std::string name;
  json::value data;
};

std::vector<SseEvent> named_events(const Reply& reply) {
  std::vector<SseEvent> out;
  for (const auto& frame : reply.frames) {
    EXPECT_TRUE(frame.starts_with("event: ") && frame.ends_with("\n\n")) << frame;
    std::size_t nl = frame.find('\n');
    out.push_back(
        {frame.substr(7, nl - 7), json::parse(frame.substr(nl + 7, frame.size() - nl - 9))});
  }
  return out;
}

std::string messages_request(std::string_view messages, std::string_view extra = "") {
  std::string body = R"({"model":"claude-sonnet-4-5","max_tokens":2048,)";
  body += extra;
  body += R"("messages":)";
  body += messages;
  body += "}";
  return body;
}

// --- system turns ---

TEST(FakeAnthropicSystemTurnsTest, AcceptedInEveryPositionAndCountedAsPrompt) {
  FakeUpstream fake(named("alpha"));
  for (std::string_view messages :
       {R"([{"role":"system","content":"Be brief."},{"role":"user","content":"hi there"}])",
        R"([{"role":"user","content":"hi there"},{"role":"system","content":"Be brief."}])",
        R"([{"role":"user","content":"q"},{"role":"assistant","content":"a"},)"
        R"({"role":"system","content":[{"type":"text","text":"Be brief."}]},)"
        R"({"role":"user","content":"hi there"}])"}) {
    Reply reply = send(fake, post("/v1/messages", messages_request(messages), kAuth));
    ASSERT_FALSE(reply.ec);
    EXPECT_EQ(reply.status(), 200u) << messages << reply.body;
    json::value v = reply.json_body();
    EXPECT_EQ(v.at("content").at(0).at("text"), "Hello from alpha: hi there") << messages;
  }
  // A trailing system turn (Claude Code's output_config turn) leaves the user's words last.
  json::value v = send(fake, post("/v1/messages",
                                  messages_request(R"([{"role":"user","content":"hi there"},)"
                                                   R"({"role":"system","content":"Be brief."}])"),
                                  kAuth))
                      .json_body();
  EXPECT_EQ(v.at("usage").at("input_tokens"), 5 + 5);
}

TEST(FakeAnthropicSystemTurnsTest, ToolsStillAnswerTheUserBeforeASystemTurn) {
  FakeUpstream fake(named("alpha"));
  json::value v =
      send(fake, post("/v1/messages",
                      messages_request(R"([{"role":"user","content":"hi there"},)"
                                       R"({"role":"system","content":"Be brief."}])",
                                       R"("tools":[{"name":"lookup","input_schema":{}}],)"),
                      kAuth))
          .json_body();
  EXPECT_EQ(v.at("stop_reason"), "tool_use");
  EXPECT_EQ(v.at("content").at(0).at("input"), json::parse(R"({"query":"hi there"})"));
}

// --- count_tokens ---

TEST(FakeAnthropicCountTokensTest, CountsWhatTheMessageWouldReport) {
  FakeUpstream fake(named("alpha"));
  const std::string messages =
      R"([{"role":"user","content":"hi there"},{"role":"assistant","content":"yes"},)"
      R"({"role":"system","content":"Be brief."},{"role":"user","content":"and more words"}])";
  std::string count_body = R"({"model":"claude-sonnet-4-5","system":"You are terse.",)"
                           R"("messages":)" +
                           messages + "}";
  Reply count = send(fake, post("/v1/messages/count_tokens", count_body, kAuth));
  ASSERT_FALSE(count.ec);
  EXPECT_EQ(count.status(), 200u);
  EXPECT_EQ(count.header("Content-Type"), "application/json");
  EXPECT_TRUE(count.header("request-id").starts_with("req_"));
  EXPECT_EQ(count.body, R"({"input_tokens":26})");  // 6 + 5 + 4 + 5 + 6 (3 per turn)
  json::value message =
      send(fake,
           post("/v1/messages", messages_request(messages, R"("system":"You are terse.",)"), kAuth))
          .json_body();
  EXPECT_EQ(message.at("usage").at("input_tokens"), 26);
}

TEST(FakeAnthropicCountTokensTest, ErrorsInAnthropicsShape) {
  FakeUpstream fake;
  Reply no_key = send(fake, post("/v1/messages/count_tokens", R"({"model":"c","messages":[]})"));
  EXPECT_EQ(no_key.status(), 401u);
  EXPECT_EQ(no_key.json_body().at("error").at("type"), "authentication_error");
  Reply no_messages = send(fake, post("/v1/messages/count_tokens", R"({"model":"c"})", kAuth));
  EXPECT_EQ(no_messages.status(), 400u);
  EXPECT_EQ(no_messages.json_body().at("error").at("message"), "messages: Field required");
  Headers overloaded = kAuth;
  overloaded.emplace_back("x-fake-status", "529");
  Reply busy = send(fake, post("/v1/messages/count_tokens", "{}", overloaded));
  EXPECT_EQ(busy.status(), 529u);
  EXPECT_EQ(busy.json_body().at("error").at("type"), "overloaded_error");
}

// --- thinking ---

const std::string kEnabled = R"("thinking":{"type":"enabled","budget_tokens":1024},)";
const std::string kHi = R"([{"role":"user","content":"hi there"}])";

TEST(FakeAnthropicThinkingTest, AnswerStartsWithASignedThinkingBlock) {
  FakeUpstream fake(named("alpha"));
  for (const std::string& thinking :
       {kEnabled, std::string(R"("thinking":{"type":"adaptive"},)")}) {
    Reply reply = send(fake, post("/v1/messages", messages_request(kHi, thinking), kAuth));
    ASSERT_EQ(reply.status(), 200u) << reply.body;
    json::value v = reply.json_body();
    const auto& content = v.at("content").as_array();
    ASSERT_EQ(content.size(), 2u);
    EXPECT_EQ(content[0].at("type"), "thinking");
    EXPECT_EQ(content[0].at("thinking"), "Thinking about: hi there");
    EXPECT_GE(content[0].at("signature").as_string().size(), 64u);
    EXPECT_EQ(content[1], json::parse(R"({"type":"text","text":"Hello from alpha: hi there"})"));
    EXPECT_EQ(v.at("usage").at("output_tokens"), 4 + 5);  // thinking words count as output
  }
  json::value plain =
      send(fake,
           post("/v1/messages", messages_request(kHi, R"("thinking":{"type":"disabled"},)"), kAuth))
          .json_body();
  EXPECT_EQ(plain.at("content").as_array().size(), 1u);
}

TEST(FakeAnthropicThinkingTest, StreamsThinkingDeltasThenTheSignatureThenTheText) {
  FakeUpstream fake(named("alpha"));
  std::string body = messages_request(kHi, kEnabled);
  body.insert(1, R"("stream":true,)");
  std::vector<SseEvent> events = named_events(send(fake, post("/v1/messages", body, kAuth)));
  std::vector<std::string> names;
  for (const auto& e : events) {
    names.push_back(e.name);
    EXPECT_EQ(e.data.at("type").as_string(), e.name);
  }
  ASSERT_EQ(names, (std::vector<std::string>{
                       "message_start", "content_block_start", "ping", "content_block_delta",
                       "content_block_delta", "content_block_delta", "content_block_delta",
                       "content_block_delta", "content_block_stop", "content_block_start",
                       "content_block_delta", "content_block_delta", "content_block_delta",
                       "content_block_delta", "content_block_delta", "content_block_stop",
                       "message_delta", "message_stop"}));
  EXPECT_EQ(events[1].data.at("content_block"),
            json::parse(R"({"type":"thinking","thinking":"","signature":""})"));
  EXPECT_EQ(events[1].data.at("index"), 0);
  std::string thinking;
  for (std::size_t i = 3; i < 7; ++i) {
    EXPECT_EQ(events[i].data.at("index"), 0);
    EXPECT_EQ(events[i].data.at("delta").at("type"), "thinking_delta");
    thinking += std::string(events[i].data.at("delta").at("thinking").as_string());
  }
  EXPECT_EQ(thinking, "Thinking about: hi there");
  EXPECT_EQ(events[7].data.at("delta").at("type"), "signature_delta");
  EXPECT_FALSE(events[7].data.at("delta").at("signature").as_string().empty());
  EXPECT_EQ(events[8].data.at("index"), 0);
  EXPECT_EQ(events[9].data.at("index"), 1);
  EXPECT_EQ(events[9].data.at("content_block"), json::parse(R"({"type":"text","text":""})"));
  std::string text;
  for (std::size_t i = 10; i < 15; ++i) {
    EXPECT_EQ(events[i].data.at("index"), 1);
    text += std::string(events[i].data.at("delta").at("text").as_string());
  }
  EXPECT_EQ(text, "Hello from alpha: hi there");
  EXPECT_EQ(events[15].data.at("index"), 1);
  EXPECT_EQ(events[16].data.at("usage").at("output_tokens"), 9);
}

TEST(FakeAnthropicThinkingTest, ThinkingPrecedesAToolCall) {
  FakeUpstream fake(named("alpha"));
  json::value v =
      send(fake, post("/v1/messages",
                      messages_request(kHi, kEnabled + R"("tools":[{"name":"lookup"}],)"), kAuth))
          .json_body();
  EXPECT_EQ(v.at("content").at(0).at("type"), "thinking");
  EXPECT_EQ(v.at("content").at(1).at("type"), "tool_use");
  EXPECT_EQ(v.at("stop_reason"), "tool_use");
}

TEST(FakeAnthropicThinkingTest, InvalidThinkingIsRefused) {
  FakeUpstream fake;
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {messages_request(kHi, R"("thinking":{"type":"enabled","budget_tokens":512},)"),
       "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"},
      {messages_request(kHi, R"("thinking":{"type":"enabled"},)"),
       "thinking.enabled.budget_tokens: Field required"},
      {messages_request(kHi, R"("thinking":{"type":"enabled","budget_tokens":4096},)"),
       "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
       "documentation at https://docs.claude.com/en/docs/build-with-claude/"
       "extended-thinking#max-tokens-and-context-window-size"},
      {messages_request(kHi, R"("thinking":{"type":"sometimes"},)"),
       "thinking: Input tag 'sometimes' found using 'type' does not match any of the expected "
       "tags: 'adaptive', 'disabled', 'enabled'"},
      // A thinking block sent back without its signature.
      {messages_request(R"([{"role":"user","content":"q"},{"role":"assistant","content":[)"
                        R"({"type":"thinking","thinking":"hmm"},{"type":"text","text":"a"}]},)"
                        R"({"role":"user","content":"hi"}])",
                        kEnabled),
       "messages.1.content.0.thinking.signature: Field required"},
  };
  for (const auto& c : cases) {
    Reply reply = send(fake, post("/v1/messages", c.body, kAuth));
    EXPECT_EQ(reply.status(), 400u) << c.body;
    EXPECT_EQ(reply.json_body().at("error").at("type"), "invalid_request_error");
    EXPECT_EQ(reply.json_body().at("error").at("message").as_string(), c.message);
  }
  // Signed thinking blocks sent back are accepted.
  Reply signed_back =
      send(fake,
           post("/v1/messages",
                messages_request(R"([{"role":"user","content":"q"},{"role":"assistant","content":[)"
                                 R"({"type":"thinking","thinking":"hmm","signature":"EqQB"},)"
                                 R"({"type":"text","text":"a"}]},{"role":"user","content":"hi"}])",
                                 kEnabled),
                kAuth));
  EXPECT_EQ(signed_back.status(), 200u) << signed_back.body;
}

}  // namespace
}  // namespace sb::testing
