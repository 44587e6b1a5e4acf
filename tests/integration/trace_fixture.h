#pragma once
// The end-to-end trace tests' harness: the OTLP receiver (`node tests/client/otlp_receiver.mjs`,
// which decodes with the official OpenTelemetry JavaScript classes and writes one JSON line per
// span), accessors for the decoded spans, and a fixture running the real gateway in front of a
// self-hosted and a closed fake, exporting to the receiver. Run through tests/client/otlp_run.sh,
// which installs the locked npm packages first.

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

namespace sb::testing::traces {

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

inline const json::object* attr_value(const json::object& attrs, std::string_view key) {
  const auto it = attrs.find(key);
  return it == attrs.end() || !it->value().is_object() ? nullptr : &it->value().as_object();
}
inline std::string str_in(const json::object& attrs, std::string_view key) {
  const json::object* v = attr_value(attrs, key);
  return v != nullptr && v->contains("string") ? std::string(v->at("string").as_string())
                                               : std::string("<absent>");
}
inline std::string str_attr(const Span& s, std::string_view key) {
  return str_in(s.at("attributes").as_object(), key);
}
inline long long int_attr(const Span& s, std::string_view key) {
  const json::object* v = attr_value(s.at("attributes").as_object(), key);
  return v != nullptr && v->contains("int") ? std::stoll(std::string(v->at("int").as_string()))
                                            : -999;
}
inline std::optional<double> double_attr(const Span& s, std::string_view key) {
  const json::object* v = attr_value(s.at("attributes").as_object(), key);
  if (v == nullptr || !v->contains("double")) {
    return std::nullopt;
  }
  return v->at("double").to_number<double>();
}
inline std::optional<bool> bool_attr(const Span& s, std::string_view key) {
  const json::object* v = attr_value(s.at("attributes").as_object(), key);
  if (v == nullptr || !v->contains("bool")) {
    return std::nullopt;
  }
  return v->at("bool").as_bool();
}
/// A string array attribute's values joined with ','; "<absent>" when not an array.
inline std::string strings_attr(const Span& s, std::string_view key) {
  const json::object* v = attr_value(s.at("attributes").as_object(), key);
  if (v == nullptr || !v->contains("array")) {
    return "<absent>";
  }
  std::string out;
  for (const json::value& e : v->at("array").as_array()) {
    if (!out.empty()) {
      out += ',';
    }
    out += std::string_view(e.as_object().at("string").as_string());
  }
  return out;
}
inline bool has_attr(const Span& s, std::string_view key) {
  return s.at("attributes").as_object().contains(key);
}
inline std::string field(const Span& s, std::string_view key) {
  return std::string(s.at(key).as_string());
}
inline std::string status_code(const Span& s) {
  return std::string(s.at("status").as_object().at("code").as_string());
}

// The server span of the request with x-request-id `id`, or nullptr.
inline const Span* server_span(const Spans& spans, std::string_view id) {
  for (const Span& s : spans) {
    if (s.at("kind") == "SPAN_KIND_SERVER" && str_attr(s, "switchboard.request_id") == id) {
      return &s;
    }
  }
  return nullptr;
}
// The client spans under `server`, by attempt.
inline std::vector<const Span*> attempts_of(const Spans& spans, const Span& server) {
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
inline Spans wait_request(const Receiver& r, std::string_view id) {
  return r.wait([id](const Spans& s) { return server_span(s, id) != nullptr; });
}

// Reads `switchboard_trace_spans_total{result="RESULT"}` from a scrape; -1 when absent.
inline long long spans_metric(std::uint16_t admin_port, std::string_view result) {
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
inline long long wait_metric_above(std::uint16_t admin_port, std::string_view result,
                                   long long above) {
  const auto until = std::chrono::steady_clock::now() + kWait;
  long long v = spans_metric(admin_port, result);
  while (v <= above && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    v = spans_metric(admin_port, result);
  }
  return v;
}

inline Response status_response(unsigned status) {
  Response r;
  r.status = status;
  r.body = error_body("scripted failure", "server_error", "");
  return r;
}
inline Response reset_response() {
  Response r;
  r.kind = Response::Kind::reset_on_read;
  return r;
}
inline Response ok_response(std::string_view model, Usage usage) {
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

// A W3C traceparent header value (version 00).
inline std::string traceparent(std::string_view trace, std::string_view span,
                               std::string_view flags) {
  return "00-" + std::string(trace) + "-" + std::string(span) + "-" + std::string(flags);
}

// A chat request as raw HTTP/1.1 bytes (for keep-alive and mid-stream tests); `extra_headers`
// are whole "Name: value\r\n" lines.
inline std::string raw_chat(std::string_view id, std::string_view text, bool stream,
                            std::string_view extra_headers = {}) {
  const std::string body = chat_body("default", text, stream);
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
         "x-request-id: " +
         std::string(id) + "\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace sb::testing::traces
