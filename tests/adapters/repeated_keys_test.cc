// Keys named twice in one object, as the typed facts walk and the DOM parse tell them, and the
// facts of every value of them (collect_raw_facts): what the typed reading and the DOM drop, the
// bytes still hold.

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"
#include "adapters/chat_facts.h"
#include "adapters/json_lex.h"

namespace sb::adapters {
namespace {

// An object of `n` distinct keys ("k0", "k1", ...), with `extra` members after them.
std::string wide(std::size_t n, std::string_view extra = {}) {
  std::string out = "{";
  for (std::size_t i = 0; i < n; ++i) {
    out += (i > 0 ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  }
  out += extra;
  out += '}';
  return out;
}

std::string chat_with(std::string_view extra) {
  return std::string(R"({"model":"m","messages":[{"role":"user","content":"hi"}])") +
         std::string(extra) + "}";
}

// Both readings of `body`: the typed facts walk's merge and the DOM parse's count.
void expect_repeated(const std::string& body, bool want) {
  const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
  ASSERT_TRUE(typed.ok()) << body;
  ChatFacts facts;
  bool walked = !want;
  collect_chat_facts(typed.value(), facts, &walked);
  EXPECT_EQ(walked, want) << body;
  boost::json::monotonic_resource mr;
  boost::json::parse_options opts;
  opts.max_depth = 128;
  boost::system::error_code ec;
  bool repeated = !want;
  const boost::json::value dom = json_lex::parse(body, ec, &mr, opts, &repeated);
  ASSERT_FALSE(ec) << body;
  EXPECT_EQ(repeated, want) << body;
}

TEST(RepeatedKeysTest, BodiesWithoutRepeatsSayNo) {
  expect_repeated(chat_with(""), false);
  expect_repeated(chat_with(R"(,"metadata":{"a":"1","b":{"a":"2"}},"tools":[{"a":1},{"a":2}])"),
                  false);
  expect_repeated(chat_with(R"(,"metadata":)" + wide(300)), false);
  // The same key in two objects, or as a key and as a value, is no repeat.
  expect_repeated(chat_with(R"(,"x":{"k":"k"},"y":{"k":"k"})"), false);
}

TEST(RepeatedKeysTest, ARepeatAtAnyDepthIsFound) {
  for (const std::string& body : {
           chat_with(R"(,"messages":[])"),
           std::string(R"({"model":"m","messages":[{"role":"user","content":"a","content":"b"}]})"),
           chat_with(R"(,"tools":[{"type":"function","function":{"name":"f","name":"g"}}])"),
           chat_with(R"(,"metadata":{"deep":[[{"x":1,"y":2,"x":3}]]})"),
           // Equal once unescaped.
           chat_with(R"(,"metadata":{"a":1,"\u0061":2})"),
           // In a wide object, at its two ends; in audio data that is not base64.
           chat_with(R"(,"metadata":)" + wide(300, R"(,"k0":"again")")),
           chat_with(R"(,"x":{"input_audio":{"format":"wav","data":{"a":1,"a":2}}})"),
       }) {
    expect_repeated(body, true);
  }
}

TEST(RepeatedKeysTest, BasicParsersReadingCountsAsRepeated) {
  // A comment is basic_parser's alone: no count, so the answer fails closed.
  boost::json::monotonic_resource mr;
  boost::json::parse_options opts;
  opts.allow_comments = true;
  boost::system::error_code ec;
  bool repeated = false;
  json_lex::parse(R"({"a":1 /* c */})", ec, &mr, opts, &repeated);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(repeated);
}

TEST(RawFactsTest, EveryValueOfARepeatedKeyIsScanned) {
  ChatFacts f;
  collect_raw_facts(R"({"messages":[{"content":"first 4111"}],"messages":[{"content":"second"}]})",
                    f);
  ASSERT_EQ(f.texts.size(), 1u);
  EXPECT_EQ(f.text, "messages\ncontent\nfirst 4111\nmessages\ncontent\nsecond");
  EXPECT_EQ(f.text_bytes, std::string_view("first 4111second").size());
  EXPECT_GE(f.prompt_tokens_bound, f.text.size());
}

TEST(RawFactsTest, EscapesAreDecodedAndNestedJsonRead) {
  ChatFacts f;
  // The arguments hold JSON whose digits are escapes of their own: decoded before the scan.
  collect_raw_facts(R"({"a\u0062":"x\ny","args":"{\"card\":\"\\u0034111\"}","n":1234567,"m":12})",
                    f);
  EXPECT_NE(f.text.find("ab\n"), std::string::npos) << f.text;
  EXPECT_NE(f.text.find("x\ny"), std::string::npos) << f.text;
  EXPECT_NE(f.text.find("\ncard\n4111"), std::string::npos) << f.text;  // the JSON in a string
  EXPECT_NE(f.text.find("1234567"), std::string::npos) << f.text;       // a large integer
  EXPECT_EQ(f.text.find("\n12\n"), std::string::npos) << f.text;        // a small one is not
}

TEST(RawFactsTest, UnreadableContentIsFlagged) {
  ChatFacts f;
  collect_raw_facts(R"({"p":[{"type":"input_audio"},{"u":"data:image/png;base64,AAAA"}]})", f);
  EXPECT_TRUE(f.audio);
  EXPECT_TRUE(f.images);
  EXPECT_EQ(f.text.find("AAAA"), std::string::npos);  // base64 is flagged, not scanned
}

TEST(RawFactsTest, TextThatIsNotJsonGivesWhatWasReadBeforeTheError) {
  ChatFacts f;
  collect_raw_facts(R"({"a":"seen","b":)", f);
  EXPECT_NE(f.text.find("seen"), std::string::npos) << f.text;
  collect_raw_facts("", f);
  EXPECT_TRUE(f.text.empty());
  EXPECT_TRUE(f.texts.empty());
}

}  // namespace
}  // namespace sb::adapters
