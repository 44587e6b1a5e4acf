#include "adapters/chat_facts.h"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace sb::adapters {
namespace {

bool has_text(const ChatFacts& f, std::string_view t) {
  return std::find(f.texts.begin(), f.texts.end(), t) != f.texts.end();
}

TEST(ChatFactsTest, CollectsEveryTextARequestCarries) {
  const boost::json::value v = boost::json::parse(R"({
    "model": "m",
    "messages": [
      {"role": "system", "content": "system prompt"},
      {"role": "user", "name": "alice", "content": [
        {"type": "text", "text": "part one"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": "part two"}]},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "lookup", "arguments": "{\"card\":\"4111111111111111\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "tool result"},
      {"role": "assistant", "function_call": {"name": "legacy", "arguments": "legacy args"}}
    ],
    "tools": [{"type": "function", "function": {"name": "lookup", "description": "finds things",
               "parameters": {"type": "object"}}}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    "max_completion_tokens": 300,
    "max_tokens": 10,
    "reasoning_effort": "high"
  })");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  for (const char* t : {"system prompt", "alice", "part one", "part two", "lookup",
                        "{\"card\":\"4111111111111111\"}", "tool result", "legacy", "legacy args",
                        "finds things"}) {
    EXPECT_TRUE(has_text(f, t)) << t;
  }
  EXPECT_FALSE(has_text(f, "https://example.com/a.png"));
  EXPECT_TRUE(f.images);
  EXPECT_TRUE(f.tools);
  EXPECT_TRUE(f.json_schema);
  EXPECT_EQ(f.depth, 5u);
  ASSERT_TRUE(f.max_tokens);
  EXPECT_EQ(*f.max_tokens, 300u) << "max_completion_tokens wins over max_tokens";
  EXPECT_EQ(f.reasoning_effort, "high");
  EXPECT_GT(f.estimated_prompt_tokens, 5u * 4);
}

TEST(ChatFactsTest, PlainRequestHasNoFeatures) {
  const boost::json::value v =
      boost::json::parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  ASSERT_EQ(f.texts.size(), 1u);
  EXPECT_EQ(f.texts[0], "hi");
  EXPECT_FALSE(f.tools || f.images || f.json_schema);
  EXPECT_FALSE(f.max_tokens);
  EXPECT_EQ(f.depth, 1u);
  EXPECT_EQ(f.estimated_prompt_tokens, 1u + 4u);
}

TEST(ChatFactsTest, ToleratesOddShapesWithoutCrashing) {
  const boost::json::value v = boost::json::parse(
      R"({"messages":[1, "x", {"content": {"weird": true}}, {"content": [null, 3, "bare"]}],
          "tools": "nope", "max_tokens": -5, "response_format": "json"})");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  EXPECT_TRUE(has_text(f, "bare"));
  EXPECT_FALSE(f.max_tokens);
  EXPECT_FALSE(f.tools);
}

TEST(ChatFactsTest, ReusesStorageAcrossRequests) {
  ChatFacts f;
  const boost::json::value a = boost::json::parse(
      R"({"messages":[{"role":"user","content":"one"},{"role":"user","content":"two"}],
          "tools":[{"type":"function","function":{"name":"t"}}]})");
  collect_chat_facts(a.as_object(), f);
  const boost::json::value b =
      boost::json::parse(R"({"messages":[{"role":"user","content":"three"}]})");
  collect_chat_facts(b.as_object(), f);
  ASSERT_EQ(f.texts.size(), 1u);
  EXPECT_EQ(f.texts[0], "three");
  EXPECT_FALSE(f.tools);
}

}  // namespace
}  // namespace sb::adapters
