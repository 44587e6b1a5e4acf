// Traces end to end (tests/integration/trace_fixture.h): the real gateway's spans as the official
// OpenTelemetry JavaScript classes decode them. A server span per request with the decision, one
// client span per upstream attempt with the GenAI attributes (stream or not, retries,
// fallbacks), refusals without client spans, and no prompt or completion content anywhere.
// Propagation and sampling: tracing_context_test.cc; the exporter's failures:
// tracing_export_test.cc.

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

// 1. A non-stream chat: the server span with the decision, one client span under it.
TEST_F(TracingTest, NonStreamChatHasAServerSpanWithTheDecisionAndOneClientSpan) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  closed_->push(ok_response("gpt-4o-2024-08-06", {12, 4, -1}));
  auto r = chat("plain-1", "what is the capital of France");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  const Spans spans = wait_request(*receiver_, "plain-1");
  const Span* server = server_span(spans, "plain-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(server->at("kind"), "SPAN_KIND_SERVER");
  EXPECT_EQ(server->at("name"), "POST /v1/chat/completions");
  EXPECT_EQ(server->at("parentSpanId"), "");
  EXPECT_EQ(int_attr(*server, "http.response.status_code"), 200);
  EXPECT_EQ(str_attr(*server, "http.request.method"), "POST");
  EXPECT_EQ(str_attr(*server, "http.route"), "/v1/chat/completions");
  EXPECT_EQ(str_attr(*server, "switchboard.rule"), "default");
  EXPECT_EQ(str_attr(*server, "switchboard.sensitivity"), "public");
  EXPECT_EQ(str_attr(*server, "switchboard.tier"), r->header("x-switchboard-tier"));
  EXPECT_EQ(str_attr(*server, "switchboard.model_alias"), "default");
  EXPECT_EQ(str_attr(*server, "switchboard.backend"), "closed");
  EXPECT_NE(status_code(*server), "STATUS_CODE_ERROR");
  EXPECT_EQ(str_in(server->at("resource").as_object(), "service.name"), "switchboard-it");
  const json::array& events = server->at("events").as_array();
  ASSERT_EQ(events.size(), 1u) << json::serialize(*server);
  const json::object& decision = events[0].as_object();
  EXPECT_EQ(decision.at("name"), "switchboard.decision");
  const json::object& ea = decision.at("attributes").as_object();
  EXPECT_EQ(str_in(ea, "switchboard.rule"), "default");
  EXPECT_EQ(str_in(ea, "switchboard.sensitivity"), "public");
  EXPECT_EQ(str_in(ea, "switchboard.tier"), r->header("x-switchboard-tier"));
  EXPECT_EQ(str_in(ea, "switchboard.outcome"), "route");

  const std::vector<const Span*> tries = attempts_of(spans, *server);
  ASSERT_EQ(tries.size(), 1u) << receiver_->raw();
  const Span& c = *tries[0];
  EXPECT_EQ(c.at("kind"), "SPAN_KIND_CLIENT");
  EXPECT_EQ(c.at("name"), "chat gpt-4o");
  EXPECT_EQ(str_attr(c, "gen_ai.operation.name"), "chat");
  EXPECT_EQ(str_attr(c, "gen_ai.provider.name"), "openai");
  EXPECT_EQ(str_attr(c, "gen_ai.request.model"), "gpt-4o");  // the backend's pinned model
  EXPECT_EQ(str_attr(c, "gen_ai.response.model"), "gpt-4o-2024-08-06");  // what answered
  EXPECT_EQ(strings_attr(c, "gen_ai.response.finish_reasons"), "stop");
  EXPECT_EQ(int_attr(c, "gen_ai.usage.input_tokens"), 12);
  EXPECT_EQ(int_attr(c, "gen_ai.usage.output_tokens"), 4);
  EXPECT_EQ(bool_attr(c, "gen_ai.request.stream"), false);
  EXPECT_EQ(int_attr(c, "switchboard.attempt"), 1);
  EXPECT_EQ(int_attr(c, "http.response.status_code"), 200);
  EXPECT_EQ(str_attr(c, "switchboard.backend"), "closed");
  EXPECT_FALSE(has_attr(c, "error.type"));
  EXPECT_NE(status_code(c), "STATUS_CODE_ERROR");
  // 12 input tokens at $2.5/Mtok and 4 output at $10/Mtok.
  const std::optional<double> cost = double_attr(c, "switchboard.cost_usd");
  ASSERT_TRUE(cost) << json::serialize(c);
  EXPECT_NEAR(*cost, 12 * 2.5e-6 + 4 * 10e-6, 1e-9);
  EXPECT_EQ(spans.size(), 2u) << receiver_->raw();
}

// 2. A stream: the same shape, marked as a stream, with the time to first token.
TEST_F(TracingTest, StreamChatHasTheStreamFlagAndTimeToFirstToken) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  closed_->push(sse_response(chat_stream_events("gpt-4o", {"Hel", "lo"}, true, {9, 2, 4}), 5ms));
  auto r = chat("stream-1", "say hello", true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  const Spans spans = wait_request(*receiver_, "stream-1");
  const Span* server = server_span(spans, "stream-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(server->at("name"), "POST /v1/chat/completions");
  EXPECT_EQ(int_attr(*server, "http.response.status_code"), 200);
  EXPECT_EQ(str_attr(*server, "switchboard.rule"), "default");
  EXPECT_EQ(server->at("events").as_array().size(), 1u);
  const std::vector<const Span*> tries = attempts_of(spans, *server);
  ASSERT_EQ(tries.size(), 1u) << receiver_->raw();
  const Span& c = *tries[0];
  EXPECT_EQ(c.at("kind"), "SPAN_KIND_CLIENT");
  EXPECT_EQ(str_attr(c, "gen_ai.operation.name"), "chat");
  EXPECT_EQ(str_attr(c, "gen_ai.provider.name"), "openai");
  EXPECT_EQ(str_attr(c, "gen_ai.request.model"), "gpt-4o");
  EXPECT_EQ(bool_attr(c, "gen_ai.request.stream"), true);
  EXPECT_EQ(str_attr(c, "gen_ai.response.model"), "gpt-4o");
  EXPECT_EQ(strings_attr(c, "gen_ai.response.finish_reasons"), "stop");
  EXPECT_EQ(int_attr(c, "gen_ai.usage.input_tokens"), 9);
  EXPECT_EQ(int_attr(c, "gen_ai.usage.output_tokens"), 2);
  EXPECT_EQ(int_attr(c, "gen_ai.usage.cache_read.input_tokens"), 4);
  const std::optional<double> ttft = double_attr(c, "switchboard.time_to_first_token_ms");
  ASSERT_TRUE(ttft) << json::serialize(c);
  EXPECT_GE(*ttft, 0);
  EXPECT_TRUE(double_attr(c, "switchboard.cost_usd")) << json::serialize(c);
}

// 3a. A retry on the same backend: one client span per attempt, the failed one an error.
TEST_F(TracingTest, ARetryHasOneClientSpanPerAttempt) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  local_->push(status_response(503));
  local_->push(ok_response("pinned/local", {5, 3, -1}));
  auto r = chat("retry-1", kEmail);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(local_->request_count(), 2u);
  const Spans spans = wait_request(*receiver_, "retry-1");
  const Span* server = server_span(spans, "retry-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(str_attr(*server, "switchboard.rule"), "sensitive-stays-home");
  EXPECT_EQ(str_attr(*server, "switchboard.sensitivity"), "confidential");
  EXPECT_EQ(str_attr(*server, "switchboard.backend"), "local");
  const std::vector<const Span*> tries = attempts_of(spans, *server);
  ASSERT_EQ(tries.size(), 2u) << receiver_->raw();
  EXPECT_EQ(int_attr(*tries[0], "switchboard.attempt"), 1);
  EXPECT_EQ(int_attr(*tries[1], "switchboard.attempt"), 2);
  for (const Span* t : tries) {
    EXPECT_EQ(str_attr(*t, "gen_ai.provider.name"), "vllm");
    EXPECT_EQ(str_attr(*t, "gen_ai.request.model"), "pinned/local");
    EXPECT_EQ(str_attr(*t, "switchboard.backend"), "local");
  }
  EXPECT_EQ(status_code(*tries[0]), "STATUS_CODE_ERROR");
  EXPECT_NE(str_attr(*tries[0], "error.type"), "<absent>");
  EXPECT_EQ(int_attr(*tries[0], "http.response.status_code"), 503);
  EXPECT_FALSE(has_attr(*tries[0], "gen_ai.usage.input_tokens"));
  EXPECT_NE(status_code(*tries[1]), "STATUS_CODE_ERROR");
  EXPECT_FALSE(has_attr(*tries[1], "error.type"));
  EXPECT_EQ(int_attr(*tries[1], "gen_ai.usage.input_tokens"), 5);
  EXPECT_EQ(int_attr(*tries[1], "gen_ai.usage.output_tokens"), 3);
}

// 3b. A fallback: the closed backend fails twice (a 503, then a reset), the self-hosted one serves.
TEST_F(TracingTest, AFallbackHasOneClientSpanPerAttemptAcrossBackends) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  closed_->push(status_response(503));
  closed_->push(reset_response());
  auto r = chat("fallback-1", "what is the capital of France");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "local");
  // The 503 is retried once (retries.attempts: 2), the reset moves on to the next backend.
  const std::size_t closed_tries = closed_->request_count();
  ASSERT_EQ(closed_tries, 2u);
  const Spans spans = wait_request(*receiver_, "fallback-1");
  const Span* server = server_span(spans, "fallback-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(str_attr(*server, "switchboard.backend"), "local");
  EXPECT_EQ(int_attr(*server, "http.response.status_code"), 200);
  const std::vector<const Span*> tries = attempts_of(spans, *server);
  ASSERT_EQ(tries.size(), closed_tries + 1) << receiver_->raw();
  for (std::size_t i = 0; i < tries.size(); ++i) {
    const Span& t = *tries[i];
    EXPECT_EQ(int_attr(t, "switchboard.attempt"), static_cast<long long>(i + 1));
    EXPECT_EQ(t.at("kind"), "SPAN_KIND_CLIENT");
    if (i + 1 < tries.size()) {
      EXPECT_EQ(str_attr(t, "switchboard.backend"), "closed");
      EXPECT_EQ(str_attr(t, "gen_ai.provider.name"), "openai");
      EXPECT_EQ(status_code(t), "STATUS_CODE_ERROR") << json::serialize(t);
      EXPECT_NE(str_attr(t, "error.type"), "<absent>") << json::serialize(t);
      EXPECT_FALSE(has_attr(t, "switchboard.cost_usd"));
    } else {
      EXPECT_EQ(str_attr(t, "switchboard.backend"), "local");
      EXPECT_EQ(str_attr(t, "gen_ai.provider.name"), "vllm");
      EXPECT_NE(status_code(t), "STATUS_CODE_ERROR");
      EXPECT_FALSE(has_attr(t, "error.type"));
    }
  }
  EXPECT_EQ(int_attr(*tries[0], "http.response.status_code"), 503);
  EXPECT_FALSE(has_attr(*tries[1], "http.response.status_code"));  // reset: no status
}

// 4. Refused requests: a server span with the status and no client span.
TEST_F(TracingTest, ARefusedRequestHasAServerSpanAndNoClientSpan) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  // Restricted data (a card number): the self-hosted backend is cleared up to confidential only.
  auto forbidden = chat("refused-1", "charge card 4111 1111 1111 1111");
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->status, 403u) << forbidden->body;
  auto unknown = chat("unknown-1", "hello", false, {}, "no-such-model");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404u) << unknown->body;
  auto bad = request(gw_->port(), "POST", "/v1/chat/completions", "{not json",
                     {{"x-request-id", "bad-1"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400u) << bad->body;
  EXPECT_EQ(local_->request_count() + closed_->request_count(), 0u);
  const Spans spans = receiver_->wait([](const Spans& s) {
    return server_span(s, "refused-1") != nullptr && server_span(s, "unknown-1") != nullptr &&
           server_span(s, "bad-1") != nullptr;
  });
  const Span* malformed = server_span(spans, "bad-1");
  ASSERT_NE(malformed, nullptr) << receiver_->raw();
  EXPECT_EQ(int_attr(*malformed, "http.response.status_code"), 400);
  EXPECT_EQ(malformed->at("name"), "POST /v1/chat/completions");
  const Span* refused = server_span(spans, "refused-1");
  ASSERT_NE(refused, nullptr) << receiver_->raw();
  EXPECT_EQ(int_attr(*refused, "http.response.status_code"), 403);
  EXPECT_EQ(str_attr(*refused, "switchboard.sensitivity"), "restricted");
  EXPECT_NE(status_code(*refused), "STATUS_CODE_ERROR");  // a 4xx is the client's, not ours
  ASSERT_EQ(refused->at("events").as_array().size(), 1u);
  const json::object& ea =
      refused->at("events").as_array()[0].as_object().at("attributes").as_object();
  EXPECT_EQ(str_in(ea, "switchboard.outcome"), "forbidden");
  const json::object* types = attr_value(ea, "switchboard.entity_types");
  ASSERT_NE(types, nullptr);
  EXPECT_NE(json::serialize(*types).find("credit_card"), std::string::npos);
  EXPECT_TRUE(attempts_of(spans, *refused).empty()) << receiver_->raw();
  EXPECT_FALSE(has_attr(*refused, "switchboard.backend"));

  const Span* missing = server_span(spans, "unknown-1");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(int_attr(*missing, "http.response.status_code"), 404);
  EXPECT_TRUE(attempts_of(spans, *missing).empty()) << receiver_->raw();
  for (const Span& s : spans) {
    EXPECT_NE(s.at("kind"), "SPAN_KIND_CLIENT") << json::serialize(s);
  }
}

// 6. No content: neither the prompt's secret and email nor the echoed completion reach a span.
TEST_F(TracingTest, NoPromptOrCompletionContentInAnySpan) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  constexpr std::string_view kSecret = "sk-live-Zq8XwV3p7Kd9TmR2";
  constexpr std::string_view kAddress = "carol.q@wintergreen-labs.com";
  const std::string prompt =
      "use key " + std::string(kSecret) + " and mail " + std::string(kAddress);
  for (bool stream : {false, true}) {
    const std::string id = stream ? "content-stream" : "content-plain";
    auto r = chat(id, prompt, stream);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
    EXPECT_NE(r->body.find(kSecret), std::string::npos) << r->body;  // echoed back
  }
  // And one that fails upstream, and one refused, with the same content.
  local_->push(status_response(500));
  local_->push(status_response(500));
  auto failed = chat("content-failed", prompt);
  ASSERT_TRUE(failed);
  auto refused = chat("content-refused", prompt + " card 4111 1111 1111 1111");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403u);
  receiver_->wait([](const Spans& s) {
    return server_span(s, "content-plain") && server_span(s, "content-stream") &&
           server_span(s, "content-failed") && server_span(s, "content-refused");
  });
  const std::string raw = receiver_->raw();
  const Spans spans = receiver_->spans();
  ASSERT_NE(server_span(spans, "content-failed"), nullptr) << raw;
  ASSERT_NE(server_span(spans, "content-refused"), nullptr) << raw;
  // Every try failed: the server span carries the gateway's answer as an error.
  const Span& failed_span = *server_span(spans, "content-failed");
  EXPECT_EQ(int_attr(failed_span, "http.response.status_code"),
            static_cast<long long>(failed->status));
  EXPECT_GE(failed->status, 500u);
  EXPECT_EQ(status_code(failed_span), "STATUS_CODE_ERROR");
  EXPECT_NE(str_attr(failed_span, "error.type"), "<absent>");
  EXPECT_EQ(attempts_of(spans, failed_span).size(), 2u);
  EXPECT_GE(spans.size(), 4u + 3u);
  for (std::string_view needle : {kSecret, std::string_view("Zq8XwV3p7Kd9TmR2"), kAddress,
                                  std::string_view("wintergreen-labs"), std::string_view("carol.q"),
                                  std::string_view("4111 1111"), std::string_view("Hello from"),
                                  std::string_view("use key")}) {
    EXPECT_EQ(raw.find(needle), std::string::npos) << needle << " in\n" << raw;
  }
  // The entity types are there (names, not values).
  EXPECT_NE(raw.find("\"email\""), std::string::npos) << raw;
}

}  // namespace
}  // namespace sb::testing::traces
