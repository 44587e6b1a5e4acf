// What an answer says of itself for the attempt's span: gen_ai.response.model and
// gen_ai.response.finish_reasons, from complete answers and from stream bytes, in each dialect.

#include <gtest/gtest.h>

#include "gateway/pipeline/tracing.h"

namespace sb::gateway::tracing {
namespace {

using Reasons = std::vector<std::string>;

TEST(AnswerFactsTest, CompleteAnswersInEachShape) {
  AnswerFacts chat;
  chat.read_answer(R"({"model":"gpt-4o-2024-08-06","choices":[{"finish_reason":"stop"},)"
                   R"({"finish_reason":"length"}],"usage":{}})");
  EXPECT_EQ(chat.model, "gpt-4o-2024-08-06");
  EXPECT_EQ(chat.finish_reasons, (Reasons{"stop", "length"}));

  AnswerFacts messages;
  messages.read_answer(R"({"type":"message","model":"claude-x","stop_reason":"tool_use"})");
  EXPECT_EQ(messages.model, "claude-x");
  EXPECT_EQ(messages.finish_reasons, (Reasons{"tool_use"}));

  AnswerFacts responses;
  responses.read_answer(R"({"object":"response","model":"m","status":"incomplete",)"
                        R"("incomplete_details":{"reason":"max_output_tokens"}})");
  EXPECT_EQ(responses.finish_reasons, (Reasons{"max_output_tokens"}));

  AnswerFacts broken;
  broken.read_answer("not json");
  broken.read_answer(R"(["an array"])");
  EXPECT_TRUE(broken.model.empty());
  EXPECT_TRUE(broken.finish_reasons.empty());
}

TEST(AnswerFactsTest, StreamBytesAcrossChunksAndShapes) {
  AnswerFacts s;
  s.scan_stream("data: {\"model\" : \"gpt-4o\",\"choices\":[{\"finish_reason\":null}]}\n\n");
  s.scan_stream("data: {\"model\":\"other\",\"choices\":[{\"finish_reason\": \"stop\"}]}\n\n");
  s.scan_stream("event: message_delta\ndata: {\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n");
  EXPECT_EQ(s.model, "gpt-4o");  // the first one seen
  EXPECT_EQ(s.finish_reasons, (Reasons{"stop", "end_turn"}));
  // An escaped or non-string value is no reason; the list is bounded.
  s.scan_stream(R"({"finish_reason":"a\"b"})");
  EXPECT_EQ(s.finish_reasons.size(), 2u);
  for (int i = 0; i < 40; ++i) {
    s.scan_stream(R"({"finish_reason":"stop"})");
  }
  EXPECT_EQ(s.finish_reasons.size(), 16u);
}

}  // namespace
}  // namespace sb::gateway::tracing
