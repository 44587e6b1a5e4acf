#include "adapters/anthropic_inbound.h"
#include "adapters/anthropic_inbound_internal.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/adapters/chat_stream_input.h"
#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

/// The OpenAI body for an Anthropic request that must translate, parsed.
json::value translate(std::string_view anthropic) {
  std::string error;
  const std::optional<std::string> out =
      anthropic_to_openai_request(json::parse(anthropic).as_object(), error);
  EXPECT_TRUE(out.has_value()) << error;
  return out ? json::parse(*out) : json::value();
}

/// The error message for an Anthropic request that must be rejected.
std::string rejection(std::string_view anthropic) {
  std::string error;
  const std::optional<std::string> out =
      anthropic_to_openai_request(json::parse(anthropic).as_object(), error);
  EXPECT_FALSE(out.has_value()) << *out;
  return error;
}

// ---- request -------------------------------------------------------------------------------

TEST(AnthropicInboundRequestTest, SystemStringBecomesLeadingSystemMessage) {
  const json::value out = translate(R"({
    "model": "frontier", "max_tokens": 256, "system": "Be terse.",
    "messages": [{"role": "user", "content": "Hello"}]})");
  EXPECT_EQ(out, json::parse(R"({
    "model": "frontier",
    "messages": [{"role": "system", "content": "Be terse."},
                 {"role": "user", "content": "Hello"}],
    "max_tokens": 256})"));
}

TEST(AnthropicInboundRequestTest, SystemTextBlocksBecomeOneSystemMessage) {
  const json::value several = translate(R"({
    "model": "m", "max_tokens": 10,
    "system": [{"type": "text", "text": "Rule one."},
               {"type": "text", "text": "Rule two.", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(several.at("messages").at(0), json::parse(R"({"role": "system", "content": [
    {"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}]})"));

  const json::value one = translate(R"({
    "model": "m", "max_tokens": 10, "system": [{"type": "text", "text": "Only rule."}],
    "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(one.at("messages").at(0), json::parse(R"({"role":"system","content":"Only rule."})"));
}

TEST(AnthropicInboundRequestTest, EmptySystemAddsNoMessage) {
  const json::value out = translate(R"({"model": "m", "max_tokens": 10, "system": "",
    "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(out.at("messages").as_array().size(), 1u);
}

TEST(AnthropicInboundRequestTest, SystemTurnsInsideTheConversationStayInPlace) {
  // Claude Code sends system turns among the messages, some with no content at all.
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "system": "You are terse.",
    "messages": [
      {"role": "user", "content": "Hi"},
      {"role": "system", "content": [{"type": "text", "text": "Now answer in French."}]},
      {"role": "system", "output_config": {"effort": "low"}},
      {"role": "assistant", "content": "Bonjour"},
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Merci"}]})");
  const json::array& m = out.at("messages").as_array();
  ASSERT_EQ(m.size(), 6u);
  const char* roles[] = {"system", "user", "system", "assistant", "system", "user"};
  for (std::size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].at("role").as_string(), roles[i]) << i;
  }
  EXPECT_EQ(m[2].at("content").as_string(), "Now answer in French.");
  EXPECT_EQ(m[4].at("content").as_string(), "Be brief.");
}

TEST(AnthropicInboundRequestTest, MultiTurnKeepsOrderAndFlattensSingleTextBlocks) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [
      {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
      {"role": "assistant", "content": [{"type": "text", "text": "4."}]},
      {"role": "user", "content": [{"type": "text", "text": "And 3+3?"},
                                   {"type": "text", "text": "Show work."}]},
      {"role": "assistant", "content": "Prefill"}]})");
  EXPECT_EQ(out.at("messages"), json::parse(R"([
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": [{"type": "text", "text": "And 3+3?"},
                                 {"type": "text", "text": "Show work."}]},
    {"role": "assistant", "content": "Prefill"}])"));
}

TEST(AnthropicInboundRequestTest, ImagesBecomeImageUrlParts) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
      {"type": "image",
       "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
      {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
      {"type": "text", "text": "Compare them."}]}]})");
  EXPECT_EQ(out.at("messages").at(0).at("content"), json::parse(R"([
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    {"type": "text", "text": "Compare them."}])"));
}

TEST(AnthropicInboundRequestTest, ToolUseAndToolResultRoundTrip) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 100, "messages": [
      {"role": "user", "content": "Weather in Paris and Rome?"},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "I should call the tool.", "signature": "sig"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C, sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
         "content": [{"type": "text", "text": "timeout"}, {"type": "text", "text": "retry later"}]},
        {"type": "text", "text": "Summarize."}]}]})");
  EXPECT_EQ(out.at("messages"), json::parse(R"([
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"role": "assistant", "content": "Checking.", "tool_calls": [
      {"id": "toolu_1", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "toolu_2", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
    {"role": "tool", "tool_call_id": "toolu_1", "content": "18C, sunny"},
    {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: timeout\nretry later"},
    {"role": "user", "content": "Summarize."}])"));
}

TEST(AnthropicInboundRequestTest, ToolOnlyTurnsHaveNullContentAndNoEmptyUserMessage) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 100, "messages": [
      {"role": "user", "content": "Time?"},
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9"}]}]})");
  EXPECT_EQ(out.at("messages"), json::parse(R"([
    {"role": "user", "content": "Time?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "toolu_9", "type": "function", "function": {"name": "now", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "toolu_9", "content": ""}])"));
}

TEST(AnthropicInboundRequestTest, ToolsBecomeFunctionTools) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
    "tools": [{"name": "get_weather", "description": "Current weather",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
              {"type": "custom", "name": "now", "input_schema": {"type": "object"}}]})");
  EXPECT_EQ(out.at("tools"), json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}])"));
  EXPECT_FALSE(out.as_object().contains("tool_choice"));
}

TEST(AnthropicInboundRequestTest, ToolChoiceVariants) {
  struct Case {
    std::string_view anthropic;
    std::string_view openai;
  };
  const Case cases[] = {
      {R"({"type": "auto"})", R"("auto")"},
      {R"({"type": "any"})", R"("required")"},
      {R"({"type": "none"})", R"("none")"},
      {R"({"type": "tool", "name": "get_weather"})",
       R"({"type": "function", "function": {"name": "get_weather"}})"},
  };
  for (const Case& c : cases) {
    const json::value out = translate(
        R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "tool_choice": )" +
        std::string(c.anthropic) + "}");
    EXPECT_EQ(out.at("tool_choice"), json::parse(c.openai)) << c.anthropic;
    EXPECT_FALSE(out.as_object().contains("parallel_tool_calls")) << c.anthropic;
  }
}

TEST(AnthropicInboundRequestTest, DisableParallelToolUseTurnsParallelCallsOff) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": true}})");
  EXPECT_EQ(out.at("tool_choice"), json::value("required"));
  EXPECT_EQ(out.at("parallel_tool_calls"), json::value(false));
}

TEST(AnthropicInboundRequestTest, AutoToolChoiceWithoutToolsIsDropped) {
  const json::value out = translate(R"({"model": "m", "max_tokens": 10,
    "messages": [{"role": "user", "content": "Hi"}], "tool_choice": {"type": "auto"}})");
  EXPECT_FALSE(out.as_object().contains("tool_choice"));
}

TEST(AnthropicInboundRequestTest, SamplingStopStreamAndUserMap) {
  std::string error;
  const std::optional<std::string> out = anthropic_to_openai_request(json::parse(R"({
    "model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}],
    "temperature": 0.7, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END", "###"],
    "stream": true, "metadata": {"user_id": "user-42"}})")
                                                                         .as_object(),
                                                                     error);
  ASSERT_TRUE(out.has_value()) << error;
  // The client's number text is kept (the DOM serializer would write 7E-1).
  EXPECT_NE(out->find("\"temperature\":0.7"), std::string::npos) << *out;
  EXPECT_NE(out->find("\"top_p\":0.9"), std::string::npos) << *out;
  const json::value v = json::parse(*out);
  EXPECT_EQ(v.at("max_tokens"), json::value(64));
  EXPECT_EQ(v.at("stop"), json::parse(R"(["END", "###"])"));
  EXPECT_EQ(v.at("stream"), json::value(true));
  EXPECT_EQ(v.at("stream_options"), json::parse(R"({"include_usage": true})"));
  EXPECT_EQ(v.at("user"), json::value("user-42"));
  EXPECT_FALSE(v.as_object().contains("top_k"));
}

TEST(AnthropicInboundRequestTest, NonStreamRequestCarriesNoStreamOptions) {
  const json::value out = translate(R"({"model": "m", "max_tokens": 10, "stream": false,
    "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_FALSE(out.as_object().contains("stream"));
  EXPECT_FALSE(out.as_object().contains("stream_options"));
}

/// The OpenAI body for a request that must translate with `options`, parsed.
json::value translate_with(std::string_view anthropic, const AnthropicInboundOptions& options) {
  std::string error;
  const std::optional<std::string> out =
      anthropic_to_openai_request(json::parse(anthropic).as_object(), error, options);
  EXPECT_TRUE(out.has_value()) << error;
  return out ? json::parse(*out) : json::value();
}

TEST(AnthropicInboundRequestTest, SystemTurnsInEveryPositionFoldInOrder) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [
      {"role": "system", "content": "First."},
      {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
       "cache_control": {"type": "ephemeral"}},
      {"role": "user", "content": "Hi"},
      {"role": "system", "output_config": {"effort": "low"}},
      {"role": "system", "content": []},
      {"role": "assistant", "content": "Hello"},
      {"role": "system", "content": "Last."}]})");
  EXPECT_EQ(out.at("messages"), json::parse(R"([
    {"role": "system", "content": "First."},
    {"role": "system", "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "system", "content": "Last."}])"));
}

TEST(AnthropicInboundRequestTest, ThinkingGoesBackAsReasoningContentOnlyWhenTheEngineTakesIt) {
  constexpr std::string_view kBody = R"({
    "model": "m", "max_tokens": 100, "messages": [
      {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "Greet back. ", "signature": "EqQBsig=="},
        {"type": "redacted_thinking", "data": "EmwKAhgB"},
        {"type": "thinking", "thinking": "Briefly.", "signature": "Eq2"},
        {"type": "text", "text": "Hello!"}]},
      {"role": "user", "content": "Again"}]})";
  AnthropicInboundOptions options;
  options.reasoning_content = true;
  EXPECT_EQ(translate_with(kBody, options).at("messages").at(1), json::parse(R"(
    {"role": "assistant", "content": "Hello!", "reasoning_content": "Greet back. Briefly."})"));
  EXPECT_EQ(translate(kBody).at("messages").at(1),
            json::parse(R"({"role": "assistant", "content": "Hello!"})"));
}

TEST(AnthropicInboundRequestTest, ThinkingAndEffortMapToReasoningEffort) {
  struct Case {
    std::string_view members;
    std::string_view effort;  // "" = no reasoning_effort
  };
  const Case cases[] = {
      {R"("thinking": {"type": "enabled", "budget_tokens": 4000})", "low"},
      {R"("thinking": {"type": "enabled", "budget_tokens": 8192})", "medium"},
      {R"("thinking": {"type": "enabled", "budget_tokens": 10000})", "medium"},
      {R"("thinking": {"type": "enabled", "budget_tokens": 31999})", "high"},
      {R"("thinking": {"type": "disabled"}, "output_config": {"effort": "high"})", ""},
      {R"("thinking": {"type": "adaptive"})", ""},
      {R"("thinking": {"type": "adaptive"}, "output_config": {"effort": "max"})", "high"},
      {R"("output_config": {"effort": "low"})", "low"},
      {R"("output_config": {"effort": "extreme"})", ""},
  };
  AnthropicInboundOptions options;
  options.reasoning_effort = true;
  for (const Case& c : cases) {
    const std::string body =
        R"({"model": "m", "max_tokens": 64000, "messages": [{"role": "user", "content": "Hi"}], )" +
        std::string(c.members) + "}";
    const json::object out = translate_with(body, options).as_object();
    if (c.effort.empty()) {
      EXPECT_FALSE(out.contains("reasoning_effort")) << c.members;
    } else {
      EXPECT_EQ(out.at("reasoning_effort"), json::value(c.effort)) << c.members;
    }
    // An engine without reasoning gets none of it.
    EXPECT_FALSE(translate(body).as_object().contains("reasoning_effort")) << c.members;
  }
}

TEST(AnthropicInboundRequestTest, MaxTokensIsClampedToTheCap) {
  constexpr std::string_view kBody =
      R"({"model": "m", "max_tokens": 128000, "messages": [{"role": "user", "content": "Hi"}]})";
  AnthropicInboundOptions options;
  options.max_tokens_cap = 8192;
  EXPECT_EQ(translate_with(kBody, options).at("max_tokens"), json::value(8192));
  options.max_tokens_cap = 200000;
  EXPECT_EQ(translate_with(kBody, options).at("max_tokens"), json::value(128000));
  EXPECT_EQ(translate(kBody).at("max_tokens"), json::value(128000));
}

TEST(AnthropicInboundRequestTest, TextDocumentsBecomeTextParts) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
      {"type": "document", "title": "notes.txt", "context": "From the team wiki.",
       "source": {"type": "text", "media_type": "text/plain", "data": "Ship on Friday."},
       "citations": {"enabled": true}, "cache_control": {"type": "ephemeral"}},
      {"type": "document", "source": {"type": "content", "content": [
        {"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]}},
      {"type": "document", "source": {"type": "content", "content": "Whole."}},
      {"type": "text", "text": "Summarise."}]}]})");
  EXPECT_EQ(out.at("messages").at(0).at("content"), json::parse(R"([
    {"type": "text", "text": "Document: notes.txt\n\nFrom the team wiki.\n\nShip on Friday."},
    {"type": "text", "text": "Part one.\nPart two."},
    {"type": "text", "text": "Whole."},
    {"type": "text", "text": "Summarise."}])"));
}

TEST(AnthropicInboundRequestTest, ToolResultErrorsAndImagesSurvive) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [
      {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"p": "a.png"}},
        {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
          {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVB="}}]},
        {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true}]}]})");
  EXPECT_EQ(out.at("messages"), json::parse(R"([
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "toolu_1", "type": "function", "function": {"name": "Read", "arguments": "{\"p\":\"a.png\"}"}},
      {"id": "toolu_2", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "toolu_1", "content": ""},
    {"role": "tool", "tool_call_id": "toolu_2", "content": "Error"},
    {"role": "user", "content": [
      {"type": "text", "text": "Image from the result of tool call toolu_1:"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVB="}}]}])"));
}

TEST(AnthropicInboundRequestTest, ServerToolsAndTheirHistoryAreLeftOut) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [
      {"role": "user", "content": "News?"},
      {"role": "assistant", "content": [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "news"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "text", "text": "Nothing new."}]},
      {"role": "user", "content": "Thanks"}],
    "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
              {"type": "tool_search_tool_regex_20251119", "name": "tool_search"},
              {"name": "Read", "input_schema": {"type": "object"}, "defer_loading": true,
               "cache_control": {"type": "ephemeral"}}],
    "tool_choice": {"type": "auto"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
    "cache_control": {"type": "ephemeral"}, "top_k": 5, "service_tier": "auto"})");
  EXPECT_EQ(out.at("messages").at(1),
            json::parse(R"({"role": "assistant", "content": "Nothing new."})"));
  EXPECT_EQ(out.at("tools"), json::parse(R"([
    {"type": "function", "function": {"name": "Read", "parameters": {"type": "object"}}}])"));
  EXPECT_EQ(out.at("tool_choice"), json::value("auto"));
  for (const char* dropped : {"context_management", "cache_control", "top_k", "service_tier"}) {
    EXPECT_FALSE(out.as_object().contains(dropped)) << dropped;
  }
}

TEST(AnthropicInboundRequestTest, OutputFormatBecomesResponseFormat) {
  const json::value out = translate(R"({
    "model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
    "output_config": {"effort": "low", "format": {"type": "json_schema",
      "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}})");
  EXPECT_EQ(out.at("response_format"), json::parse(R"({"type": "json_schema", "json_schema": {
    "name": "output", "strict": true,
    "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}})"));
}

TEST(AnthropicInboundRequestTest, ClaudeCodeBodyTranslatesOnceItsPdfIsGone) {
  std::string body = test::read_fixture("anthropic/native/claude_code_request.json");
  // With its PDF the request is refused, naming the block.
  EXPECT_EQ(rejection(body).substr(0, 34), "messages.0.content.2: PDF and file");
  const std::string pdf =
      R"(,
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQK"}})";
  const std::size_t at = body.find(pdf);
  ASSERT_NE(at, std::string::npos);
  body.erase(at, pdf.size());
  AnthropicInboundOptions options;
  options.reasoning_content = true;
  options.reasoning_effort = true;
  options.max_tokens_cap = 32000;
  const json::value out = translate_with(body, options);
  EXPECT_EQ(out.at("max_tokens"), json::value(32000));
  EXPECT_EQ(out.at("reasoning_effort"), json::value("high"));
  const json::array& m = out.at("messages").as_array();
  const char* roles[] = {"system", "user", "assistant", "tool", "system", "user"};
  ASSERT_EQ(m.size(), 6u) << out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].at("role").as_string(), roles[i]) << i;
  }
  EXPECT_EQ(m[2].at("reasoning_content"), json::value("The user wants a summary."));
  EXPECT_EQ(m[3].at("content"), json::value("Error: File does not exist."));
  EXPECT_EQ(out.at("tools").as_array().size(), 2u);  // Read and NotebookEdit; server tools out
}

TEST(AnthropicInboundRequestTest, CountTokensEstimateNeedsNoMaxTokens) {
  std::string error;
  const std::string text(400, 'a');  // 400 bytes: about 100 tokens
  const std::optional<std::int64_t> n = anthropic_count_tokens_estimate(
      json::parse(R"({"model": "m", "messages": [{"role": "user", "content": ")" + text + R"("}]})")
          .as_object(),
      error);
  ASSERT_TRUE(n.has_value()) << error;
  EXPECT_GE(*n, 100);
  EXPECT_LT(*n, 120);
  // More text, more tokens.
  const std::optional<std::int64_t> more = anthropic_count_tokens_estimate(
      json::parse(R"({"model": "m", "system": ")" + text +
                  R"(", "messages": [{"role": "user", "content": ")" + text + R"("}]})")
          .as_object(),
      error);
  ASSERT_TRUE(more.has_value());
  EXPECT_GE(*more, *n + 100);
  EXPECT_FALSE(
      anthropic_count_tokens_estimate(json::parse(R"({"model": "m"})").as_object(), error));
  EXPECT_EQ(error, "messages: Field required");
  // A tool schema nested deeper than a default parse allows (the gateway reads client bodies to
  // 128 levels) is counted, not thrown on.
  std::string schema = R"({"type":"object"})";
  for (int i = 0; i < 60; ++i) {
    schema = R"({"type":"object","properties":{"x":)" + schema + "}}";
  }
  json::parse_options deep;
  deep.max_depth = 256;
  const json::value body =
      json::parse(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [)"
                  R"({"name": "t", "input_schema": )" +
                      schema + "}]}",
                  {}, deep);
  const std::optional<std::int64_t> deep_count =
      anthropic_count_tokens_estimate(body.as_object(), error);
  ASSERT_TRUE(deep_count.has_value()) << error;
  EXPECT_GT(*deep_count, 0);
}

TEST(AnthropicInboundRequestTest, ClaudeCodeCapturesTranslate) {
  AnthropicInboundOptions options;
  options.reasoning_effort = true;
  options.max_tokens_cap = 16384;
  // Turn 1: [user, system] (the system turn last, with output_config and cache_control).
  json::value out =
      translate_with(test::read_fixture("anthropic/native/claude_code_turn1.json"), options);
  const char* roles1[] = {"system", "user", "system"};
  json::array* m = &out.at("messages").as_array();
  ASSERT_EQ(m->size(), 3u) << out;
  for (std::size_t i = 0; i < m->size(); ++i) {
    EXPECT_EQ(m->at(i).at("role").as_string(), roles1[i]) << i;
  }
  EXPECT_EQ(out.at("max_tokens"), json::value(16384));
  EXPECT_EQ(out.at("reasoning_effort"), json::value("medium"));  // adaptive + effort medium
  EXPECT_EQ(out.at("stream"), json::value(true));
  EXPECT_EQ(out.at("tools").as_array().size(), 12u);  // defer_loading ignored: all declared
  // Turn 2: [user, system, assistant tool_use, user tool_result (is_error false)].
  out = translate_with(test::read_fixture("anthropic/native/claude_code_turn2.json"), options);
  const char* roles2[] = {"system", "user", "system", "assistant", "tool"};
  m = &out.at("messages").as_array();
  ASSERT_EQ(m->size(), 5u) << out;
  for (std::size_t i = 0; i < m->size(); ++i) {
    EXPECT_EQ(m->at(i).at("role").as_string(), roles2[i]) << i;
  }
  EXPECT_EQ(m->at(4).at("content"), json::value("a.txt\nb.md"));
  EXPECT_EQ(m->at(3).at("tool_calls").at(0).at("id"), json::value("toolu_cap1"));
  // The count_tokens body needs no max_tokens.
  std::string error;
  EXPECT_TRUE(anthropic_count_tokens_estimate(
      json::parse(test::read_fixture("anthropic/native/claude_code_count_tokens.json")).as_object(),
      error))
      << error;
}

TEST(AnthropicInboundRequestTest, ThinkingIsRequestedUnlessDisabledOrOmitted) {
  struct Case {
    std::string_view thinking;
    bool requested;
  };
  for (const Case c :
       {Case{R"({"type": "enabled", "budget_tokens": 2048})", true},
        Case{R"({"type": "adaptive"})", true},
        Case{R"({"type": "adaptive", "display": "omitted"})", false},
        Case{R"({"type": "disabled"})", false}, Case{"null", false}, Case{R"("yes")", false}}) {
    const json::value body =
        json::parse(R"({"model": "m", "thinking": )" + std::string(c.thinking) + "}");
    EXPECT_EQ(anthropic_thinking_requested(body.as_object()), c.requested) << c.thinking;
  }
  EXPECT_FALSE(anthropic_thinking_requested(json::parse(R"({"model": "m"})").as_object()));
}

// Every tag the unknown-tag message lists is a block the translator knows: in either role it is
// translated, dropped or refused for what it is, never as an unknown tag.
TEST(AnthropicInboundRequestTest, EveryListedBlockTagIsKnown) {
  const std::string listed =
      rejection(R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "video"}]}]})");
  std::vector<std::string> tags;
  for (std::size_t at = listed.find('\'', listed.find("tags:")); at != std::string::npos;) {
    const std::size_t end = listed.find('\'', at + 1);
    tags.emplace_back(listed.substr(at + 1, end - at - 1));
    at = listed.find('\'', end + 1);
  }
  ASSERT_EQ(tags.size(), 15u) << listed;
  for (const std::string& tag : tags) {
    for (const char* role : {"user", "assistant"}) {
      const std::string body = R"({"model": "m", "max_tokens": 10, "messages": [{"role": ")" +
                               std::string(role) + R"(", "content": [{"type": ")" + tag +
                               R"("}]}]})";
      std::string error;
      anthropic_to_openai_request(json::parse(body).as_object(), error);
      EXPECT_EQ(error.find("does not match any of the expected tags"), std::string::npos)
          << tag << " in a " << role << " turn: " << error;
    }
  }
}

TEST(AnthropicInboundRequestTest, InvalidShapesAreRejectedInAnthropicsWording) {
  struct Case {
    std::string_view body;
    std::string_view message;
  };
  const Case cases[] = {
      {R"({"max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]})",
       "model: Field required"},
      {R"({"model": 5, "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]})",
       "model: Input should be a valid string"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})",
       "max_tokens: Field required"},
      {R"({"model": "m", "max_tokens": "10", "messages": [{"role": "user", "content": "Hi"}]})",
       "max_tokens: Input should be a valid integer"},
      {R"({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "Hi"}]})",
       "max_tokens: Input should be greater than or equal to 1"},
      {R"({"model": "m", "max_tokens": 10})", "messages: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": {}})",
       "messages: Input should be a valid list"},
      {R"({"model": "m", "max_tokens": 10, "messages": []})",
       "messages: at least one message is required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [5]})",
       "messages.0: Input should be a valid dictionary"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"content": "x"}]})",
       "messages.0.role: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "tool", "content": "x"}]})",
       "messages.0.role: Input should be 'user', 'assistant' or 'system'"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "system", "content": "x"}]})",
       "messages: at least one user or assistant message is required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"},
         {"role": "system", "content": 5}]})",
       "messages.1.content: Input should be a valid list"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user"}]})",
       "messages.0.content: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": 5}]})",
       "messages.0.content: Input should be a valid list"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"text": "no type"}]}]})",
       "messages.0.content.0: Unable to extract tag using discriminator 'type'"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "text"}]}]})",
       "messages.0.content.0.text: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "video", "url": "x"}]}]})",
       "messages.0.content.0: Input tag 'video' found using 'type' does not match any of the "
       "expected tags: 'text', 'image', 'document', 'search_result', 'thinking', "
       "'redacted_thinking', 'tool_use', 'tool_result', 'server_tool_use', "
       "'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result', "
       "'mcp_tool_use', 'mcp_tool_result', 'container_upload'"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
          "data": "JVBERi0="}}]}]})",
       "messages.0.content.0: PDF and file documents cannot be sent to an OpenAI-format backend "
       "(it reads no PDFs); send the document's text, or route the request to an Anthropic "
       "backend"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]}]})",
       "messages.0.content.0: PDF and file documents cannot be sent to an OpenAI-format backend "
       "(it reads no PDFs); send the document's text, or route the request to an Anthropic "
       "backend"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "search_result", "source": "s", "title": "t", "content": []}]}]})",
       "messages.0.content.0: 'search_result' blocks cannot be sent to an OpenAI-format backend "
       "(route the request to an Anthropic backend to use them)"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]})",
       "messages.0.content.0: 'tool_use' blocks are only allowed in assistant messages"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "assistant", "content": [
         {"type": "tool_result", "tool_use_id": "t"}]}]})",
       "messages.0.content.0: 'tool_result' blocks are only allowed in user messages"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "assistant", "content": [
         {"type": "tool_use", "id": "t", "name": "f", "input": "x"}]}]})",
       "messages.0.content.0.input: Input should be a valid dictionary"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "assistant", "content": [
         {"type": "tool_use", "name": "f", "input": {}}]}]})",
       "messages.0.content.0.id: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "tool_result", "content": "x"}]}]})",
       "messages.0.content.0.tool_use_id: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "image", "source": {"type": "file", "file_id": "f"}}]}]})",
       "messages.0.content.0.source: file sources (the Files API) cannot be sent to an "
       "OpenAI-format backend"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "image", "source": {"type": "base64", "data": "x"}}]}]})",
       "messages.0.content.0.source.base64.media_type: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "document",
          "source": {"type": "text", "data": "x"}}]}]}]})",
       "messages.0.content.0.content.0: 'document' blocks cannot be sent to an OpenAI-format "
       "backend (route the request to an Anthropic backend to use them)"},
      {R"({"model": "m", "max_tokens": 10, "system": [{"type": "image"}],
          "messages": [{"role": "user", "content": "Hi"}]})",
       "system.0.type: Input should be 'text'"},
      // Paths several levels and indexes deep, each level named once and in order.
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"},
          {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "image"}]}]})",
       "messages.1.content.1.type: Input should be 'text'"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"},
          {"role": "assistant", "content": "Yes"}, {"role": "user", "content": [
          {"type": "text", "text": "a"}, {"type": "document", "source": {"type": "content",
           "content": [{"type": "text", "text": "b"}, {"type": "image"}]}}]}]})",
       "messages.2.content.1.source.content.1: only text blocks can be sent to an OpenAI-format "
       "backend"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
         {"type": "text", "text": "a"}, {"type": "tool_result", "tool_use_id": "t", "content": [
          {"type": "text", "text": "b"}, {"type": "text", "text": "c"},
          {"type": "image", "source": {"type": "base64", "data": "x"}}]}]}]})",
       "messages.0.content.1.content.2.source.base64.media_type: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "tools": [{"name": "f", "input_schema": {}}, {"name": "g", "input_schema": {}},
                    {"type": "web_search_20250305", "name": "web_search"}, {"input_schema": {}}]})",
       "tools.3.custom.name: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "tools": [{"type": "web_search_20250305", "name": "web_search"}],
          "tool_choice": {"type": "tool", "name": "web_search"}})",
       "tool_choice.tool.name: 'web_search' is not a client tool of this request (server tools "
       "cannot run on an OpenAI-format backend)"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "tools": [{"name": "f"}]})",
       "tools.0.custom.input_schema: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "tools": [{"input_schema": {}}]})",
       "tools.0.custom.name: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "tools": {}})",
       "tools: Input should be a valid list"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "some"}})",
       "tool_choice: Input tag 'some' found using 'type' does not match any of the expected "
       "tags: 'auto', 'any', 'tool', 'none'"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "tool_choice": {"type": "any"}})",
       "tool_choice: 'any' requires tools this backend can call"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "stream": "yes"})",
       "stream: Input should be a valid boolean"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "temperature": "hot"})",
       "temperature: Input should be a valid number"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "stop_sequences": "END"})",
       "stop_sequences: Input should be a valid list"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "stop_sequences": ["END", 5]})",
       "stop_sequences.1: Input should be a valid string"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "metadata": "u"})",
       "metadata: Input should be a valid dictionary"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "thinking": {"type": "enabled"}})",
       "thinking.enabled.budget_tokens: Field required"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "thinking": {"type": "on"}})",
       "thinking: Input tag 'on' found using 'type' does not match any of the expected tags: "
       "'adaptive', 'disabled', 'enabled'"},
      {R"({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}],
          "output_config": {"format": {"type": "regex"}}})",
       "output_config.format: Input tag 'regex' found using 'type' does not match any of the "
       "expected tags: 'json_schema'"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(rejection(c.body), c.message) << c.body;
  }
}

// ---- response ------------------------------------------------------------------------------

TEST(AnthropicInboundResponseTest, TextAnswerBecomesMessage) {
  const std::string out = openai_to_anthropic_response(R"({
    "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})",
                                                       "frontier");
  EXPECT_EQ(out,
            R"({"id":"msg_abc123","type":"message","role":"assistant","model":"frontier",)"
            R"("content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn",)"
            R"("stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,)"
            R"("cache_read_input_tokens":0,"output_tokens":3}})");
}

TEST(AnthropicInboundResponseTest, ToolCallsBecomeToolUseBlocks) {
  const json::value out = json::parse(openai_to_anthropic_response(R"({
    "id": "chatcmpl-t", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
      "role": "assistant", "content": "Let me check.", "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
        {"id": "call_3", "type": "function", "function": {"name": "bad", "arguments": "{oops"}}]}}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 20,
              "prompt_tokens_details": {"cached_tokens": 64}}})",
                                                                   "m"));
  EXPECT_EQ(out.at("content"), json::parse(R"([
    {"type": "text", "text": "Let me check."},
    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
    {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
    {"type": "tool_use", "id": "call_3", "name": "bad", "input": {}}])"));
  EXPECT_EQ(out.at("stop_reason"), json::value("tool_use"));
  // Anthropic's input_tokens excludes cache reads; OpenAI's prompt_tokens includes them.
  EXPECT_EQ(out.at("usage"), json::parse(R"({"input_tokens": 36, "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 64, "output_tokens": 20})"));
}

TEST(AnthropicInboundResponseTest, FinishReasonsMapToStopReasons) {
  struct Case {
    std::string_view finish;
    std::string_view stop;
  };
  const Case cases[] = {{R"("stop")", "end_turn"},          {R"("length")", "max_tokens"},
                        {R"("tool_calls")", "tool_use"},    {R"("function_call")", "tool_use"},
                        {R"("content_filter")", "refusal"}, {"null", "end_turn"}};
  for (const Case& c : cases) {
    const json::value out = json::parse(openai_to_anthropic_response(
        R"({"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "a"},
            "finish_reason": )" +
            std::string(c.finish) + "}]}",
        "m"));
    EXPECT_EQ(out.at("stop_reason"), json::value(c.stop)) << c.finish;
    EXPECT_TRUE(out.at("stop_sequence").is_null());
  }
}

TEST(AnthropicInboundResponseTest, RefusalAndEmptyAnswers) {
  const json::value refusal = json::parse(openai_to_anthropic_response(
      R"({"id": "r", "choices": [{"index": 0, "finish_reason": "content_filter",
          "message": {"role": "assistant", "content": null, "refusal": "I can't help."}}]})",
      "m"));
  EXPECT_EQ(refusal.at("content"), json::parse(R"([{"type": "text", "text": "I can't help."}])"));
  EXPECT_EQ(refusal.at("stop_reason"), json::value("refusal"));
  // No usage reported: zeros rather than a missing member (the SDKs require it).
  EXPECT_EQ(refusal.at("usage").at("output_tokens"), json::value(0));

  const json::value empty = json::parse(openai_to_anthropic_response(
      R"({"id": "e", "choices": [{"index": 0, "finish_reason": "length",
          "message": {"role": "assistant", "content": ""}}]})",
      "m"));
  EXPECT_EQ(empty.at("content"), json::array());
}

TEST(AnthropicInboundResponseTest, UnreadableAnswerIsAnApiError) {
  std::string error;
  EXPECT_FALSE(try_openai_to_anthropic_response(R"({"choices": []})", "m", error).has_value());
  EXPECT_EQ(error, "upstream answer is not a chat.completion");
  EXPECT_EQ(openai_to_anthropic_response("not json", "m"),
            R"({"type":"error","error":{"type":"api_error",)"
            R"("message":"upstream answer is not a chat.completion"}})");
}

// The answer is read in one pass (no DOM) unless its content is an array of parts; both readings
// write the same bytes.
TEST(AnthropicInboundResponseTest, TheOnePassReadingWritesWhatTheDomReadingWrites) {
  std::vector<std::string> answers = {
      sb::test::read_fixture("responses/response_text.json"),
      sb::test::read_fixture("responses/response_tool_calls.json"),
      sb::test::read_fixture("responses/response_reasoning.json"),
      sb::test::read_fixture("responses/response_length.json"),
      R"({"id":"chatcmpl-e","choices":[{"index":0,"message":{"role":"assistant",)"
      R"("content":"a\nb \"q\" \u00e9\u0001","refusal":"r\u0021","reasoning":"why\t",)"
      R"("tool_calls":[7,{"id":"c\u0031","function":{"name":"f","arguments":)"
      R"("{\"z\": [1, 2.50, {\"k\": null}], \"a\": \"\\u00e9\"}"}},{"function":"x"},{}]},)"
      R"("finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":2,)"
      R"("prompt_tokens_details":{"cached_tokens":4},"cache_creation_input_tokens":1}})",
      R"({"id":"x","choices":[{"message":{"content":{"text":"object"},"refusal":5}}]})",
      R"({"choices":[{"message":{}}],"id":7})",
      R"({"choices":[{"message":{"content":"a","content":null}}],"choices":[{"message":{"content":"b"}}]})",
      R"({"choices":[5,{"message":{"content":"late"}}]})",
      R"({"choices":[{"message":"no"}]})",
      R"({"choices":{"message":{"content":"no"}}})",
      R"({"choices":[{"message":{"content":[{"type":"text","text":"in "},{"text":"parts"}]}}]})",
      R"([{"choices":[]}])",
      "not json",
  };
  for (const std::string& a : answers) {
    for (const bool thinking : {false, true}) {
      for (const std::int64_t cache_write : {0, 6}) {
        std::string typed_error;
        std::string dom_error;
        EXPECT_EQ(
            try_openai_to_anthropic_response(a, "m\"odel", typed_error, cache_write, thinking),
            anthropic_inbound::message_from_dom(a, "m\"odel", dom_error, cache_write, thinking))
            << a;
        EXPECT_EQ(typed_error, dom_error) << a;
      }
    }
  }
}

// ---- errors --------------------------------------------------------------------------------

TEST(AnthropicInboundResponseTest, IdsKeepOnePrefix) {
  struct Case {
    std::string_view openai_id;
    std::string_view id;
  };
  for (const Case c :
       {Case{"chatcmpl-abc", "msg_abc"}, Case{"msg_01XF", "msg_01XF"},
        Case{"chatcmpl-msg_01XF", "msg_01XF"}, Case{"abc", "msg_abc"}, Case{"", "msg_unknown"}}) {
    const std::string out = openai_to_anthropic_response(
        R"({"id":")" + std::string(c.openai_id) +
            R"(","choices":[{"index":0,"message":{"role":"assistant","content":"x"},)"
            R"("finish_reason":"stop"}]})",
        "m");
    EXPECT_EQ(json::parse(out).at("id"), json::value(c.id)) << c.openai_id;
  }
}

TEST(AnthropicInboundResponseTest, ReasoningBecomesAThinkingBlockOnlyWhenAskedFor) {
  constexpr std::string_view kAnswer =
      R"({"id":"chatcmpl-r","choices":[{"index":0,"message":{"role":"assistant",)"
      R"("reasoning_content":"Two plus two.","content":"4"},"finish_reason":"stop"}]})";
  std::string error;
  std::optional<std::string> out = try_openai_to_anthropic_response(kAnswer, "m", error, 0, true);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(json::parse(*out).at("content"), json::parse(R"([
    {"type": "thinking", "thinking": "Two plus two.", "signature": ""},
    {"type": "text", "text": "4"}])"));
  out = try_openai_to_anthropic_response(kAnswer, "m", error);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(json::parse(*out).at("content"), json::parse(R"([{"type": "text", "text": "4"}])"));
  // Ollama and OpenRouter call it `reasoning`.
  out = try_openai_to_anthropic_response(
      R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","reasoning":"Hm.",)"
      R"("content":"ok"},"finish_reason":"stop"}]})",
      "m", error, 0, true);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(json::parse(*out).at("content").at(0).at("thinking"), json::value("Hm."));
}

TEST(AnthropicInboundErrorTest, StatusesMapToAnthropicErrorTypes) {
  struct Case {
    unsigned status;
    std::string_view type;
  };
  const Case cases[] = {{400, "invalid_request_error"},
                        {401, "authentication_error"},
                        {403, "permission_error"},
                        {404, "not_found_error"},
                        {409, "invalid_request_error"},
                        {413, "request_too_large"},
                        {429, "rate_limit_error"},
                        {500, "api_error"},
                        {502, "api_error"},
                        {503, "overloaded_error"},
                        {504, "timeout_error"},
                        {529, "overloaded_error"}};
  for (const Case& c : cases) {
    EXPECT_EQ(anthropic_error_type(c.status), c.type) << c.status;
    const json::value out = json::parse(openai_error_to_anthropic(
        c.status, R"({"error":{"message":"boom","type":"x","code":null}})"));
    EXPECT_EQ(out, json::parse(R"({"type": "error", "error": {"type": ")" + std::string(c.type) +
                               R"(", "message": "boom"}})"))
        << c.status;
  }
}

TEST(AnthropicInboundErrorTest, MissingMessageNamesTheStatus) {
  EXPECT_EQ(openai_error_to_anthropic(502, "<html>bad gateway</html>"),
            R"({"type":"error","error":{"type":"api_error","message":"HTTP 502"}})");
  EXPECT_EQ(openai_error_to_anthropic(403, R"({"error":{"message":"policy denies"}})"),
            R"({"type":"error","error":{"type":"permission_error","message":"policy denies"}})");
}

// ---- stream --------------------------------------------------------------------------------

std::string ev(std::string_view name, std::string_view data) {
  return "event: " + std::string(name) + "\ndata: " + std::string(data) + "\n\n";
}

std::string run(std::string_view input, std::size_t split, std::int64_t estimate = 0,
                bool* ok = nullptr) {
  AnthropicStreamWriter w("frontier", estimate);
  std::string out;
  bool good = true;
  if (split == 0) {
    good = w.feed(input, out);
  } else {
    for (std::size_t i = 0; i < input.size(); i += split) {
      good = w.feed(input.substr(i, split), out) && good;
    }
  }
  good = w.finish(out) && good;
  if (ok != nullptr) {
    *ok = good;
  }
  return out;
}

constexpr std::string_view kTextStream =
    R"(data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"llama",)"
    R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,)"
    R"("finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"llama",)"
    R"("choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],)"
    R"("usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"llama",)"
    R"("choices":[{"index":0,"delta":{"content":"lo \"world\""},"logprobs":null,)"
    R"("finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"llama",)"
    R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1,"model":"llama",)"
    R"("choices":[],"usage":{"prompt_tokens":21,"completion_tokens":4,"total_tokens":25}})"
    "\n\n"
    "data: [DONE]\n\n";

std::string expected_text_stream() {
  return ev("message_start",
            R"({"type":"message_start","message":{"id":"msg_s1","type":"message",)"
            R"("role":"assistant","model":"frontier","content":[],"stop_reason":null,)"
            R"("stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,)"
            R"("cache_read_input_tokens":0,"output_tokens":0}}})") +
         ev("content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text",)"
            R"("text":""}})") +
         ev("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
            R"("text":"Hel"}})") +
         ev("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
            R"("text":"lo \"world\""}})") +
         ev("content_block_stop", R"({"type":"content_block_stop","index":0})") +
         ev("message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
            R"("usage":{"input_tokens":21,"cache_creation_input_tokens":0,)"
            R"("cache_read_input_tokens":0,"output_tokens":4}})") +
         ev("message_stop", R"({"type":"message_stop"})");
}

constexpr std::string_view kToolStream =
    R"(data: {"id":"chatcmpl-t2","choices":[{"index":0,"delta":{"role":"assistant",)"
    R"("content":"Checking."},"finish_reason":null}]})"
    "\r\n\r\n"
    R"(data: {"id":"chatcmpl-t2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
    R"("id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},)"
    R"("finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-t2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
    R"("function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-t2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
    R"("function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-t2","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,)"
    R"("id":"call_b","type":"function","function":{"name":"now","arguments":"{}"}}]},)"
    R"("finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-t2","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"
    "\n\n"
    ": keep-alive comment\n\n"
    R"(data: {"id":"chatcmpl-t2","choices":[],"usage":{"prompt_tokens":150,)"
    R"("completion_tokens":31,"prompt_tokens_details":{"cached_tokens":100}}})"
    "\n\n"
    "data: [DONE]\n\n";

std::string expected_tool_stream() {
  return ev("message_start",
            R"({"type":"message_start","message":{"id":"msg_t2","type":"message",)"
            R"("role":"assistant","model":"frontier","content":[],"stop_reason":null,)"
            R"("stop_sequence":null,"usage":{"input_tokens":120,)"
            R"("cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}})") +
         ev("content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text",)"
            R"("text":""}})") +
         ev("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
            R"("text":"Checking."}})") +
         ev("content_block_stop", R"({"type":"content_block_stop","index":0})") +
         ev("content_block_start",
            R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use",)"
            R"("id":"call_a","name":"get_weather","input":{}}})") +
         ev("content_block_delta",
            R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",)"
            R"("partial_json":"{\"city\":"}})") +
         ev("content_block_delta",
            R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",)"
            R"("partial_json":"\"Paris\"}"}})") +
         ev("content_block_stop", R"({"type":"content_block_stop","index":1})") +
         ev("content_block_start",
            R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use",)"
            R"("id":"call_b","name":"now","input":{}}})") +
         ev("content_block_delta",
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta",)"
            R"("partial_json":"{}"}})") +
         ev("content_block_stop", R"({"type":"content_block_stop","index":2})") +
         ev("message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},)"
            R"("usage":{"input_tokens":50,"cache_creation_input_tokens":0,)"
            R"("cache_read_input_tokens":100,"output_tokens":31}})") +
         ev("message_stop", R"({"type":"message_stop"})");
}

TEST(AnthropicStreamWriterTest, TextStreamBecomesAnthropicEvents) {
  bool ok = false;
  EXPECT_EQ(run(kTextStream, 0, 0, &ok), expected_text_stream());
  EXPECT_TRUE(ok);
}

TEST(AnthropicStreamWriterTest, TextAndToolCallStreamWithUsageBecomesAnthropicEvents) {
  AnthropicStreamWriter w("frontier", 120);
  std::string out;
  EXPECT_TRUE(w.feed(kToolStream, out));
  EXPECT_TRUE(w.done());
  EXPECT_TRUE(w.finish(out));
  EXPECT_EQ(out, expected_tool_stream());
  ASSERT_TRUE(w.usage().has_value());
  EXPECT_EQ(w.usage()->input, 150);
  EXPECT_EQ(w.usage()->output, 31);
  EXPECT_EQ(w.usage()->cached_input, 100);
}

TEST(AnthropicStreamWriterTest, RelayedEventPastTheLimitEndsTheStreamWithAnError) {
  AnthropicStreamWriter w("frontier", 120);
  std::string out;
  // A relayed event that never ends: past the 16 MiB cap the writer must fail loudly rather than
  // drop the event and carry on.
  const std::string endless =
      "data: {\"choices\":[{\"delta\":{\"content\":\"" + std::string(17u << 20, 'a');
  EXPECT_FALSE(w.feed(endless, out));
  EXPECT_TRUE(w.failed());
  EXPECT_NE(out.find("event: error"), std::string::npos) << out.substr(0, 200);
  const std::size_t size = out.size();
  EXPECT_FALSE(w.feed("\n\ndata: [DONE]\n\n", out));
  EXPECT_EQ(out.size(), size) << "nothing after the error";
}

TEST(AnthropicStreamWriterTest, SplittingAtEveryByteGivesIdenticalOutput) {
  for (std::size_t split = 1; split <= 7; ++split) {
    EXPECT_EQ(run(kTextStream, split), expected_text_stream()) << "split " << split;
    EXPECT_EQ(run(kToolStream, split, 120), expected_tool_stream()) << "split " << split;
  }
}

TEST(AnthropicStreamWriterTest, SplittingAtAnyOnePointGivesIdenticalOutput) {
  for (std::size_t cut = 0; cut <= kToolStream.size(); ++cut) {
    AnthropicStreamWriter w("frontier", 120);
    std::string out;
    w.feed(kToolStream.substr(0, cut), out);
    w.feed(kToolStream.substr(cut), out);
    w.finish(out);
    ASSERT_EQ(out, expected_tool_stream()) << "cut at " << cut;
  }
}

// A chunk is read into a buffer of the reader's frame; one far larger than that buffer (a long
// tool call's arguments, 64 KiB of text at once) is read whole all the same, and alike whole, a
// byte at a time and cut anywhere.
TEST(AnthropicStreamWriterTest, AChunkLargerThanTheReadersBufferIsReadWhole) {
  std::string text;
  for (int i = 0; text.size() < 64 * 1024; ++i) {
    text += "line " + std::to_string(i) + " of a long answer, \\\"quoted\\\"\\n";
  }
  const std::string input =
      "data: {\"id\":\"chatcmpl-big\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + text +
      "\"},\"finish_reason\":null}]}\n\n"
      "data: {\"id\":\"chatcmpl-big\",\"choices\":[{\"index\":0,\"delta\":{},"
      "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
  bool ok = false;
  const std::string whole = run(input, 0, 0, &ok);
  EXPECT_TRUE(ok);
  EXPECT_NE(whole.find("\"text\":\"line 0 of a long answer, \\\"quoted\\\"\\n"), std::string::npos)
      << whole.substr(0, 400);
  EXPECT_NE(whole.find("line 1400 of a long answer"), std::string::npos);
  EXPECT_NE(whole.find("\"stop_reason\":\"end_turn\""), std::string::npos);
  EXPECT_EQ(run(input, 1), whole);
  EXPECT_EQ(run(input, 4093), whole);
}

TEST(AnthropicStreamWriterTest, UsageInFirstChunkIsReportedAtStart) {
  const std::string out =
      run("data: {\"id\":\"chatcmpl-u\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],"
          "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}\n\n"
          "data: {\"id\":\"chatcmpl-u\",\"choices\":[{\"index\":0,\"delta\":{},"
          "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}"
          "\n\ndata: [DONE]\n\n",
          0, 500);
  EXPECT_NE(out.find("\"usage\":{\"input_tokens\":9,\"cache_creation_input_tokens\":0,"
                     "\"cache_read_input_tokens\":0,\"output_tokens\":0}}}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"stop_reason\":\"max_tokens\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"output_tokens\":2}}"), std::string::npos) << out;
}

TEST(AnthropicStreamWriterTest, StreamWithoutUsageKeepsTheEstimate) {
  const std::string out =
      run("data: {\"id\":\"chatcmpl-n\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},"
          "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
          0, 42);
  EXPECT_NE(out.find("\"usage\":{\"input_tokens\":42,"), std::string::npos) << out;
  EXPECT_NE(
      out.find(ev("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn",)"
                                   R"("stop_sequence":null},"usage":{"output_tokens":0}})")),
      std::string::npos)
      << out;
}

TEST(AnthropicStreamWriterTest, ErrorEventBecomesAnthropicErrorAndEndsTheStream) {
  AnthropicStreamWriter w("frontier");
  std::string out;
  EXPECT_FALSE(w.feed(
      "data: {\"id\":\"chatcmpl-e\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"pa\"}}]}"
      "\n\n"
      "data: {\"error\":{\"message\":\"upstream provider error (overloaded_error): busy\","
      "\"type\":\"api_error\",\"code\":\"upstream_overloaded\"}}\n\n"
      "data: {\"id\":\"chatcmpl-e\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"rt\"}}]}"
      "\n\n",
      out));
  EXPECT_TRUE(w.failed());
  const std::string tail =
      ev("error", R"({"type":"error","error":{"type":"overloaded_error",)"
                  R"("message":"upstream provider error (overloaded_error): busy"}})");
  ASSERT_GE(out.size(), tail.size());
  EXPECT_EQ(out.substr(out.size() - tail.size()), tail);
  EXPECT_EQ(out.find("\"rt\""), std::string::npos);

  std::string more;
  EXPECT_FALSE(w.feed("data: [DONE]\n\n", more));
  EXPECT_FALSE(w.finish(more));
  EXPECT_TRUE(more.empty());
}

TEST(AnthropicStreamWriterTest, RateLimitAndUnknownErrorsMapByTypeAndCode) {
  AnthropicStreamWriter limited("m");
  std::string out;
  limited.feed(R"(data: {"error":{"message":"slow down","type":"rate_limit_error"}})"
               "\n\n",
               out);
  EXPECT_EQ(out, ev("error", R"({"type":"error","error":{"type":"rate_limit_error",)"
                             R"("message":"slow down"}})"));

  AnthropicStreamWriter garbage("m");
  out.clear();
  EXPECT_FALSE(garbage.feed("data: {not json\n\n", out));
  EXPECT_EQ(out, ev("error", R"({"type":"error","error":{"type":"api_error",)"
                             R"("message":"upstream sent an event that is not a JSON object"}})"));
}

TEST(AnthropicStreamWriterTest, EndWithoutDoneCompletesOnlyAfterAFinishReason) {
  bool ok = false;
  const std::string finished =
      run("data: {\"id\":\"chatcmpl-f\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},"
          "\"finish_reason\":\"stop\"}]}\n\n",
          0, 0, &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(finished.ends_with(ev("message_stop", R"({"type":"message_stop"})")));

  const std::string cut =
      run("data: {\"id\":\"chatcmpl-f\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}"
          "\n\n",
          0, 0, &ok);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(cut.ends_with(ev("error", R"({"type":"error","error":{"type":"api_error",)"
                                        R"("message":"upstream stream ended before the answer )"
                                        R"(was complete"}})")))
      << cut;
  EXPECT_EQ(cut.find("message_stop"), std::string::npos);
}

TEST(AnthropicStreamWriterTest, LateFragmentForAStoppedToolIsDropped) {
  const std::string out =
      run(R"(data: {"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c0",)"
          R"("function":{"name":"f","arguments":"{"}}]}}]})"
          "\n\n"
          R"(data: {"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c1",)"
          R"("function":{"name":"g","arguments":"{}"}}]}}]})"
          "\n\n"
          R"(data: {"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
          R"("function":{"arguments":"}"}}]},"finish_reason":"tool_calls"}]})"
          "\n\ndata: [DONE]\n\n",
          0);
  EXPECT_EQ(out.find(R"("partial_json":"}")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("index":1,"content_block":{"type":"tool_use","id":"c1")"),
            std::string::npos)
      << out;
}

// An upstream decides how many calls it streams: each of thousands opens one block, late
// fragments for stopped ones are dropped wherever they fall, and a call without an index after
// them opens the next block.
TEST(AnthropicStreamWriterTest, ThousandsOfCallsEachOpenOneBlock) {
  constexpr int kCalls = 3000;
  const std::string input = sb::test::many_tool_calls_stream(kCalls);
  const std::string out = run(input, 0);
  std::size_t tool_blocks = 0;
  for (std::size_t at = out.find(R"("type":"tool_use")"); at != std::string::npos;
       at = out.find(R"("type":"tool_use")", at + 1)) {
    ++tool_blocks;
  }
  EXPECT_EQ(tool_blocks, kCalls + 1u);
  EXPECT_EQ(out.find("late"), std::string::npos);
  // Blocks 0..2999 are the calls, 3000 the text, 3001 the call without an index.
  EXPECT_NE(out.find(R"("index":3001,"content_block":{"type":"tool_use","id":"last")"),
            std::string::npos);
  EXPECT_NE(out.find(R"("index":2999,"content_block":{"type":"tool_use","id":"c2999")"),
            std::string::npos);
}

TEST(AnthropicStreamWriterTest, DoneBeforeAnyChunkStillFormsAMessage) {
  const std::string out = run("data: [DONE]\n\n", 0);
  EXPECT_TRUE(out.starts_with("event: message_start\n")) << out;
  EXPECT_EQ(out.find("content_block_start"), std::string::npos);
  EXPECT_TRUE(out.ends_with(ev("message_stop", R"({"type":"message_stop"})")));
}

TEST(AnthropicStreamWriterTest, ReasoningStreamsAsAThinkingBlockWhenAskedFor) {
  const std::string input =
      R"(data: {"id":"chatcmpl-th","choices":[{"index":0,"delta":{"role":"assistant",)"
      R"("reasoning_content":"Think"}}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-th","choices":[{"index":0,"delta":{"reasoning_content":"ing."}}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-th","choices":[{"index":0,"delta":{"content":"Done"}}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-th","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
      "\n\ndata: [DONE]\n\n";
  const std::string thinking_start =
      ev("content_block_start",
         R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking",)"
         R"("thinking":"","signature":""}})");
  for (std::size_t split : {0, 1, 5}) {
    AnthropicStreamWriter w("m", 0, true);
    std::string out;
    for (std::size_t i = 0; i < input.size(); i += split == 0 ? input.size() : split) {
      ASSERT_TRUE(
          w.feed(std::string_view(input).substr(i, split == 0 ? input.size() : split), out));
    }
    ASSERT_TRUE(w.finish(out));
    EXPECT_NE(out.find(thinking_start), std::string::npos) << out;
    EXPECT_NE(
        out.find(ev("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":)"
                                           R"({"type":"thinking_delta","thinking":"Think"}})")),
        std::string::npos)
        << out;
    EXPECT_NE(out.find(ev("content_block_stop", R"({"type":"content_block_stop","index":0})") +
                       ev("content_block_start",
                          R"({"type":"content_block_start","index":1,"content_block":)"
                          R"({"type":"text","text":""}})")),
              std::string::npos)
        << out;
  }
  // Not asked for: no thinking block, the text is block 0.
  const std::string plain = run(input, 0);
  EXPECT_EQ(plain.find("thinking"), std::string::npos) << plain;
  EXPECT_NE(plain.find(R"("index":0,"content_block":{"type":"text")"), std::string::npos);
}

TEST(AnthropicStreamWriterTest, StartReportsTheUpstreamsOwnInputCount) {
  const std::string input =
      "data: {\"id\":\"msg_01Q\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},"
      "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
  AnthropicStreamWriter w("m", 8870);
  Usage upstream;
  upstream.input = 2585 + 100;
  upstream.cached_input = 100;
  w.set_upstream_input(upstream);
  std::string out;
  ASSERT_TRUE(w.feed(input, out));
  EXPECT_TRUE(out.starts_with(
      ev("message_start",
         R"({"type":"message_start","message":{"id":"msg_01Q","type":"message",)"
         R"("role":"assistant","model":"m","content":[],"stop_reason":null,)"
         R"("stop_sequence":null,"usage":{"input_tokens":2585,"cache_creation_input_tokens":0,)"
         R"("cache_read_input_tokens":100,"output_tokens":0}}})")))
      << out;
  // Without it, the estimate.
  const std::string estimated = run(input, 0, 8870);
  EXPECT_NE(estimated.find(R"("usage":{"input_tokens":8870,)"), std::string::npos) << estimated;
}

}  // namespace
}  // namespace sb::adapters
