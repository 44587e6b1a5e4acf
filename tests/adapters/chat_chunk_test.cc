#include "adapters/chat_chunk.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/adapters/chat_chunk_reference.h"

namespace sb::adapters {
namespace {

using testing::dom_read;
using testing::parser_read;

// Both readings of `data` agree (and `data` is read as an object or refused by both).
void expect_same(ChatChunkParser& parser, std::string_view data) {
  EXPECT_EQ(testing::describe(parser_read(parser, data)), testing::describe(dom_read(data)))
      << data;
}

TEST(ChatChunkParserTest, ReadsAStreamedChunk) {
  ChatChunkParser parser;
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",)"
      R"("choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,)"
      R"("finish_reason":null}]})",
      c));
  EXPECT_EQ(c.id, "chatcmpl-1");
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_EQ(c.choices[0].index_kind, ChunkChoice::Index::integer);
  EXPECT_EQ(c.choices[0].index, 0);
  EXPECT_EQ(c.choices[0].content, "Hi");
  EXPECT_TRUE(c.choices[0].finish_reason.empty());
  EXPECT_TRUE(c.choices[0].tool_calls.empty());
  EXPECT_FALSE(c.has_error);
  EXPECT_FALSE(c.usage);
}

TEST(ChatChunkParserTest, DecodesEscapedStringsAndKeysAndKeepsEachValid) {
  ChatChunkParser parser;
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"choices":[{"delta":{"cont\u0065nt":"a\nb\"c\u00e9","reasoning_content":"x\ty",)"
      R"("refusal":"plain"},"finish_reason":"st\u006fp"}]})",
      c));
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_EQ(c.choices[0].index_kind, ChunkChoice::Index::absent);
  EXPECT_EQ(c.choices[0].content, "a\nb\"c\xc3\xa9");
  EXPECT_EQ(c.choices[0].reasoning_text(), "x\ty");
  EXPECT_EQ(c.choices[0].refusal, "plain");
  EXPECT_EQ(c.choices[0].finish_reason, "stop");
}

TEST(ChatChunkParserTest, ReadsToolCallsOfEveryChoice) {
  ChatChunkParser parser;
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"choices":[{"index":0,"delta":{"tool_calls":[)"
      R"({"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\""}},)"
      R"(7,{"function":{"arguments":":1}"}},{"index":18446744073709551615},{"index":1.0}]}},)"
      R"({"index":1,"delta":{"tool_calls":[{"index":2,"id":"call_b"}]}}]})",
      c));
  ASSERT_EQ(c.choices.size(), 2u);
  const auto& calls = c.choices[0].tool_calls;
  ASSERT_EQ(calls.size(), 4u);  // the 7 is not a call
  EXPECT_EQ(calls[0].index, 0);
  EXPECT_EQ(calls[0].id, "call_a");
  EXPECT_EQ(calls[0].name, "f");
  EXPECT_EQ(calls[0].arguments, "{\"x\"");
  EXPECT_FALSE(calls[1].index);
  EXPECT_EQ(calls[1].arguments, ":1}");
  EXPECT_FALSE(calls[2].index);  // past int64
  EXPECT_FALSE(calls[3].index);  // not an integer
  ASSERT_EQ(c.choices[1].tool_calls.size(), 1u);
  EXPECT_EQ(c.choices[1].index, 1);
  EXPECT_EQ(c.choices[1].tool_calls[0].index, 2);
  EXPECT_EQ(c.choices[1].tool_calls[0].id, "call_b");
}

TEST(ChatChunkParserTest, ReadsEveryKindOfChoiceIndex) {
  ChatChunkParser parser;
  for (const std::string_view index : {"0", "1", "-1", "null", "0.0", "\"0\"", "[0]", "{}", "true",
                                       "18446744073709551615", "9223372036854775807"}) {
    const std::string data = R"({"choices":[{"index":)" + std::string(index) + "}]}";
    expect_same(parser, data);
  }
  ChatChunk c;
  ASSERT_TRUE(parser.parse(R"({"choices":[{"index":null},{"index":"0"},{"index":3}]})", c));
  ASSERT_EQ(c.choices.size(), 3u);
  EXPECT_EQ(c.choices[0].index_kind, ChunkChoice::Index::absent);
  EXPECT_EQ(c.choices[1].index_kind, ChunkChoice::Index::other);
  EXPECT_EQ(c.choices[2].index_kind, ChunkChoice::Index::integer);
  EXPECT_EQ(c.choices[2].index, 3);
}

TEST(ChatChunkParserTest, TheLastOfDuplicateKeysWins) {
  ChatChunkParser parser;
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"id":"a","id":"b","choices":[{"delta":{"content":"x","tool_calls":[{"id":"1"}]},)"
      R"("delta":{"content":"y"},"finish_reason":"stop","finish_reason":null}]})",
      c));
  EXPECT_EQ(c.id, "b");
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_EQ(c.choices[0].content, "y");
  EXPECT_TRUE(c.choices[0].tool_calls.empty());
  EXPECT_TRUE(c.choices[0].finish_reason.empty());

  ASSERT_TRUE(parser.parse(R"({"choices":[{"delta":{"content":"x"}}],"choices":{}})", c));
  EXPECT_TRUE(c.choices.empty());
  for (const std::string_view data : {
           R"({"choices":[{"delta":{"tool_calls":[{"id":"1"}],"tool_calls":[{"id":"2"}]}}]})",
           R"({"choices":[{"delta":{"tool_calls":[{"function":{"name":"a"},"function":{}}]}}]})",
           R"({"choices":[{"index":1,"index":[1]}]})",
           R"({"error":{"message":"a"},"error":null})",
           R"({"error":{"message":"a","type":"t"},"error":"b"})",
           R"({"usage":{"prompt_tokens":1,"completion_tokens":2},"usage":null})",
           R"({"usage":null,"usage":{"prompt_tokens":1,"completion_tokens":2}})",
       }) {
    expect_same(parser, data);
  }
}

TEST(ChatChunkParserTest, MembersOfTheWrongKindOrPlaceReadAsAbsent) {
  ChatChunkParser parser;
  for (const std::string_view data : {
           R"({"id":5,"choices":[{"delta":"text","finish_reason":{"x":"stop"}}]})",
           R"({"choices":[{"delta":{"content":["a"],"tool_calls":{"id":"c"}}}]})",
           R"({"choices":[{"delta":{"tool_calls":[{"function":"f","id":null}]}}]})",
           R"({"x":{"content":"no","choices":[{"delta":{"content":"no"}}]},"choices":[]})",
           R"({"choices":[[{"delta":{"content":"nested"}}],{"delta":{"x":{"content":"no"}}}]})",
           R"({"choices":[{"delta":{"content":"a"},"message":{"content":"no"}}]})",
           R"({"choices":"[{}]","usage":"{}"})",
       }) {
    expect_same(parser, data);
  }
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"x":{"content":"no","id":"no"},"choices":[{"delta":{"x":{"content":"no"}}}]})", c));
  EXPECT_TRUE(c.id.empty());
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_TRUE(c.choices[0].content.empty());
}

TEST(ChatChunkParserTest, ReadsTheErrorMember) {
  ChatChunkParser parser;
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"error":{"type":"rate_limit_error","code":"rate_limit_exceeded","message":"slow\u0021"}})",
      c));
  EXPECT_TRUE(c.has_error);
  EXPECT_EQ(c.error_type, "rate_limit_error");
  EXPECT_EQ(c.error_code, "rate_limit_exceeded");
  EXPECT_EQ(c.error_message, "slow!");
  ASSERT_TRUE(parser.parse(R"({"error":"boom"})", c));
  EXPECT_TRUE(c.has_error);
  EXPECT_EQ(c.error_message, "boom");
  EXPECT_TRUE(c.error_type.empty());
  ASSERT_TRUE(parser.parse(R"({"error":null,"choices":[]})", c));
  EXPECT_FALSE(c.has_error);
  for (const std::string_view data :
       {R"({"error":42})", R"({"error":[]})", R"({"error":{"code":7,"message":null}})",
        R"({"error":{"error":{"message":"inner"}}})"}) {
    ASSERT_TRUE(parser.parse(data, c)) << data;
    EXPECT_TRUE(c.has_error) << data;
    EXPECT_TRUE(c.error_message.empty()) << data;
    expect_same(parser, data);
  }
}

TEST(ChatChunkParserTest, ReadsUsageAsUsageFromOpenaiDoes) {
  ChatChunkParser parser;
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,)"
      R"("prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":)"
      R"({"reasoning_tokens":2},"cache_creation_input_tokens":3}})",
      c));
  ASSERT_TRUE(c.usage);
  EXPECT_EQ(c.usage->input, 10);
  EXPECT_EQ(c.usage->output, 5);
  EXPECT_EQ(c.usage->cached_input, 4);
  EXPECT_EQ(c.usage->reasoning, 2);
  EXPECT_EQ(c.usage->cache_write, 3);
  for (const std::string_view data : {
           R"({"usage":{"prompt_tokens":1}})",
           R"({"usage":{"prompt_tokens":1,"completion_tokens":-2}})",
           R"({"usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":null}})",
           R"({"usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens_details":[]}})",
           R"({"usage":[{"prompt_tokens":1,"completion_tokens":2}]})",
           R"({"usage":5,"id":"after"})",
           R"({"choices":[{"usage":{"prompt_tokens":1,"completion_tokens":2}}]})",
           R"({"usage":{"prompt_tokens":1,"completion_tokens":2,"x":{"id":"no"}},"id":"yes"})",
       }) {
    expect_same(parser, data);
  }
}

TEST(ChatChunkParserTest, RefusesWhatIsNotOneJsonObject) {
  ChatChunkParser parser;
  ChatChunk c;
  std::string deep(40, '[');
  deep = R"({"x":)" + deep + std::string(40, ']') + "}";
  for (const std::string_view data : std::vector<std::string_view>{
           "", "[]", "\"x\"", "null", "{", R"({"a":1} x)", R"({"a":1}{})", R"({"a":'x'})",
           "{\"a\":\"\xff\"}", "{/*c*/}", R"({"a":1,})", std::string_view(deep)}) {
    EXPECT_FALSE(parser.parse(data, c)) << data;
    EXPECT_FALSE(dom_read(data)) << data;
  }
  EXPECT_TRUE(parser.parse(" \n{} \t", c));
}

TEST(ChatChunkParserTest, AReusedParserCarriesNothingOver) {
  ChatChunkParser parser;
  ChatChunk c;
  ASSERT_TRUE(parser.parse(
      R"({"id":"a","choices":[{"delta":{"content":"x\ny","tool_calls":[{"id":"c"}]}}],)"
      R"("usage":{"prompt_tokens":1,"completion_tokens":2},"error":"e"})",
      c));
  ASSERT_TRUE(parser.parse(R"({"choices":[{}]})", c));
  EXPECT_TRUE(c.id.empty());
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_TRUE(c.choices[0].content.empty());
  EXPECT_TRUE(c.choices[0].tool_calls.empty());
  EXPECT_FALSE(c.usage);
  EXPECT_FALSE(c.has_error);
}

TEST(ChatChunkParserTest, ReadsAWholeAnswersMessage) {
  ChatChunkParser parser;
  ChatChunk c;
  const std::string_view answer =
      R"({"id":"chatcmpl-9","object":"chat.completion","choices":[{"index":0,"message":)"
      R"({"role":"assistant","content":null,"reasoning_content":"think","tool_calls":[{"id":"c1",)"
      R"("type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":)"
      R"("tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":6}})";
  ASSERT_TRUE(parser.parse(answer, c, ChunkBody::message));
  ASSERT_EQ(c.choices.size(), 1u);
  EXPECT_TRUE(c.choices[0].has_body);
  EXPECT_EQ(c.choices[0].position, 0u);
  EXPECT_TRUE(c.choices[0].content.empty());
  EXPECT_EQ(c.choices[0].reasoning_text(), "think");
  ASSERT_EQ(c.choices[0].tool_calls.size(), 1u);
  EXPECT_EQ(c.choices[0].tool_calls[0].name, "f");
  EXPECT_EQ(c.choices[0].finish_reason, "tool_calls");
  ASSERT_TRUE(c.usage);
  EXPECT_EQ(c.usage->output, 6);
  // Read as a chunk, the message is not a delta.
  ASSERT_TRUE(parser.parse(answer, c));
  EXPECT_FALSE(c.choices[0].has_body);
  EXPECT_TRUE(c.choices[0].tool_calls.empty());
  for (const std::string_view data : {
           R"({"choices":[5,{"message":{"content":"late"}}]})",
           R"({"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}]})",
           R"({"choices":[{"message":{"content":[1],"content":"b"}}]})",
           R"({"choices":[{"message":"x","delta":{"content":"d"}}]})",
           R"({"choices":[],"choices":[[],{"message":{}}]})",
       }) {
    EXPECT_EQ(testing::describe(parser_read(parser, data, ChunkBody::message)),
              testing::describe(dom_read(data, "message")))
        << data;
  }
}

// Every chunk of every recorded OpenAI-wire stream the tests use reads as the DOM reads it.
TEST(ChatChunkParserTest, EveryFixtureChunkReadsAsTheDomReadsIt) {
  ChatChunkParser parser;
  const std::vector<std::string> chunks = testing::recorded_chunks(SB_FIXTURES_DIR);
  for (const std::string& c : chunks) {
    expect_same(parser, c);
  }
  EXPECT_GT(chunks.size(), 40u);
}

}  // namespace
}  // namespace sb::adapters
