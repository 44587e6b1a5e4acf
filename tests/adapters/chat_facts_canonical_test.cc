// collect_chat_facts(const ChatRequest&) against collect_chat_facts(const boost::json::object&):
// for every body both accept, the same facts, field by field.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"
#include "adapters/chat_facts.h"

namespace sb::adapters {
namespace {

std::string describe(const ChatFacts& f) {
  std::ostringstream o;
  o << "text=[" << f.text << "] texts=" << f.texts.size() << " bytes=" << f.text_bytes
    << " est=" << f.estimated_prompt_tokens << " bound=" << f.prompt_tokens_bound
    << " max=" << (f.max_tokens ? std::to_string(*f.max_tokens) : "-") << " n=" << f.choices
    << " tools=" << f.tools << " images=" << f.images << " schema=" << f.json_schema
    << " ids=" << f.token_ids << " audio=" << f.audio << " files=" << f.files
    << " depth=" << f.depth << " effort=" << f.reasoning_effort;
  return o.str();
}

// Both collectors over `body` (a JSON object): success when the canonical parser refuses it (and
// `accepted` says so) or when the facts are equal.
testing::AssertionResult same_facts(std::string_view body, bool* accepted = nullptr) {
  const boost::json::value dom = boost::json::parse(body);
  ChatFacts want;
  collect_chat_facts(dom.as_object(), want);
  const Result<ChatRequest, ParseError> request = parse_chat_request(body);
  if (accepted != nullptr) {
    *accepted = request.ok();
  }
  if (!request.ok()) {
    return testing::AssertionSuccess() << "refused: " << request.error().message;
  }
  ChatFacts got;
  got.text = "left over from an earlier request";  // cleared first
  got.max_tokens = 7;
  collect_chat_facts(request.value(), got);
  if (!(want == got)) {
    return testing::AssertionFailure()
           << body << "\nDOM:       " << describe(want) << "\ncanonical: " << describe(got);
  }
  return testing::AssertionSuccess();
}

// Same, and the canonical parser must accept the body.
testing::AssertionResult accepted_same(std::string_view body) {
  bool accepted = false;
  testing::AssertionResult r = same_facts(body, &accepted);
  if (r && !accepted) {
    return testing::AssertionFailure() << "the canonical parser refused " << body;
  }
  return r;
}

// The chat bodies of chat_facts_test.cc, with a model where they had none (the canonical parser
// requires one, as the gateway does).
constexpr std::string_view kDomTestBodies[] = {
    R"({
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
  })",
    R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
    R"({"model":"m","messages":[{"role":"user","content":"1234567890 0987654321"}]})",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\u4f60\u597d\u4e16\u754c\"}]}",
    R"({"model":"m","messages":[{"role":"user","content":"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="}]})",
    R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
    R"("tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})",
    R"({"model":"m","messages":[{"role":"user","content":"one"},{"role":"user","content":"two"}],
          "tools":[{"type":"function","function":{"name":"t"}}]})",
    R"({"model":"m","messages":[{"role":"user","content":"three"}]})",
    R"({
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}],
    "tools": [{"type": "function", "function": {"name": "t", "parameters": {"type": "object",
      "properties": {"in_key_078-05-1120": {"type": "string", "description": "desc-a",
        "enum": ["enum-b"], "default": "default-c", "examples": ["example-d"]}}}}}],
    "response_format": {"type": "json_schema", "json_schema": {"schema": {"description": "rf-e"}}},
    "stop": ["stop-f"], "metadata": {"k": "meta-g"}, "user": "user-h",
    "prediction": {"type": "content", "content": "pred-i"},
    "future_field": [[{"deep": [{"deeper": "future-j"}]}]],
    "seed": 4111111111111111
  })",
    R"({"model":"m","messages": [
    {"role": "assistant", "tool_calls": [{"function": {"name": "pay",
      "arguments": "{\"card\": \"\\u0034111 1111 1111 1111\", \"\\u006bey\": 1}"}}]},
    {"role": "user", "content": "  [\"\\u0030\\u0037\\u0038-05-1120\"]"}]})",
    R"({"model":"m","messages":[],"metadata": {
    "a": "{\"x\": \"\\u0034111 1111 1111 1111\"]",
    "b": "ssn \\\\u0030\\\\u00378-05-1120 \\ud83d\\ude00"}})",
    R"({"model":"m","messages": [
    {"role": "user", "content": [{"type": "text", "text": "card 4111 1111"},
                                 {"type": "text", "text": " 1111 1111"}]},
    {"role": "user", "content": "ssn 078-05"},
    {"role": "user", "content": [{"type": "text", "text": "-1120"}]}]})",
    R"({"model":"m","messages": [{"role": "user",
    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}]}]})",
    R"({"model":"m","messages": [{"role": "user",
    "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg", "format": "wav"}}]}]})",
    R"({"model":"m","messages": [{"role": "user",
    "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]})",
    R"({"model":"m","messages": [{"role": "user",
    "content": [{"type": "document", "source": {"type": "base64",
      "media_type": "application/pdf", "data": "JVBERi0"}}]}]})",
    R"({"model":"m","messages": [{"role": "user",
    "content": "x"}], "tools": [{"type": "function", "function": {"name": "t", "parameters":
    {"type": "object", "properties": {"file_id": {"type": "string"},
     "image_url": {"type": "string"}, "input_audio": {"type": "string"}}}}}]})",
};

TEST(ChatFactsCanonicalTest, DomTestBodiesGiveTheSameFacts) {
  for (std::string_view body : kDomTestBodies) {
    EXPECT_TRUE(accepted_same(body));
  }
}

TEST(ChatFactsCanonicalTest, SeedCorporaGiveTheSameFacts) {
  const std::filesystem::path corpus = std::filesystem::path(SB_FIXTURES_DIR) / "../fuzz/corpus";
  int accepted = 0;
  for (const char* dir : {"chat_facts", "canonical"}) {
    for (const auto& entry : std::filesystem::directory_iterator(corpus / dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string body((std::istreambuf_iterator<char>(in)), {});
      bool ok = false;
      EXPECT_TRUE(same_facts(body, &ok)) << entry.path();
      accepted += ok ? 1 : 0;
    }
  }
  EXPECT_GE(accepted, 10);
}

TEST(ChatFactsCanonicalTest, EscapedStringsAndJsonInStrings) {
  for (
      std::string_view body : {
          R"({"model":"m\u0031","messages":[{"role":"us\u0065r","content":"a\nb\t\"q\" \u00e9 \ud83d\ude00 \\u0034"}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x\\u0034\n"},{"type":"text","text":"{\"a\":\"\\u0035\"}"}]}]})",
          R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"n\":\"{\\\"deep\\\":\\\"\\\\u0036\\\"}\"}"}}]}]})",
          R"({"model":"m","messages":[{"role":"tool","tool_call_id":"c","content":"[\"\\u0037\", {\"k\\u0065y\": 123456}]"}]})",
          R"({"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":{"n":"{\"x\": [1, 2, \"\\u0038\"] broken"}})",
          R"({"m\u006fdel":"m","messages":[{"r\u006fle":"user","c\u006fntent":"escaped keys"}],"\u0074ools":[]})",
      }) {
    EXPECT_TRUE(accepted_same(body));
  }
}

TEST(ChatFactsCanonicalTest, UnreadablePayloadsAreFlaggedAlike) {
  for (
      std::string_view body : {
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,AAAA","detail":"low"}}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"data:audio/wav;base64,AAAA"}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:application/pdf;base64,AAAA"}}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain,hello"}}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":"data:image/png;base64,QUJD"}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"QUJD"}}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"base64","media_type":"audio/mp3","data":"QUJD","text":"t"}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"base64","data":"QUJD"}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"format":"mp3","data":"QUJD","extra":"x"}}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"format":"mp3"}}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,QUJD"}}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]})",
          R"({"model":"m","messages":[{"role":"assistant","audio":{"id":"audio_1"}}]})",
          R"({"model":"m","messages":[{"role":"user","type":"input_image","content":"x"}]})",
      }) {
    EXPECT_TRUE(accepted_same(body));
  }
}

TEST(ChatFactsCanonicalTest, NumbersAreReadAsTheDomReadsThem) {
  for (
      std::string_view body : {
          R"({"model":"m","messages":[],"seed":4111111111111111,"n":99999,"x":-100000,"y":100000})",
          R"({"model":"m","messages":[],"a":18446744073709551615,"b":18446744073709551616,"c":-9223372036854775808})",
          R"({"model":"m","messages":[],"a":-9223372036854775809,"b":1e6,"c":100000.0,"d":-0,"e":[123456,7]})",
          R"({"model":"m","messages":[],"max_tokens":-5,"max_completion_tokens":null})",
          R"({"model":"m","messages":[],"max_tokens":5,"max_completion_tokens":-1})",
          R"({"model":"m","messages":[],"n":3})",
          R"({"model":"m","messages":[],"n":0,"best_of":5})",
          R"({"model":"m","messages":[],"n":-2})",
          R"({"model":"m","messages":[],"n":null})",
          R"({"model":"m","messages":[{"role":"user","content":"x","weight":1234567}]})",
          // Fractions and exponents: the whole part of the DOM's double, when large.
          R"({"model":"m","messages":[],"a":4111111111111111.0,"b":4.111111111111111e15,"c":-4111111111111111.5})",
          R"({"model":"m","messages":[],"d":123456.7,"e":0.7,"f":1e5,"g":99999.99,"h":1E+6,"i":-2.5e-3})",
          R"({"model":"m","messages":[],"j":12345678901234567890123,"k":0.1234567890123,"l":1e308,"m":5e-324})",
          R"({"model":"m","messages":[{"role":"user","content":"x","w":[6011111111111117.0]}],"temperature":0.25})",
          // JSON held in a string, without escapes: its exponents are read as numbers.
          R"({"model":"m","messages":[{"role":"user","content":"[4.111111111111111e15, 2E+5]"}]})",
          R"({"model":"m","messages":[{"role":"user","content":" {\"n\": 4.1e15}"}],"x":"[1e5"})",
      }) {
    EXPECT_TRUE(accepted_same(body));
  }
}

TEST(ChatFactsCanonicalTest, TheTextGrowsPastWhatTheBodyForetold) {
  // The text is written into room sized by the body; a large number written short (`1e20`, 21
  // digits) takes more than its bytes, so the text outgrows that room, again and again. Every
  // collector holds all of it, in order, the same as the DOM's.
  for (const int count : {1, 3, 40, 200}) {
    std::string body = R"({"model":"m","messages":[{"role":"user","content":"first"}],"n1":[)";
    for (int i = 0; i < count; ++i) {
      body += (i > 0 ? ",1e" : "1e") + std::to_string(20 - i % 5);
    }
    body += R"(],"last":"the end"})";
    std::size_t digits = 0;  // the number lines: 21 to 17 digits each, one newline between two
    for (int i = 0; i < count; ++i) {
      digits += (i > 0 ? 1 : 0) + static_cast<std::size_t>(21 - i % 5);
    }
    EXPECT_TRUE(accepted_same(body)) << count;  // the typed walk's text is the DOM walk's
    ChatFacts dom;
    collect_chat_facts(boost::json::parse(body).as_object(), dom);
    ChatFacts raw;  // in document order: no transcript first
    collect_raw_facts(body, raw);
    const auto numbers = [](const std::string& text) {  // the lines between n1 and last
      const std::size_t from = text.find("\nn1\n") + 4;
      return text.substr(from, text.rfind("\nlast\nthe end") - from);
    };
    EXPECT_TRUE(dom.text.starts_with("first\nmodel\nm\nmessages\nrole\nuser\ncontent\nn1\n"));
    EXPECT_TRUE(raw.text.starts_with("model\nm\nmessages\nrole\nuser\ncontent\nfirst\nn1\n"));
    for (const ChatFacts* c : {&dom, &raw}) {
      EXPECT_TRUE(c->text.ends_with("\nlast\nthe end")) << c->text;
      EXPECT_EQ(std::count(c->text.begin(), c->text.end(), '\n'), count + 9);
      EXPECT_EQ(numbers(c->text).size(), digits);
      ASSERT_EQ(c->texts.size(), 1u);
      EXPECT_EQ(c->texts[0], c->text);
    }
    EXPECT_EQ(numbers(raw.text), numbers(dom.text));
  }
}

TEST(ChatFactsCanonicalTest, DuplicateKeysKeepTheFirstPlaceAndTheLastValue) {
  for (
      std::string_view body : {
          R"({"model":"a","messages":[{"role":"user","content":"x"}],"model":"b"})",
          R"({"user":"u1","model":"m","messages":[{"role":"user","content":"one"}],"user":"u2","messages":[{"role":"user","content":"two"}]})",
          R"({"model":"m","messages":[{"content":"one","role":"user","content":"two","role":"assistant"}]})",
          R"({"model":"m","messages":[{"role":"user","content":"one","content":[{"type":"text","text":"a","text":"b"}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"text":"a","type":"refusal","refusal":"r"}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"refusal":"r","text":"a\n","type":"text"}]}]})",
          R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","type":"image_url"}]}]})",
          R"({"model":"m","messages":[],"metadata":{"k":"1","j":"2","k":"3"},"tools":[],"tools":null})",
          R"({"model":"m","messages":[],"response_format":{"type":"json_schema","type":"text"}})",
          R"({"model":"m","messages":[],"max_completion_tokens":3,"max_completion_tokens":null,"max_tokens":9})",
      }) {
    EXPECT_TRUE(accepted_same(body));
  }
}

TEST(ChatFactsCanonicalTest, WideObjectsKeepTheFirstPlaceAndTheLastValueToo) {
  // Past the pairwise merge (16 members): keys repeated at both ends, in the middle,
  // three times, in a message, a part and the top level.
  std::string members;
  for (int i = 0; i < 200; ++i) {
    members += ",\"k" + std::to_string(i % 150) + "\":\"v" + std::to_string(i) + "\"";
  }
  members += R"(,"k0":"last","k149":{"x":"y"},"k7":null)";
  for (const std::string& body : {
           R"({"model":"m","messages":[{"role":"user","content":"c")" + members + "}]}",
           R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"t")" +
               members + "}]}]}",
           R"({"model":"m","messages":[{"role":"user","content":"c"}])" + members + "}",
           R"({"model":"m","messages":[],"metadata":{"a":1)" + members + "}}",
       }) {
    EXPECT_TRUE(accepted_same(body));
  }
}

TEST(ChatFactsCanonicalTest, UnknownMembersAreWalkedInPlace) {
  for (
      std::string_view body : {
          R"({"zeta":{"type":"image","b":[1,"two",{"c":null}]},"model":"m","messages":[{"x":"before","role":"user","content":"c","y":{"file_id":"f"}}],"omega":"last"})",
          R"({"model":"m","messages":[{"role":"user","content":"c"}],"functions":[{"name":"f"}]})",
          R"({"model":"m","messages":[{"role":"user","content":"c"}],"functions":[]})",
          R"({"model":"m","messages":[],"x":{"input_audio":{"format":"wav","data":{"n":"4111"}}}})",
          R"({"model":"m","messages":[],"x":{"input_audio":{"format":"wav","data":"UklGRg"}}})",
          R"({"model":"m","messages":[{"role":"user","content":"c"}],"tools":[{"type":"code_interpreter","x":{"a":"b"}}],"tool_choice":{"type":"function","function":{"name":"f"}}})",
          R"({"model":"m","messages":[{"role":"user","content":"c"}],"stream":true,"stream_options":{"include_usage":true},"stop":"s","temperature":0.5})",
          "{ \"model\" : \"m\" ,\n \"messages\" : [ { \"role\" : \"user\" , \"content\" : [ { "
          "\"type\" : \"text\" , \"text\" : \"spaced\" } ] } ] ,\t\"extra\" : [ 1 , { } , [ ] ] }",
      }) {
    EXPECT_TRUE(accepted_same(body));
  }
}

TEST(ChatFactsCanonicalTest, ShapesTheCanonicalParserRefusesNeedNoAnswer) {
  // Content as an object or a number, messages that are not objects: the canonical parser refuses
  // them (a member of the wrong type), so only the DOM path ever collects their facts.
  for (std::string_view body : {
           R"({"model":"m","messages":[{"role":"user","content":{"weird":true}}]})",
           R"({"model":"m","messages":[{"role":"user","content":42}]})",
           R"({"model":"m","messages":[1,"x"]})",
           R"({"model":"m","messages":[{"role":"user","content":[null,3,"bare"]}]})",
       }) {
    bool accepted = true;
    EXPECT_TRUE(same_facts(body, &accepted));
    EXPECT_FALSE(accepted) << body;
  }
}

}  // namespace
}  // namespace sb::adapters
