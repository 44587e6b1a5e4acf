#include "adapters/chat_facts.h"

#include <algorithm>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"

namespace sb::adapters {
namespace {

// Whether `t` is one whole line of the scanned text.
bool has_text(const ChatFacts& f, std::string_view t) {
  std::string all(1, '\n');
  all.append(f.text).push_back('\n');
  std::string line(1, '\n');
  line.append(t).push_back('\n');
  return all.find(line) != std::string::npos;
}

// Whether `t` appears anywhere in the scanned text.
bool scanned(const ChatFacts& f, std::string_view t) {
  return f.text.find(t) != std::string::npos;
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
  // The conversation as the model reads it: parts concatenated, messages joined by a space.
  EXPECT_TRUE(f.text.starts_with("system prompt part onepart two tool result\n")) << f.text;
  for (const char* t : {"alice", "lookup", "{\"card\":\"4111111111111111\"}", "legacy",
                        "legacy args", "finds things", "https://example.com/a.png"}) {
    EXPECT_TRUE(has_text(f, t)) << t;
  }
  ASSERT_EQ(f.texts.size(), 1u);
  EXPECT_EQ(f.texts[0], f.text);
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
  EXPECT_TRUE(f.texts[0].starts_with("hi\n"));
  EXPECT_FALSE(f.tools || f.images || f.json_schema || f.token_ids || f.audio || f.files);
  EXPECT_FALSE(f.max_tokens);
  EXPECT_EQ(f.depth, 1u);
  EXPECT_EQ(f.estimated_prompt_tokens, 1u + 4u);
}

TEST(ChatFactsTest, PromptBoundIsOneTokenPerByteOfEverythingTheModelReads) {
  // Digits, CJK and base64-like text: a token covers at least one byte of UTF-8 in byte-level BPE
  // and SentencePiece byte fallback, so the bound holds for each.
  for (const char* text : {"1234567890 0987654321", "\u4f60\u597d\u4e16\u754c",
                           "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="}) {
    const boost::json::value v = boost::json::parse(
        std::string(R"({"model":"m","messages":[{"role":"user","content":")") + text + "\"}]}");
    ChatFacts f;
    collect_chat_facts(v.as_object(), f);
    const std::string decoded = std::string(v.at("messages").at(0).at("content").as_string());
    EXPECT_GE(f.prompt_tokens_bound, decoded.size() + 4u) << text;
    EXPECT_GT(f.prompt_tokens_bound, f.estimated_prompt_tokens) << text;
  }
  // Tools add the providers' tool-use preamble.
  const boost::json::value tools = boost::json::parse(
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],)"
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})");
  ChatFacts f;
  collect_chat_facts(tools.as_object(), f);
  EXPECT_GE(f.prompt_tokens_bound, 512u + 2u);
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
  EXPECT_TRUE(f.texts[0].starts_with("three\n"));
  EXPECT_FALSE(scanned(f, "one"));
  EXPECT_FALSE(f.tools);
}

TEST(ChatFactsTest, ScansEveryKeyAndStringWhateverTheFieldIsCalled) {
  const boost::json::value v = boost::json::parse(R"({
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
  })");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  for (const char* t :
       {"in_key_078-05-1120", "desc-a", "enum-b", "default-c", "example-d", "rf-e", "stop-f",
        "meta-g", "user-h", "pred-i", "future-j", "future_field", "4111111111111111"}) {
    EXPECT_TRUE(has_text(f, t)) << t;
  }
  EXPECT_TRUE(f.tools);
  EXPECT_TRUE(f.json_schema);
}

TEST(ChatFactsTest, ANumberWrittenWithAFractionOrAnExponentIsScannedByItsWholePart) {
  // A card or phone number sent as a float (a careless client's float64, or an attempt to slip
  // past a scan of integers): the digits an upstream reads are scanned.
  const boost::json::value v = boost::json::parse(R"({"model": "m", "messages": [],
    "metadata": {"a": 4111111111111111.0, "b": 5.555555555554444e15, "c": -4111111111111111.5,
      "d": [123456.5], "e": 99999.9, "f": 0.7, "g": 1e308}})");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  for (const char* t : {"4111111111111111", "5555555555554444", "-4111111111111111", "123456"}) {
    EXPECT_TRUE(has_text(f, t)) << t << " in " << f.text;
  }
  EXPECT_FALSE(scanned(f, "99999")) << f.text;  // below 100,000, as integers
  EXPECT_FALSE(has_text(f, "0")) << f.text;
  // From 10^21 on, the shortest form: the largest doubles are not 309 digits of text.
  EXPECT_TRUE(has_text(f, "1e+308")) << f.text;

  // The typed walk and the raw walk read the same digits.
  const Result<ChatRequest, ParseError> typed = parse_chat_request(
      R"({"model":"m","messages":[],"metadata":{"a":4111111111111111.0,"b":5.555555555554444e15}})");
  ASSERT_TRUE(typed.ok());
  collect_chat_facts(typed.value(), f);
  EXPECT_TRUE(has_text(f, "4111111111111111")) << f.text;
  EXPECT_TRUE(has_text(f, "5555555555554444")) << f.text;
  collect_raw_facts(R"({"a":4111111111111111.0,"a":1})", f);
  EXPECT_TRUE(has_text(f, "4111111111111111")) << f.text;
}

TEST(ChatFactsTest, NumbersWrittenShortTakeLittleText) {
  // Below 10^21 a number's whole part, digit for digit; from there its shortest form. A body of
  // nothing but numbers written in five bytes (`1e308`) is scanned as text of about its size,
  // not sixty times it (each one's 309 digits), whichever collector reads it.
  const boost::json::value v = boost::json::parse(R"({"model": "m", "messages": [],
    "a": 1e20, "b": 9.99e20, "c": -9.99e20, "d": 1e21, "e": -1e21, "f": 1.5e300, "g": 5e-324,
    "h": 123456789012345678901234567890})");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  for (const char* t : {"100000000000000000000", "999000000000000000000", "-999000000000000000000",
                        "1e+21", "-1e+21", "1.5e+300", "1.2345678901234568e+29"}) {
    EXPECT_TRUE(has_text(f, t)) << t << " in " << f.text;
  }
  EXPECT_FALSE(scanned(f, "5e-324")) << f.text;  // small: nothing to scan

  std::string body = R"({"model":"m","messages":[],"metadata":[)";
  for (int i = 0; i < 20000; ++i) {
    body += i > 0 ? ",1e308" : "1e308";
  }
  body += "]}";
  ChatFacts dom;
  collect_chat_facts(boost::json::parse(body).as_object(), dom);
  const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
  ASSERT_TRUE(typed.ok());
  ChatFacts t;
  collect_chat_facts(typed.value(), t);
  ChatFacts raw;
  collect_raw_facts(body, raw);
  for (const ChatFacts* c : {&dom, &t, &raw}) {
    EXPECT_EQ(std::count(c->text.begin(), c->text.end(), '\n'),
              20000 + 3);  // and model, m, messages, metadata; the last line without its newline
    EXPECT_LT(c->text.size(), 2 * body.size());
    EXPECT_TRUE(has_text(*c, "1e+308"));
  }
}

TEST(ChatFactsTest, AnExponentInJsonHeldInAStringIsFoundWhereverItStands) {
  // JSON in a string without escapes (a content of `[...]`) is parsed only when a number in it has
  // an exponent, whose digits the text does not show. The search reads sixteen bytes a step: the
  // exponent is put at every place of texts of 2 to 80 bytes, and beside letters that are not one.
  for (std::size_t pad = 0; pad < 64; ++pad) {
    for (const std::string_view number : {"4.1e15", "41E+14", "4.1e+15", "410e13"}) {
      std::string text = "[";
      text.append(pad, ' ').append(number).append("]");
      const std::string body =
          R"({"model":"m","messages":[{"role":"user","content":")" + text + R"("}]})";
      ChatFacts f;
      collect_chat_facts(boost::json::parse(body).as_object(), f);
      EXPECT_TRUE(has_text(f, "4100000000000000")) << body << " gave " << f.text;
      const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
      ASSERT_TRUE(typed.ok()) << body;
      ChatFacts t;
      collect_chat_facts(typed.value(), t);
      EXPECT_EQ(t, f) << body;
    }
    // Letters e and E that are no exponent (no digit before, or none after it or its sign): the
    // text is not parsed, so its large number is no line of its own.
    for (const std::string_view none : {R"("e5", )", R"("1ex", )", R"("x1e+", )", R"("E", )"}) {
      std::string text = "[";
      text.append(pad, ' ').append(none).append("123456]");
      ChatFacts f;
      collect_chat_facts(
          boost::json::parse(R"({"model":"m","messages":[{"role":"user","content":)" +
                             boost::json::serialize(boost::json::value(text)) + "}]}")
              .as_object(),
          f);
      EXPECT_TRUE(scanned(f, "123456")) << text;
      EXPECT_FALSE(has_text(f, "123456")) << text << " gave " << f.text;
    }
  }
}

TEST(ChatFactsTest, AnOutputLimitIsReadAsALenientEngineReadsIt) {
  const auto asked = [](std::string_view json) {
    return output_tokens_asked(boost::json::parse(json));
  };
  EXPECT_EQ(asked("100000"), 100000u);
  EXPECT_EQ(asked("0"), 0u);
  EXPECT_EQ(asked("1e5"), 100000u);
  EXPECT_EQ(asked("100000.0"), 100000u);
  EXPECT_EQ(asked("99.2"), 100u);  // rounded up: the most it could mean
  EXPECT_EQ(asked(R"("100000")"), 100000u);
  EXPECT_EQ(asked(R"(" 1e5 ")"), 100000u);
  EXPECT_EQ(asked("1e300"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(asked("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
  for (const char* none : {"-1", "-0.5", "null", "true", R"("abc")", R"("")", R"("12abc")",
                           R"("inf")", R"("nan")", "[5]", R"({"n":5})"}) {
    EXPECT_EQ(asked(none), std::nullopt) << none;
  }
  // The facts' max_tokens, as on the chat and completions lanes.
  ChatFacts f;
  collect_chat_facts(
      boost::json::parse(R"({"messages":[],"max_completion_tokens":"32000"})").as_object(), f);
  EXPECT_EQ(f.max_tokens, 32000u);
  collect_completion_facts(boost::json::parse(R"({"prompt":"x","max_tokens":2.5e4})").as_object(),
                           f);
  EXPECT_EQ(f.max_tokens, 25000u);
}

TEST(ChatFactsTest, ChoicesAreTheAnswersEachUpToMaxTokens) {
  ChatFacts f;
  const auto chat = [&f](std::string_view json) {
    collect_chat_facts(boost::json::parse(json).as_object(), f);
    return f.choices;
  };
  EXPECT_EQ(chat(R"({"messages":[]})"), 1u);
  EXPECT_EQ(chat(R"({"messages":[],"n":4})"), 4u);
  EXPECT_EQ(chat(R"({"messages":[],"n":4.5})"), 5u);
  EXPECT_EQ(chat(R"({"messages":[],"n":"8"})"), 8u);
  EXPECT_EQ(chat(R"({"messages":[],"n":0})"), 1u);
  EXPECT_EQ(chat(R"({"messages":[],"n":-3})"), 1u);
  EXPECT_EQ(chat(R"({"messages":[],"n":null,"best_of":9})"), 1u);  // not a chat member
  const auto completion = [&f](std::string_view json) {
    collect_completion_facts(boost::json::parse(json).as_object(), f);
    return f.choices;
  };
  EXPECT_EQ(completion(R"({"prompt":"x","n":2,"best_of":6})"), 6u);
  EXPECT_EQ(completion(R"({"prompt":"x","n":3})"), 3u);
  collect_embedding_facts(boost::json::parse(R"({"input":"x","n":3})").as_object(), f);
  EXPECT_EQ(f.choices, 1u);
  // The typed reading counts the same.
  const Result<ChatRequest, ParseError> typed =
      parse_chat_request(R"({"model":"m","messages":[],"n":7})");
  ASSERT_TRUE(typed.ok());
  collect_chat_facts(typed.value(), f);
  EXPECT_EQ(f.choices, 7u);
}

TEST(ChatFactsTest, DecodesJsonHeldInStrings) {
  // The arguments hold JSON whose digits are \u escapes; the scan sees the digits.
  const boost::json::value v = boost::json::parse(R"({"messages": [
    {"role": "assistant", "tool_calls": [{"function": {"name": "pay",
      "arguments": "{\"card\": \"\\u0034111 1111 1111 1111\", \"\\u006bey\": 1}"}}]},
    {"role": "user", "content": "  [\"\\u0030\\u0037\\u0038-05-1120\"]"}]})");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  EXPECT_TRUE(has_text(f, "4111 1111 1111 1111")) << f.text;
  EXPECT_TRUE(has_text(f, "key")) << f.text;
  EXPECT_TRUE(has_text(f, "078-05-1120")) << f.text;

  // Not JSON (or broken JSON): the escapes are decoded all the same, twice nested too.
  const boost::json::value broken = boost::json::parse(R"({"metadata": {
    "a": "{\"x\": \"\\u0034111 1111 1111 1111\"]",
    "b": "ssn \\\\u0030\\\\u00378-05-1120 \\ud83d\\ude00"}})");
  collect_chat_facts(broken.as_object(), f);
  EXPECT_NE(f.text.find("\"4111 1111 1111 1111\"]"), std::string::npos) << f.text;
  EXPECT_NE(f.text.find("ssn 078-05-1120 \xF0\x9F\x98\x80"), std::string::npos) << f.text;
}

TEST(ChatFactsTest, SplitTextIsScannedAsTheModelReadsIt) {
  const boost::json::value v = boost::json::parse(R"({"messages": [
    {"role": "user", "content": [{"type": "text", "text": "card 4111 1111"},
                                 {"type": "text", "text": " 1111 1111"}]},
    {"role": "user", "content": "ssn 078-05"},
    {"role": "user", "content": [{"type": "text", "text": "-1120"}]}]})");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  EXPECT_TRUE(f.text.starts_with("card 4111 1111 1111 1111 ssn 078-05 -1120\n")) << f.text;
  // Each text once: the parts' text is not repeated after the transcript.
  EXPECT_EQ(f.text.find("4111"), f.text.rfind("4111"));
}

TEST(ChatFactsTest, FlagsWhatItCannotRead) {
  ChatFacts f;
  const boost::json::value image = boost::json::parse(R"({"messages": [{"role": "user",
    "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}]}]})");
  collect_chat_facts(image.as_object(), f);
  EXPECT_TRUE(f.images);
  EXPECT_FALSE(scanned(f, "QUJD")) << "base64 payloads are not scanned";
  EXPECT_FALSE(f.audio || f.files || f.token_ids);

  const boost::json::value audio = boost::json::parse(R"({"messages": [{"role": "user",
    "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg", "format": "wav"}}]}]})");
  collect_chat_facts(audio.as_object(), f);
  EXPECT_TRUE(f.audio);
  EXPECT_FALSE(scanned(f, "UklGRg"));
  EXPECT_TRUE(has_text(f, "wav"));
  // Audio data that is not base64 text is read like any other value.
  const boost::json::value odd_audio = boost::json::parse(R"({"messages": [{"role": "user",
    "content": [{"type": "input_audio", "input_audio": {"data": {"note": "4111"}}}]}]})");
  collect_chat_facts(odd_audio.as_object(), f);
  EXPECT_TRUE(f.audio);
  EXPECT_TRUE(has_text(f, "4111"));

  const boost::json::value file = boost::json::parse(R"({"messages": [{"role": "user",
    "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]})");
  collect_chat_facts(file.as_object(), f);
  EXPECT_TRUE(f.files);
  EXPECT_FALSE(f.images);

  const boost::json::value anthropic = boost::json::parse(R"({"messages": [{"role": "user",
    "content": [{"type": "document", "source": {"type": "base64",
      "media_type": "application/pdf", "data": "JVBERi0"}}]}]})");
  collect_body_facts(anthropic.as_object(), f);
  EXPECT_TRUE(f.files);
  EXPECT_FALSE(scanned(f, "JVBERi0"));

  const boost::json::value tokens =
      boost::json::parse(R"({"model": "m", "prompt": [[1, 2], [3]], "suffix": "end"})");
  collect_completion_facts(tokens.as_object(), f);
  EXPECT_TRUE(f.token_ids);
  EXPECT_TRUE(has_text(f, "end"));
  const boost::json::value input = boost::json::parse(R"({"model": "m", "input": [1, 2, 3]})");
  collect_embedding_facts(input.as_object(), f);
  EXPECT_TRUE(f.token_ids);
  const boost::json::value text = boost::json::parse(R"({"model": "m", "input": ["a", "b"]})");
  collect_embedding_facts(text.as_object(), f);
  EXPECT_FALSE(f.token_ids);
  EXPECT_TRUE(has_text(f, "a") && has_text(f, "b"));
}

TEST(ChatFactsTest, SchemaPropertiesNamedLikeMediaAreNotMedia) {
  const boost::json::value v = boost::json::parse(R"({"messages": [{"role": "user",
    "content": "x"}], "tools": [{"type": "function", "function": {"name": "t", "parameters":
    {"type": "object", "properties": {"file_id": {"type": "string"},
     "image_url": {"type": "string"}, "input_audio": {"type": "string"}}}}}]})");
  ChatFacts f;
  collect_chat_facts(v.as_object(), f);
  EXPECT_FALSE(f.files || f.images || f.audio);
}

}  // namespace
}  // namespace sb::adapters
