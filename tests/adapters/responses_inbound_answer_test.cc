// The Responses inbound's way back: chat answers, errors and streams (the requests are in
// responses_inbound_test.cc).
#include "adapters/responses_inbound.h"

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/sse.h"
#include "tests/adapters/chat_stream_input.h"
#include "tests/adapters/fixtures.h"
#include "tests/adapters/responses_inbound_test_helpers.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using namespace responses_test;

// ---- response --------------------------------------------------------------------------------

std::string response_of(std::string_view chat, const ResponseMeta& meta,
                        std::string* output_messages = nullptr) {
  std::string messages;
  std::string error;
  const std::optional<std::string> out = chat_to_response(chat, meta, messages, error);
  EXPECT_TRUE(out.has_value()) << error;
  if (output_messages != nullptr) {
    *output_messages = messages;
  }
  return out.value_or("");
}

TEST(ResponsesInboundResponseTest, GoldenAnswers) {
  for (const std::string name :
       {"response_text", "response_tool_calls", "response_length", "response_reasoning"}) {
    const ResponseMeta meta = meta_for(kToolRequest);
    std::string messages;
    const std::string out =
        response_of(sb::test::read_fixture("responses/" + name + ".json"), meta, &messages);
    expect_golden("responses/" + name + ".expected.json", out + "\n");
    expect_golden("responses/" + name + ".messages.json", messages + "\n");
  }
}

TEST(ResponsesInboundResponseTest, TextAnswerIsACompletedResponse) {
  std::string messages;
  const json::value r = json::parse(response_of(
      R"({"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0,
          "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                    "prompt_tokens_details": {"cached_tokens": 8},
                    "completion_tokens_details": {"reasoning_tokens": 1}}})",
      meta_for(), &messages));
  EXPECT_EQ(r.at("id"), json::value(kId));
  EXPECT_EQ(r.at("object"), json::value("response"));
  EXPECT_EQ(r.at("status"), json::value("completed"));
  EXPECT_EQ(r.at("model"), json::value("gateway-model"));
  EXPECT_TRUE(r.at("incomplete_details").is_null());
  EXPECT_TRUE(r.at("previous_response_id").is_null());
  EXPECT_FALSE(r.as_object().contains("output_text"));
  EXPECT_EQ(r.at("output"), json::parse(R"([{"id":
    "msg_0123456789abcdef0123456789abcdef0123456789abcdef00", "type": "message",
    "status": "completed", "content": [{"type": "output_text", "annotations": [],
    "logprobs": [], "text": "Hi!"}], "role": "assistant"}])"));
  EXPECT_EQ(r.at("usage"), json::parse(R"({"input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 8}, "output_tokens": 2,
    "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 12})"));
  EXPECT_EQ(json::parse(messages), json::parse(R"([{"role": "assistant", "content": "Hi!"}])"));
}

TEST(ResponsesInboundResponseTest, CutAndFilteredAnswersAreIncomplete) {
  for (const auto& [finish, reason] : std::vector<std::pair<std::string, std::string>>{
           {"length", "max_output_tokens"}, {"content_filter", "content_filter"}}) {
    const json::value r = json::parse(response_of(
        R"({"choices": [{"message": {"role": "assistant", "content": "Once"}, "finish_reason": ")" +
            finish + R"("}]})",
        meta_for()));
    EXPECT_EQ(r.at("status"), json::value("incomplete")) << finish;
    EXPECT_EQ(r.at("incomplete_details"), json::parse(R"({"reason": ")" + reason + R"("})"));
    EXPECT_EQ(r.at("output").at(0).at("status"), json::value("incomplete"));
    EXPECT_TRUE(r.at("usage").is_null());
  }
}

TEST(ResponsesInboundResponseTest, PreviousResponseIdAndEchoAreCarried) {
  ResponseMeta meta = meta_for(R"({"model": "m", "input": "x", "instructions": "Sys.",
    "metadata": {"a": "b"}, "temperature": 0.2})");
  meta.previous_response_id = "resp_prev";
  const json::value r = json::parse(response_of(
      R"({"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]})",
      meta));
  EXPECT_EQ(r.at("previous_response_id"), json::value("resp_prev"));
  EXPECT_EQ(r.at("instructions"), json::value("Sys."));
  EXPECT_EQ(r.at("metadata"), json::parse(R"({"a": "b"})"));
  EXPECT_EQ(r.at("temperature"), json::value(0.2));
}

TEST(ResponsesInboundResponseTest, ToolCallWithoutIdGetsOneAndEmptyAnswerHasNoItems) {
  std::string messages;
  const json::value r = json::parse(response_of(
      R"({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
          {"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
          "finish_reason": "tool_calls"}]})",
      meta_for(), &messages));
  const std::string call_id = "call_0123456789abcdef0123456789abcdef0123456789abcdef00";
  EXPECT_EQ(r.at("output").at(0).at("call_id"), json::value(call_id));
  EXPECT_EQ(json::parse(messages).at(0).at("tool_calls").at(0).at("id"), json::value(call_id));
  const json::value empty = json::parse(response_of(
      R"({"choices": [{"message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]})",
      meta_for(), &messages));
  EXPECT_TRUE(empty.at("output").as_array().empty());
  EXPECT_EQ(messages, "[]");
}

// The answer is read in one pass: content given as parts, calls without a function object,
// escapes and duplicate keys read as a DOM would read them.
TEST(ResponsesInboundResponseTest, EveryShapeOfAnAnswerIsRead) {
  std::string messages;
  const json::value r = json::parse(response_of(
      R"({"choices": [{"message": {"role": "assistant", "reasoning": "why\n",
          "content": [{"type": "text", "text": "in "}, {"text": "parts"}, 5],
          "refusal": null, "tool_calls": [7, {"id": "c1", "function": "not an object"},
          {"id": "c2", "function": {"name": "f", "arguments": "{\"a\":1}"}},
          {"id": "c3", "function": {"name": "g"}, "function": null}]},
          "finish_reason": "stop", "finish_reason": "length"}],
          "usage": {"prompt_tokens": 4, "completion_tokens": 2}})",
      meta_for(), &messages));
  const json::array& output = r.at("output").as_array();
  ASSERT_EQ(output.size(), 3u);  // reasoning, message, one call (c1 and c3 have no function)
  EXPECT_EQ(output[0].at("type"), json::value("reasoning"));
  EXPECT_EQ(output[0].at("content").at(0).at("text"), json::value("why\n"));
  EXPECT_EQ(output[1].at("content").at(0).at("text"), json::value("in parts"));
  EXPECT_EQ(output[1].at("status"), json::value("incomplete"));
  EXPECT_EQ(output[2].at("call_id"), json::value("c2"));
  EXPECT_EQ(output[2].at("arguments"), json::value("{\"a\":1}"));
  EXPECT_EQ(r.at("status"), json::value("incomplete"));
  EXPECT_EQ(r.at("usage").at("input_tokens"), json::value(4));
  EXPECT_EQ(json::parse(messages), json::parse(R"([{"role": "assistant", "content": "in parts",
      "tool_calls": [{"id": "c2", "type": "function",
                      "function": {"name": "f", "arguments": "{\"a\":1}"}}]}])"));
}

TEST(ResponsesInboundResponseTest, NonChatCompletionIsAnError) {
  for (std::string_view bad :
       {"not json", "[]", R"({"choices": []})", R"({"choices": [{}]})",
        R"({"error": {"message": "x"}})", R"({"choices": [5, {"message": {"content": "x"}}]})",
        R"({"choices": [{"message": "x"}]})", R"({"choices": {"message": {"content": "x"}}})"}) {
    std::string messages;
    std::string error;
    EXPECT_FALSE(chat_to_response(bad, meta_for(), messages, error).has_value()) << bad;
    EXPECT_EQ(error, "upstream answer is not a chat.completion");
  }
}

TEST(ResponsesInboundResponseTest, NewResponseIdsAreRandomHex) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = new_response_id();
    ASSERT_EQ(id.size(), 5u + 48u) << id;
    EXPECT_EQ(id.substr(0, 5), "resp_");
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 5), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST(ResponsesInboundErrorTest, OpenAIErrorsKeepTheirMembers) {
  EXPECT_EQ(json::parse(responses_error_body(
                400, R"({"error": {"message": "bad", "type": "invalid_request_error",
                         "param": "input", "code": "invalid_value"}})")),
            json::parse(R"({"error": {"message": "bad", "type": "invalid_request_error",
                         "param": "input", "code": "invalid_value"}})"));
  EXPECT_EQ(json::parse(responses_error_body(429, R"({"error": {"message": "slow down"}})")),
            json::parse(R"({"error": {"message": "slow down", "type": "rate_limit_error",
                         "param": null, "code": null}})"));
  EXPECT_EQ(json::parse(responses_error_body(502, "<html>")),
            json::parse(R"({"error": {"message": "HTTP 502", "type": "api_error",
                         "param": null, "code": null}})"));
}

// ---- stream ----------------------------------------------------------------------------------

struct StreamRun {
  std::string out;
  bool fed_ok = true;
  bool finished = false;
  std::string final_response;
  std::string output_messages;
};

/// Feeds `input` in pieces of `split` bytes (0: whole), then finish().
StreamRun run(std::string_view input, std::size_t split, const ResponseMeta& meta) {
  ResponsesStreamWriter w(meta);
  StreamRun r;
  if (split == 0) {
    r.fed_ok = w.feed(input, r.out);
  } else {
    for (std::size_t i = 0; i < input.size(); i += split) {
      r.fed_ok = w.feed(input.substr(i, split), r.out) && r.fed_ok;
    }
  }
  r.finished = w.finish(r.out);
  r.final_response = w.final_response();
  r.output_messages = w.output_messages();
  EXPECT_EQ(w.done(), r.finished);
  EXPECT_EQ(w.failed(), !r.finished);
  return r;
}

/// Applies an event that addresses output item `item` (as the SDK's accumulator does).
void apply_to_item(const json::object& e, const std::string& type, json::object& item) {
  if (e.contains("item_id")) {
    EXPECT_EQ(e.at("item_id"), item.at("id")) << type;
  }
  if (type == "response.output_item.done") {
    item = e.at("item").as_object();
  } else if (type == "response.content_part.added") {
    EXPECT_EQ(e.at("content_index").as_int64(),
              static_cast<std::int64_t>(item.at("content").as_array().size()));
    item.at("content").as_array().push_back(e.at("part"));
  } else if (type == "response.content_part.done") {
    item.at("content").as_array().at(e.at("content_index").to_number<std::size_t>()) = e.at("part");
  } else if (type == "response.output_text.delta" || type == "response.reasoning_text.delta") {
    json::object& part = item.at("content")
                             .as_array()
                             .at(e.at("content_index").to_number<std::size_t>())
                             .as_object();
    EXPECT_EQ(part.at("type"),
              json::value(type == "response.output_text.delta" ? "output_text" : "reasoning_text"));
    std::string text(part.at("text").as_string());
    text += e.at("delta").as_string();
    part["text"] = text;
  } else if (type == "response.function_call_arguments.delta") {
    EXPECT_EQ(item.at("type"), json::value("function_call"));
    std::string args(item.at("arguments").as_string());
    args += e.at("delta").as_string();
    item["arguments"] = args;
  }
}

/// Replays the events as the openai SDK's stream helper accumulates them (openai-node
/// src/lib/responses/ResponseAccumulator.ts): every event must address what exists, and the
/// snapshot built from the deltas must equal the final Response. Returns the last Response.
json::value accumulate(std::string_view sse) {
  SseParser parser;
  std::vector<SseEvent> events;
  parser.feed(sse, events);
  EXPECT_TRUE(parser.at_boundary());
  json::value snapshot;
  std::int64_t expected_seq = 0;
  for (const SseEvent& ev : events) {
    const json::object e = json::parse(ev.data).as_object();
    const std::string type(e.at("type").as_string());
    EXPECT_EQ(ev.event, type);
    EXPECT_EQ(e.at("sequence_number").as_int64(), expected_seq++) << type;
    EXPECT_TRUE(!snapshot.is_null() || type == "response.created") << type;
    if (e.contains("response")) {  // created, in_progress, completed, incomplete, failed
      if (type == "response.completed" || type == "response.incomplete") {
        // The deltas must have built what the final Response says.
        EXPECT_EQ(snapshot.at("output"), e.at("response").at("output"));
      }
      snapshot = e.at("response");
      continue;
    }
    if (type == "error") {
      continue;
    }
    json::array& output = snapshot.at("output").as_array();
    const std::size_t index = e.at("output_index").to_number<std::size_t>();
    if (type == "response.output_item.added") {
      EXPECT_EQ(index, output.size());
      output.push_back(e.at("item"));
    } else if (index < output.size()) {
      apply_to_item(e, type, output[index].as_object());
    } else {
      ADD_FAILURE() << type << " addresses output " << index << " of " << output.size();
    }
  }
  return snapshot;
}

struct Golden {
  std::string_view name;
  bool finishes;  ///< whether the stream completes (else it fails)
};

constexpr Golden kGoldens[] = {
    {"stream_text", true},        {"stream_tool_call", true}, {"stream_reasoning_text", true},
    {"stream_length", true},      {"stream_error", false},    {"stream_no_done", true},
    {"stream_custom_tool", true}, {"stream_cut", false},
};

TEST(ResponsesStreamWriterTest, GoldenTranscripts) {
  const ResponseMeta meta = meta_for(kToolRequest);
  for (const Golden& g : kGoldens) {
    const std::string input = sb::test::read_fixture("responses/" + std::string(g.name) + ".sse");
    const StreamRun r = run(input, 0, meta);
    expect_golden("responses/" + std::string(g.name) + ".expected.sse", r.out);
    EXPECT_EQ(r.finished, g.finishes) << g.name;
    const json::value final_response = accumulate(r.out);
    if (g.finishes) {
      EXPECT_EQ(json::parse(r.final_response), final_response) << g.name;
      EXPECT_FALSE(r.output_messages.empty()) << g.name;
    } else {
      EXPECT_TRUE(r.final_response.empty()) << g.name;
      EXPECT_EQ(final_response.at("status"), json::value("failed")) << g.name;
    }
  }
}

TEST(ResponsesStreamWriterTest, SplittingAtEveryByteGivesIdenticalOutput) {
  const ResponseMeta meta = meta_for(kToolRequest);
  for (const Golden& g : kGoldens) {
    const std::string input = sb::test::read_fixture("responses/" + std::string(g.name) + ".sse");
    const StreamRun whole = run(input, 0, meta);
    for (std::size_t split = 1; split <= 7; ++split) {
      const StreamRun r = run(input, split, meta);
      EXPECT_EQ(r.out, whole.out) << g.name << " split " << split;
      EXPECT_EQ(r.finished, whole.finished) << g.name << " split " << split;
      EXPECT_EQ(r.output_messages, whole.output_messages) << g.name << " split " << split;
    }
  }
}

TEST(ResponsesStreamWriterTest, SplittingAtAnyOnePointGivesIdenticalOutput) {
  const ResponseMeta meta = meta_for(kToolRequest);
  for (const Golden& g : kGoldens) {
    const std::string input = sb::test::read_fixture("responses/" + std::string(g.name) + ".sse");
    const StreamRun whole = run(input, 0, meta);
    for (std::size_t cut = 1; cut < input.size(); ++cut) {
      ResponsesStreamWriter w(meta);
      std::string out;
      w.feed(std::string_view(input).substr(0, cut), out);
      w.feed(std::string_view(input).substr(cut), out);
      w.finish(out);
      ASSERT_EQ(out, whole.out) << g.name << " cut at " << cut;
    }
  }
}

TEST(ResponsesStreamWriterTest, ToolCallsComeBackAsTheirItemTypes) {
  const StreamRun r =
      run(sb::test::read_fixture("responses/stream_tool_call.sse"), 0, meta_for(kToolRequest));
  const json::value final_response = json::parse(r.final_response);
  const json::array& output = final_response.at("output").as_array();
  ASSERT_EQ(output.size(), 3u);
  EXPECT_EQ(output[1].at("name"), json::value("get_weather"));
  EXPECT_EQ(output[1].at("arguments"), json::value(R"({"city":"Paris"})"));
  EXPECT_EQ(output[1].at("call_id"), json::value("call_w1"));
  EXPECT_EQ(output[2].at("name"), json::value("spawn_agent"));
  EXPECT_EQ(output[2].at("namespace"), json::value("multi_agent_v1"));
  EXPECT_EQ(final_response.at("usage").at("total_tokens"), json::value(60));
  EXPECT_EQ(json::parse(r.output_messages), json::parse(R"([{"role": "assistant",
    "content": "Let me check.", "tool_calls": [
      {"id": "call_w1", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_s2", "type": "function",
       "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{\"task\":\"x\"}"}}]}])"));

  const StreamRun custom =
      run(sb::test::read_fixture("responses/stream_custom_tool.sse"), 0, meta_for(kToolRequest));
  const json::value item = json::parse(custom.final_response).at("output").at(0);
  EXPECT_EQ(item.at("type"), json::value("custom_tool_call"));
  EXPECT_EQ(item.at("input"), json::value("*** Begin Patch\n"));
}

TEST(ResponsesStreamWriterTest, ErrorsFailTheResponseWithCodeAndMessage) {
  const StreamRun r = run(sb::test::read_fixture("responses/stream_error.sse"), 0, meta_for());
  EXPECT_FALSE(r.fed_ok);
  const json::value failed = accumulate(r.out);
  EXPECT_EQ(failed.at("error"), json::parse(R"({"code": "rate_limit_exceeded",
    "message": "Rate limit reached for requests"})"));
  EXPECT_NE(r.out.find("event: error\n"), std::string::npos);

  for (std::string_view bad : {"data: {not json\n\n", "data: [1]\n\n"}) {
    const StreamRun b = run(bad, 0, meta_for());
    EXPECT_FALSE(b.fed_ok) << bad;
    EXPECT_EQ(accumulate(b.out).at("error").at("code"), json::value("server_error")) << bad;
  }
}

TEST(ResponsesStreamWriterTest, NothingIsWrittenAfterTheEnd) {
  ResponsesStreamWriter w(meta_for());
  std::string out;
  EXPECT_TRUE(w.feed(sb::test::read_fixture("responses/stream_text.sse"), out));
  EXPECT_TRUE(w.done());
  ASSERT_TRUE(w.usage().has_value());
  EXPECT_EQ(w.usage()->input, 12);
  EXPECT_EQ(w.usage()->cached_input, 4);
  std::string more;
  EXPECT_TRUE(w.feed("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", more));
  EXPECT_TRUE(w.finish(more));
  EXPECT_TRUE(more.empty());

  ResponsesStreamWriter f(meta_for());
  EXPECT_FALSE(f.feed("data: {\"error\":\"boom\"}\n\n", out));
  std::string after;
  EXPECT_FALSE(f.feed("data: [DONE]\n\n", after));
  EXPECT_FALSE(f.finish(after));
  EXPECT_TRUE(after.empty());
}

TEST(ResponsesStreamWriterTest, EventPastTheLimitFailsTheStream) {
  ResponsesStreamWriter w(meta_for());
  std::string out;
  const std::string huge = "data: " + std::string(17 * 1024 * 1024, 'x');
  EXPECT_FALSE(w.feed(huge, out));
  EXPECT_TRUE(w.failed());
  EXPECT_NE(out.find("larger than the gateway accepts"), std::string::npos);
}

TEST(ResponsesStreamWriterTest, DoneBeforeAnyChunkIsAnEmptyCompletedResponse) {
  const StreamRun r = run("data: [DONE]\n\n", 0, meta_for());
  EXPECT_TRUE(r.finished);
  const json::value final_response = accumulate(r.out);
  EXPECT_EQ(final_response.at("status"), json::value("completed"));
  EXPECT_TRUE(final_response.at("output").as_array().empty());
  EXPECT_EQ(r.output_messages, "[]");
}

TEST(ResponsesStreamWriterTest, AFragmentForAClosedCallIsDropped) {
  const std::string chunks =
      R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c0","function":{"name":"f","arguments":"{}"}}]}}]})"
      "\n\n"
      R"(data: {"choices":[{"index":0,"delta":{"content":"text"}}]})"
      "\n\n"
      R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"late"}}]},"finish_reason":"tool_calls"}]})"
      "\n\ndata: [DONE]\n\n";
  const StreamRun r = run(chunks, 0, meta_for());
  const json::value final_response = accumulate(r.out);
  EXPECT_EQ(final_response.at("output").at(0).at("arguments"), json::value("{}"));
  EXPECT_EQ(final_response.at("output").as_array().size(), 2u);
}

// An upstream decides how many calls it streams: each of thousands becomes one item, late
// fragments for closed ones are dropped wherever they fall, and a call without an index after
// them is a new item.
TEST(ResponsesStreamWriterTest, ThousandsOfCallsEachBecomeOneItem) {
  constexpr int kCalls = 3000;
  const std::string chunks = sb::test::many_tool_calls_stream(kCalls);
  const StreamRun r = run(chunks, 0, meta_for());
  const json::value final_response = accumulate(r.out);
  const json::array& output = final_response.at("output").as_array();
  ASSERT_EQ(output.size(), kCalls + 2u);  // the calls, the text's message, the last call
  for (const std::size_t k : {std::size_t{0}, std::size_t{1500}, std::size_t{kCalls - 1}}) {
    EXPECT_EQ(output[k].at("call_id"), json::value("c" + std::to_string(k)));
    EXPECT_EQ(output[k].at("arguments"), json::value("{}"));
  }
  EXPECT_EQ(output[kCalls].at("type"), json::value("message"));
  EXPECT_EQ(output[kCalls + 1].at("call_id"), json::value("last"));
  EXPECT_EQ(json::parse(r.final_response), final_response);
}

}  // namespace
}  // namespace sb::adapters
