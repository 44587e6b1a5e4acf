// The fake upstream's native wire formats, over real HTTP: Anthropic, Ollama, Gemini, Azure
// OpenAI, Bedrock, health endpoints, and tool calls in every format including OpenAI's.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
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

/// One request on a fresh connection.
Reply send(const FakeUpstream& fake, http::request<http::string_body> req) {
  Client c;
  if (error_code ec = c.connect(fake.port())) {
    Reply failed;
    failed.ec = ec;
    return failed;
  }
  return c.request(std::move(req));
}

const Headers kAnthropicAuth = {{"x-api-key", "sk-ant"}, {"anthropic-version", "2023-06-01"}};

// --- Anthropic ---

struct SseEvent {
  std::string name;
  json::value data;
};

/// `event: NAME\ndata: JSON\n\n` events, checking the framing of each.
std::vector<SseEvent> named_events(const Reply& reply) {
  std::vector<SseEvent> out;
  for (const auto& frame : reply.frames) {
    EXPECT_TRUE(frame.starts_with("event: ") && frame.ends_with("\n\n")) << frame;
    std::size_t nl = frame.find('\n');
    EXPECT_EQ(frame.substr(nl + 1, 6), "data: ") << frame;
    out.push_back(
        {frame.substr(7, nl - 7), json::parse(frame.substr(nl + 7, frame.size() - nl - 9))});
  }
  return out;
}

const std::string kAnthropicChat =
    R"({"model":"claude-3-5-haiku","max_tokens":64,"system":"You are terse.",)"
    R"("messages":[{"role":"user","content":"hi there"}]})";

TEST(FakeAnthropicTest, AnswersAMessageEchoingTheUser) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post("/v1/messages", kAnthropicChat, kAnthropicAuth));
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.header("Content-Type"), "application/json");
  EXPECT_TRUE(reply.header("request-id").starts_with("req_"));
  json::value v = reply.json_body();
  EXPECT_TRUE(v.at("id").as_string().starts_with("msg_"));
  EXPECT_EQ(v.at("type"), "message");
  EXPECT_EQ(v.at("role"), "assistant");
  EXPECT_EQ(v.at("model"), "claude-3-5-haiku");
  EXPECT_EQ(v.at("content"),
            json::parse(R"([{"type":"text","text":"Hello from alpha: hi there"}])"));
  EXPECT_EQ(v.at("stop_reason"), "end_turn");
  EXPECT_TRUE(v.at("stop_sequence").is_null());
  EXPECT_EQ(v.at("usage").at("input_tokens"), 11);  // system 3+3, user 2+3
  EXPECT_EQ(v.at("usage").at("output_tokens"), 5);
  EXPECT_EQ(v.at("usage").at("cache_read_input_tokens"), 0);
}

TEST(FakeAnthropicTest, StreamsNamedEventsInTheDocumentedOrder) {
  FakeUpstream fake(named("alpha"));
  std::string body = kAnthropicChat;
  body.insert(1, R"("stream":true,)");
  Reply reply = send(fake, post("/v1/messages", body, kAnthropicAuth));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.header("Content-Type"), "text/event-stream; charset=utf-8");
  std::vector<SseEvent> events = named_events(reply);
  std::vector<std::string> names;
  std::string text;
  for (const auto& e : events) {
    names.push_back(e.name);
    EXPECT_EQ(e.data.at("type").as_string(), e.name);
    if (e.name == "content_block_delta") {
      EXPECT_EQ(e.data.at("delta").at("type"), "text_delta");
      text += std::string(e.data.at("delta").at("text").as_string());
    }
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "message_start", "content_block_start", "ping", "content_block_delta",
                "content_block_delta", "content_block_delta", "content_block_delta",
                "content_block_delta", "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(text, "Hello from alpha: hi there");
  EXPECT_EQ(events[0].data.at("message").at("usage").at("input_tokens"), 11);
  EXPECT_TRUE(events[0].data.at("message").at("content").as_array().empty());
  EXPECT_EQ(events[9].data.at("delta").at("stop_reason"), "end_turn");
  EXPECT_EQ(events[9].data.at("usage").at("output_tokens"), 5);
}

TEST(FakeAnthropicTest, DeclaredToolIsCalledWithInputJsonDeltas) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(
      fake,
      post(
          "/v1/messages",
          R"({"model":"c","max_tokens":64,"stream":true,"tools":[{"name":"lookup",)"
          R"("input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"hi there"}]})",
          kAnthropicAuth));
  ASSERT_FALSE(reply.ec);
  std::vector<SseEvent> events = named_events(reply);
  ASSERT_GE(events.size(), 7u);
  const auto& block = events[1].data.at("content_block");
  EXPECT_EQ(block.at("type"), "tool_use");
  EXPECT_EQ(block.at("name"), "lookup");
  EXPECT_TRUE(block.at("id").as_string().starts_with("toolu_"));
  std::string input;
  std::size_t fragments = 0;
  for (const auto& e : events) {
    if (e.name == "content_block_delta") {
      EXPECT_EQ(e.data.at("delta").at("type"), "input_json_delta");
      std::string part(e.data.at("delta").at("partial_json").as_string());
      fragments += part.empty() ? 0 : 1;
      input += part;
    }
  }
  EXPECT_GE(fragments, 2u);
  EXPECT_EQ(json::parse(input), json::parse(R"({"query":"hi there"})"));
  EXPECT_EQ(events[events.size() - 2].data.at("delta").at("stop_reason"), "tool_use");
}

TEST(FakeAnthropicTest, ToolResultIsReportedBackAndMaxTokensCuts) {
  FakeUpstream fake(named("alpha"));
  Reply result =
      send(fake,
           post("/v1/messages",
                R"({"model":"c","max_tokens":64,"tools":[{"name":"lookup","input_schema":{}}],)"
                R"("messages":[{"role":"user","content":"q"},{"role":"assistant","content":[)"
                R"({"type":"tool_use","id":"t1","name":"lookup","input":{}}]},{"role":"user",)"
                R"("content":[{"type":"tool_result","tool_use_id":"t1","content":"42 apples"}]}]})",
                kAnthropicAuth));
  ASSERT_FALSE(result.ec);
  EXPECT_EQ(result.json_body().at("content").at(0).at("text"), "Tool said: 42 apples");
  EXPECT_EQ(result.json_body().at("stop_reason"), "end_turn");

  Reply cut = send(fake, post("/v1/messages",
                              R"({"model":"c","max_tokens":2,"messages":[{"role":"user",)"
                              R"("content":[{"type":"text","text":"hi there"}]}]})",
                              kAnthropicAuth));
  EXPECT_EQ(cut.json_body().at("content").at(0).at("text"), "Hello from");
  EXPECT_EQ(cut.json_body().at("stop_reason"), "max_tokens");
}

TEST(FakeAnthropicTest, ErrorsUseAnthropicsTypesPerStatus) {
  FakeUpstream fake;
  auto status = [&](std::string code) {
    Headers h = kAnthropicAuth;
    h.emplace_back("x-fake-status", code);
    return send(fake, post("/v1/messages", kAnthropicChat, h));
  };
  Reply overloaded = status("529");
  EXPECT_EQ(overloaded.status(), 529u);
  EXPECT_EQ(overloaded.json_body(),
            json::parse(
                R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  Reply limited = status("429");
  EXPECT_EQ(limited.json_body().at("error").at("type"), "rate_limit_error");
  EXPECT_EQ(limited.header("retry-after"), "1");
  for (auto [code, type] :
       std::vector<std::pair<std::string, std::string>>{{"400", "invalid_request_error"},
                                                        {"401", "authentication_error"},
                                                        {"403", "permission_error"},
                                                        {"404", "not_found_error"},
                                                        {"500", "api_error"}}) {
    EXPECT_EQ(status(code).json_body().at("error").at("type").as_string(), type) << code;
  }
  Reply no_key = send(fake, post("/v1/messages", kAnthropicChat));
  EXPECT_EQ(no_key.status(), 401u);
  EXPECT_EQ(no_key.json_body().at("error").at("type"), "authentication_error");
  Reply no_max = send(fake, post("/v1/messages", R"({"model":"c","messages":[]})", kAnthropicAuth));
  EXPECT_EQ(no_max.status(), 400u);
  EXPECT_EQ(no_max.json_body().at("error").at("message"), "max_tokens: Field required");
}

TEST(FakeAnthropicTest, BuildersMakeTheDocumentedShapes) {
  json::value body = json::parse(anthropic_message_body("m", "hi", Usage{3, 1, 2}, "max_tokens"));
  EXPECT_EQ(body.at("stop_reason"), "max_tokens");
  EXPECT_EQ(body.at("usage").at("cache_read_input_tokens"), 2);
  EXPECT_FALSE(json::parse(anthropic_message_body("m", "hi", Usage{3, 1}))
                   .at("usage")
                   .as_object()
                   .contains("cache_read_input_tokens"));
  std::vector<std::string> events = anthropic_stream_events("m", {"a", " b"}, Usage{3, 2});
  ASSERT_EQ(events.size(), 8u);
  EXPECT_TRUE(events.front().starts_with("event: message_start\ndata: {"));
  EXPECT_EQ(events.back(), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  EXPECT_EQ(json::parse(anthropic_error_body("overloaded_error", "Overloaded")).at("type"),
            "error");
}

// --- Ollama ---

TEST(FakeOllamaTest, StreamsNdjsonByDefault) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post("/api/chat", R"({"model":"llama3.1","messages":[)"
                                             R"({"role":"user","content":"hi <b>"}]})"));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.header("Content-Type"), "application/x-ndjson");
  ASSERT_EQ(reply.frames.size(), 6u);  // 5 pieces and the final line
  std::string text;
  for (std::size_t i = 0; i < reply.frames.size(); ++i) {
    const std::string& line = reply.frames[i];
    ASSERT_TRUE(line.ends_with("\n")) << line;
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one object per line";
    json::value v = json::parse(line);
    EXPECT_EQ(v.at("model"), "llama3.1");
    EXPECT_TRUE(v.at("created_at").as_string().ends_with("Z"));
    EXPECT_EQ(v.at("message").at("role"), "assistant");
    text += std::string(v.at("message").at("content").as_string());
    EXPECT_EQ(v.at("done").as_bool(), i + 1 == reply.frames.size());
  }
  EXPECT_EQ(text, "Hello from alpha: hi <b>");
  EXPECT_NE(reply.body.find("\\u003cb\\u003e"), std::string::npos) << "Go escapes <, > and &";
  json::value last = json::parse(reply.frames.back());
  std::vector<std::string> keys;
  for (const auto& kv : last.as_object()) {
    keys.emplace_back(kv.key());
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{"model", "created_at", "message", "done_reason", "done",
                                      "total_duration", "load_duration", "prompt_eval_count",
                                      "prompt_eval_duration", "eval_count", "eval_duration"}));
  EXPECT_EQ(last.at("done_reason"), "stop");
  EXPECT_EQ(last.at("prompt_eval_count"), 5);
  EXPECT_EQ(last.at("eval_count"), 5);
}

TEST(FakeOllamaTest, StreamFalseAnswersOneObjectAndToolsGiveObjectArguments) {
  FakeUpstream fake(named("alpha"));
  Reply whole = send(fake, post("/api/chat", R"({"model":"m","stream":false,"messages":[)"
                                             R"({"role":"user","content":"hi"}]})"));
  EXPECT_EQ(whole.header("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(whole.json_body().at("message").at("content"), "Hello from alpha: hi");
  EXPECT_TRUE(whole.json_body().at("done").as_bool());

  Reply tool = send(fake, post("/api/chat", R"({"model":"m","stream":false,"tools":[{"type":)"
                                            R"("function","function":{"name":"lookup"}}],)"
                                            R"("messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(tool.json_body().at("message").at("tool_calls"),
            json::parse(R"([{"function":{"name":"lookup","arguments":{"query":"hi"}}}])"));
  Reply result = send(fake, post("/api/chat", R"({"model":"m","stream":false,"messages":[)"
                                              R"({"role":"user","content":"hi"},{"role":"tool",)"
                                              R"("content":"sunny"}]})"));
  EXPECT_EQ(result.json_body().at("message").at("content"), "Tool said: sunny");
}

TEST(FakeOllamaTest, ServesVersionTagsRootAndItsErrorShape) {
  FakeUpstream fake(named("llama3"));
  EXPECT_EQ(send(fake, get("/api/version")).json_body(), json::parse(R"({"version":"0.5.7"})"));
  json::value tags = send(fake, get("/api/tags")).json_body();
  EXPECT_EQ(tags.at("models").at(0).at("name"), "llama3:latest");
  EXPECT_EQ(tags.at("models").at(0).at("details").at("format"), "gguf");
  Reply root = send(fake, get("/"));
  EXPECT_EQ(root.body, "Ollama is running");
  EXPECT_EQ(root.header("Content-Type"), "text/plain; charset=utf-8");
  Reply failed = send(fake, post("/api/chat", "{}", {{"x-fake-status", "500"}}));
  EXPECT_EQ(failed.status(), 500u);
  EXPECT_TRUE(failed.json_body().at("error").is_string());
  EXPECT_EQ(send(fake, post("/api/chat", "{}")).json_body(),
            json::parse(R"({"error":"model is required"})"));
}

// --- Gemini ---

const Headers kGoogKey = {{"x-goog-api-key", "goog"}};
const std::string kGeminiChat = R"({"systemInstruction":{"parts":[{"text":"You are terse."}]},)"
                                R"("contents":[{"role":"user","parts":[{"text":"hi there"}]}]})";

TEST(FakeGeminiTest, GenerateContentAnswersACandidate) {
  FakeUpstream fake(named("alpha"));
  Reply reply =
      send(fake, post("/v1beta/models/gemini-2.0-flash:generateContent", kGeminiChat, kGoogKey));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.header("Content-Type"), "application/json; charset=UTF-8");
  json::value v = reply.json_body();
  const auto& candidate = v.at("candidates").at(0);
  EXPECT_EQ(candidate.at("content"),
            json::parse(R"({"parts":[{"text":"Hello from alpha: hi there"}],"role":"model"})"));
  EXPECT_EQ(candidate.at("finishReason"), "STOP");
  EXPECT_EQ(v.at("usageMetadata").at("promptTokenCount"), 11);
  EXPECT_EQ(v.at("usageMetadata").at("candidatesTokenCount"), 5);
  EXPECT_EQ(v.at("usageMetadata").at("totalTokenCount"), 16);
  EXPECT_EQ(v.at("modelVersion"), "gemini-2.0-flash");
  EXPECT_TRUE(reply.body.starts_with("{\n  \"candidates\": [\n"));
}

TEST(FakeGeminiTest, SseStreamUsesCrlfFramingAndNoDone) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
                                kGeminiChat, kGoogKey));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.header("Content-Type"), "text/event-stream");
  ASSERT_EQ(reply.frames.size(), 5u);
  std::string text;
  for (std::size_t i = 0; i < reply.frames.size(); ++i) {
    const std::string& f = reply.frames[i];
    ASSERT_TRUE(f.starts_with("data: {\"candidates\": [") && f.ends_with("}\r\n\r\n")) << f;
    json::value v = json::parse(f.substr(6, f.size() - 10));
    const auto& candidate = v.at("candidates").at(0).as_object();
    text += std::string(candidate.at("content").at("parts").at(0).at("text").as_string());
    EXPECT_EQ(candidate.contains("finishReason"), i + 1 == reply.frames.size());
  }
  EXPECT_EQ(text, "Hello from alpha: hi there");
  EXPECT_EQ(reply.body.find("[DONE]"), std::string::npos);
  json::value last = json::parse(reply.frames.back().substr(6));
  EXPECT_EQ(last.at("usageMetadata").at("candidatesTokenCount"), 5);
}

TEST(FakeGeminiTest, FunctionCallsAndFunctionResponses) {
  FakeUpstream fake(named("alpha"));
  Reply call = send(fake, post("/v1beta/models/g:generateContent",
                               R"({"tools":[{"functionDeclarations":[{"name":"lookup"}]}],)"
                               R"("contents":[{"role":"user","parts":[{"text":"hi"}]}]})",
                               kGoogKey));
  EXPECT_EQ(call.json_body().at("candidates").at(0).at("content").at("parts"),
            json::parse(R"([{"functionCall":{"name":"lookup","args":{"query":"hi"}}}])"));
  Reply result = send(
      fake, post("/v1beta/models/g:generateContent",
                 R"({"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":)"
                 R"([{"functionCall":{"name":"lookup","args":{}}}]},{"role":"user","parts":[)"
                 R"({"functionResponse":{"name":"lookup","response":{"result":"7"}}}]}]})",
                 kGoogKey));
  EXPECT_EQ(result.json_body().at("candidates").at(0).at("content").at("parts").at(0).at("text"),
            "Tool said: 7");
}

TEST(FakeGeminiTest, ErrorsCarryGoogleStatusNames) {
  FakeUpstream fake;
  Reply no_key = send(fake, post("/v1beta/models/g:generateContent", kGeminiChat));
  EXPECT_EQ(no_key.status(), 403u);
  EXPECT_EQ(no_key.json_body().at("error").at("status"), "PERMISSION_DENIED");
  Headers h = kGoogKey;
  h.emplace_back("x-fake-status", "429");
  Reply limited = send(fake, post("/v1beta/models/g:generateContent", kGeminiChat, h));
  EXPECT_EQ(limited.status(), 429u);
  EXPECT_EQ(limited.json_body().at("error").at("code"), 429);
  EXPECT_EQ(limited.json_body().at("error").at("status"), "RESOURCE_EXHAUSTED");
  Reply keyed = send(fake, post("/v1beta/models/g:streamGenerateContent?key=k", kGeminiChat));
  EXPECT_EQ(keyed.status(), 200u);
  EXPECT_TRUE(keyed.json_body().is_array()) << "without alt=sse the stream is a JSON array";
}

// --- Azure OpenAI ---

const std::string kAzurePath =
    "/openai/deployments/prod-chat/chat/completions?api-version=2024-10-21";
const Headers kAzureKey = {{"api-key", "az"}};

TEST(FakeAzureTest, RequiresApiVersionAndApiKey) {
  FakeUpstream fake;
  Reply no_version =
      send(fake, post("/openai/deployments/d/chat/completions", R"({"messages":[]})", kAzureKey));
  EXPECT_EQ(no_version.status(), 404u);
  EXPECT_EQ(no_version.body, R"({"error":{"code":"404","message": "Resource not found"}})");
  Reply no_key = send(fake, post(kAzurePath, R"({"messages":[{"role":"user","content":"x"}]})"));
  EXPECT_EQ(no_key.status(), 401u);
  EXPECT_EQ(no_key.json_body().at("error").at("code"), "401");
}

TEST(FakeAzureTest, AnswersWithTheUnderlyingModelAndFilterResults) {
  FakeUpstream fake(named("alpha"));
  Reply reply =
      send(fake, post(kAzurePath, R"({"messages":[{"role":"user","content":"hi"}]})", kAzureKey));
  ASSERT_FALSE(reply.ec);
  json::value v = reply.json_body();
  EXPECT_EQ(v.at("model"), "gpt-4o-2024-08-06");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "Hello from alpha: hi");
  EXPECT_EQ(v.at("choices").at(0).at("content_filter_results").at("hate"),
            json::parse(R"({"filtered":false,"severity":"safe"})"));
  EXPECT_EQ(v.at("prompt_filter_results").at(0).at("prompt_index"), 0);
  EXPECT_TRUE(reply.body.starts_with("{\"choices\":[{\"content_filter_results\":"));
  EXPECT_FALSE(reply.header("apim-request-id").empty());
}

TEST(FakeAzureTest, StreamStartsWithPromptFilterResultsAndEndsWithDone) {
  FakeUpstream fake(named("alpha"));
  Reply reply =
      send(fake, post(kAzurePath, R"({"stream":true,"messages":[{"role":"user","content":"hi"}]})",
                      kAzureKey));
  ASSERT_FALSE(reply.ec);
  ASSERT_GE(reply.frames.size(), 4u);
  json::value first = json::parse(reply.frames[0].substr(6));
  EXPECT_TRUE(first.at("choices").as_array().empty());
  EXPECT_EQ(first.at("prompt_filter_results").at(0).at("content_filter_results").at("jailbreak"),
            json::parse(R"({"filtered":false,"detected":false})"));
  EXPECT_EQ(reply.frames.back(), "data: [DONE]\n\n");
  std::string text;
  for (std::size_t i = 1; i + 1 < reply.frames.size(); ++i) {
    json::value chunk = json::parse(reply.frames[i].substr(6));
    EXPECT_EQ(chunk.at("model"), "gpt-4o-2024-08-06");
    const auto& delta = chunk.at("choices").at(0).at("delta").as_object();
    if (const auto* c = delta.if_contains("content")) {
      text += std::string(c->as_string());
    }
  }
  EXPECT_EQ(text, "Hello from alpha: hi");
  Headers h = kAzureKey;
  h.emplace_back("x-fake-status", "429");
  Reply limited = send(fake, post(kAzurePath, "{}", h));
  EXPECT_EQ(limited.json_body().at("error").at("code"), "429");
  EXPECT_EQ(limited.header("retry-after"), "1");
}

// --- Bedrock ---

/// CRC-32 (IEEE) bit by bit: independent of the fake's table-driven one.
std::uint32_t reference_crc32(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (char ch : data) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

std::uint32_t be32(std::string_view s, std::size_t at) {
  return (std::uint32_t(static_cast<unsigned char>(s[at])) << 24) |
         (std::uint32_t(static_cast<unsigned char>(s[at + 1])) << 16) |
         (std::uint32_t(static_cast<unsigned char>(s[at + 2])) << 8) |
         std::uint32_t(static_cast<unsigned char>(s[at + 3]));
}

struct Frame {
  std::vector<std::pair<std::string, std::string>> headers;
  json::value payload;
  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) {
        return v;
      }
    }
    return {};
  }
};

/// Decodes event-stream messages, checking lengths and both CRCs of each.
std::vector<Frame> decode_frames(std::string_view bytes) {
  std::vector<Frame> out;
  while (!bytes.empty()) {
    EXPECT_GE(bytes.size(), 16u);
    if (bytes.size() < 16) {
      break;
    }
    std::uint32_t total = be32(bytes, 0);
    std::uint32_t headers_len = be32(bytes, 4);
    EXPECT_LE(total, bytes.size());
    if (total > bytes.size()) {
      break;
    }
    EXPECT_EQ(be32(bytes, 8), reference_crc32(bytes.substr(0, 8))) << "prelude CRC";
    EXPECT_EQ(be32(bytes, total - 4), reference_crc32(bytes.substr(0, total - 4))) << "message CRC";
    Frame f;
    std::string_view h = bytes.substr(12, headers_len);
    while (!h.empty()) {
      std::size_t name_len = static_cast<unsigned char>(h[0]);
      std::string name(h.substr(1, name_len));
      EXPECT_EQ(h[1 + name_len], 7) << "string header";
      std::size_t value_len = (std::size_t(static_cast<unsigned char>(h[2 + name_len])) << 8) |
                              static_cast<unsigned char>(h[3 + name_len]);
      f.headers.emplace_back(name, std::string(h.substr(4 + name_len, value_len)));
      h.remove_prefix(4 + name_len + value_len);
    }
    f.payload = json::parse(bytes.substr(12 + headers_len, total - 16 - headers_len));
    out.push_back(std::move(f));
    bytes.remove_prefix(total);
  }
  return out;
}

const std::string kBedrockPath = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";
const Headers kSigV4 = {
    {"authorization",
     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, "
     "SignedHeaders=host;x-amz-date, Signature=00"},
    {"x-amz-date", "20250101T000000Z"}};
const std::string kBedrockChat =
    R"({"system":[{"text":"You are terse."}],"messages":[{"role":"user","content":[{"text":"hi there"}]}]})";

TEST(FakeBedrockTest, ConverseAnswersAMessageWithUsageAndMetrics) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post(kBedrockPath, kBedrockChat, kSigV4));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 200u);
  json::value v = reply.json_body();
  EXPECT_EQ(
      v.at("output").at("message"),
      json::parse(R"({"content":[{"text":"Hello from alpha: hi there"}],"role":"assistant"})"));
  EXPECT_EQ(v.at("stopReason"), "end_turn");
  EXPECT_EQ(v.at("usage"), json::parse(R"({"inputTokens":11,"outputTokens":5,"totalTokens":16})"));
  EXPECT_GE(v.at("metrics").at("latencyMs").as_int64(), 1);
  EXPECT_FALSE(reply.header("x-amzn-RequestId").empty());
}

TEST(FakeBedrockTest, ConverseStreamIsBinaryEventStreamWithValidCrcs) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post(kBedrockPath + "-stream", kBedrockChat, kSigV4));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.header("Content-Type"), "application/vnd.amazon.eventstream");
  std::vector<Frame> frames = decode_frames(reply.body);
  ASSERT_EQ(frames.size(), 1u + 5u + 3u);
  EXPECT_EQ(frames.size(), reply.frames.size()) << "one chunked frame per event";
  std::vector<std::string> types;
  std::string text;
  for (const auto& f : frames) {
    types.push_back(f.header(":event-type"));
    EXPECT_EQ(f.header(":content-type"), "application/json");
    EXPECT_EQ(f.header(":message-type"), "event");
    if (types.back() == "contentBlockDelta") {
      text += std::string(f.payload.at("delta").at("text").as_string());
    }
  }
  EXPECT_EQ(types.front(), "messageStart");
  EXPECT_EQ(frames.front().payload.at("role"), "assistant");
  EXPECT_EQ(text, "Hello from alpha: hi there");
  EXPECT_EQ(types[types.size() - 3], "contentBlockStop");
  EXPECT_EQ(frames[frames.size() - 2].payload.at("stopReason"), "end_turn");
  EXPECT_EQ(types.back(), "metadata");
  EXPECT_EQ(frames.back().payload.at("usage").at("totalTokens"), 16);
}

TEST(FakeBedrockTest, ToolUseStreamsInputFragments) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post(kBedrockPath + "-stream",
                                R"({"toolConfig":{"tools":[{"toolSpec":{"name":"lookup",)"
                                R"("inputSchema":{"json":{}}}}]},"messages":[{"role":"user",)"
                                R"("content":[{"text":"hi there"}]}]})",
                                kSigV4));
  std::vector<Frame> frames = decode_frames(reply.body);
  ASSERT_GE(frames.size(), 6u);
  EXPECT_EQ(frames[1].header(":event-type"), "contentBlockStart");
  EXPECT_EQ(frames[1].payload.at("start").at("toolUse").at("name"), "lookup");
  std::string input;
  std::size_t deltas = 0;
  for (const auto& f : frames) {
    if (f.header(":event-type") == "contentBlockDelta") {
      input += std::string(f.payload.at("delta").at("toolUse").at("input").as_string());
      ++deltas;
    }
  }
  EXPECT_GE(deltas, 2u);
  EXPECT_EQ(json::parse(input), json::parse(R"({"query":"hi there"})"));
  EXPECT_EQ(frames[frames.size() - 2].payload.at("stopReason"), "tool_use");

  Reply result = send(fake, post(kBedrockPath,
                                 R"({"messages":[{"role":"user","content":[{"toolResult":{)"
                                 R"("toolUseId":"t","content":[{"json":{"result":"ok"}}]}}]}]})",
                                 kSigV4));
  EXPECT_EQ(result.json_body().at("output").at("message").at("content").at(0).at("text"),
            "Tool said: ok");
}

TEST(FakeBedrockTest, AuthAndErrorsUseAwsShapes) {
  FakeUpstream fake;
  Reply unsigned_request = send(fake, post(kBedrockPath, kBedrockChat));
  EXPECT_EQ(unsigned_request.status(), 403u);
  EXPECT_EQ(unsigned_request.body, R"({"message":"Missing Authentication Token"})");
  EXPECT_FALSE(unsigned_request.header("x-amzn-errortype").empty());
  Headers h = kSigV4;
  h.emplace_back("x-fake-status", "429");
  Reply limited = send(fake, post(kBedrockPath, kBedrockChat, h));
  EXPECT_EQ(limited.status(), 429u);
  EXPECT_TRUE(limited.header("x-amzn-ErrorType").starts_with("ThrottlingException"));
  EXPECT_TRUE(limited.json_body().at("message").is_string());
}

TEST(FakeBedrockTest, BuildersEncodeDecodableFrames) {
  EXPECT_EQ(reference_crc32("123456789"), 0xCBF43926u);  // the check value of CRC-32/IEEE
  std::string frame = bedrock_event("messageStop", R"({"stopReason":"end_turn"})");
  std::vector<Frame> one = decode_frames(frame);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].headers.front(),
            (std::pair<std::string, std::string>{":event-type", "messageStop"}));
  EXPECT_EQ(one[0].payload.at("stopReason"), "end_turn");
  std::vector<Frame> error = decode_frames(bedrock_exception_event("throttlingException", "slow"));
  EXPECT_EQ(error.at(0).header(":message-type"), "exception");
  std::string all;
  for (const auto& e : bedrock_stream_events({"a", " b"}, Usage{2, 2})) {
    all += e;
  }
  EXPECT_EQ(decode_frames(all).size(), 6u);
}

// --- OpenAI tools, legacy completions, embeddings, health ---

const std::string kToolChat =
    R"({"model":"gpt-4o","tools":[{"type":"function","function":{"name":"lookup",)"
    R"("parameters":{"type":"object"}}}],"messages":[{"role":"user","content":"hi there"}]})";

TEST(FakeOpenAiToolsTest, CallsTheFirstToolWithTheUserText) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post("/v1/chat/completions", kToolChat));
  json::value choice = reply.json_body().at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_TRUE(choice.at("message").at("content").is_null());
  const auto& call = choice.at("message").at("tool_calls").at(0);
  EXPECT_TRUE(call.at("id").as_string().starts_with("call_"));
  EXPECT_EQ(call.at("type"), "function");
  EXPECT_EQ(call.at("function").at("name"), "lookup");
  EXPECT_EQ(json::parse(call.at("function").at("arguments").as_string()),
            json::parse(R"({"query":"hi there"})"));
}

TEST(FakeOpenAiToolsTest, StreamsToolCallArgumentsInFragments) {
  FakeUpstream fake(named("alpha"));
  std::string body = kToolChat;
  body.insert(1, R"("stream":true,)");
  Reply reply = send(fake, post("/v1/chat/completions", body));
  std::string arguments;
  std::size_t fragments = 0;
  std::string finish;
  for (const auto& f : reply.frames) {
    if (f == "data: [DONE]\n\n") {
      continue;
    }
    json::value chunk = json::parse(f.substr(6));
    const auto& choice = chunk.at("choices").at(0).as_object();
    if (!choice.at("finish_reason").is_null()) {
      finish = std::string(choice.at("finish_reason").as_string());
    }
    const auto* calls = choice.at("delta").as_object().if_contains("tool_calls");
    if (calls != nullptr) {
      std::string part(calls->at(0).at("function").at("arguments").as_string());
      fragments += part.empty() ? 0 : 1;
      arguments += part;
    }
  }
  EXPECT_GE(fragments, 2u);
  EXPECT_EQ(json::parse(arguments), json::parse(R"({"query":"hi there"})"));
  EXPECT_EQ(finish, "tool_calls");
}

TEST(FakeOpenAiToolsTest, ToolResultAndMaxTokens) {
  FakeUpstream fake(named("alpha"));
  Reply result = send(fake, post("/v1/chat/completions",
                                 R"({"model":"m","messages":[{"role":"user","content":"q"},)"
                                 R"({"role":"assistant","content":null,"tool_calls":[]},)"
                                 R"({"role":"tool","tool_call_id":"c","content":"sunny"}]})"));
  EXPECT_EQ(result.json_body().at("choices").at(0).at("message").at("content"), "Tool said: sunny");
  Reply cut = send(
      fake, post("/v1/chat/completions",
                 R"({"model":"m","max_tokens":3,"messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(cut.json_body().at("choices").at(0).at("message").at("content"), "Hello from alpha:");
  EXPECT_EQ(cut.json_body().at("choices").at(0).at("finish_reason"), "length");
}

TEST(FakeOpenAiTest, LegacyCompletionsAndEmbeddings) {
  FakeUpstream fake(named("alpha"));
  Reply text = send(fake, post("/v1/completions", R"({"model":"m","prompt":"say hi"})"));
  EXPECT_EQ(text.json_body().at("object"), "text_completion");
  EXPECT_EQ(text.json_body().at("choices").at(0).at("text"), "Hello from alpha: say hi");
  Reply vectors =
      send(fake, post("/v1/embeddings", R"({"model":"e","input":["a","b"],"dimensions":4})"));
  json::value v = vectors.json_body();
  ASSERT_EQ(v.at("data").as_array().size(), 2u);
  EXPECT_EQ(v.at("data").at(1).at("index"), 1);
  EXPECT_EQ(v.at("data").at(0).at("embedding").as_array().size(), 4u);
  Reply again = send(fake, post("/v1/embeddings", R"({"model":"e","input":"a","dimensions":4})"));
  EXPECT_EQ(again.json_body().at("data").at(0).at("embedding"), v.at("data").at(0).at("embedding"))
      << "the same text embeds the same way";
}

TEST(FakeHealthTest, AnswersLikeLlamaCpp) {
  FakeUpstream fake;
  Reply reply = send(fake, get("/health"));
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.json_body(), json::parse(R"({"status":"ok"})"));
}

}  // namespace
}  // namespace sb::testing
