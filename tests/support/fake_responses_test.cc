// The fake upstream's OpenAI Responses API over real HTTP (POST .../responses, stream and
// non-stream, and Azure's /openai/v1/responses): the Response object, the event sequence, tool
// calls and tool outputs, max_output_tokens, and OpenAI's errors.

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

struct SseEvent {
  std::string name;
  json::value data;
  std::string raw;  ///< the data line's JSON as sent
};

/// `event: NAME\ndata: JSON\n\n` events, one per chunked frame, checking the framing of each.
std::vector<SseEvent> named_events(const Reply& reply) {
  std::vector<SseEvent> out;
  for (const auto& frame : reply.frames) {
    EXPECT_TRUE(frame.starts_with("event: ") && frame.ends_with("\n\n")) << frame;
    std::size_t nl = frame.find('\n');
    EXPECT_EQ(frame.substr(nl + 1, 6), "data: ") << frame;
    std::string raw = frame.substr(nl + 7, frame.size() - nl - 9);
    out.push_back({frame.substr(7, nl - 7), json::parse(raw), raw});
  }
  return out;
}

std::vector<std::string> keys(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& member : v.as_object()) {
    out.emplace_back(member.key());
  }
  return out;
}

std::string with_stream(std::string body) {
  body.insert(1, R"("stream":true,)");
  return body;
}

const std::string kText = R"({"model":"gpt-5.2","instructions":"Be terse.","input":"hi there"})";
const std::string kTool =
    R"({"model":"gpt-5.2","tools":[{"type":"function","name":"lookup",)"
    R"("parameters":{"type":"object"}}],"input":[{"role":"user","content":"hi there"}]})";

// The Response object's members, in the order api.openai.com writes them.
// clang-format off
const std::vector<std::string> kResponseMembers = {
    "id", "object", "created_at", "status", "background", "completed_at", "error",
    "frequency_penalty", "incomplete_details", "instructions", "max_output_tokens",
    "max_tool_calls", "model", "output", "parallel_tool_calls", "presence_penalty",
    "previous_response_id", "prompt_cache_key", "prompt_cache_retention", "reasoning",
    "safety_identifier", "service_tier", "store", "temperature", "text", "tool_choice", "tools",
    "top_logprobs", "top_p", "truncation", "usage", "user", "metadata"};
// clang-format on

TEST(FakeResponsesTest, AnswersAResponseObjectInOpenAisMemberOrder) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post("/v1/responses", kText));
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.header("Content-Type"), "application/json");
  EXPECT_TRUE(reply.header("x-request-id").starts_with("req_"));
  json::value v = reply.json_body();
  EXPECT_EQ(keys(v), kResponseMembers);
  EXPECT_TRUE(v.at("id").as_string().starts_with("resp_"));
  EXPECT_EQ(v.at("id").as_string().size(), 55u);
  EXPECT_EQ(v.at("object"), "response");
  EXPECT_EQ(v.at("status"), "completed");
  EXPECT_EQ(v.at("model"), "gpt-5.2");
  EXPECT_EQ(v.at("instructions"), "Be terse.");
  EXPECT_TRUE(v.at("incomplete_details").is_null());
  const auto& item = v.at("output").at(0);
  EXPECT_EQ(keys(item), (std::vector<std::string>{"id", "type", "status", "content", "role"}));
  EXPECT_TRUE(item.at("id").as_string().starts_with("msg_"));
  EXPECT_EQ(item.at("status"), "completed");
  EXPECT_EQ(item.at("content"),
            json::parse(R"([{"type":"output_text","annotations":[],"logprobs":[],)"
                        R"("text":"Hello from alpha: hi there"}])"));
  // instructions 2 words + 3, the input 2 words + 3; the reply is 5 words.
  EXPECT_EQ(v.at("usage"),
            json::parse(R"({"input_tokens":10,"input_tokens_details":{"cached_tokens":0},)"
                        R"("output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},)"
                        R"("total_tokens":15})"));
  EXPECT_EQ(v.at("text"), json::parse(R"({"format":{"type":"text"},"verbosity":"medium"})"));
  EXPECT_EQ(v.at("service_tier"), "default");
  // Pretty-printed, floats as Python writes them.
  EXPECT_TRUE(reply.body.starts_with("{\n  \"id\": \"resp_")) << reply.body;
  EXPECT_NE(reply.body.find("\n  \"temperature\": 1.0,\n"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("\n  \"top_p\": 1.0,\n"), std::string::npos);
}

TEST(FakeResponsesTest, EchoesTheRequestsSettings) {
  FakeUpstream fake(named("alpha"));
  Reply reply =
      send(fake, post("/v1/responses",
                      R"({"model":"m","input":"x","store":false,"temperature":0.5,)"
                      R"("reasoning":{"effort":"low"},"prompt_cache_key":"k","metadata":{"a":"b"},)"
                      R"("text":{"format":{"type":"json_schema","name":"s","schema":{}}},)"
                      R"("tool_choice":"required","parallel_tool_calls":false})"));
  json::value v = reply.json_body();
  EXPECT_EQ(v.at("store"), false);
  EXPECT_EQ(v.at("temperature"), 0.5);
  EXPECT_EQ(v.at("reasoning"), json::parse(R"({"effort":"low","summary":null})"));
  EXPECT_EQ(v.at("prompt_cache_key"), "k");
  EXPECT_EQ(v.at("metadata"), json::parse(R"({"a":"b"})"));
  EXPECT_EQ(v.at("text").at("format").at("type"), "json_schema");
  EXPECT_EQ(v.at("tool_choice"), "required");
  EXPECT_EQ(v.at("parallel_tool_calls"), false);
}

const std::vector<std::string> kTextEvents = {
    "response.created",           "response.in_progress",
    "response.output_item.added", "response.content_part.added",
    "response.output_text.delta", "response.output_text.delta",
    "response.output_text.delta", "response.output_text.delta",
    "response.output_text.delta", "response.output_text.done",
    "response.content_part.done", "response.output_item.done",
    "response.completed"};

TEST(FakeResponsesTest, StreamsTheDocumentedEventSequence) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post("/v1/responses", with_stream(kText)));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.header("Content-Type"), "text/event-stream; charset=utf-8");
  std::vector<SseEvent> events = named_events(reply);
  std::vector<std::string> names;
  std::string text;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    names.push_back(e.name);
    EXPECT_EQ(e.data.at("type").as_string(), e.name);
    EXPECT_TRUE(e.raw.starts_with("{\"type\":")) << e.raw;
    EXPECT_EQ(e.data.at("sequence_number"), static_cast<std::int64_t>(i));
    if (e.name == "response.output_text.delta") {
      EXPECT_EQ(keys(e.data),
                (std::vector<std::string>{"type", "content_index", "delta", "item_id", "logprobs",
                                          "obfuscation", "output_index", "sequence_number"}));
      std::string delta(e.data.at("delta").as_string());
      EXPECT_EQ(delta.size() + e.data.at("obfuscation").as_string().size(), 16u);
      text += delta;
    }
  }
  ASSERT_EQ(names, kTextEvents);
  EXPECT_EQ(text, "Hello from alpha: hi there");
  const auto& created = events[0].data.at("response");
  EXPECT_EQ(keys(created), kResponseMembers);
  EXPECT_EQ(created.at("status"), "in_progress");
  EXPECT_TRUE(created.at("output").as_array().empty());
  EXPECT_TRUE(created.at("usage").is_null());
  EXPECT_EQ(created.at("service_tier"), "auto");
  const auto& added = events[2].data.at("item");
  EXPECT_EQ(added.at("status"), "in_progress");
  EXPECT_TRUE(added.at("content").as_array().empty());
  std::string item_id(added.at("id").as_string());
  for (std::size_t i = 3; i < 11; ++i) {
    EXPECT_EQ(events[i].data.at("item_id"), item_id.c_str()) << names[i];
  }
  EXPECT_EQ(events[9].data.at("text"), "Hello from alpha: hi there");
  EXPECT_EQ(events[10].data.at("part").at("text"), "Hello from alpha: hi there");
  EXPECT_EQ(events[11].data.at("item").at("status"), "completed");
  const auto& done = events[12].data.at("response");
  EXPECT_EQ(done.at("id"), created.at("id"));
  EXPECT_EQ(done.at("status"), "completed");
  EXPECT_EQ(done.at("output").at(0), events[11].data.at("item"));
  EXPECT_EQ(done.at("usage").at("input_tokens"), 10);
  EXPECT_EQ(done.at("usage").at("output_tokens"), 5);
  EXPECT_EQ(done.at("usage").at("total_tokens"), 15);
  EXPECT_EQ(reply.body.find("[DONE]"), std::string::npos) << "Responses streams send no [DONE]";
}

TEST(FakeResponsesTest, ObfuscationCanBeTurnedOff) {
  FakeUpstream fake(named("alpha"));
  std::string body = with_stream(kText);
  body.insert(1, R"("stream_options":{"include_obfuscation":false},)");
  std::vector<SseEvent> events = named_events(send(fake, post("/v1/responses", body)));
  ASSERT_EQ(events.size(), kTextEvents.size());
  EXPECT_FALSE(events[4].data.as_object().contains("obfuscation"));
  EXPECT_EQ(events[4].data.at("delta"), "Hello");
}

TEST(FakeResponsesTest, DeclaredFunctionIsCalledWithTheUserText) {
  FakeUpstream fake(named("alpha"));
  json::value v = send(fake, post("/v1/responses", kTool)).json_body();
  EXPECT_EQ(v.at("status"), "completed");
  const auto& call = v.at("output").at(0);
  EXPECT_EQ(keys(call),
            (std::vector<std::string>{"id", "type", "status", "arguments", "call_id", "name"}));
  EXPECT_TRUE(call.at("id").as_string().starts_with("fc_"));
  EXPECT_EQ(call.at("type"), "function_call");
  EXPECT_TRUE(call.at("call_id").as_string().starts_with("call_"));
  EXPECT_EQ(call.at("name"), "lookup");
  EXPECT_EQ(json::parse(call.at("arguments").as_string()), json::parse(R"({"query":"hi there"})"));
  EXPECT_EQ(v.at("tools"), json::parse(R"([{"type":"function","description":null,"name":"lookup",)"
                                       R"("parameters":{"type":"object"},"strict":true}])"));
}

TEST(FakeResponsesTest, StreamsFunctionCallArgumentsInFragments) {
  FakeUpstream fake(named("alpha"));
  std::vector<SseEvent> events =
      named_events(send(fake, post("/v1/responses", with_stream(kTool))));
  ASSERT_GE(events.size(), 8u);
  EXPECT_EQ(events[2].name, "response.output_item.added");
  const auto& added = events[2].data.at("item");
  EXPECT_EQ(added.at("type"), "function_call");
  EXPECT_EQ(added.at("status"), "in_progress");
  EXPECT_EQ(added.at("arguments"), "");
  std::string arguments;
  std::size_t fragments = 0;
  std::size_t i = 3;
  for (; i < events.size() && events[i].name == "response.function_call_arguments.delta"; ++i) {
    EXPECT_EQ(events[i].data.at("item_id"), added.at("id"));
    arguments += std::string(events[i].data.at("delta").as_string());
    ++fragments;
  }
  EXPECT_GE(fragments, 2u);
  EXPECT_EQ(json::parse(arguments), json::parse(R"({"query":"hi there"})"));
  ASSERT_EQ(events.size(), i + 3);
  EXPECT_EQ(events[i].name, "response.function_call_arguments.done");
  EXPECT_EQ(events[i].data.at("arguments").as_string(), arguments);
  EXPECT_EQ(keys(events[i].data), (std::vector<std::string>{"type", "arguments", "item_id",
                                                            "output_index", "sequence_number"}));
  EXPECT_EQ(events[i + 1].name, "response.output_item.done");
  EXPECT_EQ(events[i + 1].data.at("item").at("arguments").as_string(), arguments);
  EXPECT_EQ(events[i + 1].data.at("item").at("call_id"), added.at("call_id"));
  EXPECT_EQ(events[i + 2].name, "response.completed");
  EXPECT_EQ(events[i + 2].data.at("response").at("output").at(0).at("type"), "function_call");
}

TEST(FakeResponsesTest, FunctionCallOutputIsReportedBack) {
  FakeUpstream fake(named("alpha"));
  const std::string round_trip =
      R"({"model":"m","tools":[{"type":"function","name":"lookup"}],"input":[)"
      R"({"role":"user","content":[{"type":"input_text","text":"q"}]},)"
      R"({"type":"function_call","call_id":"call_1","name":"lookup","arguments":"{}"},)"
      R"({"type":"function_call_output","call_id":"call_1","output":"42 apples"}]})";
  json::value v = send(fake, post("/v1/responses", round_trip)).json_body();
  EXPECT_EQ(v.at("output").at(0).at("type"), "message");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), "Tool said: 42 apples");

  std::vector<SseEvent> events =
      named_events(send(fake, post("/v1/responses", with_stream(round_trip))));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().data.at("response").at("output").at(0).at("content").at(0).at("text"),
            "Tool said: 42 apples");
}

TEST(FakeResponsesTest, MaxOutputTokensCutsTheReplyAsIncomplete) {
  FakeUpstream fake(named("alpha"));
  const std::string cut = R"({"model":"m","max_output_tokens":3,"input":"hi there"})";
  json::value v = send(fake, post("/v1/responses", cut)).json_body();
  EXPECT_EQ(v.at("status"), "incomplete");
  EXPECT_EQ(v.at("incomplete_details"), json::parse(R"({"reason":"max_output_tokens"})"));
  EXPECT_EQ(v.at("max_output_tokens"), 3);
  EXPECT_EQ(v.at("output").at(0).at("status"), "incomplete");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), "Hello from alpha:");
  EXPECT_EQ(v.at("usage").at("output_tokens"), 3);

  std::vector<SseEvent> events = named_events(send(fake, post("/v1/responses", with_stream(cut))));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().name, "response.incomplete");
  EXPECT_EQ(events.back().data.at("response").at("status"), "incomplete");
  EXPECT_EQ(events[events.size() - 2].data.at("item").at("status"), "incomplete");
}

TEST(FakeResponsesTest, SystemAndDeveloperMessagesArePromptNotTheUsersWords) {
  FakeUpstream fake(named("alpha"));
  json::value v =
      send(fake, post("/v1/responses",
                      R"({"model":"m","input":[{"role":"developer","content":"Be brief."},)"
                      R"({"type":"message","role":"user","content":"hi"},)"
                      R"({"role":"assistant","content":[{"type":"output_text","text":"yo"}]},)"
                      R"({"role":"system","content":"one two three"},)"
                      R"({"role":"user","content":"again"}]})"))
          .json_body();
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), "Hello from alpha: again");
  EXPECT_EQ(v.at("usage").at("input_tokens"), 5 + 4 + 4 + 6 + 4);
}

TEST(FakeResponsesTest, ReportedTokenCountsOverrideTheWordCounts) {
  FakeUpstreamOptions options = named("alpha");
  options.report_prompt_tokens = 100;
  options.report_completion_tokens = 50;
  FakeUpstream fake(options);
  json::value v = send(fake, post("/v1/responses", kText)).json_body();
  EXPECT_EQ(v.at("usage").at("input_tokens"), 100);
  EXPECT_EQ(v.at("usage").at("output_tokens"), 50);
  EXPECT_EQ(v.at("usage").at("total_tokens"), 150);
  json::value capped =
      send(fake, post("/v1/responses", R"({"model":"m","input":"x","max_output_tokens":20})"))
          .json_body();
  EXPECT_EQ(capped.at("usage").at("output_tokens"), 20);
  EXPECT_EQ(capped.at("status"), "completed") << "the text is not cut by the reported count";
}

struct BadRequest {
  std::string body;
  std::string message;
  std::string param;  ///< empty: null
  std::string code;   ///< empty: null
};

TEST(FakeResponsesTest, BadRequestsGetOpenAisErrors) {
  FakeUpstream fake;
  const std::vector<BadRequest> cases = {
      {R"({"model":)", "", "", ""},
      {R"({"input":"x"})", "Missing required parameter: 'model'.", "model",
       "missing_required_parameter"},
      {R"({"model":"m"})", "Missing required parameter: 'input'.", "input",
       "missing_required_parameter"},
      {R"({"model":"m","input":7})",
       "Invalid type for 'input': expected one of a string or array of input items, but got an "
       "integer instead.",
       "input", "invalid_type"},
      {R"({"model":"m","input":["x"]})",
       "Invalid type for 'input[0]': expected an input item, but got a string instead.", "input[0]",
       "invalid_type"},
      {R"({"model":"m","input":[{"role":"tool","content":"x"}]})",
       "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and "
       "'user'.",
       "input[0].role", "invalid_value"},
      {R"({"model":"m","input":[{"role":"user"}]})",
       "Missing required parameter: 'input[0].content'.", "input[0].content",
       "missing_required_parameter"},
      {R"({"model":"m","input":[{"role":"user","content":"a"},{"role":"assistant","content":)"
       R"([{"type":"input_text","text":"b"}]}]})",
       "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
       "input[1].content[0]", "invalid_value"},
      {R"({"model":"m","input":[{"type":"function_call_output","call_id":"c9","output":"x"}]})",
       "No tool call found for function call output with call_id c9.", "input", ""},
      {R"({"model":"m","input":"x","tools":[{"type":"function","function":{"name":"f"}}]})",
       "Missing required parameter: 'tools[0].name'.", "tools[0].name",
       "missing_required_parameter"},
      {R"({"model":"m","input":"x","previous_response_id":"resp_123"})",
       "Previous response with id 'resp_123' not found.", "previous_response_id",
       "previous_response_not_found"},
  };
  for (const auto& c : cases) {
    Reply reply = send(fake, post("/v1/responses", c.body));
    ASSERT_FALSE(reply.ec);
    EXPECT_EQ(reply.status(), 400u) << c.body;
    json::value error = reply.json_body().at("error");
    EXPECT_EQ(error.at("type"), "invalid_request_error") << c.body;
    if (c.message.empty()) {
      EXPECT_TRUE(error.at("message").as_string().starts_with("We could not parse the JSON"));
      continue;
    }
    EXPECT_EQ(error.at("message").as_string(), c.message) << c.body;
    EXPECT_EQ(error.at("param"), c.param.empty() ? json::value(nullptr) : json::value(c.param));
    EXPECT_EQ(error.at("code"), c.code.empty() ? json::value(nullptr) : json::value(c.code));
  }
}

TEST(FakeResponsesTest, FakeStatusAnswersOpenAisErrorShape) {
  FakeUpstream fake;
  Reply limited = send(fake, post("/v1/responses", kText, {{"x-fake-status", "429"}}));
  EXPECT_EQ(limited.status(), 429u);
  EXPECT_EQ(limited.json_body().at("error").at("code"), "rate_limit_exceeded");
  EXPECT_EQ(limited.header("retry-after"), "1");
  Reply broken = send(fake, post("/v1/responses", kText, {{"x-fake-status", "500"}}));
  EXPECT_EQ(broken.status(), 500u);
  EXPECT_EQ(broken.json_body().at("error").at("type"), "server_error");
}

// --- Azure ---

const Headers kAzureKey = {{"api-key", "azure-key"}};

TEST(FakeAzureResponsesTest, V1PathAnswersWithTheDeploymentsModel) {
  FakeUpstream fake(named("alpha"));
  Reply reply = send(fake, post("/openai/v1/responses", kText, kAzureKey));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 200u);
  json::value v = reply.json_body();
  EXPECT_EQ(v.at("model"), "gpt-4o-2024-08-06");
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), "Hello from alpha: hi there");
  EXPECT_FALSE(reply.header("apim-request-id").empty());
  EXPECT_EQ(reply.header("x-request-id"), reply.header("apim-request-id"));

  std::vector<SseEvent> events = named_events(
      send(fake, post("/openai/v1/responses?api-version=preview", with_stream(kText), kAzureKey)));
  ASSERT_EQ(events.size(), kTextEvents.size());
  EXPECT_EQ(events.back().data.at("response").at("model"), "gpt-4o-2024-08-06");
}

TEST(FakeAzureResponsesTest, PreviewPathNeedsTheApiVersionAndEveryPathTheKey) {
  FakeUpstream fake(named("alpha"));
  Reply no_version = send(fake, post("/openai/responses", kText, kAzureKey));
  EXPECT_EQ(no_version.status(), 404u);
  EXPECT_EQ(no_version.body, R"({"error":{"code":"404","message": "Resource not found"}})");
  Reply versioned =
      send(fake, post("/openai/responses?api-version=2025-04-01-preview", kText, kAzureKey));
  EXPECT_EQ(versioned.status(), 200u);
  EXPECT_EQ(versioned.json_body().at("object"), "response");
  Reply no_key = send(fake, post("/openai/v1/responses", kText));
  EXPECT_EQ(no_key.status(), 401u);
  EXPECT_EQ(no_key.json_body().at("error").at("code"), "401");
  Headers limited = kAzureKey;
  limited.emplace_back("x-fake-status", "429");
  Reply throttled = send(fake, post("/openai/v1/responses", kText, limited));
  EXPECT_EQ(throttled.status(), 429u);
  EXPECT_EQ(throttled.json_body().at("error").at("code"), "429");
}

}  // namespace
}  // namespace sb::testing
