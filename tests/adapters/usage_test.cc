#include "adapters/usage.h"

#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/json.hpp>

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

}  // namespace
}  // namespace sb::adapters
