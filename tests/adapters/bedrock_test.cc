#include "adapters/bedrock.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "adapters/eventstream.h"
#include "adapters/sigv4.h"
#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using sb::test::read_fixture;

constexpr std::int64_t kCreated = 1732371023;
constexpr std::string_view kAmzDate = "20240815T101500Z";
constexpr std::string_view kModel = "anthropic.claude-3-5-sonnet-20240620-v1:0";

BackendSpec spec() {
  BackendSpec s;
  s.host = "bedrock-runtime.us-east-1.amazonaws.com";
  s.model = std::string(kModel);
  s.api_key = "AKIDEXAMPLE";
  s.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  s.region = "us-east-1";
  return s;
}

BedrockTranslator translator() {
  return BedrockTranslator(kCreated, std::string(kAmzDate), "chatcmpl-test-1");
}

std::optional<UpstreamRequest> translate(std::string_view body, const BackendSpec& s,
                                         TranslateError& error) {
  auto r = translator().request(body, s);
  if (!r) {
    error = r.error();
    return std::nullopt;
  }
  return std::move(*r);
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

TEST(BedrockRequestTest, TranslatesConversationToolsAndInferenceConfig) {
  TranslateError error;
  const auto r = translate(read_fixture("bedrock/request_tools.json"), spec(), error);
  ASSERT_TRUE(r) << error.message;
  EXPECT_EQ(json::parse(r->body), json::parse(read_fixture("bedrock/request_tools.expected.json")));
  EXPECT_EQ(r->method, "POST");
  EXPECT_FALSE(r->stream);
  EXPECT_EQ(r->target, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  EXPECT_EQ(header(*r, "accept"), "application/json");
  EXPECT_EQ(header(*r, "content-type"), "application/json");
  EXPECT_EQ(header(*r, "x-amz-date"), kAmzDate);
  EXPECT_EQ(header(*r, "x-amz-content-sha256"), sha256_hex(r->body));
  EXPECT_EQ(header(*r, "x-amz-security-token"), "<absent>");
}

TEST(BedrockRequestTest, SignsTheDoubleEncodedCanonicalPath) {
  TranslateError error;
  const auto r = translate(read_fixture("bedrock/request_tools.json"), spec(), error);
  ASSERT_TRUE(r) << error.message;
  // Re-sign independently from what the translator produced: same wire request, same signature,
  // and the canonical URI carries the colon encoded twice (%253A).
  SigV4Request s;
  s.method = "POST";
  s.path = r->target;
  s.host = "bedrock-runtime.us-east-1.amazonaws.com";
  s.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  s.payload = r->body;
  SigV4Options opt{"us-east-1", "bedrock", true};
  const auto expected =
      sigv4_sign(s, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", {}}, opt, kAmzDate);
  ASSERT_TRUE(expected);
  EXPECT_TRUE(expected->canonical_request.starts_with(
      "POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n\n"));
  EXPECT_EQ(header(*r, "authorization"), expected->authorization);
  EXPECT_TRUE(header(*r, "authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240815/us-east-1/"
                               "bedrock/aws4_request, SignedHeaders=accept;content-type;host;"
                               "x-amz-content-sha256;x-amz-date, Signature="));
}

TEST(BedrockRequestTest, StreamUsesConverseStreamAndSignsSessionToken) {
  BackendSpec s = spec();
  s.base_path = "/proxy";
  s.session_token = "FwoGZXIvYXdzEXAMPLE";
  s.model = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0";
  TranslateError error;
  const auto r = translate(
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},
          "messages":[{"role":"user","content":"hi"}],"max_tokens":10})",
      s, error);
  ASSERT_TRUE(r) << error.message;
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->target,
            "/proxy/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
            "%2Fus.amazon.nova-lite-v1%3A0/converse-stream");
  EXPECT_EQ(header(*r, "accept"), "application/vnd.amazon.eventstream");
  EXPECT_EQ(header(*r, "x-amz-security-token"), "FwoGZXIvYXdzEXAMPLE");
  EXPECT_NE(header(*r, "authorization").find("x-amz-date;x-amz-security-token, Signature="),
            std::string::npos);
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"messages":[{"role":"user","content":[{"text":"hi"}]}],
                            "inferenceConfig":{"maxTokens":10}})"));
}

TEST(BedrockRequestTest, MapsToolChoiceVariants) {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}],)"
                            R"("messages":[{"role":"user","content":"x"}])";
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"("required")", R"({"any":{}})"},
      {R"({"type":"function","function":{"name":"f"}})", R"({"tool":{"name":"f"}})"},
  };
  for (const auto& [choice, want] : cases) {
    TranslateError error;
    const auto r = translate("{" + tools + ",\"tool_choice\":" + choice + "}", spec(), error);
    ASSERT_TRUE(r) << error.message;
    const json::value body = json::parse(r->body);
    EXPECT_EQ(body.at("toolConfig").at("toolChoice"), json::parse(want)) << choice;
    EXPECT_EQ(body.at("toolConfig").at("tools").at(0),
              json::parse(R"({"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object",
                              "properties":{}}}}})"));
  }
  TranslateError error;
  const auto none = translate("{" + tools + R"(,"tool_choice":"none"})", spec(), error);
  ASSERT_TRUE(none) << error.message;
  EXPECT_FALSE(json::parse(none->body).as_object().contains("toolConfig"));
}

TEST(BedrockRequestTest, RejectsWhatConverseCannotExpress) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"n":2,"messages":[{"role":"user","content":"x"}]})", "n must be 1"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url",
           "image_url":{"url":"https://example.com/a.png"}}]}]})",
       "base64 data URLs"},
      {R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[
           {"id":"t","type":"function","function":{"name":"f","arguments":"[1]"}}]}]})",
       "JSON object"},
      {R"({"messages":[{"role":"narrator","content":"x"}]})", "unsupported message role"},
  };
  for (const auto& [body, why] : cases) {
    TranslateError error;
    EXPECT_FALSE(translate(body, spec(), error)) << body;
    EXPECT_EQ(error.status, 400u) << body;
    EXPECT_NE(error.message.find(why), std::string::npos) << error.message;
  }
  BackendSpec no_secret = spec();
  no_secret.secret_key = {};
  TranslateError error;
  EXPECT_FALSE(translate(R"({"messages":[]})", no_secret, error));
  EXPECT_EQ(error.status, 500u);
}

TEST(BedrockRequestTest, AMistypedMemberIsRefusedAsOpenAiRefusesIt) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"messages":[{"role":"user","content":"a"}],"temperature":"hot"})",
       "Invalid type for 'temperature'"},
      {R"({"messages":[{"role":"user","content":5}]})", "Invalid type for 'messages[0].content'"},
  };
  for (const auto& [body, why] : cases) {
    TranslateError error;
    EXPECT_FALSE(translate(body, spec(), error)) << body;
    EXPECT_EQ(error.status, 400u);
    EXPECT_TRUE(error.message.starts_with(why)) << error.message;
  }
}

TEST(BedrockRequestTest, DerivesStableIdWhenNoneGiven) {
  const BedrockTranslator a(kCreated, std::string(kAmzDate));
  const BedrockTranslator b(kCreated, std::string(kAmzDate));
  EXPECT_EQ(a.completion_id(), b.completion_id());
  EXPECT_EQ(a.completion_id().size(), 9u + 24u);
  EXPECT_TRUE(a.completion_id().starts_with("chatcmpl-"));
}

// ---- request: the typed request and the text ---------------------------------------------------

/// The request from the text entry (request()) and from the typed one (request_from()), which
/// must be the same request, or the same refusal.
Result<UpstreamRequest, TranslateError> both_entries(std::string_view body,
                                                     const BackendSpec& s = spec()) {
  auto from_text = translator().request(body, s);
  const Result<ChatRequest, ParseError> typed = parse_chat_request(body, SIZE_MAX, false);
  EXPECT_TRUE(typed) << body;
  if (!typed) {
    return from_text;
  }
  const auto from_typed = translator().request_from(*typed, s);
  EXPECT_EQ(from_text.ok(), from_typed.ok()) << body;
  if (from_text && from_typed) {
    EXPECT_EQ(from_typed->method, from_text->method);
    EXPECT_EQ(from_typed->target, from_text->target);
    EXPECT_EQ(from_typed->headers, from_text->headers);  // the signature included
    EXPECT_EQ(from_typed->body, from_text->body);
    EXPECT_EQ(from_typed->stream, from_text->stream);
  } else if (!from_text && !from_typed) {
    EXPECT_EQ(from_typed.error().status, from_text.error().status);
    EXPECT_EQ(from_typed.error().message, from_text.error().message);
  }
  return from_text;
}

/// A conversation with every kind of message, `tool_choice` and `temperature` spliced in.
std::string rich_body(std::string_view tool_choice, std::string_view temperature) {
  return std::string(
             R"({"model":"client-model","messages":[)"
             R"({"role":"system","content":"Be brief."},)"
             R"({"role":"developer","content":[{"type":"text","text":"Use tools."},)"
             R"({"type":"text","text":"Metric units."}]},)"
             R"({"role":"user","content":[{"type":"text","text":"What is this?"},)"
             R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=",)"
             R"("detail":"low"}}]},)"
             R"({"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1",)"
             R"("type":"function","function":{"name":"get_weather",)"
             R"("arguments":"{\"city\":\"Paris\",\"days\":2}"}}]},)"
             R"({"role":"tool","tool_call_id":"call_1","content":"18 \u00b0C"},)"
             R"({"role":"user","content":"And tomorrow?"}],)"
             R"("tools":[{"type":"function","function":{"name":"get_weather",)"
             R"("description":"Weather","parameters":{"type":"object","properties":)"
             R"({"city":{"type":"string"},"days":{"type":"integer","maximum":1e1}},)"
             R"("required":["city"]}}}],"tool_choice":)") +
         std::string(tool_choice) + R"(,"stop":["END","\n\n"],"temperature":)" +
         std::string(temperature) +
         R"(,"top_p":0.9,"max_completion_tokens":256,"max_tokens":10,"stream":true})";
}

TEST(BedrockRequestTest, TheTypedRequestAndTheTextGiveTheSameUpstreamRequest) {
  const std::vector<std::pair<std::string, std::string>> choices{
      {R"("auto")", R"({"auto":{}})"},
      {R"("required")", R"({"any":{}})"},
      {R"({"type":"function","function":{"name":"get_weather"}})",
       R"({"tool":{"name":"get_weather"}})"},
      {R"("none")", ""},                  // refused: the history holds tool calls
      {R"("sometimes")", ""},             // refused
      {R"({"name":"get_weather"})", ""},  // the legacy form names no function.name: refused
  };
  for (const auto& [choice, want] : choices) {
    for (const std::string_view temperature : {"1", "0.70"}) {
      const std::string body = rich_body(choice, temperature);
      const auto r = both_entries(body);
      ASSERT_EQ(r.ok(), !want.empty()) << choice;
      if (!r) {
        EXPECT_EQ(r.error().status, 400u);
        continue;
      }
      EXPECT_TRUE(r->stream);
      EXPECT_EQ(r->target, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
      EXPECT_EQ(header(*r, "x-amz-content-sha256"), sha256_hex(r->body));
      const json::value doc = json::parse(r->body);
      EXPECT_EQ(doc.at("toolConfig").at("toolChoice"), json::parse(want)) << choice;
      EXPECT_EQ(doc.at("system"), json::parse(R"([{"text":"Be brief."},)"
                                              R"({"text":"Use tools.\nMetric units."}])"));
      const json::array& turns = doc.at("messages").as_array();
      ASSERT_EQ(turns.size(), 3u);
      EXPECT_EQ(turns[0].at("content").at(1),
                json::parse(R"({"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}})"));
      EXPECT_EQ(turns[1].at("content").at(1).at("toolUse").at("input"),
                json::parse(R"({"city":"Paris","days":2})"));
      // The tool result and the next user text share one user turn.
      EXPECT_EQ(turns[2].at("content").at(0).at("toolResult").at("toolUseId"), "call_1");
      EXPECT_EQ(turns[2].at("content").at(1).at("text"), "And tomorrow?");
      const json::value& inference = doc.at("inferenceConfig");
      EXPECT_EQ(inference.at("maxTokens"), 256);  // max_completion_tokens wins
      EXPECT_EQ(inference.at("topP"), json::value(0.9));
      EXPECT_EQ(inference.at("stopSequences"), json::parse(R"(["END","\n\n"])"));
      if (temperature == "1") {
        EXPECT_TRUE(inference.at("temperature").is_int64());
        EXPECT_NE(r->body.find(R"("temperature":1,)"), std::string::npos) << r->body;
      } else {
        EXPECT_EQ(inference.at("temperature"), json::value(0.7));
      }
    }
  }
}

TEST(BedrockRequestTest, ReadsMessagesPartsAndToolsAsOpenAiShapesThem) {
  // Shapes the typed reading takes differently from a member-by-member reading: the request is
  // the same from either entry, and as this translator has always read them.
  const std::string user = R"({"role":"user","content":"x"})";
  // A text part that also carries a `refusal`: its `text` counts.
  auto r = both_entries(R"({"messages":[{"role":"user","content":[{"type":"text","text":"a",)"
                        R"("refusal":"no"}]}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(json::parse(r->body).at("messages").at(0).at("content").at(0).at("text"), "a");
  // `stop: []` is sent as it is; a repeated tool `function` counts with its last value.
  r = both_entries(R"({"messages":[)" + user +
                   R"(],"stop":[],"tools":[{"type":"function","function":{"name":"a",)"
                   R"("parameters":{"type":"object"}},"function":{"name":"b"}}]})");
  ASSERT_TRUE(r) << r.error().message;
  const json::value doc = json::parse(r->body);
  EXPECT_EQ(doc.at("inferenceConfig"), json::parse(R"({"stopSequences":[]})"));
  EXPECT_EQ(doc.at("toolConfig").at("tools").at(0),
            json::parse(R"({"toolSpec":{"name":"b","inputSchema":{"json":{"type":"object",)"
                        R"("properties":{}}}}})"));
  // An empty `tool_calls` array makes a history with tools: "none" cannot drop them.
  r = both_entries(R"({"messages":[)" + user +
                   R"(,{"role":"assistant","content":"y","tool_calls":[]}],"tool_choice":"none",)"
                   R"("tools":[{"type":"function","function":{"name":"f"}}]})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("tool_choice 'none'"), std::string::npos) << r.error().message;
  const std::vector<std::pair<std::string, std::string>> refused{
      {R"({"messages":[{"role":"user","content":[{"type":"image_url",)"
       R"("image_url":"data:image/png;base64,AAAA"}]}]})",
       "base64 data URLs"},  // a bare-string image_url is no image_url object
      {R"({"messages":[)" + user +
           R"(,{"role":"assistant","tool_calls":[{"id":"t",)"
           R"("type":"function"}]}]})",
       "must carry a function"},
      {R"({"messages":[)" + user +
           R"(,{"role":"assistant","tool_calls":[{"id":"t",)"
           R"("type":"function","function":null}]}]})",
       "must carry a function"},
      {R"({"messages":[)" + user + R"(],"tools":[{"type":"function"}]})", "only function tools"},
      {R"({"messages":[{"role":"user"}]})", "user message needs content"},
      {R"({"messages":[{"role":"user","content":null}]})", "string or an array of parts"},
      {R"({"messages":[{"role":"system","content":[{"type":"image_url",)"
       R"("image_url":{"url":"data:image/png;base64,AAAA"}}]}]})",
       "system content must be a string or text parts"},
  };
  for (const auto& [body, why] : refused) {
    const auto refusal = both_entries(body);
    ASSERT_FALSE(refusal) << body;
    EXPECT_EQ(refusal.error().status, 400u);
    EXPECT_NE(refusal.error().message.find(why), std::string::npos) << refusal.error().message;
  }
}

// ---- non-stream response --------------------------------------------------------------------

TEST(BedrockResponseTest, TranslatesToolUseResponseFixture) {
  const TranslatedResponse r = translator().response(
      200, "application/json", read_fixture("bedrock/response_tool_use.json"), "frontier");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body),
            json::parse(read_fixture("bedrock/response_tool_use.expected.json")));
  ASSERT_TRUE(r.usage);
  EXPECT_EQ(r.usage->input, 1436);
  EXPECT_EQ(r.usage->cached_input, 1024);
  EXPECT_EQ(r.usage->output, 57);
}

TEST(BedrockResponseTest, CacheWritesAreCountedApartInTheUsage) {
  const TranslatedResponse r = translator().response(
      200, "application/json",
      R"({"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},)"
      R"("stopReason":"end_turn","usage":{"inputTokens":10,"outputTokens":5,"totalTokens":45,)"
      R"("cacheReadInputTokens":20,"cacheWriteInputTokens":30}})",
      "frontier");
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_TRUE(r.usage);
  EXPECT_EQ(r.usage->input, 60);  // every prompt token, as OpenAI counts them
  EXPECT_EQ(r.usage->cached_input, 20);
  EXPECT_EQ(r.usage->cache_write, 30);
  EXPECT_EQ(r.usage->output, 5);
}

TEST(BedrockResponseTest, MapsStopReasons) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"end_turn", "stop"},
      {"stop_sequence", "stop"},
      {"max_tokens", "length"},
      {"tool_use", "tool_calls"},
      {"guardrail_intervened", "content_filter"},
      {"content_filtered", "content_filter"},
  };
  for (const auto& [stop, want] : cases) {
    const std::string body =
        R"({"output":{"message":{"role":"assistant","content":[{"text":"Hi"}]}},"stopReason":")" +
        stop + R"(","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4}})";
    const TranslatedResponse r = translator().response(200, "application/json", body, "m");
    const json::value v = json::parse(r.body);
    EXPECT_EQ(v.at("choices").at(0).at("finish_reason").as_string(), want) << stop;
    EXPECT_EQ(v.at("choices").at(0).at("message").at("content").as_string(), "Hi");
    EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 4);
  }
}

TEST(BedrockResponseTest, UnreadableSuccessIsRetryable502) {
  for (const std::string_view body : {"not json", R"({"output":{}})", "[]"}) {
    const TranslatedResponse r = translator().response(200, "application/json", body, "m");
    EXPECT_EQ(r.status, 502u) << body;
    EXPECT_TRUE(r.retryable);
    EXPECT_EQ(json::parse(r.body).at("error").at("type").as_string(), "api_error");
  }
}

struct ErrorCase {
  unsigned status;
  std::string error_type;
  std::string body;
  unsigned want_status;
  std::string want_type;
  bool retryable;
};

TEST(BedrockErrorTest, MapsErrorsToOpenAiBodies) {
  const std::vector<ErrorCase> cases{
      {429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
       R"({"message":"Too many requests, please wait before trying again."})", 429,
       "rate_limit_error", true},
      {503, "ServiceUnavailableException", R"({"message":"Service unavailable"})", 503, "api_error",
       true},
      {400, "ValidationException", R"({"message":"Malformed input request"})", 400,
       "invalid_request_error", false},
      {403, "AccessDeniedException", R"({"Message":"You don't have access to the model"})", 403,
       "permission_error", false},
      {500, "InternalServerException", R"({"message":"boom"})", 502, "api_error", true},
      {408, "ModelTimeoutException", R"({"message":"slow"})", 504, "timeout_error", true},
      {404, "ResourceNotFoundException", R"({"message":"no model"})", 404, "not_found_error",
       false},
      {400, "", R"({"__type":"ValidationException","message":"bad"})", 400, "invalid_request_error",
       false},
      {502, "", "<html>bad gateway</html>", 502, "api_error", true},
  };
  for (const ErrorCase& c : cases) {
    const TranslatedResponse r =
        translator().response_with_error_type(c.status, c.body, "m", c.error_type, " 7 ");
    EXPECT_EQ(r.status, c.want_status) << c.error_type;
    EXPECT_EQ(r.retryable, c.retryable) << c.error_type;
    const json::value v = json::parse(r.body);
    EXPECT_EQ(v.at("error").at("type").as_string(), c.want_type) << c.error_type;
    EXPECT_TRUE(v.at("error").at("param").is_null());
    EXPECT_FALSE(v.at("error").at("message").as_string().empty());
    if (c.retryable) {
      EXPECT_EQ(r.retry_after, std::optional<std::string>("7")) << c.error_type;
    } else {
      EXPECT_FALSE(r.retry_after);
    }
  }
  const TranslatedResponse plain = translator().response(
      403, "application/json", R"({"message":"User is not authorized"})", "m");
  EXPECT_EQ(plain.status, 403u);
  EXPECT_EQ(json::parse(plain.body).at("error").at("message").as_string(),
            "User is not authorized");
}

// ---- stream ---------------------------------------------------------------------------------

/// Encodes a stream fixture (a JSON array of {event, payload}) as event stream frames.
std::string encode_events(std::string_view fixture) {
  std::string out;
  const json::value events = json::parse(fixture);
  for (const json::value& e : events.as_array()) {
    const json::object& o = e.as_object();
    EXPECT_TRUE(append_eventstream_message(
        out,
        {EventStreamHeader::string(":event-type", std::string(o.at("event").as_string())),
         EventStreamHeader::string(":content-type", "application/json"),
         EventStreamHeader::string(":message-type", "event")},
        json::serialize(o.at("payload"))));
  }
  return out;
}

std::string exception_frame(std::string_view type, std::string_view message) {
  std::string out;
  EXPECT_TRUE(
      append_eventstream_message(out,
                                 {EventStreamHeader::string(":exception-type", std::string(type)),
                                  EventStreamHeader::string(":content-type", "application/json"),
                                  EventStreamHeader::string(":message-type", "exception")},
                                 json::serialize(json::object{{"message", message}})));
  return out;
}

TEST(BedrockStreamTest, TranslatesStreamFixtureSplitAtEveryByte) {
  const std::string upstream = encode_events(read_fixture("bedrock/stream_text_tool.events.json"));
  for (const bool include_usage : {true, false}) {
    const std::string want =
        read_fixture(include_usage ? "bedrock/stream_text_tool.expected.sse"
                                   : "bedrock/stream_text_tool.without_usage.expected.sse");
    for (std::size_t cut = 0; cut <= upstream.size(); ++cut) {
      auto s = translator().stream(include_usage, "frontier");
      std::string out;
      ASSERT_TRUE(s->feed(std::string_view(upstream).substr(0, cut), out));
      ASSERT_TRUE(s->feed(std::string_view(upstream).substr(cut), out));
      ASSERT_TRUE(s->finish(out));
      ASSERT_EQ(out, want) << "cut at " << cut;
      ASSERT_TRUE(s->usage());
      EXPECT_EQ(s->usage()->input, 150);
      EXPECT_EQ(s->usage()->cached_input, 50);
      EXPECT_EQ(s->usage()->output, 20);
      EXPECT_FALSE(s->error());
    }
  }
}

TEST(BedrockStreamTest, SameOutputFedOneByteAtATime) {
  const std::string upstream = encode_events(read_fixture("bedrock/stream_text_tool.events.json"));
  auto s = translator().stream(true, "frontier");
  std::string out;
  for (const char c : upstream) {
    ASSERT_TRUE(s->feed(std::string_view(&c, 1), out));
  }
  ASSERT_TRUE(s->finish(out));
  EXPECT_EQ(out, read_fixture("bedrock/stream_text_tool.expected.sse"));
}

TEST(BedrockStreamTest, ExceptionFrameMidStreamBecomesErrorEvent) {
  const std::vector<std::tuple<std::string, unsigned, std::string>> cases{
      {"throttlingException", 429, "rate_limit_error"},
      {"modelStreamErrorException", 502, "api_error"},
      {"serviceUnavailableException", 503, "api_error"},
      {"validationException", 400, "invalid_request_error"},
  };
  for (const auto& [type, status, openai_type] : cases) {
    std::string upstream = encode_events(
        R"([{"event":"messageStart","payload":{"role":"assistant"}},
            {"event":"contentBlockDelta",
             "payload":{"contentBlockIndex":0,"delta":{"text":"Hel"}}}])");
    upstream += exception_frame(type, "Too many tokens, please wait");
    upstream += encode_events(R"([{"event":"messageStop","payload":{"stopReason":"end_turn"}}])");
    auto s = translator().stream(false, "m");
    std::string out;
    EXPECT_FALSE(s->feed(upstream, out)) << type;
    ASSERT_TRUE(s->error()) << type;
    EXPECT_EQ(s->error()->status, status) << type;
    // Role chunk, the "Hel" chunk, then the error event; nothing after it.
    const std::size_t last = out.rfind("data: ");
    ASSERT_NE(last, std::string::npos);
    const json::value err = json::parse(std::string_view(out).substr(last + 6));
    EXPECT_EQ(err.at("error").at("type").as_string(), openai_type) << type;
    EXPECT_NE(std::string(err.at("error").at("message").as_string()).find("Too many tokens"),
              std::string::npos);
    EXPECT_NE(out.find(R"("delta":{"content":"Hel"})"), std::string::npos);
    EXPECT_EQ(out.find("[DONE]"), std::string::npos);
    EXPECT_FALSE(s->feed("more", out));
    EXPECT_FALSE(s->finish(out));
  }
}

TEST(BedrockStreamTest, DoneAtFinishWhenMetadataNeverArrives) {
  const std::string upstream = encode_events(
      R"([{"event":"messageStart","payload":{"role":"assistant"}},
          {"event":"contentBlockDelta","payload":{"contentBlockIndex":0,"delta":{"text":"Hi"}}},
          {"event":"messageStop","payload":{"stopReason":"max_tokens"}}])");
  auto s = translator().stream(true, "m");
  std::string out;
  ASSERT_TRUE(s->feed(upstream, out));
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  ASSERT_TRUE(s->finish(out));
  EXPECT_TRUE(out.ends_with(R"("finish_reason":"length"}],"usage":null})"
                            "\n\ndata: [DONE]\n\n"));
  EXPECT_FALSE(s->usage());
}

TEST(BedrockStreamTest, MetadataBeforeMessageStopIsReportedAtFinish) {
  const std::string upstream = encode_events(
      R"([{"event":"messageStart","payload":{"role":"assistant"}},
          {"event":"metadata","payload":{"usage":{"inputTokens":5,"outputTokens":2}}},
          {"event":"messageStop","payload":{"stopReason":"end_turn"}}])");
  auto s = translator().stream(true, "m");
  std::string out;
  ASSERT_TRUE(s->feed(upstream, out));
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  ASSERT_TRUE(s->finish(out));
  EXPECT_TRUE(out.ends_with(R"("choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,)"
                            R"("total_tokens":7,"prompt_tokens_details":{"cached_tokens":0},)"
                            R"("completion_tokens_details":{"reasoning_tokens":0}}})"
                            "\n\ndata: [DONE]\n\n"))
      << out;
}

TEST(BedrockStreamTest, EndingBeforeMessageStopIsAnError) {
  std::string upstream = encode_events(
      R"([{"event":"messageStart","payload":{"role":"assistant"}},
          {"event":"contentBlockDelta","payload":{"contentBlockIndex":0,"delta":{"text":"Hi"}}}])");
  auto s = translator().stream(false, "m");
  std::string out;
  ASSERT_TRUE(s->feed(upstream, out));
  const std::size_t before = out.size();
  EXPECT_FALSE(s->finish(out));
  EXPECT_EQ(out.size(), before);
  ASSERT_TRUE(s->error());
  EXPECT_EQ(s->error()->status, 502u);
}

TEST(BedrockStreamTest, TruncatedFrameAfterMessageStopIsAnError) {
  std::string upstream = encode_events(
      R"([{"event":"messageStart","payload":{"role":"assistant"}},
          {"event":"messageStop","payload":{"stopReason":"end_turn"}},
          {"event":"metadata","payload":{"usage":{"inputTokens":1,"outputTokens":1}}}])");
  upstream.resize(upstream.size() - 3);
  auto s = translator().stream(false, "m");
  std::string out;
  ASSERT_TRUE(s->feed(upstream, out));
  EXPECT_FALSE(s->finish(out));
}

TEST(BedrockStreamTest, CorruptedFrameIsAnError) {
  std::string upstream = encode_events(
      R"([{"event":"messageStart","payload":{"role":"assistant"}},
          {"event":"contentBlockDelta","payload":{"contentBlockIndex":0,"delta":{"text":"Hi"}}}])");
  upstream[upstream.size() - 8] ^= 0x01;
  auto s = translator().stream(false, "m");
  std::string out;
  EXPECT_FALSE(s->feed(upstream, out));
  ASSERT_TRUE(s->error());
  EXPECT_EQ(s->error()->status, 502u);
  EXPECT_NE(out.find("checksum"), std::string::npos);
}

TEST(BedrockStreamTest, MessageOverOneMiBFailsTheStream) {
  std::string upstream;
  ASSERT_TRUE(append_eventstream_message(
      upstream,
      {EventStreamHeader::string(":event-type", "contentBlockDelta"),
       EventStreamHeader::string(":content-type", "application/json"),
       EventStreamHeader::string(":message-type", "event")},
      R"({"contentBlockIndex":0,"delta":{"text":")" + std::string(2 << 20, 'x') + R"("}})"));
  auto s = translator().stream(false, "m");
  std::string out;
  EXPECT_FALSE(s->feed(std::string_view(upstream).substr(0, 16 * 1024), out));
  ASSERT_TRUE(s->error().has_value());
  EXPECT_EQ(s->error()->status, 502u);
  EXPECT_NE(out.find("framing"), std::string::npos) << out;
}

}  // namespace
}  // namespace sb::adapters
