#include "adapters/anthropic_native.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

BackendSpec anthropic_spec() {
  BackendSpec spec;
  spec.base_path = "/v1";
  spec.model = "claude-sonnet-4-5-20250929";
  spec.api_key = "sk-ant-backend";
  return spec;
}

/// `text` with the first occurrence of `from` replaced by `to` (which must exist).
std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string header(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return "<absent>";
}

// ---- request -------------------------------------------------------------------------------

TEST(AnthropicNativeRequestTest, ClaudeCodeBodyGoesUpstreamVerbatimApartFromModel) {
  const std::string body = test::read_fixture("anthropic/native/claude_code_request.json");
  TranslateError error;
  const BackendSpec spec = anthropic_spec();
  const auto req = anthropic_native_request(
      body, spec.model, 0, spec, "2023-06-01",
      "interleaved-thinking-2025-05-14,context-management-2025-06-27", error);
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(req->body, replaced(body, R"("model":"claude-sonnet-4-5")",
                                R"("model":"claude-sonnet-4-5-20250929")"));
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->target, "/v1/messages");
  EXPECT_TRUE(req->stream);
  EXPECT_EQ(header(*req, "x-api-key"), "sk-ant-backend");
  EXPECT_EQ(header(*req, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(header(*req, "anthropic-beta"),
            "interleaved-thinking-2025-05-14,context-management-2025-06-27");
  EXPECT_EQ(header(*req, "content-type"), "application/json");
  EXPECT_EQ(header(*req, "accept"), "text/event-stream");
}

// Claude Code 2.1.332's own requests (captured, long texts trimmed): a system turn last, a
// system turn with output_config, adaptive thinking, context_management, defer_loading,
// cache_control, is_error on a tool result.
constexpr std::string_view kClaudeCodeBeta =
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,"
    "thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24";

TEST(AnthropicNativeRequestTest, ClaudeCodeCapturesGoUpstreamVerbatimApartFromModel) {
  for (const char* name :
       {"anthropic/native/claude_code_turn1.json", "anthropic/native/claude_code_turn2.json"}) {
    const std::string body = test::read_fixture(name);
    TranslateError error;
    const auto req =
        anthropic_native_request(body, "claude-opus-4-1-20250805", 32000, anthropic_spec(),
                                 "2023-06-01", kClaudeCodeBeta, error, "beta=true");
    ASSERT_TRUE(req.has_value()) << error.message;
    std::string expected =
        replaced(body, R"("model":"claude-opus-5-5")", R"("model":"claude-opus-4-1-20250805")");
    expected = replaced(expected, R"("max_tokens":128000)", R"("max_tokens":32000)");
    EXPECT_EQ(req->body, expected) << name;
    EXPECT_EQ(req->target, "/v1/messages?beta=true");
    EXPECT_TRUE(req->stream);
    EXPECT_EQ(header(*req, "anthropic-beta"), kClaudeCodeBeta);
    EXPECT_EQ(header(*req, "x-api-key"), "sk-ant-backend");
  }
}

TEST(AnthropicNativeRequestTest, OnlyAPlainQueryIsCarried) {
  const std::string body = R"({"model":"a","max_tokens":5,"messages":[]})";
  TranslateError error;
  EXPECT_EQ(
      anthropic_native_request(body, "", 0, anthropic_spec(), "", "", error, "beta=true")->target,
      "/v1/messages?beta=true");
  EXPECT_EQ(
      anthropic_native_request(body, "", 0, anthropic_spec(), "", "", error, "a=1 HTTP/1.1\r\nX:")
          ->target,
      "/v1/messages");
  EXPECT_EQ(anthropic_native_request(body, "", 0, anthropic_spec(), "", "", error, "x#y")->target,
            "/v1/messages");
}

TEST(AnthropicNativeRequestTest, EmptyUpstreamModelKeepsTheBodyWhole) {
  const std::string body = test::read_fixture("anthropic/native/claude_code_request.json");
  TranslateError error;
  const auto req = anthropic_native_request(body, "", 0, anthropic_spec(), "", "", error);
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(req->body, body);
  EXPECT_EQ(header(*req, "anthropic-beta"), "<absent>");
}

TEST(AnthropicNativeRequestTest, MaxTokensIsClampedOnlyAboveTheCap) {
  const std::string body = test::read_fixture("anthropic/native/claude_code_request.json");
  const BackendSpec spec = anthropic_spec();
  TranslateError error;
  const std::string with_model =
      replaced(body, R"("model":"claude-sonnet-4-5")", R"("model":"claude-sonnet-4-5-20250929")");
  // A cap above what the client asked changes nothing.
  auto req = anthropic_native_request(body, spec.model, 200000, spec, "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, with_model);
  // A smaller cap replaces the number only; the thinking budget still fits.
  req = anthropic_native_request(body, spec.model, 64000, spec, "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, replaced(with_model, R"("max_tokens":128000)", R"("max_tokens":64000)"));
  // A cap at or below the thinking budget lowers the budget below it (else Anthropic refuses).
  req = anthropic_native_request(body, spec.model, 16000, spec, "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body,
            replaced(replaced(with_model, R"("max_tokens":128000)", R"("max_tokens":16000)"),
                     R"("thinking":{"type":"enabled","budget_tokens":31999})",
                     R"("thinking":{"type":"enabled","budget_tokens":15999})"));
}

// A repeated key goes out once, with the value the gateway read (the last): an upstream that
// kept the first would otherwise be asked for more than the cap. The edits still apply.
TEST(AnthropicNativeRequestTest, EarlierDuplicatesAreDroppedAroundTheEdits) {
  const BackendSpec spec = anthropic_spec();
  TranslateError error;
  auto req = anthropic_native_request(
      R"({"model":"x","max_tokens":128000,"stream":true,"max_tokens":100,"messages":[],)"
      R"("model":"y","stream":false})",
      spec.model, 64000, spec, "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, R"({"max_tokens":100,"messages":[],"model":"claude-sonnet-4-5-20250929",)"
                       R"("stream":false})");
  EXPECT_FALSE(req->stream);
  req = anthropic_native_request(
      R"({"model":"x","max_tokens":100,"messages":[],"max_tokens":128000})", spec.model, 64000,
      spec, "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body,
            R"({"model":"claude-sonnet-4-5-20250929","messages":[],"max_tokens":64000})");
  req = anthropic_count_tokens_request(R"({"model":"x","system":"a","messages":[],"system":"b"})",
                                       spec.model, spec, "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, R"({"model":"claude-sonnet-4-5-20250929","messages":[],"system":"b"})");
}

TEST(AnthropicNativeRequestTest, UnsignedThinkingFromTheTranslatedLaneIsDropped) {
  // History from an OpenAI-format engine (thinking without a signature) going to Anthropic.
  const std::string body =
      R"({"model":"a","max_tokens":5,"messages":[{"role":"user","content":"Hi"},)"
      R"({"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":""},)"
      R"({"type":"thinking","thinking":"signed","signature":"EqQB=="},)"
      R"({"type":"text","text":"Hello"}]},{"role":"user","content":"Again"}],"stream":true})";
  TranslateError error;
  auto req = anthropic_native_request(body, "", 0, anthropic_spec(), "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, R"({"model":"a","max_tokens":5,"messages":[{"role":"user","content":"Hi"},)"
                       R"({"role":"assistant","content":[{"type":"thinking","thinking":"signed",)"
                       R"("signature":"EqQB=="},{"type":"text","text":"Hello"}]},)"
                       R"({"role":"user","content":"Again"}],"stream":true})");
  req = anthropic_count_tokens_request(body, "", anthropic_spec(), "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body.find(R"("signature":"")"), std::string::npos) << req->body;
  // Signed thinking alone leaves the bytes alone (spacing included).
  const std::string signed_only =
      R"({"model": "a", "messages": [{"role": "assistant", "content": [{"type": "thinking", )"
      R"("thinking": "x", "signature": "sig"}]}], "max_tokens": 5})";
  req = anthropic_native_request(signed_only, "", 0, anthropic_spec(), "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, signed_only);
}

TEST(AnthropicNativeRequestTest, NonIntegerMaxTokensIsLeftForAnthropicToRefuse) {
  const std::string body =
      R"({"model":"a","max_tokens":"lots","messages":[{"role":"user","content":"Hi"}]})";
  TranslateError error;
  const auto req = anthropic_native_request(body, "", 10, anthropic_spec(), "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, body);
  EXPECT_FALSE(req->stream);
  EXPECT_EQ(header(*req, "accept"), "<absent>");
}

TEST(AnthropicNativeRequestTest, VersionHeaderComesFromClientElseBackendElseDefault) {
  const std::string body = R"({"model":"a","max_tokens":5,"messages":[]})";
  BackendSpec spec = anthropic_spec();
  TranslateError error;
  EXPECT_EQ(
      header(*anthropic_native_request(body, "", 0, spec, "", "", error), "anthropic-version"),
      "2023-06-01");
  spec.api_version = "2024-01-01";
  EXPECT_EQ(
      header(*anthropic_native_request(body, "", 0, spec, "", "", error), "anthropic-version"),
      "2024-01-01");
  EXPECT_EQ(header(*anthropic_native_request(body, "", 0, spec, "2025-05-05", "", error),
                   "anthropic-version"),
            "2025-05-05");
  spec.base_path = "";
  EXPECT_EQ(anthropic_native_request(body, "", 0, spec, "", "", error)->target, "/messages");
}

TEST(AnthropicNativeRequestTest, BodiesWithoutAStringModelAreRefusedInAnthropicWording) {
  struct Case {
    std::string_view body;
    std::string_view message;
  };
  const Case cases[] = {
      {R"({"max_tokens":5,"messages":[]})", "model: Field required"},
      {R"({"model":7,"max_tokens":5,"messages":[]})", "model: Input should be a valid string"},
      {R"({"model":null})", "model: Input should be a valid string"},
      {R"([1,2])", "Input should be a valid dictionary"},
  };
  for (const Case& c : cases) {
    TranslateError error;
    EXPECT_FALSE(anthropic_native_request(c.body, "m", 0, anthropic_spec(), "", "", error))
        << c.body;
    EXPECT_EQ(error.status, 400u);
    EXPECT_EQ(error.message, c.message);
    error = {};
    EXPECT_FALSE(anthropic_count_tokens_request(c.body, "m", anthropic_spec(), "", "", error));
    EXPECT_EQ(error.message, c.message);
  }
}

// ---- count_tokens --------------------------------------------------------------------------

TEST(AnthropicCountTokensTest, MessagesBodyLosesOnlyWhatTheCountEndpointRefuses) {
  const std::string body = test::read_fixture("anthropic/native/claude_code_request.json");
  TranslateError error;
  const BackendSpec spec = anthropic_spec();
  const auto req =
      anthropic_count_tokens_request(body, spec.model, spec, "2023-06-01", "beta-x", error);
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(req->target, "/v1/messages/count_tokens");
  EXPECT_FALSE(req->stream);
  EXPECT_EQ(header(*req, "anthropic-beta"), "beta-x");
  EXPECT_EQ(header(*req, "accept"), "<absent>");
  std::string expected =
      replaced(body, R"("model":"claude-sonnet-4-5")", R"("model":"claude-sonnet-4-5-20250929")");
  expected = replaced(expected, R"("max_tokens":128000,)", "");
  expected = replaced(expected, R"("stream":true,)", "");
  expected =
      replaced(expected, ",\n \"metadata\":{\"user_id\":\"user_abc_account__session_123\"}", "");
  expected = replaced(expected, ",\n \"temperature\":1", "");
  EXPECT_EQ(req->body, expected);
  EXPECT_TRUE(json::parse(req->body).is_object());
}

TEST(AnthropicCountTokensTest, ClaudeCodeCountBodyIsForwardedApartFromModel) {
  const std::string body = test::read_fixture("anthropic/native/claude_code_count_tokens.json");
  TranslateError error;
  const auto req = anthropic_count_tokens_request(
      body, "claude-opus-4-1-20250805", anthropic_spec(), "2023-06-01",
      "claude-code-20250219,token-counting-2024-11-01", error, "beta=true");
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(req->body, replaced(body, R"("model":"claude-opus-5-5")",
                                R"("model":"claude-opus-4-1-20250805")"));
  EXPECT_EQ(req->target, "/v1/messages/count_tokens?beta=true");
}

TEST(AnthropicCountTokensTest, CountBodyIsForwardedAsIs) {
  const std::string body =
      R"({"model": "sonnet", "messages": [{"role": "user", "content": "Hi"}],)"
      R"( "tools": [{"name": "f", "input_schema": {"type": "object"}, "defer_loading": true}]})";
  TranslateError error;
  const auto req = anthropic_count_tokens_request(body, "", anthropic_spec(), "", "", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->body, body);
}

TEST(AnthropicCountTokensTest, AnswerIsReadOrRefused) {
  EXPECT_EQ(anthropic_count_tokens_answer(R"({"input_tokens": 2585})"), 2585);
  EXPECT_EQ(anthropic_count_tokens_answer(R"({"input_tokens": 0, "context_management": {}})"), 0);
  EXPECT_EQ(anthropic_count_tokens_answer(R"({"input_tokens": -1})"), std::nullopt);
  EXPECT_EQ(anthropic_count_tokens_answer(R"({"input_tokens": "5"})"), std::nullopt);
  EXPECT_EQ(anthropic_count_tokens_answer(R"({"type":"error"})"), std::nullopt);
  EXPECT_EQ(anthropic_count_tokens_answer("not json"), std::nullopt);
}

// ---- answers -------------------------------------------------------------------------------

TEST(AnthropicNativeAnswerTest, MessageUsageInTheGatewaysUnits) {
  const AnthropicNativeAnswer a = anthropic_native_answer(
      200, R"({"id":"msg_1","type":"message","role":"assistant","content":[],)"
           R"("usage":{"input_tokens":2585,"cache_creation_input_tokens":1200,)"
           R"("cache_read_input_tokens":30000,"output_tokens":89}})");
  EXPECT_TRUE(a.ok);
  EXPECT_FALSE(a.retryable);
  ASSERT_TRUE(a.usage.has_value());
  EXPECT_EQ(a.usage->input, 2585 + 1200 + 30000);
  EXPECT_EQ(a.usage->cached_input, 30000);
  EXPECT_EQ(a.usage->cache_write, 1200);
  EXPECT_EQ(a.usage->output, 89);
}

TEST(AnthropicNativeAnswerTest, ErrorsAreReadAndClassified) {
  AnthropicNativeAnswer a = anthropic_native_answer(
      529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
      " 12 ");
  EXPECT_FALSE(a.ok);
  EXPECT_TRUE(a.retryable);
  EXPECT_EQ(a.retry_after, "12");
  EXPECT_EQ(a.error_type, "overloaded_error");
  EXPECT_EQ(a.error_message, "Overloaded");

  a = anthropic_native_answer(
      400,
      R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}})",
      "3");
  EXPECT_FALSE(a.retryable);
  EXPECT_EQ(a.retry_after, std::nullopt);
  EXPECT_EQ(a.error_type, "invalid_request_error");
  EXPECT_EQ(a.error_message, "max_tokens: Field required");

  a = anthropic_native_answer(429, "rate limited");
  EXPECT_TRUE(a.retryable);
  EXPECT_EQ(a.error_type, "");

  a = anthropic_native_answer(200, R"({"hello":1})");
  EXPECT_FALSE(a.ok);
  EXPECT_TRUE(a.unreadable);
  EXPECT_EQ(a.usage, std::nullopt);
}

TEST(AnthropicNativeAnswerTest, ErrorWritersUseAnthropicsShape) {
  EXPECT_EQ(
      anthropic_error_body("overloaded_error", "Backend \"x\" busy"),
      R"({"type":"error","error":{"type":"overloaded_error","message":"Backend \"x\" busy"}})");
  EXPECT_EQ(anthropic_error_event("api_error", "cut"),
            "event: error\n"
            R"(data: {"type":"error","error":{"type":"api_error","message":"cut"}})"
            "\n\n");
}

// ---- stream relay --------------------------------------------------------------------------

struct Relay {
  std::string out;
  bool fed_ok = true;
  bool finished = false;
  std::optional<Usage> usage;
  std::optional<TranslateError> error;
  bool retryable = false;
};

/// Feeds `input` in pieces of `split` bytes (0: whole), then finishes.
Relay relay(std::string_view input, std::size_t split) {
  AnthropicNativeStream s;
  Relay r;
  const std::size_t step = split == 0 ? input.size() : split;
  for (std::size_t i = 0; i < input.size() && r.fed_ok; i += step) {
    r.fed_ok = s.feed(input.substr(i, step), r.out);
  }
  if (r.fed_ok) {
    r.finished = s.finish(r.out);
  }
  r.usage = s.usage();
  r.error = s.error();
  r.retryable = s.retryable();
  return r;
}

TEST(AnthropicNativeStreamTest, TranscriptIsRelayedByteForByteWithItsUsage) {
  const std::string sse = test::read_fixture("anthropic/native/stream_thinking_tool.sse");
  for (std::size_t split : {0, 1, 2, 3, 7, 64, 1000}) {
    const Relay r = relay(sse, split);
    EXPECT_EQ(r.out, sse) << "split " << split;
    EXPECT_TRUE(r.fed_ok);
    EXPECT_TRUE(r.finished);
    EXPECT_EQ(r.error, std::nullopt);
    ASSERT_TRUE(r.usage.has_value());
    EXPECT_EQ(r.usage->input, 2585 + 1200 + 30000);
    EXPECT_EQ(r.usage->cached_input, 30000);
    EXPECT_EQ(r.usage->cache_write, 1200);
    EXPECT_EQ(r.usage->output, 89);
  }
}

TEST(AnthropicNativeStreamTest, SplittingAtAnyOnePointGivesIdenticalOutput) {
  const std::string sse = test::read_fixture("anthropic/native/stream_thinking_tool.sse");
  for (std::size_t cut = 1; cut < sse.size(); ++cut) {
    AnthropicNativeStream s;
    std::string out;
    ASSERT_TRUE(s.feed(std::string_view(sse).substr(0, cut), out));
    // Only whole events go out before the rest arrives.
    EXPECT_TRUE(out.empty() || out.ends_with("\n\n")) << cut;
    ASSERT_TRUE(s.feed(std::string_view(sse).substr(cut), out));
    ASSERT_TRUE(s.finish(out));
    ASSERT_EQ(out, sse) << cut;
  }
}

TEST(AnthropicNativeStreamTest, CrLfStreamSplitAnywhereIsRelayedUnchanged) {
  const std::string sse =
      "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
      "{\"input_tokens\":7,\"output_tokens\":1}}}\r\n\r\n"
      ": a comment\r\n\r\n"
      "event: message_delta\rdata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\r\r"
      "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";
  for (std::size_t split : {0, 1, 2, 5}) {
    const Relay r = relay(sse, split);
    EXPECT_EQ(r.out, sse) << split;
    EXPECT_TRUE(r.finished);
    ASSERT_TRUE(r.usage.has_value());
    EXPECT_EQ(r.usage->input, 7);
    EXPECT_EQ(r.usage->output, 3);
  }
}

constexpr std::string_view kStart =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
    R"("content":[],"usage":{"input_tokens":40,"cache_read_input_tokens":10,"output_tokens":1}}})"
    "\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\n"
    "event: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"
    "\n\n";

TEST(AnthropicNativeStreamTest, ErrorEventIsRelayedAndEndsTheStream) {
  const std::string error_event =
      "event: error\n"
      R"(data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"
      "\n\n";
  const std::string sse = std::string(kStart) + error_event + "event: ping\ndata: {}\n\n";
  for (std::size_t split : {0, 1, 4}) {
    const Relay r = relay(sse, split);
    EXPECT_EQ(r.out, std::string(kStart) + error_event) << split;
    EXPECT_FALSE(r.fed_ok);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->status, 529u);
    EXPECT_EQ(r.error->message, "upstream error event (overloaded_error): Overloaded");
    EXPECT_TRUE(r.retryable);
    ASSERT_TRUE(r.usage.has_value());
    EXPECT_EQ(r.usage->input, 50);
    EXPECT_EQ(r.usage->cached_input, 10);
  }
}

TEST(AnthropicNativeStreamTest, ErrorTypesMapToStatusAndRetry) {
  struct Case {
    std::string_view type;
    unsigned status;
    bool retryable;
  };
  for (const Case c : {Case{"rate_limit_error", 429, true}, Case{"api_error", 500, true},
                       Case{"timeout_error", 504, true}, Case{"invalid_request_error", 400, false},
                       Case{"permission_error", 400, false}}) {
    const std::string sse = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"" +
                            std::string(c.type) + "\",\"message\":\"m\"}}\n\n";
    const Relay r = relay(sse, 0);
    EXPECT_EQ(r.out, sse);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->status, c.status) << c.type;
    EXPECT_EQ(r.retryable, c.retryable) << c.type;
  }
}

TEST(AnthropicNativeStreamTest, CutStreamDropsTheHalfEventAndFails) {
  const std::string cut = std::string(kStart) + "event: content_block_delta\ndata: {\"ty";
  for (std::size_t split : {0, 1, 3}) {
    const Relay r = relay(cut, split);
    EXPECT_EQ(r.out, kStart) << split;
    EXPECT_TRUE(r.fed_ok);
    EXPECT_FALSE(r.finished);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->status, 502u);
    EXPECT_EQ(r.error->message, "upstream stream ended before message_stop");
  }
  // Whole events but no message_stop: the same failure, every byte relayed.
  const Relay r = relay(kStart, 1);
  EXPECT_EQ(r.out, kStart);
  EXPECT_FALSE(r.finished);
}

TEST(AnthropicNativeStreamTest, NothingAfterMessageStopIsRelayed) {
  const std::string stop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  const std::string sse = std::string(kStart) + stop + "event: ping\ndata: {}\n\n";
  const Relay r = relay(sse, 0);
  EXPECT_EQ(r.out, std::string(kStart) + stop);
  EXPECT_TRUE(r.finished);
}

TEST(AnthropicNativeStreamTest, NonJsonEventsAreRelayedButNotRead) {
  const std::string sse = std::string(kStart) + "event: future_event\ndata: not json\n\n" +
                          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  const Relay r = relay(sse, 2);
  EXPECT_EQ(r.out, sse);
  EXPECT_TRUE(r.finished);
}

}  // namespace
}  // namespace sb::adapters
