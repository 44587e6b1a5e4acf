#include "adapters/gemini.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using sb::test::read_fixture;

constexpr std::int64_t kCreated = 1750000000;
constexpr std::string_view kId = "chatcmpl-req42";

GeminiTranslator translator() {
  return GeminiTranslator(kCreated, std::string(kId));
}

BackendSpec spec() {
  BackendSpec s;
  s.base_path = "/v1beta";
  s.host = "generativelanguage.googleapis.com";
  s.model = "gemini-2.0-flash";
  s.api_key = "AIza-test-key";
  return s;
}

std::optional<UpstreamRequest> translate(std::string_view body, TranslateError& error,
                                         const BackendSpec& s = spec()) {
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

// ---- request --------------------------------------------------------------------------------

class GeminiRequestFixtureTest : public testing::TestWithParam<std::string> {};

TEST_P(GeminiRequestFixtureTest, TranslatesToTheGoldenGeminiBody) {
  const std::string name = GetParam();
  TranslateError error;
  const auto req = translate(read_fixture("gemini/request/" + name + ".openai.json"), error);
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(json::parse(req->body),
            json::parse(read_fixture("gemini/request/" + name + ".gemini.json")))
      << req->body;
}

INSTANTIATE_TEST_SUITE_P(Golden, GeminiRequestFixtureTest,
                         testing::Values("system_merge", "images", "tools_auto",
                                         "tool_choice_required", "tool_choice_none",
                                         "tool_choice_function", "tool_choice_allowed_auto",
                                         "tool_result", "json_schema", "generation_config"));

TEST(GeminiRequestTest, NonStreamTargetsGenerateContentWithKeyInHeader) {
  TranslateError error;
  const auto req = translate(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->target, "/v1beta/models/gemini-2.0-flash:generateContent");
  EXPECT_FALSE(req->stream);
  EXPECT_EQ(header(*req, "x-goog-api-key"), "AIza-test-key");
  EXPECT_EQ(header(*req, "content-type"), "application/json");
  EXPECT_EQ(req->target.find("key="), std::string::npos);
  EXPECT_EQ(req->body.find("AIza"), std::string::npos);
}

TEST(GeminiRequestTest, StreamTargetsStreamGenerateContentAsSse) {
  TranslateError error;
  const auto req = translate(
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->target, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
  EXPECT_TRUE(req->stream);
}

TEST(GeminiRequestTest, ModelResourceNamesAreUsedAsIsAndEncoded) {
  BackendSpec s = spec();
  s.base_path = "/v1beta/";
  s.model = "tunedModels/my model";
  TranslateError error;
  const auto req = translate(R"({"messages":[{"role":"user","content":"hi"}]})", error, s);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->target, "/v1beta/tunedModels/my%20model:generateContent");
  s.model = "models/gemini-2.5-pro";
  s.base_path = "";
  EXPECT_EQ(translate(R"({"messages":[{"role":"user","content":"hi"}]})", error, s)->target,
            "/models/gemini-2.5-pro:generateContent");
}

TEST(GeminiRequestTest, ToolResultNameComesFromTheNearestEarlierCallWithThatId) {
  TranslateError error;
  const auto req = translate(R"({"messages":[
    {"role":"user","content":"a"},
    {"role":"assistant","tool_calls":[{"id":"call_0","type":"function",
      "function":{"name":"first","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"call_0","content":"1"},
    {"role":"assistant","tool_calls":[{"id":"call_0","type":"function",
      "function":{"name":"second","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"call_0","content":"2"}]})",
                             error);
  ASSERT_TRUE(req.has_value()) << error.message;
  const json::value doc = json::parse(req->body);
  const json::array& contents = doc.at("contents").as_array();
  ASSERT_EQ(contents.size(), 5u);
  EXPECT_EQ(contents[2].at("parts").at(0).at("functionResponse").at("name"), "first");
  EXPECT_EQ(contents[4].at("parts").at(0).at("functionResponse").at("name"), "second");
}

// A request with every member the translator reads, for the typed reading's tests. `choice`:
// the tool_choice (or legacy function_call) member, `temperature` as the client writes it.
std::string rich_request(std::string_view choice, std::string_view temperature) {
  std::string body =
      R"({"model":"chat","messages":[)"
      R"({"role":"system","content":"Be brief."},)"
      R"({"role":"developer","content":[{"type":"text","text":"Answer in \"French\"."}]},)"
      R"({"role":"user","content":[{"type":"text","text":"What is here?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=",)"
      R"("detail":"high"}},{"type":"image_url","image_url":{"url":)"
      R"("https://example.com/photos/cat.PNG?size=large"}},)"
      R"({"type":"input_audio","input_audio":{"data":"UklGRg==","format":"WAV"}}]},)"
      R"({"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":)"
      R"("function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},)"
      R"({"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"sunny"},)"
      R"({"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},)"
      R"({"role":"assistant","content":null,"function_call":{"name":"lookup",)"
      R"("arguments":"{\"q\":\"x\"}"}},)"
      R"({"role":"function","name":"lookup","content":"found"},)"
      R"({"role":"user","content":"Thanks\u0021"}],)"
      R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",)"
      R"("parameters":{"type":"object","properties":{"city":{"type":["string","null"]}},)"
      R"("required":["city"],"additionalProperties":false},"strict":true}},)"
      R"({"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}],)"
      R"("functions":[{"name":"lookup","description":"Look up","parameters":{"type":"object",)"
      R"("properties":{"q":{"type":"string","const":"x"}}}}],)";
  body += choice;
  body += R"(,"stop":["END","STOP"],"temperature":)";
  body += temperature;
  body +=
      R"(,"top_p":0.70,"seed":7,"max_tokens":9,"max_completion_tokens":256,)"
      R"("response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,)"
      R"("schema":{"type":"object","properties":{"text":{"type":"string"}},)"
      R"("additionalProperties":false}}},"stream":true,"stream_options":{"include_usage":true},)"
      R"("parallel_tool_calls":false,"user":"u-1"})";
  return body;
}

TEST(GeminiRequestTest, TheTypedRequestAndTheTextGiveTheSameUpstreamRequest) {
  // The gateway hands Gemini its typed reading (request_from); request() reads the text.
  const std::vector<std::string_view> choices = {
      R"("tool_choice":"auto")",
      R"("tool_choice":"none")",
      R"("tool_choice":"required")",
      R"("tool_choice":{"type":"function","function":{"name":"get_weather"}})",
      R"("tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":)"
      R"([{"type":"function","function":{"name":"get_time"}}]}})",
      R"("tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":)"
      R"([{"type":"function","function":{"name":"get_time"}}]}})",
      R"("tool_choice":null,"function_call":{"name":"lookup"})",
      R"("function_call":"none")"};
  for (const std::string_view choice : choices) {
    for (const std::string_view temperature : {"1", "0.70"}) {
      const std::string body = rich_request(choice, temperature);
      SCOPED_TRACE(body);
      TranslateError error;
      const auto from_text = translate(body, error);
      ASSERT_TRUE(from_text.has_value()) << error.message;
      const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
      ASSERT_TRUE(typed) << typed.error().message;
      const auto from_typed = translator().request_from(*typed, spec());
      ASSERT_TRUE(from_typed) << from_typed.error().message;
      EXPECT_EQ(from_typed->body, from_text->body);
      EXPECT_EQ(from_typed->target, from_text->target);
      EXPECT_EQ(from_typed->headers, from_text->headers);
      EXPECT_EQ(from_typed->method, from_text->method);
      EXPECT_TRUE(from_typed->stream);
      EXPECT_TRUE(from_text->stream);
    }
  }

  const std::string body = rich_request(R"("tool_choice":"required")", "1");
  const auto typed = parse_chat_request(body);
  ASSERT_TRUE(typed);
  const auto req = translator().request_from(*typed, spec());
  ASSERT_TRUE(req) << req.error().message;
  EXPECT_EQ(req->target, "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(header(*req, "x-goog-api-key"), "AIza-test-key");
  // The client's numbers as written: an integer stays one.
  EXPECT_NE(req->body.find(R"("temperature":1,)"), std::string::npos) << req->body;
  const json::value doc = json::parse(req->body);
  const json::array& system = doc.at("systemInstruction").at("parts").as_array();
  ASSERT_EQ(system.size(), 2u);
  EXPECT_EQ(system[1].at("text"), "Answer in \"French\".");
  const json::array& contents = doc.at("contents").as_array();
  ASSERT_EQ(contents.size(), 5u);  // a tool result and the next user message share a turn
  const json::array& user = contents[0].at("parts").as_array();
  EXPECT_EQ(user[1].at("inlineData").at("mimeType"), "image/png");
  EXPECT_EQ(user[2].at("fileData").at("mimeType"), "image/png");
  EXPECT_EQ(user[3].at("inlineData").at("mimeType"), "audio/wav");
  EXPECT_EQ(contents[1].at("parts").at(1).at("functionCall").at("args"),
            json::parse(R"({"city":"Paris"})"));
  EXPECT_EQ(contents[2].at("parts").at(1).at("functionResponse").at("name"), "get_time");
  EXPECT_EQ(contents[2].at("parts").at(1).at("functionResponse").at("response").at("content"),
            "noon");
  EXPECT_EQ(contents[3].at("parts").at(0).at("functionCall").at("name"), "lookup");
  EXPECT_EQ(contents[4].at("parts").at(0).at("functionResponse").at("name"), "lookup");
  EXPECT_EQ(contents[4].at("parts").at(1).at("text"), "Thanks!");
  const json::array& decls = doc.at("tools").at(0).at("functionDeclarations").as_array();
  ASSERT_EQ(decls.size(), 3u);
  EXPECT_EQ(decls[0].at("parameters").at("properties").at("city"),
            json::parse(R"({"type":"string","nullable":true})"));
  EXPECT_FALSE(decls[1].as_object().contains("parameters"));
  EXPECT_EQ(decls[2].at("parameters").at("properties").at("q").at("enum"), json::parse(R"(["x"])"));
  EXPECT_EQ(doc.at("toolConfig").at("functionCallingConfig").at("mode"), "ANY");
  const json::object& gc = doc.at("generationConfig").as_object();
  EXPECT_EQ(gc.at("topP"), json::value(0.7));
  EXPECT_EQ(gc.at("maxOutputTokens"), json::value(256));  // max_completion_tokens wins
  EXPECT_EQ(gc.at("stopSequences"), json::parse(R"(["END","STOP"])"));
  EXPECT_EQ(gc.at("responseSchema"),
            json::parse(R"({"type":"object","properties":{"text":{"type":"string"}}})"));
}

TEST(GeminiRequestTest, ATextPartSendsItsTextAndARefusalPartItsRefusal) {
  // The typed reading keeps a part's `text` and `refusal` in one member: the part's type says
  // which one Gemini gets, whichever the client wrote last.
  const std::string body =
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"t1","refusal":"r1"}]},)"
      R"({"role":"assistant","content":[{"type":"refusal","refusal":"r2","text":"t2"},)"
      R"({"type":"text","text":"t\u0033","refusal":null}]}]})";
  TranslateError error;
  const auto req = translate(body, error);
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(json::parse(req->body).at("contents"),
            json::parse(R"([{"role":"user","parts":[{"text":"t1"}]},)"
                        R"({"role":"model","parts":[{"text":"r2"},{"text":"t3"}]}])"));
  const auto typed = parse_chat_request(body, SIZE_MAX, false);
  ASSERT_TRUE(typed);
  const auto from_typed = translator().request_from(*typed, spec());
  ASSERT_TRUE(from_typed);
  EXPECT_EQ(from_typed->body, req->body);
}

TEST(GeminiRequestTest, AnElementThatRepeatsItsNestedObjectReadsTheLastOne) {
  // A tool, tool call or part that repeats `function` / `image_url` counts its last occurrence
  // only, as the DOM (and every JSON reader keeping the last key) reads it.
  const std::string body =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
      R"("https://x.com/a.png","image_url":{"url":"https://x.com/b.gif"}}]},)"
      R"({"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":)"
      R"({"name":"f","arguments":"{\"a\":1}"},"function":{"name":"g"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"ok"}],)"
      R"("tools":[{"type":"function","function":{"name":"f","description":"d",)"
      R"("parameters":{"type":"object","properties":{"a":{"type":"string"}}}},)"
      R"("function":{"name":"g"}}]})";
  TranslateError error;
  const auto req = translate(body, error);
  ASSERT_TRUE(req.has_value()) << error.message;
  const json::value doc = json::parse(req->body);
  EXPECT_EQ(doc.at("contents"),
            json::parse(R"([{"role":"user","parts":[{"fileData":{"mimeType":"image/gif",)"
                        R"("fileUri":"https://x.com/b.gif"}}]},{"role":"model","parts":[)"
                        R"({"functionCall":{"name":"g","args":{}}}]},{"role":"user","parts":[)"
                        R"({"functionResponse":{"name":"g","response":{"content":"ok"}}}]}])"));
  EXPECT_EQ(doc.at("tools"), json::parse(R"([{"functionDeclarations":[{"name":"g"}]}])"));
  const auto typed = parse_chat_request(body, SIZE_MAX, false);
  ASSERT_TRUE(typed);
  const auto from_typed = translator().request_from(*typed, spec());
  ASSERT_TRUE(from_typed);
  EXPECT_EQ(from_typed->body, req->body);

  const std::string no_url =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
      R"({"url":"https://x.com/a.png"},"image_url":{"detail":"low"}}]}]})";
  EXPECT_FALSE(translate(no_url, error).has_value());
  EXPECT_EQ(error.message, "image_url part without a url");
}

struct RejectCase {
  std::string name;
  std::string body;
  std::string message_part;
};

class GeminiRequestRejectTest : public testing::TestWithParam<RejectCase> {};

TEST_P(GeminiRequestRejectTest, AnswersBadRequest) {
  TranslateError error;
  EXPECT_FALSE(translate(GetParam().body, error).has_value());
  EXPECT_EQ(error.status, 400u);
  EXPECT_NE(error.message.find(GetParam().message_part), std::string::npos) << error.message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GeminiRequestRejectTest,
    testing::Values(RejectCase{"UnknownToolCallId",
                               R"({"messages":[{"role":"user","content":"a"},)"
                               R"({"role":"tool","tool_call_id":"call_x","content":"1"}]})",
                               "call_x"},
                    RejectCase{"NonBase64DataUrl",
                               R"({"messages":[{"role":"user","content":[{"type":"image_url",)"
                               R"("image_url":{"url":"data:image/png,abc"}}]}]})",
                               "base64"},
                    RejectCase{"FtpImage",
                               R"({"messages":[{"role":"user","content":[{"type":"image_url",)"
                               R"("image_url":{"url":"ftp://x/y.png"}}]}]})",
                               "image_url"},
                    RejectCase{"NonFunctionTool",
                               R"({"messages":[{"role":"user","content":"a"}],)"
                               R"("tools":[{"type":"web_search"}]})",
                               "function tools"},
                    RejectCase{
                        "ArgumentsNotAnObject",
                        R"({"messages":[{"role":"user","content":"a"},{"role":"assistant",)"
                        R"("tool_calls":[{"id":"c","type":"function","function":{"name":"f",)"
                        R"("arguments":"[1]"}}]}]})",
                        "JSON object"},
                    RejectCase{"OnlySystem", R"({"messages":[{"role":"system","content":"a"}]})",
                               "at least one"},
                    RejectCase{"UnknownRole", R"({"messages":[{"role":"narrator","content":"a"}]})",
                               "narrator"},
                    RejectCase{"FileById",
                               R"({"messages":[{"role":"user","content":[{"type":"file",)"
                               R"("file":{"file_id":"file-1"}}]}]})",
                               "file_id"},
                    // A member of the wrong type is refused as OpenAI refuses it, naming it.
                    RejectCase{"MistypedTemperature",
                               R"({"messages":[{"role":"user","content":"a"}],)"
                               R"("temperature":"hot"})",
                               "Invalid type for 'temperature'"},
                    RejectCase{"MistypedContent", R"({"messages":[{"role":"user","content":5}]})",
                               "Invalid type for 'messages[0].content'"},
                    RejectCase{"MessagesNotAnArray", R"({"messages":"hi"})", "messages"}),
    [](const testing::TestParamInfo<RejectCase>& p) { return p.param.name; });

// ---- non-stream responses --------------------------------------------------------------------

struct ResponseCase {
  std::string name;
  std::string alias;
};

class GeminiResponseFixtureTest : public testing::TestWithParam<ResponseCase> {};

TEST_P(GeminiResponseFixtureTest, TranslatesToTheGoldenOpenAiBody) {
  const ResponseCase& c = GetParam();
  const TranslatedResponse r = translator().response(
      200, "application/json", read_fixture("gemini/response/" + c.name + ".gemini.json"), c.alias);
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.retryable);
  EXPECT_EQ(json::parse(r.body),
            json::parse(read_fixture("gemini/response/" + c.name + ".openai.json")))
      << r.body;
}

INSTANTIATE_TEST_SUITE_P(
    Golden, GeminiResponseFixtureTest,
    testing::Values(ResponseCase{"text", "chat"}, ResponseCase{"function_call", "chat"},
                    ResponseCase{"max_tokens", "story-alias"}, ResponseCase{"safety", "chat"}),
    [](const testing::TestParamInfo<ResponseCase>& p) { return p.param.name; });

TEST(GeminiResponseTest, ReportsUsageWithThoughtsAndCache) {
  const TranslatedResponse r = translator().response(
      200, "application/json", read_fixture("gemini/response/text.gemini.json"), "chat");
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->input, 1200);
  EXPECT_EQ(r.usage->output, 43);
  EXPECT_EQ(r.usage->cached_input, 1024);
  EXPECT_EQ(r.usage->reasoning, 40);
}

TEST(GeminiResponseTest, BlockedPromptIsAContentFilterBadRequest) {
  const TranslatedResponse r = translator().response(
      200, "application/json", read_fixture("gemini/response/prompt_blocked.gemini.json"), "chat");
  EXPECT_EQ(r.status, 400u);
  EXPECT_FALSE(r.retryable);
  EXPECT_EQ(json::parse(r.body),
            json::parse(read_fixture("gemini/response/prompt_blocked.openai.json")));
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->input, 9);
  EXPECT_EQ(r.usage->output, 0);
}

TEST(GeminiResponseTest, UnreadableSuccessIsABadGateway) {
  for (const std::string_view body : {"not json", "[1,2]", R"({"usageMetadata":{}})"}) {
    const TranslatedResponse r = translator().response(200, "application/json", body, "chat");
    EXPECT_EQ(r.status, 502u) << body;
    EXPECT_TRUE(r.retryable);
    EXPECT_EQ(json::parse(r.body).at("error").at("type"), "api_error");
  }
}

// ---- errors ----------------------------------------------------------------------------------

struct ErrorCase {
  std::string name;
  unsigned status;
  std::string body;
  std::string type;
  std::optional<std::string> code;
  std::string message;
  bool retryable;
  std::optional<std::string> retry_after;
};

class GeminiErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(GeminiErrorTest, MapsToAnOpenAiErrorWithTheTrueStatus) {
  const ErrorCase& c = GetParam();
  const TranslatedResponse r = translator().response(c.status, "application/json", c.body, "m");
  EXPECT_EQ(r.status, c.status);
  EXPECT_EQ(r.retryable, c.retryable);
  EXPECT_EQ(r.retry_after, c.retry_after);
  EXPECT_FALSE(r.usage.has_value());
  const json::value v = json::parse(r.body);
  const json::object& e = v.at("error").as_object();
  EXPECT_EQ(e.at("type"), json::value(c.type));
  EXPECT_EQ(e.at("message"), json::value(c.message));
  EXPECT_TRUE(e.at("param").is_null());
  if (c.code) {
    EXPECT_EQ(e.at("code"), json::value(*c.code));
  } else {
    EXPECT_TRUE(e.at("code").is_null());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GeminiErrorTest,
    testing::Values(
        ErrorCase{"InvalidArgument400", 400,
                  R"({"error":{"code":400,"message":"Invalid JSON payload received.",)"
                  R"("status":"INVALID_ARGUMENT"}})",
                  "invalid_request_error", "invalid_argument", "Invalid JSON payload received.",
                  false, std::nullopt},
        ErrorCase{"Unauthenticated401", 401,
                  R"({"error":{"code":401,"message":"Request had invalid authentication )"
                  R"(credentials.","status":"UNAUTHENTICATED"}})",
                  "authentication_error", "unauthenticated",
                  "Request had invalid authentication credentials.", false, std::nullopt},
        ErrorCase{"PermissionDenied403", 403,
                  R"({"error":{"code":403,"message":"Method doesn't allow unregistered callers.",)"
                  R"("status":"PERMISSION_DENIED"}})",
                  "permission_error", "permission_denied",
                  "Method doesn't allow unregistered callers.", false, std::nullopt},
        ErrorCase{"ResourceExhausted429", 429,
                  R"({"error":{"code":429,"message":"You exceeded your current quota.",)"
                  R"("status":"RESOURCE_EXHAUSTED","details":[)"
                  R"({"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},)"
                  R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"22s"}]}})",
                  "rate_limit_error", "resource_exhausted", "You exceeded your current quota.",
                  true, "22"},
        ErrorCase{"FractionalRetryDelayRoundsUp", 429,
                  R"({"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED",)"
                  R"("details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo",)"
                  R"("retryDelay":"1.5s"}]}})",
                  "rate_limit_error", "resource_exhausted", "slow down", true, "2"},
        ErrorCase{"Internal500", 500,
                  R"({"error":{"code":500,"message":"An internal error has occurred.",)"
                  R"("status":"INTERNAL"}})",
                  "api_error", "internal", "An internal error has occurred.", true, std::nullopt},
        ErrorCase{"Unavailable503", 503,
                  R"([{"error":{"code":503,"message":"The model is overloaded.",)"
                  R"("status":"UNAVAILABLE"}}])",
                  "api_error", "unavailable", "The model is overloaded.", true, std::nullopt},
        ErrorCase{"HtmlFromAProxy502", 502, "<html><body>Bad Gateway</body></html>", "api_error",
                  std::nullopt, "Gemini returned HTTP 502", true, std::nullopt},
        ErrorCase{
            "NotFound404", 404,
            R"({"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}})",
            "not_found_error", "not_found", "models/x is not found", false, std::nullopt}),
    [](const testing::TestParamInfo<ErrorCase>& p) { return p.param.name; });

// ---- streams ---------------------------------------------------------------------------------

struct StreamRun {
  std::string out;
  bool fed = true;
  bool finished = false;
  std::unique_ptr<StreamTranslator> st;
};

StreamRun run_stream(std::string_view upstream, bool include_usage,
                     std::vector<std::size_t> splits = {}) {
  StreamRun run;
  run.st = translator().stream(include_usage, "chat");
  std::size_t at = 0;
  splits.push_back(upstream.size());
  for (const std::size_t s : splits) {
    run.fed = run.st->feed(upstream.substr(at, s - at), run.out) && run.fed;
    at = s;
  }
  run.finished = run.st->finish(run.out);
  return run;
}

struct StreamCase {
  std::string upstream;
  std::string expected;
  bool include_usage;
};

class GeminiStreamFixtureTest : public testing::TestWithParam<StreamCase> {};

TEST_P(GeminiStreamFixtureTest, TranslatesToTheGoldenChunks) {
  const StreamCase& c = GetParam();
  const StreamRun run = run_stream(read_fixture("gemini/stream/" + c.upstream), c.include_usage);
  EXPECT_TRUE(run.fed);
  EXPECT_TRUE(run.finished);
  EXPECT_FALSE(run.st->error().has_value());
  EXPECT_EQ(run.out, read_fixture("gemini/stream/" + c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Golden, GeminiStreamFixtureTest,
    testing::Values(StreamCase{"text.gemini.sse", "text.openai.sse", true},
                    StreamCase{"text.gemini.sse", "text.without_usage.openai.sse", false},
                    StreamCase{"function_call.gemini.sse", "function_call.openai.sse", true}));

TEST(GeminiStreamTest, EveryByteSplitGivesTheSameChunks) {
  const std::string upstream = read_fixture("gemini/stream/function_call.gemini.sse");
  const std::string expected = read_fixture("gemini/stream/function_call.openai.sse");
  for (std::size_t i = 0; i <= upstream.size(); ++i) {
    const StreamRun run = run_stream(upstream, true, {i});
    ASSERT_TRUE(run.fed && run.finished) << "split at " << i;
    ASSERT_EQ(run.out, expected) << "split at " << i;
  }
  // And one byte at a time.
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < upstream.size(); ++i) {
    every.push_back(i);
  }
  EXPECT_EQ(run_stream(upstream, true, every).out, expected);
}

TEST(GeminiStreamTest, RecordsTheLastUsage) {
  const StreamRun run = run_stream(read_fixture("gemini/stream/function_call.gemini.sse"), false);
  ASSERT_TRUE(run.st->usage().has_value());
  EXPECT_EQ(run.st->usage()->input, 30);
  EXPECT_EQ(run.st->usage()->output, 22);
  EXPECT_EQ(run.st->usage()->reasoning, 12);
}

TEST(GeminiStreamTest, StreamCutMidEventIsTruncated) {
  const StreamRun run = run_stream(read_fixture("gemini/stream/truncated.gemini.sse"), true);
  EXPECT_TRUE(run.fed);
  EXPECT_FALSE(run.finished);
  // Nothing is appended at finish: no [DONE] for an answer that is not whole.
  EXPECT_EQ(run.out, read_fixture("gemini/stream/truncated.openai.sse"));
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 502u);
}

TEST(GeminiStreamTest, StreamWithoutFinishReasonIsTruncated) {
  const StreamRun run = run_stream(
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"index\":0}]}\r\n\r\n",
      false);
  EXPECT_TRUE(run.fed);
  EXPECT_FALSE(run.finished);
  EXPECT_EQ(run.out.find("[DONE]"), std::string::npos);
  EXPECT_TRUE(run_stream("", false).finished == false);
}

TEST(GeminiStreamTest, EveryCandidateMustFinish) {
  const std::string two =
      "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A\"}]},\"index\":0},"
      "{\"content\":{\"parts\":[{\"text\":\"B\"}]},\"index\":1}]}\n\n"
      "data: {\"candidates\":[{\"finishReason\":\"STOP\",\"index\":1}]}\n\n";
  EXPECT_FALSE(run_stream(two, false).finished);
  const StreamRun run = run_stream(
      two + "data: {\"candidates\":[{\"finishReason\":\"MAX_TOKENS\",\"index\":0}]}\n\n", false);
  EXPECT_TRUE(run.finished);
  const std::size_t b_stop =
      run.out.find(R"("index":1,"delta":{},"logprobs":null,"finish_reason":"stop")");
  const std::size_t a_len =
      run.out.find(R"("index":0,"delta":{},"logprobs":null,"finish_reason":"length")");
  ASSERT_NE(b_stop, std::string::npos) << run.out;
  ASSERT_NE(a_len, std::string::npos) << run.out;
  EXPECT_LT(b_stop, a_len);
}

TEST(GeminiStreamTest, InStreamErrorBecomesAnErrorEvent) {
  StreamRun run;
  run.st = translator().stream(false, "chat");
  const bool ok = run.st->feed(
      "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
      "\"status\":\"UNAVAILABLE\"}}\r\n\r\n",
      run.out);
  EXPECT_FALSE(ok);
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 503u);
  EXPECT_EQ(run.out,
            "data: {\"error\":{\"message\":\"The model is overloaded.\",\"type\":\"api_error\","
            "\"param\":null,\"code\":\"unavailable\"}}\n\n");
  EXPECT_FALSE(run.st->finish(run.out));
}

TEST(GeminiStreamTest, EventThatIsNotJsonIsABadGateway) {
  StreamRun run;
  run.st = translator().stream(false, "chat");
  EXPECT_FALSE(run.st->feed("data: {oops\n\n", run.out));
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 502u);
  EXPECT_EQ(json::parse(run.out.substr(6)).at("error").at("type"), "api_error");
}

TEST(GeminiStreamTest, BlockedPromptEndsWithContentFilter) {
  const StreamRun run = run_stream(
      "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
      "\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5}}\r\n\r\n",
      true);
  EXPECT_TRUE(run.finished);
  EXPECT_NE(run.out.find(R"("delta":{},"logprobs":null,"finish_reason":"content_filter")"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find(R"("choices":[],"usage":{"prompt_tokens":5,)"), std::string::npos);
  EXPECT_TRUE(run.out.ends_with("data: [DONE]\n\n"));
}

TEST(GeminiStreamTest, EndlessLineFailsAt16MiB) {
  const StreamRun run = run_stream("data: {\"x\":\"" + std::string(17 << 20, 'x'), false);
  EXPECT_FALSE(run.fed);
  EXPECT_FALSE(run.finished);
  EXPECT_NE(run.out.find("size limit"), std::string::npos) << run.out.substr(0, 300);
}

}  // namespace
}  // namespace sb::adapters
