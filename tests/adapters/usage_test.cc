#include "adapters/usage.h"

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "adapters/usage_sax.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

void expect_usage(const std::optional<Usage>& u, std::int64_t input, std::int64_t output,
                  std::int64_t cached, std::int64_t reasoning) {
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->input, input);
  EXPECT_EQ(u->output, output);
  EXPECT_EQ(u->cached_input, cached);
  EXPECT_EQ(u->reasoning, reasoning);
}

TEST(UsageTest, ReadsFullOpenAiUsage) {
  expect_usage(usage_from_openai_text(R"({"id":"x","choices":[],"usage":{
      "prompt_tokens":1283,"completion_tokens":314,"total_tokens":1597,
      "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},
      "completion_tokens_details":{"reasoning_tokens":192,"audio_tokens":0,
        "accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}})"),
               1283, 314, 1024, 192);
}

TEST(UsageTest, ReadsMinimalUsageWithZeroDetails) {
  expect_usage(usage_from_openai_text(R"({"usage":{"prompt_tokens":5,"completion_tokens":7}})"), 5,
               7, 0, 0);
}

TEST(UsageTest, TreatsNullOrAbsentDetailsAsZero) {
  expect_usage(usage_from_openai_text(R"({"usage":{"prompt_tokens":5,"completion_tokens":7,
      "prompt_tokens_details":null,"completion_tokens_details":{}}})"),
               5, 7, 0, 0);
  expect_usage(usage_from_openai_text(R"({"usage":{"prompt_tokens":5,"completion_tokens":7,
      "prompt_tokens_details":{"cached_tokens":null},"completion_tokens_details":{"x":1}}})"),
               5, 7, 0, 0);
}

TEST(UsageTest, ReturnsNulloptWhenUsageIsNullOrMissing) {
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":null})"));
  EXPECT_FALSE(usage_from_openai_text(R"({"choices":[]})"));
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{}})"));
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{"prompt_tokens":1}})"));
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{"completion_tokens":1}})"));
}

TEST(UsageTest, ReturnsNulloptForWrongTypes) {
  for (std::string_view text : {
           R"({"usage":{"prompt_tokens":"5","completion_tokens":7}})",
           R"({"usage":{"prompt_tokens":5.0,"completion_tokens":7}})",
           R"({"usage":{"prompt_tokens":5,"completion_tokens":true}})",
           R"({"usage":{"prompt_tokens":5,"completion_tokens":null}})",
           R"({"usage":{"prompt_tokens":5,"completion_tokens":7,"prompt_tokens_details":[]}})",
           R"({"usage":{"prompt_tokens":5,"completion_tokens":7,
               "prompt_tokens_details":{"cached_tokens":1.5}}})",
           R"({"usage":{"prompt_tokens":5,"completion_tokens":7,
               "completion_tokens_details":{"reasoning_tokens":"2"}}})",
           R"({"usage":[5,7]})",
           R"({"usage":"5"})",
           R"([{"usage":{"prompt_tokens":5,"completion_tokens":7}}])",
       }) {
    EXPECT_FALSE(usage_from_openai_text(text)) << text;
  }
}

TEST(UsageTest, RejectsNegativeAndOutOfRangeCounts) {
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{"prompt_tokens":-1,"completion_tokens":7}})"));
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{"prompt_tokens":1,"completion_tokens":-7}})"));
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{"prompt_tokens":1,"completion_tokens":7,
      "prompt_tokens_details":{"cached_tokens":-1}}})"));
  EXPECT_FALSE(usage_from_openai_text(
      R"({"usage":{"prompt_tokens":12345678901234567890,"completion_tokens":7}})"));
  expect_usage(usage_from_openai_text(
                   R"({"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":0}})"),
               9223372036854775807, 0, 0, 0);
}

TEST(UsageTest, ReturnsNulloptForInvalidJsonText) {
  EXPECT_FALSE(usage_from_openai_text(""));
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{"prompt_tokens":1,"completion_tokens":2})"));
}

// Only the usage member is parsed: the last one at the top level counts (as a parser keeps it),
// a "usage" nested elsewhere or inside a string does not, and a pretty-printed answer reads the
// same as a compact one.
TEST(UsageTest, TextReadsTheTopLevelUsageOnly) {
  const auto u = usage_from_openai_text(R"({
    "choices": [{"message": {"content": "\"usage\": {\"prompt_tokens\": 9}",
                             "usage": {"prompt_tokens": 8, "completion_tokens": 8}}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    "usage": {
      "prompt_tokens": 12,
      "completion_tokens": 34,
      "prompt_tokens_details": {"cached_tokens": 5}
    }
  })");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->input, 12);
  EXPECT_EQ(u->output, 34);
  EXPECT_EQ(u->cached_input, 5);
  EXPECT_FALSE(usage_from_openai_text(
      R"({"choices":[{"usage":{"prompt_tokens":1,"completion_tokens":2}}]})"));
  EXPECT_FALSE(usage_from_openai_text(R"({"usage":{"prompt_tokens":1,"completion_tokens":2.5}})"));
  EXPECT_FALSE(usage_from_openai_text(R"([{"usage":{"prompt_tokens":1,"completion_tokens":2}}])"));
}

TEST(UsageTest, ReadsParsedResponseAndBareUsageObject) {
  const json::value response = json::parse(
      R"({"object":"chat.completion","usage":{"prompt_tokens":3,"completion_tokens":4}})");
  expect_usage(usage_from_openai(response), 3, 4, 0, 0);
  expect_usage(usage_from_openai_usage(response.at("usage")), 3, 4, 0, 0);
  EXPECT_FALSE(usage_from_openai_usage(response));  // the response is not a usage object
  EXPECT_FALSE(usage_from_openai_usage(json::value(nullptr)));
}

// The same answer: both absent, or both present with every count equal.
void expect_same(const std::optional<Usage>& got, const std::optional<Usage>& expected,
                 const std::string& context) {
  EXPECT_EQ(got.has_value(), expected.has_value()) << context;
  if (got && expected) {
    EXPECT_EQ(got->input, expected->input) << context;
    EXPECT_EQ(got->output, expected->output) << context;
    EXPECT_EQ(got->cached_input, expected->cached_input) << context;
    EXPECT_EQ(got->reasoning, expected->reasoning) << context;
    EXPECT_EQ(got->cache_write, expected->cache_write) << context;
  }
}

// Reads `text` in one pass and as a DOM, expecting the same answer, and in place inside an answer
// as basic_parser reads it there; whether it was a usage.
bool agrees_with_the_dom(const std::string& text) {
  boost::system::error_code ec;
  const json::value dom = json::parse(text, ec);
  const std::optional<Usage> expected = ec ? std::nullopt : usage_from_openai_usage(dom);
  const std::optional<Usage> got = usage_from_openai_usage_text(text);
  expect_same(got, expected, text);
  // Read where it stands inside an answer, it ends where basic_parser ends it, with its answer.
  const std::string answer = "{\"usage\":" + text + " \n,\"x\":1}";
  std::size_t at = 9;
  std::optional<Usage> read;
  const bool whole = read_usage_at(answer, at, read);
  json::basic_parser<usage_detail::UsageSax> p(json::parse_options{});
  const std::size_t n = p.write_some(true, answer.data() + 9, answer.size() - 9, ec);
  const bool parser_whole = !ec && p.done();
  EXPECT_EQ(whole, parser_whole) << answer;
  if (whole && parser_whole) {
    EXPECT_EQ(at, 9 + n) << answer;
    expect_same(read, usage_detail::usage_of(p.handler()), answer);
  }
  return got.has_value();
}

// The one-pass reading of a usage value agrees with parsing it and reading the DOM, on random
// texts built from the members it reads, values of every kind, duplicates, nesting, escapes and
// broken JSON.
TEST(UsageTest, OnePassReadingAgreesWithTheDomOnRandomTexts) {
  const std::vector<std::string> keys = {"prompt_tokens",
                                         "completion_tokens",
                                         "total_tokens",
                                         "cache_creation_input_tokens",
                                         "prompt_tokens_details",
                                         "completion_tokens_details",
                                         "cached_tokens",
                                         "reasoning_tokens",
                                         "audio_tokens",
                                         "prompt\\u005ftokens",
                                         "a_key_longer_than_thirty_two_characters_here"};
  const std::vector<std::string> scalars = {"0",
                                            "5",
                                            "1283",
                                            "-1",
                                            "-0",
                                            "1.0",
                                            "1e3",
                                            "9223372036854775807",
                                            "9223372036854775808",
                                            "-9223372036854775809",
                                            "null",
                                            "true",
                                            "\"7\"",
                                            "[]",
                                            "[1,{}]",
                                            "{}"};
  std::mt19937 rng(20261203);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  std::function<std::string(int)> object = [&](int depth) {
    std::string out = "{";
    int n = static_cast<int>(rng() % 6);
    if (depth == 0 && rng() % 2 == 0) {
      // Half the usage objects start readable; the random members may still spoil them.
      out += "\"prompt_tokens\":" + std::to_string(rng() % 5000) +
             ",\"completion_tokens\":" + std::to_string(rng() % 500);
      n = n == 0 ? 0 : n - 1;
      if (n > 0) {
        out += ",";
      }
    }
    for (int i = 0; i < n; ++i) {
      if (i > 0) {
        out += rng() % 8 == 0 ? " , " : ",";
      }
      out += '"';
      out += pick(keys);
      out += "\":";
      out += depth < 3 && rng() % 3 == 0 ? object(depth + 1) : pick(scalars);
    }
    return out + "}";
  };
  int agreed_some = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = rng() % 10 == 0 ? pick(scalars) : object(0);
    switch (rng() % 12) {
      case 0:
        text = text.substr(0, rng() % (text.size() + 1));  // cut anywhere
        break;
      case 1:
        text += " \n";
        break;
      case 2:
        text += " x";
        break;
      default:
        break;
    }
    agreed_some += agrees_with_the_dom(text) ? 1 : 0;
    ASSERT_FALSE(HasFailure()) << text;
  }
  EXPECT_GT(agreed_some, 100);  // the texts reach the readable cases, not only the refusals
}

// Providers' own shapes (pretty-printed, details with other counters, duplicates, numbers at the
// edge of 64 bits) read as parsing and reading the DOM reads them.
TEST(UsageTest, ProviderShapedUsageAgreesWithTheDom) {
  const std::vector<std::string> texts = {
      "{\n    \"prompt_tokens\": 19,\n    \"completion_tokens\": 10,\n    \"total_tokens\": 29,"
      "\n    \"prompt_tokens_details\": {\n      \"cached_tokens\": 0,\n      \"audio_tokens\": 0"
      "\n    },\n    \"completion_tokens_details\": {\n      \"reasoning_tokens\": 4,\n      "
      "\"audio_tokens\": 0,\n      \"accepted_prediction_tokens\": 0\n    }\n  }",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"prompt_tokens\":7}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":3}"
      ","
      "\"prompt_tokens_details\":{}}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"completion_tokens_details\":null}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"completion_tokens_details\":3}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"cache_creation_input_tokens\":null}",
      "{\"prompt_tokens\":999999999999999999,\"completion_tokens\":2}",
      "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":2}",
      "{\"prompt_tokens\":9223372036854775808,\"completion_tokens\":2}",
      "{\"prompt_tokens\":05,\"completion_tokens\":2}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2.0}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2e0}",
      "{\"prompt_tokens\":5,\"completion_tokens\":nul}",
      "{\"prompt_tokens\":5,\"completion_tokens\":nullx}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,}",
      "{\"prompt_tokens\":5 \"completion_tokens\":2}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2} ",
      "{\"prompt_tokens\":5,\"completion_tokens\":2}}",
      " \t{ } ",
      "{\"prompt_\\u0074okens\":5,\"completion_tokens\":2}",
      // keys that begin or end with an escape, and an escaped key beside a plain one after it
      "{\"\\u0070rompt_tokens\":5,\"completion_token\\u0073\":2}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"prompt_tokens_detail\\u0073\":"
      "{\"\\u0063ached_tokens\":3},\"prompt_tokens\":6}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"x\":\"y\"}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":[]"
      "}}",
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":1",
  };
  for (const std::string& text : texts) {
    agrees_with_the_dom(text);
  }
  const std::optional<Usage> first = usage_from_openai_usage_text(texts[0]);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->input, 19);
  EXPECT_EQ(first->reasoning, 4);
  EXPECT_EQ(usage_from_openai_usage_text(texts[1])->input, 7);  // the last of duplicates wins
  EXPECT_EQ(usage_from_openai_usage_text(texts[2])->cached_input, 0);
  EXPECT_EQ(usage_from_openai_usage_text(texts[6])->input, 999999999999999999);
  EXPECT_EQ(usage_from_openai_usage_text(texts[7])->input, 9223372036854775807);
  EXPECT_FALSE(usage_from_openai_usage_text(texts[8]));
  // Escaped keys are read unescaped, whole, wherever the escape stands.
  const std::optional<Usage> escaped =
      usage_from_openai_usage_text("{\"\\u0070rompt_tokens\":5,\"completion_token\\u0073\":2}");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(escaped->input, 5);
  EXPECT_EQ(escaped->output, 2);
  const std::optional<Usage> details = usage_from_openai_usage_text(
      "{\"prompt_tokens\":5,\"completion_tokens\":2,\"prompt_tokens_detail\\u0073\":"
      "{\"\\u0063ached_tokens\":3},\"prompt_tokens\":6}");
  ASSERT_TRUE(details);
  EXPECT_EQ(details->input, 6);
  EXPECT_EQ(details->cached_input, 3);
}

// A usage member that ends the answer is read where it stands (read_usage_at), by the pass that
// finds its end; the answer is the DOM's whatever the value holds.
TEST(UsageTest, UsageAtTheEndIsReadWhereItStands) {
  const std::string_view values[] = {
      R"({"prompt_tokens":5,"completion_tokens":7,"total_tokens":12})",
      "{\n  \"prompt_tokens\": 29,\n  \"completion_tokens\": 16,\n  \"prompt_tokens_details\": "
      "{\n    \"cached_tokens\": 3,\n    \"audio_tokens\": 0\n  },\n  "
      "\"completion_tokens_details\": {\"reasoning_tokens\": 4, \"audio_tokens\": 0}\n}",
      R"({"prompt_tokens":5,"total_tokens":12,"completion_tokens":7,"prompt_tokens_details":null})",
      R"({"prompt_tokens":5,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":2},
          "prompt_tokens_details":{"audio_tokens":1}})",
      R"({"prompt\u005ftokens":5,"completion_tokens":7,"model":"m","x":[{"y":{}}]})",
      R"({"prompt_tokens":5,"completion_tokens":7,"cache_creation_input_tokens":4})",
      R"({"prompt_tokens":5,"completion_tokens":7.0})",
      R"({"prompt_tokens":-5,"completion_tokens":7})",
      R"([5,7])",
      R"(5)",
      R"(null)",
  };
  for (const std::string_view value : values) {
    const std::string answer =
        "{\"id\":\"x\",\"usage\":" + std::string(value) + " ,\"service_tier\":\"default\"}";
    const std::size_t begin = answer.find(value);
    std::size_t at = begin;
    std::optional<Usage> read;
    ASSERT_TRUE(read_usage_at(answer, at, read)) << value;
    EXPECT_EQ(at, begin + value.size() + 1) << value;  // past the value and the space after it
    const std::optional<Usage> expected = usage_from_openai_usage(json::parse(value));
    const std::optional<Usage> whole = usage_from_openai_text(answer);
    ASSERT_EQ(read.has_value(), expected.has_value()) << value;
    ASSERT_EQ(whole.has_value(), expected.has_value()) << value;
    if (expected) {
      for (const Usage& u : {*read, *whole}) {
        EXPECT_EQ(u.input, expected->input) << value;
        EXPECT_EQ(u.output, expected->output) << value;
        EXPECT_EQ(u.cached_input, expected->cached_input) << value;
        EXPECT_EQ(u.reasoning, expected->reasoning) << value;
        EXPECT_EQ(u.cache_write, expected->cache_write) << value;
      }
    }
  }
  // Not JSON where the value starts, or cut inside it: not read there.
  for (const std::string_view text : {R"({"usage":{"prompt_tokens":05}})", R"({"usage":{"a":1)",
                                      R"({"usage":)", R"({"usage":{"a":1,}})"}) {
    std::size_t at = text.find(':') + 1;
    std::optional<Usage> read;
    EXPECT_FALSE(read_usage_at(text, at, read)) << text;
    EXPECT_FALSE(usage_from_openai_text(text)) << text;
  }
  std::size_t past_end = 10;
  std::optional<Usage> read;
  EXPECT_FALSE(read_usage_at("{}", past_end, read));
}

}  // namespace
}  // namespace sb::adapters
