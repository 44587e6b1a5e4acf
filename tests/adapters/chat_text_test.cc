#include "adapters/chat_text.h"

#include <gtest/gtest.h>

#include <string>

#include <boost/json.hpp>

#include "adapters/json_write.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

std::string content_of(const ContentParts& parts) {
  std::string out;
  parts.write_content(out);
  return out;
}

// What each piece writes is what Boost writes for the same piece built as a DOM.
TEST(ContentPartsTest, WritesTheContentEachShapeMakes) {
  ContentParts none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(content_of(none), R"("")");

  ContentParts one_text;
  one_text.text("a \"quoted\"\nline");
  EXPECT_EQ(content_of(one_text), json::serialize(json::value("a \"quoted\"\nline")));

  ContentParts one_image;
  one_image.image("https://x/y.png");
  EXPECT_EQ(content_of(one_image),
            json::serialize(
                json::parse(R"([{"type":"image_url","image_url":{"url":"https://x/y.png"}}])")));

  ContentParts mixed;
  mixed.text("look");
  mixed.image("data:image/png;base64,AA==", "low");
  mixed.file("data:application/pdf;base64,AA==", "a.pdf");
  mixed.file("data:text/plain;base64,AA==", "");
  EXPECT_EQ(content_of(mixed), json::serialize(json::parse(R"([
    {"type":"text","text":"look"},
    {"type":"image_url","image_url":{"url":"data:image/png;base64,AA==","detail":"low"}},
    {"type":"file","file":{"file_data":"data:application/pdf;base64,AA==","filename":"a.pdf"}},
    {"type":"file","file":{"file_data":"data:text/plain;base64,AA=="}}])")));

  // Appended parts keep the kind of the first: a lone text part appended to none is a string.
  ContentParts joined;
  joined.append(none);
  joined.append(one_text);
  EXPECT_EQ(content_of(joined), content_of(one_text));
  joined.append(one_image);
  std::string array;
  joined.write_array(array);
  EXPECT_EQ(content_of(joined), array);
  EXPECT_EQ(array, json::serialize(json::parse(
                       R"([{"type":"text","text":"a \"quoted\"\nline"},)"
                       R"({"type":"image_url","image_url":{"url":"https://x/y.png"}}])")));
  // A single text part written as an array stays an array.
  std::string single;
  one_text.write_array(single);
  EXPECT_EQ(single, R"([{"type":"text","text":"a \"quoted\"\nline"}])");
}

TEST(ContentPartsTest, WritesAToolCall) {
  std::string out;
  append_tool_call(out, "call_1", "get\tweather", R"({"city":"Paris"})");
  EXPECT_EQ(out, json::serialize(json::parse(
                     R"({"id":"call_1","type":"function","function":{"name":"get\tweather",)"
                     R"("arguments":"{\"city\":\"Paris\"}"}})")));
}

TEST(ChatMessagesTest, ClosesEachMessageWhenTheNextBeginsAndJoinsToolCalls) {
  std::string text;
  ChatMessages m(text);
  EXPECT_FALSE(m.any_turn());
  m.add("system", "be brief");
  EXPECT_FALSE(m.any_turn());
  ContentParts parts;
  parts.text("hi");
  m.add("user", parts);
  m.begin("assistant") += R"(,"content":"let me look")";
  m.tool_call("c1", "find", "{}");
  m.tool_call("c2", "read", R"({"a":1})");
  append_json_string(m.tool_result("c1"), "found");
  m.tool_call("c3", "run", "{}");  // after a tool message: a new assistant message
  m.finish();
  EXPECT_TRUE(m.any_turn());
  EXPECT_EQ(text,
            R"([{"role":"system","content":"be brief"},{"role":"user","content":"hi"},)"
            R"({"role":"assistant","content":"let me look","tool_calls":[)"
            R"({"id":"c1","type":"function","function":{"name":"find","arguments":"{}"}},)"
            R"({"id":"c2","type":"function","function":{"name":"read","arguments":"{\"a\":1}"}}]},)"
            R"({"role":"tool","tool_call_id":"c1","content":"found"},)"
            R"({"role":"assistant","content":null,"tool_calls":[)"
            R"({"id":"c3","type":"function","function":{"name":"run","arguments":"{}"}}]}])");
  EXPECT_TRUE(json::parse(text).is_array());
}

}  // namespace
}  // namespace sb::adapters
