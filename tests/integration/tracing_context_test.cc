// Trace context end to end (tests/integration/trace_fixture.h): the client's traceparent continued
// and sent to self-hosted backends only (closed ones with propagate_to_closed), unsampled and
// invalid parents, ratio sampling, keep-alive connections, mid-stream ends, tracing off, the
// OTEL_* environment, and the other data-plane endpoints.

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/trace_fixture.h"

namespace sb::testing::traces {
namespace {

// 5a. The client's traceparent: the server span continues it, the self-hosted backend gets the
// client span as its parent, the closed backend gets nothing.
TEST_F(TracingTest, TheClientsTraceparentIsContinuedAndSentToSelfHostedOnly) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  const std::vector<std::pair<std::string, std::string>> tp{
      {"traceparent", traceparent(kTrace, kClientSpan, "01")}, {"tracestate", "congo=t61rcWkgMzE"}};
  auto home = chat("prop-home", kEmail, false, tp);
  ASSERT_TRUE(home);
  ASSERT_EQ(home->status, 200u) << home->body;
  auto away = chat("prop-away", "what is the capital of France", false, tp);
  ASSERT_TRUE(away);
  ASSERT_EQ(away->status, 200u) << away->body;
  ASSERT_EQ(local_->requests().size(), 1u);
  ASSERT_EQ(closed_->requests().size(), 1u);

  const Spans spans = receiver_->wait([](const Spans& s) {
    return server_span(s, "prop-home") != nullptr && server_span(s, "prop-away") != nullptr;
  });
  const Span* server = server_span(spans, "prop-home");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(server->at("traceId"), kTrace);
  EXPECT_EQ(server->at("parentSpanId"), kClientSpan);
  EXPECT_EQ(server->at("traceState"), "congo=t61rcWkgMzE");
  const std::vector<const Span*> tries = attempts_of(spans, *server);
  ASSERT_EQ(tries.size(), 1u) << receiver_->raw();
  const std::string expected = traceparent(kTrace, field(*tries[0], "spanId"), "01");
  EXPECT_EQ(local_->requests()[0].header("traceparent"), expected);
  EXPECT_EQ(local_->requests()[0].header("tracestate"), "congo=t61rcWkgMzE");

  const Span* away_server = server_span(spans, "prop-away");
  ASSERT_NE(away_server, nullptr);
  EXPECT_EQ(away_server->at("traceId"), kTrace);
  ASSERT_EQ(attempts_of(spans, *away_server).size(), 1u);
  EXPECT_FALSE(closed_->requests()[0].header("traceparent")) << "closed backend got a traceparent";
  EXPECT_FALSE(closed_->requests()[0].header("tracestate"));
}

// 5b. propagate_to_closed: the closed backend gets the traceparent too.
TEST_F(TracingTest, PropagateToClosedSendsTheTraceparentToClosedBackends) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver("    propagate_to_closed: true\n"));
  auto r = chat("prop-closed", "what is the capital of France", false,
                {{"traceparent", traceparent(kTrace, kClientSpan, "01")}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  ASSERT_EQ(closed_->requests().size(), 1u);
  const Spans spans = wait_request(*receiver_, "prop-closed");
  const Span* server = server_span(spans, "prop-closed");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  const std::vector<const Span*> tries = attempts_of(spans, *server);
  ASSERT_EQ(tries.size(), 1u);
  EXPECT_EQ(closed_->requests()[0].header("traceparent"),
            traceparent(kTrace, field(*tries[0], "spanId"), "01"));
}

// 5c. An unsampled parent: nothing exported, the self-hosted backend still hears flags 00.
TEST_F(TracingTest, AnUnsampledParentExportsNothingButStillPropagates) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  constexpr const char* kQuiet = "0af7651916cd43dd8448eb211c80319c";
  auto r =
      chat("quiet-1", kEmail, false, {{"traceparent", traceparent(kQuiet, kClientSpan, "00")}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  ASSERT_EQ(local_->requests().size(), 1u);
  const std::optional<std::string> sent = local_->requests()[0].header("traceparent");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->size(), 55u);
  EXPECT_EQ(sent->substr(0, 36), "00-" + std::string(kQuiet) + "-");
  EXPECT_NE(sent->substr(36, 16), kClientSpan);  // the gateway's span, not the client's
  EXPECT_EQ(sent->substr(52), "-00");
  // A sampled request after it: once its spans are in, the unsampled one's would be too.
  auto marker = chat("marker-1", kEmail);
  ASSERT_TRUE(marker);
  ASSERT_EQ(marker->status, 200u);
  const Spans spans = wait_request(*receiver_, "marker-1");
  ASSERT_NE(server_span(spans, "marker-1"), nullptr) << receiver_->raw();
  EXPECT_EQ(spans.size(), 2u) << receiver_->raw();
  for (const Span& s : spans) {
    EXPECT_NE(s.at("traceId"), kQuiet) << json::serialize(s);
  }
  EXPECT_EQ(wait_metric_above(gw_->admin_port(), "exported", 1), 2);
}

// 5d. An invalid traceparent starts a new root trace.
TEST_F(TracingTest, AnInvalidTraceparentStartsANewTrace) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  const std::vector<std::string> invalid{
      "garbage", traceparent("00000000000000000000000000000000", kClientSpan, "01"),
      traceparent(kTrace, "0000000000000000", "01"),
      "ff-" + std::string(kTrace) + "-" + std::string(kClientSpan) + "-01",
      traceparent("4BF92F3577B34DA6A3CE929D0E0E4736", kClientSpan, "01")};
  for (std::size_t i = 0; i < invalid.size(); ++i) {
    const std::string id = "invalid-" + std::to_string(i);
    auto r = chat(id, kEmail, false, {{"traceparent", invalid[i]}, {"tracestate", "k=v"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
    const Spans spans = wait_request(*receiver_, id);
    const Span* server = server_span(spans, id);
    ASSERT_NE(server, nullptr) << invalid[i] << "\n" << receiver_->raw();
    EXPECT_EQ(server->at("parentSpanId"), "") << invalid[i];
    EXPECT_NE(server->at("traceId"), kTrace) << invalid[i];
    EXPECT_NE(server->at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736") << invalid[i];
    EXPECT_EQ(server->at("traceId").as_string().size(), 32u);
    EXPECT_EQ(server->at("traceState"), "") << invalid[i];
    const std::vector<const Span*> tries = attempts_of(spans, *server);
    ASSERT_EQ(tries.size(), 1u);
    EXPECT_EQ(local_->requests().back().header("traceparent"),
              traceparent(field(*server, "traceId"), field(*tries[0], "spanId"), "01"));
  }
}

// 5e. Parent-based sampling: with a ratio of 0 a new root is not exported, a sampled client
// parent still is.
TEST_F(TracingTest, ASampledParentDecidesUnderARatioOfZero) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver("    sample_ratio: 0\n"));
  auto root = chat("root-unsampled", kEmail);
  ASSERT_TRUE(root);
  ASSERT_EQ(root->status, 200u);
  ASSERT_EQ(local_->requests().size(), 1u);
  const std::optional<std::string> sent = local_->requests()[0].header("traceparent");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->substr(52), "-00");
  auto child = chat("child-sampled", kEmail, false,
                    {{"traceparent", traceparent(kTrace, kClientSpan, "01")}});
  ASSERT_TRUE(child);
  ASSERT_EQ(child->status, 200u);
  const Spans spans = wait_request(*receiver_, "child-sampled");
  ASSERT_NE(server_span(spans, "child-sampled"), nullptr) << receiver_->raw();
  EXPECT_EQ(server_span(spans, "root-unsampled"), nullptr) << receiver_->raw();
  EXPECT_EQ(spans.size(), 2u) << receiver_->raw();
}

// 5f. Requests on one keep-alive connection: each its own trace, nothing carried over.
TEST_F(TracingTest, KeepAliveRequestsDoNotShareTraceContext) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  Client c(gw_->port());
  ASSERT_TRUE(c.connected());
  c.send_raw(raw_chat("ka-1", kEmail, false,
                      "traceparent: " + traceparent(kTrace, kClientSpan, "01") + "\r\n"));
  auto first = c.read_response();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u);
  c.send_raw(raw_chat("ka-2", kEmail, false));
  auto second = c.read_response();
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200u);
  const Spans spans = wait_request(*receiver_, "ka-2");
  const Span* a = server_span(spans, "ka-1");
  const Span* b = server_span(spans, "ka-2");
  ASSERT_NE(a, nullptr) << receiver_->raw();
  ASSERT_NE(b, nullptr) << receiver_->raw();
  EXPECT_EQ(a->at("traceId"), kTrace);
  EXPECT_NE(b->at("traceId"), kTrace);
  EXPECT_EQ(b->at("parentSpanId"), "");
  ASSERT_EQ(local_->requests().size(), 2u);
  const std::optional<std::string> sent = local_->requests()[1].header("traceparent");
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->find(kTrace), std::string::npos) << *sent;
  EXPECT_EQ(sent->substr(3, 32), field(*b, "traceId"));
}

// 5g. An upstream that cuts its stream after the head: the attempt is an error, the request's
// span is still exported with the status the client got.
TEST_F(TracingTest, AStreamCutByTheUpstreamMarksTheAttemptFailed) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  Response cut = sse_response(
      chat_stream_events("pinned/local", {"a", " b", " c", " d"}, true, {3, 4, -1}), 5ms);
  cut.reset_after_chunks = 3;
  local_->push(std::move(cut));
  auto r = chat("cut-1", kEmail, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  const Spans spans = wait_request(*receiver_, "cut-1");
  const Span* server = server_span(spans, "cut-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(int_attr(*server, "http.response.status_code"), 200);
  const std::vector<const Span*> tries = attempts_of(spans, *server);
  ASSERT_EQ(tries.size(), 1u) << receiver_->raw();
  EXPECT_EQ(status_code(*tries[0]), "STATUS_CODE_ERROR") << json::serialize(*tries[0]);
  EXPECT_NE(str_attr(*tries[0], "error.type"), "<absent>");
  EXPECT_EQ(bool_attr(*tries[0], "gen_ai.request.stream"), true);
  // What it sent before the cut is billed (the usage estimated from the bytes relayed).
  EXPECT_TRUE(double_attr(*tries[0], "switchboard.cost_usd")) << json::serialize(*tries[0]);
  EXPECT_GT(int_attr(*tries[0], "gen_ai.usage.output_tokens"), 0);
}

// 5h. A client that leaves mid-stream: both spans are still exported.
TEST_F(TracingTest, AClientLeavingMidStreamStillExportsItsSpans) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  std::vector<std::string> pieces;
  for (int i = 0; i < 40; ++i) {
    pieces.push_back(" w" + std::to_string(i));
  }
  local_->push(sse_response(chat_stream_events("pinned/local", pieces, true, {3, 40, -1}), 50ms));
  {
    Client c(gw_->port());
    ASSERT_TRUE(c.connected());
    c.send_raw(raw_chat("leave-1", kEmail, true));
    auto head = c.read_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200u);
    ASSERT_TRUE(c.read_chunk());
  }  // closed here, mid-stream
  const Spans spans = wait_request(*receiver_, "leave-1");
  const Span* server = server_span(spans, "leave-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(attempts_of(spans, *server).size(), 1u) << receiver_->raw();
  EXPECT_EQ(str_attr(*server, "switchboard.backend"), "local");
}

// 5i. Tracing off: the gateway sends no traceparent of its own, and a client's reaches no
// closed backend (only propagate_to_closed would send one there).
TEST_F(TracingTest, WithTracingOffNoTraceparentReachesAClosedBackend) {
  ASSERT_NO_FATAL_FAILURE(start(""));
  const std::vector<std::pair<std::string, std::string>> tp{
      {"traceparent", traceparent(kTrace, kClientSpan, "01")}, {"tracestate", "k=v"}};
  auto away = chat("off-away", "what is the capital of France", false, tp);
  ASSERT_TRUE(away);
  ASSERT_EQ(away->status, 200u);
  auto plain = chat("off-plain", kEmail);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200u);
  ASSERT_EQ(closed_->requests().size(), 1u);
  EXPECT_FALSE(closed_->requests()[0].header("traceparent"))
      << *closed_->requests()[0].header("traceparent");
  EXPECT_FALSE(closed_->requests()[0].header("tracestate"));
  ASSERT_EQ(local_->requests().size(), 1u);
  EXPECT_FALSE(local_->requests()[0].header("traceparent"));
}

// 5j. The standard environment variables turn tracing on without a `telemetry:` section.
TEST_F(TracingTest, TheOtelEnvironmentVariablesConfigureTracing) {
  receiver_ = std::make_unique<Receiver>();
  ASSERT_FALSE(HasFailure());
  ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver_->endpoint().c_str(), 1);
  ::setenv("OTEL_SERVICE_NAME", "from-env", 1);
  ::setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=it,team=gw%20core", 1);
  start("");
  ::unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  ::unsetenv("OTEL_SERVICE_NAME");
  ::unsetenv("OTEL_RESOURCE_ATTRIBUTES");
  ASSERT_FALSE(HasFatalFailure());
  auto r = chat("env-1", kEmail);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u);
  // The default interval (1 s) sends it.
  const Spans spans = wait_request(*receiver_, "env-1");
  const Span* server = server_span(spans, "env-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  const json::object& resource = server->at("resource").as_object();
  EXPECT_EQ(str_in(resource, "service.name"), "from-env");
  EXPECT_EQ(str_in(resource, "deployment.environment"), "it");
  EXPECT_EQ(str_in(resource, "team"), "gw core");
}

// 5k. Other data-plane endpoints: the Anthropic Messages front door and embeddings.
TEST_F(TracingTest, MessagesAndEmbeddingsHaveTheirRouteAndOperation) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  const std::string messages = R"({"model":"default","max_tokens":64,"messages":[{"role":"user",)"
                               R"("content":"mail alice.w@northwind-mail.com"}]})";
  auto m = request(gw_->port(), "POST", "/v1/messages", messages,
                   {{"x-request-id", "msg-1"}, {"anthropic-version", "2023-06-01"}});
  ASSERT_TRUE(m);
  ASSERT_EQ(m->status, 200u) << m->body;
  auto e = request(gw_->port(), "POST", "/v1/embeddings",
                   R"({"model":"default","input":"the capital of France"})",
                   {{"x-request-id", "emb-1"}});
  ASSERT_TRUE(e);
  ASSERT_EQ(e->status, 200u) << e->body;
  const Spans spans = receiver_->wait([](const Spans& s) {
    return server_span(s, "msg-1") != nullptr && server_span(s, "emb-1") != nullptr;
  });
  const Span* ms = server_span(spans, "msg-1");
  ASSERT_NE(ms, nullptr) << receiver_->raw();
  EXPECT_EQ(ms->at("name"), "POST /v1/messages");
  EXPECT_EQ(str_attr(*ms, "switchboard.rule"), "sensitive-stays-home");
  const std::vector<const Span*> mt = attempts_of(spans, *ms);
  ASSERT_EQ(mt.size(), 1u) << receiver_->raw();
  EXPECT_EQ(str_attr(*mt[0], "gen_ai.operation.name"), "chat");
  EXPECT_EQ(str_attr(*mt[0], "gen_ai.provider.name"), "vllm");
  const Span* es = server_span(spans, "emb-1");
  ASSERT_NE(es, nullptr) << receiver_->raw();
  EXPECT_EQ(es->at("name"), "POST /v1/embeddings");
  const std::vector<const Span*> et = attempts_of(spans, *es);
  ASSERT_EQ(et.size(), 1u) << receiver_->raw();
  EXPECT_EQ(et[0]->at("name"), "embeddings gpt-4o");
  EXPECT_EQ(str_attr(*et[0], "gen_ai.operation.name"), "embeddings");
  EXPECT_EQ(str_attr(*et[0], "gen_ai.provider.name"), "openai");
}

}  // namespace
}  // namespace sb::testing::traces
