#include "adapters/responses_inbound.h"

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/sse.h"
#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

/// Compares `actual` with the golden file `relative`; with SB_UPDATE_GOLDEN set in the
/// environment, (re)writes the file instead (then review the diff before committing).
void expect_golden(const std::string& relative, const std::string& actual) {
  if (std::getenv("SB_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(std::string(SB_FIXTURES_DIR) + "/" + relative, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(actual, sb::test::read_fixture(relative)) << relative;
}

/// The translation of a request that must translate.
ResponsesTurn turn_of(std::string_view body, std::string_view history = {}) {
  std::string error;
  std::string param;
  std::optional<ResponsesTurn> turn = responses_to_chat_request(body, history, error, param);
  EXPECT_TRUE(turn.has_value()) << error << " (param " << param << ")";
  return turn ? std::move(*turn) : ResponsesTurn{};
}

/// The chat body of a request that must translate, parsed.
json::value translate(std::string_view body, std::string_view history = {}) {
  const ResponsesTurn turn = turn_of(body, history);
  return turn.chat_body.empty() ? json::value() : json::parse(turn.chat_body);
}

struct Rejection {
  std::string message;
  std::string param;
};

Rejection rejection(std::string_view body, std::string_view history = {}) {
  Rejection r;
  const std::optional<ResponsesTurn> turn =
      responses_to_chat_request(body, history, r.message, r.param);
  EXPECT_FALSE(turn.has_value()) << turn->chat_body;
  return r;
}

/// The echo members as a JSON object.
json::object echo_of(const ResponsesTurn& turn) {
  return json::parse("{" + turn.echo + "}").as_object();
}

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

TEST(ResponsesInboundRequestTest, UnreadableHistoryIsRejected) {
  const Rejection r = rejection(R"({"model": "m", "input": "hi"})", "{not json");
  EXPECT_EQ(r.param, "previous_response_id");
  EXPECT_EQ(rejection(R"({"model": "m", "input": "hi"})", "[1]").param, "previous_response_id");
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
      {R"({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_image", "image_url": "https://x"}]}]})",
       "input[0].output[0].type", "tool output"},
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

// ---- response --------------------------------------------------------------------------------

constexpr std::string_view kId = "resp_0123456789abcdef0123456789abcdef0123456789abcdef";

ResponseMeta meta_for(std::string_view request = R"({"model": "gateway-model", "input": "x"})") {
  const ResponsesTurn turn = turn_of(request);
  ResponseMeta meta;
  meta.id = kId;
  meta.created_at = 1700000000;
  meta.model = "gateway-model";
  meta.echo = turn.echo;
  meta.tool_aliases = turn.tool_aliases;
  return meta;
}

/// A request whose tools include a namespace and a custom tool (for the aliases).
constexpr std::string_view kToolRequest = R"({"model": "gateway-model", "input": "x", "tools": [
  {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
  {"type": "custom", "name": "apply_patch"},
  {"type": "namespace", "name": "multi_agent_v1", "description": "Agents.",
   "tools": [{"type": "function", "name": "spawn_agent"}]}]})";

std::string response_of(std::string_view chat, const ResponseMeta& meta,
                        std::string* output_messages = nullptr) {
  std::string messages;
  std::string error;
  const std::optional<std::string> out = chat_to_response(chat, meta, messages, error);
  EXPECT_TRUE(out.has_value()) << error;
  if (output_messages != nullptr) {
    *output_messages = messages;
  }
  return out.value_or("");
}

TEST(ResponsesInboundResponseTest, GoldenAnswers) {
  for (const std::string name :
       {"response_text", "response_tool_calls", "response_length", "response_reasoning"}) {
    const ResponseMeta meta = meta_for(kToolRequest);
    std::string messages;
    const std::string out =
        response_of(sb::test::read_fixture("responses/" + name + ".json"), meta, &messages);
    expect_golden("responses/" + name + ".expected.json", out + "\n");
    expect_golden("responses/" + name + ".messages.json", messages + "\n");
  }
}

TEST(ResponsesInboundResponseTest, TextAnswerIsACompletedResponse) {
  std::string messages;
  const json::value r = json::parse(response_of(
      R"({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0,
          "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                    "prompt_tokens_details": {"cached_tokens": 8},
                    "completion_tokens_details": {"reasoning_tokens": 1}}})",
      meta_for(), &messages));
  EXPECT_EQ(r.at("id"), json::value(kId));
  EXPECT_EQ(r.at("object"), json::value("response"));
  EXPECT_EQ(r.at("status"), json::value("completed"));
  EXPECT_EQ(r.at("model"), json::value("gateway-model"));
  EXPECT_TRUE(r.at("incomplete_details").is_null());
  EXPECT_TRUE(r.at("previous_response_id").is_null());
  EXPECT_FALSE(r.as_object().contains("output_text"));
  EXPECT_EQ(r.at("output"), json::parse(R"([{"id":
    "msg_0123456789abcdef0123456789abcdef0123456789abcdef00", "type": "message",
    "status": "completed", "content": [{"type": "output_text", "annotations": [],
    "logprobs": [], "text": "Hi!"}], "role": "assistant"}])"));
  EXPECT_EQ(r.at("usage"), json::parse(R"({"input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 8}, "output_tokens": 2,
    "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 12})"));
  EXPECT_EQ(json::parse(messages), json::parse(R"([{"role": "assistant", "content": "Hi!"}])"));
}

TEST(ResponsesInboundResponseTest, CutAndFilteredAnswersAreIncomplete) {
  for (const auto& [finish, reason] : std::vector<std::pair<std::string, std::string>>{
           {"length", "max_output_tokens"}, {"content_filter", "content_filter"}}) {
    const json::value r = json::parse(response_of(
        R"({"choices": [{"message": {"role": "assistant", "content": "Once"}, "finish_reason": ")" +
            finish + R"("}]})",
        meta_for()));
    EXPECT_EQ(r.at("status"), json::value("incomplete")) << finish;
    EXPECT_EQ(r.at("incomplete_details"), json::parse(R"({"reason": ")" + reason + R"("})"));
    EXPECT_EQ(r.at("output").at(0).at("status"), json::value("incomplete"));
    EXPECT_TRUE(r.at("usage").is_null());
  }
}

TEST(ResponsesInboundResponseTest, PreviousResponseIdAndEchoAreCarried) {
  ResponseMeta meta = meta_for(R"({"model": "m", "input": "x", "instructions": "Sys.",
    "metadata": {"a": "b"}, "temperature": 0.2})");
  meta.previous_response_id = "resp_prev";
  const json::value r = json::parse(response_of(
      R"({"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})",
      meta));
  EXPECT_EQ(r.at("previous_response_id"), json::value("resp_prev"));
  EXPECT_EQ(r.at("instructions"), json::value("Sys."));
  EXPECT_EQ(r.at("metadata"), json::parse(R"({"a": "b"})"));
  EXPECT_EQ(r.at("temperature"), json::value(0.2));
}

TEST(ResponsesInboundResponseTest, ToolCallWithoutIdGetsOneAndEmptyAnswerHasNoItems) {
  std::string messages;
  const json::value r = json::parse(response_of(
      R"({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
          {"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
          "finish_reason": "tool_calls"}]})",
      meta_for(), &messages));
  const std::string call_id = "call_0123456789abcdef0123456789abcdef0123456789abcdef00";
  EXPECT_EQ(r.at("output").at(0).at("call_id"), json::value(call_id));
  EXPECT_EQ(json::parse(messages).at(0).at("tool_calls").at(0).at("id"), json::value(call_id));
  const json::value empty = json::parse(response_of(
      R"({"choices": [{"message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]})",
      meta_for(), &messages));
  EXPECT_TRUE(empty.at("output").as_array().empty());
  EXPECT_EQ(messages, "[]");
}

TEST(ResponsesInboundResponseTest, NonChatCompletionIsAnError) {
  for (std::string_view bad : {"not json", "[]", R"({"choices": []})", R"({"choices": [{}]})",
                               R"({"error": {"message": "x"}})"}) {
    std::string messages;
    std::string error;
    EXPECT_FALSE(chat_to_response(bad, meta_for(), messages, error).has_value()) << bad;
    EXPECT_EQ(error, "upstream answer is not a chat.completion");
  }
}

TEST(ResponsesInboundResponseTest, NewResponseIdsAreRandomHex) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = new_response_id();
    ASSERT_EQ(id.size(), 5u + 48u) << id;
    EXPECT_EQ(id.substr(0, 5), "resp_");
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 5), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST(ResponsesInboundErrorTest, OpenAIErrorsKeepTheirMembers) {
  EXPECT_EQ(json::parse(responses_error_body(
                400, R"({"error": {"message": "bad", "type": "invalid_request_error",
                         "param": "input", "code": "invalid_value"}})")),
            json::parse(R"({"error": {"message": "bad", "type": "invalid_request_error",
                         "param": "input", "code": "invalid_value"}})"));
  EXPECT_EQ(json::parse(responses_error_body(429, R"({"error": {"message": "slow down"}})")),
            json::parse(R"({"error": {"message": "slow down", "type": "rate_limit_error",
                         "param": null, "code": null}})"));
  EXPECT_EQ(json::parse(responses_error_body(502, "<html>")),
            json::parse(R"({"error": {"message": "HTTP 502", "type": "api_error",
                         "param": null, "code": null}})"));
}

// ---- stream ----------------------------------------------------------------------------------

struct StreamRun {
  std::string out;
  bool fed_ok = true;
  bool finished = false;
  std::string final_response;
  std::string output_messages;
};

/// Feeds `input` in pieces of `split` bytes (0: whole), then finish().
StreamRun run(std::string_view input, std::size_t split, const ResponseMeta& meta) {
  ResponsesStreamWriter w(meta);
  StreamRun r;
  if (split == 0) {
    r.fed_ok = w.feed(input, r.out);
  } else {
    for (std::size_t i = 0; i < input.size(); i += split) {
      r.fed_ok = w.feed(input.substr(i, split), r.out) && r.fed_ok;
    }
  }
  r.finished = w.finish(r.out);
  r.final_response = w.final_response();
  r.output_messages = w.output_messages();
  EXPECT_EQ(w.done(), r.finished);
  EXPECT_EQ(w.failed(), !r.finished);
  return r;
}

/// Replays the events as the openai SDK's stream helper accumulates them (openai-node
/// src/lib/responses/ResponseAccumulator.ts): every event must address what exists, and the
/// snapshot built from the deltas must equal the final Response. Returns the final Response.
json::value accumulate(std::string_view sse) {
  SseParser parser;
  std::vector<SseEvent> events;
  parser.feed(sse, events);
  EXPECT_TRUE(parser.at_boundary());
  json::value snapshot;
  std::int64_t expected_seq = 0;
  for (const SseEvent& ev : events) {
    const json::object e = json::parse(ev.data).as_object();
    const std::string type(e.at("type").as_string());
    EXPECT_EQ(ev.event, type);
    EXPECT_EQ(e.at("sequence_number").as_int64(), expected_seq++) << type;
    if (snapshot.is_null()) {
      EXPECT_EQ(type, "response.created");
    }
    if (type == "response.created" || type == "response.in_progress" ||
        type == "response.completed" || type == "response.incomplete" ||
        type == "response.failed") {
      if (type == "response.completed" || type == "response.incomplete") {
        // The deltas must have built what the final Response says.
        EXPECT_EQ(snapshot.at("output"), e.at("response").at("output"));
      }
      snapshot = e.at("response");
      continue;
    }
    if (type == "error") {
      continue;
    }
    json::array& output = snapshot.at("output").as_array();
    const std::size_t index = e.at("output_index").to_number<std::size_t>();
    if (type == "response.output_item.added") {
      EXPECT_EQ(index, output.size());
      output.push_back(e.at("item"));
      continue;
    }
    EXPECT_LT(index, output.size()) << type;
    if (index >= output.size()) {
      continue;
    }
    json::object& item = output[index].as_object();
    if (e.contains("item_id")) {
      EXPECT_EQ(e.at("item_id"), item.at("id")) << type;
    }
    if (type == "response.output_item.done") {
      item = e.at("item").as_object();
    } else if (type == "response.content_part.added") {
      EXPECT_EQ(e.at("content_index").as_int64(),
                static_cast<std::int64_t>(item.at("content").as_array().size()));
      item.at("content").as_array().push_back(e.at("part"));
    } else if (type == "response.content_part.done") {
      item.at("content").as_array().at(e.at("content_index").to_number<std::size_t>()) =
          e.at("part");
    } else if (type == "response.output_text.delta" || type == "response.reasoning_text.delta") {
      json::object& part = item.at("content")
                               .as_array()
                               .at(e.at("content_index").to_number<std::size_t>())
                               .as_object();
      EXPECT_EQ(
          part.at("type"),
          json::value(type == "response.output_text.delta" ? "output_text" : "reasoning_text"));
      std::string text(part.at("text").as_string());
      text += e.at("delta").as_string();
      part["text"] = text;
    } else if (type == "response.function_call_arguments.delta") {
      EXPECT_EQ(item.at("type"), json::value("function_call"));
      std::string args(item.at("arguments").as_string());
      args += e.at("delta").as_string();
      item["arguments"] = args;
    }
  }
  return snapshot;
}

struct Golden {
  std::string_view name;
  bool finishes;  ///< whether the stream completes (else it fails)
};

constexpr Golden kGoldens[] = {
    {"stream_text", true},        {"stream_tool_call", true}, {"stream_reasoning_text", true},
    {"stream_length", true},      {"stream_error", false},    {"stream_no_done", true},
    {"stream_custom_tool", true}, {"stream_cut", false},
};

TEST(ResponsesStreamWriterTest, GoldenTranscripts) {
  const ResponseMeta meta = meta_for(kToolRequest);
  for (const Golden& g : kGoldens) {
    const std::string input = sb::test::read_fixture("responses/" + std::string(g.name) + ".sse");
    const StreamRun r = run(input, 0, meta);
    expect_golden("responses/" + std::string(g.name) + ".expected.sse", r.out);
    EXPECT_EQ(r.finished, g.finishes) << g.name;
    const json::value final_response = accumulate(r.out);
    if (g.finishes) {
      EXPECT_EQ(json::parse(r.final_response), final_response) << g.name;
      EXPECT_FALSE(r.output_messages.empty()) << g.name;
    } else {
      EXPECT_TRUE(r.final_response.empty()) << g.name;
      EXPECT_EQ(final_response.at("status"), json::value("failed")) << g.name;
    }
  }
}

TEST(ResponsesStreamWriterTest, SplittingAtEveryByteGivesIdenticalOutput) {
  const ResponseMeta meta = meta_for(kToolRequest);
  for (const Golden& g : kGoldens) {
    const std::string input = sb::test::read_fixture("responses/" + std::string(g.name) + ".sse");
    const StreamRun whole = run(input, 0, meta);
    for (std::size_t split = 1; split <= 7; ++split) {
      const StreamRun r = run(input, split, meta);
      EXPECT_EQ(r.out, whole.out) << g.name << " split " << split;
      EXPECT_EQ(r.finished, whole.finished) << g.name << " split " << split;
      EXPECT_EQ(r.output_messages, whole.output_messages) << g.name << " split " << split;
    }
  }
}

TEST(ResponsesStreamWriterTest, SplittingAtAnyOnePointGivesIdenticalOutput) {
  const ResponseMeta meta = meta_for(kToolRequest);
  for (const Golden& g : kGoldens) {
    const std::string input = sb::test::read_fixture("responses/" + std::string(g.name) + ".sse");
    const StreamRun whole = run(input, 0, meta);
    for (std::size_t cut = 1; cut < input.size(); ++cut) {
      ResponsesStreamWriter w(meta);
      std::string out;
      w.feed(std::string_view(input).substr(0, cut), out);
      w.feed(std::string_view(input).substr(cut), out);
      w.finish(out);
      ASSERT_EQ(out, whole.out) << g.name << " cut at " << cut;
    }
  }
}

TEST(ResponsesStreamWriterTest, ToolCallsComeBackAsTheirItemTypes) {
  const StreamRun r =
      run(sb::test::read_fixture("responses/stream_tool_call.sse"), 0, meta_for(kToolRequest));
  const json::value final_response = json::parse(r.final_response);
  const json::array& output = final_response.at("output").as_array();
  ASSERT_EQ(output.size(), 3u);
  EXPECT_EQ(output[1].at("name"), json::value("get_weather"));
  EXPECT_EQ(output[1].at("arguments"), json::value(R"({"city":"Paris"})"));
  EXPECT_EQ(output[1].at("call_id"), json::value("call_w1"));
  EXPECT_EQ(output[2].at("name"), json::value("spawn_agent"));
  EXPECT_EQ(output[2].at("namespace"), json::value("multi_agent_v1"));
  EXPECT_EQ(final_response.at("usage").at("total_tokens"), json::value(60));
  EXPECT_EQ(json::parse(r.output_messages), json::parse(R"([{"role": "assistant",
    "content": "Let me check.", "tool_calls": [
      {"id": "call_w1", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_s2", "type": "function",
       "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{\"task\":\"x\"}"}}]}])"));

  const StreamRun custom =
      run(sb::test::read_fixture("responses/stream_custom_tool.sse"), 0, meta_for(kToolRequest));
  const json::value item = json::parse(custom.final_response).at("output").at(0);
  EXPECT_EQ(item.at("type"), json::value("custom_tool_call"));
  EXPECT_EQ(item.at("input"), json::value("*** Begin Patch\n"));
}

TEST(ResponsesStreamWriterTest, ErrorsFailTheResponseWithCodeAndMessage) {
  const StreamRun r = run(sb::test::read_fixture("responses/stream_error.sse"), 0, meta_for());
  EXPECT_FALSE(r.fed_ok);
  const json::value failed = accumulate(r.out);
  EXPECT_EQ(failed.at("error"), json::parse(R"({"code": "rate_limit_exceeded",
    "message": "Rate limit reached for requests"})"));
  EXPECT_NE(r.out.find("event: error\n"), std::string::npos);

  for (std::string_view bad : {"data: {not json\n\n", "data: [1]\n\n"}) {
    const StreamRun b = run(bad, 0, meta_for());
    EXPECT_FALSE(b.fed_ok) << bad;
    EXPECT_EQ(accumulate(b.out).at("error").at("code"), json::value("server_error")) << bad;
  }
}

TEST(ResponsesStreamWriterTest, NothingIsWrittenAfterTheEnd) {
  ResponsesStreamWriter w(meta_for());
  std::string out;
  EXPECT_TRUE(w.feed(sb::test::read_fixture("responses/stream_text.sse"), out));
  EXPECT_TRUE(w.done());
  ASSERT_TRUE(w.usage().has_value());
  EXPECT_EQ(w.usage()->input, 12);
  EXPECT_EQ(w.usage()->cached_input, 4);
  std::string more;
  EXPECT_TRUE(w.feed("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", more));
  EXPECT_TRUE(w.finish(more));
  EXPECT_TRUE(more.empty());

  ResponsesStreamWriter f(meta_for());
  EXPECT_FALSE(f.feed("data: {\"error\":\"boom\"}\n\n", out));
  std::string after;
  EXPECT_FALSE(f.feed("data: [DONE]\n\n", after));
  EXPECT_FALSE(f.finish(after));
  EXPECT_TRUE(after.empty());
}

TEST(ResponsesStreamWriterTest, EventPastTheLimitFailsTheStream) {
  ResponsesStreamWriter w(meta_for());
  std::string out;
  const std::string huge = "data: " + std::string(17 * 1024 * 1024, 'x');
  EXPECT_FALSE(w.feed(huge, out));
  EXPECT_TRUE(w.failed());
  EXPECT_NE(out.find("larger than the gateway accepts"), std::string::npos);
}

TEST(ResponsesStreamWriterTest, DoneBeforeAnyChunkIsAnEmptyCompletedResponse) {
  const StreamRun r = run("data: [DONE]\n\n", 0, meta_for());
  EXPECT_TRUE(r.finished);
  const json::value final_response = accumulate(r.out);
  EXPECT_EQ(final_response.at("status"), json::value("completed"));
  EXPECT_TRUE(final_response.at("output").as_array().empty());
  EXPECT_EQ(r.output_messages, "[]");
}

TEST(ResponsesStreamWriterTest, AFragmentForAClosedCallIsDropped) {
  const std::string chunks =
      R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c0","function":{"name":"f","arguments":"{}"}}]}}]})"
      "\n\n"
      R"(data: {"choices":[{"index":0,"delta":{"content":"text"}}]})"
      "\n\n"
      R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"late"}}]},"finish_reason":"tool_calls"}]})"
      "\n\ndata: [DONE]\n\n";
  const StreamRun r = run(chunks, 0, meta_for());
  const json::value final_response = accumulate(r.out);
  EXPECT_EQ(final_response.at("output").at(0).at("arguments"), json::value("{}"));
  EXPECT_EQ(final_response.at("output").as_array().size(), 2u);
}

}  // namespace
}  // namespace sb::adapters
