// Traces end to end: the real gateway exports to `node tests/client/otlp_receiver.mjs`, which
// decodes every request with the official OpenTelemetry JavaScript classes; the tests assert the
// decoded spans (a server span per request with the decision, one client span per upstream
// attempt with the GenAI attributes), the traceparent the fakes received, that no content ever
// reaches a span, and that a dead or hanging collector never touches the requests. Run through
// tests/client/otlp_run.sh, which installs the locked npm packages first.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/gateway_process.h"
#include "tests/integration/test_config.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Span = json::object;
using Spans = std::vector<Span>;

constexpr auto kWait = 10s;  // spans are exported every 50 ms; this is only the give-up bound

// `node otlp_receiver.mjs --out FILE ARGS...`, its port read from its first line.
class Receiver {
 public:
  explicit Receiver(std::vector<std::string> extra = {}) {
    const char* dir = std::getenv("SB_CLIENT_DIR");
    if (dir == nullptr) {
      ADD_FAILURE() << "SB_CLIENT_DIR is not set (run through tests/client/otlp_run.sh)";
      return;
    }
    out_ = std::filesystem::temp_directory_path() /
           ("sb_traces_" + std::to_string(::getpid()) + "_" + std::to_string(++counter_));
    std::vector<std::string> args{"node", std::string(dir) + "/otlp_receiver.mjs", "--out",
                                  out_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    int fds[2];
    if (::pipe(fds) != 0) {
      ADD_FAILURE() << "pipe";
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      for (std::string& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execvp("node", argv.data());
      std::_Exit(127);
    }
    ::close(fds[1]);
    FILE* f = ::fdopen(fds[0], "r");
    char line[128] = {};
    if (f == nullptr || std::fgets(line, sizeof line, f) == nullptr) {
      ADD_FAILURE() << "otlp_receiver.mjs did not start";
    } else if (std::sscanf(line, "listening %d", &port_) != 1) {
      ADD_FAILURE() << "unexpected first line: " << line;
    }
    if (f != nullptr) {
      std::fclose(f);
    }
  }
  ~Receiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove(out_, ec);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// Everything written so far, up to the last complete line.
  std::string raw() const {
    std::ifstream in(out_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
    return text;
  }
  Spans spans() const {
    Spans out;
    std::istringstream in(raw());
    for (std::string line; std::getline(in, line);) {
      out.push_back(json::parse(line).as_object());
    }
    return out;
  }
  /// Polls the output until `done(spans)`; the last spans read (done or not).
  Spans wait(const std::function<bool(const Spans&)>& done) const {
    const auto until = std::chrono::steady_clock::now() + kWait;
    Spans s = spans();
    while (!done(s) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
      s = spans();
    }
    return s;
  }

 private:
  static inline int counter_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  std::filesystem::path out_;
};

// --- attribute access ---

const json::object* attr_value(const json::object& attrs, std::string_view key) {
  const auto it = attrs.find(key);
  return it == attrs.end() || !it->value().is_object() ? nullptr : &it->value().as_object();
}
std::string str_in(const json::object& attrs, std::string_view key) {
  const json::object* v = attr_value(attrs, key);
  return v != nullptr && v->contains("string") ? std::string(v->at("string").as_string())
                                               : std::string("<absent>");
}
std::string str_attr(const Span& s, std::string_view key) {
  return str_in(s.at("attributes").as_object(), key);
}
long long int_attr(const Span& s, std::string_view key) {
  const json::object* v = attr_value(s.at("attributes").as_object(), key);
  return v != nullptr && v->contains("int") ? std::stoll(std::string(v->at("int").as_string()))
                                            : -999;
}
std::optional<double> double_attr(const Span& s, std::string_view key) {
  const json::object* v = attr_value(s.at("attributes").as_object(), key);
  if (v == nullptr || !v->contains("double")) {
    return std::nullopt;
  }
  return v->at("double").to_number<double>();
}
std::optional<bool> bool_attr(const Span& s, std::string_view key) {
  const json::object* v = attr_value(s.at("attributes").as_object(), key);
  if (v == nullptr || !v->contains("bool")) {
    return std::nullopt;
  }
  return v->at("bool").as_bool();
}
bool has_attr(const Span& s, std::string_view key) {
  return s.at("attributes").as_object().contains(key);
}
std::string field(const Span& s, std::string_view key) {
  return std::string(s.at(key).as_string());
}
std::string status_code(const Span& s) {
  return std::string(s.at("status").as_object().at("code").as_string());
}

// The server span of the request with x-request-id `id`, or nullptr.
const Span* server_span(const Spans& spans, std::string_view id) {
  for (const Span& s : spans) {
    if (s.at("kind") == "SPAN_KIND_SERVER" && str_attr(s, "switchboard.request_id") == id) {
      return &s;
    }
  }
  return nullptr;
}
// The client spans under `server`, by attempt.
std::vector<const Span*> attempts_of(const Spans& spans, const Span& server) {
  std::vector<const Span*> out;
  for (const Span& s : spans) {
    if (s.at("parentSpanId") == server.at("spanId") && s.at("traceId") == server.at("traceId")) {
      out.push_back(&s);
    }
  }
  std::sort(out.begin(), out.end(), [](const Span* a, const Span* b) {
    return int_attr(*a, "switchboard.attempt") < int_attr(*b, "switchboard.attempt");
  });
  return out;
}
// Waits for the request's server span (its client spans end before it, so they come in the
// same or an earlier export).
Spans wait_request(const Receiver& r, std::string_view id) {
  return r.wait([id](const Spans& s) { return server_span(s, id) != nullptr; });
}

// Reads `switchboard_trace_spans_total{result="RESULT"}` from a scrape; -1 when absent.
long long spans_metric(std::uint16_t admin_port, std::string_view result) {
  auto m = request(admin_port, "GET", "/metrics");
  if (!m) {
    return -1;
  }
  const std::string needle =
      "switchboard_trace_spans_total{result=\"" + std::string(result) + "\"} ";
  const std::size_t at = m->body.find(needle);
  return at == std::string::npos ? -1 : std::atoll(m->body.c_str() + at + needle.size());
}
// Polls until the counter is above `above`; its last value.
long long wait_metric_above(std::uint16_t admin_port, std::string_view result, long long above) {
  const auto until = std::chrono::steady_clock::now() + kWait;
  long long v = spans_metric(admin_port, result);
  while (v <= above && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    v = spans_metric(admin_port, result);
  }
  return v;
}

Response status_response(unsigned status) {
  Response r;
  r.status = status;
  r.body = error_body("scripted failure", "server_error", "");
  return r;
}
Response reset_response() {
  Response r;
  r.kind = Response::Kind::reset_on_read;
  return r;
}
Response ok_response(std::string_view model, Usage usage) {
  Response r;
  r.body = chat_completion_body(model, "Done.", usage);
  return r;
}

constexpr std::string_view kEmail = "mail alice.w@northwind-mail.com about it";
constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kClientSpan = "00f067aa0ba902b7";

class TracingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions co;
    co.name = "closed";
    closed_ = std::make_unique<FakeUpstream>(co);
  }

  std::string config(const std::string& endpoint, const std::string& extra = {}) const {
    // No endpoint: no `telemetry:` section (tracing off, unless the environment turns it on).
    const std::string telemetry = endpoint.empty() ? std::string() : R"(telemetry:
  traces:
    endpoint: ")" + endpoint + R"("
    interval: )" + interval_ + R"(
    service_name: switchboard-it
)" + extra;
    return R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 2, backoff: 1ms, max_backoff: 5ms}
)" + telemetry +
           R"(backends:
  local:
    provider: vllm
    hosting: self-hosted
    base_url: ")" +
           local_->base_url() + R"("
    model: "pinned/local"
    clearance: confidential
    price: {gpu_hour_usd: 3.6, tokens_per_second: 1000}
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
  closed:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
           closed_->base_url() + R"("
    api_key: "sk-backend"
    model: "gpt-4o"
    clearance: internal
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
models:
  default: {candidates: [closed, local]}
policies:
  - name: sensitive-stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: [local], on_unavailable: reject}
  - name: default
    route: {to: [closed, local]}
)";
  }

  void start(const std::string& endpoint, const std::string& extra = {}) {
    gw_ = std::make_unique<GatewayProcess>(config(endpoint, extra));
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }
  void start_with_receiver(const std::string& extra = {},
                           std::vector<std::string> receiver_args = {}) {
    receiver_ = std::make_unique<Receiver>(std::move(receiver_args));
    ASSERT_FALSE(HasFailure());
    start(receiver_->endpoint(), extra);
  }

  std::optional<HttpResponse> chat(std::string_view id, std::string_view text, bool stream = false,
                                   std::vector<std::pair<std::string, std::string>> headers = {},
                                   std::string_view model = "default") {
    headers.emplace_back("x-request-id", std::string(id));
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body(model, text, stream),
                   headers);
  }

  std::string interval_ = "50ms";  // the export interval
  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<GatewayProcess> gw_;
};

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
  const std::size_t closed_tries = closed_->request_count();
  ASSERT_GE(closed_tries, 1u);
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
  if (closed_tries == 2) {
    EXPECT_FALSE(has_attr(*tries[1], "http.response.status_code"));  // reset: no status
  }
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

std::string traceparent(std::string_view trace, std::string_view span, std::string_view flags) {
  return "00-" + std::string(trace) + "-" + std::string(span) + "-" + std::string(flags);
}

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

std::string raw_chat(std::string_view id, std::string_view text, bool stream,
                     std::string_view extra_headers = {}) {
  const std::string body = chat_body("default", text, stream);
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
         "x-request-id: " +
         std::string(id) + "\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
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
  for (std::string_view needle :
       {kSecret, std::string_view("Zq8XwV3p7Kd9TmR2"), kAddress,
        std::string_view("wintergreen-labs"), std::string_view("carol.q"), std::string_view("4111"),
        std::string_view("Hello from"), std::string_view("use key")}) {
    EXPECT_EQ(raw.find(needle), std::string::npos) << needle << " in\n" << raw;
  }
  // The entity types are there (names, not values).
  EXPECT_NE(raw.find("\"email\""), std::string::npos) << raw;
}

// 7a. The collector is down: requests are served, the spans are counted failed.
TEST_F(TracingTest, ADownCollectorLeavesRequestsUntouched) {
  ASSERT_NO_FATAL_FAILURE(start("http://127.0.0.1:" + std::to_string(closed_port())));
  for (int i = 0; i < 5; ++i) {
    auto r = chat("down-" + std::to_string(i), i % 2 == 0 ? kEmail : "hello", i == 3);
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_GT(wait_metric_above(gw_->admin_port(), "failed", 0), 0);
  EXPECT_EQ(spans_metric(gw_->admin_port(), "exported"), 0);
  auto r = chat("down-after", "hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

// 7b. A collector that never answers: requests are served; the export times out (failed).
TEST_F(TracingTest, AHangingCollectorLeavesRequestsUntouched) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver("    timeout: 300ms\n", {"--hang"}));
  for (int i = 0; i < 5; ++i) {
    auto r = chat("hang-" + std::to_string(i), i % 2 == 0 ? kEmail : "hello", i == 3);
    ASSERT_TRUE(r) << "request " << i;  // within the client's timeout
    EXPECT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_GT(wait_metric_above(gw_->admin_port(), "failed", 0), 0);
  EXPECT_EQ(spans_metric(gw_->admin_port(), "exported"), 0);
}

// 7c. A one-span queue behind a hanging collector and a burst: spans are dropped, every request
// is served.
TEST_F(TracingTest, AFullQueueDropsSpansAndEveryRequestSucceeds) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver("    queue: 1\n    timeout: 2s\n", {"--hang"}));
  constexpr int kThreads = 8;
  constexpr int kEach = 5;
  std::vector<unsigned> statuses(kThreads * kEach, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "burst-" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<std::pair<std::string, std::string>> h{{"x-request-id", id}};
        auto r = request(gw_->port(), "POST", "/v1/chat/completions",
                         chat_body("default", (t + i) % 2 == 0 ? kEmail : "hello", i == 2), h);
        statuses[static_cast<std::size_t>(t * kEach + i)] = r ? r->status : 0;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_EQ(statuses[i], 200u) << "request " << i;
  }
  EXPECT_GT(wait_metric_above(gw_->admin_port(), "dropped", 0), 0);
}

// 7d. Shutdown sends what is still queued: a long interval, then SIGTERM.
TEST_F(TracingTest, ShutdownFlushesTheQueuedSpans) {
  interval_ = "60s";
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  auto r = chat("flush-1", kEmail);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u);
  EXPECT_TRUE(receiver_->spans().empty()) << "exported before the interval: " << receiver_->raw();
  gw_->send_signal(SIGTERM);
  EXPECT_EQ(gw_->wait_exit(20s), 0) << gw_->stderr_text();
  const Spans spans = receiver_->spans();
  const Span* server = server_span(spans, "flush-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(attempts_of(spans, *server).size(), 1u);
}

// 7e. A reload (SIGHUP) keeps tracing on, with the new config's decisions.
TEST_F(TracingTest, TracingSurvivesAReload) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  auto before = chat("reload-before", kEmail);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200u);
  std::string yaml = config(receiver_->endpoint());
  const std::string from = "name: sensitive-stays-home";
  yaml.replace(yaml.find(from), from.size(), "name: private-at-home");
  gw_->write_config(yaml);
  gw_->send_signal(SIGHUP);
  ASSERT_TRUE(gw_->wait_for_log("configuration reloaded", 5s)) << gw_->stderr_text();
  auto after = chat("reload-after", kEmail);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->status, 200u);
  const Spans spans = receiver_->wait([](const Spans& s) {
    return server_span(s, "reload-before") != nullptr && server_span(s, "reload-after") != nullptr;
  });
  ASSERT_NE(server_span(spans, "reload-before"), nullptr) << receiver_->raw();
  const Span* server = server_span(spans, "reload-after");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(str_attr(*server, "switchboard.rule"), "private-at-home");
  EXPECT_EQ(attempts_of(spans, *server).size(), 1u);
}

// 7f. A concurrent burst with a healthy collector: every span arrives once, as counted.
TEST_F(TracingTest, AConcurrentBurstExportsEverySpanOnce) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  constexpr int kThreads = 8;
  constexpr int kEach = 10;
  std::vector<unsigned> statuses(kThreads * kEach, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "many-" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<std::pair<std::string, std::string>> h{{"x-request-id", id}};
        auto r = request(gw_->port(), "POST", "/v1/chat/completions",
                         chat_body("default", (t + i) % 2 == 0 ? kEmail : "hello", i % 3 == 0), h);
        statuses[static_cast<std::size_t>(t * kEach + i)] = r ? r->status : 0;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    ASSERT_EQ(statuses[i], 200u) << "request " << i;
  }
  constexpr std::size_t kSpans = 2 * kThreads * kEach;
  const Spans spans = receiver_->wait([](const Spans& s) { return s.size() >= kSpans; });
  ASSERT_EQ(spans.size(), kSpans) << receiver_->raw();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const std::string id = "many-" + std::to_string(t) + "-" + std::to_string(i);
      const Span* server = server_span(spans, id);
      ASSERT_NE(server, nullptr) << id;
      EXPECT_EQ(attempts_of(spans, *server).size(), 1u) << id;
    }
  }
  EXPECT_EQ(wait_metric_above(gw_->admin_port(), "exported", kSpans - 1),
            static_cast<long long>(kSpans));
  EXPECT_EQ(spans_metric(gw_->admin_port(), "dropped"), 0);
  EXPECT_EQ(spans_metric(gw_->admin_port(), "failed"), 0);
}

}  // namespace
}  // namespace sb::testing
