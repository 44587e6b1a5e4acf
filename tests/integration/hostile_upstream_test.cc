// Hostile upstreams through the real process: endless header lines, SSE lines and events, huge
// trailers, CL+TE, 1xx floods, chunk-extension floods, resets mid-stream, answers over the
// buffered bound, a certificate for another CA, in-stream error events carrying secrets. Each
// case asserts that the gateway stays up, that the client gets a clear error (a 502/504 before the
// first byte, an error event in its dialect after it, never [DONE]), that a healthy request
// afterwards gets 200, and that the process's memory stays bounded.

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

/// The bound every case checks: generous (the process idles near 20 MB), far below what the
/// floods would take unbounded (each sends 64 MiB or more).
constexpr long kMaxRssKiB = 160 * 1024 * kMemoryScale;

/// Between scripted events that must reach the gateway in separate reads: an error event read
/// together with the content before it fails the stream before its first byte (a 502 instead).
constexpr auto kGap = 150ms;

constexpr std::string_view kChunkedSse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
constexpr std::string_view kChunkedJson =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string frame(std::string_view bytes) {
  std::ostringstream size;
  size << std::hex << bytes.size();
  return size.str() + "\r\n" + std::string(bytes) + "\r\n";
}

Response raw(std::string bytes, std::string repeat = {}, std::size_t repeat_bytes = 0) {
  Response r;
  r.kind = Response::Kind::raw;
  r.body = std::move(bytes);
  r.repeat = std::move(repeat);
  r.repeat_bytes = repeat_bytes;
  return r;
}

std::string content_event(std::string_view text) {
  return R"(data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",)"
         R"("choices":[{"index":0,"delta":{"content":")" +
         std::string(text) + R"("},"finish_reason":null}]})" + "\n\n";
}

/// The switchboard process running `config_path` (found through /proc, as the harness keeps the
/// pid to itself); -1 when not found.
long find_pid(const std::string& config_path) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return -1;
  }
  long found = -1;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') {
      continue;
    }
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(config_path) != std::string::npos &&
        cmdline.find("switchboard") != std::string::npos) {
      found = pid;
      break;
    }
  }
  ::closedir(proc);
  return found;
}

/// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM); -1 when unreadable.
long status_kib(long pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

class HostileUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions h;
    h.name = "hostile";
    hostile_ = std::make_unique<FakeUpstream>(h);
    FakeUpstreamOptions ok;
    ok.name = "healthy";
    healthy_ = std::make_unique<FakeUpstream>(ok);
    FakeUpstreamOptions t;
    t.tls = true;
    t.cert_file = SB_TEST_CERTS_DIR "/server.pem";
    t.key_file = SB_TEST_CERTS_DIR "/server.key";
    tls_ = std::make_unique<FakeUpstream>(t);
    const std::string timeouts =
        "    timeouts: {connect: 1s, first_token: 3s, idle: 2s, total: 8s}\n";
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 1}
backends:
  hostile:
    provider: openai
    base_url: ")" + hostile_->base_url() +
                             R"("
    api_key: "sk-backend-secret-0123456789"
    allow_insecure: true
    model: "gpt-4o"
)" + timeouts + R"(  hostile-claude:
    provider: anthropic
    base_url: ")" + hostile_->base_url() +
                             R"("
    api_key: "sk-ant-backend-secret-0123456789"
    allow_insecure: true
    model: "claude-3-5-sonnet-20241022"
)" + timeouts + R"(  wrong-ca:
    provider: vllm
    base_url: ")" + tls_->base_url() +
                             R"("
    model: "m"
    tls: {ca_file: ")" SB_TEST_CERTS_DIR R"(/other_ca.pem"}
)" + timeouts + R"(  healthy:
    provider: vllm
    base_url: ")" + healthy_->base_url() +
                             R"("
    model: "m"
models:
  hostile: {candidates: [hostile]}
  hostile-claude: {candidates: [hostile-claude]}
  wrong-ca: {candidates: [wrong-ca]}
  healthy: {candidates: [healthy]}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
    pid_ = find_pid(gw_->config_path());
    ASSERT_GT(pid_, 0);
  }

  void TearDown() override {
    if (!gw_ || !gw_->started()) {
      return;
    }
    // The gateway is up, answers a healthy client, and its memory stayed bounded.
    auto healthy = chat("healthy", false);
    ASSERT_TRUE(healthy) << gw_->stderr_text();
    EXPECT_EQ(healthy->status, 200u) << healthy->body;
    EXPECT_NE(healthy->body.find("Hello from healthy"), std::string::npos);
    const long peak = status_kib(pid_, "VmHWM");
    const long rss = status_kib(pid_, "VmRSS");
    ASSERT_GT(peak, 0);
    std::printf("[ memory ] %s: VmRSS %ld KiB, VmHWM %ld KiB\n",
                ::testing::UnitTest::GetInstance()->current_test_info()->name(), rss, peak);
    EXPECT_LT(peak, kMaxRssKiB) << "peak RSS (VmHWM) in KiB";
    EXPECT_FALSE(gw_->wait_exit(0ms)) << "the gateway exited\n" << gw_->stderr_text();
  }

  std::optional<HttpResponse> chat(const std::string& model, bool stream) {
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body(model, "ping", stream));
  }

  /// A request whose upstream fails before the first byte: a clear 502 (or 504).
  void expect_gateway_error(const std::string& model, bool stream, unsigned status = 502) {
    auto got = chat(model, stream);
    ASSERT_TRUE(got) << "no answer; gateway log:\n" << gw_->stderr_text();
    EXPECT_EQ(got->status, status) << got->body;
    EXPECT_NE(got->body.find("\"error\""), std::string::npos) << got->body;
    EXPECT_EQ(got->body.find("[DONE]"), std::string::npos);
  }

  /// A stream that fails after its first byte: 200, the content so far, an error event, no
  /// [DONE].
  void expect_interrupted_stream(const std::string& model) {
    auto got = chat(model, true);
    ASSERT_TRUE(got) << "no answer; gateway log:\n" << gw_->stderr_text();
    EXPECT_EQ(got->status, 200u) << got->body.substr(0, 500);
    EXPECT_NE(got->body.find("first"), std::string::npos) << got->body.substr(0, 500);
    const auto events = sse_data(got->body);
    ASSERT_FALSE(events.empty());
    EXPECT_NE(events.back().find("\"error\""), std::string::npos) << events.back().substr(0, 500);
    EXPECT_EQ(got->body.find("[DONE]"), std::string::npos);
  }

  std::unique_ptr<FakeUpstream> hostile_;
  std::unique_ptr<FakeUpstream> healthy_;
  std::unique_ptr<FakeUpstream> tls_;
  std::unique_ptr<GatewayProcess> gw_;
  long pid_ = -1;
};

TEST_F(HostileUpstreamTest, TrailerOf64KiBIsA502NotACrash) {
  // Before the caps, Beast threw std::length_error out of the worker loop: the process aborted.
  hostile_->push(raw(std::string(kChunkedJson) + frame(R"({"choices":[]})") +
                     "0\r\nX-Big: " + std::string(70'000, 't') + "\r\n\r\n"));
  expect_gateway_error("hostile", false);
}

TEST_F(HostileUpstreamTest, EndlessTrailerIsCutOff) {
  hostile_->push(
      raw(std::string(kChunkedJson) + frame(R"({"choices":[]})") + "0\r\nX-Big: ", "t", 256 << 20));
  expect_gateway_error("hostile", false);
}

TEST_F(HostileUpstreamTest, EndlessHeaderLineIsCutOff) {
  hostile_->push(raw("HTTP/1.1 200 OK\r\nX-Endless: ", "h", 256 << 20));
  expect_gateway_error("hostile", false);
}

TEST_F(HostileUpstreamTest, ContentLengthWithChunkedIsRefused) {
  hostile_->push(
      raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"
          "Transfer-Encoding: chunked\r\n\r\n" +
          frame(R"({"choices":[]})") + "0\r\n\r\n"));
  expect_gateway_error("hostile", false);
}

TEST_F(HostileUpstreamTest, InterimResponsesAreSkippedButNotForever) {
  // Two interim responses before the real one: skipped.
  const std::string answer =
      R"({"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"after hints"},"finish_reason":"stop"}]})";
  hostile_->push(
      raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
          std::to_string(answer.size()) + "\r\n\r\n" + answer));
  auto got = chat("hostile", false);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u) << got->body;
  EXPECT_NE(got->body.find("after hints"), std::string::npos) << got->body;
  // An endless run of them: refused.
  hostile_->push(raw("", "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n", 64 << 20));
  expect_gateway_error("hostile", false);
}

TEST_F(HostileUpstreamTest, ChunkExtensionFloodIsCutOff) {
  hostile_->push(
      raw(std::string(kChunkedSse), "1;ext=" + std::string(1000, 'e') + "\r\n:\r\n", 256 << 20));
  expect_gateway_error("hostile", true);
}

TEST_F(HostileUpstreamTest, EndlessSseLineBeforeTheFirstEventIsA502) {
  hostile_->push(raw(std::string(kChunkedSse) + frame("data: {\"x\":\""),
                     frame(std::string(16 * 1024, 'x')), 256 << 20));
  expect_gateway_error("hostile", true);
}

TEST_F(HostileUpstreamTest, EndlessSseLineMidStreamEndsWithAnErrorEvent) {
  hostile_->push(
      raw(std::string(kChunkedSse) + frame(content_event("first")) + frame("data: {\"x\":\""),
          frame(std::string(16 * 1024, 'x')), 256 << 20));
  expect_interrupted_stream("hostile");
}

TEST_F(HostileUpstreamTest, EndlessAnthropicEventEndsWithAnErrorEvent) {
  const std::string start =
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
      R"("model":"claude-3-5-sonnet-20241022","content":[],"usage":{"input_tokens":1,"output_tokens":1}}})"
      "\n\nevent: content_block_start\ndata: "
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\nevent: content_block_delta\ndata: "
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"first"}})"
      "\n\n";
  // Then an event whose data lines never end.
  hostile_->push(raw(std::string(kChunkedSse) + frame(start) + frame("event: ping\n"),
                     frame("data: " + std::string(16 * 1024, 'x') + "\n"), 256 << 20));
  expect_interrupted_stream("hostile-claude");
}

TEST_F(HostileUpstreamTest, EndlessEventsEndAtTheTotalDeadlineOrTheUpstreamsEnd) {
  // Small events and never a [DONE]; the fake stops after 16 MiB (and the total deadline would).
  std::string many;
  while (many.size() < 16 * 1024) {
    many += content_event("x");
  }
  hostile_->push(
      raw(std::string(kChunkedSse) + frame(content_event("first")), frame(many), 16 << 20));
  expect_interrupted_stream("hostile");
}

TEST_F(HostileUpstreamTest, ResetMidStreamEndsWithAnErrorEvent) {
  Response r = sse_response({content_event("first"), content_event("second")});
  r.reset_after_chunks = 1;
  hostile_->push(r);
  expect_interrupted_stream("hostile");
}

TEST_F(HostileUpstreamTest, AnswerOverTheBufferedBoundIsA502TooLarge) {
  // Announced: refused before a byte of it is read.
  hostile_->push(raw(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40000000\r\n\r\n{"));
  auto got = chat("hostile", false);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 502u) << got->body;
  EXPECT_NE(got->body.find("too large"), std::string::npos) << got->body;
  // Chunked without end: cut off at the bound.
  hostile_->push(raw(std::string(kChunkedJson) + frame("{\"x\":\""),
                     frame(std::string(64 * 1024, 'x')), 64 << 20));
  got = chat("hostile", false);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 502u) << got->body;
  EXPECT_NE(got->body.find("too large"), std::string::npos) << got->body;
  const std::string m = wait_for_metrics(
      gw_->admin_port(),
      {R"(switchboard_upstream_errors_total{backend="hostile",kind="too_large"} 2)"});
  EXPECT_NE(m.find(R"(switchboard_upstream_errors_total{backend="hostile",kind="too_large"} 2)"),
            std::string::npos);
}

TEST_F(HostileUpstreamTest, CertificateFromAnotherCaIsA502) {
  expect_gateway_error("wrong-ca", false);
  EXPECT_EQ(tls_->request_count(), 0u) << "nothing is sent over an unverified connection";
}

TEST_F(HostileUpstreamTest, InStreamErrorEventsAreScrubbed) {
  const std::string leak =
      "key sk-backend-secret-0123456789 rejected by 127.0.0.1 for Bearer eyJhbGciOiJI.UzI1NiJ9 "
      "and sk-proj-abcdefghijklmnopqrstuvwx";
  hostile_->push(sse_response(
      {content_event("first"), R"(data: {"error":{"message":")" + leak +
                                   R"(","type":"server_error","code":null}})" + "\n\n"},
      kGap));
  auto got = chat("hostile", true);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200u);
  EXPECT_NE(got->body.find("first"), std::string::npos) << got->body;
  EXPECT_NE(got->body.find("rejected by"), std::string::npos) << got->body;
  for (const char* secret :
       {"sk-backend-secret", "127.0.0.1", "eyJhbGciOiJI", "abcdefghijklmnop"}) {
    EXPECT_EQ(got->body.find(secret), std::string::npos) << secret << " leaked: " << got->body;
  }
}

TEST_F(HostileUpstreamTest, InStreamErrorEventsAreScrubbedForTheTranslatedDialects) {
  // The Messages and Responses writers read an OpenAI-wire upstream's own events: its error
  // event reaches their clients scrubbed too, as their dialect's error event.
  const std::string leak = "key sk-backend-secret-0123456789 rejected by 127.0.0.1";
  for (const std::string_view path : {"/v1/messages", "/v1/responses"}) {
    hostile_->push(sse_response(
        {content_event("first"), R"(data: {"error":{"message":")" + leak +
                                     R"(","type":"server_error","code":null}})" + "\n\n"},
        kGap));
    const std::string body =
        path == "/v1/messages"
            ? R"({"model":"hostile","max_tokens":16,"stream":true,)"
              R"("messages":[{"role":"user","content":"ping"}]})"
            : R"({"model":"hostile","stream":true,"store":false,"input":"ping"})";
    auto got = request(gw_->port(), "POST", std::string(path), body);
    ASSERT_TRUE(got) << path;
    EXPECT_EQ(got->status, 200u) << path << ": " << got->body;
    EXPECT_NE(got->body.find("first"), std::string::npos) << path << ": " << got->body;
    EXPECT_NE(got->body.find("event: error"), std::string::npos) << path << ": " << got->body;
    EXPECT_NE(got->body.find("rejected by"), std::string::npos) << path << ": " << got->body;
    for (const char* secret : {"sk-backend-secret", "127.0.0.1"}) {
      EXPECT_EQ(got->body.find(secret), std::string::npos)
          << path << ": " << secret << " leaked: " << got->body;
    }
  }
}

TEST_F(HostileUpstreamTest, AnthropicErrorEventsAreScrubbedInBothDialects) {
  const std::string start =
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
      R"("model":"claude-3-5-sonnet-20241022","content":[],"usage":{"input_tokens":1,"output_tokens":1}}})"
      "\n\nevent: content_block_start\ndata: "
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\nevent: content_block_delta\ndata: "
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"first"}})"
      "\n\n";
  const std::string error =
      "event: error\ndata: "
      R"({"type":"error","error":{"type":"overloaded_error","message":"key sk-ant-backend-secret-0123456789 at 127.0.0.1 overloaded"}})"
      "\n\n";
  for (const bool messages_dialect : {false, true}) {
    hostile_->push(sse_response({start, error}, kGap));
    std::optional<HttpResponse> got;
    if (messages_dialect) {
      got = request(gw_->port(), "POST", "/v1/messages",
                    R"({"model":"hostile-claude","max_tokens":16,"stream":true,)"
                    R"("messages":[{"role":"user","content":"ping"}]})");
    } else {
      got = chat("hostile-claude", true);
    }
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, 200u) << got->body;
    EXPECT_NE(got->body.find("overloaded"), std::string::npos) << got->body;
    EXPECT_EQ(got->body.find("sk-ant-backend-secret"), std::string::npos) << got->body;
    EXPECT_EQ(got->body.find("127.0.0.1"), std::string::npos) << got->body;
  }
}

TEST_F(HostileUpstreamTest, ErrorEventBeforeTheFirstByteIsAScrubbed502) {
  hostile_->push(sse_response(
      {"event: error\ndata: "
       R"({"type":"error","error":{"type":"api_error","message":"key sk-ant-backend-secret-0123456789 at 127.0.0.1 failed"}})"
       "\n\n"}));
  auto got = chat("hostile-claude", true);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 502u) << got->body;
  EXPECT_NE(got->body.find("failed"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("sk-ant-backend-secret"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("127.0.0.1"), std::string::npos) << got->body;
}

}  // namespace
}  // namespace sb::testing
