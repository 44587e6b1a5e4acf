// ChunkSource (gateway/pipeline/chunk_source.h): a writer reading an OpenAI-wire upstream's own
// events (direct) writes what it wrote reading the relay's copy of them (relayed), byte for byte,
// with the same usage, the same errors and the same answers from feed() and finish(), however the
// upstream's bytes are split; and an upstream's error reaches the client scrubbed either way.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/anthropic_inbound.h"
#include "adapters/openai_compatible.h"
#include "adapters/responses_inbound.h"
#include "gateway/pipeline/chunk_source.h"
#include "gateway/pipeline/messages.h"
#include "gateway/pipeline/scrubbed_stream.h"
#include "tests/gateway/relayed_translator.h"

namespace sb::gateway {
namespace {

constexpr std::string_view kSecret = "sk-backendkey0123456789abcdef";
constexpr std::string_view kHost = "vllm.internal.example";

std::string chunk(std::string_view delta, std::string_view finish = "null",
                  std::string_view tail = "") {
  std::string s = R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,)";
  s += R"("model":"m","choices":[{"index":0,"delta":)";
  s += delta;
  s += R"(,"finish_reason":)";
  s += finish;
  s += "}]";
  s += tail;
  s += "}";
  return s;
}

std::string sse(std::string_view d) {
  return "data: " + std::string(d) + "\n\n";
}

constexpr std::string_view kUsage =
    R"({"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,)"
    R"("prompt_tokens_details":{"cached_tokens":4},)"
    R"("completion_tokens_details":{"reasoning_tokens":2}})";

std::string usage_chunk() {
  return R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",)"
         R"("choices":[],"usage":)" +
         std::string(kUsage) + "}";
}

std::string answer() {
  return sse(chunk(R"({"role":"assistant","content":""})", "null", R"(,"usage":null)")) +
         sse(chunk(R"({"content":"Hello"})", "null", R"(,"usage":null)")) +
         sse(chunk(R"({"content":" world, no error here"})", "null", R"(,"usage":null)")) +
         sse(chunk(R"({})", R"("stop")", R"(,"usage":null)")) + sse(usage_chunk()) + sse("[DONE]");
}

std::string error_event() {
  return sse(R"({"error":{"message":"invalid key )" + std::string(kSecret) + " for " +
             std::string(kHost) + R"(","type":"server_error","code":"overloaded"}})");
}

// The upstream streams both readings must agree on.
struct Case {
  std::string name;
  std::string bytes;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"canonical answer", answer()});
  std::string crlf;
  for (const char ch : answer()) {
    if (ch == '\n') {
      crlf += "\r\n";
    } else {
      crlf += ch;
    }
  }
  c.push_back({"CRLF lines", crlf});
  c.push_back({"ids, comments, names and split data",
               ": keep-alive\n\nid: 7\ndata: " + chunk(R"({"role":"assistant"})") +
                   "\n\nevent: message\ndata: " + chunk(R"({"content":"a"})") + "\n\n" +
                   "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\n"
                   "data: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n" +
                   sse(chunk("{}", R"("stop")")) + sse(usage_chunk()) + sse("[DONE]")});
  c.push_back(
      {"tool calls",
       sse(chunk(R"({"role":"assistant","tool_calls":[{"index":0,"id":"call_1",)"
                 R"("type":"function","function":{"name":"get","arguments":""}}]})")) +
           sse(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]})")) +
           sse(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]})")) +
           sse(chunk("{}", R"("tool_calls")")) + sse(usage_chunk()) + sse("[DONE]")});
  c.push_back({"reasoning", sse(chunk(R"({"role":"assistant","reasoning_content":"think"})")) +
                                sse(chunk(R"({"reasoning_content":" more"})")) +
                                sse(chunk(R"({"content":"so"})")) + sse(chunk("{}", R"("stop")")) +
                                sse("[DONE]")});
  c.push_back(
      {"usage on a content chunk",
       sse(chunk(R"({"content":"x"})", "null", std::string(",\"usage\":") + std::string(kUsage))) +
           sse(chunk("{}", R"("length")")) + sse("[DONE]")});
  c.push_back({"an error event midway", sse(chunk(R"({"content":"Hel"})")) + error_event() +
                                            sse(chunk(R"({"content":"lo"})")) + sse("[DONE]")});
  c.push_back({"an error event first", error_event() + sse("[DONE]")});
  c.push_back(
      {"an error event with usage",
       sse(chunk(R"({"content":"a"})")) + sse(R"({"error":{"message":"at )" + std::string(kHost) +
                                              R"("},"usage":)" + std::string(kUsage) + "}")});
  c.push_back({"an error as a bare string",
               sse(chunk(R"({"content":"a"})")) +
                   sse(R"({"error":"Bearer abcdefghijklmnopqrstuvwxyz012345 refused"})")});
  c.push_back({"an event named error", sse(chunk(R"({"content":"a"})")) + "event: error\ndata: " +
                                           chunk(R"({"content":"b"})") + "\n\n" + sse("[DONE]")});
  c.push_back({"[DONE] in an event named error", sse(chunk(R"({"content":"a"})")) +
                                                     sse(chunk("{}", R"("stop")")) +
                                                     "event: error\ndata: [DONE]\n\n"});
  c.push_back({"a null error member", sse(chunk(R"({"content":"a"})", "null", R"(,"error":null)")) +
                                          sse(chunk("{}", R"("stop")")) + sse("[DONE]")});
  c.push_back({"no [DONE] after the finish reason",
               sse(chunk(R"({"content":"a"})")) + sse(chunk("{}", R"("stop")"))});
  c.push_back({"cut before the finish reason", sse(chunk(R"({"content":"a"})"))});
  c.push_back({"cut inside an event", sse(chunk(R"({"content":"a"})")) + "data: {\"id\""});
  c.push_back(
      {"not a JSON object", sse(chunk(R"({"content":"a"})")) + sse("hello") + sse("[DONE]")});
  c.push_back({"an empty named event",
               sse(chunk(R"({"content":"a"})")) + "event: ping\n\n" + sse("[DONE]")});
  c.push_back({"events after [DONE]", answer() + sse(usage_chunk()) + error_event()});
  c.push_back({"usage after [DONE]", sse(chunk(R"({"content":"a"})")) +
                                         sse(chunk("{}", R"("stop")")) + sse("[DONE]") +
                                         sse(usage_chunk())});
  c.push_back({"an event over 1 MiB", sse(chunk(R"({"content":"a"})")) + "data: {\"x\":\"" +
                                          std::string(1024 * 1024 + 16, 'y') + "\"}\n\n" +
                                          sse("[DONE]")});
  c.push_back({"nothing", ""});
  return c;
}

// What one reading of a stream gave.
struct Reading {
  std::string out;
  bool fed = true;  // every feed() returned true
  std::optional<bool> finished;
  std::optional<adapters::Usage> usage;
  std::optional<adapters::TranslateError> error;
};

// A writer of either dialect, owned whole (a reader is destroyed as its writer only).
struct Held {
  virtual ~Held() = default;
  virtual adapters::ChatChunkReader& reader() = 0;
};
template <class W>
struct HeldWriter final : Held {
  template <class... Args>
  explicit HeldWriter(Args&&... args) : writer(std::forward<Args>(args)...) {}
  adapters::ChatChunkReader& reader() override { return writer; }
  W writer;
};
template <class W, class... Args>
std::unique_ptr<Held> hold(Args&&... args) {
  return std::make_unique<HeldWriter<W>>(std::forward<Args>(args)...);
}

using MakeWriter = std::function<std::unique_ptr<Held>()>;

// Feeds `bytes` in pieces of `piece` bytes, stopping at the first false as the gateway does, then
// finishes when every feed was accepted.
Reading read(adapters::StreamTranslator& attempt, const MakeWriter& make, std::string_view bytes,
             std::size_t piece, bool want_direct) {
  ScrubbedStream scrubbed(attempt, kSecret, kHost);
  const std::unique_ptr<Held> writer = make();
  ChunkSource source(scrubbed, writer->reader());
  EXPECT_EQ(source.direct(), want_direct);
  Reading r;
  for (std::size_t at = 0; at < bytes.size() && r.fed; at += piece) {
    r.fed = source.feed(bytes.substr(at, piece), r.out);
  }
  if (r.fed) {
    r.finished = source.finish(r.out);
  }
  r.usage = source.usage();
  r.error = source.error();
  return r;
}

void expect_same(const Reading& direct, const Reading& relayed, const std::string& what) {
  EXPECT_EQ(direct.out, relayed.out) << what;
  EXPECT_EQ(direct.fed, relayed.fed) << what;
  EXPECT_EQ(direct.finished, relayed.finished) << what;
  ASSERT_EQ(direct.usage.has_value(), relayed.usage.has_value()) << what;
  if (direct.usage) {
    EXPECT_EQ(direct.usage->input, relayed.usage->input) << what;
    EXPECT_EQ(direct.usage->output, relayed.usage->output) << what;
    EXPECT_EQ(direct.usage->cached_input, relayed.usage->cached_input) << what;
    EXPECT_EQ(direct.usage->reasoning, relayed.usage->reasoning) << what;
  }
  ASSERT_EQ(direct.error.has_value(), relayed.error.has_value()) << what;
  if (direct.error) {
    EXPECT_EQ(direct.error->status, relayed.error->status) << what;
    EXPECT_EQ(direct.error->message, relayed.error->message) << what;
  }
}

struct Writer {
  std::string name;
  MakeWriter make;
};

std::vector<Writer> writers() {
  adapters::ResponseMeta meta;
  meta.id = "resp_1";
  meta.created_at = 1;
  meta.model = "alias";
  return {
      {"messages", [] { return hold<adapters::AnthropicStreamWriter>("alias", 9); }},
      {"messages with thinking",
       [] { return hold<adapters::AnthropicStreamWriter>("alias", 9, true); }},
      {"responses", [meta] { return hold<adapters::ResponsesStreamWriter>(meta); }},
  };
}

TEST(ChunkSourceTest, ReadingTheUpstreamDirectlyWritesWhatReadingTheRelayWrote) {
  for (const Case& c : cases()) {
    for (const Writer& w : writers()) {
      for (const std::size_t piece :
           {std::size_t{1}, std::size_t{7}, std::size_t{4096}, c.bytes.size() + 1}) {
        if (piece == 1 && c.bytes.size() > 64 * 1024) {
          continue;  // the 1 MiB event byte by byte: the 7-byte pieces split it as well
        }
        const std::string what = c.name + ", " + w.name + ", pieces of " + std::to_string(piece);
        adapters::OpenAIStreamTranslator upstream(true);
        testing::RelayedTranslator relay;
        const Reading direct = read(upstream, w.make, c.bytes, piece, true);
        const Reading relayed = read(relay, w.make, c.bytes, piece, false);
        expect_same(direct, relayed, what);
        EXPECT_EQ(direct.out.find(kSecret), std::string::npos) << what << ": " << direct.out;
        EXPECT_EQ(direct.out.find(kHost), std::string::npos) << what << ": " << direct.out;
      }
    }
  }
}

TEST(ChunkSourceTest, TheReadingsAgreeOnWhatMatters) {
  // The oracle above compares two readings; these pin what they agree on.
  const MakeWriter messages = [] { return hold<adapters::AnthropicStreamWriter>("a"); };
  {
    adapters::OpenAIStreamTranslator upstream(true);
    const Reading r = read(upstream, messages, answer(), 5, true);
    EXPECT_TRUE(r.fed);
    EXPECT_EQ(r.finished, true);
    ASSERT_TRUE(r.usage);
    EXPECT_EQ(r.usage->input, 12);
    EXPECT_EQ(r.usage->output, 5);
    EXPECT_NE(r.out.find("\"text\":\"Hello\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("event: message_stop"), std::string::npos) << r.out;
    EXPECT_FALSE(r.error);
  }
  {
    adapters::OpenAIStreamTranslator upstream(true);
    const Reading r =
        read(upstream, messages, sse(chunk(R"({"content":"Hel"})")) + error_event(), 3, true);
    EXPECT_FALSE(r.fed);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->status, 502u);
    EXPECT_EQ(r.error->message, adapters::OpenAIStreamTranslator::kErrorEvent);
    EXPECT_NE(r.out.find("event: error"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("invalid key"), std::string::npos) << r.out;
  }
  {
    adapters::OpenAIStreamTranslator upstream(true);
    const Reading r =
        read(upstream, messages, sse(chunk(R"({"content":"a"})")) + sse(chunk("{}", R"("stop")")),
             64, true);
    EXPECT_TRUE(r.fed);
    EXPECT_EQ(r.finished, false) << "no [DONE]: the relay calls it a cut";
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->message, adapters::OpenAIStreamTranslator::kCutShort);
  }
  {
    adapters::OpenAIStreamTranslator upstream(true);
    const Reading r = read(upstream, messages,
                           sse(chunk(R"({"content":"a"})")) + sse(chunk("{}", R"("stop")")) +
                               sse("[DONE]") + sse(usage_chunk()),
                           4096, true);
    EXPECT_EQ(r.finished, true);
    ASSERT_TRUE(r.usage) << "a usage after [DONE] is counted, as the relay counts it";
    EXPECT_EQ(r.usage->input, 12);
  }
}

TEST(ChunkSourceTest, AnErrorMemberSpelledWithAnEscapeIsScrubbedToo) {
  // The relay reads `\u0065rror` as `error` (and fails the stream), but the relayed reading only
  // scrubbed events holding the letters "error": the direct one scrubs what the relay fails on.
  const std::string bytes =
      sse(chunk(R"({"content":"a"})")) +
      sse(R"({"\u0065rror":{"message":"key )" + std::string(kSecret) + R"("}})");
  const MakeWriter messages = [] { return hold<adapters::AnthropicStreamWriter>("a"); };
  adapters::OpenAIStreamTranslator upstream(true);
  const Reading r = read(upstream, messages, bytes, 4096, true);
  EXPECT_FALSE(r.fed);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.out.find("event: error"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kSecret), std::string::npos) << r.out;
}

TEST(ChunkSourceTest, TheRelaysErrorEventsReachTheClientScrubbed) {
  // Chat completions read the relay itself, through ScrubbedStream alone.
  for (const Case& c : cases()) {
    for (const std::size_t piece : {std::size_t{1}, std::size_t{7}, c.bytes.size() + 1}) {
      if (piece == 1 && c.bytes.size() > 64 * 1024) {
        continue;
      }
      adapters::OpenAIStreamTranslator relay(true);
      ScrubbedStream scrubbed(relay, kSecret, kHost);
      std::string out;
      bool ok = true;
      for (std::size_t at = 0; at < c.bytes.size() && ok; at += piece) {
        ok = scrubbed.feed(std::string_view(c.bytes).substr(at, piece), out);
      }
      const std::string what = c.name + ", pieces of " + std::to_string(piece);
      EXPECT_EQ(out.find(kSecret), std::string::npos) << what << ": " << out;
      EXPECT_EQ(out.find(kHost), std::string::npos) << what << ": " << out;
      if (c.bytes.find(kSecret) != std::string::npos) {
        EXPECT_FALSE(ok) << what;
        EXPECT_NE(out.find("invalid key"), std::string::npos) << what << ": " << out;
      }
    }
  }
}

TEST(ChunkSourceTest, AzureStreamsAreReadThroughTheirTranslator) {
  // Azure's relay rewrites its chunks (filter members): the writer reads its output.
  adapters::AzureStreamTranslator azure(true);
  ScrubbedStream scrubbed(azure, kSecret, kHost);
  adapters::AnthropicStreamWriter writer("a");
  EXPECT_FALSE(ChunkSource(scrubbed, writer).direct());
}

TEST(ChunkSourceTest, TheMessagesStreamTakesItsUsageAndErrorsFromTheSource) {
  adapters::OpenAIStreamTranslator upstream(true);
  ScrubbedStream scrubbed(upstream, kSecret, kHost);
  AnthropicOutbound outbound(scrubbed, "alias", 3);
  std::string out;
  ASSERT_TRUE(outbound.feed(answer(), out));
  ASSERT_TRUE(outbound.finish(out));
  ASSERT_TRUE(outbound.usage()) << "the direct reading's usage, not the unfed relay's";
  EXPECT_EQ(outbound.usage()->output, 5);
  EXPECT_FALSE(upstream.usage()) << "the relay was not fed";

  adapters::OpenAIStreamTranslator cut(true);
  ScrubbedStream scrubbed_cut(cut, kSecret, kHost);
  AnthropicOutbound cut_outbound(scrubbed_cut, "alias", 3);
  out.clear();
  ASSERT_TRUE(cut_outbound.feed(sse(chunk(R"({"content":"a"})")), out));
  EXPECT_FALSE(cut_outbound.finish(out));
  ASSERT_TRUE(cut_outbound.error());
  EXPECT_EQ(cut_outbound.error()->message, adapters::OpenAIStreamTranslator::kCutShort);
}

}  // namespace
}  // namespace sb::gateway
