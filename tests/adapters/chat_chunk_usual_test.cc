// read_usual_chunk (adapters/chat_chunk_internal.h): the streamed chunks servers send are read by
// hand, and what it reads (through ChatChunkParser, which tries it first) is what a DOM reads;
// what it does not take on it refuses, and the SAX reading behind it still reads as the DOM does.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "adapters/chat_chunk.h"
#include "adapters/chat_chunk_internal.h"
#include "tests/adapters/chat_chunk_reference.h"

namespace sb::adapters {
namespace {

/// One reading by hand, its buffers and what it read kept for the checks; the memos a stream keeps
/// from chunk to chunk given (or none).
struct HandRead {
  HandRead(std::string_view data, std::string_view body = "delta",
           chunk_detail::ChunkPrefix* prefix = nullptr,
           chunk_detail::ChunkContent* content = nullptr)
      : r{choices, calls, calls_begin, decoded, {}, {}, prefix, content},
        ok(chunk_detail::read_usual_chunk(data, body, r)) {}

  std::vector<ChunkChoice> choices;
  std::vector<ChunkToolCall> calls;
  std::vector<std::size_t> calls_begin;
  std::string decoded;
  chunk_detail::Reading r;
  bool ok;
};

bool read_by_hand(std::string_view data, std::string_view body = "delta") {
  return HandRead(data, body).ok;
}

void expect_same(ChatChunkParser& parser, std::string_view data) {
  EXPECT_EQ(testing::describe(testing::parser_read(parser, data)),
            testing::describe(testing::dom_read(data)))
      << data;
  EXPECT_EQ(testing::describe(testing::parser_read(parser, data, ChunkBody::message)),
            testing::describe(testing::dom_read(data, "message")))
      << data;
}

// Every recorded chunk but an error event is of the usual shape: content, reasoning, tool calls,
// finish reasons, usage with its details.
TEST(ChatChunkUsualTest, TheRecordedChunksAreReadByHand) {
  std::size_t taken = 0;
  std::size_t errors = 0;
  const std::vector<std::string> chunks = testing::recorded_chunks(SB_FIXTURES_DIR);
  for (const std::string& c : chunks) {
    if (c.find("\"error\"") != std::string::npos) {
      ++errors;
      EXPECT_FALSE(read_by_hand(c)) << c;
      continue;
    }
    EXPECT_TRUE(read_by_hand(c)) << c;
    taken += read_by_hand(c) ? 1 : 0;
  }
  EXPECT_GT(taken, 40u);
  EXPECT_EQ(taken + errors, chunks.size());
}

// What servers send, in the forms the reader takes on, reads as the DOM reads it.
TEST(ChatChunkUsualTest, WhatItTakesOnReadsAsTheDomReadsIt) {
  const std::vector<std::string_view> usual = {
      R"({"id":"c","object":"chat.completion.chunk","created":1796470475,"model":"m",)"
      R"("service_tier":"default","system_fingerprint":"fp","choices":[{"index":0,)"
      R"("delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,)"
      R"("finish_reason":null}],"usage":null})",
      // Escapes of every kind, a surrogate pair, UTF-8 as it is, in values and in keys.
      R"({"choices":[{"delta":{"cont\u0065nt":"a\nb\"c\\d\/e\b\f\r\t\u00e9\ud83d\ude00 é 😀"}}]})",
      // Tool calls, as they stream: the first with its id and name, then arguments in pieces.
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",)"
      R"("function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":)"
      R"("{\"city\": \"Paris\"}"}},{"index":1,"id":null,"function":null}]}}]})",
      // A whole answer, pretty-printed, with its usage and details.
      "{\n  \"id\": \"chatcmpl-1\",\n  \"choices\": [\n    {\n      \"index\": 0,\n"
      "      \"message\": {\n        \"role\": \"assistant\",\n        \"content\": \"Hi\",\n"
      "        \"annotations\": []\n      },\n      \"logprobs\": null,\n"
      "      \"finish_reason\": \"stop\"\n    }\n  ],\n  \"usage\": {\n"
      "    \"prompt_tokens\": 29,\n    \"completion_tokens\": 16,\n    \"total_tokens\": 45,\n"
      "    \"prompt_tokens_details\": {\"cached_tokens\": 3, \"audio_tokens\": 0},\n"
      "    \"completion_tokens_details\": {\"reasoning_tokens\": 5}\n  }\n}\n",
      // Members nobody reads, of every kind and nested; numbers of every form.
      R"({"x":[1,-2,0.5,-0,1e3,2E-7,1.25e+10,true,false,null,{"a":[[]],"b":{}}],"y":{"z":"w"},)"
      R"("choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})",
      R"({"choices":[{"index":1,"delta":{"reasoning_content":"think","reasoning":"r"}},)"
      R"({"index":2,"delta":null,"finish_reason":"length"},{"delta":{"content":null}}]})",
      R"({"choices":null,"id":null,"error":null})",
      " {} ",
  };
  ChatChunkParser parser;
  for (std::string_view c : usual) {
    EXPECT_TRUE(read_by_hand(c) || read_by_hand(c, "message")) << c;
    expect_same(parser, c);
  }
}

// Malformed JSON, what basic_parser refuses, and the shapes the reader leaves to it: refused here,
// and read by the parser as the DOM reads them (or refused by both).
TEST(ChatChunkUsualTest, WhatItDoesNotTakeOnIsLeftToTheSaxReading) {
  const std::vector<std::string_view> others = {
      // Malformed.
      R"({"a":1 "b":2})",
      R"({"a":1,})",
      R"({"choices":[{"delta":{}},]})",
      R"({"a":[1 2]})",
      R"({"a":1}})",
      R"({"a":1} x)",
      R"({"a")",
      R"({"a":)",
      R"({"a":"b)",
      R"({"a":nul})",
      R"({"a":nullx})",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":1e})",
      R"({"a":-})",
      R"({'a':1})",
      R"({"a":"\x"})",
      R"({"a":"\u12"})",
      R"({"a":"\ud800"})",
      R"({"a":"\udc00\ud800"})",
      "{\"a\":\"\x01\"}",
      "{\"a\":\"\xff\"}",
      "{\"a\":\"\xc3\"}",
      "{\"a\":\"\xed\xa0\x80\"}",
      R"([])",
      R"("s")",
      R"(1)",
      "",
      // Valid, but not the usual shape.
      R"({"id":"a","id":"b"})",
      R"({"choices":[{"delta":{"content":"a","content":"b"}}]})",
      R"({"choices":[{"index":-1}]})",
      R"({"choices":[{"index":1.0}]})",
      R"({"choices":[{"index":"0"}]})",
      R"({"choices":[1,{"index":0}]})",
      R"({"choices":[{"delta":{"content":[{"type":"text","text":"a"}]}}]})",
      R"({"choices":[{"delta":{"tool_calls":[{"index":0},3]}}]})",
      R"({"error":{"message":"overloaded","type":"server_error"}})",
      R"({"error":"x"})",
      R"({"usage":{"prompt_tokens":-1,"completion_tokens":2}})",
      R"({"choices":{}})",
      R"({"a":12345678901234567890})",
      R"({"a":1e99999})",
      R"({"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
  };
  ChatChunkParser parser;
  for (std::string_view c : others) {
    EXPECT_FALSE(read_by_hand(c)) << c;
    expect_same(parser, c);
  }
}

// A stream's chunks start with the same members (id, object, created, model, fingerprint), which
// the reader checks once and then knows by their bytes. What follows them, and any chunk that
// differs in one byte, is read as the DOM reads it, by one parser from chunk to chunk.
TEST(ChatChunkUsualTest, LeadingMembersAStreamRepeatsAreReadAsTheDomReadsThem) {
  const std::string lead =
      R"({"id":"chatcmpl-7","object":"chat.completion.chunk","created":1796470475,"model":"m",)"
      R"("system_fingerprint":"fp",)";
  const std::string lead2 = R"({"id":"chatcmpl-7","object":"chat.completion.chunk",)"
                            R"("created":1796470476,"model":"m","system_fingerprint":"fp",)";
  const std::string choice =
      R"("choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}])";
  const std::vector<std::string> stream = {
      lead + choice + "}",
      lead + R"("choices":[{"index":0,"delta":{"content":" there"}}]})",
      lead + choice + R"(,"usage":{"prompt_tokens":3,"completion_tokens":2}})",
      lead + choice + R"(,"id":"chatcmpl-8"})",             // the id twice: the last wins
      lead + R"("id":"x",)" + choice + "}",                 // the same
      lead + choice,                                        // cut short
      lead + R"("choices":[{"delta":{"content":"a"}},]})",  // malformed after the lead
      lead + "}",                                           // a lead that ends the object
      lead.substr(0, lead.size() - 1) + "}",                // the lead without its comma
      lead,                                                 // the lead alone
      lead2 + choice + "}",                                 // one byte differs
      lead2 + R"("choices":[{"index":0,"delta":{"content":"!"}}]})",
      lead + choice + "}",
      R"({"id":"chat\u0063mpl-9","object":"chat.completion.chunk",)" + choice + "}",  // escaped
      R"({"id":"chat\u0063mpl-9","object":"chat.completion.chunk",)" + choice + "}",
      R"({"object":"chat.completion.chunk","id":"late",)" + choice + "}",
      R"({"object":"chat.completion.chunk","id":"late",)" + choice + "}",
      R"({"object":"chat.completion.chunk","id":"later",)" + choice + "}",
      "  \n" + lead + choice + "}\n",
      "  \n" + lead + choice + "}\n",
      R"({"object":"chat.completion.chunk","created":1,"model":"m","extra":{"a":[1,2]},)" + choice +
          "}",
      R"({"object":"chat.completion.chunk","created":1,"model":"m","extra":{"a":[1,2]},)" + choice +
          "}",
      choice,
  };
  ChatChunkParser parser;
  for (int round = 0; round < 2; ++round) {
    for (const std::string& c : stream) {
      expect_same(parser, c);
    }
  }

  // What is kept: the lead, up to the first member read anew, and where its id is.
  chunk_detail::ChunkPrefix prefix;
  ASSERT_TRUE(HandRead(stream[0], "delta", &prefix).ok);
  EXPECT_EQ(prefix.bytes, lead);
  EXPECT_TRUE(prefix.has_id);
  EXPECT_EQ(lead.substr(prefix.id_begin, prefix.id_size), "chatcmpl-7");
  // The next chunk's id is a view of that chunk, read where the lead says it is.
  const std::string next = stream[1];
  const HandRead second(next, "delta", &prefix);
  ASSERT_TRUE(second.ok);
  EXPECT_EQ(second.r.id, "chatcmpl-7");
  EXPECT_EQ(second.r.id.data(), next.data() + prefix.id_begin);
  ASSERT_EQ(second.choices.size(), 1u);
  EXPECT_EQ(second.choices[0].content, " there");
}

// The usual content delta is the same bytes around other text from chunk to chunk: once one was
// read whole, the next is read as its text alone. Whatever is around a string, and whatever string,
// the reading is the DOM's, by one parser from chunk to chunk.
TEST(ChatChunkUsualTest, ContentDeltasAroundTheSameBytesAreReadAsTheDomReadsThem) {
  const std::string lead = R"({"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,)"
                           R"("model":"m","choices":[{"index":0,"delta":{"content":)";
  const std::string tail = R"(},"logprobs":null,"finish_reason":null}],"usage":null})";
  const auto chunk = [&](std::string_view content) { return lead + std::string(content) + tail; };
  const std::vector<std::string> stream = {
      chunk(R"("Hello")"),
      chunk(R"(" there")"),
      chunk(R"("")"),
      chunk(R"("a\nb\"c\\d \u00e9\ud83d\ude00 é")"),
      chunk(R"("two","content":"contents")"),  // the key twice: the last wins
      chunk(R"("a"},"x":{"y":"b")"),           // a string, then more members
      chunk(R"(null)"),
      chunk(R"(5)"),
      chunk(R"("unterminated)"),
      chunk("\"a control \x01 byte\""),
      chunk("\"invalid \xff UTF-8\""),
      chunk(R"("bad \x escape")"),
      chunk(R"("ends" )"),  // whitespace the bytes around did not have
      lead + R"("usage next"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":1,)"
             R"("completion_tokens":2}})",
      lead + R"("usage again"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":1,)"
             R"("completion_tokens":2}})",
      chunk(R"("back")"),
      lead + R"("done"},"logprobs":null,"finish_reason":"stop"}],"usage":null})",
      lead + R"("done too"},"logprobs":null,"finish_reason":"stop"}],"usage":null})",
      R"({"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,"model":"m","choices":[)"
      R"({"index":0,"delta":{"content":"x"}},{"index":1,"delta":{"content":"y"}}],"usage":null})",
      chunk(R"("again")"),
      // A reasoning model's thinking, under either name, beside a null text or alone.
      R"({"choices":[{"index":0,"delta":{"reasoning_content":"Let me","content":null}}]})",
      R"({"choices":[{"index":0,"delta":{"reasoning_content":" think","content":null}}]})",
      R"({"choices":[{"index":0,"delta":{"reasoning_content":"and","content":"say"}}]})",
      R"({"choices":[{"index":0,"delta":{"reasoning_content":"and","content":"speak"}}]})",
      R"({"choices":[{"index":0,"delta":{"reasoning":"hm"}}]})",
      R"({"choices":[{"index":0,"delta":{"reasoning":"hmm"}}]})",
      // A tool call's arguments as they stream, after the chunk that names the call.
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":)"
      R"("function","function":{"name":"Write","arguments":""}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":)"
      R"("{\"pa"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":)"
      R"("th\": \"a.txt\"}"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":)"
      R"(null}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":)"
      R"("{}"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":)"
      R"("[]"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"y"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"W",)"
      R"("arguments":"a"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"W",)"
      R"("arguments":"b"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":)"
      R"({"arguments":"a"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":)"
      R"({"arguments":"b"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"t","tool_calls":[{"index":0,"function":)"
      R"({"arguments":"a"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"t","tool_calls":[{"index":0,"function":)"
      R"({"arguments":"b"}}]}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"t1","tool_calls":[{"index":0}]}}]})",
      R"({"choices":[{"index":0,"delta":{"content":"t2","tool_calls":[{"index":0}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"a"}},)"
      R"({"index":1}]}}]})",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"b"}},)"
      R"({"index":1}]}}]})",
      R"({"choices":[{"delta":{"content":"no lead"}}]})",
      R"({"choices":[{"delta":{"content":"no lead, twice"}}]})",
      R"({"choices":[{"delta":{"content":"no lead","tool_calls":[{"index":0,"function":)"
      R"({"arguments":"{}"}}]}}]})",
      R"({"choices":[{"delta":{"content":"a call","tool_calls":[{"index":0,"function":)"
      R"({"arguments":"{}"}}]}}]})",
  };
  ChatChunkParser parser;
  for (int round = 0; round < 2; ++round) {
    for (const std::string& c : stream) {
      expect_same(parser, c);
    }
  }

  // What is kept: the bytes around the text; the next text is a view of its own chunk.
  chunk_detail::ChunkContent content;
  ASSERT_TRUE(HandRead(stream[0], "delta", nullptr, &content).ok);
  EXPECT_EQ(content.around, lead + tail);
  EXPECT_EQ(content.before, lead.size());
  const std::string next = stream[1];
  const HandRead second(next, "delta", nullptr, &content);
  ASSERT_TRUE(second.ok);
  ASSERT_EQ(second.choices.size(), 1u);
  EXPECT_EQ(second.choices[0].content, " there");
  EXPECT_EQ(second.choices[0].content.data(), next.data() + lead.size() + 1);
  EXPECT_EQ(second.r.id, "chatcmpl-7");
  EXPECT_FALSE(usage_detail::usage_of(second.r.usage).has_value());

  // The same for a reasoning model's thinking.
  const std::string think = R"({"choices":[{"index":0,"delta":{"reasoning_content":"Let me"}}]})";
  const std::string more = R"({"choices":[{"index":0,"delta":{"reasoning_content":" see"}}]})";
  chunk_detail::ChunkContent thinking;
  ASSERT_TRUE(HandRead(think, "delta", nullptr, &thinking).ok);
  EXPECT_EQ(thinking.field, chunk_detail::ChunkContent::Field::reasoning_content);
  EXPECT_EQ(thinking.around, R"({"choices":[{"index":0,"delta":{"reasoning_content":}}]})");
  const HandRead thought(more, "delta", nullptr, &thinking);
  ASSERT_TRUE(thought.ok);
  ASSERT_EQ(thought.choices.size(), 1u);
  EXPECT_EQ(thought.choices[0].reasoning_content, " see");
  EXPECT_EQ(thought.choices[0].reasoning_content.data(), more.data() + more.find(" see"));
  EXPECT_TRUE(thought.choices[0].content.empty());

  // And for a tool call's arguments.
  const std::string args =
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"{"}}]}}]})";
  const std::string args2 =
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"}"}}]}}]})";
  chunk_detail::ChunkContent arguments;
  ASSERT_TRUE(HandRead(args, "delta", nullptr, &arguments).ok);
  EXPECT_EQ(arguments.field, chunk_detail::ChunkContent::Field::arguments);
  EXPECT_EQ(arguments.call_index, 2);
  const HandRead call(args2, "delta", nullptr, &arguments);
  ASSERT_TRUE(call.ok);
  ASSERT_EQ(call.calls.size(), 1u);
  EXPECT_EQ(call.calls[0].arguments, "}");
  EXPECT_EQ(call.calls[0].arguments.data(), args2.data() + args2.find("}\""));
  EXPECT_EQ(call.calls[0].index, 2);
}

}  // namespace
}  // namespace sb::adapters
