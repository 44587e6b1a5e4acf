#include "adapters/anthropic.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using sb::test::read_fixture;

constexpr std::int64_t kCreated = 1732371023;

BackendSpec spec() {
  BackendSpec s;
  s.base_path = "/v1";
  s.host = "api.anthropic.com";
  s.model = "claude-sonnet-4-20250514";
  s.api_key = "sk-ant-test-key";
  return s;
}

struct Translated {
  std::optional<UpstreamRequest> request;
  TranslateError error;
};

Translated translate(std::string_view body, const BackendSpec& s = spec()) {
  Translated t;
  auto r = AnthropicTranslator(kCreated).request(body, s);
  if (r) {
    t.request = std::move(*r);
  } else {
    t.error = r.error();
  }
  return t;
}

/// The upstream body for a request that must translate, parsed.
json::value upstream_body(std::string_view body) {
  const Translated t = translate(body);
  EXPECT_TRUE(t.request.has_value()) << t.error.message;
  return t.request ? json::parse(t.request->body) : json::value();
}

std::string header(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return "<absent>";
}

// ---- request: golden table -----------------------------------------------------------------

class AnthropicRequestGoldenTest : public testing::TestWithParam<std::string> {};

TEST_P(AnthropicRequestGoldenTest, MatchesExpectedUpstreamBody) {
  const std::string base = "anthropic/requests/" + GetParam();
  const std::string request = read_fixture(base + ".request.json");
  const json::value expected = json::parse(read_fixture(base + ".upstream.json"));
  const Translated t = translate(request);
  ASSERT_TRUE(t.request.has_value()) << t.error.message;
  EXPECT_EQ(json::parse(t.request->body), expected) << t.request->body;
  const json::value parsed = json::parse(request);  // outlives `stream`, a pointer into it
  const json::value* stream = parsed.as_object().if_contains("stream");
  EXPECT_EQ(t.request->stream, stream != nullptr && stream->is_bool() && stream->get_bool());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AnthropicRequestGoldenTest,
                         testing::Values("simple", "system_lifted", "multi_turn_merge", "images",
                                         "tools", "max_tokens_default"));

// ---- request: target, headers and small mappings -------------------------------------------

TEST(AnthropicRequestTest, PostsToMessagesWithKeyAndVersionHeaders) {
  const Translated t = translate(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(t.request);
  EXPECT_EQ(t.request->method, "POST");
  EXPECT_EQ(t.request->target, "/v1/messages");
  EXPECT_EQ(header(*t.request, "x-api-key"), "sk-ant-test-key");
  EXPECT_EQ(header(*t.request, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(header(*t.request, "content-type"), "application/json");
  EXPECT_EQ(header(*t.request, "accept"), "<absent>");
  EXPECT_FALSE(t.request->stream);
}

TEST(AnthropicRequestTest, HonoursVersionOverrideAndTrailingSlashInBasePath) {
  BackendSpec s = spec();
  s.base_path = "/anthropic/v1/";
  s.api_version = "2023-01-01";
  const Translated t =
      translate(R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})", s);
  ASSERT_TRUE(t.request);
  EXPECT_EQ(t.request->target, "/anthropic/v1/messages");
  EXPECT_EQ(header(*t.request, "anthropic-version"), "2023-01-01");
  EXPECT_EQ(header(*t.request, "accept"), "text/event-stream");
  EXPECT_TRUE(t.request->stream);
}

TEST(AnthropicRequestTest, EmptyBasePathAndModelFallBackToClientValues) {
  BackendSpec s = spec();
  s.base_path.clear();
  s.model.clear();
  const Translated t = translate(
      R"({"model":"claude-3-5-haiku-latest","messages":[{"role":"user","content":"hi"}]})", s);
  ASSERT_TRUE(t.request);
  EXPECT_EQ(t.request->target, "/messages");
  EXPECT_EQ(json::parse(t.request->body).at("model"), "claude-3-5-haiku-latest");
}

TEST(AnthropicRequestTest, SamplingNumbersKeepTheirShortestForm) {
  const Translated t = translate(
      R"({"model":"m","temperature":0.7,"top_p":1,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(t.request);
  EXPECT_NE(t.request->body.find(R"("temperature":0.7)"), std::string::npos) << t.request->body;
  EXPECT_NE(t.request->body.find(R"("top_p":1)"), std::string::npos) << t.request->body;
  const Translated huge =
      translate(R"({"model":"m","temperature":1e400,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(huge.request);
  EXPECT_EQ(huge.error.status, 400u);
}

struct ToolChoiceCase {
  const char* name;
  const char* fields;    // members added to a request with one tool
  const char* expected;  // the expected tool_choice, or "absent"
};

class AnthropicToolChoiceTest : public testing::TestWithParam<ToolChoiceCase> {};

TEST_P(AnthropicToolChoiceTest, MapsToAnthropicToolChoice) {
  const std::string body =
      std::string(R"({"model":"m","messages":[{"role":"user","content":"hi"}],)") +
      R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}])" +
      GetParam().fields + "}";
  const json::value up = upstream_body(body);
  const json::value* choice = up.as_object().if_contains("tool_choice");
  if (std::string_view(GetParam().expected) == "absent") {
    EXPECT_EQ(choice, nullptr) << up;
  } else {
    ASSERT_NE(choice, nullptr) << up;
    EXPECT_EQ(*choice, json::parse(GetParam().expected));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, AnthropicToolChoiceTest,
    testing::Values(
        ToolChoiceCase{"Unset", "", "absent"},
        ToolChoiceCase{"Auto", R"(,"tool_choice":"auto")", R"({"type":"auto"})"},
        ToolChoiceCase{"None", R"(,"tool_choice":"none")", R"({"type":"none"})"},
        ToolChoiceCase{"Required", R"(,"tool_choice":"required")", R"({"type":"any"})"},
        ToolChoiceCase{"Named",
                       R"(,"tool_choice":{"type":"function","function":{"name":"get_weather"}})",
                       R"({"type":"tool","name":"get_weather"})"},
        ToolChoiceCase{"ParallelOffAlone", R"(,"parallel_tool_calls":false)",
                       R"({"type":"auto","disable_parallel_tool_use":true})"},
        ToolChoiceCase{"ParallelOffRequired",
                       R"(,"tool_choice":"required","parallel_tool_calls":false)",
                       R"({"type":"any","disable_parallel_tool_use":true})"},
        ToolChoiceCase{"ParallelOffNone", R"(,"tool_choice":"none","parallel_tool_calls":false)",
                       R"({"type":"none"})"},
        ToolChoiceCase{"ParallelOn", R"(,"parallel_tool_calls":true)", "absent"}),
    [](const testing::TestParamInfo<ToolChoiceCase>& p) { return p.param.name; });

TEST(AnthropicRequestTest, ToolChoiceAutoWithoutToolsIsDropped) {
  const json::value up =
      upstream_body(R"({"model":"m","tool_choice":"auto","tools":[],"parallel_tool_calls":false,)"
                    R"("messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(up.as_object().contains("tool_choice"));
  EXPECT_FALSE(up.as_object().contains("tools"));
}

// ---- request: the typed reading -------------------------------------------------------------

/// The upstream request from the typed reading of `body` (request_from), which must translate.
std::optional<UpstreamRequest> translate_typed(std::string_view body,
                                               const BackendSpec& s = spec()) {
  const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
  EXPECT_TRUE(typed) << typed.error().message;
  if (!typed) {
    return std::nullopt;
  }
  auto r = AnthropicTranslator(kCreated).request_from(*typed, s);
  EXPECT_TRUE(r) << r.error().message;
  return r ? std::optional<UpstreamRequest>(std::move(*r)) : std::nullopt;
}

/// A request with every member the translation reads; `temperature` as the client wrote it.
std::string rich_request(std::string_view temperature) {
  return std::string(
             R"({"model":"claude-alias","messages":[{"role":"system","content":"Be brief."},)"
             R"({"role":"developer","content":[{"type":"text","text":"Answer in French.\nAlways."}]},)"
             R"({"role":"user","content":[{"type":"text","text":"What is in these? caf\u00e9"},)"
             R"({"type":"image_url","image_url":{"url":"data:image/PNG;base64,iVBORw0KGgo=",)"
             R"("detail":"low"}},{"type":"image_url","image_url":"https://example.com/cat.jpg"}]},)"
             R"({"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_1",)"
             R"("type":"function","function":{"name":"get_weather",)"
             R"("arguments":"{\"city\":\"Paris\",\"days\":0.70}"}},{"id":"call_2",)"
             R"("type":"function","function":{"name":"get_time","arguments":""}}]},)"
             R"({"role":"tool","tool_call_id":"call_1","content":"Sunny"},)"
             R"({"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"12:00"}]},)"
             R"({"role":"user","content":"Thanks!"},)"
             R"({"role":"assistant","content":[{"type":"refusal","refusal":"I cannot."}]},)"
             R"({"role":"user","content":"Why?"}],"tools":[{"type":"function","function":{)"
             R"("name":"get_weather","description":"Weather","parameters":{"type":"object",)"
             R"("properties":{"city":{"type":"string"},"days":{"type":"number","maximum":0.70}}}}},)"
             R"({"type":"function","function":{"name":"get_time"}}],)"
             R"("tool_choice":{"type":"function","function":{"name":"get_weather"}},)"
             R"("parallel_tool_calls":false,"stop":["END",""],"temperature":)") +
         std::string(temperature) +
         R"(,"top_p":0.9,"max_tokens":500,"max_completion_tokens":300,"user":"user-42",)"
         R"("stream":true,"stream_options":{"include_usage":true},"seed":7,"n":1,)"
         R"("logprobs":false,"presence_penalty":0,"response_format":{"type":"text"}})";
}

TEST(AnthropicRequestTest, TheTypedRequestAndTheTextGiveTheSameUpstreamRequest) {
  // The gateway hands Anthropic its typed reading; request() reads the text. Both are one path.
  for (const auto& [temperature, sent] : {std::pair{"1", "1"}, std::pair{"0.70", "0.7"}}) {
    const std::string body = rich_request(temperature);
    const Translated from_text = translate(body);
    ASSERT_TRUE(from_text.request) << from_text.error.message;
    const std::optional<UpstreamRequest> from_typed = translate_typed(body);
    ASSERT_TRUE(from_typed);
    EXPECT_EQ(from_typed->body, from_text.request->body);
    EXPECT_EQ(from_typed->target, from_text.request->target);
    EXPECT_EQ(from_typed->headers, from_text.request->headers);
    EXPECT_EQ(from_typed->stream, from_text.request->stream);

    EXPECT_TRUE(from_typed->stream);
    EXPECT_EQ(header(*from_typed, "accept"), "text/event-stream");
    // The client's numbers, in their shortest form, where the client put them.
    EXPECT_NE(from_typed->body.find(std::string(R"("temperature":)") + sent + R"(,"top_p":0.9})"),
              std::string::npos)
        << from_typed->body;
    const json::value doc = json::parse(from_typed->body);
    EXPECT_EQ(doc.at("model"), "claude-sonnet-4-20250514");
    EXPECT_EQ(doc.at("max_tokens"), json::value(300));  // max_completion_tokens wins
    EXPECT_EQ(doc.at("system"),
              json::parse(R"([{"type":"text","text":"Be brief."},)"
                          R"({"type":"text","text":"Answer in French.\nAlways."}])"));
    const json::array& messages = doc.at("messages").as_array();
    ASSERT_EQ(messages.size(), 5u) << doc;
    EXPECT_EQ(messages[0].at("content"),
              json::parse(R"([{"type":"text","text":"What is in these? caf\u00e9"},)"
                          R"({"type":"image","source":{"type":"base64","media_type":"image/png",)"
                          R"("data":"iVBORw0KGgo="}},{"type":"image","source":{"type":"url",)"
                          R"("url":"https://example.com/cat.jpg"}}])"));
    EXPECT_EQ(messages[1].at("content"),
              json::parse(R"([{"type":"text","text":"Let me check."},{"type":"tool_use",)"
                          R"("id":"call_1","name":"get_weather","input":{"city":"Paris",)"
                          R"("days":0.70}},{"type":"tool_use","id":"call_2","name":"get_time",)"
                          R"("input":{}}])"));
    // Tool results first in their user turn, the user's text after them.
    EXPECT_EQ(
        messages[2].at("content"),
        json::parse(R"([{"type":"tool_result","tool_use_id":"call_1","content":"Sunny"},)"
                    R"({"type":"tool_result","tool_use_id":"call_2","content":)"
                    R"([{"type":"text","text":"12:00"}]},{"type":"text","text":"Thanks!"}])"));
    EXPECT_EQ(messages[3].at("content"), json::parse(R"([{"type":"text","text":"I cannot."}])"));
    EXPECT_EQ(doc.at("tools").at(0).at("input_schema").at("properties").at("days").at("maximum"),
              json::value(0.7));
    EXPECT_EQ(doc.at("tools").at(1).at("input_schema"),
              json::parse(R"({"type":"object","properties":{}})"));
    EXPECT_EQ(
        doc.at("tool_choice"),
        json::parse(R"({"type":"tool","name":"get_weather","disable_parallel_tool_use":true})"));
    EXPECT_EQ(doc.at("stop_sequences"), json::parse(R"(["END"])"));
    EXPECT_EQ(doc.at("metadata"), json::parse(R"({"user_id":"user-42"})"));
  }
}

TEST(AnthropicRequestTest, ARepeatedMemberCountsWithItsLastValue) {
  // As a JSON parser keeps an object: a part's `text` beside a `refusal`, and the last of a
  // repeated image_url or function.
  const std::string body =
      R"({"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"a",)"
      R"("refusal":"b"}]},{"role":"user","content":[{"type":"image_url","image_url":)"
      R"({"url":"https://a.example/1.png"},"image_url":{"url":"https://b.example/2.png"}}]},)"
      R"({"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f",)"
      R"("arguments":"{\"x\":1}"},"function":{"name":"g"}}]},{"role":"tool","tool_call_id":"c1",)"
      R"("content":"ok"}],"tools":[{"type":"function","function":{"name":"f","parameters":)"
      R"({"type":"object"}},"function":{"name":"g"}}]})";
  const Translated from_text = translate(body);
  ASSERT_TRUE(from_text.request) << from_text.error.message;
  const std::optional<UpstreamRequest> from_typed = translate_typed(body);
  ASSERT_TRUE(from_typed);
  EXPECT_EQ(from_typed->body, from_text.request->body);
  const json::value doc = json::parse(from_typed->body);
  EXPECT_EQ(doc.at("system"), json::parse(R"([{"type":"text","text":"a"}])"));
  EXPECT_EQ(doc.at("messages").at(0).at("content").at(0).at("source").at("url"),
            "https://b.example/2.png");
  EXPECT_EQ(doc.at("messages").at(1).at("content").at(0),
            json::parse(R"({"type":"tool_use","id":"c1","name":"g","input":{}})"));
  EXPECT_EQ(doc.at("tools").at(0),
            json::parse(R"({"name":"g","input_schema":{"type":"object","properties":{}}})"));
}

TEST(AnthropicRequestTest, AMistypedMemberIsRefusedAsOpenAiRefusesIt) {
  // The typed reading names the member and the type it wants; the DOM reading passed some on.
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model":"m","user":5,"messages":[{"role":"user","content":"hi"}]})",
       "Invalid type for 'user': expected a string."},
      {R"({"model":"m","max_tokens":100.0,"messages":[{"role":"user","content":"hi"}]})",
       "Invalid type for 'max_tokens': expected an integer."},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})",
       "Invalid type for 'messages[0].content'"},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":{}})",
       "Invalid type for 'tools'"}};
  for (const auto& [body, message] : cases) {
    const Translated t = translate(body);
    ASSERT_FALSE(t.request.has_value()) << body;
    EXPECT_EQ(t.error.status, 400u);
    EXPECT_TRUE(t.error.message.starts_with(message)) << t.error.message;
  }
}

TEST(AnthropicRequestTest, ABodyWithoutAModelTakesTheBackendsModel) {
  const Translated t = translate(R"({"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(t.request) << t.error.message;
  EXPECT_EQ(json::parse(t.request->body).at("model"), "claude-sonnet-4-20250514");
}

// ---- request: what Anthropic cannot express ------------------------------------------------

struct RejectCase {
  const char* name;
  const char* body;
  const char* message_part;  // a part of the error message
};

class AnthropicRejectTest : public testing::TestWithParam<RejectCase> {};

TEST_P(AnthropicRejectTest, RejectsWith400) {
  const Translated t = translate(GetParam().body);
  ASSERT_FALSE(t.request.has_value()) << t.request->body;
  EXPECT_EQ(t.error.status, 400u);
  EXPECT_NE(t.error.message.find(GetParam().message_part), std::string::npos) << t.error.message;
}

#define USER_HI R"("messages":[{"role":"user","content":"hi"}])"

INSTANTIATE_TEST_SUITE_P(
    Cases, AnthropicRejectTest,
    testing::Values(
        RejectCase{"MoreThanOneChoice", R"({"model":"m","n":2,)" USER_HI "}", "n:"},
        RejectCase{"ZeroMaxTokens", R"({"model":"m","max_tokens":0,)" USER_HI "}", "max_tokens"},
        RejectCase{"FractionalMaxTokens",
                   R"({"model":"m","max_completion_tokens":1.5,)" USER_HI "}",
                   "max_completion_tokens"},
        RejectCase{"Logprobs", R"({"model":"m","logprobs":true,)" USER_HI "}", "logprobs"},
        RejectCase{"LogitBias", R"({"model":"m","logit_bias":{"50256":-100},)" USER_HI "}",
                   "logit_bias"},
        RejectCase{"PresencePenalty", R"({"model":"m","presence_penalty":0.5,)" USER_HI "}",
                   "presence_penalty"},
        RejectCase{"JsonResponseFormat",
                   R"({"model":"m","response_format":{"type":"json_object"},)" USER_HI "}",
                   "response_format"},
        RejectCase{"AudioOutput", R"({"model":"m","modalities":["text","audio"],)" USER_HI "}",
                   "modalities"},
        RejectCase{"LegacyFunctions", R"({"model":"m","functions":[{"name":"f"}],)" USER_HI "}",
                   "functions"},
        RejectCase{"StringTemperature", R"({"model":"m","temperature":"hot",)" USER_HI "}",
                   "temperature"},
        RejectCase{"NonFunctionTool",
                   R"({"model":"m","tools":[{"type":"custom","custom":{"name":"x"}}],)" USER_HI "}",
                   "tools[0]"},
        RejectCase{"RequiredToolChoiceWithoutTools",
                   R"({"model":"m","tool_choice":"required",)" USER_HI "}", "tool_choice"},
        RejectCase{"InvalidToolArguments",
                   R"({"model":"m","messages":[{"role":"user","content":"hi"},)"
                   R"({"role":"assistant","tool_calls":[{"id":"t1","type":"function",)"
                   R"("function":{"name":"f","arguments":"{\"a\":"}}]}]})",
                   "messages[1].tool_calls[0].function.arguments"},
        RejectCase{"NonObjectToolArguments",
                   R"({"model":"m","messages":[{"role":"user","content":"hi"},)"
                   R"({"role":"assistant","tool_calls":[{"id":"t1","type":"function",)"
                   R"("function":{"name":"f","arguments":"[1,2]"}}]}]})",
                   "arguments"},
        RejectCase{"ToolMessageWithoutId",
                   R"({"model":"m","messages":[{"role":"tool","content":"x"}]})", "tool_call_id"},
        RejectCase{"UnknownRole", R"({"model":"m","messages":[{"role":"robot","content":"x"}]})",
                   "unknown role"},
        RejectCase{"AudioInput",
                   R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio",)"
                   R"("input_audio":{"data":"AAA","format":"wav"}}]}]})",
                   "input_audio"},
        RejectCase{"UnsupportedImageType",
                   R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url",)"
                   R"("image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]})",
                   "image/bmp"},
        RejectCase{"NonBase64DataUrl",
                   R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url",)"
                   R"("image_url":{"url":"data:image/png,rawbytes"}}]}]})",
                   "base64"},
        RejectCase{"FileImageUrl",
                   R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url",)"
                   R"("image_url":{"url":"file:///etc/passwd"}}]}]})",
                   "http(s)"},
        RejectCase{"OnlySystemMessages",
                   R"({"model":"m","messages":[{"role":"system","content":"be nice"}]})",
                   "messages"}),
    [](const testing::TestParamInfo<RejectCase>& p) { return p.param.name; });

#undef USER_HI

// ---- non-stream responses ------------------------------------------------------------------

class AnthropicResponseGoldenTest : public testing::TestWithParam<std::string> {};

TEST_P(AnthropicResponseGoldenTest, MatchesExpectedChatCompletion) {
  const std::string base = "anthropic/response_" + GetParam();
  const TranslatedResponse r = AnthropicTranslator(kCreated).response(
      200, "application/json", read_fixture(base + ".json"), "default");
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.retryable);
  EXPECT_EQ(json::parse(r.body), json::parse(read_fixture(base + ".expected.json"))) << r.body;
  // The usage the gateway records is the one the client sees.
  ASSERT_TRUE(r.usage.has_value());
  const json::value parsed = json::parse(r.body);
  const json::object& u = parsed.at("usage").as_object();
  EXPECT_EQ(r.usage->input, u.at("prompt_tokens").as_int64());
  EXPECT_EQ(r.usage->output, u.at("completion_tokens").as_int64());
  EXPECT_EQ(r.usage->cached_input, u.at("prompt_tokens_details").at("cached_tokens").as_int64());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AnthropicResponseGoldenTest,
                         testing::Values("text", "tool_use", "max_tokens"));

TEST(AnthropicResponseTest, MapsEveryStopReason) {
  const std::pair<const char*, const char*> cases[] = {{"end_turn", "stop"},
                                                       {"stop_sequence", "stop"},
                                                       {"pause_turn", "stop"},
                                                       {"max_tokens", "length"},
                                                       {"tool_use", "tool_calls"},
                                                       {"refusal", "content_filter"},
                                                       {"model_context_window_exceeded", "length"}};
  for (const auto& [anthropic, openai] : cases) {
    const std::string body =
        std::string(R"({"id":"msg_1","type":"message","role":"assistant","model":"claude",)") +
        R"("content":[{"type":"text","text":"x"}],"stop_reason":")" + anthropic +
        R"(","usage":{"input_tokens":1,"output_tokens":1}})";
    const TranslatedResponse r =
        AnthropicTranslator(kCreated).response(200, "application/json", body, "default");
    EXPECT_EQ(json::parse(r.body).at("choices").at(0).at("finish_reason"), openai) << anthropic;
  }
}

TEST(AnthropicResponseTest, ToolOnlyAnswerHasNullContentAndAliasWhenNoModelReported) {
  const TranslatedResponse r = AnthropicTranslator(kCreated).response(
      200, "application/json",
      R"({"id":"msg_2","type":"message","role":"assistant","content":[{"type":"tool_use",)"
      R"("id":"toolu_1","name":"f","input":{"a":[1,"b"]}}],"stop_reason":"tool_use",)"
      R"("usage":{"input_tokens":3,"output_tokens":4}})",
      "my-alias");
  const json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("model"), "my-alias");
  const json::object& message = v.at("choices").at(0).at("message").as_object();
  EXPECT_TRUE(message.at("content").is_null());
  EXPECT_EQ(message.at("tool_calls").at(0).at("function").at("arguments"), R"({"a":[1,"b"]})");
}

TEST(AnthropicResponseTest, UnreadableSuccessBodyIs502) {
  for (const std::string_view body : {"<html>oops</html>", R"({"type":"completion"})", "[]"}) {
    const TranslatedResponse r =
        AnthropicTranslator(kCreated).response(200, "application/json", body, "default");
    EXPECT_EQ(r.status, 502u) << body;
    EXPECT_TRUE(r.retryable);
    EXPECT_FALSE(r.usage.has_value());
    EXPECT_EQ(json::parse(r.body).at("error").at("type"), "api_error");
  }
}

// ---- error responses -----------------------------------------------------------------------

struct ErrorCase {
  const char* name;
  unsigned upstream_status;
  const char* anthropic_type;
  unsigned status;
  const char* type;
  const char* code;  // "" for null
  bool retryable;
};

class AnthropicErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(AnthropicErrorTest, MapsToOpenAiError) {
  const ErrorCase& c = GetParam();
  const std::string body =
      std::string(R"({"type":"error","error":{"type":")") + c.anthropic_type +
      R"(","message":"Something about it."},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"})";
  const TranslatedResponse r = AnthropicTranslator(kCreated).response_with_retry_after(
      c.upstream_status, "application/json", body, "default", " 17 ");
  EXPECT_EQ(r.status, c.status);
  EXPECT_EQ(r.retryable, c.retryable);
  EXPECT_FALSE(r.usage.has_value());
  if (c.retryable) {
    EXPECT_EQ(r.retry_after, std::optional<std::string>("17"));
  } else {
    EXPECT_FALSE(r.retry_after.has_value());
  }
  const json::value v = json::parse(r.body);
  const json::object& e = v.at("error").as_object();
  EXPECT_EQ(e.at("type"), c.type);
  EXPECT_TRUE(e.at("param").is_null());
  if (std::string_view(c.code).empty()) {
    EXPECT_TRUE(e.at("code").is_null());
  } else {
    EXPECT_EQ(e.at("code"), c.code);
  }
  EXPECT_NE(std::string_view(e.at("message").as_string()).find("Something about it."),
            std::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, AnthropicErrorTest,
    testing::Values(
        ErrorCase{"BadRequest", 400, "invalid_request_error", 400, "invalid_request_error", "",
                  false},
        ErrorCase{"Unauthorized", 401, "authentication_error", 401, "authentication_error", "",
                  false},
        ErrorCase{"Forbidden", 403, "permission_error", 403, "permission_error", "", false},
        ErrorCase{"NotFound", 404, "not_found_error", 404, "not_found_error", "", false},
        ErrorCase{"TooLarge", 413, "request_too_large", 413, "request_too_large", "", false},
        ErrorCase{"RateLimited", 429, "rate_limit_error", 429, "rate_limit_error",
                  "rate_limit_exceeded", true},
        ErrorCase{"InternalError", 500, "api_error", 502, "api_error", "upstream_error", true},
        ErrorCase{"Overloaded", 529, "overloaded_error", 503, "api_error", "upstream_overloaded",
                  true},
        ErrorCase{"GatewayTimeout", 504, "timeout_error", 504, "timeout_error", "upstream_error",
                  true}),
    [](const testing::TestParamInfo<ErrorCase>& p) { return p.param.name; });

TEST(AnthropicErrorTest, NonJsonErrorBodyStillMapsByStatus) {
  const TranslatedResponse r = AnthropicTranslator(kCreated).response(
      413, "text/html", "<html><body>413 Request Entity Too Large</body></html>", "default");
  EXPECT_EQ(r.status, 413u);
  EXPECT_FALSE(r.retryable);
  EXPECT_EQ(json::parse(r.body).at("error").at("message"), "upstream provider returned HTTP 413");
}

TEST(AnthropicErrorTest, LongMessageIsCutOnACharacterBoundary) {
  std::string long_message = "x";
  for (int i = 0; i < 1000; ++i) {
    long_message += "\xC3\xA9";  // two-byte UTF-8
  }
  const TranslatedResponse r = AnthropicTranslator(kCreated).response(
      400, "application/json",
      R"({"type":"error","error":{"type":"invalid_request_error","message":")" + long_message +
          "\"}}",
      "default");
  const std::string message(json::parse(r.body).at("error").at("message").as_string());
  EXPECT_EQ(message.size(), 1023u + 3u);  // "x" and 511 whole characters, then "..."
  EXPECT_TRUE(message.ends_with("\xC3\xA9..."));
}

TEST(AnthropicErrorTest, RetryAfterOnlyInDeltaSeconds) {
  EXPECT_EQ(parse_retry_after("30"), std::optional<std::string>("30"));
  EXPECT_EQ(parse_retry_after("\t0 "), std::optional<std::string>("0"));
  EXPECT_FALSE(parse_retry_after(""));
  EXPECT_FALSE(parse_retry_after("-1"));
  EXPECT_FALSE(parse_retry_after("1.5"));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"));
  // Absent header: nothing to carry.
  const TranslatedResponse r = AnthropicTranslator(kCreated).response_with_retry_after(
      429, "application/json", R"({"type":"error","error":{"type":"rate_limit_error"}})", "default",
      "");
  EXPECT_TRUE(r.retryable);
  EXPECT_FALSE(r.retry_after.has_value());
}

// ---- streams -------------------------------------------------------------------------------

struct StreamRun {
  std::string out;
  bool fed_ok = true;
  bool finished_ok = false;
  std::optional<Usage> usage;
  std::optional<TranslateError> error;
};

/// Feeds `input` in pieces ending at the given split points (ascending), then finishes.
StreamRun run_stream(std::string_view input, bool include_usage,
                     std::initializer_list<std::size_t> splits = {}) {
  auto st = AnthropicTranslator(kCreated).stream(include_usage, "default");
  StreamRun run;
  std::size_t at = 0;
  auto feed = [&](std::size_t end) {
    if (run.fed_ok) {
      run.fed_ok = st->feed(input.substr(at, end - at), run.out);
    }
    at = end;
  };
  for (const std::size_t s : splits) {
    feed(s);
  }
  feed(input.size());
  run.finished_ok = st->finish(run.out);
  run.usage = st->usage();
  run.error = st->error();
  return run;
}

TEST(AnthropicStreamTest, TextStreamMatchesGoldenAndDropsPing) {
  const StreamRun run = run_stream(read_fixture("anthropic/stream_text.sse"), false);
  EXPECT_EQ(run.out, read_fixture("anthropic/stream_text.expected.sse"));
  EXPECT_TRUE(run.fed_ok);
  EXPECT_TRUE(run.finished_ok);
  EXPECT_FALSE(run.error.has_value());
  ASSERT_TRUE(run.usage.has_value());
  EXPECT_EQ(run.usage->input, 25);
  EXPECT_EQ(run.usage->output, 12);
}

TEST(AnthropicStreamTest, ToolUseStreamMatchesGoldenWithUsageChunk) {
  const StreamRun run = run_stream(read_fixture("anthropic/stream_tool_use.sse"), true);
  EXPECT_EQ(run.out, read_fixture("anthropic/stream_tool_use.expected.sse"));
  EXPECT_TRUE(run.fed_ok);
  EXPECT_TRUE(run.finished_ok);
  ASSERT_TRUE(run.usage.has_value());
  EXPECT_EQ(run.usage->input, 2620);
  EXPECT_EQ(run.usage->cached_input, 2048);
  EXPECT_EQ(run.usage->cache_write, 100);  // cache_creation_input_tokens, priced apart
  EXPECT_EQ(run.usage->output, 89);
}

TEST(AnthropicStreamTest, WithoutIncludeUsageNoChunkCarriesUsage) {
  const StreamRun run = run_stream(read_fixture("anthropic/stream_tool_use.sse"), false);
  EXPECT_EQ(run.out.find("usage"), std::string::npos);
  EXPECT_EQ(run.out.find("\"choices\":[]"), std::string::npos);
  EXPECT_TRUE(run.out.ends_with("\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n"));
  ASSERT_TRUE(run.usage.has_value());  // recorded for the gateway all the same
  EXPECT_EQ(run.usage->output, 89);
}

TEST(AnthropicStreamTest, EverySplitPointGivesTheSameOutput) {
  const std::string input = read_fixture("anthropic/stream_tool_use.sse");
  const std::string expected = read_fixture("anthropic/stream_tool_use.expected.sse");
  for (std::size_t split = 0; split <= input.size(); ++split) {
    const StreamRun run = run_stream(input, true, {split});
    ASSERT_EQ(run.out, expected) << "split at " << split;
    ASSERT_TRUE(run.finished_ok) << "split at " << split;
  }
  for (std::size_t split = 1; split + 1 < input.size(); split += 7) {
    const StreamRun run = run_stream(input, true, {split, split + 1});
    ASSERT_EQ(run.out, expected) << "splits at " << split << ", " << split + 1;
  }
}

TEST(AnthropicStreamTest, ByteAtATimeGivesTheSameOutput) {
  const std::string input = read_fixture("anthropic/stream_text.sse");
  auto st = AnthropicTranslator(kCreated).stream(false, "default");
  std::string out;
  for (const char c : input) {
    ASSERT_TRUE(st->feed(std::string_view(&c, 1), out));
  }
  EXPECT_TRUE(st->finish(out));
  EXPECT_EQ(out, read_fixture("anthropic/stream_text.expected.sse"));
}

TEST(AnthropicStreamTest, CrlfFramingGivesTheSameOutput) {
  std::string input;
  for (const char c : read_fixture("anthropic/stream_text.sse")) {
    if (c == '\n') {
      input += "\r\n";
    } else {
      input += c;
    }
  }
  const StreamRun run = run_stream(input, false);
  EXPECT_EQ(run.out, read_fixture("anthropic/stream_text.expected.sse"));
}

TEST(AnthropicStreamTest, ErrorEventBecomesOpenAiErrorAndStopsTheStream) {
  const std::string input = read_fixture("anthropic/stream_error.sse");
  const std::string expected = read_fixture("anthropic/stream_error.expected.sse");
  for (const std::size_t split : {std::size_t{0}, input.size() / 2, input.size() - 3}) {
    const StreamRun run = run_stream(input, false, {split});
    EXPECT_EQ(run.out, expected) << "split at " << split;
    EXPECT_FALSE(run.fed_ok);
    EXPECT_FALSE(run.finished_ok);
    ASSERT_TRUE(run.error.has_value());
    EXPECT_EQ(run.error->status, 503u);
    EXPECT_NE(run.error->message.find("Overloaded"), std::string::npos);
    EXPECT_FALSE(run.usage.has_value());
  }
}

TEST(AnthropicStreamTest, StreamCutBeforeMessageStopIsIncomplete) {
  const std::string input = read_fixture("anthropic/stream_text.sse");
  const std::size_t cut = input.find("event: message_stop");
  ASSERT_NE(cut, std::string::npos);
  auto st = AnthropicTranslator(kCreated).stream(true, "default");
  std::string out;
  EXPECT_TRUE(st->feed(std::string_view(input).substr(0, cut), out));
  const std::size_t before = out.size();
  EXPECT_FALSE(st->finish(out));
  EXPECT_EQ(out.size(), before);  // nothing appended; the caller ends the client's stream
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
  ASSERT_TRUE(st->error().has_value());
  EXPECT_EQ(st->error()->status, 502u);
}

// Blocks are found by their index whatever their order: deltas may interleave, a block's index
// need not be its position, and an index never started is a protocol error.
TEST(AnthropicStreamTest, InterleavedBlocksAreFoundByTheirIndex) {
  const auto event = [](std::string_view type, const std::string& data) {
    return "event: " + std::string(type) + "\ndata: " + data + "\n\n";
  };
  const auto start = [&](int index, std::string_view id) {
    return event("content_block_start", R"({"type":"content_block_start","index":)" +
                                            std::to_string(index) +
                                            R"(,"content_block":{"type":"tool_use","id":")" +
                                            std::string(id) + R"(","name":"f","input":{}}})");
  };
  const auto delta = [&](int index, std::string_view json) {
    return event("content_block_delta",
                 R"({"type":"content_block_delta","index":)" + std::to_string(index) +
                     R"(,"delta":{"type":"input_json_delta","partial_json":)" + std::string(json) +
                     "}}");
  };
  const std::string head = event(
      "message_start",
      R"({"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1}}})");
  const StreamRun run = run_stream(head + start(7, "a") + start(3, "b") + delta(3, R"("{\"b\"")") +
                                       delta(7, R"("{\"a\"")") + delta(3, R"(":2}")") +
                                       delta(7, R"(":1}")") + delta(5, R"("x")"),
                                   false);
  EXPECT_FALSE(run.fed_ok);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_NE(run.error->message.find("no open block"), std::string::npos);
  // Tool calls are numbered by their start: the block of index 7 is call 0, index 3 call 1.
  std::string arguments[2];
  for (std::size_t at = run.out.find("data: {"); at != std::string::npos;
       at = run.out.find("data: {", at + 1)) {
    const std::size_t end = run.out.find("\n\n", at);
    const json::value chunk = json::parse(run.out.substr(at + 6, end - at - 6));
    const json::value* calls = chunk.as_object().if_contains("choices");
    if (calls == nullptr || calls->as_array().empty()) {
      continue;
    }
    const json::value* tc = calls->as_array()[0].at("delta").as_object().if_contains("tool_calls");
    if (tc != nullptr) {
      const json::object& call = tc->as_array()[0].as_object();
      arguments[call.at("index").as_int64()] +=
          call.at("function").at("arguments").as_string().c_str();
    }
  }
  EXPECT_EQ(arguments[0], R"({"a":1})");
  EXPECT_EQ(arguments[1], R"({"b":2})");
}

TEST(AnthropicStreamTest, MalformedEventIsAProtocolError) {
  auto st = AnthropicTranslator(kCreated).stream(false, "default");
  std::string out;
  EXPECT_FALSE(
      st->feed("event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
               "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
               out));
  ASSERT_TRUE(st->error().has_value());
  EXPECT_EQ(st->error()->status, 502u);
  EXPECT_TRUE(out.starts_with("data: {\"error\":"));
  // Nothing more once failed.
  const std::string before = out;
  EXPECT_FALSE(st->feed("event: ping\ndata: {\"type\":\"ping\"}\n\n", out));
  EXPECT_EQ(out, before);
  EXPECT_FALSE(st->finish(out));
}

TEST(AnthropicStreamTest, UnknownEventTypesAreIgnored) {
  std::string input = read_fixture("anthropic/stream_text.sse");
  const std::size_t at = input.find("event: content_block_stop");
  input.insert(at, "event: future_event\ndata: {\"type\":\"future_event\",\"x\":1}\n\n");
  const StreamRun run = run_stream(input, false);
  EXPECT_EQ(run.out, read_fixture("anthropic/stream_text.expected.sse"));
}

TEST(AnthropicStreamTest, EndlessEventFailsAtOneMiBWithAnErrorEvent) {
  const std::string input = "event: message_start\ndata: " + std::string(2 << 20, 'x');
  const StreamRun run = run_stream(input, false, {1000, 600'000});
  EXPECT_FALSE(run.fed_ok);
  EXPECT_FALSE(run.finished_ok);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_EQ(run.error->status, 502u);
  EXPECT_NE(run.out.find("larger than 1 MiB"), std::string::npos) << run.out.substr(0, 300);
  EXPECT_LT(run.out.size(), 4096u);
}

}  // namespace
}  // namespace sb::adapters
