#include "adapters/responses_native.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

// A transcript in the fake upstream's exact format (its stream for "hi there", usage edited to
// carry cached and reasoning tokens).
std::string transcript() {
  return sb::test::read_fixture("responses/native_stream_text.sse");
}

std::string event(std::string_view name, std::string_view data) {
  return "event: " + std::string(name) + "\ndata: " + std::string(data) + "\n\n";
}

// ---- request ---------------------------------------------------------------------------------

TEST(ResponsesNativeRequest, OnlyTheModelChanges) {
  const std::string body =
      R"({ "model" : "smart", "input":[{"type":"reasoning","encrypted_content":"ZW5j"}],)"
      R"("tools":[{"type":"web_search"}],"temperature":0.70,"include":["reasoning.encrypted_content"]})";
  TranslateError error;
  const auto req = responses_native_request(body, "gpt-5", 0, "/v1", false, error);
  ASSERT_TRUE(req) << error.message;
  std::string expected = body;
  expected.replace(expected.find(R"("smart")"), 7, R"("gpt-5")");
  EXPECT_EQ(req->body, expected);
  EXPECT_EQ(req->target, "/v1/responses");
  EXPECT_FALSE(req->stream);
  EXPECT_TRUE(req->headers.empty()) << "credentials are the gateway's";
}

TEST(ResponsesNativeRequest, AnEmptyUpstreamModelKeepsTheClients) {
  const std::string body = R"({"model":"gpt-4o","input":"x","stream":true})";
  TranslateError error;
  const auto req = responses_native_request(body, "", 0, "", false, error);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->body, body);
  EXPECT_TRUE(req->stream);
  EXPECT_EQ(req->target, "/responses");
}

TEST(ResponsesNativeRequest, MaxOutputTokensIsLoweredToTheCapOnly) {
  TranslateError error;
  auto big = responses_native_request(R"({"model":"m","max_output_tokens":128000,"input":"x"})",
                                      "gpt-4o", 16384, "/v1", false, error);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->body, R"({"model":"gpt-4o","max_output_tokens":16384,"input":"x"})");
  auto small = responses_native_request(R"({"model":"m","max_output_tokens":100,"input":"x"})",
                                        "gpt-4o", 16384, "/v1", false, error);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->body, R"({"model":"gpt-4o","max_output_tokens":100,"input":"x"})");
  auto absent = responses_native_request(R"({"model":"m","input":"x"})", "gpt-4o", 16384, "/v1",
                                         false, error);
  ASSERT_TRUE(absent);
  EXPECT_EQ(absent->body, R"({"model":"gpt-4o","input":"x"})") << "no limit is added";
  auto uncapped = responses_native_request(
      R"({"model":"m","max_output_tokens":128000,"input":"x"})", "gpt-4o", 0, "/v1", false, error);
  ASSERT_TRUE(uncapped);
  EXPECT_NE(uncapped->body.find("128000"), std::string::npos);
}

// A repeated key goes out once, with the value the gateway read (the last): an upstream that
// kept the first would otherwise be asked for more than the cap.
TEST(ResponsesNativeRequest, EarlierDuplicatesAreDroppedBeforeTheCap) {
  TranslateError error;
  auto req = responses_native_request(
      R"({"model":"a","max_output_tokens":128000,"input":"x","max_output_tokens":200,"model":"b"})",
      "gpt-4o", 16384, "/v1", false, error);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->body, R"({"input":"x","max_output_tokens":200,"model":"gpt-4o"})");
  req = responses_native_request(
      R"({"model":"m","max_output_tokens":100,"input":"x","max_output_tokens":128000})", "gpt-4o",
      16384, "/v1", false, error);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->body, R"({"model":"gpt-4o","input":"x","max_output_tokens":16384})");
}

TEST(ResponsesNativeRequest, AzureUsesTheV1Path) {
  EXPECT_EQ(responses_native_target("", true), "/openai/v1/responses");
  EXPECT_EQ(responses_native_target("/openai", true), "/openai/v1/responses");
  EXPECT_EQ(responses_native_target("/proxy/", true), "/proxy/openai/v1/responses");
  EXPECT_EQ(responses_native_target("/v1/", false), "/v1/responses");
}

TEST(ResponsesNativeRequest, BadBodiesAreRefused) {
  TranslateError error;
  EXPECT_FALSE(responses_native_request("[1]", "m", 0, "", false, error));
  EXPECT_EQ(error.status, 400u);
  EXPECT_FALSE(responses_native_request(R"({"input":"x"})", "m", 0, "", false, error));
  EXPECT_NE(error.message.find("'model'"), std::string::npos) << error.message;
  EXPECT_FALSE(responses_native_request(R"({"model":7,"input":"x"})", "m", 0, "", false, error));
  EXPECT_NE(error.message.find("expected a string"), std::string::npos) << error.message;
}

// ---- answers ---------------------------------------------------------------------------------

TEST(ResponsesNativeAnswer, UsageIsInTheGatewaysUnits) {
  const std::string body =
      R"({"id":"resp_1","object":"response","status":"completed","output":[],"usage":)"
      R"({"input_tokens":12,"input_tokens_details":{"cached_tokens":8},"output_tokens":5,)"
      R"("output_tokens_details":{"reasoning_tokens":2},"total_tokens":17}})";
  const ResponsesNativeAnswer a = responses_native_answer(200, body);
  EXPECT_TRUE(a.ok);
  EXPECT_EQ(a.id, "resp_1");
  ASSERT_TRUE(a.usage);
  EXPECT_EQ(a.usage->input, 12);  // cached included, as usage_from_openai counts prompt_tokens
  EXPECT_EQ(a.usage->cached_input, 8);
  EXPECT_EQ(a.usage->output, 5);
  EXPECT_EQ(a.usage->reasoning, 2);
  EXPECT_EQ(a.usage->cache_write, 0);
}

TEST(ResponsesNativeAnswer, ErrorsAndUnreadableBodies) {
  EXPECT_TRUE(responses_native_answer(429, "{}").retryable);
  EXPECT_TRUE(responses_native_answer(503, "").retryable);
  EXPECT_FALSE(responses_native_answer(400, R"({"error":{}})").retryable);
  const ResponsesNativeAnswer odd = responses_native_answer(200, R"({"object":"chat.completion"})");
  EXPECT_FALSE(odd.ok);
  EXPECT_TRUE(odd.unreadable);
  EXPECT_TRUE(responses_native_answer(200, "not json").unreadable);
  const ResponsesNativeAnswer bad_usage = responses_native_answer(
      200, R"({"id":"r","object":"response","usage":{"input_tokens":-1,"output_tokens":2}})");
  EXPECT_TRUE(bad_usage.ok);
  EXPECT_FALSE(bad_usage.usage);
}

TEST(ResponsesNativeAnswer, UsageReaderRefusesBadCounters) {
  EXPECT_FALSE(usage_from_responses(json::parse(R"({"input_tokens":1})")));
  EXPECT_FALSE(usage_from_responses(json::parse(
      R"({"input_tokens":1,"output_tokens":1,"input_tokens_details":{"cached_tokens":"x"}})")));
  EXPECT_FALSE(usage_from_responses(json::parse("[]")));
  const auto ok = usage_from_responses(
      json::parse(R"({"input_tokens":3,"output_tokens":4,"input_tokens_details":null})"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->input, 3);
  EXPECT_EQ(ok->cached_input, 0);
}

// ---- stream ----------------------------------------------------------------------------------

struct Relayed {
  std::string out;
  bool ok = true;
  ResponsesNativeStream s;
};

void relay_split(std::string_view input, std::size_t at, Relayed& r) {
  if (!(r.ok = r.s.feed(input.substr(0, at), r.out))) {
    return;
  }
  if (!(r.ok = r.s.feed(input.substr(at), r.out))) {
    return;
  }
  r.ok = r.s.finish(r.out);
}

TEST(ResponsesNativeStream, TheFakesStreamPassesUnchangedAtEverySplit) {
  const std::string in = transcript();
  for (std::size_t at = 0; at <= in.size(); ++at) {
    Relayed r;
    relay_split(in, at, r);
    ASSERT_TRUE(r.ok) << "split at " << at;
    ASSERT_EQ(r.out, in) << "split at " << at;
    ASSERT_TRUE(r.s.done());
    ASSERT_TRUE(r.s.usage());
    EXPECT_EQ(r.s.usage()->input, 12);
    EXPECT_EQ(r.s.usage()->cached_input, 8);
    EXPECT_EQ(r.s.usage()->output, 5);
    EXPECT_EQ(r.s.usage()->reasoning, 2);
    ASSERT_EQ(response_id_of(r.s.final_response()),
              "resp_0ef6e7e8d32b5262016b10174e3431bf97e05e44487f186061");
  }
}

TEST(ResponsesNativeStream, TracksTheIdAndTheSequence) {
  const std::string in = transcript();
  const std::size_t third = in.find("event: response.output_item.added");
  ResponsesNativeStream s;
  std::string out;
  ASSERT_TRUE(s.feed(std::string_view(in).substr(0, third), out));
  EXPECT_EQ(s.response_id(), "resp_0ef6e7e8d32b5262016b10174e3431bf97e05e44487f186061");
  EXPECT_EQ(s.next_sequence(), 2);
}

TEST(ResponsesNativeFailure, IsAnErrorThenResponseFailed) {
  const std::string out = responses_native_failure(
      "data: {\"error\":{\"message\":\"Upstream backend 'v' stream interrupted (reset).\","
      "\"type\":\"api_error\",\"code\":\"upstream_stream_interrupted\"}}\n\n",
      "resp_7", 5);
  std::vector<SseEvent> events;
  SseParser parser;
  ASSERT_TRUE(parser.feed(out, events));
  ASSERT_EQ(events.size(), 2u) << out;
  EXPECT_EQ(events[0].event, "error");
  const json::object e = json::parse(events[0].data).as_object();
  EXPECT_EQ(e.at("code"), "upstream_stream_interrupted");
  EXPECT_EQ(e.at("sequence_number"), 5);
  EXPECT_NE(json::value_to<std::string>(e.at("message")).find("interrupted"), std::string::npos);
  EXPECT_EQ(events[1].event, "response.failed");
  const json::object f = json::parse(events[1].data).as_object();
  EXPECT_EQ(f.at("sequence_number"), 6);
  EXPECT_EQ(f.at("response").at("id"), "resp_7");
  EXPECT_EQ(f.at("response").at("status"), "failed");
  EXPECT_EQ(f.at("response").at("error").at("code"), "upstream_stream_interrupted");
}

TEST(ResponsesNativeFailure, UnreadableGatewayEventsStillEndTheStream) {
  const std::string out = responses_native_failure("garbage", "", 0);
  EXPECT_NE(out.find("event: error"), std::string::npos);
  EXPECT_NE(out.find("event: response.failed"), std::string::npos);
  EXPECT_NE(out.find(R"("code":"server_error")"), std::string::npos) << out;
  const std::string limited = responses_native_failure(
      R"(data: {"error":{"message":"m","type":"rate_limit_error"}})", "r", 1);
  EXPECT_NE(limited.find(R"("code":"rate_limit_exceeded")"), std::string::npos) << limited;
}

TEST(ResponsesNativeStream, OnlyWholeEventsAreRelayed) {
  const std::string in = transcript();
  const std::size_t second = in.find("event: response.in_progress");
  ResponsesNativeStream s;
  std::string out;
  ASSERT_TRUE(s.feed(std::string_view(in).substr(0, second + 10), out));
  EXPECT_EQ(out, in.substr(0, second)) << "the second event waits for its end";
}

TEST(ResponsesNativeStream, TheFinalResponseIsTheCompletedEventsResponse) {
  ResponsesNativeStream s;
  std::string out;
  const std::string response =
      R"({"id":"resp_9","object":"response","status":"incomplete","output":[],)"
      R"("usage":{"input_tokens":1,"output_tokens":2}})";
  ASSERT_TRUE(s.feed(event("response.incomplete", R"({"type":"response.incomplete","response":)" +
                                                      response + R"(,"sequence_number":3})"),
                     out));
  EXPECT_TRUE(s.done());
  EXPECT_TRUE(s.finish(out));
  EXPECT_EQ(s.final_response(), response);
  ASSERT_TRUE(s.usage());
  EXPECT_EQ(s.usage()->output, 2);
}

TEST(ResponsesNativeStream, AnErrorEventIsRelayedThenFails) {
  const std::string err = event(
      "error",
      R"({"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null,"sequence_number":2})");
  const std::string in = event("response.created", R"({"type":"response.created"})") + err +
                         event("response.in_progress", R"({"type":"response.in_progress"})");
  for (std::size_t at = 0; at <= in.size(); ++at) {
    Relayed r;
    relay_split(in, at, r);
    ASSERT_FALSE(r.ok);
    ASSERT_TRUE(r.s.error());
    EXPECT_EQ(r.s.error()->status, 429u);
    EXPECT_TRUE(r.s.retryable());
    EXPECT_NE(r.s.error()->message.find("slow down"), std::string::npos);
    ASSERT_EQ(
        r.out,
        in.substr(
            0,
            in.size() - event("response.in_progress", R"({"type":"response.in_progress"})").size()))
        << "split at " << at;
  }
}

TEST(ResponsesNativeStream, ResponseFailedFails) {
  ResponsesNativeStream s;
  std::string out;
  EXPECT_FALSE(s.feed(event("response.failed",
                            R"({"type":"response.failed","response":{"id":"r","status":"failed",)"
                            R"("error":{"code":"invalid_prompt","message":"no"}}})"),
                      out));
  ASSERT_TRUE(s.error());
  EXPECT_EQ(s.error()->status, 400u);
  EXPECT_FALSE(s.retryable());
  EXPECT_FALSE(out.empty()) << "relayed";
}

TEST(ResponsesNativeStream, AStreamCutBeforeTheEndFails) {
  const std::string in = transcript();
  const std::size_t last = in.find("event: response.completed");
  ResponsesNativeStream s;
  std::string out;
  ASSERT_TRUE(s.feed(std::string_view(in).substr(0, last + 40), out));
  EXPECT_FALSE(s.finish(out));
  ASSERT_TRUE(s.error());
  EXPECT_EQ(s.error()->status, 502u);
  EXPECT_EQ(out, in.substr(0, last)) << "the partial event is dropped";
  EXPECT_FALSE(s.done());
}

TEST(ResponsesNativeStream, NothingAfterTheEndIsRelayed) {
  const std::string done =
      event("response.completed", R"({"type":"response.completed","response":{"id":"r"}})");
  ResponsesNativeStream s;
  std::string out;
  ASSERT_TRUE(s.feed(done + "data: [DONE]\n\n", out));
  EXPECT_EQ(out, done);
  EXPECT_TRUE(s.finish(out));
}

TEST(ResponsesNativeStream, CrlfAndNonJsonEventsPassUnread) {
  const std::string in =
      ": keep-alive\r\n\r\nevent: x\r\ndata: not json\r\n\r\n"
      "event: response.completed\r\ndata: "
      "{\"type\":\"response.completed\",\"response\":{}}\r\n\r\n";
  for (std::size_t at = 0; at <= in.size(); ++at) {
    Relayed r;
    relay_split(in, at, r);
    ASSERT_TRUE(r.ok) << at;
    ASSERT_EQ(r.out, in) << at;
  }
}

TEST(ResponsesNativeStream, AnOversizedEventFails) {
  ResponsesNativeStream s;
  std::string out;
  const std::string big(ResponsesNativeStream::kMaxEventBytes + 16, 'a');
  EXPECT_FALSE(s.feed("data: " + big, out));
  ASSERT_TRUE(s.error());
  EXPECT_EQ(s.error()->status, 502u);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sb::adapters
