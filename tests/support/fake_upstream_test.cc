#include "tests/support/fake_upstream.h"
#include "tests/support/http_test_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <regex>
#include <string>
#include <vector>

namespace sb::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using namespace client;

// How long a stalled fake is watched for staying silent (it never answers, so any value works).
constexpr std::chrono::milliseconds kQuiet = 300ms;

const std::string kCerts = SB_TEST_CERTS_DIR;

const std::string kChat =
    R"({"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},)"
    R"({"role":"user","content":"hi there"}]})";
const std::string kChatStream =
    R"({"model":"gpt-4o","stream":true,"messages":[{"role":"system","content":"You are terse."},)"
    R"({"role":"user","content":"hi there"}]})";
const std::string kChatStreamUsage =
    R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
    R"("messages":[{"role":"system","content":"You are terse."},)"
    R"({"role":"user","content":"hi there"}]})";
// system: 3 words + 3, user: 2 words + 3; reply "Hello from alpha: hi there" is 5 words.
constexpr Usage kChatUsage{11, 5, 0};

std::string without_created(const std::string& s) {
  static const std::regex kCreated(R"re("created": ?[0-9]+)re");
  return std::regex_replace(s, kCreated, "\"created\":0");
}

/// The JSON payloads of an SSE body's `data:` events, in order.
std::vector<std::string> sse_data(std::string_view body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find("\n\n", pos);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    std::string_view event = body.substr(pos, end - pos);
    if (event.starts_with("data: ")) {
      out.emplace_back(event.substr(6));
    }
    pos = end + 2;
  }
  return out;
}

FakeUpstreamOptions named(std::string name) {
  FakeUpstreamOptions options;
  options.name = std::move(name);
  return options;
}

// --- autonomous OpenAI mode ---

TEST(FakeUpstreamTest, AnswersChatCompletionShapedLikeOpenAi) {
  FakeUpstream fake(named("alpha"));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.header("Content-Type"), "application/json");

  json::value v = reply.json_body();
  const auto& o = v.as_object();
  EXPECT_TRUE(o.at("id").as_string().starts_with("chatcmpl-"));
  EXPECT_EQ(o.at("object"), "chat.completion");
  EXPECT_TRUE(o.at("created").is_int64());
  EXPECT_EQ(o.at("model"), "gpt-4o");
  const auto& choice = o.at("choices").as_array().at(0).as_object();
  EXPECT_EQ(choice.at("index"), 0);
  EXPECT_EQ(choice.at("message"),
            json::parse(R"({"role":"assistant","content":"Hello from alpha: hi there",)"
                        R"("refusal":null,"annotations":[]})"));
  EXPECT_TRUE(choice.at("logprobs").is_null());
  EXPECT_EQ(choice.at("finish_reason"), "stop");
  EXPECT_EQ(o.at("usage"),
            json::parse(R"({"prompt_tokens":11,"completion_tokens":5,"total_tokens":16,)"
                        R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
                        R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
                        R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})"));
  EXPECT_EQ(o.at("service_tier"), "default");
  EXPECT_TRUE(o.at("system_fingerprint").is_string());
}

TEST(FakeUpstreamTest, NonStreamBytesMatchTheBuilder) {
  FakeUpstream fake(named("alpha"));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(reply.ec);
  std::string id(reply.json_body().at("id").as_string());
  EXPECT_EQ(without_created(reply.body),
            without_created(
                chat_completion_body("gpt-4o", "Hello from alpha: hi there", kChatUsage, id)));
}

TEST(FakeUpstreamTest, StreamsOneEventPerWordWithoutUsageByDefault) {
  FakeUpstream fake(named("alpha"));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/chat/completions", kChatStream));
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_TRUE(reply.header("Content-Type").starts_with("text/event-stream"));
  EXPECT_EQ(reply.header("Cache-Control"), "no-cache");
  EXPECT_EQ(reply.header("Transfer-Encoding"), "chunked");

  std::vector<std::string> data = sse_data(reply.body);
  ASSERT_EQ(data.size(), 1u + 5u + 1u + 1u);  // role, 5 words, finish, [DONE]
  EXPECT_EQ(data.back(), "[DONE]");
  json::value first = json::parse(data[0]);
  std::string id(first.at("id").as_string());
  EXPECT_EQ(first.at("object"), "chat.completion.chunk");
  EXPECT_EQ(first.at("model"), "gpt-4o");
  EXPECT_EQ(first.at("choices").at(0).at("delta"),
            json::parse(R"({"role":"assistant","content":"","refusal":null})"));
  std::vector<std::string> pieces;
  for (std::size_t i = 1; i < 6; ++i) {
    json::value chunk = json::parse(data[i]);
    EXPECT_EQ(chunk.at("id").as_string(), id);
    EXPECT_TRUE(chunk.at("choices").at(0).at("finish_reason").is_null());
    pieces.emplace_back(chunk.at("choices").at(0).at("delta").at("content").as_string());
  }
  EXPECT_EQ(pieces, (std::vector<std::string>{"Hello", " from", " alpha:", " hi", " there"}));
  json::value finish = json::parse(data[6]);
  EXPECT_EQ(finish.at("choices").at(0).at("delta"), json::object{});
  EXPECT_EQ(finish.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(reply.body.find("usage"), std::string::npos);

  // One chunked-transfer frame per event, byte for byte what the builder makes.
  std::vector<std::string> expected = chat_stream_events(
      "gpt-4o", stream_pieces("Hello from alpha: hi there"), false, kChatUsage, id);
  ASSERT_EQ(reply.frames.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(without_created(reply.frames[i]), without_created(expected[i]));
  }
}

TEST(FakeUpstreamTest, IncludeUsageAddsUsageNullAndAFinalUsageChunk) {
  FakeUpstream fake(named("alpha"));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/chat/completions", kChatStreamUsage));
  ASSERT_FALSE(reply.ec);
  std::vector<std::string> data = sse_data(reply.body);
  ASSERT_EQ(data.size(), 1u + 5u + 1u + 1u + 1u);  // role, words, finish, usage, [DONE]
  EXPECT_EQ(data.back(), "[DONE]");
  for (std::size_t i = 0; i + 2 < data.size(); ++i) {
    json::value chunk = json::parse(data[i]);
    ASSERT_TRUE(chunk.as_object().contains("usage")) << data[i];
    EXPECT_TRUE(chunk.at("usage").is_null()) << data[i];
    EXPECT_EQ(chunk.at("choices").as_array().size(), 1u);
  }
  json::value usage_chunk = json::parse(data[data.size() - 2]);
  EXPECT_TRUE(usage_chunk.at("choices").as_array().empty());
  EXPECT_EQ(usage_chunk.at("usage").at("prompt_tokens"), 11);
  EXPECT_EQ(usage_chunk.at("usage").at("completion_tokens"), 5);
  EXPECT_EQ(usage_chunk.at("usage").at("total_tokens"), 16);
  EXPECT_EQ(usage_chunk.at("usage").at("prompt_tokens_details").at("cached_tokens"), 0);

  std::string id(usage_chunk.at("id").as_string());
  std::vector<std::string> expected = chat_stream_events(
      "gpt-4o", stream_pieces("Hello from alpha: hi there"), true, kChatUsage, id);
  ASSERT_EQ(reply.frames.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(without_created(reply.frames[i]), without_created(expected[i]));
  }
}

TEST(FakeUpstreamTest, LatencyKeepsTheSameStreamBytes) {
  FakeUpstream fake(named("alpha"));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply fast = client.request(post("/v1/chat/completions", kChatStreamUsage));
  Reply slow =
      client.request(post("/v1/chat/completions", kChatStreamUsage, {{"x-fake-latency-ms", "1"}}));
  ASSERT_FALSE(fast.ec);
  ASSERT_FALSE(slow.ec);
  std::string fast_id(json::parse(sse_data(fast.body)[0]).at("id").as_string());
  std::string slow_id(json::parse(sse_data(slow.body)[0]).at("id").as_string());
  EXPECT_NE(fast_id, slow_id);
  std::string normalized = std::regex_replace(slow.body, std::regex(slow_id), fast_id);
  EXPECT_EQ(without_created(normalized), without_created(fast.body));
  EXPECT_EQ(slow.frames.size(), fast.frames.size());
}

TEST(FakeUpstreamTest, EchoesConcatenatedTextParts) {
  FakeUpstream fake(named("beta"));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post(
      "/openai/v1/chat/completions",
      R"({"model":"m","messages":[{"role":"user","content":"first"},{"role":"assistant",)"
      R"("content":"ok"},{"role":"user","content":[{"type":"text","text":"look "},)"
      R"({"type":"image_url","image_url":{"url":"data:,"}},{"type":"text","text":"here"}]}]})"));
  ASSERT_FALSE(reply.ec);
  json::value v = reply.json_body();
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "Hello from beta: look here");
  EXPECT_EQ(v.at("model"), "m");
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), (1 + 3) + (1 + 3) + (2 + 3));
}

TEST(FakeUpstreamTest, RejectsInvalidJsonWithAnOpenAiErrorAndKeepsTheConnection) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply bad = client.request(post("/v1/chat/completions", "{not json"));
  ASSERT_FALSE(bad.ec);
  EXPECT_EQ(bad.status(), 400u);
  json::value error = bad.json_body().at("error");
  EXPECT_TRUE(error.at("message").as_string().starts_with("We could not parse the JSON body"));
  EXPECT_EQ(error.at("type"), "invalid_request_error");
  EXPECT_TRUE(error.at("param").is_null());
  EXPECT_TRUE(error.at("code").is_null());

  Reply missing = client.request(post("/v1/chat/completions", R"({"model":"m"})"));
  ASSERT_FALSE(missing.ec);
  EXPECT_EQ(missing.status(), 400u);
  EXPECT_EQ(missing.json_body().at("error").at("param"), "messages");

  Reply good = client.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(good.ec);
  EXPECT_EQ(good.status(), 200u);
  EXPECT_EQ(fake.connections(), 1u);
}

TEST(FakeUpstreamTest, UnknownPathIsAnOpenAi404) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/nope", "{}"));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 404u);
  EXPECT_EQ(reply.json_body().at("error").at("message"), "Invalid URL (POST /v1/nope)");
  EXPECT_EQ(reply.json_body().at("error").at("type"), "invalid_request_error");
}

TEST(FakeUpstreamTest, ListsTheNameAsTheOnlyModel) {
  FakeUpstream fake(named("local-llama"));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(get("/v1/models"));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 200u);
  json::value v = reply.json_body();
  EXPECT_EQ(v.at("object"), "list");
  ASSERT_EQ(v.at("data").as_array().size(), 1u);
  const auto& model = v.at("data").at(0).as_object();
  EXPECT_EQ(model.at("id"), "local-llama");
  EXPECT_EQ(model.at("object"), "model");
  EXPECT_TRUE(model.at("created").is_int64());
  EXPECT_TRUE(model.at("owned_by").is_string());
}

TEST(FakeUpstreamTest, FakeStatusHeaderAnswersAnErrorWithRetryAfterFor429) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply limited = client.request(post("/v1/chat/completions", kChat, {{"x-fake-status", "429"}}));
  ASSERT_FALSE(limited.ec);
  EXPECT_EQ(limited.status(), 429u);
  EXPECT_EQ(limited.header("retry-after"), "1");
  EXPECT_EQ(limited.json_body().at("error").at("code"), "rate_limit_exceeded");

  Reply down = client.request(post("/v1/chat/completions", kChat, {{"x-fake-status", "503"}}));
  ASSERT_FALSE(down.ec);
  EXPECT_EQ(down.status(), 503u);
  EXPECT_EQ(down.header("retry-after"), "");
  EXPECT_EQ(down.json_body().at("error").at("type"), "server_error");
}

// --- scripted responses ---

TEST(FakeUpstreamTest, ServesScriptedResponsesInOrderThenGoesAutonomous) {
  FakeUpstream fake;
  Response busy;
  busy.status = 503;
  busy.headers = {{"Retry-After", "7"}};
  busy.body = error_body("overloaded", "server_error", "");
  fake.push(busy);
  Response ok;
  ok.body = R"({"ok":true})";
  fake.push(ok);

  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply first = client.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(first.ec);
  EXPECT_EQ(first.status(), 503u);
  EXPECT_EQ(first.header("Retry-After"), "7");
  EXPECT_EQ(first.header("Content-Type"), "application/json");
  EXPECT_EQ(first.body, busy.body);

  Reply second = client.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(second.ec);
  EXPECT_EQ(second.status(), 200u);
  EXPECT_EQ(second.body, R"({"ok":true})");

  Reply third = client.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(third.ec);
  EXPECT_EQ(third.json_body().at("object"), "chat.completion");
}

TEST(FakeUpstreamTest, ScriptedHeadersOverrideTheDefaults) {
  FakeUpstream fake;
  Response text;
  text.headers = {{"content-type", "text/plain"}};
  text.body = "plain";
  fake.push(text);
  Response stream = sse_response({"data: a\n\n"});
  stream.headers.push_back({"Cache-Control", "no-store"});
  stream.headers.erase(stream.headers.begin() + 1);  // drop the builder's no-cache
  fake.push(stream);

  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply first = client.request(get("/x"));
  ASSERT_FALSE(first.ec);
  EXPECT_EQ(first.header("Content-Type"), "text/plain");
  EXPECT_EQ(first.head.count("content-type"), 1u);
  EXPECT_EQ(first.body, "plain");

  Reply second = client.request(get("/x"));
  ASSERT_FALSE(second.ec);
  EXPECT_EQ(second.head.count("cache-control"), 1u);
  EXPECT_EQ(second.header("Cache-Control"), "no-store");
  EXPECT_EQ(second.header("Content-Type"), "text/event-stream; charset=utf-8");
}

TEST(FakeUpstreamTest, DefaultContentTypesFollowTheBodyKind) {
  FakeUpstream fake;
  Response body;
  body.body = "{}";
  fake.push(body);
  Response chunks;
  chunks.chunks = {{"x", 0ms}};
  fake.push(chunks);

  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply first = client.request(get("/"));
  EXPECT_EQ(first.header("Content-Type"), "application/json");
  Reply second = client.request(get("/"));
  ASSERT_FALSE(second.ec);
  EXPECT_EQ(second.header("Content-Type"), "text/event-stream");
  EXPECT_EQ(second.header("Cache-Control"), "no-cache");
  EXPECT_EQ(second.frames, (std::vector<std::string>{"x"}));
}

TEST(FakeUpstreamTest, FlushesEachChunkBeforeWaitingForTheNext) {
  FakeUpstream fake;
  Response r;
  r.chunks = {{"data: a\n\n", 0ms}, {"data: b\n\n", 60s}};
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  ASSERT_FALSE(client.send(get("/v1/chat/completions")));
  // The second chunk is a minute away: the first must arrive on its own.
  Reply reply = client.read([](const Reply& so_far) { return so_far.complete_frames() >= 1; });
  ASSERT_FALSE(reply.ec) << reply.ec.message();
  EXPECT_FALSE(reply.done);
  EXPECT_EQ(reply.frames, (std::vector<std::string>{"data: a\n\n"}));
}

TEST(FakeUpstreamTest, ContentLengthSendsChunksRaw) {
  FakeUpstream fake;
  Response r;
  r.headers = {{"Content-Length", "6"}};
  r.chunks = {{"abc", 0ms}, {"def", 1ms}};
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(get("/"));
  ASSERT_FALSE(reply.ec);
  EXPECT_TRUE(reply.frames.empty());
  EXPECT_EQ(reply.body, "abcdef");
}

TEST(FakeUpstreamTest, ResetsTheConnectionMidStream) {
  FakeUpstream fake;
  Response r = sse_response({"data: 1\n\n", "data: 2\n\n", "data: 3\n\n"});
  r.reset_after_chunks = 2;
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  ASSERT_FALSE(client.send(post("/v1/chat/completions", kChatStream)));
  Reply reply = client.read();
  EXPECT_EQ(reply.ec, asio::error::connection_reset) << reply.ec.message();
  EXPECT_TRUE(reply.header_done);
  EXPECT_FALSE(reply.done);
  EXPECT_EQ(reply.frames, (std::vector<std::string>{"data: 1\n\n", "data: 2\n\n"}));
}

TEST(FakeUpstreamTest, StallsMidStreamWithoutClosing) {
  FakeUpstream fake;
  Response r = sse_response({"data: 1\n\n", "data: 2\n\n"});
  r.stall_after_chunks = 1;
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  ASSERT_FALSE(client.send(post("/v1/chat/completions", kChatStream)));
  Reply reply = client.read({}, kQuiet);
  EXPECT_EQ(reply.ec, beast::error::timeout) << reply.ec.message();
  EXPECT_EQ(reply.frames, (std::vector<std::string>{"data: 1\n\n"}));
}

TEST(FakeUpstreamTest, StalledRequestDoesNotHoldUpOtherConnections) {
  FakeUpstream fake;
  Response stall;
  stall.kind = Response::Kind::stall;
  fake.push(stall);

  Client stalled;
  ASSERT_FALSE(stalled.connect(fake.port()));
  ASSERT_FALSE(stalled.send(post("/v1/chat/completions", kChat)));
  ASSERT_TRUE(fake.wait_for_requests(1, kWait));

  Client other;
  ASSERT_FALSE(other.connect(fake.port()));
  Reply answered = other.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(answered.ec);
  EXPECT_EQ(answered.status(), 200u);

  Reply silent = stalled.read({}, kQuiet);
  EXPECT_EQ(silent.ec, beast::error::timeout);
  EXPECT_FALSE(silent.header_done);
}

TEST(FakeUpstreamTest, ResetOnReadCutsTheConnection) {
  FakeUpstream fake;
  Response r;
  r.kind = Response::Kind::reset_on_read;
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/chat/completions", kChat));
  EXPECT_EQ(reply.ec, asio::error::connection_reset) << reply.ec.message();
  EXPECT_FALSE(reply.header_done);
  EXPECT_EQ(fake.requests().size(), 1u);
}

TEST(FakeUpstreamTest, RawSendsTheScriptedBytesExactlyThenRepeatsAndCloses) {
  FakeUpstream fake;
  Response r;
  r.kind = Response::Kind::raw;
  r.body = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n";
  r.chunks = {Chunk{"head:", std::chrono::milliseconds(0)}};
  r.repeat = "0123456789";
  r.repeat_bytes = 50'000;  // whole 64 KiB blocks of repetitions: at least this much goes
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/chat/completions", kChat));
  ASSERT_TRUE(reply.header_done) << reply.ec.message();
  EXPECT_EQ(reply.status(), 200u);
  ASSERT_GE(reply.body.size(), 25u);
  EXPECT_EQ(reply.body.substr(0, 25), "head:01234567890123456789");
  EXPECT_EQ(fake.requests().size(), 1u);
}

TEST(FakeUpstreamTest, CloseOnReadEndsTheConnectionCleanly) {
  FakeUpstream fake;
  Response r;
  r.kind = Response::Kind::close_on_read;
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(post("/v1/chat/completions", kChat));
  EXPECT_EQ(reply.ec, http::error::end_of_stream) << reply.ec.message();

  Client again;
  ASSERT_FALSE(again.connect(fake.port()));
  Reply next = again.request(post("/v1/chat/completions", kChat));
  ASSERT_FALSE(next.ec);
  EXPECT_EQ(next.status(), 200u);
  EXPECT_EQ(fake.connections(), 2u);
}

TEST(FakeUpstreamTest, HeaderDelayedResponseStillArrives) {
  FakeUpstream fake;
  Response r;
  r.status = 201;
  r.header_delay = 5ms;
  r.body = "{}";
  fake.push(r);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply reply = client.request(get("/"));
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 201u);
}

// --- recording and connections ---

TEST(FakeUpstreamTest, RecordsMethodTargetHeadersInOrderAndBody) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  Reply first = client.request(post("/v1/chat/completions?trace=1", kChat,
                                    {{"Authorization", "Bearer sk-test"}, {"X-Custom", "one"}}));
  ASSERT_FALSE(first.ec);
  // Recorded before the answer went out: no waiting needed once the reply is read.
  ASSERT_EQ(fake.requests().size(), 1u);
  Reply second = client.request(get("/v1/models"));
  ASSERT_FALSE(second.ec);
  ASSERT_TRUE(fake.wait_for_requests(2, kWait));
  EXPECT_EQ(fake.request_count(), 2u);

  std::vector<RecordedRequest> seen = fake.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/chat/completions?trace=1");
  EXPECT_EQ(seen[0].body, kChat);
  EXPECT_EQ(seen[0].header("authorization"), "Bearer sk-test");
  EXPECT_EQ(seen[0].header("x-custom"), "one");
  EXPECT_EQ(seen[0].header("x-absent"), std::nullopt);
  std::vector<std::string> names;
  for (const auto& [name, value] : seen[0].headers) {
    names.push_back(name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Host", "Content-Type", "Authorization", "X-Custom",
                                             "Content-Length"}));
  EXPECT_EQ(seen[1].method, "GET");
  EXPECT_EQ(seen[1].target, "/v1/models");
  EXPECT_EQ(seen[1].body, "");
}

TEST(FakeUpstreamTest, WaitForRequestsTimesOutWhenNothingArrives) {
  FakeUpstream fake;
  EXPECT_FALSE(fake.wait_for_requests(1, 1ms));
  EXPECT_EQ(fake.request_count(), 0u);
}

TEST(FakeUpstreamTest, KeepAliveReusesOneConnection) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  for (int i = 0; i < 3; ++i) {
    Reply reply = client.request(post("/v1/chat/completions", i == 1 ? kChatStream : kChat));
    ASSERT_FALSE(reply.ec);
    EXPECT_EQ(reply.status(), 200u);
  }
  EXPECT_EQ(fake.connections(), 1u);

  Client second;
  ASSERT_FALSE(second.connect(fake.port()));
  ASSERT_FALSE(second.request(get("/v1/models")).ec);
  EXPECT_EQ(fake.connections(), 2u);
}

TEST(FakeUpstreamTest, ConnectionCloseRequestIsAnsweredThenClosed) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  auto req = post("/v1/chat/completions", kChat);
  req.set(http::field::connection, "close");
  Reply reply = client.request(req);
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 200u);
  EXPECT_EQ(reply.header("Connection"), "close");
  Reply after = client.read();
  EXPECT_EQ(after.ec, http::error::end_of_stream);
}

TEST(FakeUpstreamTest, AnswersExpectContinueBeforeTheBody) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  std::string head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(kChat.size()) + "\r\n\r\n";
  ASSERT_FALSE(client.send_raw(head));
  Reply interim = client.read();
  ASSERT_FALSE(interim.ec);
  EXPECT_EQ(interim.status(), 100u);
  ASSERT_FALSE(client.send_raw(kChat));
  Reply reply = client.read();
  ASSERT_FALSE(reply.ec);
  EXPECT_EQ(reply.status(), 200u);
}

TEST(FakeUpstreamTest, DropConnectionsClosesKeptAliveConnections) {
  FakeUpstream fake;
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  ASSERT_FALSE(client.request(get("/v1/models")).ec);
  fake.drop_connections();
  Reply after = client.read();
  EXPECT_TRUE(after.ec == http::error::end_of_stream || after.ec == asio::error::connection_reset)
      << after.ec.message();

  Client fresh;
  ASSERT_FALSE(fresh.connect(fake.port()));
  ASSERT_FALSE(fresh.request(get("/v1/models")).ec);
  EXPECT_EQ(fake.connections(), 2u);
}

TEST(FakeUpstreamTest, RecordsOnlyTheCountWhenRecordingIsOff) {
  FakeUpstreamOptions options;
  options.record_requests = false;
  FakeUpstream fake(options);
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  ASSERT_FALSE(client.request(get("/v1/models")).ec);
  EXPECT_TRUE(fake.wait_for_requests(1, kWait));
  EXPECT_TRUE(fake.requests().empty());
}

// --- TLS ---

FakeUpstreamOptions tls_options() {
  FakeUpstreamOptions options;
  options.tls = true;
  options.cert_file = kCerts + "/server.pem";
  options.key_file = kCerts + "/server.key";
  return options;
}

TEST(FakeUpstreamTest, ServesTlsVerifiedByTheTestCa) {
  FakeUpstream fake(tls_options());
  EXPECT_EQ(fake.base_url(), "https://127.0.0.1:" + std::to_string(fake.port()) + "/v1");
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(kCerts + "/ca.pem");
    TlsClient client(ctx);
    ASSERT_FALSE(client.connect(fake.port()));
    error_code ec = client.handshake(host);
    ASSERT_FALSE(ec) << host << ": " << ec.message();
    Reply reply = client.request(post("/v1/chat/completions", kChatStreamUsage));
    ASSERT_FALSE(reply.ec) << reply.ec.message();
    EXPECT_EQ(reply.status(), 200u);
    EXPECT_EQ(sse_data(reply.body).back(), "[DONE]");
  }
}

TEST(FakeUpstreamTest, TlsHandshakeFailsAgainstAnotherCa) {
  FakeUpstream fake(tls_options());
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(kCerts + "/other_ca.pem");
  TlsClient client(ctx);
  ASSERT_FALSE(client.connect(fake.port()));
  EXPECT_TRUE(client.handshake("127.0.0.1"));
}

TEST(FakeUpstreamTest, TlsHandshakeFailsForAnotherName) {
  FakeUpstream fake(tls_options());
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(kCerts + "/ca.pem");
  TlsClient client(ctx);
  ASSERT_FALSE(client.connect(fake.port()));
  EXPECT_TRUE(client.handshake("api.example.com"));
}

TEST(FakeUpstreamTest, MissingCertificateFailsConstruction) {
  FakeUpstreamOptions options = tls_options();
  options.cert_file = kCerts + "/absent.pem";
  EXPECT_THROW(FakeUpstream{options}, std::runtime_error);
}

// --- builders ---

TEST(FakeUpstreamBuildersTest, StreamPiecesCarryTheSpaceBeforeEachWord) {
  EXPECT_EQ(stream_pieces("Hello from x:  hi"),
            (std::vector<std::string>{"Hello", " from", " x:", "  hi"}));
  EXPECT_TRUE(stream_pieces("").empty());
}

TEST(FakeUpstreamBuildersTest, ChatCompletionBodyOmitsCacheDetailsWhenUnknown) {
  json::value v = json::parse(chat_completion_body("m", "a \"quoted\"\nline", Usage{3, 2}));
  EXPECT_EQ(v.at("id"), "chatcmpl-fake0001");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "a \"quoted\"\nline");
  EXPECT_FALSE(v.at("usage").as_object().contains("prompt_tokens_details"));
  EXPECT_EQ(v.at("usage").at("total_tokens"), 5);
  json::value cached = json::parse(chat_completion_body("m", "x", Usage{3, 2, 1}, "id-1"));
  EXPECT_EQ(cached.at("id"), "id-1");
  EXPECT_EQ(cached.at("usage").at("prompt_tokens_details").at("cached_tokens"), 1);
}

TEST(FakeUpstreamBuildersTest, ChatStreamEventsAreSseDataEndingWithDone) {
  std::vector<std::string> events = chat_stream_events("m", {"a", " b"}, false, Usage{1, 2});
  ASSERT_EQ(events.size(), 5u);
  for (const auto& e : events) {
    EXPECT_TRUE(e.starts_with("data: ")) << e;
    EXPECT_TRUE(e.ends_with("\n\n")) << e;
  }
  EXPECT_EQ(events.back(), "data: [DONE]\n\n");
  EXPECT_EQ(json::parse(sse_data(events[2])[0]).at("choices").at(0).at("delta"),
            json::parse(R"({"content":" b"})"));
}

TEST(FakeUpstreamBuildersTest, ErrorBodyWritesNullForEmptyCodeAndParam) {
  json::value plain = json::parse(error_body("nope", "invalid_request_error", ""));
  EXPECT_EQ(plain, json::parse(R"({"error":{"message":"nope","type":"invalid_request_error",)"
                               R"("param":null,"code":null}})"));
  json::value with_param =
      json::parse(error_body("m", "invalid_request_error", "invalid_type", "messages"));
  EXPECT_EQ(with_param.at("error").at("param"), "messages");
  EXPECT_EQ(with_param.at("error").at("code"), "invalid_type");
}

TEST(FakeUpstreamBuildersTest, SseResponseSpacesEventsByTheGap) {
  Response r = sse_response({"data: 1\n\n", "data: 2\n\n", "data: 3\n\n"}, 25ms);
  EXPECT_EQ(r.status, 200u);
  ASSERT_EQ(r.chunks.size(), 3u);
  EXPECT_EQ(r.chunks[0].delay, 0ms);
  EXPECT_EQ(r.chunks[1].delay, 25ms);
  EXPECT_EQ(r.chunks[2].delay, 25ms);
  EXPECT_EQ(r.chunks[2].bytes, "data: 3\n\n");
}

}  // namespace
}  // namespace sb::testing
