#include "adapters/responses_inbound.h"

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/sse.h"
#include "tests/adapters/fixtures.h"
#include "tests/adapters/responses_inbound_test_helpers.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using namespace responses_test;

// ---- request: input --------------------------------------------------------------------------

TEST(ResponsesInboundRequestTest, StringInputAndInstructionsBecomeSystemAndUserMessages) {
  const ResponsesTurn turn =
      turn_of(R"({"model": "gateway-model", "instructions": "Be terse.", "input": "Hello"})");
  EXPECT_EQ(json::parse(turn.chat_body), json::parse(R"({"model": "gateway-model",
    "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hello"}]})"));
  EXPECT_EQ(json::parse(turn.input_messages),
            json::parse(R"([{"role": "user", "content": "Hello"}])"));
  EXPECT_FALSE(turn.stream);
  EXPECT_TRUE(turn.store);
  EXPECT_TRUE(turn.previous_response_id.empty());
}

TEST(ResponsesInboundRequestTest, MessageItemsKeepRolesDeveloperBecomesSystem) {
  const json::value out = translate(R"({"model": "m", "input": [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Rules."}]},
    {"role": "system", "content": "More rules."},
    {"role": "user", "content": [{"type": "input_text", "text": "Look:"},
      {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "high"},
      {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}]},
    {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
     "content": [{"type": "output_text", "text": "A cat.", "annotations": []}]},
    {"role": "user", "content": [{"type": "input_text", "text": "Thanks"}]}]})");
  EXPECT_EQ(out.at("messages"), json::parse(R"([
    {"role": "system", "content": "Rules."},
    {"role": "system", "content": "More rules."},
    {"role": "user", "content": [{"type": "text", "text": "Look:"},
      {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
    {"role": "assistant", "content": "A cat."},
    {"role": "user", "content": "Thanks"}])"));
}

TEST(ResponsesInboundRequestTest, InlineFileBecomesChatFilePart) {
  const json::value out = translate(R"({"model": "m", "input": [{"role": "user", "content": [
    {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
    {"type": "input_text", "text": "Summarize."}]}]})");
  EXPECT_EQ(out.at("messages").at(0).at("content"), json::parse(R"([
    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
    {"type": "text", "text": "Summarize."}])"));
}

TEST(ResponsesInboundRequestTest,
     FunctionCallsJoinTheAssistantMessageAndOutputsBecomeToolMessages) {
  const ResponsesTurn turn = turn_of(R"({"model": "m", "input": [
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
    {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
     "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
    {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "..."}]},
    {"type": "function_call", "call_id": "call_2", "name": "get_weather",
     "arguments": "{\"city\":\"Rome\"}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
    {"type": "function_call_output", "call_id": "call_2",
     "output": [{"type": "input_text", "text": "21C"}, {"type": "input_text", "text": " sunny"}]},
    {"type": "function_call", "call_id": "call_3", "name": "now", "arguments": "{}"}]})");
  EXPECT_EQ(json::parse(turn.input_messages), json::parse(R"([
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": "Checking.", "tool_calls": [
      {"id": "call_1", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_2", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    {"role": "tool", "tool_call_id": "call_2",
     "content": [{"type": "text", "text": "21C"}, {"type": "text", "text": " sunny"}]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_3", "type": "function", "function": {"name": "now", "arguments": "{}"}}]}])"));
}

TEST(ResponsesInboundRequestTest, ImagesFromToolOutputsFollowTheToolMessages) {
  // Codex CLI's view_image answers with an input_image; chat tool messages carry text only.
  const json::value out = translate(R"({"model": "m", "input": [
    {"role": "user", "content": "Look at a.png and b.txt"},
    {"type": "function_call", "call_id": "c1", "name": "view_image", "arguments": "{}"},
    {"type": "function_call", "call_id": "c2", "name": "read", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c1", "output": [
      {"type": "input_text", "text": "a.png:"},
      {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}]},
    {"type": "function_call_output", "call_id": "c2", "output": "hello"},
    {"role": "user", "content": "Describe both."}]})");
  const json::array& m = out.at("messages").as_array();
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[2], json::parse(R"({"role": "tool", "tool_call_id": "c1", "content": "a.png:"})"));
  EXPECT_EQ(m[3], json::parse(R"({"role": "tool", "tool_call_id": "c2", "content": "hello"})"));
  EXPECT_EQ(m[4], json::parse(R"({"role": "user", "content": [{"type": "image_url", "image_url":
    {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]})"));
  EXPECT_EQ(m[5].at("content"), json::value("Describe both."));
}

TEST(ResponsesInboundRequestTest, NamespacedAndCustomToolCallsUseTheFlattenedNames) {
  const json::value out = translate(R"({"model": "m", "input": [
    {"role": "user", "content": "go"},
    {"type": "function_call", "call_id": "c1", "namespace": "crm", "name": "lookup",
     "arguments": "{}"},
    {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin"},
    {"type": "function_call_output", "call_id": "c1", "output": "found"},
    {"type": "custom_tool_call_output", "call_id": "c2", "output": "applied"}]})");
  EXPECT_EQ(out.at("messages"), json::parse(R"([
    {"role": "user", "content": "go"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "c1", "type": "function", "function": {"name": "crm__lookup", "arguments": "{}"}},
      {"id": "c2", "type": "function",
       "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "found"},
    {"role": "tool", "tool_call_id": "c2", "content": "applied"}])"));
}

TEST(ResponsesInboundRequestTest, HistoryComesAfterInstructionsAndBeforeTheInput) {
  const ResponsesTurn turn = turn_of(
      R"({"model": "m", "instructions": "Sys.", "previous_response_id": "resp_abc",
          "store": false, "input": [{"role": "user", "content": "And Rome?"}]})",
      R"([{"role": "user", "content": "Paris?"}, {"role": "assistant", "content": "18C"}])");
  EXPECT_EQ(json::parse(turn.chat_body).at("messages"), json::parse(R"([
    {"role": "system", "content": "Sys."}, {"role": "user", "content": "Paris?"},
    {"role": "assistant", "content": "18C"}, {"role": "user", "content": "And Rome?"}])"));
  EXPECT_EQ(json::parse(turn.input_messages),
            json::parse(R"([{"role": "user", "content": "And Rome?"}])"));
  EXPECT_EQ(turn.previous_response_id, "resp_abc");
  EXPECT_FALSE(turn.store);
  EXPECT_EQ(echo_of(turn).at("store"), json::value(false));
}

// The turn's messages are written once (input_messages) and spliced into the chat body: the body
// is still one well-formed JSON text, written as Boost writes it, with every message in order.
TEST(ResponsesInboundRequestTest, TheChatBodyIsOneJsonTextWithEveryMessageInOrder) {
  const std::string history =
      R"([{"role":"user","content":"Paris?"},{"role":"assistant","content":"18C"}])";
  struct Case {
    std::string_view body;
    std::string_view history;
    std::size_t messages;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"model": "m", "input": "hi"})", "", 1},
           {R"({"model": "m", "instructions": "Sys.", "input": "hi"})", "", 2},
           {R"({"model": "m", "instructions": "", "input": [{"role": "user", "content": "a"},
               {"role": "user", "content": "b\n\"c\""}], "max_output_tokens": 7,
               "tools": [{"type": "function", "name": "f", "parameters": {}}]})",
            history, 4},
           {R"({"model": "m", "instructions": "Sys.", "input": [{"role": "user", "content": "a"}],
               "stream": true, "user": "u"})",
            history, 4},
       }) {
    const ResponsesTurn turn = turn_of(c.body, c.history);
    const json::value chat = json::parse(turn.chat_body);
    EXPECT_EQ(json::serialize(chat), turn.chat_body) << c.body;
    ASSERT_EQ(chat.at("messages").as_array().size(), c.messages) << turn.chat_body;
    EXPECT_EQ(chat.at("messages").as_array().back(),
              json::parse(turn.input_messages).as_array().back());
    EXPECT_EQ(json::serialize(chat.as_object().begin()->key()), "\"model\"");
  }
}

TEST(ResponsesInboundRequestTest, UnreadableHistoryIsRejected) {
  const Rejection r = rejection(R"({"model": "m", "input": "hi"})", "{not json");
  EXPECT_EQ(r.param, "previous_response_id");
  EXPECT_EQ(rejection(R"({"model": "m", "input": "hi"})", "[1]").param, "previous_response_id");
  for (const std::string& history :
       std::vector<std::string>{R"({"role":"user"})", R"([[{"role":"user"}]])", R"(["user"])",
                                R"([{"role":"user"}]x)", R"([{"role":"user"},])", R"("[]")",
                                "[" + std::string(40, '[') + std::string(40, ']') + "]"}) {
    EXPECT_EQ(rejection(R"({"model": "m", "input": "hi"})", history).param, "previous_response_id")
        << history;
  }
}

// The stored conversation is spliced into the chat request as it is, after a read that checks it
// is an array of messages and finds whether one is a turn (its last role not "system", as a DOM
// read it).
TEST(ResponsesInboundRequestTest, StoredHistoryIsSplicedAndItsTurnsFound) {
  const std::string body = R"({"model": "m", "input": []})";
  const std::string pretty = "[\n  {\"role\": \"assistant\", \"content\": \"18C\"}\n]\n";
  const ResponsesTurn turn = turn_of(body, pretty);
  EXPECT_EQ(json::parse(turn.chat_body).at("messages"),
            json::parse(R"([{"role": "assistant", "content": "18C"}])"));
  for (const std::string& turns : std::vector<std::string>{
           R"([{}])",                                               // no role: a turn
           R"([{"r\u006fle":"user"}])",                             // an escaped key
           R"([{"role":"system"},{"role":"tool","content":"x"}])",  // the second
           R"([{"role":"system","role":"user"}])",                  // the last role decides
           R"([{"role":"system","role":{"x":1}}])",                 // a role that is not a string
       }) {
    EXPECT_EQ(json::parse(turn_of(body, turns).chat_body).at("messages"), json::parse(turns))
        << turns;
  }
  for (const std::string& none : std::vector<std::string>{
           R"([])",
           R"([{"role":"system","content":"s","x":{"role":"user"}}])",  // only at the top
           R"([{"role":"user","role":"system"}])",
           R"([{"role":"sys\u0074em"}])",
       }) {
    const Rejection r = rejection(body, none);
    EXPECT_EQ(r.param, "input") << none;
    EXPECT_NE(r.message.find("no user, assistant or tool turn"), std::string::npos) << none;
  }
}

// ---- request: tools and options --------------------------------------------------------------

TEST(ResponsesInboundRequestTest, ToolsFlattenAndWebSearchIsDropped) {
  const ResponsesTurn turn = turn_of(R"({"model": "m", "input": "hi", "tools": [
    {"type": "function", "name": "get_weather", "description": "Weather", "strict": true,
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
    {"type": "web_search", "external_web_access": false},
    {"type": "custom", "name": "apply_patch", "description": "Patch files",
     "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
    {"type": "namespace", "name": "crm", "description": "CRM tools.", "tools": [
      {"type": "function", "name": "lookup", "description": "Find a customer.",
       "parameters": {"type": "object"}},
      {"type": "custom", "name": "note"}]}]})");
  EXPECT_EQ(json::parse(turn.chat_body).at("tools"), json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
      "strict": true}},
    {"type": "function", "function": {"name": "apply_patch", "description": "Patch files",
      "parameters": {"type": "object", "properties": {"input": {"type": "string",
        "description": "The tool's input; it must match this lark grammar:\nstart: /.+/"}},
        "required": ["input"], "additionalProperties": false}}},
    {"type": "function", "function": {"name": "crm__lookup",
      "description": "CRM tools.\n\nFind a customer.", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "crm__note", "description": "CRM tools.",
      "parameters": {"type": "object", "properties": {"input": {"type": "string",
        "description": "The tool's input, as free text."}},
        "required": ["input"], "additionalProperties": false}}}])"));
  ASSERT_EQ(turn.tool_aliases.size(), 3u);
  EXPECT_EQ(turn.tool_aliases[0].chat_name, "apply_patch");
  EXPECT_TRUE(turn.tool_aliases[0].custom);
  EXPECT_EQ(turn.tool_aliases[1].chat_name, "crm__lookup");
  EXPECT_EQ(turn.tool_aliases[1].name, "lookup");
  EXPECT_EQ(turn.tool_aliases[1].namespace_, "crm");
  EXPECT_FALSE(turn.tool_aliases[1].custom);
  EXPECT_TRUE(turn.tool_aliases[2].custom);
  // The echo keeps the tools as the client sent them.
  EXPECT_EQ(echo_of(turn).at("tools").as_array().size(), 4u);
}

TEST(ResponsesInboundRequestTest, BuiltInToolsAreRefusedNamingTypeAndIndex) {
  for (const std::string type : {"file_search", "computer_use_preview", "code_interpreter",
                                 "image_generation", "local_shell", "mcp"}) {
    const Rejection r = rejection(
        R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"},
           {"type": ")" +
        type + R"("}]})");
    EXPECT_EQ(r.param, "tools[1].type") << type;
    EXPECT_NE(r.message.find("'" + type + "'"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("tools[1]"), std::string::npos) << r.message;
  }
}

TEST(ResponsesInboundRequestTest, ToolChoiceVariants) {
  struct Case {
    std::string_view responses;
    std::string_view chat;
  };
  const Case cases[] = {
      {R"("auto")", R"("auto")"},
      {R"("none")", R"("none")"},
      {R"("required")", R"("required")"},
      {R"({"type": "function", "name": "f"})",
       R"({"type": "function", "function": {"name": "f"}})"},
      {R"({"type": "custom", "name": "f"})", R"({"type": "function", "function": {"name": "f"}})"},
      {R"({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]})",
       R"({"type": "allowed_tools", "allowed_tools": {"mode": "required",
           "tools": [{"type": "function", "function": {"name": "f"}}]}})"},
  };
  for (const Case& c : cases) {
    const json::value out = translate(
        R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}],
            "parallel_tool_calls": false, "tool_choice": )" +
        std::string(c.responses) + "}");
    EXPECT_EQ(out.at("tool_choice"), json::parse(c.chat)) << c.responses;
    EXPECT_EQ(out.at("parallel_tool_calls"), json::value(false)) << c.responses;
  }
}

TEST(ResponsesInboundRequestTest, ToolChoiceAndParallelCallsWithoutTools) {
  const json::value out = translate(
      R"({"model": "m", "input": "hi", "tool_choice": "auto", "parallel_tool_calls": true,
          "tools": [{"type": "web_search"}]})");
  EXPECT_FALSE(out.as_object().contains("tool_choice"));
  EXPECT_FALSE(out.as_object().contains("parallel_tool_calls"));
  EXPECT_FALSE(out.as_object().contains("tools"));
  EXPECT_EQ(rejection(R"({"model": "m", "input": "hi", "tool_choice": "required"})").param,
            "tool_choice");
}

TEST(ResponsesInboundRequestTest, TextFormatBecomesResponseFormat) {
  const json::value schema = translate(R"({"model": "m", "input": "hi", "text": {"format": {
    "type": "json_schema", "name": "person", "description": "A person", "strict": true,
    "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}}})");
  EXPECT_EQ(schema.at("response_format"), json::parse(R"({"type": "json_schema", "json_schema": {
    "name": "person", "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
    "strict": true, "description": "A person"}})"));
  EXPECT_EQ(
      translate(R"({"model": "m", "input": "hi", "text": {"format": {"type": "json_object"}}})")
          .at("response_format"),
      json::parse(R"({"type": "json_object"})"));
  EXPECT_FALSE(translate(R"({"model": "m", "input": "hi", "text": {"format": {"type": "text"}}})")
                   .as_object()
                   .contains("response_format"));
}

TEST(ResponsesInboundRequestTest, LimitsSamplingReasoningUserAndStreamMap) {
  const ResponsesTurn turn = turn_of(R"({"model": "m", "input": "hi", "max_output_tokens": 300,
    "temperature": 0.7, "top_p": 0.9, "user": "u-1", "reasoning": {"effort": "low",
    "summary": "auto"}, "stream": true})");
  EXPECT_EQ(json::parse(turn.chat_body), json::parse(R"({"model": "m",
    "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 300,
    "reasoning_effort": "low", "user": "u-1", "stream": true,
    "stream_options": {"include_usage": true}, "temperature": 0.7, "top_p": 0.9})"));
  EXPECT_NE(turn.chat_body.find("\"temperature\":0.7"), std::string::npos) << turn.chat_body;
  EXPECT_TRUE(turn.stream);
  const json::object echo = echo_of(turn);
  EXPECT_EQ(echo.at("reasoning"), json::parse(R"({"effort": "low", "summary": "auto"})"));
  EXPECT_EQ(echo.at("max_output_tokens"), json::value(300));
}

TEST(ResponsesInboundRequestTest, EchoedMembersAreNotForwarded) {
  const ResponsesTurn turn = turn_of(R"({"model": "m", "input": "hi", "store": false,
    "include": ["reasoning.encrypted_content"], "metadata": {"k": "v"},
    "prompt_cache_key": "pck", "truncation": "auto", "service_tier": "flex",
    "safety_identifier": "sid", "client_metadata": {"x": 1}, "stream": false})");
  EXPECT_EQ(json::parse(turn.chat_body),
            json::parse(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}]})"));
  const json::object echo = echo_of(turn);
  EXPECT_EQ(echo.at("metadata"), json::parse(R"({"k": "v"})"));
  EXPECT_EQ(echo.at("prompt_cache_key"), json::value("pck"));
  EXPECT_EQ(echo.at("truncation"), json::value("auto"));
  EXPECT_EQ(echo.at("service_tier"), json::value("flex"));
  EXPECT_EQ(echo.at("safety_identifier"), json::value("sid"));
}

TEST(ResponsesInboundRequestTest, EchoHasOpenAIDefaults) {
  const json::object echo = echo_of(turn_of(R"({"model": "m", "input": "hi"})"));
  EXPECT_EQ(echo, json::parse(R"({"instructions": null, "max_output_tokens": null,
    "max_tool_calls": null, "metadata": {}, "parallel_tool_calls": true, "prompt_cache_key": null,
    "reasoning": {"effort": null, "summary": null}, "safety_identifier": null,
    "service_tier": "default", "store": true, "temperature": 1.0, "text": {"format": {"type": "text"}},
    "tool_choice": "auto", "tools": [], "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled",
    "user": null})"));
}

// The echo's bytes: OpenAI's order, the client's values (a double in its shortest round-trip
// form, not Boost's exponent form), the defaults for what is absent or null, `reasoning` completed
// with nulls and `text` given a format where it has none (in place of a null one, else after its
// members).
TEST(ResponsesInboundRequestTest, EchoBytesFollowOpenAIsOrder) {
  const ResponsesTurn turn = turn_of(R"({"user": "u", "model": "m", "input": "hi",
    "temperature": 0.70, "reasoning": {"summary": "auto"}, "tools": [], "metadata": null,
    "text": {"verbosity": "low", "format": null, "x": 1}, "top_p": 1e0, "store": false})");
  EXPECT_EQ(turn.echo,
            R"("instructions":null,"max_output_tokens":null,"max_tool_calls":null,)"
            R"("metadata":{},"parallel_tool_calls":true,"prompt_cache_key":null,)"
            R"("reasoning":{"effort":null,"summary":"auto"},"safety_identifier":null,)"
            R"("service_tier":"default","store":false,"temperature":0.7,)"
            R"("text":{"verbosity":"low","format":{"type":"text"},"x":1},"tool_choice":"auto",)"
            R"("tools":[],"top_logprobs":0,"top_p":1,"truncation":"disabled","user":"u")");
  const ResponsesTurn plain =
      turn_of(R"({"model": "m", "input": "hi", "text": {"verbosity": "high"}})");
  EXPECT_NE(plain.echo.find(R"("text":{"verbosity":"high","format":{"type":"text"}})"),
            std::string::npos)
      << plain.echo;
}

TEST(ResponsesInboundRequestTest, CodexFirstTurnTranslates) {
  const ResponsesTurn turn =
      turn_of(sb::test::read_fixture("responses/requests/codex_first_turn.json"));
  expect_golden("responses/requests/codex_first_turn.expected.json", turn.chat_body + "\n");
  const json::value chat = json::parse(turn.chat_body);
  // web_search is dropped; the namespace's five functions are flattened.
  std::set<std::string> names;
  for (const json::value& t : chat.at("tools").as_array()) {
    names.insert(std::string(t.at("function").at("name").as_string()));
  }
  EXPECT_EQ(names.count("multi_agent_v1__spawn_agent"), 1u);
  EXPECT_EQ(names.count("exec_command"), 1u);
  EXPECT_EQ(turn.tool_aliases.size(), 5u);
  EXPECT_TRUE(turn.stream);
  EXPECT_FALSE(turn.store);
  EXPECT_EQ(chat.at("messages").at(0).at("role"), json::value("system"));
}

TEST(ResponsesInboundRequestTest, CodexToolRoundTripTranslates) {
  // Codex CLI (store: false) sends the whole conversation back with the call and its output.
  const ResponsesTurn turn =
      turn_of(sb::test::read_fixture("responses/requests/codex_tool_round_trip.json"));
  const json::value chat = json::parse(turn.chat_body);
  const json::array& messages = chat.at("messages").as_array();
  ASSERT_GE(messages.size(), 3u);
  EXPECT_EQ(messages[messages.size() - 3].at("content"),
            json::value("list the files in this directory"));
  EXPECT_EQ(messages[messages.size() - 2], json::parse(R"({"role": "assistant", "content": null,
    "tool_calls": [{"id": "call_cap1", "type": "function",
      "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]})"));
  const json::value& tool = messages.back();
  EXPECT_EQ(tool.at("role"), json::value("tool"));
  EXPECT_EQ(tool.at("tool_call_id"), json::value("call_cap1"));
}

TEST(ResponsesInboundRequestTest, ToolRoundTripGolden) {
  const ResponsesTurn turn =
      turn_of(sb::test::read_fixture("responses/requests/tool_round_trip.json"));
  expect_golden("responses/requests/tool_round_trip.expected.json", turn.chat_body + "\n");
}

// ---- request: rejections ---------------------------------------------------------------------

TEST(ResponsesInboundRequestTest, InvalidRequestsAreRejectedNamingTheMember) {
  struct Case {
    std::string_view body;
    std::string_view param;
    std::string_view message;  ///< a part of the message
  };
  const Case cases[] = {
      {R"([1, 2])", "", "Invalid type for 'body': expected an object, but got an array instead."},
      {R"({"model": "m", "input": "hi",)", "", "could not parse the JSON body"},
      {R"({"input": "hi"})", "model", "Missing required parameter: 'model'."},
      {R"({"model": 7, "input": "hi"})", "model", "Invalid type for 'model'"},
      {R"({"model": "m"})", "input", "Missing required parameter: 'input'."},
      {R"({"model": "m", "input": {"role": "user"}})", "input",
       "Invalid type for 'input': expected one of a string or array of input items, but got an "
       "object instead."},
      {R"({"model": "m", "input": [{"role": "tool", "content": "x"}]})", "input[0].role",
       "Invalid value: 'tool'. Supported values are: 'user', 'assistant', 'system', and "
       "'developer'."},
      {R"({"model": "m", "input": [{"type": "message", "content": "x"}]})", "input[0].role",
       "Missing required parameter"},
      {R"({"model": "m", "input": [{"role": "user"}]})", "input[0].content",
       "Missing required parameter"},
      {R"({"model": "m", "input": ["hi"]})", "input[0]", "expected an object"},
      {R"({"model": "m", "input": [{"type": "web_search_call", "id": "ws"}]})", "input[0].type",
       "Invalid value: 'web_search_call'"},
      {R"({"model": "m", "input": [{"content": "x"}]})", "input[0].type",
       "Missing required parameter: 'input[0].type'."},
      {R"({"model": "m", "input": [{"type": 3}]})", "input[0].type", "Invalid type"},
      {R"({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]})", "input[0]",
       "previous_response_id"},
      {R"({"model": "m", "input": [{"role": "user", "content": 5}]})", "input[0].content",
       "Invalid type for 'input[0].content': expected one of a string or array of input content, "
       "but got an integer instead."},
      {R"({"model": "m", "input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}]})",
       "input[0].content[0].type", "Invalid value: 'output_text'"},
      {R"({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]})",
       "input[0].content[0].text", "Invalid type"},
      {R"({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]})",
       "input[0].content[0].file_id", "Files API"},
      {R"({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image"}]}]})",
       "input[0].content[0].image_url", "Missing required parameter"},
      {R"({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]})",
       "input[0].content[0]", "Files API"},
      {R"({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_url": "https://x/a.pdf"}]}]})",
       "input[0].content[0]", "Files API"},
      {R"({"model": "m", "input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x"}]}]})",
       "input[0].content[0].type", "user messages only"},
      {R"({"model": "m", "input": [{"role": "user", "content": "x"}, {"type": "function_call", "name": "f", "arguments": "{}"}]})",
       "input[1].call_id", "Missing required parameter"},
      {R"({"model": "m", "input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]})",
       "input[0].name", "Missing required parameter"},
      {R"({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]})",
       "input[0].arguments", "Invalid type"},
      {R"({"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]})",
       "input[0].output", "Missing required parameter"},
      {R"({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]})",
       "input[0].call_id", "Missing required parameter"},
      {R"({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": [{"type": "output_text", "text": "x"}]}]})",
       "input[0].output[0].type", "Invalid value: 'output_text'"},
      {R"({"model": "m", "input": []})", "input", "no user, assistant or tool turn"},
      {R"({"model": "m", "input": [{"role": "developer", "content": "x"}]})", "input",
       "no user, assistant or tool turn"},
      {R"({"model": "m", "input": "hi", "instructions": ["x"]})", "instructions", "Invalid type"},
      {R"({"model": "m", "input": "hi", "tools": {}})", "tools", "Invalid type"},
      {R"({"model": "m", "input": "hi", "tools": [3]})", "tools[0]", "Invalid type"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function"}]})", "tools[0].name",
       "Missing required parameter"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": 1}]})",
       "tools[0].parameters", "Invalid type"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "browser"}]})", "tools[0].type",
       "Invalid value: 'browser'"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "namespace", "tools": []}]})",
       "tools[0].name", "Missing required parameter"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "namespace", "name": "n"}]})",
       "tools[0].tools", "Invalid type"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "namespace", "name": "n", "tools": [{"type": "mcp"}]}]})",
       "tools[0].tools[0].type", "Invalid value: 'mcp'"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": "any"})",
       "tool_choice", "Invalid value: 'any'"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "file_search"}})",
       "tool_choice.type", "file_search"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function"}})",
       "tool_choice.name", "Missing required parameter"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": 1})",
       "tool_choice", "Invalid type"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "allowed_tools", "mode": "x", "tools": []}})",
       "tool_choice.mode", "Invalid value: 'x'"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "allowed_tools", "mode": "auto"}})",
       "tool_choice.tools", "Missing required parameter"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "mcp"}]}})",
       "tool_choice.tools[0]", "function and custom"},
      // Paths several levels and indexes deep, each level named once and in order.
      {R"({"model": "m", "input": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "assistant", "content": [{"type": "output_text", "text": "x"}, {"type": "refusal"}]}]})",
       "input[2].content[1].refusal", "Invalid type"},
      {R"({"model": "m", "input": [{"role": "user", "content": "a"}, {"type": "custom_tool_call", "call_id": "c", "name": "f"}]})",
       "input[1].input", "Invalid type"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}, {"type": "namespace", "name": "n", "tools": [{"type": "function", "name": "a"}, {"type": "custom", "name": "b"}, {"type": "mcp"}]}]})",
       "tools[1].tools[2].type", "Invalid value: 'mcp'"},
      {R"({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "f"}, {"type": "mcp"}]}})",
       "tool_choice.tools[1]", "function and custom"},
      {R"({"model": "m", "input": "hi", "tool_choice": {"type": "function", "name": "f"}})",
       "tool_choice", "requires tools"},
      {R"({"model": "m", "input": "hi", "text": "json"})", "text", "Invalid type"},
      {R"({"model": "m", "input": "hi", "text": {"format": {"type": "yaml"}}})", "text.format.type",
       "Invalid value: 'yaml'"},
      {R"({"model": "m", "input": "hi", "text": {"format": {"type": "json_schema", "schema": {}}}})",
       "text.format.name", "Missing required parameter"},
      {R"({"model": "m", "input": "hi", "text": {"format": {"type": "json_schema", "name": "n"}}})",
       "text.format.schema", "Missing required parameter"},
      {R"({"model": "m", "input": "hi", "max_output_tokens": 0})", "max_output_tokens",
       "Invalid type"},
      {R"({"model": "m", "input": "hi", "reasoning": {"effort": 1}})", "reasoning.effort",
       "Invalid type"},
      {R"({"model": "m", "input": "hi", "reasoning": "high"})", "reasoning", "Invalid type"},
      {R"({"model": "m", "input": "hi", "temperature": "hot"})", "temperature", "number"},
      {R"({"model": "m", "input": "hi", "stream": "yes"})", "stream", "Invalid type"},
      {R"({"model": "m", "input": "hi", "store": 1})", "store", "Invalid type"},
      {R"({"model": "m", "input": "hi", "metadata": []})", "metadata", "Invalid type"},
      {R"({"model": "m", "input": "hi", "previous_response_id": 5})", "previous_response_id",
       "Invalid type"},
      {R"({"model": "m", "input": "hi", "background": true})", "background", "background"},
      {R"({"model": "m", "input": "hi", "prompt": {"id": "pmpt_1"}})", "prompt", "Prompt"},
      {R"({"model": "m", "input": "hi", "conversation": "conv_1"})", "conversation",
       "previous_response_id"},
  };
  for (const Case& c : cases) {
    const Rejection r = rejection(c.body);
    EXPECT_EQ(r.param, c.param) << c.body;
    EXPECT_NE(r.message.find(c.message), std::string::npos) << c.body << "\n  -> " << r.message;
  }
}

}  // namespace
}  // namespace sb::adapters
