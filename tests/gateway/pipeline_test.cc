// The chat pipeline's pieces that are values and pure functions: what an attempt's result makes
// dispatch do, the one error-to-status mapping and the client dialects, and the request's record
// (RAII) recording exactly once on every path. In memory: no sockets, no config, no clock.

#include <optional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include "gateway/net/forwarding.h"
#include "gateway/pipeline/attempt_result.h"
#include "gateway/pipeline/client_dialect.h"
#include "gateway/pipeline/request_record.h"
#include "gateway/pipeline/responses.h"

namespace sb::gateway {
namespace {

using chat::Attempt;
using chat::AttemptResult;
using chat::DispatchState;
using chat::Step;
using upstream::ErrorKind;

// ---- what an attempt's result makes dispatch do ----

TEST(DispatchTest, AnAnswerOrAGoneClientStopsDispatch) {
  EXPECT_EQ(chat::next_step(AttemptResult::ended(Attempt::answered), 1, 3), Step::stop);
  EXPECT_EQ(chat::next_step(AttemptResult::ended(Attempt::closed), 1, 3), Step::stop);
}

TEST(DispatchTest, ARetryableFailureRetriesTheSameBackendWhileTriesRemain) {
  const AttemptResult r = AttemptResult::transport_failure(ErrorKind::connect);
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(chat::next_step(r, 1, 3), Step::retry);
  EXPECT_EQ(chat::next_step(r, 2, 3), Step::retry);
  EXPECT_EQ(chat::next_step(r, 3, 3), Step::next_backend);
  EXPECT_EQ(chat::next_step(r, 1, 1), Step::next_backend);
}

TEST(DispatchTest, ATimeoutMovesOnToTheNextBackendAtOnce) {
  const AttemptResult r = AttemptResult::transport_failure(ErrorKind::first_byte_timeout);
  EXPECT_FALSE(r.retryable);
  EXPECT_TRUE(r.upstream_failed);
  EXPECT_EQ(chat::next_step(r, 1, 3), Step::next_backend);
}

TEST(DispatchTest, APassedOverOrUnsendableBackendMovesOnWithoutRetry) {
  EXPECT_EQ(chat::next_step(AttemptResult::passed_over(), 1, 3), Step::next_backend);
  EXPECT_EQ(chat::next_step(AttemptResult::passed_over(true), 1, 3), Step::next_backend);
  EXPECT_EQ(chat::next_step(AttemptResult::unsendable(), 1, 3), Step::next_backend);
  EXPECT_FALSE(AttemptResult::passed_over().upstream_failed);
  EXPECT_FALSE(AttemptResult::unsendable().upstream_failed);
}

TEST(DispatchTest, ARetryableUpstreamAnswerIsReplayedWhenNoLaterTryAnswers) {
  DispatchState state;
  AttemptResult a = AttemptResult::retry_later(503, "first", std::nullopt);
  EXPECT_EQ(chat::next_step(a, 1, 2), Step::retry);
  state.absorb(a);
  AttemptResult b = AttemptResult::retry_later(429, "second", std::chrono::seconds(1));
  EXPECT_EQ(chat::next_step(b, 2, 2), Step::next_backend);
  state.absorb(b);
  // The next backend is busy, then its circuit is open, then it cannot take the request: the
  // last upstream answer stands.
  AttemptResult busy = AttemptResult::passed_over();
  state.absorb(busy);
  AttemptResult open = AttemptResult::passed_over(true);
  state.absorb(open);
  AttemptResult unsendable = AttemptResult::unsendable();
  state.absorb(unsendable);
  ASSERT_TRUE(state.answer.has_value());
  EXPECT_EQ(state.answer->status, 429u);
  EXPECT_EQ(state.answer->response, "second");
  EXPECT_TRUE(state.circuit_open);
  EXPECT_EQ(state.last_error, ErrorKind::protocol);
}

TEST(DispatchTest, ALaterTransportFailureForgetsTheEarlierAnswer) {
  DispatchState state;
  AttemptResult a = AttemptResult::retry_later(502, "answer", std::nullopt);
  state.absorb(a);
  AttemptResult b = AttemptResult::transport_failure(ErrorKind::idle_timeout);
  state.absorb(b);
  EXPECT_FALSE(state.answer.has_value());
  EXPECT_EQ(state.last_error, ErrorKind::idle_timeout);
  EXPECT_EQ(http_status(chat::failure_cause(state)), 504u);
}

TEST(DispatchTest, EveryBackendPassedOverIsUnavailable) {
  DispatchState state;
  AttemptResult busy = AttemptResult::passed_over();
  state.absorb(busy);
  EXPECT_FALSE(state.circuit_open);
  EXPECT_EQ(chat::failure_cause(state).kind, gateway::ErrorKind::unavailable);
  EXPECT_EQ(http_status(chat::failure_cause(state)), 503u);
  AttemptResult refused = AttemptResult::transport_failure(ErrorKind::connect);
  state.absorb(refused);
  EXPECT_EQ(http_status(chat::failure_cause(state)), 502u);
}

// A request that may wait for capacity waits again only when nothing was sent: every backend
// was full (or its circuit open), at least one full.
TEST(DispatchTest, OnlyFullWhenNothingWasSentAndABackendWasFull) {
  DispatchState state;
  EXPECT_FALSE(state.only_full());
  AttemptResult open = AttemptResult::passed_over(true);
  state.absorb(open);
  EXPECT_FALSE(state.only_full()) << "an open circuit is no capacity to wait for";
  AttemptResult full = AttemptResult::full();
  EXPECT_EQ(chat::next_step(full, 1, 3), Step::next_backend);
  state.absorb(full);
  EXPECT_TRUE(state.only_full());
  EXPECT_EQ(http_status(chat::failure_cause(state)), 503u);

  DispatchState tried;
  AttemptResult reset = AttemptResult::transport_failure(ErrorKind::connect);
  tried.absorb(reset);
  AttemptResult full_after = AttemptResult::full();
  tried.absorb(full_after);
  EXPECT_FALSE(tried.only_full()) << "a try reached an upstream: its failure is the answer";

  DispatchState replayable;
  AttemptResult busy = AttemptResult::retry_later(429, "slow down", std::nullopt);
  replayable.absorb(busy);
  AttemptResult full_too = AttemptResult::full();
  replayable.absorb(full_too);
  EXPECT_FALSE(replayable.only_full());

  DispatchState unsendable;
  AttemptResult cannot = AttemptResult::unsendable();
  unsendable.absorb(cannot);
  AttemptResult full_last = AttemptResult::full();
  unsendable.absorb(full_last);
  EXPECT_TRUE(unsendable.only_full()) << "nothing was sent: the full backend may still take it";
}

TEST(DispatchTest, TheWaitAnUpstreamAskedForIsReadFromItsHeaders) {
  using std::chrono::milliseconds;
  EXPECT_EQ(chat::asked_wait("", "2"), milliseconds(2000));
  EXPECT_EQ(chat::asked_wait("250", "2"), milliseconds(250));  // retry-after-ms wins
  EXPECT_EQ(chat::asked_wait("", "0.5"), milliseconds(500));
  EXPECT_EQ(chat::asked_wait("", ""), std::nullopt);
  EXPECT_EQ(chat::asked_wait("", "Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(chat::asked_wait("", "-1"), std::nullopt);
  EXPECT_EQ(chat::asked_wait("", "99999999"), std::nullopt);
}

TEST(DispatchTest, AWaitLongerThanAllowedMovesOnInsteadOfRetrying) {
  config::RetrySettings r;
  r.max_retry_after = std::chrono::milliseconds(5000);
  EXPECT_EQ(chat::retry_delay(r, std::chrono::milliseconds(6000), 1), std::nullopt);
  EXPECT_EQ(chat::retry_delay(r, std::chrono::milliseconds(3000), 1),
            Clock::duration(std::chrono::milliseconds(3000)));
  r.backoff = std::chrono::milliseconds(100);
  r.max_backoff = std::chrono::milliseconds(300);
  for (unsigned n = 1; n <= 5; ++n) {
    const std::optional<Clock::duration> wait = chat::retry_delay(r, std::nullopt, n);
    ASSERT_TRUE(wait.has_value());
    EXPECT_GE(wait->count(), 0);
    const auto cap = std::chrono::milliseconds(std::min<long long>(300, 100ll << (n - 1)));
    EXPECT_LE(*wait, Clock::duration(cap));
  }
}

// ---- the one error-to-status mapping ----

TEST(ErrorStatusTest, TheGatewaysOwnErrors) {
  EXPECT_EQ(http_status({gateway::ErrorKind::invalid_request}), 400u);
  EXPECT_EQ(http_status({gateway::ErrorKind::unauthenticated}), 401u);
  EXPECT_EQ(http_status({gateway::ErrorKind::forbidden}), 403u);
  EXPECT_EQ(http_status({gateway::ErrorKind::not_found}), 404u);
  EXPECT_EQ(http_status({gateway::ErrorKind::method_not_allowed}), 405u);
  EXPECT_EQ(http_status({gateway::ErrorKind::rate_limited}), 429u);
  EXPECT_EQ(http_status({gateway::ErrorKind::unavailable}), 503u);
  EXPECT_EQ(http_status({gateway::ErrorKind::upstream_unreadable}), 502u);
  EXPECT_EQ(http_status({gateway::ErrorKind::untranslatable, 400}), 400u);
}

TEST(ErrorStatusTest, TransportFailuresAre502AndTimeouts504) {
  const auto transport = [](ErrorKind k) {
    return http_status({gateway::ErrorKind::upstream_transport, 0, k});
  };
  EXPECT_EQ(transport(ErrorKind::connect), 502u);
  EXPECT_EQ(transport(ErrorKind::reset), 502u);
  EXPECT_EQ(transport(ErrorKind::too_large), 502u);
  EXPECT_EQ(transport(ErrorKind::connect_timeout), 504u);
  EXPECT_EQ(transport(ErrorKind::first_byte_timeout), 504u);
  EXPECT_EQ(transport(ErrorKind::idle_timeout), 504u);
}

TEST(ErrorStatusTest, APassThroughUpstreamsStatus) {
  const auto status = [](unsigned s) {
    return http_status({gateway::ErrorKind::upstream_status, s});
  };
  EXPECT_EQ(status(400), 400u);  // the upstream's own word
  EXPECT_EQ(status(404), 404u);
  EXPECT_EQ(status(429), 429u);
  EXPECT_EQ(status(500), 502u);  // a gateway failure for the client
  EXPECT_EQ(status(503), 503u);
  EXPECT_EQ(status(504), 504u);
  EXPECT_EQ(status(529), 502u);
  EXPECT_EQ(status(302), 502u);  // no answer the client can use
  EXPECT_EQ(status(201), 502u);
}

TEST(ErrorStatusTest, ATranslatorsErrorStatus) {
  const auto status = [](unsigned s) {
    return http_status({gateway::ErrorKind::upstream_error, s});
  };
  EXPECT_EQ(status(400), 400u);
  EXPECT_EQ(status(429), 429u);
  EXPECT_EQ(status(500), 502u);
  EXPECT_EQ(status(503), 503u);
  EXPECT_EQ(status(504), 504u);
  EXPECT_EQ(status(302), 302u);  // the translator's word below 500
}

// ---- the client dialects ----

boost::json::object body_of(const std::string& response) {
  const std::size_t at = response.find("\r\n\r\n");
  return boost::json::parse(response.substr(at + 4)).as_object();
}

TEST(ClientDialectTest, OpenAIErrorsAreOpenAIErrorObjects) {
  const ClientDialect& d = client_dialect(Dialect::openai);
  EXPECT_EQ(d.id, Dialect::openai);
  const std::string r = error_response(d, 429, "slow down", "rate_limit_exceeded", "X-A: b\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 429 "));
  EXPECT_NE(r.find("X-A: b\r\n"), std::string::npos);
  const boost::json::object body = body_of(r);
  const boost::json::object& err = body.at("error").as_object();
  EXPECT_EQ(err.at("message").as_string(), "slow down");
  EXPECT_EQ(err.at("type").as_string(), "rate_limit_error");
  EXPECT_EQ(err.at("code").as_string(), "rate_limit_exceeded");
}

TEST(ClientDialectTest, AnthropicErrorsAreAnthropicErrorObjects) {
  const ClientDialect& d = client_dialect(Dialect::anthropic);
  EXPECT_EQ(d.id, Dialect::anthropic);
  const std::string r = error_response(d, 429, "slow down", "rate_limit_exceeded", {});
  EXPECT_TRUE(r.starts_with("HTTP/1.1 429 "));
  const boost::json::object body = body_of(r);
  EXPECT_EQ(body.at("type").as_string(), "error");
  EXPECT_EQ(body.at("error").as_object().at("type").as_string(), "rate_limit_error");
  EXPECT_EQ(body.at("error").as_object().at("message").as_string(), "slow down");
}

TEST(ClientDialectTest, TheStatusIsTheSameInEveryDialect) {
  for (const Dialect id : {Dialect::openai, Dialect::anthropic}) {
    const std::string r =
        error_response(client_dialect(id), http_status({gateway::ErrorKind::upstream_status, 500}),
                       "down", {}, {});
    EXPECT_TRUE(r.starts_with("HTTP/1.1 502 ")) << r;
  }
}

TEST(ClientDialectTest, AnswersPassThroughForOpenAIAndAreConvertedForAnthropic) {
  const std::string completion =
      R"({"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";
  std::string error;
  const ClientDialect& openai = client_dialect(Dialect::openai);
  EXPECT_EQ(openai.answer(completion, "alias", error, 0), completion);
  EXPECT_TRUE(openai.answer_content_type.empty());
  EXPECT_FALSE(openai.rewrites_stream);

  const ClientDialect& anthropic = client_dialect(Dialect::anthropic);
  const std::optional<std::string> message = anthropic.answer(completion, "alias", error, 0);
  ASSERT_TRUE(message.has_value()) << error;
  const boost::json::object m = boost::json::parse(*message).as_object();
  EXPECT_EQ(m.at("type").as_string(), "message");
  EXPECT_EQ(m.at("model").as_string(), "alias");
  EXPECT_EQ(anthropic.answer_content_type, "application/json");
  EXPECT_TRUE(anthropic.rewrites_stream);
  EXPECT_FALSE(anthropic.answer(R"({"not":"a completion"})", "alias", error, 0).has_value());
  EXPECT_FALSE(error.empty());
}

TEST(ClientDialectTest, EachDialectSaysHowToSendTheKey) {
  EXPECT_NE(client_dialect(Dialect::openai).missing_key_message.find("Authorization: Bearer"),
            std::string_view::npos);
  EXPECT_NE(client_dialect(Dialect::anthropic).missing_key_message.find("x-api-key"),
            std::string_view::npos);
}

// ---- the request's record ----

struct Sink {
  int records = 0;
  unsigned status = 0;
  std::int64_t cost = 0;
  static void write(void* self, Outcome& o) {
    auto* s = static_cast<Sink*>(self);
    ++s->records;
    s->status = o.status;
    s->cost = o.cost_nanos;
  }
};

struct CountingSettlement final : Settlement {
  explicit CountingSettlement(RequestRecord& r) : record(r) {}
  void settle() override {
    ++settled;
    record.outcome().cost_nanos = 42;
  }
  RequestRecord& record;
  int settled = 0;
};

TEST(RequestRecordTest, RecordsOnceWhenTheRequestEnds) {
  Sink sink;
  {
    RequestRecord record(&sink, &Sink::write);
    record.outcome().status = 200;
    EXPECT_EQ(sink.records, 0);
  }
  EXPECT_EQ(sink.records, 1);
  EXPECT_EQ(sink.status, 200u);
}

TEST(RequestRecordTest, AnExplicitFinishIsNotRepeatedByTheDestructor) {
  Sink sink;
  {
    RequestRecord record(&sink, &Sink::write);
    record.finish();
    record.finish();
    EXPECT_TRUE(record.finished());
    EXPECT_EQ(sink.records, 1);
  }
  EXPECT_EQ(sink.records, 1);
}

TEST(RequestRecordTest, SettlesOnceBeforeRecording) {
  Sink sink;
  int settled = 0;
  {
    RequestRecord record(&sink, &Sink::write);
    CountingSettlement settlement(record);
    record.attach(&settlement);
    record.finish();
    settled = settlement.settled;
  }
  EXPECT_EQ(settled, 1);
  EXPECT_EQ(sink.records, 1);
  EXPECT_EQ(sink.cost, 42);  // the record saw the settled cost
}

TEST(RequestRecordTest, RecordsOnceWhenAnExceptionUnwinds) {
  Sink sink;
  EXPECT_THROW(
      {
        RequestRecord record(&sink, &Sink::write);
        record.outcome().status = 500;
        throw std::runtime_error("boom");
      },
      std::runtime_error);
  EXPECT_EQ(sink.records, 1);
  EXPECT_EQ(sink.status, 500u);
}

boost::asio::awaitable<bool> early_return(Sink& sink, bool early) {
  RequestRecord record(&sink, &Sink::write);
  if (early) {
    record.outcome().status = 400;
    co_return false;
  }
  record.outcome().status = 200;
  co_return true;
}

boost::asio::awaitable<void> throws_midway(Sink& sink) {
  RequestRecord record(&sink, &Sink::write);
  record.outcome().status = 502;
  throw std::runtime_error("boom");
  co_return;
}

TEST(RequestRecordTest, RecordsOnceOnEveryCoroutinePath) {
  for (const bool early : {true, false}) {
    Sink sink;
    boost::asio::io_context ioc;
    boost::asio::co_spawn(ioc, early_return(sink, early), boost::asio::detached);
    ioc.run();
    EXPECT_EQ(sink.records, 1);
    EXPECT_EQ(sink.status, early ? 400u : 200u);
  }
  Sink sink;
  boost::asio::io_context ioc;
  bool threw = false;
  boost::asio::co_spawn(ioc, throws_midway(sink), [&](std::exception_ptr e) { threw = !!e; });
  ioc.run();
  EXPECT_TRUE(threw);
  EXPECT_EQ(sink.records, 1);
  EXPECT_EQ(sink.status, 502u);
}

}  // namespace
}  // namespace sb::gateway

namespace sb::gateway {
namespace {

// ---- the inbound dialects' pieces ----

// An attempt's stream that is already OpenAI chunks (what the pass-through wire relays).
class PassThrough final : public adapters::StreamTranslator {
 public:
  bool feed(std::string_view bytes, std::string& out) override {
    out += bytes;
    return true;
  }
  bool finish(std::string&) override { return true; }
  const std::optional<adapters::Usage>& usage() const override { return usage_; }
  const std::optional<adapters::TranslateError>& error() const override { return error_; }

 private:
  std::optional<adapters::Usage> usage_;
  std::optional<adapters::TranslateError> error_;
};

constexpr std::string_view kChunks =
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
    "\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

TEST(ResponsesOutboundTest, TheCompletingEventWaitsForFinishSoTheStoreHasItFirst) {
  PassThrough inner;
  ScrubbedStream scrubbed(inner, "", "");
  adapters::ResponseMeta meta;
  meta.id = "resp_1";
  meta.model = "alias";
  ResponsesOutbound outbound(scrubbed, meta);
  const std::size_t first = kChunks.find("\n\n") + 2;
  std::string out;
  ASSERT_TRUE(outbound.feed(kChunks.substr(0, first), out));
  EXPECT_NE(out.find("response.created"), std::string::npos) << out;
  out.clear();
  ASSERT_TRUE(outbound.feed(kChunks.substr(first), out));
  EXPECT_EQ(out.find("response.completed"), std::string::npos)
      << "held until the response is stored: " << out;
  EXPECT_FALSE(outbound.writer().final_response().empty());
  std::string tail;
  ASSERT_TRUE(outbound.finish(tail));
  EXPECT_NE(tail.find("event: response.completed"), std::string::npos) << tail;
  EXPECT_NE(outbound.writer().output_messages().find("Hi"), std::string::npos);
}

TEST(ResponsesOutboundTest, AGatewayFailureBecomesResponsesEvents) {
  PassThrough inner;
  ScrubbedStream scrubbed(inner, "", "");
  ResponsesOutbound outbound(scrubbed, adapters::ResponseMeta{});
  std::string out;
  ASSERT_TRUE(outbound.feed(kChunks.substr(0, kChunks.find("\n\n") + 2), out));
  std::string failure;
  outbound.gateway_event(
      "data: {\"error\":{\"message\":\"upstream reset\",\"type\":\"api_error\"}}\n\n", failure);
  EXPECT_NE(failure.find("event: error"), std::string::npos) << failure;
  EXPECT_NE(failure.find("event: response.failed"), std::string::npos) << failure;
  EXPECT_NE(failure.find("upstream reset"), std::string::npos) << failure;
}

TEST(ResponsesConversationTest, StoredTurnsJoinAsOneArray) {
  EXPECT_EQ(join_json_arrays("", "[]", ""), "[]");
  EXPECT_EQ(join_json_arrays(R"([{"a":1}])", "", R"([{"c":3}])"), R"([{"a":1},{"c":3}])");
  EXPECT_EQ(join_json_arrays(R"([{"a":1},{"b":2}])", R"([ {"c":3}])", "[]"),
            R"([{"a":1},{"b":2},{"c":3}])");
}

TEST(ForwardingTest, AnthropicHeadersReachOnlyAnthropicFormatBackends) {
  const std::vector<HeaderLine> forwardable = {{"anthropic-beta", "claude-code-20250219"},
                                               {"anthropic-version", "2023-06-01"},
                                               {"x-app", "cli"}};
  config::Backend engine;
  engine.provider = config::Provider::vllm;
  engine.hosting = config::Hosting::self_hosted;
  upstream::Request to_engine;
  forward_headers(forwardable, engine, to_engine);
  EXPECT_TRUE(to_engine["anthropic-beta"].empty());
  EXPECT_TRUE(to_engine["anthropic-version"].empty());
  EXPECT_EQ(to_engine["x-app"], "cli") << "a self-hosted engine still gets the rest";

  config::Backend listed = engine;
  listed.forward_headers = {"anthropic-beta"};
  upstream::Request to_listed;
  forward_headers(forwardable, listed, to_listed);
  EXPECT_EQ(to_listed["anthropic-beta"], "claude-code-20250219");

  config::Backend anthropic;
  anthropic.provider = config::Provider::anthropic;
  anthropic.hosting = config::Hosting::closed;
  upstream::Request to_anthropic;
  forward_headers(forwardable, anthropic, to_anthropic);
  EXPECT_EQ(to_anthropic["anthropic-beta"], "claude-code-20250219");
  EXPECT_EQ(to_anthropic["anthropic-version"], "2023-06-01");
  EXPECT_TRUE(to_anthropic["x-app"].empty()) << "a closed backend gets its allow-list only";
}

TEST(ForwardingTest, DroppedHeadersAreDroppedInAnyLetterCase) {
  const std::vector<HeaderLine> lines = {{"AUTHORIZATION", "Bearer sk-client"},
                                         {"Cookie", "session=1"},
                                         {"x-API-key", "sk-client"},
                                         {"X-Forwarded-For", "10.0.0.1"},
                                         {"X-Switchboard-Tier", "frontier"},
                                         {"x-switchboard", "bare prefix"},
                                         {"Connection", "close, X-Hop"},
                                         {"x-hop", "named in Connection"},
                                         {"TE", "trailers"},
                                         {"User-Agent", "OpenAI/JS 6.0"},
                                         {"X-Switchboar", "one letter short of the prefix"},
                                         {"x-cookie", "not the cookie header"}};
  std::vector<HeaderLine> out;
  forwardable_headers(lines, out);
  const std::vector<HeaderLine> kept = {{"User-Agent", "OpenAI/JS 6.0"},
                                        {"X-Switchboar", "one letter short of the prefix"},
                                        {"x-cookie", "not the cookie header"}};
  EXPECT_EQ(out, kept);

  // Every name of the list, in upper case.
  for (const std::string_view name : {"X-DATA-CLASSIFICATION",
                                      "X-CAPABILITY-TIER",
                                      "CONNECTION",
                                      "KEEP-ALIVE",
                                      "PROXY-CONNECTION",
                                      "TE",
                                      "TRAILER",
                                      "TRANSFER-ENCODING",
                                      "UPGRADE",
                                      "PROXY-AUTHORIZATION",
                                      "PROXY-AUTHENTICATE",
                                      "AUTHORIZATION",
                                      "X-API-KEY",
                                      "API-KEY",
                                      "COOKIE",
                                      "HOST",
                                      "CONTENT-LENGTH",
                                      "EXPECT",
                                      "ACCEPT-ENCODING",
                                      "X-REQUEST-ID",
                                      "CONTENT-TYPE",
                                      "ACCEPT",
                                      "OPENAI-ORGANIZATION",
                                      "OPENAI-PROJECT",
                                      "FORWARDED",
                                      "X-FORWARDED-FOR",
                                      "X-FORWARDED-HOST",
                                      "X-FORWARDED-PROTO",
                                      "X-REAL-IP",
                                      "X-SWITCHBOARD-ANYTHING"}) {
    const std::vector<HeaderLine> one = {{name, "v"}};
    forwardable_headers(one, out);
    EXPECT_TRUE(out.empty()) << name;
  }
}

}  // namespace
}  // namespace sb::gateway
