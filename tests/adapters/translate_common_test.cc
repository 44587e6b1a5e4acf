#include "adapters/translate_common.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "adapters/openai_shapes.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

json::object parse(std::string_view text) {
  return json::parse(text).as_object();
}

// The output-token limit every translator reads (ChatRequest::output_cap): max_completion_tokens,
// which replaced the deprecated max_tokens, wins over it; null reads as absent.
std::optional<std::int64_t> cap_of(std::string_view body) {
  const Result<ChatRequest, ParseError> r = parse_chat_request(body, SIZE_MAX, false);
  EXPECT_TRUE(r) << body;
  return r ? r->output_cap() : std::nullopt;
}

TEST(TranslateCommonTest, MaxCompletionTokensWinsOverMaxTokens) {
  const std::string_view both = R"({"messages":[],"max_tokens":10,"max_completion_tokens":20})";
  ASSERT_TRUE(cap_of(both));
  EXPECT_EQ(*cap_of(both), 20);
  EXPECT_EQ(cap_of(R"({"messages":[],"max_tokens":10,"max_completion_tokens":null})"), 10);
  EXPECT_EQ(cap_of(R"({"messages":[],"max_tokens":null})"), std::nullopt);
}

// A limit that is not an integer is refused as OpenAI refuses it, where the DOM readings skipped
// it.
TEST(TranslateCommonTest, ALimitThatIsNotAnIntegerIsRefused) {
  const auto r = parse_chat_request(
      R"({"model":"m","messages":[],"max_completion_tokens":"many","max_tokens":7})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_type");
  EXPECT_NE(r.error().message.find("max_completion_tokens"), std::string::npos);
}

TEST(TranslateCommonTest, DataUrlParts) {
  const auto d = parse_data_url("DATA:image/png;name=a.png;BASE64,AAAA");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->header, "image/png;name=a.png;BASE64");
  EXPECT_EQ(d->media_type, "image/png");
  EXPECT_TRUE(d->base64);
  EXPECT_EQ(d->data, "AAAA");
  const auto plain = parse_data_url("data:text/plain,hi");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->base64);
  EXPECT_EQ(plain->data, "hi");
}

TEST(TranslateCommonTest, NotDataUrlsAreRefused) {
  EXPECT_FALSE(parse_data_url("https://example.com/a.png"));
  EXPECT_FALSE(parse_data_url("data:image/png;base64"));  // no comma
  EXPECT_FALSE(parse_data_url(""));
}

TEST(TranslateCommonTest, ToolChoiceStrings) {
  using Kind = ToolChoice::Kind;
  EXPECT_EQ(tool_choice_of(parse(R"({"tool_choice":"none"})"), false)->kind, Kind::none);
  EXPECT_EQ(tool_choice_of(parse(R"({"tool_choice":"auto"})"), false)->kind, Kind::automatic);
  EXPECT_EQ(tool_choice_of(parse(R"({"tool_choice":"required"})"), false)->kind, Kind::required);
  // What a ToolChoice names is a view into the body: the body must outlive it.
  const json::object sometimes = parse(R"({"tool_choice":"sometimes"})");
  const auto other = tool_choice_of(sometimes, false);
  EXPECT_EQ(other->kind, Kind::unknown);
  EXPECT_TRUE(other->is_string);
  EXPECT_EQ(other->text, "sometimes");
  EXPECT_FALSE(tool_choice_of(parse(R"({"tool_choice":null})"), false));
}

TEST(TranslateCommonTest, ToolChoiceObjects) {
  using Kind = ToolChoice::Kind;
  const json::object named =
      parse(R"({"tool_choice":{"type":"function","function":{"name":"f"}}})");
  const auto fn = tool_choice_of(named, false);
  EXPECT_EQ(fn->kind, Kind::function);
  EXPECT_EQ(fn->name, "f");
  EXPECT_FALSE(fn->legacy_name);
  const json::object legacy_body = parse(R"({"function_call":{"name":"g"}})");
  const auto legacy = tool_choice_of(legacy_body, true);
  EXPECT_EQ(legacy->kind, Kind::function);
  EXPECT_EQ(legacy->name, "g");
  EXPECT_TRUE(legacy->legacy_name);
  EXPECT_FALSE(tool_choice_of(parse(R"({"function_call":{"name":"g"}})"), false));
  const json::object custom = parse(R"({"tool_choice":{"type":"custom","name":"h"}})");
  const auto typed = tool_choice_of(custom, false);
  EXPECT_EQ(typed->kind, Kind::unknown);
  EXPECT_TRUE(typed->name.empty());
  EXPECT_EQ(tool_choice_of(parse(R"({"tool_choice":{"type":"allowed_tools"}})"), false)->kind,
            Kind::allowed_tools);
  const auto number = tool_choice_of(parse(R"({"tool_choice":3})"), false);
  EXPECT_EQ(number->kind, Kind::unknown);
  EXPECT_FALSE(number->is_string);
  EXPECT_EQ(number->object, nullptr);
}

// One table for every provider's stop reasons: their names do not collide.
TEST(TranslateCommonTest, EveryProvidersStopReasonMapsToOpenAIs) {
  // Anthropic and Bedrock
  EXPECT_EQ(openai_finish_reason("max_tokens"), "length");
  EXPECT_EQ(openai_finish_reason("model_context_window_exceeded"), "length");
  EXPECT_EQ(openai_finish_reason("tool_use"), "tool_calls");
  EXPECT_EQ(openai_finish_reason("refusal"), "content_filter");
  EXPECT_EQ(openai_finish_reason("guardrail_intervened"), "content_filter");
  EXPECT_EQ(openai_finish_reason("end_turn"), "stop");
  EXPECT_EQ(openai_finish_reason("pause_turn"), "stop");
  // Gemini
  EXPECT_EQ(openai_finish_reason("MAX_TOKENS"), "length");
  EXPECT_EQ(openai_finish_reason("SPII"), "content_filter");
  EXPECT_EQ(openai_finish_reason("STOP"), "stop");
  // Ollama
  EXPECT_EQ(openai_finish_reason("length"), "length");
  EXPECT_EQ(openai_finish_reason("unload"), "stop");
  // Anything newer, and nothing at all
  EXPECT_EQ(openai_finish_reason("a_reason_from_next_year"), "stop");
  EXPECT_EQ(openai_finish_reason(""), "stop");
}

TEST(TranslateCommonTest, SplitPromptUsageSumsThePrompt) {
  const Usage u = split_prompt_usage(10, 5, 100, 7);
  EXPECT_EQ(u.input, 117);
  EXPECT_EQ(u.output, 5);
  EXPECT_EQ(u.cached_input, 100);
  EXPECT_EQ(u.cache_write, 7);
}

TEST(TranslateCommonTest, PercentEncodeKeepsUnreservedBytes) {
  EXPECT_EQ(percent_encode("a-Z_0.~", false), "a-Z_0.~");
  EXPECT_EQ(percent_encode("models/x y:1", false), "models%2Fx%20y%3A1");
  EXPECT_EQ(percent_encode("models/x y:1", true), "models/x%20y%3A1");
  EXPECT_EQ(percent_encode("\xff", false), "%FF");
}

TEST(TranslateCommonTest, TrimmedBaseDropsTrailingSlashes) {
  EXPECT_EQ(trimmed_base("/v1//"), "/v1");
  EXPECT_EQ(trimmed_base("/"), "");
  EXPECT_EQ(trimmed_base(""), "");
}

}  // namespace
}  // namespace sb::adapters
