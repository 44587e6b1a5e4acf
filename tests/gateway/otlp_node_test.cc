// The exporter's requests decoded by the official OpenTelemetry JavaScript classes: spawns
// `node tests/client/otlp_receiver.mjs`, sends a request's spans the way the pipeline will (a
// server span from a client's traceparent, a decision event, one client span per upstream
// attempt with GenAI attributes), and asserts what the receiver decoded. Run through
// tests/client/otlp_run.sh, which installs the locked npm packages first.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "gateway/observability/trace_attributes.h"
#include "gateway/observability/trace_exporter.h"

namespace sb::gateway::trace {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

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
           ("otlp_spans_" + std::to_string(::getpid()) + "_" + std::to_string(++counter_));
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
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<json::object> spans() const {
    std::vector<json::object> out;
    std::ifstream in(out_);
    for (std::string line; std::getline(in, line);) {
      out.push_back(json::parse(line).as_object());
    }
    return out;
  }

 private:
  static inline int counter_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  std::filesystem::path out_;
};

config::TraceSettings settings(std::string base) {
  config::TraceSettings s;
  s.enabled = true;
  s.endpoint = std::move(base) + "/v1/traces";
  s.service_name = "switchboard-test";
  s.interval = 60s;
  s.resource = {{"deployment.environment", "test"}};
  return s;
}

const json::object* find_span(const std::vector<json::object>& spans, std::string_view name) {
  for (const json::object& s : spans) {
    if (s.at("name").as_string() == name) {
      return &s;
    }
  }
  return nullptr;
}

template <std::size_t N>
json::value hex(const std::array<std::uint8_t, N>& id) {
  return json::value(to_hex(id));
}
json::value str(std::string_view v) {
  return json::object{{"string", v}};
}
json::value i64(std::string_view v) {
  return json::object{{"int", v}};
}

constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(OtlpNodeTest, ARequestsSpansDecodeWithTheOfficialClasses) {
  Receiver receiver;
  ASSERT_FALSE(testing::Test::HasFailure());
  Tracer tracer(settings(receiver.endpoint()), "0.1.0");
  std::optional<Span> server =
      tracer.start_server_span(kParent, "congo=t61rcWkgMzE", "POST /v1/chat/completions", 1000);
  ASSERT_TRUE(server);
  server->set_string(attr::kHttpRequestMethod, "POST").set_int(attr::kHttpResponseStatusCode, 200);
  Attributes decision;
  decision.set_string(attr::kRule, "private-data").set_string(attr::kSensitivity, "restricted");
  decision.set_string(attr::kTier, "standard").set_strings(attr::kEntityTypes, {"email", "iban"});
  server->add_event(std::string(attr::kDecisionEvent), 1100, std::move(decision));

  Span first = Tracer::start_child(*server, SpanKind::client, "chat llama", 1200);
  first.set_string(attr::kGenAiOperationName, attr::kOperationChat)
      .set_string(attr::kGenAiProviderName, "vllm")
      .set_int(attr::kServerPort, 8000)
      .set_string(attr::kErrorType, "502")
      .set_error("upstream answered 502");
  const SpanId first_id = first.span_id;
  Span second = Tracer::start_child(*server, SpanKind::client, "chat llama", 1300);
  second.set_string(attr::kGenAiRequestModel, "llama")
      .set_string(attr::kGenAiResponseModel, "llama-3.1-8b")
      .set_int(attr::kGenAiUsageInputTokens, 12)
      .set_int(attr::kGenAiUsageOutputTokens, -3)
      .set_double(attr::kCostUsd, 0.25)
      .set_bool(attr::kGenAiRequestStream, true)
      .set_strings(attr::kGenAiResponseFinishReasons, {"stop"})
      .set_ok();
  second.links.push_back({server->trace_id, first_id, "", kSampledFlag, {}});
  second.links.back().attributes.set_string("switchboard.link", "retry-of");
  const SpanId second_id = second.span_id;
  EXPECT_TRUE(tracer.submit(std::move(first), 1250));
  EXPECT_TRUE(tracer.submit(std::move(second), 1400));
  const SpanId server_id = server->span_id;
  EXPECT_TRUE(tracer.submit(std::move(*server), 1500));
  tracer.stop();
  EXPECT_EQ(tracer.counters().exported, 3u);

  const std::vector<json::object> spans = receiver.spans();
  ASSERT_EQ(spans.size(), 3u);
  const json::object* s = find_span(spans, "POST /v1/chat/completions");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->at("resource"), (json::object{{"service.name", str("switchboard-test")},
                                             {"service.version", str("0.1.0")},
                                             {"telemetry.sdk.name", str("switchboard")},
                                             {"telemetry.sdk.language", str("cpp")},
                                             {"telemetry.sdk.version", str("0.1.0")},
                                             {"deployment.environment", str("test")}}));
  EXPECT_EQ(s->at("scope"), (json::object{{"name", "switchboard"}, {"version", "0.1.0"}}));
  EXPECT_EQ(s->at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(s->at("parentSpanId"), "00f067aa0ba902b7");
  EXPECT_EQ(s->at("spanId"), hex(server_id));
  EXPECT_EQ(s->at("traceState"), "congo=t61rcWkgMzE");
  EXPECT_EQ(s->at("kind"), "SPAN_KIND_SERVER");
  EXPECT_EQ(s->at("startTimeUnixNano"), "1000");
  EXPECT_EQ(s->at("endTimeUnixNano"), "1500");
  EXPECT_EQ(s->at("flags"), 0x301);  // sampled, parent is_remote known and true
  EXPECT_EQ(s->at("attributes"), (json::object{{"http.request.method", str("POST")},
                                               {"http.response.status_code", i64("200")}}));
  EXPECT_EQ(
      s->at("events"),
      (json::array{json::object{
          {"name", "switchboard.decision"},
          {"timeUnixNano", "1100"},
          {"attributes",
           json::object{{"switchboard.rule", str("private-data")},
                        {"switchboard.sensitivity", str("restricted")},
                        {"switchboard.tier", str("standard")},
                        {"switchboard.entity_types",
                         json::object{{"array", json::array{str("email"), str("iban")}}}}}}}}));
  EXPECT_EQ(s->at("status"), (json::object{{"code", "STATUS_CODE_UNSET"}, {"message", ""}}));

  const json::object* a = nullptr;
  const json::object* b = nullptr;
  for (const json::object& span : spans) {
    if (span.at("spanId") == hex(first_id)) {
      a = &span;
    } else if (span.at("spanId") == hex(second_id)) {
      b = &span;
    }
  }
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (const json::object* c : {a, b}) {
    EXPECT_EQ(c->at("kind"), "SPAN_KIND_CLIENT");
    EXPECT_EQ(c->at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(c->at("parentSpanId"), hex(server_id));
    EXPECT_EQ(c->at("flags"), 0x101);
  }
  EXPECT_EQ(a->at("status"),
            (json::object{{"code", "STATUS_CODE_ERROR"}, {"message", "upstream answered 502"}}));
  EXPECT_EQ(a->at("attributes"), (json::object{{"gen_ai.operation.name", str("chat")},
                                               {"gen_ai.provider.name", str("vllm")},
                                               {"server.port", i64("8000")},
                                               {"error.type", str("502")}}));
  EXPECT_EQ(b->at("status"), (json::object{{"code", "STATUS_CODE_OK"}, {"message", ""}}));
  EXPECT_EQ(b->at("attributes"),
            (json::object{{"gen_ai.request.model", str("llama")},
                          {"gen_ai.response.model", str("llama-3.1-8b")},
                          {"gen_ai.usage.input_tokens", i64("12")},
                          {"gen_ai.usage.output_tokens", i64("-3")},
                          {"switchboard.cost_usd", json::object{{"double", 0.25}}},
                          {"gen_ai.request.stream", json::object{{"bool", true}}},
                          {"gen_ai.response.finish_reasons",
                           json::object{{"array", json::array{str("stop")}}}}}));
  EXPECT_EQ(b->at("links"),
            (json::array{json::object{
                {"traceId", "4bf92f3577b34da6a3ce929d0e0e4736"},
                {"spanId", to_hex(first_id)},
                {"traceState", ""},
                {"flags", 0x101},
                {"attributes", json::object{{"switchboard.link", str("retry-of")}}}}}));
}

TEST(OtlpNodeTest, ARootTraceHasNoParent) {
  Receiver receiver;
  ASSERT_FALSE(testing::Test::HasFailure());
  Tracer tracer(settings(receiver.endpoint()), "");
  std::optional<Span> server = tracer.start_server_span("", "", "root");
  ASSERT_TRUE(server);
  const TraceId trace = server->trace_id;
  EXPECT_TRUE(tracer.submit(std::move(*server)));
  tracer.stop();
  const std::vector<json::object> spans = receiver.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].at("traceId"), hex(trace));
  EXPECT_EQ(spans[0].at("parentSpanId"), "");
  EXPECT_EQ(spans[0].at("flags"), 0x101);
  EXPECT_EQ(spans[0].at("resource").as_object().at("service.name"), str("switchboard-test"));
  EXPECT_FALSE(spans[0].at("resource").as_object().contains("service.version"));
}

TEST(OtlpNodeTest, AnErrorAnswerCountsTheSpansFailed) {
  Receiver receiver({"--status", "503"});
  ASSERT_FALSE(testing::Test::HasFailure());
  Tracer tracer(settings(receiver.endpoint()), "1");
  for (int i = 0; i < 2; ++i) {
    std::optional<Span> s = tracer.start_server_span("", "", "x");
    ASSERT_TRUE(s);
    EXPECT_TRUE(tracer.submit(std::move(*s)));
  }
  tracer.stop();
  EXPECT_EQ(tracer.counters().failed, 2u);
  EXPECT_EQ(tracer.counters().exported, 0u);
  EXPECT_TRUE(receiver.spans().empty());
}

TEST(OtlpNodeTest, AHangingCollectorTimesOut) {
  Receiver receiver({"--hang"});
  ASSERT_FALSE(testing::Test::HasFailure());
  config::TraceSettings s = settings(receiver.endpoint());
  s.timeout = 300ms;
  Tracer tracer(s, "1");
  std::optional<Span> span = tracer.start_server_span("", "", "x");
  ASSERT_TRUE(span);
  EXPECT_TRUE(tracer.submit(std::move(*span)));
  tracer.stop();
  EXPECT_EQ(tracer.counters().failed, 1u);
  EXPECT_EQ(tracer.counters().failed_requests, 1u);
}

}  // namespace
}  // namespace sb::gateway::trace
