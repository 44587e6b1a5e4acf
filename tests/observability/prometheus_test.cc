// The observability stack made real: the gateway binary behind two fake upstreams, scraped every
// second by a real Prometheus that loads deploy/prometheus's scrape config and rules. A fixed mix
// of traffic goes through; then every PromQL expression of every Grafana dashboard panel and every
// recording rule must evaluate without error and return data, and the cost, token and savings
// totals Prometheus holds must equal what the fixture's usage and the config's prices say.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <boost/json.hpp>

#include "tests/integration/gateway_process.h"
#include "tests/integration/test_config.h"
#include "tests/support/fake_engine.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

const fs::path kDeploy = fs::path(SB_SOURCE_DIR) / "deploy";
constexpr const char* kAlphaKey = "sk-obs-alpha";
constexpr const char* kBetaKey = "sk-obs-beta";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

/// A real Prometheus server on a free loopback port with its own storage in a temporary
/// directory. Killed (with its directory removed) on destruction, and by the kernel should this
/// process die first.
class PrometheusServer {
 public:
  explicit PrometheusServer(const std::string& config_yaml) {
    char tmpl[] = "/tmp/switchboard-prom-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      return;
    }
    dir_ = tmpl;
    std::ofstream(dir_ / "prometheus.yml") << config_yaml;
    // A port that was free a moment ago may be taken by the time Prometheus binds it: retry.
    for (int attempt = 0; attempt < 3 && port_ == 0; ++attempt) {
      start(closed_port());
    }
  }
  ~PrometheusServer() {
    stop();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string log() const { return read_text(dir_ / "prometheus.log"); }

 private:
  void start(std::uint16_t port) {
    const std::string config = "--config.file=" + (dir_ / "prometheus.yml").string();
    const std::string storage = "--storage.tsdb.path=" + (dir_ / "data").string();
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
    const std::string log_path = (dir_ / "prometheus.log").string();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      FILE* out = std::fopen(log_path.c_str(), "a");
      if (out != nullptr) {
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(out), STDERR_FILENO);
      }
      execl(SB_PROMETHEUS_BIN, SB_PROMETHEUS_BIN, config.c_str(), storage.c_str(), listen.c_str(),
            "--log.level=warn", "--storage.tsdb.retention.time=1h", static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // exited (port taken, bad config): the caller may retry
        return;
      }
      if (const auto r = request(port, "GET", "/-/ready"); r && r->status == 200) {
        port_ = port;
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    stop();
  }
  void stop() {
    if (pid_ <= 0) {
      return;
    }
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  fs::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

/// The answer to one instant query.
struct QueryResult {
  bool ok = false;
  std::string error;  ///< transport, HTTP or PromQL error
  json::array result;
};

QueryResult query(std::uint16_t port, std::string_view expr) {
  QueryResult out;
  const auto r = request(port, "GET", "/api/v1/query?query=" + url_encode(expr));
  if (!r) {
    out.error = "no answer from Prometheus";
    return out;
  }
  boost::system::error_code ec;
  const json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) {
    out.error = "HTTP " + std::to_string(r->status) + ": " + r->body;
    return out;
  }
  const json::object& o = v.as_object();
  if (o.at("status") != "success") {
    out.error = json::serialize(v);
    return out;
  }
  const json::object& data = o.at("data").as_object();
  if (data.at("resultType") == "scalar") {
    out.result.push_back(json::object{{"metric", json::object{}}, {"value", data.at("result")}});
  } else {
    out.result = data.at("result").as_array();
  }
  out.ok = true;
  return out;
}

double sample_value(const json::value& sample) {
  return std::stod(std::string(sample.at("value").as_array().at(1).as_string()));
}

/// The value of a query whose answer is one sample; nullopt when it has none.
std::optional<double> scalar(std::uint16_t port, std::string_view expr) {
  const QueryResult r = query(port, expr);
  if (!r.ok || r.result.size() != 1) {
    return std::nullopt;
  }
  return sample_value(r.result[0]);
}

/// Polls `expr` until it returns data, within `deadline`.
QueryResult query_with_data(std::uint16_t port, const std::string& expr,
                            Clock::time_point deadline) {
  QueryResult r = query(port, expr);
  while (r.ok && r.result.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    r = query(port, expr);
  }
  return r;
}

/// Grafana's template variables as a test can fill them: every tenant and backend, and fixed
/// windows for the interval and range variables.
std::string substitute_variables(std::string expr) {
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"${tenant}", ".*"},        {"$tenant", ".*"},      {"${backend}", ".*"}, {"$backend", ".*"},
      {"$__rate_interval", "1m"}, {"$__interval", "15s"}, {"$__range", "5m"},
  };
  for (const auto& [name, value] : vars) {
    for (auto at = expr.find(name); at != std::string::npos; at = expr.find(name, at)) {
      expr.replace(at, name.size(), value);
      at += value.size();
    }
  }
  return expr;
}

struct PanelQuery {
  std::string where;  ///< dashboard / panel / refId
  std::string expr;
};

void collect_panels(const std::string& dashboard, const json::array& panels,
                    std::vector<PanelQuery>& out) {
  for (const json::value& pv : panels) {
    const json::object& p = pv.as_object();
    if (const auto* nested = p.if_contains("panels")) {
      collect_panels(dashboard, nested->as_array(), out);
    }
    const auto* targets = p.if_contains("targets");
    if (targets == nullptr) {
      continue;
    }
    for (const json::value& tv : targets->as_array()) {
      const json::object& t = tv.as_object();
      if (const auto* e = t.if_contains("expr"); e != nullptr && !e->as_string().empty()) {
        out.push_back({dashboard + " / " + std::string(p.at("title").as_string()) + " / " +
                           std::string(t.at("refId").as_string()),
                       std::string(e->as_string())});
      }
    }
  }
}

std::vector<PanelQuery> dashboard_queries() {
  std::vector<PanelQuery> out;
  for (const auto& entry : fs::directory_iterator(kDeploy / "grafana" / "dashboards")) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    const json::value d = json::parse(read_text(entry.path()));
    const std::string file = entry.path().filename().string();
    collect_panels(file, d.at("panels").as_array(), out);
    // A variable's label_values(METRIC, LABEL) has values when `count by (LABEL) (METRIC)` has.
    for (const json::value& v : d.at("templating").at("list").as_array()) {
      const std::string def(v.at("definition").as_string());
      const std::string prefix = "label_values(";
      const auto comma = def.find(", ");
      if (!def.starts_with(prefix) || comma == std::string::npos || !def.ends_with(")")) {
        ADD_FAILURE() << file << ": variable query " << def;
        continue;
      }
      const std::string metric = def.substr(prefix.size(), comma - prefix.size());
      const std::string label = def.substr(comma + 2, def.size() - comma - 3);
      out.push_back({file + " / $" + std::string(v.at("name").as_string()),
                     "count by (" + label + ") (" + metric + ")"});
    }
  }
  return out;
}

std::vector<fs::path> rule_files() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(kDeploy / "prometheus" / "rules")) {
    if (entry.path().extension() == ".yml" || entry.path().extension() == ".yaml") {
      out.push_back(entry.path());
    }
  }
  return out;
}

std::vector<std::string> recording_rules() {
  std::vector<std::string> out;
  for (const fs::path& file : rule_files()) {
    for (const YAML::Node& group : YAML::LoadFile(file.string())["groups"]) {
      for (const YAML::Node& rule : group["rules"]) {
        if (rule["record"]) {
          out.push_back(rule["record"].as<std::string>());
        }
      }
    }
  }
  return out;
}

/// deploy/prometheus/prometheus.yml as a test runs it: the switchboard job alone, pointed at the
/// gateway under test, everything every second, the rule files by absolute path.
std::string prometheus_config(std::uint16_t admin_port) {
  const fs::path dir = kDeploy / "prometheus";
  YAML::Node cfg = YAML::LoadFile((dir / "prometheus.yml").string());
  cfg["global"]["scrape_interval"] = "1s";
  cfg["global"]["scrape_timeout"] = "1s";
  cfg["global"]["evaluation_interval"] = "1s";
  YAML::Node rules(YAML::NodeType::Sequence);
  for (const YAML::Node& f : cfg["rule_files"]) {
    rules.push_back((dir / f.as<std::string>()).string());
  }
  cfg["rule_files"] = rules;
  cfg.remove("alerting");
  YAML::Node jobs(YAML::NodeType::Sequence);
  for (YAML::Node job : cfg["scrape_configs"]) {
    if (job["job_name"].as<std::string>() != "switchboard") {
      continue;
    }
    job.remove("scrape_interval");
    job.remove("scrape_timeout");
    YAML::Node target(YAML::NodeType::Map);
    target["targets"].push_back("127.0.0.1:" + std::to_string(admin_port));
    YAML::Node statics(YAML::NodeType::Sequence);
    statics.push_back(target);
    job["static_configs"] = statics;
    jobs.push_back(job);
  }
  cfg["scrape_configs"] = jobs;
  YAML::Emitter out;
  out << cfg;
  return out.c_str();
}

/// Two tenants (alpha with a daily budget, beta with a monthly one), a self-hosted backend
/// cleared up to confidential at 1 µ$ per token (3.60 $/GPU-hour over 1000 tokens/s), a closed
/// one cleared up to internal at 2 / 8 / 1 $ per million input / output / cached tokens, the
/// closed one as savings reference, and sensitive data kept at home. Model `pool` fills a pool
/// of two simulated engine replicas (one request in flight at most) first and spills to closed.
std::string gateway_config(const FakeUpstream& local, const FakeUpstream& closed,
                           const FakeEngine& gpu_a, const FakeEngine& gpu_b) {
  return R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
backends:
  local:
    provider: vllm
    hosting: self-hosted
    base_url: ")" +
         local.base_url() + R"("
    model: "pinned/local"
    tier: standard
    clearance: confidential
    price: {gpu_hour_usd: 3.6, tokens_per_second: 1000}
    timeouts: {connect: 500ms, first_token: 5s, idle: 5s, total: 10s}
  closed:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
         closed.base_url() + R"("
    api_key: "sk-backend"
    model: "gpt-4o"
    tier: frontier
    clearance: internal
    price: {input_per_mtok: 2, output_per_mtok: 8, cached_input_per_mtok: 1}
    timeouts: {connect: 500ms, first_token: 5s, idle: 5s, total: 10s}
  gpu:
    provider: vllm
    endpoints: [")" +
         gpu_a.base_url() + R"(", ")" + gpu_b.base_url() + R"("]
    model: "sim-llama"
    clearance: confidential
    max_in_flight: 1
    price: {gpu_hour_usd: 3.6, tokens_per_second: 1000}
    load: {interval: 200ms}
    timeouts: {connect: 500ms, first_token: 10s, idle: 10s, total: 20s}
models:
  chat: {candidates: [closed, local]}
  frontier: {candidates: [closed]}
  pool: {candidates: [gpu, closed]}
tenants:
  alpha:
    api_keys: ["sha256:0fe0310a741f1e38bd465ce7cbd26f62d48da1caa8cebdafc3e362da5845f2f1"]
    budget: {daily_usd: 10, on_exhausted: reject}
  beta:
    api_keys: ["sha256:f3723b40f459b240befce307408e8d876830d23c4b2aaa3788df95ea437f7fe7"]
    budget: {monthly_usd: 20, on_exhausted: self-hosted-only}
policies:
  - name: fill-gpus-first
    when: {model: pool}
    route: {to: [gpu, closed], strategy: spill, queue: {max: 4, timeout: 15s}}
  - name: sensitive-stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: [local], on_unavailable: reject}
  - name: default
    route: {strategy: ordered}
cost:
  savings_reference: closed
)";
}

Response json_reply(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

Response stream_reply(Usage usage) {
  return sse_response(chat_stream_events("m", {"Hello", " there"}, true, usage));
}

Response error_reply() {
  Response r;
  r.status = 500;
  r.body = error_body("The server had an error", "server_error", "");
  return r;
}

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions co;
    co.name = "closed";
    closed_ = std::make_unique<FakeUpstream>(co);
    // A request takes 3 s (30 tokens at 10 tokens/s): long enough to hold the pool's only slot.
    EngineOptions eo;
    eo.model = "sim-llama";
    eo.stream_tokens_per_second = 10;
    eo.output_tokens = 30;
    gpu_a_ = std::make_unique<FakeEngine>(eo);
    gpu_b_ = std::make_unique<FakeEngine>(eo);
  }

  std::optional<HttpResponse> chat(const char* key, std::string_view model, std::string_view text,
                                   bool stream) {
    return request(gw_->port(), "POST", "/v1/chat/completions", chat_body(model, text, stream),
                   {{"Authorization", std::string("Bearer ") + key}});
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  std::unique_ptr<FakeEngine> gpu_a_;
  std::unique_ptr<FakeEngine> gpu_b_;
  std::unique_ptr<GatewayProcess> gw_;
};

/// The value of the gateway's own sample `series` (exact name and labels), or -1.
double gateway_sample(std::uint16_t admin_port, const std::string& series) {
  const auto r = request(admin_port, "GET", "/metrics");
  if (!r) {
    return -1;
  }
  const auto at = r->body.find("\n" + series + " ");
  if (at == std::string::npos) {
    return -1;
  }
  return std::strtod(r->body.c_str() + at + series.size() + 2, nullptr);
}

// A request the fixture sends, and what the gateway must answer.
struct Exchange {
  const char* key;
  const char* model;
  const char* text;
  bool stream;
  unsigned status;
  const char* backend;  ///< x-switchboard-backend, "" when none
};

TEST_F(PrometheusTest, DashboardsAndRulesHaveDataAndTotalsMatchTheTraffic) {
  if (std::string_view(SB_PROMETHEUS_BIN).empty()) {
    FAIL() << "prometheus is required: install Debian's prometheus package (deploy/dev.sh "
              "install does), then re-run cmake";
  }
  gw_ = std::make_unique<GatewayProcess>(gateway_config(*local_, *closed_, *gpu_a_, *gpu_b_));
  ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  PrometheusServer prom(prometheus_config(gw_->admin_port()));
  ASSERT_NE(prom.port(), 0) << prom.log();
  const std::uint16_t pp = prom.port();

  // The first scrape before any traffic, so counters are seen rising from their start.
  auto deadline = Clock::now() + 15s;
  while (scalar(pp, R"(up{job="switchboard"})") != 1.0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(scalar(pp, R"(up{job="switchboard"})"), 1.0) << prom.log();

  // --- The fixture: responses are scripted with exact usage, in the order they are used. ---
  // 1. alpha, clean, non-stream → closed: 100 in (40 cached), 20 out (8 reasoning).
  closed_->push(
      json_reply(R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",)"
                 R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},)"
                 R"("finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":20,)"
                 R"("total_tokens":120,"prompt_tokens_details":{"cached_tokens":40},)"
                 R"("completion_tokens_details":{"reasoning_tokens":8}}})"));
  // 2. alpha, clean, stream → closed: 50 in, 10 out.
  closed_->push(stream_reply({50, 10}));
  // 3. alpha, e-mail address (confidential), non-stream → local: 30 in, 12 out.
  local_->push(json_reply(chat_completion_body("m", "Noted", {30, 12})));
  // 4. beta, e-mail address, stream → local: 70 in, 30 out.
  local_->push(stream_reply({70, 30}));
  // 5. beta, clean: closed fails with 500, the request falls back to local: 20 in, 5 out.
  closed_->push(error_reply());
  local_->push(json_reply(chat_completion_body("m", "Fallback", {20, 5})));
  // 6. beta, clean, frontier: closed fails with 500 and is the only candidate → 502.
  closed_->push(error_reply());
  // 7. alpha, card number (restricted): no backend is cleared → 403, nothing sent.
  // 8. beta, e-mail address → local, which reports no usage: the gateway estimates it.
  local_->push(json_reply(
      R"({"id":"chatcmpl-8","object":"chat.completion","created":1,"model":"m",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"No usage here"},)"
      R"("finish_reason":"stop"}]})"));

  const std::vector<Exchange> traffic = {
      {kAlphaKey, "chat", "What is the capital of France?", false, 200, "closed"},
      {kAlphaKey, "chat", "Stream a greeting", true, 200, "closed"},
      {kAlphaKey, "chat", "Mail the report to jane.doe@contoso.com", false, 200, "local"},
      {kBetaKey, "chat", "Write to john.roe@fabrikam.org", true, 200, "local"},
      {kBetaKey, "chat", "Summarise the weather", false, 200, "local"},
      {kBetaKey, "frontier", "Plan a trip", false, 502, "closed"},
      {kAlphaKey, "chat", "Charge card 4111 1111 1111 1111", false, 403, ""},
      {kBetaKey, "chat", "Forward this to ann.poe@contoso.net", false, 200, "local"},
  };
  for (const Exchange& e : traffic) {
    const auto r = chat(e.key, e.model, e.text, e.stream);
    ASSERT_TRUE(r) << e.text;
    ASSERT_EQ(r->status, e.status) << e.text << ": " << r->body;
    EXPECT_EQ(r->header("x-switchboard-backend"), e.backend) << e.text;
  }

  // Metrics are recorded just after each response is written: wait until Prometheus has scraped
  // all eight requests, then for one more scrape, which starts after every record completed.
  deadline = Clock::now() + 15s;
  while (scalar(pp, "sum(switchboard_requests_total)") != 8.0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(scalar(pp, "sum(switchboard_requests_total)"), 8.0);
  const auto seen = scalar(pp, R"(timestamp(up{job="switchboard"}))");
  ASSERT_TRUE(seen);
  while (scalar(pp, R"(timestamp(up{job="switchboard"}))") <= seen && Clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
  }

  // --- Totals: Prometheus holds what the fixture's usage and the config's prices say. ---
  auto value = [&](const std::string& expr) {
    const auto v = scalar(pp, expr);
    EXPECT_TRUE(v) << expr << " returned no single sample";
    return v.value_or(std::nan(""));
  };
  auto tokens = [&](const char* tenant, const char* backend, const char* direction,
                    const char* source) {
    return value(std::string("sum(switchboard_tokens_total{tenant=\"") + tenant + "\",backend=\"" +
                 backend + "\",direction=\"" + direction + "\",source=\"" + source + "\"})");
  };
  EXPECT_EQ(tokens("alpha", "closed", "input", "reported"), 150);
  EXPECT_EQ(tokens("alpha", "closed", "output", "reported"), 30);
  EXPECT_EQ(tokens("alpha", "closed", "cached_input", "reported"), 40);
  EXPECT_EQ(tokens("alpha", "closed", "reasoning", "reported"), 8);
  EXPECT_EQ(tokens("alpha", "local", "input", "reported"), 30);
  EXPECT_EQ(tokens("alpha", "local", "output", "reported"), 12);
  EXPECT_EQ(tokens("beta", "local", "input", "reported"), 90);
  EXPECT_EQ(tokens("beta", "local", "output", "reported"), 35);
  const double est_in = tokens("beta", "local", "input", "estimated");
  const double est_out = tokens("beta", "local", "output", "estimated");
  EXPECT_GT(est_in, 0);
  EXPECT_GT(est_out, 0);
  EXPECT_EQ(
      value(R"(sum(switchboard_tokens_total{backend="closed",source="estimated"}) or vector(0))"),
      0);

  // Micro-dollars per token: closed 2 in / 1 cached / 8 out; local 1 for every token.
  constexpr double kMicro = 1e-6;
  constexpr double kTolerance = 1e-9;
  const double alpha_closed = ((100 - 40) * 2 + 40 * 1 + 20 * 8 + 50 * 2 + 10 * 8) * kMicro;
  const double alpha_local = (30 + 12) * kMicro;
  const double beta_local = (70 + 30 + 20 + 5 + est_in + est_out) * kMicro;
  auto cost = [&](const char* tenant, const char* backend, const char* hosting) {
    return value(std::string("sum(switchboard_cost_usd_total{tenant=\"") + tenant +
                 "\",backend=\"" + backend + "\",hosting=\"" + hosting + "\"})");
  };
  EXPECT_NEAR(cost("alpha", "closed", "closed"), alpha_closed, kTolerance);
  EXPECT_NEAR(cost("alpha", "local", "self-hosted"), alpha_local, kTolerance);
  EXPECT_NEAR(cost("beta", "local", "self-hosted"), beta_local, kTolerance);
  EXPECT_NEAR(
      value(R"(sum(switchboard_cost_usd_total{tenant="beta",hosting="closed"}) or vector(0))"), 0,
      kTolerance);
  EXPECT_NEAR(value("sum(switchboard_cost_usd_total)"), alpha_closed + alpha_local + beta_local,
              kTolerance);

  // Savings: the closed reference's price of the self-hosted traffic, minus its cost.
  const double alpha_ref = (30 * 2 + 12 * 8) * kMicro;
  const double beta_ref = (70 * 2 + 30 * 8 + 20 * 2 + 5 * 8 + est_in * 2 + est_out * 8) * kMicro;
  EXPECT_NEAR(value(R"(sum(switchboard_reference_cost_usd_total{tenant="alpha"}))"), alpha_ref,
              kTolerance);
  EXPECT_NEAR(value(R"(sum(switchboard_reference_cost_usd_total{tenant="beta"}))"), beta_ref,
              kTolerance);
  EXPECT_NEAR(value(R"(sum(switchboard_savings_usd_total{tenant="alpha"}))"),
              alpha_ref - alpha_local, kTolerance);
  EXPECT_NEAR(value(R"(sum(switchboard_savings_usd_total{tenant="beta"}))"), beta_ref - beta_local,
              kTolerance);

  // Requests, errors, fallbacks, denials and classifications as sent.
  EXPECT_EQ(value(R"(sum(switchboard_requests_total{status="200"}))"), 6);
  EXPECT_EQ(value(R"(sum(switchboard_requests_total{status="403"}))"), 1);
  EXPECT_EQ(value(R"(sum(switchboard_requests_total{status="502",backend="closed"}))"), 1);
  EXPECT_EQ(value(R"(sum(switchboard_requests_total{hosting="self-hosted"}))"), 4);
  EXPECT_EQ(value(R"(sum(switchboard_fallbacks_total{from="closed",to="local"}))"), 1);
  EXPECT_EQ(value(R"(sum(switchboard_upstream_errors_total{backend="closed",kind="http_5xx"}))"),
            2);
  EXPECT_EQ(value(R"(sum(switchboard_decisions_total{outcome="forbidden"}))"), 1);
  EXPECT_EQ(
      value(R"(sum(switchboard_decisions_total{rule="sensitive-stays-home",outcome="route"}))"), 3);
  EXPECT_EQ(
      value(R"(sum(switchboard_sensitive_requests_total{level="confidential",entity="email"}))"),
      3);
  EXPECT_EQ(
      value(
          R"(sum(switchboard_sensitive_requests_total{level="restricted",entity="credit_card"}))"),
      1);
  EXPECT_EQ(value(R"(count(switchboard_budget_remaining_usd))"), 2);
  EXPECT_EQ(value(R"(sum(switchboard_backend_up))"), 3);
  EXPECT_EQ(value(R"(count(switchboard_build_info))"), 1);

  // --- Capacity: with the pool's only slot held, clean traffic spills, sensitive traffic waits.
  std::optional<HttpResponse> held;
  std::thread holder([&] { held = chat(kAlphaKey, "pool", "Tell a long story", true); });
  deadline = Clock::now() + 10s;
  while (gateway_sample(gw_->admin_port(), R"(switchboard_backend_in_flight{backend="gpu"})") !=
             1.0 &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  std::optional<HttpResponse> waited;
  std::thread waiter(
      [&] { waited = chat(kAlphaKey, "pool", "Send the plan to jane.doe@contoso.com", false); });
  const auto spilled = chat(kAlphaKey, "pool", "What is two plus two?", false);
  holder.join();
  waiter.join();
  ASSERT_TRUE(held && waited && spilled);
  EXPECT_EQ(held->status, 200u) << held->body;
  EXPECT_EQ(held->header("x-switchboard-backend"), "gpu");
  EXPECT_EQ(spilled->status, 200u) << spilled->body;
  EXPECT_EQ(spilled->header("x-switchboard-backend"), "closed");
  EXPECT_EQ(waited->status, 200u) << waited->body;
  EXPECT_EQ(waited->header("x-switchboard-backend"), "gpu");

  // --- Every recording rule and every dashboard query evaluates and has data. ---
  deadline = Clock::now() + 20s;
  const std::vector<std::string> records = recording_rules();
  ASSERT_FALSE(records.empty());
  for (const std::string& name : records) {
    const QueryResult r = query_with_data(pp, name, deadline);
    EXPECT_TRUE(r.ok) << name << ": " << r.error;
    EXPECT_FALSE(r.result.empty()) << "recording rule " << name << " has no data";
  }
  const std::vector<PanelQuery> panels = dashboard_queries();
  ASSERT_GE(panels.size(), 30u);
  for (const PanelQuery& q : panels) {
    const std::string expr = substitute_variables(q.expr);
    ASSERT_EQ(expr.find('$'), std::string::npos) << q.where << ": unknown variable in " << q.expr;
    const QueryResult r = query_with_data(pp, expr, deadline);
    EXPECT_TRUE(r.ok) << q.where << ": " << r.error << "\n  " << expr;
    EXPECT_FALSE(r.result.empty()) << q.where << " has no data:\n  " << expr;
  }

  // Every rule (recording and alerting) has been evaluated without error.
  std::size_t rules_seen = 0;
  std::vector<std::string> unhealthy;
  deadline = Clock::now() + 10s;
  do {
    rules_seen = 0;
    unhealthy.clear();
    const auto r = request(pp, "GET", "/api/v1/rules");
    ASSERT_TRUE(r);
    const json::value v = json::parse(r->body);
    for (const json::value& g : v.at("data").at("groups").as_array()) {
      for (const json::value& rule : g.at("rules").as_array()) {
        ++rules_seen;
        if (rule.at("health") != "ok") {
          unhealthy.push_back(
              std::string(rule.at("name").as_string()) + ": " + json::serialize(rule.at("health")) +
              (rule.as_object().contains("lastError") ? " " + json::serialize(rule.at("lastError"))
                                                      : std::string()));
        }
      }
    }
    if (!unhealthy.empty()) {
      std::this_thread::sleep_for(250ms);
    }
  } while (!unhealthy.empty() && Clock::now() < deadline);
  EXPECT_GE(rules_seen, records.size());
  EXPECT_TRUE(unhealthy.empty()) << ::testing::PrintToString(unhealthy);
}

}  // namespace
}  // namespace sb::testing
