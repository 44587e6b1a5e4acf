#include "adapters/ollama.h"

#include <cstdint>
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

OllamaTranslator translator() {
  return OllamaTranslator(kCreated, std::string(kId));
}

BackendSpec spec() {
  BackendSpec s;
  s.base_path = "";
  s.host = "127.0.0.1:11434";
  s.model = "llama3.2:3b";
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

class OllamaRequestFixtureTest : public testing::TestWithParam<std::string> {};

TEST_P(OllamaRequestFixtureTest, TranslatesToTheGoldenOllamaBody) {
  const std::string name = GetParam();
  TranslateError error;
  const auto req = translate(read_fixture("ollama/request/" + name + ".openai.json"), error);
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(json::parse(req->body),
            json::parse(read_fixture("ollama/request/" + name + ".ollama.json")))
      << req->body;
}

INSTANTIATE_TEST_SUITE_P(Golden, OllamaRequestFixtureTest,
                         testing::Values("chat_options", "images", "tools", "json_schema",
                                         "json_object"));

TEST(OllamaRequestTest, TargetsApiChatWithStreamAlwaysExplicit) {
  TranslateError error;
  const auto req = translate(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", error);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->target, "/api/chat");
  EXPECT_FALSE(req->stream);
  EXPECT_EQ(header(*req, "content-type"), "application/json");
  EXPECT_EQ(header(*req, "authorization"), "<absent>");
  // Ollama streams by default: a non-stream request must say so.
  EXPECT_EQ(json::parse(req->body).at("stream"), json::value(false));

  const auto streamed =
      translate(R"({"model":"m","stream":true,"stream_options":{"include_usage":true},)"
                R"("messages":[{"role":"user","content":"hi"}]})",
                error);
  ASSERT_TRUE(streamed.has_value());
  EXPECT_TRUE(streamed->stream);
  const json::value body = json::parse(streamed->body);
  EXPECT_EQ(body.at("stream"), json::value(true));
  EXPECT_FALSE(body.as_object().contains("stream_options"));
}

TEST(OllamaRequestTest, BasePathKeepsAProxyPrefixAndDropsTheOpenAiV1) {
  BackendSpec s = spec();
  s.base_path = "/ollama/";
  s.api_key = "proxy-token";
  TranslateError error;
  const std::string_view body = R"({"messages":[{"role":"user","content":"hi"}]})";
  auto req = translate(body, error, s);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->target, "/ollama/api/chat");
  EXPECT_EQ(header(*req, "authorization"), "Bearer proxy-token");
  EXPECT_EQ(req->body.find("proxy-token"), std::string::npos);
  s.base_path = "/v1";
  EXPECT_EQ(translate(body, error, s)->target, "/api/chat");
}

TEST(OllamaRequestTest, NumbersKeepTheClientsForm) {
  // Read from the typed request, the numbers are the client's JSON values: an integer stays one.
  TranslateError error;
  const auto req = translate(R"({"messages":[{"role":"user","content":"a"}],"temperature":1,)"
                             R"("top_p":0.5,"seed":7,"max_tokens":64,"max_completion_tokens":32})",
                             error);
  ASSERT_TRUE(req.has_value()) << error.message;
  const json::value options = json::parse(req->body).at("options");
  EXPECT_TRUE(options.at("temperature").is_int64());
  EXPECT_EQ(options.at("temperature"), json::value(1));
  EXPECT_EQ(options.at("top_p"), json::value(0.5));
  EXPECT_EQ(options.at("seed"), json::value(7));
  EXPECT_EQ(options.at("num_predict"), json::value(32));  // max_completion_tokens wins
  EXPECT_NE(req->body.find("\"temperature\":1,"), std::string::npos) << req->body;
}

TEST(OllamaRequestTest, TheTypedRequestAndTheTextGiveTheSameUpstreamRequest) {
  // The gateway hands Ollama its typed reading; request() reads the text. Both are one path.
  const std::string body =
      R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":)"
      R"([{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":)"
      R"("data:image/png;base64,AAAA"}}]},{"role":"assistant","content":null,"tool_calls":)"
      R"([{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"2"}],"tools":[{"type":"function",)"
      R"("function":{"name":"f","description":"d","parameters":{"type":"object"}}}],)"
      R"("stop":"END","response_format":{"type":"json_object"},"stream":true})";
  TranslateError error;
  const auto from_text = translate(body, error);
  ASSERT_TRUE(from_text.has_value()) << error.message;
  const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
  ASSERT_TRUE(typed);
  const auto from_typed = translator().request_from(*typed, spec());
  ASSERT_TRUE(from_typed);
  EXPECT_EQ(from_typed->body, from_text->body);
  EXPECT_EQ(from_typed->target, from_text->target);
  EXPECT_TRUE(from_typed->stream);
  const json::value doc = json::parse(from_typed->body);
  EXPECT_EQ(doc.at("messages").at(1).at("images").at(0), "AAAA");
  EXPECT_EQ(doc.at("messages").at(2).at("tool_calls").at(0).at("function").at("arguments"),
            json::parse(R"({"x":1})"));
  EXPECT_EQ(doc.at("messages").at(3).at("tool_name"), "f");
  EXPECT_EQ(doc.at("options").at("stop"), json::parse(R"(["END"])"));
  EXPECT_EQ(doc.at("format"), "json");
}

TEST(OllamaRequestTest, DeeplyNestedToolParametersAreKeptWhole) {
  // Nested deeper than Boost.JSON's default limit (32) but within the gateway's (128): the
  // parameters read from their bytes must be the client's, not dropped.
  std::string schema;
  for (int i = 0; i < 40; ++i) {
    schema += R"({"type":"object","properties":{"p":)";
  }
  schema += R"({"type":"string"})";
  for (int i = 0; i < 40; ++i) {
    schema += "}}";
  }
  const std::string body = R"({"messages":[{"role":"user","content":"a"}],"tools":[{"type":)"
                           R"("function","function":{"name":"f","parameters":)" +
                           schema + "}}]}";
  const Result<ChatRequest, ParseError> typed = parse_chat_request(body, SIZE_MAX, false);
  ASSERT_TRUE(typed) << typed.error().message;
  const auto req = translator().request_from(*typed, spec());
  ASSERT_TRUE(req) << req.error().message;
  json::parse_options deep;
  deep.max_depth = 128;
  const json::value doc = json::parse(req->body, {}, deep);
  EXPECT_EQ(doc.at("tools").at(0).at("function").at("parameters"), json::parse(schema, {}, deep));
}

// A key repeated in a part, a tool call or a tool counts with its last value alone, as a DOM
// reads the body: the members of an earlier `function` or `image_url` do not carry over.
TEST(OllamaRequestTest, ARepeatedNestedObjectCountsAsItsLastOccurrence) {
  TranslateError error;
  const auto req = translate(
      R"({"messages":[{"role":"user","content":[{"type":"image_url",)"
      R"("image_url":{"url":"data:image/png;base64,AAAA"},"image_url":{"detail":"low"}}]}]})",
      error);
  EXPECT_FALSE(req.has_value());
  EXPECT_EQ(error.message, "image_url part without a url");

  const auto calls = translate(
      R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":null,)"
      R"("tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"},)"
      R"("function":{"name":"g"}}]},{"role":"tool","tool_call_id":"c1","content":"1"}],)"
      R"("tools":[{"type":"function","function":{"name":"f","description":"d",)"
      R"("parameters":{"type":"object"}},"function":{"name":"g"}}]})",
      error);
  ASSERT_TRUE(calls.has_value()) << error.message;
  const json::value doc = json::parse(calls->body);
  EXPECT_EQ(doc.at("messages").at(1).at("tool_calls").at(0).at("function"),
            json::parse(R"({"name":"g","arguments":{}})"));
  EXPECT_EQ(doc.at("messages").at(2).at("tool_name"), "g");
  EXPECT_EQ(doc.at("tools").at(0).at("function"), json::parse(R"({"name":"g"})"));
}

TEST(OllamaRequestTest, ANullAfterANestedObjectDropsIt) {
  TranslateError error;
  EXPECT_FALSE(translate(R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c1",)"
                         R"("type":"function","function":{"name":"f"},"function":null}]}]})",
                         error)
                   .has_value());
  EXPECT_EQ(error.message, "assistant tool call without a function name");
  EXPECT_FALSE(translate(R"({"messages":[{"role":"user","content":"a"}],"tools":[{"type":)"
                         R"("function","function":{"name":"f"},"function":null}]})",
                         error)
                   .has_value());
  EXPECT_EQ(error.message, "tool function without a name");
  EXPECT_FALSE(
      translate(R"({"messages":[{"role":"user","content":[{"type":"image_url",)"
                R"("image_url":{"url":"data:image/png;base64,AAAA"},"image_url":null}]}]})",
                error)
          .has_value());
  EXPECT_EQ(error.message, "image_url part without a url");
}

// A text part's text is its `text`, a refusal part's its `refusal`, whatever else it holds and
// in whichever order.
TEST(OllamaRequestTest, TextAndRefusalPartsReadTheMemberTheirTypeNames) {
  TranslateError error;
  const auto req = translate(
      R"({"messages":[{"role":"assistant","content":[{"type":"text","text":"a","refusal":"b"},)"
      R"({"type":"refusal","refusal":"c","text":"d"},{"type":"text","refusal":"e"},)"
      R"({"refusal":"f","text":"g","type":"text"},{"type":"refusal","text":"h"}]}]})",
      error);
  ASSERT_TRUE(req.has_value()) << error.message;
  EXPECT_EQ(json::parse(req->body).at("messages").at(0).at("content"), "a\nc\n\ng\n");
}

TEST(OllamaRequestTest, ToolResultWithoutAKnownCallHasNoToolName) {
  TranslateError error;
  const auto req = translate(R"({"messages":[{"role":"user","content":"a"},)"
                             R"({"role":"tool","tool_call_id":"call_x","content":"1"}]})",
                             error);
  ASSERT_TRUE(req.has_value()) << error.message;
  const json::value doc = json::parse(req->body);
  const json::object& tool = doc.at("messages").at(1).as_object();
  EXPECT_EQ(tool.at("role"), "tool");
  EXPECT_EQ(tool.at("content"), "1");
  EXPECT_FALSE(tool.contains("tool_name"));
}

TEST(OllamaRequestTest, MissingModelIsAServerError) {
  BackendSpec s = spec();
  s.model.clear();
  TranslateError error;
  EXPECT_FALSE(translate(R"({"messages":[]})", error, s).has_value());
  EXPECT_EQ(error.status, 500u);
}

struct RejectCase {
  std::string name;
  std::string body;
  std::string message_part;
};

class OllamaRequestRejectTest : public testing::TestWithParam<RejectCase> {};

TEST_P(OllamaRequestRejectTest, AnswersBadRequest) {
  TranslateError error;
  EXPECT_FALSE(translate(GetParam().body, error).has_value());
  EXPECT_EQ(error.status, 400u);
  EXPECT_NE(error.message.find(GetParam().message_part), std::string::npos) << error.message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OllamaRequestRejectTest,
    testing::Values(
        RejectCase{"RemoteImageUrl",
                   R"({"messages":[{"role":"user","content":[{"type":"image_url",)"
                   R"("image_url":{"url":"https://example.com/cat.png"}}]}]})",
                   "remote URLs"},
        RejectCase{"NonBase64DataUrl",
                   R"({"messages":[{"role":"user","content":[{"type":"image_url",)"
                   R"("image_url":{"url":"data:image/png,abc"}}]}]})",
                   "base64"},
        RejectCase{"ImageInAssistantMessage",
                   R"({"messages":[{"role":"assistant","content":[{"type":"image_url",)"
                   R"("image_url":{"url":"data:image/png;base64,AA=="}}]}]})",
                   "image_url"},
        RejectCase{"AudioPart",
                   R"({"messages":[{"role":"user","content":[{"type":"input_audio",)"
                   R"("input_audio":{"data":"AA==","format":"wav"}}]}]})",
                   "input_audio"},
        RejectCase{"ToolChoiceRequired",
                   R"({"messages":[{"role":"user","content":"a"}],"tool_choice":"required",)"
                   R"("tools":[{"type":"function","function":{"name":"f"}}]})",
                   "force a tool call"},
        RejectCase{"NamedToolChoice",
                   R"({"messages":[{"role":"user","content":"a"}],"tool_choice":)"
                   R"({"type":"function","function":{"name":"f"}},)"
                   R"("tools":[{"type":"function","function":{"name":"f"}}]})",
                   "force a tool call"},
        RejectCase{"NonFunctionTool",
                   R"({"messages":[{"role":"user","content":"a"}],)"
                   R"("tools":[{"type":"web_search"}]})",
                   "function tools"},
        RejectCase{"ArgumentsNotAnObject",
                   R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c",)"
                   R"("type":"function","function":{"name":"f","arguments":"[1]"}}]}]})",
                   "JSON object"},
        RejectCase{"SeveralChoices", R"({"messages":[{"role":"user","content":"a"}],"n":2})",
                   "one choice"},
        RejectCase{"UnknownRole", R"({"messages":[{"role":"narrator","content":"a"}]})",
                   "narrator"},
        RejectCase{"UnknownResponseFormat",
                   R"({"messages":[{"role":"user","content":"a"}],)"
                   R"("response_format":{"type":"grammar"}})",
                   "grammar"},
        RejectCase{"MessagesNotAnArray", R"({"messages":"hi"})", "messages"},
        // A member of the wrong type is refused as OpenAI refuses it, naming the member.
        RejectCase{"MistypedTemperature",
                   R"({"messages":[{"role":"user","content":"a"}],"temperature":"hot"})",
                   "Invalid type for 'temperature'"},
        RejectCase{"MistypedContent", R"({"messages":[{"role":"user","content":5}]})",
                   "Invalid type for 'messages[0].content'"},
        RejectCase{"LegacyFunctionCallForced",
                   R"({"messages":[{"role":"user","content":"a"}],"function_call":{"name":"f"},)"
                   R"("functions":[{"name":"f"}]})",
                   "force a tool call"}),
    [](const testing::TestParamInfo<RejectCase>& p) { return p.param.name; });

// ---- non-stream responses --------------------------------------------------------------------

class OllamaResponseFixtureTest : public testing::TestWithParam<std::string> {};

TEST_P(OllamaResponseFixtureTest, TranslatesToTheGoldenOpenAiBody) {
  const std::string name = GetParam();
  const TranslatedResponse r = translator().response(
      200, "application/json", read_fixture("ollama/response/" + name + ".ollama.json"), "chat");
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.retryable);
  EXPECT_EQ(json::parse(r.body),
            json::parse(read_fixture("ollama/response/" + name + ".openai.json")))
      << r.body;
}

INSTANTIATE_TEST_SUITE_P(Golden, OllamaResponseFixtureTest,
                         testing::Values("text", "tool_calls", "length"));

TEST(OllamaResponseTest, ReportsUsageFromEvalCounts) {
  const TranslatedResponse r = translator().response(
      200, "application/json", read_fixture("ollama/response/tool_calls.ollama.json"), "chat");
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->input, 122);
  EXPECT_EQ(r.usage->output, 33);
  EXPECT_EQ(r.usage->cached_input, 0);
}

TEST(OllamaResponseTest, MissingCreatedAtAndModelUseTheInjectedValues) {
  const TranslatedResponse r = translator().response(
      200, "application/json",
      R"({"message":{"role":"assistant","content":"hi"},"done":true,"created_at":"yesterday"})",
      "chat-alias");
  ASSERT_EQ(r.status, 200u);
  const json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("created"), json::value(kCreated));
  EXPECT_EQ(v.at("model"), "chat-alias");
  EXPECT_EQ(v.at("id"), json::value(kId));
}

TEST(OllamaResponseTest, UnreadableSuccessIsABadGateway) {
  for (const std::string_view body : {"not json", "[1,2]", R"({"done":true})"}) {
    const TranslatedResponse r = translator().response(200, "application/json", body, "chat");
    EXPECT_EQ(r.status, 502u) << body;
    EXPECT_TRUE(r.retryable);
    EXPECT_EQ(json::parse(r.body).at("error").at("type"), "api_error");
  }
}

TEST(OllamaResponseTest, ErrorInsideASuccessIsAServerError) {
  const TranslatedResponse r =
      translator().response(200, "application/json", R"({"error":"runner crashed"})", "chat");
  EXPECT_EQ(r.status, 500u);
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(json::parse(r.body).at("error").at("message"), "runner crashed");
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
};

class OllamaErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(OllamaErrorTest, MapsToAnOpenAiErrorWithTheTrueStatus) {
  const ErrorCase& c = GetParam();
  const TranslatedResponse r = translator().response(c.status, "application/json", c.body, "m");
  EXPECT_EQ(r.status, c.status);
  EXPECT_EQ(r.retryable, c.retryable);
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
    Cases, OllamaErrorTest,
    testing::Values(ErrorCase{"ModelNotFound404", 404,
                              R"({"error":"model \"llama9\" not found, try pulling it first"})",
                              "invalid_request_error", "model_not_found",
                              "model \"llama9\" not found, try pulling it first", false},
                    ErrorCase{"BadRequest400", 400, R"({"error":"invalid options: num_predict"})",
                              "invalid_request_error", std::nullopt, "invalid options: num_predict",
                              false},
                    ErrorCase{"Unauthorized401", 401, R"({"error":"unauthorized"})",
                              "authentication_error", std::nullopt, "unauthorized", false},
                    ErrorCase{"TooManyRequests429", 429,
                              R"({"error":"server busy, please try again."})", "rate_limit_error",
                              "rate_limit_exceeded", "server busy, please try again.", true},
                    ErrorCase{"Internal500", 500,
                              R"({"error":"llama runner process has terminated: exit status 2"})",
                              "api_error", "upstream_error",
                              "llama runner process has terminated: exit status 2", true},
                    ErrorCase{"Overloaded503", 503, R"({"error":"server overloaded"})", "api_error",
                              "upstream_error", "server overloaded", true},
                    ErrorCase{"HtmlFromAProxy502", 502, "<html><body>Bad Gateway</body></html>",
                              "api_error", "upstream_error", "Ollama returned HTTP 502", true}),
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

class OllamaStreamFixtureTest : public testing::TestWithParam<StreamCase> {};

TEST_P(OllamaStreamFixtureTest, TranslatesToTheGoldenChunks) {
  const StreamCase& c = GetParam();
  const StreamRun run = run_stream(read_fixture("ollama/stream/" + c.upstream), c.include_usage);
  EXPECT_TRUE(run.fed);
  EXPECT_TRUE(run.finished);
  EXPECT_FALSE(run.st->error().has_value());
  EXPECT_EQ(run.out, read_fixture("ollama/stream/" + c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Golden, OllamaStreamFixtureTest,
    testing::Values(StreamCase{"text.ollama.ndjson", "text.openai.sse", true},
                    StreamCase{"text.ollama.ndjson", "text.without_usage.openai.sse", false},
                    StreamCase{"tool_calls.ollama.ndjson", "tool_calls.openai.sse", true}));

TEST(OllamaStreamTest, EveryByteSplitGivesTheSameChunks) {
  const std::string upstream = read_fixture("ollama/stream/tool_calls.ollama.ndjson");
  const std::string expected = read_fixture("ollama/stream/tool_calls.openai.sse");
  for (std::size_t i = 0; i <= upstream.size(); ++i) {
    const StreamRun run = run_stream(upstream, true, {i});
    ASSERT_TRUE(run.fed && run.finished) << "split at " << i;
    ASSERT_EQ(run.out, expected) << "split at " << i;
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < upstream.size(); ++i) {
    every.push_back(i);
  }
  EXPECT_EQ(run_stream(upstream, true, every).out, expected);
}

TEST(OllamaStreamTest, RecordsUsageEvenWithoutTheUsageChunk) {
  const StreamRun run = run_stream(read_fixture("ollama/stream/text.ollama.ndjson"), false);
  ASSERT_TRUE(run.st->usage().has_value());
  EXPECT_EQ(run.st->usage()->input, 7);
  EXPECT_EQ(run.st->usage()->output, 3);
}

TEST(OllamaStreamTest, StreamEndedBeforeDoneIsTruncated) {
  const StreamRun run = run_stream(read_fixture("ollama/stream/truncated.ollama.ndjson"), false);
  EXPECT_TRUE(run.fed);
  EXPECT_FALSE(run.finished);
  EXPECT_EQ(run.out, read_fixture("ollama/stream/truncated.openai.sse"));
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 502u);
  EXPECT_FALSE(run_stream("", false).finished);
}

TEST(OllamaStreamTest, FinalLineWithoutNewlineStillCompletes) {
  std::string upstream = read_fixture("ollama/stream/text.ollama.ndjson");
  ASSERT_EQ(upstream.back(), '\n');
  upstream.pop_back();
  const StreamRun run = run_stream(upstream, true);
  EXPECT_TRUE(run.finished);
  EXPECT_EQ(run.out, read_fixture("ollama/stream/text.openai.sse"));
}

TEST(OllamaStreamTest, LineCutMidwayAppendsNothingAtFinish) {
  std::string upstream = read_fixture("ollama/stream/text.ollama.ndjson");
  upstream.resize(upstream.rfind("\"done\":true"));
  StreamRun run;
  run.st = translator().stream(true, "chat");
  EXPECT_TRUE(run.st->feed(upstream, run.out));
  const std::string fed = run.out;
  EXPECT_FALSE(run.st->finish(run.out));
  EXPECT_EQ(run.out, fed);
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 502u);
}

TEST(OllamaStreamTest, CrlfLinesAndBlankLinesAreAccepted) {
  const StreamRun run = run_stream(
      "\r\n{\"model\":\"m\",\"message\":{\"content\":\"A\"},\"done\":false}\r\n\r\n"
      "{\"model\":\"m\",\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"length\"}"
      "\r\n",
      false);
  EXPECT_TRUE(run.finished);
  EXPECT_NE(run.out.find(R"("delta":{"content":"A"})"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"("finish_reason":"length")"), std::string::npos);
  EXPECT_TRUE(run.out.ends_with("data: [DONE]\n\n"));
}

TEST(OllamaStreamTest, BytesAfterTheFinalLineAreIgnored) {
  std::string upstream = read_fixture("ollama/stream/text.ollama.ndjson");
  upstream += "{\"model\":\"m\",\"message\":{\"content\":\"late\"},\"done\":false}\n";
  const StreamRun run = run_stream(upstream, true);
  EXPECT_TRUE(run.fed && run.finished);
  EXPECT_EQ(run.out, read_fixture("ollama/stream/text.openai.sse"));
}

TEST(OllamaStreamTest, InStreamErrorBecomesAnErrorEvent) {
  StreamRun run;
  run.st = translator().stream(false, "chat");
  EXPECT_TRUE(
      run.st->feed("{\"model\":\"m\",\"message\":{\"content\":\"Hi\"},\"done\":false}\n", run.out));
  const std::size_t before = run.out.size();
  EXPECT_FALSE(
      run.st->feed("{\"error\":\"an error was encountered while running the model\"}\n", run.out));
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 500u);
  EXPECT_EQ(run.out.substr(before),
            "data: {\"error\":{\"message\":\"an error was encountered while running the model\","
            "\"type\":\"api_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n");
  EXPECT_FALSE(run.st->finish(run.out));
  EXPECT_EQ(run.out.find("[DONE]"), std::string::npos);
}

TEST(OllamaStreamTest, LineThatIsNotJsonIsABadGateway) {
  StreamRun run;
  run.st = translator().stream(false, "chat");
  EXPECT_FALSE(run.st->feed("{oops\n", run.out));
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 502u);
  EXPECT_EQ(json::parse(run.out.substr(6)).at("error").at("type"), "api_error");
}

TEST(OllamaStreamTest, OverlongLineIsRejectedWithoutBufferingItAll) {
  StreamRun run;
  run.st = translator().stream(false, "chat");
  const std::string piece(256 * 1024, 'x');
  bool ok = true;
  int fed = 0;
  while (ok && fed < 16) {
    ok = run.st->feed(piece, run.out);
    ++fed;
  }
  EXPECT_FALSE(ok);
  EXPECT_LE(fed, 5);
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 502u);
}

// ---- timestamps ------------------------------------------------------------------------------

TEST(Rfc3339Test, ParsesUtcAndOffsetsToUnixSeconds) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), std::optional<std::int64_t>(0));
  EXPECT_EQ(parse_rfc3339("2024-07-22T20:33:28.123648Z"), std::optional<std::int64_t>(1721680408));
  EXPECT_EQ(parse_rfc3339("2023-08-04T08:52:19.385406455-07:00"),
            std::optional<std::int64_t>(1691164339));
  EXPECT_EQ(parse_rfc3339("2024-02-29T01:00:00+01:00"), std::optional<std::int64_t>(1709164800));
}

TEST(Rfc3339Test, RejectsMalformedTimestamps) {
  for (const std::string_view s :
       {"", "2024-07-22", "2024-07-22T20:33:28", "2024-13-01T00:00:00Z", "2024-07-22T20:33:28.Z",
        "2024-07-22T20:33:28Zjunk", "2024-07-22T20:33:28+0100"}) {
    EXPECT_FALSE(parse_rfc3339(s).has_value()) << s;
  }
}

}  // namespace
}  // namespace sb::adapters
