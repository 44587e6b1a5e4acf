// The real switchboard process between a client and fake OpenAI-compatible upstreams.

#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/integration/test_config.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions co;
    co.name = "closed";
    closed_ = std::make_unique<FakeUpstream>(co);
    settings_.down_url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
    start();
  }
  void start() {
    gw_ = std::make_unique<GatewayProcess>(make_config(*local_, *closed_, settings_));
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }
  std::optional<HttpResponse> chat(std::string_view model, bool stream = false,
                                   std::string_view extra = {},
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    return request(gw_->port(), "POST", "/v1/chat/completions",
                   chat_body(model, "hi there", stream, extra), headers);
  }
  std::string metrics() {
    auto r = request(gw_->admin_port(), "GET", "/metrics");
    return r ? r->body : std::string();
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  Settings settings_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(ProxyTest, NonStreamRoundTripRewritesAliasAndTagsTheResponse) {
  auto r = chat("default");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_NE(r->body.find("Hello from local: hi there"), std::string::npos) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "local");
  EXPECT_FALSE(r->header("x-request-id").empty());
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  const auto got = local_->requests().front();
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/v1/chat/completions");
  EXPECT_NE(got.body.find("\"model\":\"pinned/model-a\""), std::string::npos) << got.body;
}

TEST_F(ProxyTest, BodyPassesThroughByteForByteExceptTheModel) {
  const std::string body =
      "{ \"model\" : \"default\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 "
      "\\\"q\\\"\"}],"
      "\"temperature\":0.70,\"seed\":12345678901234567890,\"x_vendor\":{\"a\":[1,2.50e3,null]},"
      "\"max_tokens\":7 }";
  auto r = request(gw_->port(), "POST", "/v1/chat/completions", body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  const std::string expected =
      "{ \"model\" : \"pinned/model-a\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 "
      "\\\"q\\\"\"}],\"temperature\":0.70,\"seed\":12345678901234567890,\"x_vendor\":{\"a\":[1,2."
      "50e3,null]},\"max_tokens\":7 }";
  EXPECT_EQ(local_->requests().front().body, expected);
}

TEST_F(ProxyTest, ClientCredentialsAndHopByHopHeadersNeverReachTheUpstream) {
  auto r = chat("frontier", false, {},
                {{"Authorization", "Bearer client-secret"},
                 {"Connection", "keep-alive, X-Hop"},
                 {"X-Hop", "drop-me"},
                 {"Proxy-Authorization", "Basic abc"},
                 {"X-Api-Key", "client-key"},
                 {"Keep-Alive", "timeout=5"},
                 {"X-Custom", "kept"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  ASSERT_TRUE(closed_->wait_for_requests(1, 2s));
  const auto got = closed_->requests().front();
  EXPECT_EQ(got.header("authorization").value_or(""), "Bearer sk-backend-secret");
  EXPECT_FALSE(got.header("x-hop"));
  EXPECT_FALSE(got.header("proxy-authorization"));
  EXPECT_FALSE(got.header("x-api-key"));
  EXPECT_FALSE(got.header("keep-alive"));
  EXPECT_FALSE(got.header("x-custom")) << "a closed backend receives allow-listed headers only";
  EXPECT_EQ(got.header("x-request-id").value_or(""), r->header("x-request-id"));
  EXPECT_EQ(r->body.find("sk-backend-secret"), std::string::npos);

  auto r2 =
      chat("default", false, {}, {{"Authorization", "Bearer client-secret"}, {"X-Custom", "kept"}});
  ASSERT_TRUE(r2);
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  EXPECT_FALSE(local_->requests().front().header("authorization"));
  EXPECT_EQ(local_->requests().front().header("x-custom").value_or(""), "kept")
      << "a self-hosted backend receives the other end-to-end headers";
}

TEST_F(ProxyTest, ClientRequestIdIsKept) {
  auto r = chat("default", false, {}, {{"X-Request-Id", "trace-42"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-request-id"), "trace-42");
}

TEST_F(ProxyTest, StreamWithoutIncludeUsageLooksExactlyLikeOpenAI) {
  auto r = chat("default", true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u);
  EXPECT_EQ(r->header("Content-Type").rfind("text/event-stream", 0), 0u);
  const auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  for (const auto& e : events) {
    EXPECT_EQ(e.find("\"usage\""), std::string::npos) << e;
  }
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  EXPECT_NE(local_->requests().front().body.find("\"include_usage\":true"), std::string::npos);
  // The usage the client did not see was still counted.
  const std::string m = wait_for_metrics(
      gw_->admin_port(),
      {"switchboard_tokens_total{backend=\"local\",direction=\"output\",source=\"reported\",tenant=\"default\"} 5"});
  EXPECT_NE(m.find("switchboard_tokens_total{backend=\"local\",direction=\"output\",source=\"reported\","
                   "tenant=\"default\"} 5"),
            std::string::npos)
      << m;
}

TEST_F(ProxyTest, StreamWithIncludeUsageKeepsTheUsageChunk) {
  auto r = chat("default", true, ",\"stream_options\":{\"include_usage\":true}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u);
  const auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  const std::string& usage = events[events.size() - 2];
  EXPECT_NE(usage.find("\"choices\":[]"), std::string::npos) << usage;
  EXPECT_NE(usage.find("\"completion_tokens\":5"), std::string::npos) << usage;
}

TEST_F(ProxyTest, StreamEventsReachTheClientBeforeTheUpstreamFinishes) {
  // The upstream sends two events and then stalls: they must arrive while it is still stalled,
  // then the idle timeout ends the stream with an error event and no [DONE].
  const auto events = chat_stream_events("pinned/model-a", {"Hello", " world", "!"}, false, {});
  Response resp = sse_response(events);
  resp.stall_after_chunks = 2;
  local_->push(resp);
  Client c(gw_->port());
  c.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(chat_body("default", "x", true).size()) + "\r\n\r\n" +
      chat_body("default", "x", true));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  std::string received;
  while (received.find("Hello") == std::string::npos) {
    auto chunk = c.read_chunk();
    ASSERT_TRUE(chunk) << received;
    received += *chunk;
  }
  // Arrived while the upstream is stalled after its second event; now the stall is detected.
  std::string rest;
  while (auto chunk = c.read_chunk()) {
    rest += *chunk;
  }
  const auto tail = sse_data(rest);
  ASSERT_FALSE(tail.empty()) << rest;
  EXPECT_NE(tail.back().find("\"error\""), std::string::npos) << rest;
  EXPECT_EQ(rest.find("[DONE]"), std::string::npos);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ProxyTest, UpstreamResetMidStreamEndsWithAnErrorEventNotDone) {
  const auto events = chat_stream_events("pinned/model-a", {"a", "b", "c", "d"}, false, {});
  Response resp = sse_response(events);
  resp.reset_after_chunks = 2;
  local_->push(resp);
  auto r = chat("default", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  const auto data = sse_data(r->body);
  ASSERT_FALSE(data.empty());
  EXPECT_NE(data.back().find("\"error\""), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("[DONE]"), std::string::npos);
}

TEST_F(ProxyTest, UpstreamDownIs502) {
  auto r = chat("broken");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502u);
  EXPECT_NE(r->body.find("\"type\":\"api_error\""), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("127.0.0.1"), std::string::npos) << "no internal addresses";
}

TEST_F(ProxyTest, FallsBackToTheNextCandidateBeforeTheFirstByte) {
  auto r = chat("resilient");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "local");
}

TEST_F(ProxyTest, CircuitOpensOnAFailingBackendAndTrafficKeepsFlowing) {
  for (int i = 0; i < 8; ++i) {
    auto r = chat("resilient");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(r->header("x-switchboard-backend"), "local");
  }
  // Five consecutive connect failures open the circuit of "down"; "local" stays closed.
  const std::string m =
      wait_for_metrics(gw_->admin_port(), {"switchboard_backend_up{backend=\"down\"} 0\n",
                                           "switchboard_backend_up{backend=\"local\"} 1\n"});
  EXPECT_NE(m.find("switchboard_backend_up{backend=\"down\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("switchboard_backend_up{backend=\"local\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("switchboard_upstream_errors_total{backend=\"down\",kind=\"connect\"} 5\n"),
            std::string::npos)
      << "once open, the circuit stops the connection attempts\n"
      << m;
}

// A stream's header is awaited for first_token (1 s here); a complete answer's for `total`
// (ResilienceTest.ACompleteAnswerStalledPastTheTotalTimeoutIs504), which here (10 s) would race
// the test client's own 10 s receive timeout.
TEST_F(ProxyTest, UpstreamStallIs504) {
  Response stall;
  stall.kind = Response::Kind::stall;
  local_->push(stall);
  auto r = chat("default", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504u);
  EXPECT_NE(r->body.find("timeout_error"), std::string::npos) << r->body;
}

TEST_F(ProxyTest, ACompleteAnswerSlowerThanTheFirstTokenTimeoutIsWaitedFor) {
  // A complete answer's header comes once all of it is written (a reasoning model's, a long
  // answer's): `total` (10 s here) bounds that wait, not `first_token` (1 s here).
  Response slow;
  slow.header_delay = 1500ms;
  slow.body = chat_completion_body("pinned/model-a", "thought long", Usage{5, 2});
  local_->push(slow);
  auto r = chat("default");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_NE(r->body.find("thought long"), std::string::npos) << r->body;
  // A stream's header comes with its first event: `first_token` bounds it.
  Response slow_stream =
      sse_response(chat_stream_events("pinned/model-a", {"late"}, false, {1, 1}));
  slow_stream.header_delay = 1500ms;
  local_->push(slow_stream);
  auto s = chat("default", true);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 504u) << s->body;
}

TEST_F(ProxyTest, UpstreamResetBeforeAnswerIs502) {
  Response reset;
  reset.kind = Response::Kind::reset_on_read;
  local_->push(reset);
  auto r = chat("default");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502u);
}

TEST_F(ProxyTest, Upstream429PassesThroughWithRetryAfter) {
  Response limited;
  limited.status = 429;
  limited.headers = {{"retry-after", "7"}, {"Content-Type", "application/json"}};
  limited.body = error_body("Rate limit reached", "requests", "rate_limit_exceeded");
  local_->push(limited);
  auto r = chat("default");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429u);
  EXPECT_EQ(r->header("Retry-After"), "7");
  EXPECT_EQ(r->body, limited.body);
}

TEST_F(ProxyTest, Upstream500BecomesAnOpenAIShaped502) {
  Response failed;
  failed.status = 500;
  failed.body = error_body("engine crashed", "server_error", "");
  local_->push(failed);
  auto r = chat("default");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502u);
  EXPECT_NE(r->body.find("engine crashed"), std::string::npos) << r->body;
}

TEST_F(ProxyTest, UpstreamErrorBodiesAreScrubbedOfCredentialsAndHosts) {
  Response denied;
  denied.status = 401;
  denied.body = error_body(
      "Incorrect API key provided: sk-backend-secret. You can find your key at "
      "https://127.0.0.1/account (upstream 127.0.0.1)",
      "invalid_request_error", "invalid_api_key");
  closed_->push(denied);
  auto r = chat("frontier");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401u);
  EXPECT_EQ(r->body.find("sk-backend-secret"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("127.0.0.1"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("[redacted]"), std::string::npos) << r->body;
  EXPECT_EQ(r->header("Content-Length"), std::to_string(r->body.size()));
}

TEST_F(ProxyTest, ClientErrorsAreOpenAIShaped) {
  auto bad = request(gw_->port(), "POST", "/v1/chat/completions", "{not json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400u);
  EXPECT_NE(bad->body.find("\"type\":\"invalid_request_error\""), std::string::npos);

  auto unknown = chat("no-such-model");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404u);
  EXPECT_NE(unknown->body.find("model_not_found"), std::string::npos);

  auto no_messages =
      request(gw_->port(), "POST", "/v1/chat/completions", "{\"model\":\"default\"}");
  ASSERT_TRUE(no_messages);
  EXPECT_EQ(no_messages->status, 400u);

  auto path = request(gw_->port(), "GET", "/v1/nothing");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->status, 404u);

  auto method = request(gw_->port(), "GET", "/v1/chat/completions");
  ASSERT_TRUE(method);
  EXPECT_EQ(method->status, 405u);
  EXPECT_EQ(local_->requests().size(), 0u);
}

TEST_F(ProxyTest, HeadIsAnsweredWithTheHeadAloneOnBothPlanes) {
  // HEAD is GET without the body (RFC 9110): a load balancer's `HEAD /healthz` is 200, and a
  // keep-alive client reads the next answer whole after it, on every path, refused ones included.
  const struct {
    std::uint16_t port;
    const char* target;
    unsigned status;
  } cases[] = {
      {gw_->port(), "/v1/models", 200u},           {gw_->port(), "/v1/models/default", 200u},
      {gw_->port(), "/v1/chat/completions", 405u}, {gw_->port(), "/v1/nothing", 404u},
      {gw_->admin_port(), "/healthz", 200u},       {gw_->admin_port(), "/metrics", 200u},
  };
  for (const auto& c : cases) {
    Client client(c.port, 5s);
    client.send_raw(std::string("HEAD ") + c.target + " HTTP/1.1\r\nHost: x\r\n\r\n" + "GET " +
                    (c.port == gw_->port() ? "/v1/models" : "/healthz") +
                    " HTTP/1.1\r\nHost: x\r\n\r\n");
    auto head = client.read_head();
    ASSERT_TRUE(head) << c.target;
    EXPECT_EQ(head->status, c.status) << c.target;
    EXPECT_NE(head->header("content-length"), "0") << c.target;  // the GET's, as RFC 9110 allows
    auto next = client.read_response();
    ASSERT_TRUE(next) << c.target << ": the HEAD's body was sent";
    EXPECT_EQ(next->status, 200u) << c.target << ": " << next->body;
    EXPECT_EQ(next->body.front(), '{') << c.target;
  }
  auto method = request(gw_->port(), "PUT", "/v1/models");
  ASSERT_TRUE(method);
  EXPECT_EQ(method->status, 405u);
  EXPECT_EQ(method->header("allow"), "GET, HEAD");
}

TEST_F(ProxyTest, AHeadThatAsksToContinueGetsTheContinueAndThenItsHead) {
  // `100 Continue` is an interim answer, sent whole: the HEAD's own head still follows it.
  Client client(gw_->port(), 5s);
  client.send_raw(
      "HEAD /v1/models HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"
      "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
  auto interim = client.read_head();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100u);
  auto head = client.read_head();
  ASSERT_TRUE(head) << "the HEAD's own head never came";
  EXPECT_EQ(head->status, 200u);
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200u) << next->body;
  EXPECT_EQ(next->body.front(), '{');
}

TEST_F(ProxyTest, EmbeddingsAreRoutedAndTheirUsageCounted) {
  Response emb;
  emb.body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],)"
             R"("model":"pinned/model-a","usage":{"prompt_tokens":3,"total_tokens":3}})";
  local_->push(emb);
  auto r = request(gw_->port(), "POST", "/v1/embeddings",
                   R"({"model":"default","input":"hello embedding world"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->body, emb.body);
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  const auto got = local_->requests().front();
  EXPECT_EQ(got.target, "/v1/embeddings");
  EXPECT_EQ(got.body, R"({"model":"pinned/model-a","input":"hello embedding world"})");
  const std::string m = wait_for_metrics(
      gw_->admin_port(),
      {"switchboard_tokens_total{backend=\"local\",direction=\"input\",source=\"reported\",tenant=\"default\"} 3"});
  EXPECT_NE(
      m.find(
          "switchboard_tokens_total{backend=\"local\",direction=\"input\",source=\"reported\",tenant=\"default\"} 3"),
      std::string::npos);

  auto missing = request(gw_->port(), "POST", "/v1/embeddings", R"({"model":"default"})");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400u);
  EXPECT_NE(missing->body.find("'input'"), std::string::npos);
}

TEST_F(ProxyTest, LegacyCompletionsAreRouted) {
  Response done;
  done.body = R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"pinned/model-a",)"
              R"("choices":[{"text":" there","index":0,"logprobs":null,"finish_reason":"stop"}],)"
              R"("usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})";
  local_->push(done);
  auto r = request(gw_->port(), "POST", "/v1/completions",
                   R"({"model":"default","prompt":"Hello","max_tokens":5})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->body, done.body);
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  EXPECT_EQ(local_->requests().front().target, "/v1/completions");
  auto method = request(gw_->port(), "GET", "/v1/completions");
  ASSERT_TRUE(method);
  EXPECT_EQ(method->status, 405u);
}

TEST_F(ProxyTest, ModelsListsTheAliases) {
  auto r = request(gw_->port(), "GET", "/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  for (const char* alias : {"default", "frontier", "broken", "resilient"}) {
    EXPECT_NE(r->body.find(std::string("\"id\":\"") + alias + "\""), std::string::npos) << alias;
  }
  EXPECT_EQ(r->body.find("pinned/model-a"), std::string::npos) << "backend names stay inside";
}

TEST_F(ProxyTest, PipelinedRequestsAreAnsweredInOrder) {
  const std::string a = chat_body("default", "first", false);
  const std::string b = chat_body("no-such-model", "second", false);
  const std::string c = chat_body("default", "third", false);
  Client client(gw_->port());
  std::string bytes;
  for (const auto* body : {&a, &b, &c}) {
    bytes += "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
             std::to_string(body->size()) + "\r\n\r\n" + *body;
  }
  client.send_raw(bytes);
  auto r1 = client.read_response();
  auto r2 = client.read_response();
  auto r3 = client.read_response();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->status, 200u);
  EXPECT_NE(r1->body.find("first"), std::string::npos);
  EXPECT_EQ(r2->status, 404u);
  EXPECT_EQ(r3->status, 200u);
  EXPECT_NE(r3->body.find("third"), std::string::npos);
}

TEST_F(ProxyTest, KeepAliveReusesOneUpstreamConnection) {
  Client client(gw_->port());
  for (int i = 0; i < 3; ++i) {
    const std::string body = chat_body("default", "again", false);
    client.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);
    auto r = client.read_response();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u);
    EXPECT_FALSE(r->closed);
  }
  EXPECT_EQ(local_->connections(), 1u);
}

TEST_F(ProxyTest, ConnectionCloseIsHonouredAndSentOnce) {
  for (const char* target : {"/v1/models", "/v1/nothing"}) {
    auto r = request(gw_->port(), "GET", target, {}, {{"Connection", "close"}});
    ASSERT_TRUE(r) << target;
    int connection_headers = 0;
    for (const auto& [k, v] : r->headers) {
      connection_headers += (k == "Connection") ? 1 : 0;
    }
    EXPECT_EQ(connection_headers, 1) << target;
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(r->closed) << target;
  }
}

TEST_F(ProxyTest, ExpectContinueIsHonoured) {
  const std::string body = chat_body("default", "continue", false);
  Client client(gw_->port());
  client.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  auto interim = client.read_head();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100u);
  client.send_raw(body);
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

TEST_F(ProxyTest, MetricsAndHealthOnTheAdminPlane) {
  ASSERT_TRUE(chat("default"));
  ASSERT_TRUE(chat("no-such-model"));
  wait_for_metrics(gw_->admin_port(), {"switchboard_overhead_seconds_count 2"});
  auto health = request(gw_->admin_port(), "GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200u);
  auto ready = request(gw_->admin_port(), "GET", "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200u);
  const std::string m = metrics();
  EXPECT_NE(m.find("switchboard_requests_total{backend=\"local\",hosting=\"self-hosted\","
                   "model=\"default\",rule=\"default\",status=\"200\",tenant=\"default\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("switchboard_requests_total{backend=\"none\",hosting=\"none\",model=\"none\","
                   "rule=\"none\",status=\"404\",tenant=\"default\"} 1"),
            std::string::npos);
  EXPECT_NE(
      m.find("switchboard_request_duration_seconds_count{backend=\"local\",model=\"default\"} 1"),
      std::string::npos);
  EXPECT_NE(m.find("switchboard_overhead_seconds_count 2"), std::string::npos);
  EXPECT_NE(
      m.find("switchboard_tokens_total{backend=\"local\",direction=\"input\",source=\"reported\",tenant=\"default\"}"),
      std::string::npos);
  // The data plane does not serve admin paths.
  auto leak = request(gw_->port(), "GET", "/metrics");
  ASSERT_TRUE(leak);
  EXPECT_EQ(leak->status, 404u);
}

TEST_F(ProxyTest, AccessLogHasOneLinePerRequestAndNoPromptText) {
  ASSERT_TRUE(chat("default", false, {}, {{"X-Request-Id", "log-check-1"}}));
  std::string log;
  for (int i = 0; i < 200 && log.find("log-check-1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
    log = gw_->stdout_text();
  }
  EXPECT_NE(log.find("\"request_id\":\"log-check-1\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"backend\":\"local\""), std::string::npos);
  EXPECT_NE(log.find("\"tokens_out\":5"), std::string::npos) << log;
  EXPECT_EQ(log.find("hi there"), std::string::npos) << "prompt text must never be logged";
}

}  // namespace
}  // namespace sb::testing
