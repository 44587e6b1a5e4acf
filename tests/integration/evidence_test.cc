// The audit trail as the real gateway writes it from real traffic: `audit verify` finds it clean
// and counts it exactly, no line carries content, tampering is reported at its place, a forged
// violation is caught, a crash loses at most the last batch, rotation and reload keep the chain,
// and `replay` re-decides the recorded mix under the same, a stricter and a looser policy.
//
// The forged line is sealed here with OpenSSL's HMAC (an independent implementation of the
// schema's seal: integration tests link no production code).

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
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

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kSearchKey = "sk-test-search";
constexpr const char* kPaymentsKey = "sk-test-payments";
constexpr const char* kClosedSecret = "sk-closed-backend-secret-7f3a";
constexpr const char* kEmail = "jane.doe@acme-payroll.io";
constexpr const char* kAuditKey = "0123456789abcdef0123456789abcdef-evidence-key";

// Prompt texts: none of them may ever appear in the trail.
const std::vector<std::string> kPrompts = {
    "Summarise the lighthouse keepers of Brittany",
    "Stream a haiku about marmalade tramways",
    "Write to jane.doe@acme-payroll.io about the payroll run",
    "Stream to jane.doe@acme-payroll.io the quarterly figures",
    "Quarterly walrus forecast for the board",
    "Payments team asks about turnip ledgers",
    "charge card 4111 1111 1111 1111 for the invoice",
    "Which model answers zeppelin riddles",
    "Anthropic shaped question about velvet umbrellas",
    "Responses shaped question about copper kettles",
    "Resilient question about granite pancakes",
};

struct CliRun {
  int code = -1;
  std::string out;
};

// Runs the switchboard binary; stdout only (stderr is appended with `merge`).
CliRun run_cli(const std::string& args, bool merge = false) {
  const std::string cmd =
      std::string(SB_SWITCHBOARD_BIN) + " " + args + (merge ? " 2>&1" : " 2>/dev/null");
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    r.out.append(buf, n);
  }
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

std::vector<fs::path> trail_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".jsonl") {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(text.substr(start));  // a torn tail
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += l + "\n";
  }
  return out;
}

std::string hmac_hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : json::serialize(v);
}

std::uint64_t u64(const json::value& v) {
  return v.is_uint64() ? v.as_uint64() : static_cast<std::uint64_t>(v.as_int64());
}

std::uint64_t count_at(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (std::string_view k : path) {
    if (cur == nullptr || !cur->contains(k)) {
      return 0;
    }
    v = &cur->at(k);
    cur = v->if_object();
  }
  return v == nullptr ? 0 : u64(*v);
}

// The gateway's config: a self-hosted fake (cleared for confidential), a closed OpenAI fake
// (internal), a self-hosted backend where nothing listens; two tenants (payments with a
// confidential floor); confidential data stays home, everything else takes the model's
// candidates in order (default: closed first).
struct Variant {
  std::string closed_clearance = "internal";
  std::string local_clearance = "confidential";
  bool stays_home = true;
  std::string home = "[local]";
  std::string search_extra;  // more of the search tenant's settings
  std::string default_route = "{strategy: ordered}";
  std::string local_price = "{gpu_hour_usd: 3.6, tokens_per_second: 1000}";
  std::string audit;  // the audit section ("" none)
};

std::string evidence_config(const std::string& local_url, const std::string& closed_url,
                            const std::string& down_url, const Variant& v) {
  std::string y = R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
backends:
  local:
    provider: vllm
    hosting: self-hosted
    base_url: ")" +
                  local_url +
                  R"("
    model: "pinned/local"
    tier: standard
    clearance: )" +
                  v.local_clearance +
                  R"(
    price: )" + v.local_price +
                  R"(
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
  closed:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
                  closed_url +
                  R"("
    api_key: ")" + kClosedSecret +
                  R"("
    model: "gpt-4o"
    tier: frontier
    clearance: )" +
                  v.closed_clearance +
                  R"(
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
  down:
    provider: vllm
    hosting: self-hosted
    base_url: ")" +
                  down_url +
                  R"("
    model: "nobody"
    clearance: confidential
    timeouts: {connect: 300ms, first_token: 1s, idle: 1s, total: 5s}
models:
  default: {candidates: [closed, local]}
  resilient: {candidates: [down, closed]}
tenants:
  search: {api_keys: ["sha256:a83eb24e8548c81079d37b4e49f8f05130b235446bc6cdb6e7606b8a8f736753"])" +
                  v.search_extra + R"(}
  payments: {api_keys: ["sha256:6e7619f899e820b5223eb451459f973b0bbdd8239bc2e2a85acb2bbc1ac5482c"], floor: confidential}
policies:
)";
  if (v.stays_home) {
    y += R"(  - name: stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: )" +
         v.home + R"(, on_unavailable: reject}
)";
  }
  y += "  - name: default\n    route: " + v.default_route + "\n";
  return y + v.audit;
}

using Hdrs = std::vector<std::pair<std::string, std::string>>;

Hdrs auth(const char* key, Hdrs extra = {}) {
  extra.emplace_back("Authorization", std::string("Bearer ") + key);
  return extra;
}

class EvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sb-evidence-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    trail_ = root_ / "trail";
    key_file_ = root_ / "audit.key";
    write_file(key_file_, kAuditKey);
    ::chmod(key_file_.c_str(), 0600);
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions co;
    co.name = "closed";
    closed_ = std::make_unique<FakeUpstream>(co);
    down_url_ = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
  }
  void TearDown() override {
    gw_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string audit_section(const std::string& extra = "flush_interval: 50ms") const {
    return "audit: {path: \"" + trail_.string() + "\", key_file: \"" + key_file_.string() + "\", " +
           extra + "}\n";
  }
  std::string config(Variant v = {}) const {
    if (v.audit.empty()) {
      v.audit = audit_section();
    }
    return evidence_config(local_->base_url(), closed_->base_url(), down_url_, v);
  }
  void start(const std::string& yaml) {
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }
  void stop() {
    gw_->send_signal(SIGTERM);
    EXPECT_EQ(gw_->wait_exit(10s), 0) << gw_->stderr_text();
  }
  unsigned chat(const char* key, std::string_view model, std::string_view text, bool stream,
                Hdrs extra = {}) {
    auto r = request(gw_->port(), "POST", "/v1/chat/completions", chat_body(model, text, stream),
                     auth(key, std::move(extra)));
    return r ? r->status : 0;
  }
  json::object verify_json(const fs::path& dir, int expected_code) {
    const CliRun r = run_cli("audit verify --trail '" + dir.string() + "' --key '" +
                             key_file_.string() + "' --json");
    EXPECT_EQ(r.code, expected_code) << r.out.substr(0, 3000);
    json::error_code ec;
    json::value v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return v.is_object() ? v.as_object() : json::object{};
  }
  std::string verify_text(const fs::path& dir) {
    return run_cli("audit verify --trail '" + dir.string() + "' --key '" + key_file_.string() + "'")
        .out;
  }
  json::object replay_json(const Variant& v, int expected_code = 0) {
    const fs::path cfg = root_ / "replay.yaml";
    Variant plain = v;
    plain.audit = "\n";
    write_file(cfg, evidence_config(local_->base_url(), closed_->base_url(), down_url_, plain));
    const CliRun r =
        run_cli("replay --trail '" + trail_.string() + "' --config '" + cfg.string() + "' --json");
    EXPECT_EQ(r.code, expected_code) << r.out;
    json::error_code ec;
    json::value parsed = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return parsed.is_object() ? parsed.as_object() : json::object{};
  }

  // The realistic mix. Returns the number of requests that reached a routing decision.
  void send_mix() {
    EXPECT_EQ(chat(kSearchKey, "default", kPrompts[0], false), 200u);
    EXPECT_EQ(chat(kSearchKey, "default", kPrompts[1], true), 200u);
    EXPECT_EQ(chat(kSearchKey, "default", kPrompts[2], false), 200u);
    EXPECT_EQ(chat(kSearchKey, "default", kPrompts[3], true), 200u);
    EXPECT_EQ(chat(kSearchKey, "default", kPrompts[4], false,
                   {{"x-data-classification", "confidential"}}),
              200u);
    EXPECT_EQ(chat(kPaymentsKey, "default", kPrompts[5], false), 200u);
    EXPECT_EQ(chat(kSearchKey, "default", kPrompts[6], false), 403u);
    EXPECT_EQ(chat(kSearchKey, "no-such-model", kPrompts[7], false), 404u);
    auto m =
        request(gw_->port(), "POST", "/v1/messages",
                R"({"model":"default","max_tokens":64,"messages":[{"role":"user","content":")" +
                    kPrompts[8] + "\"}]}",
                auth(kSearchKey, {{"anthropic-version", "2023-06-01"}}));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200u) << m->body;
    auto r = request(gw_->port(), "POST", "/v1/responses",
                     R"({"model":"default","input":")" + kPrompts[9] + "\"}", auth(kSearchKey));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(chat(kSearchKey, "resilient", kPrompts[10], false), 200u);
  }
  // Decisions the mix makes: 11 requests, each one decision (the unknown model included).
  static constexpr std::uint64_t kMixDecisions = 11;

  fs::path root_;
  fs::path trail_;
  fs::path key_file_;
  std::string down_url_;
  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  std::unique_ptr<GatewayProcess> gw_;
};

// Every line has the common fields and every decision line the schema's; no line carries a
// prompt, a reply, the email or a secret. Returns the number of decision lines.
std::uint64_t check_lines(const fs::path& trail) {
  std::uint64_t decisions = 0;
  for (const fs::path& f : trail_files(trail)) {
    const std::string raw = read_file(f);
    EXPECT_EQ(raw.find(kEmail), std::string::npos) << f;
    EXPECT_EQ(raw.find("acme-payroll"), std::string::npos) << f;
    // The card number in any spelling; "4111" alone also occurs by chance in digests and ports.
    EXPECT_EQ(raw.find("4111 1111"), std::string::npos) << f;
    EXPECT_EQ(raw.find("4111111111111111"), std::string::npos) << f;
    EXPECT_EQ(raw.find(kClosedSecret), std::string::npos) << f;
    for (const std::string& p : kPrompts) {
      EXPECT_EQ(raw.find(p), std::string::npos) << p;
    }
    for (const char* word : {"lighthouse", "marmalade", "walrus", "turnip", "zeppelin", "velvet",
                             "copper", "granite", "Hello from"}) {
      EXPECT_EQ(raw.find(word), std::string::npos) << word;
    }
    for (const std::string& line : lines_of(raw)) {
      const json::object o = json::parse(line).as_object();
      for (const char* k : {"v", "type", "ts", "config", "seq", "prev", "mac"}) {
        EXPECT_TRUE(o.contains(k)) << k << " in " << line;
      }
      if (o.at("type") != "decision") {
        continue;
      }
      ++decisions;
      for (const char* k :
           {"request_id", "endpoint", "tenant", "model", "outcome", "rule", "sensitivity", "tier",
            "why", "features", "state", "backends", "estimated_tokens", "estimated_cost_nanos"}) {
        EXPECT_TRUE(o.contains(k)) << k << " in " << line;
      }
      for (const char* k : {"detected", "entities", "floor", "classification", "unscannable",
                            "unscannable_bits", "tier_header", "tier_source"}) {
        EXPECT_TRUE(o.at("why").as_object().contains(k)) << k << " in " << line;
      }
      for (const char* k : {"prompt_tokens", "max_tokens", "tools", "images", "json_schema",
                            "depth", "reasoning_effort", "headers"}) {
        EXPECT_TRUE(o.at("features").as_object().contains(k)) << k << " in " << line;
      }
      if (o.at("sensitivity") == "confidential" && o.at("tenant") == "search" &&
          o.at("why").at("classification") == "") {
        EXPECT_EQ(count_at(o.at("why").as_object(), {"entities", "email"}), 1u) << line;
      }
    }
  }
  return decisions;
}

TEST_F(EvidenceTest, RealTrafficVerifiesCleanWithExactCounts) {
  start(config());
  send_mix();
  stop();
  const json::object v = verify_json(trail_, 0);
  EXPECT_EQ(v.at("clean"), true) << json::serialize(v).substr(0, 3000);
  EXPECT_EQ(v.at("chain").at("ok"), true);
  EXPECT_EQ(v.at("violations").as_array().size(), 0u);
  EXPECT_EQ(u64(v.at("decisions")), kMixDecisions) << json::serialize(v).substr(0, 3000);
  EXPECT_EQ(u64(v.at("configs")), 1u);
  // 9 served (5 closed, 4 local) + the failed try on `down`.
  EXPECT_EQ(u64(v.at("attempts")), 10u) << json::serialize(v).substr(0, 3000);
  const json::object& lv = v.at("levels").as_object();
  // public: 2 chats, messages, responses, resilient → closed; the resilient request first failed
  // on down; the unknown model is a public decision with no attempt.
  EXPECT_EQ(count_at(lv, {"public", "decisions"}), 6u) << json::serialize(lv);
  EXPECT_EQ(count_at(lv, {"public", "backends", "closed", "total"}), 5u);
  EXPECT_EQ(count_at(lv, {"public", "backends", "down", "total"}), 1u);
  EXPECT_EQ(count_at(lv, {"public", "backends", "local", "total"}), 0u);
  EXPECT_EQ(lv.at("public").at("backends").at("closed").at("hosting"), "closed");
  // confidential: two emails, the header, the payments floor → local only.
  EXPECT_EQ(count_at(lv, {"confidential", "decisions"}), 4u);
  EXPECT_EQ(count_at(lv, {"confidential", "attempts"}), 4u);
  EXPECT_EQ(count_at(lv, {"confidential", "backends", "local", "total"}), 4u);
  EXPECT_EQ(count_at(lv, {"confidential", "backends", "closed", "total"}), 0u);
  EXPECT_EQ(lv.at("confidential").at("backends").at("local").at("hosting"), "self-hosted");
  // restricted: refused, never sent anywhere.
  EXPECT_EQ(count_at(lv, {"restricted", "decisions"}), 1u);
  EXPECT_EQ(count_at(lv, {"restricted", "attempts"}), 0u);
  EXPECT_EQ(count_at(v, {"outcomes", "forbidden"}), 1u);
  EXPECT_EQ(count_at(v, {"outcomes", "unknown_model"}), 1u);
  EXPECT_EQ(count_at(v, {"outcomes", "route"}), 9u);
  EXPECT_TRUE(closed_->wait_for_requests(5, 1s));
  EXPECT_EQ(closed_->requests().size(), 5u);
  EXPECT_EQ(local_->requests().size(), 4u);

  EXPECT_EQ(check_lines(trail_), kMixDecisions);
}

// Copies the trail to `name` and returns the copy's path.
fs::path copy_trail(const fs::path& trail, const fs::path& root, const std::string& name) {
  const fs::path to = root / name;
  fs::copy(trail, to, fs::copy_options::recursive);
  return to;
}

struct Break {
  std::string file;
  std::uint64_t line = 0;
  std::uint64_t seq = 0;
};

Break first_break(const json::object& v) {
  const json::value* fb = v.at("chain").as_object().if_contains("first_break");
  if (fb == nullptr) {
    return {};
  }
  const json::object& at = fb->at("at").as_object();
  return {std::string(at.at("file").as_string()), u64(at.at("line")), u64(at.at("seq"))};
}

TEST_F(EvidenceTest, TamperingIsReportedAtItsExactPlace) {
  start(config());
  send_mix();
  stop();
  const std::vector<fs::path> files = trail_files(trail_);
  ASSERT_EQ(files.size(), 1u);
  const std::string name = files[0].filename().string();
  const std::vector<std::string> lines = lines_of(read_file(files[0]));
  ASSERT_GE(lines.size(), 12u);
  // A decision line in the middle: line k (1-based), seq s.
  std::size_t k = 0;
  for (std::size_t i = 4; i < lines.size() && k == 0; ++i) {
    if (lines[i].find("\"type\":\"decision\"") != std::string::npos) {
      k = i + 1;
    }
  }
  ASSERT_NE(k, 0u);
  const auto seq_of = [&](std::size_t one_based) {
    return u64(json::parse(lines[one_based - 1]).at("seq"));
  };
  const std::uint64_t s = seq_of(k);

  struct Case {
    std::string label;
    std::vector<std::string> lines;
    std::uint64_t line;
    std::uint64_t seq;
  };
  std::vector<Case> cases;
  {
    std::vector<std::string> l = lines;
    const std::size_t at = l[k - 1].find("\"tenant\":\"search\"");
    ASSERT_NE(at, std::string::npos) << l[k - 1];
    l[k - 1][at + 11] = 'S';  // one byte
    cases.push_back({"altered", l, k, s});
  }
  {
    std::vector<std::string> l = lines;
    l.erase(l.begin() + static_cast<long>(k - 1));
    cases.push_back({"deleted", l, k, s + 1});
  }
  {
    std::vector<std::string> l = lines;
    std::swap(l[k - 1], l[k]);
    cases.push_back({"swapped", l, k, s + 1});
  }
  {
    std::vector<std::string> l = lines;
    l.insert(l.begin() + static_cast<long>(k), lines[k - 2]);  // a copy of line k-1 after line k
    cases.push_back({"inserted", l, k + 1, s - 1});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const fs::path copy = copy_trail(trail_, root_, c.label);
    write_file(copy / name, join_lines(c.lines));
    const json::object v = verify_json(copy, 1);
    EXPECT_EQ(v.at("clean"), false);
    EXPECT_EQ(v.at("chain").at("ok"), false);
    const Break b = first_break(v);
    EXPECT_EQ(b.file, name) << json::serialize(v).substr(0, 3000);
    EXPECT_EQ(b.line, c.line) << json::serialize(v).substr(0, 3000);
    EXPECT_EQ(b.seq, c.seq) << json::serialize(v).substr(0, 3000);
    const std::string text = verify_text(copy);
    EXPECT_NE(text.find("BROKEN at " + name + " line " + std::to_string(c.line) + " (seq " +
                        std::to_string(c.seq) + ")"),
              std::string::npos)
        << text;
  }
}

TEST_F(EvidenceTest, AForgedLineClaimingRestrictedOnTheClosedBackendIsAViolation) {
  start(config());
  send_mix();
  stop();
  const std::vector<fs::path> files = trail_files(trail_);
  ASSERT_FALSE(files.empty());
  const fs::path copy = copy_trail(trail_, root_, "forged");
  const fs::path last = copy / files.back().filename();
  std::string raw = read_file(last);
  const std::vector<std::string> lines = lines_of(raw);
  const json::object tail = json::parse(lines.back()).as_object();
  const std::string config_hash(tail.at("config").as_string());
  std::uint64_t seq = u64(tail.at("seq"));
  std::string prev(tail.at("mac").as_string());
  const auto seal = [&](const std::string& body) {
    std::string line = body + ",\"seq\":" + std::to_string(++seq) + ",\"prev\":\"" + prev + "\"";
    prev = hmac_hex(kAuditKey, line);
    return line + ",\"mac\":\"" + prev + "\"}\n";
  };
  const std::string common = "{\"v\":1,\"ts\":\"" + std::string(tail.at("ts").as_string()) +
                             "\",\"config\":\"" + config_hash + "\",";
  raw += seal(
      common +
      R"("type":"decision","request_id":"forged-1","endpoint":"chat","tenant":"search","model":"default","outcome":"route","rule":"default","sensitivity":"restricted","tier":"standard","why":{"detected":"restricted","entities":{"credit_card":1},"floor":"public","classification":"","unscannable":[],"unscannable_bits":0,"tier_header":"","tier_source":"default"},"features":{"prompt_tokens":10,"max_tokens":null,"tools":false,"images":false,"json_schema":false,"depth":1,"reasoning_effort":"","headers":{}},"state":{},"backends":["closed"],"estimated_tokens":100,"estimated_cost_nanos":1000)");
  raw += seal(
      common +
      R"("type":"attempt","request_id":"forged-1","tenant":"search","model":"default","sensitivity":"restricted","n":1,"backend":"closed","hosting":"closed","provider":"openai","status":200,"result":"ok","stream":false,"upstream_ms":12.5,"usage":{"input":10,"output":5,"cached":0,"cache_write":0,"reasoning":0},"usage_estimated":false,"cost_nanos":75000)");
  write_file(last, raw);
  const json::object v = verify_json(copy, 1);
  EXPECT_EQ(v.at("chain").at("ok"), true) << "the forged lines are sealed with the right key";
  EXPECT_EQ(v.at("clean"), false);
  const json::array& violations = v.at("violations").as_array();
  ASSERT_FALSE(violations.empty()) << json::serialize(v).substr(0, 3000);
  for (const json::value& x : violations) {
    EXPECT_EQ(x.at("request_id"), "forged-1") << json::serialize(x);
    EXPECT_EQ(str(x.at("at").at("file")), last.filename().string());
  }
  EXPECT_EQ(u64(violations[0].at("at").at("line")), lines.size() + 1);
  EXPECT_EQ(u64(violations[0].at("at").at("seq")), seq - 1);
  const std::string text = verify_text(copy);
  EXPECT_NE(text.find("forged-1"), std::string::npos) << text;
  EXPECT_NE(text.find("Result: FAILED"), std::string::npos) << text;
}

TEST_F(EvidenceTest, RotationKeepsTheChainAcrossFiles) {
  start(config(Variant{.audit = audit_section("flush_interval: 20ms, rotate: {size: 4KiB}")}));
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(chat(kSearchKey, "default", "rotation question " + std::to_string(i), i % 2 == 0),
              200u);
  }
  stop();
  const std::vector<fs::path> files = trail_files(trail_);
  EXPECT_GE(files.size(), 3u);
  for (const fs::path& f : files) {
    EXPECT_LE(fs::file_size(f), 4096u + 4096u) << f;  // rotated at the size (plus one batch)
  }
  const json::object v = verify_json(trail_, 0);
  EXPECT_EQ(v.at("clean"), true) << json::serialize(v).substr(0, 3000);
  EXPECT_EQ(u64(v.at("files")), files.size());
  EXPECT_EQ(u64(v.at("decisions")), 30u);
  EXPECT_EQ(u64(v.at("attempts")), 30u);
  EXPECT_EQ(u64(v.at("first_seq")), 1u);
  EXPECT_EQ(u64(v.at("last_seq")), u64(v.at("lines")));
}

TEST_F(EvidenceTest, AKilledGatewayLosesAtMostTheLastBatchAndTheChainContinues) {
  constexpr auto kFlush = 100ms;
  start(config(Variant{.audit = audit_section("flush_interval: 100ms")}));
  std::atomic<bool> stop_sending{false};
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> answered;
  std::vector<std::thread> senders;
  for (int t = 0; t < 2; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; !stop_sending; ++i) {
        auto r = request(
            gw_->port(), "POST", "/v1/chat/completions",
            chat_body("default", "crash loop " + std::to_string(t * 100000 + i), i % 3 == 0),
            auth(kSearchKey));
        if (r && r->status == 200) {
          std::lock_guard lock(mu);
          answered.push_back(std::chrono::steady_clock::now());
        }
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  const auto killed_at = std::chrono::steady_clock::now();
  gw_->send_signal(SIGKILL);
  stop_sending = true;
  for (auto& s : senders) {
    s.join();
  }
  gw_->wait_exit(5s);
  std::size_t before_last_batch = 0;
  {
    std::lock_guard lock(mu);
    for (const auto& t : answered) {
      before_last_batch += t + kFlush + 200ms < killed_at ? 1 : 0;
    }
  }
  ASSERT_GT(before_last_batch, 20u);
  const json::object v = verify_json(trail_, 0);
  EXPECT_EQ(v.at("chain").at("ok"), true) << json::serialize(v).substr(0, 3000);
  EXPECT_EQ(v.at("violations").as_array().size(), 0u);
  for (const json::value& w : v.at("warnings").as_array()) {
    EXPECT_NE(std::string(w.as_string()).find("torn"), std::string::npos) << w;
  }
  const std::uint64_t decisions = u64(v.at("decisions"));
  EXPECT_GE(decisions, before_last_batch) << "a crash lost more than the last batch";
  const std::uint64_t last_seq = u64(v.at("last_seq"));
  const std::size_t files_before = trail_files(trail_).size();

  // Restart on the same trail: a new file whose first line chains on.
  start(config());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(chat(kSearchKey, "default", "after the crash", false), 200u);
  }
  stop();
  const std::vector<fs::path> files = trail_files(trail_);
  ASSERT_EQ(files.size(), files_before + 1);
  const std::vector<std::string> fresh = lines_of(read_file(files.back()));
  ASSERT_FALSE(fresh.empty());
  EXPECT_EQ(u64(json::parse(fresh.front()).at("seq")), last_seq + 1);
  const json::object after = verify_json(trail_, 0);
  EXPECT_EQ(after.at("clean"), true) << json::serialize(after);
  EXPECT_EQ(u64(after.at("decisions")), decisions + 5);
  EXPECT_EQ(u64(after.at("configs")), 2u);
  EXPECT_GT(u64(after.at("last_seq")), last_seq);
}

// The count of a replay report's moves from one destination to another.
std::uint64_t moves(const json::object& report, std::string_view from, std::string_view to) {
  std::uint64_t n = 0;
  for (const json::value& m : report.at("moves").as_array()) {
    if (str(m.at("from")) == from && str(m.at("to")) == to) {
      n += u64(m.at("count"));
    }
  }
  return n;
}

TEST_F(EvidenceTest, ReplayUnderTheSameStricterAndLooserPolicies) {
  start(config());
  send_mix();
  stop();
  ASSERT_EQ(verify_json(trail_, 0).at("clean"), true);
  {
    SCOPED_TRACE("same config");
    const json::object same = replay_json(Variant{});
    EXPECT_EQ(u64(same.at("decisions")), kMixDecisions) << json::serialize(same);
    EXPECT_EQ(u64(same.at("unchanged")), kMixDecisions) << json::serialize(same);
    EXPECT_EQ(u64(same.at("moved")), 0u);
    EXPECT_EQ(u64(same.at("newly_refused")), 0u);
    EXPECT_EQ(u64(same.at("newly_allowed")), 0u);
    EXPECT_EQ(same.at("clearance_breaks").as_array().size(), 0u);
  }
  {
    SCOPED_TRACE("stricter: public traffic stays home too");
    const json::object strict = replay_json(Variant{.default_route = "{to: [local]}"});
    // The five requests served by closed move to local; the rest is unchanged.
    EXPECT_EQ(u64(strict.at("moved")), 5u) << json::serialize(strict);
    EXPECT_EQ(u64(strict.at("unchanged")), kMixDecisions - 5);
    EXPECT_EQ(u64(strict.at("newly_refused")), 0u);
    EXPECT_EQ(moves(strict, "closed", "local"), 5u) << json::serialize(strict.at("moves"));
  }
  {
    SCOPED_TRACE("stricter: the search tenant's data is all restricted");
    const json::object strict = replay_json(Variant{.search_extra = ", floor: restricted"});
    // The eight routed search requests are refused now (nothing is cleared for restricted); the
    // payments one, the refused one and the unknown model are unchanged.
    EXPECT_EQ(u64(strict.at("newly_refused")), 8u) << json::serialize(strict).substr(0, 3000);
    EXPECT_EQ(count_at(strict, {"newly_refused_by_outcome", "forbidden"}), 8u);
    EXPECT_EQ(u64(strict.at("unchanged")), 3u);
    EXPECT_EQ(u64(strict.at("moved")), 0u);
    EXPECT_EQ(u64(strict.at("newly_allowed")), 0u);
    EXPECT_EQ(count_at(strict, {"tenants", "search", "newly_refused"}), 8u);
    EXPECT_EQ(count_at(strict, {"tenants", "payments", "unchanged"}), 1u);
  }
  {
    SCOPED_TRACE("stricter: the closed backend cleared for public only");
    const json::object strict = replay_json(Variant{.closed_clearance = "public"});
    EXPECT_EQ(u64(strict.at("unchanged")), kMixDecisions) << json::serialize(strict);
  }
  {
    SCOPED_TRACE("looser: closed cleared for restricted, the stays-home rule gone");
    const json::object loose =
        replay_json(Variant{.closed_clearance = "restricted", .stays_home = false});
    // The four confidential requests move to closed; the refused restricted one is now allowed.
    EXPECT_EQ(u64(loose.at("moved")), 4u) << json::serialize(loose);
    EXPECT_EQ(u64(loose.at("newly_allowed")), 1u);
    EXPECT_EQ(count_at(loose, {"newly_allowed_by_backend", "closed"}), 1u);
    EXPECT_EQ(u64(loose.at("newly_refused")), 0u);
    EXPECT_EQ(u64(loose.at("unchanged")), kMixDecisions - 5);
    EXPECT_EQ(moves(loose, "local", "closed"), 4u) << json::serialize(loose.at("moves"));
    EXPECT_EQ(loose.at("clearance_breaks").as_array().size(), 0u);
  }
}

TEST_F(EvidenceTest, AReloadRecordsTheNewConfigAndEachDecisionIsCheckedAgainstItsOwn) {
  start(config());
  EXPECT_EQ(chat(kSearchKey, "default", kPrompts[0], false), 200u);
  EXPECT_EQ(chat(kSearchKey, "default", kPrompts[2], false), 200u);
  // The new config clears local only for internal data (confidential data now goes to `down`)
  // and routes public traffic home: the confidential decision before the reload is a violation
  // under it.
  gw_->write_config(config(Variant{.closed_clearance = "public",
                                   .local_clearance = "internal",
                                   .home = "[down]",
                                   .default_route = "{to: [local]}"}));
  gw_->send_signal(SIGHUP);
  ASSERT_TRUE(gw_->wait_for_log("configuration reloaded", 5s)) << gw_->stderr_text();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(chat(kSearchKey, "default", kPrompts[0], false), 200u);
  const unsigned after = chat(kSearchKey, "default", kPrompts[2], false);
  EXPECT_TRUE(after == 502u || after == 503u) << after;  // down is down
  stop();
  EXPECT_EQ(closed_->requests().size(), 1u) << "after the reload public traffic stays home";
  EXPECT_EQ(local_->requests().size(), 2u);
  // Clean only if each decision is checked against the config in force when it was made.
  const json::object v = verify_json(trail_, 0);
  EXPECT_EQ(v.at("clean"), true) << json::serialize(v).substr(0, 3000);
  EXPECT_EQ(u64(v.at("configs")), 2u);
  EXPECT_EQ(u64(v.at("decisions")), 4u);
  EXPECT_EQ(count_at(v.at("levels").as_object(), {"confidential", "backends", "local", "total"}),
            1u);
  EXPECT_EQ(count_at(v.at("levels").as_object(), {"confidential", "backends", "down", "total"}),
            1u);
  std::vector<std::string> hashes;
  for (const fs::path& f : trail_files(trail_)) {
    for (const std::string& line : lines_of(read_file(f))) {
      const json::object o = json::parse(line).as_object();
      if (o.at("type") == "config") {
        hashes.emplace_back(o.at("config").as_string());
        EXPECT_EQ(str(o.at("snapshot")), "configs/" + hashes.back() + ".yaml");
      }
    }
  }
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_NE(hashes[0], hashes[1]);
  std::size_t snapshots = 0;
  for (const auto& e : fs::directory_iterator(trail_ / "configs")) {
    ++snapshots;
    const std::string text = read_file(e.path());
    EXPECT_EQ(text.find(kClosedSecret), std::string::npos) << e.path();
    EXPECT_NE(std::find(hashes.begin(), hashes.end(), e.path().stem().string()), hashes.end());
  }
  EXPECT_EQ(snapshots, 2u);
}

}  // namespace
}  // namespace sb::testing
