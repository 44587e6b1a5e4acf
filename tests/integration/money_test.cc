// Money end to end: costs exact to the nano-dollar in x-switchboard-cost-usd, the access log and
// the cost counters; budgets and tpm that concurrency cannot exceed, output capped to what they
// afford, and the self-hosted-only fallback.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTeamKey = "sk-test-payments";
constexpr const char* kTeamKeyHash =
    "sha256:6e7619f899e820b5223eb451459f973b0bbdd8239bc2e2a85acb2bbc1ac5482c";  // sk-test-payments

/// A closed OpenAI stand-in named `name` with prices and extra backend lines.
std::string closed_backend(const std::string& name, const FakeUpstream& up,
                           const std::string& price, const std::string& extra = {}) {
  return "  " + name + R"(:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
         up.base_url() + R"("
    api_key: "sk-backend"
    model: gpt-4o
    clearance: restricted
    price: )" +
         price + "\n" + extra +
         "    timeouts: {connect: 1s, first_token: 10s, idle: 10s, total: 20s}\n";
}

std::string head(const std::string& backends, const std::string& rest) {
  return "server: {listen: \"127.0.0.1:0\", threads: 2}\nadmin: {listen: \"127.0.0.1:0\"}\n"
         "backends:\n" +
         backends + rest;
}

class MoneyTest : public ::testing::Test {
 protected:
  void start(const std::string& yaml) {
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }
  /// A closed stand-in that reports 50 prompt tokens and `completion` output tokens (at most
  /// the max_tokens it is given).
  static FakeUpstreamOptions closed_writing(std::int64_t completion) {
    FakeUpstreamOptions o;
    o.name = "closed";
    o.report_prompt_tokens = 50;
    o.report_completion_tokens = completion;
    return o;
  }
  /// One closed backend named `closed` ($10 in, $100 out per million; `extra` backend lines) as
  /// model `default`, and the team with a daily budget of `daily_usd`, rejecting once spent.
  void start_budgeted(const FakeUpstream& closed, const std::string& daily_usd,
                      const std::string& extra = {}) {
    start(head(
        closed_backend("closed", closed, "{input_per_mtok: 10, output_per_mtok: 100}", extra),
        std::string("models:\n  default: {candidates: [closed]}\ntenants:\n  team: "
                    "{api_keys: [\"") +
            kTeamKeyHash + "\"], budget: {daily_usd: " + daily_usd + ", on_exhausted: reject}}\n"));
  }
  std::optional<HttpResponse> post(std::string_view path, const std::string& body,
                                   bool keyed = false) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (keyed) {
      headers.emplace_back("Authorization", std::string("Bearer ") + kTeamKey);
    }
    return request(gw_->port(), "POST", path, body, headers);
  }
  /// The access log once it holds `n` access lines.
  std::vector<std::string> access_lines(std::size_t n) {
    std::vector<std::string> lines;
    for (int i = 0; i < 300; ++i) {
      lines.clear();
      const std::string log = gw_->stdout_text();
      std::size_t at = 0;
      while ((at = log.find("\"type\":\"access\"", at)) != std::string::npos) {
        const std::size_t begin = log.rfind('\n', at);
        const std::size_t end = log.find('\n', at);
        lines.push_back(log.substr(begin == std::string::npos ? 0 : begin + 1,
                                   end == std::string::npos ? end : end - begin - 1));
        at = end;
      }
      if (lines.size() >= n) {
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    return lines;
  }
  /// The value text of one metric series line ("name{labels} VALUE"), once it equals `expected`
  /// (requests are recorded just after their answer is sent), or as it is after a while.
  std::string metric(const std::string& series, const std::string& expected) {
    std::string value;
    for (int i = 0; i < 100 && value != expected; ++i) {
      if (i > 0) {
        std::this_thread::sleep_for(20ms);
      }
      const std::string m = wait_for_metrics(gw_->admin_port(), {series});
      const std::size_t at = m.find(series + " ");
      if (at == std::string::npos) {
        continue;
      }
      const std::size_t end = m.find('\n', at);
      value = m.substr(at + series.size() + 1, end - at - series.size() - 1);
    }
    return value;
  }
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(MoneyTest, CostsAreExactInTheHeaderTheAccessLogAndTheCounter) {
  // Every answer reports 25 prompt and 8 completion tokens: 25 x $2.50 + 8 x $10 per million is
  // 142.5 micro-dollars; 80 of them are $0.0114 exactly (whole micro-dollars said $0.01144).
  FakeUpstreamOptions o;
  o.name = "closed";
  o.report_prompt_tokens = 25;
  o.report_completion_tokens = 8;
  FakeUpstream closed(o);
  start(head(closed_backend("closed", closed, "{input_per_mtok: 2.5, output_per_mtok: 10}"),
             "models:\n  default: {candidates: [closed]}\n"));
  for (int i = 0; i < 40; ++i) {
    auto plain = post("/v1/chat/completions", chat_body("default", "hello there", false));
    ASSERT_TRUE(plain);
    ASSERT_EQ(plain->status, 200u) << plain->body;
    EXPECT_EQ(plain->header("x-switchboard-cost-usd"), "0.000142500");
    auto streamed = post("/v1/chat/completions", chat_body("default", "hello there", true));
    ASSERT_TRUE(streamed);
    ASSERT_EQ(streamed->status, 200u) << streamed->body;
    // A stream's cost is known at its end: not in the head.
    EXPECT_EQ(streamed->header("x-switchboard-cost-usd"), "");
  }
  const std::vector<std::string> lines = access_lines(80);
  ASSERT_EQ(lines.size(), 80u);
  int streams = 0;
  for (const std::string& line : lines) {
    EXPECT_NE(line.find("\"cost_usd\":0.000142500,"), std::string::npos) << line;
    const boost::json::value v = boost::json::parse(line);  // still a JSON number
    EXPECT_DOUBLE_EQ(v.at("cost_usd").to_number<double>(), 0.0001425);
    streams += v.at("stream").as_bool() ? 1 : 0;
  }
  EXPECT_EQ(streams, 40);
  EXPECT_EQ(
      metric("switchboard_cost_usd_total{backend=\"closed\",hosting=\"closed\",tenant=\"default\"}",
             "0.011400000"),
      "0.011400000");
}

TEST_F(MoneyTest, ATenTokenEmbeddingOnACheapPriceCostsTwoHundredNanoDollars) {
  FakeUpstream embed(FakeUpstreamOptions{});
  start(head(closed_backend("embed", embed, "{input_per_mtok: 0.02}"),
             "models:\n  default: {candidates: [embed]}\n"));
  for (int i = 0; i < 3; ++i) {
    Response r;
    r.body = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],)"
             R"("model":"text-embedding-3-small","usage":{"prompt_tokens":10,"total_tokens":10}})";
    embed.push(r);
    auto answer = post("/v1/embeddings", R"({"model":"default","input":"ten tokens of text"})");
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200u) << answer->body;
    EXPECT_EQ(answer->header("x-switchboard-cost-usd"), "0.000000200");
  }
  EXPECT_EQ(
      metric("switchboard_cost_usd_total{backend=\"embed\",hosting=\"closed\",tenant=\"default\"}",
             "0.000000600"),
      "0.000000600");
}

TEST_F(MoneyTest, CacheWritesCachedReadsReasoningAndHugeRequestsArePricedExactly) {
  FakeUpstream claude(FakeUpstreamOptions{});
  FakeUpstream dear(FakeUpstreamOptions{});
  start(head(R"(  claude:
    provider: anthropic
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
                 claude.base_url() +
                 R"("
    api_key: "sk-ant"
    model: claude-sonnet-4-20250514
    clearance: restricted
    price: {input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3,
            cache_write_per_mtok: 3.75}
)" + closed_backend("dear", dear, "{input_per_mtok: 15, output_per_mtok: 75}"),
             "models:\n  claude: {candidates: [claude]}\n  dear: {candidates: [dear]}\n"));
  // 100 uncached x $3 + 1000 cache reads x $0.30 + 200 cache writes x $3.75 + 50 out x $15 per
  // million: 300 + 300 + 750 + 750 micro-dollars.
  Response message;
  message.body =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",)"
      R"("content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,)"
      R"("usage":{"input_tokens":100,"cache_creation_input_tokens":200,)"
      R"("cache_read_input_tokens":1000,"output_tokens":50}})";
  claude.push(message);
  auto plain = post("/v1/chat/completions", chat_body("claude", "hello", false));
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200u) << plain->body;
  EXPECT_EQ(plain->header("x-switchboard-cost-usd"), "0.002100000");
  // The same usage streamed, from Anthropic's events.
  const std::vector<std::string> events = {
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\","
      "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\","
      "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":"
      "100,\"cache_creation_input_tokens\":200,\"cache_read_input_tokens\":1000,"
      "\"output_tokens\":1}}}\n\n",
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50}}\n\n",
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"};
  claude.push(sse_response(events));
  auto streamed = post("/v1/chat/completions", chat_body("claude", "hello", true));
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200u) << streamed->body;

  // Reasoning tokens are part of the completion tokens, billed once at the output price; three
  // billion prompt tokens at $15 per million are $45,000 exactly.
  Response huge;
  huge.body =
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[)"
      R"({"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":3000000000,"completion_tokens":30,"total_tokens":3000000030,)"
      R"("completion_tokens_details":{"reasoning_tokens":20}}})";
  dear.push(huge);
  auto big = post("/v1/chat/completions", chat_body("dear", "think hard", false));
  ASSERT_TRUE(big);
  ASSERT_EQ(big->status, 200u) << big->body;
  EXPECT_EQ(big->header("x-switchboard-cost-usd"), "45000.002250000");

  const std::vector<std::string> lines = access_lines(3);
  ASSERT_EQ(lines.size(), 3u);
  // Workers write their lines independently: count them, in any order.
  int claude_lines = 0;
  int huge_lines = 0;
  for (const std::string& line : lines) {
    claude_lines += line.find("\"cost_usd\":0.002100000,") != std::string::npos ? 1 : 0;
    huge_lines += line.find("\"cost_usd\":45000.002250000,") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(claude_lines, 2) << ::testing::PrintToString(lines);
  EXPECT_EQ(huge_lines, 1) << ::testing::PrintToString(lines);
  EXPECT_EQ(
      metric("switchboard_cost_usd_total{backend=\"claude\",hosting=\"closed\",tenant=\"default\"}",
             "0.004200000"),
      "0.004200000");
  EXPECT_EQ(metric("switchboard_tokens_total{backend=\"claude\",direction=\"cache_write\","
                   "source=\"reported\",tenant=\"default\"}",
                   "400"),
            "400");
  EXPECT_EQ(metric("switchboard_tokens_total{backend=\"claude\",direction=\"cached_input\","
                   "source=\"reported\",tenant=\"default\"}",
                   "2000"),
            "2000");
  EXPECT_EQ(metric("switchboard_tokens_total{backend=\"dear\",direction=\"reasoning\","
                   "source=\"reported\",tenant=\"default\"}",
                   "20"),
            "20");
}

// -------------------------------------------------------------------------------------------------
// Budgets and tpm under concurrency (one replica)

struct Tally {
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::atomic<int> capped{0};
  std::atomic<std::int64_t> nanos{0};   // sum of x-switchboard-cost-usd
  std::atomic<std::int64_t> tokens{0};  // sum of usage.total_tokens
  std::atomic<int> refused_code{0};     // refusals carrying the expected error code
};

std::int64_t parse_nanos(const std::string& usd) {
  const std::size_t dot = usd.find('.');
  if (dot == std::string::npos || usd.size() - dot - 1 != 9) {
    return -1;
  }
  return std::stoll(usd.substr(0, dot)) * 1'000'000'000 + std::stoll(usd.substr(dot + 1));
}

std::string usd_text(std::int64_t nanos) {
  std::string frac = std::to_string(nanos % 1'000'000'000);
  return std::to_string(nanos / 1'000'000'000) + "." + std::string(9 - frac.size(), '0') + frac;
}

void run_concurrently(std::uint16_t port, int n, const std::string& body, std::string_view code,
                      Tally& tally) {
  std::vector<std::thread> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back([&] {
      auto r = request(port, "POST", "/v1/chat/completions", body,
                       {{"Authorization", std::string("Bearer ") + kTeamKey}});
      if (r && r->status == 200) {
        ++tally.ok;
        tally.nanos += parse_nanos(r->header("x-switchboard-cost-usd"));
        const boost::json::value v = boost::json::parse(r->body);
        tally.tokens += v.at("usage").at("total_tokens").to_number<std::int64_t>();
        if (!r->header("x-switchboard-max-tokens-capped").empty()) {
          ++tally.capped;
        }
      } else if (r && r->status == 429) {
        ++tally.refused;
        EXPECT_FALSE(r->header("Retry-After").empty());
        if (r->body.find(code) != std::string::npos) {
          ++tally.refused_code;
        }
      } else {
        ++tally.other;
      }
    });
  }
  for (auto& c : clients) {
    c.join();
  }
}

TEST_F(MoneyTest, ConcurrentLongOutputRequestsCannotOverspendADailyBudget) {
  // No max_tokens: the worst case is max_output_tokens (2000 x $100 per million = $0.20) plus the
  // prompt bound. The model writes 1900 tokens (far beyond the old 1024-token default estimate)
  // or up to the max_tokens it is given when less.
  FakeUpstreamOptions o;
  o.name = "closed";
  o.latency = 300ms;
  o.report_prompt_tokens = 50;
  o.report_completion_tokens = 1900;
  FakeUpstream closed(o);
  start_budgeted(closed, "1", "    max_output_tokens: 2000\n");
  Tally tally;
  run_concurrently(gw_->port(), 12, chat_body("default", "write a long story", false),
                   "budget_exhausted", tally);
  EXPECT_EQ(tally.other.load(), 0);
  EXPECT_EQ(tally.ok.load() + tally.refused.load(), 12);
  EXPECT_GE(tally.ok.load(), 4);
  EXPECT_LE(tally.ok.load(), 5);
  EXPECT_LE(tally.nanos.load(), 1'000'000'000) << "spent more than the budget";
  EXPECT_EQ(closed.request_count(), static_cast<std::size_t>(tally.ok.load()));
  const std::string spent =
      metric("switchboard_cost_usd_total{backend=\"closed\",hosting=\"closed\",tenant=\"team\"}",
             usd_text(tally.nanos.load()));
  EXPECT_EQ(parse_nanos(spent), tally.nanos.load()) << spent;
  // Every request carried its limit upstream: a capped one its cap, the others the 2000 their
  // reservation assumed (they named none; an engine would otherwise write past it).
  for (const RecordedRequest& r : closed.requests()) {
    const boost::json::value v = boost::json::parse(r.body);
    const auto* cap = v.as_object().if_contains("max_completion_tokens");
    ASSERT_NE(cap, nullptr) << r.body;
    EXPECT_LE(cap->to_number<std::int64_t>(), 2000);
    EXPECT_GE(cap->to_number<std::int64_t>(), 256);
  }
  EXPECT_GE(tally.capped.load(), 1) << "the last one fitted only capped";
  EXPECT_EQ(tally.refused_code.load(), tally.refused.load());
}

TEST_F(MoneyTest, ARequestTheBudgetCannotCoverIsCappedToWhatItAffords) {
  // max_tokens 4000 at $100 per million is $0.40; the budget is $0.10: about 990 output tokens
  // fit after the prompt bound, more than cost.min_output_tokens (256).
  FakeUpstream closed(closed_writing(3000));
  start_budgeted(closed, "0.1");
  auto r = post("/v1/chat/completions",
                chat_body("default", "write a long story", false, ",\"max_tokens\":4000"), true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  const std::string cap = r->header("x-switchboard-max-tokens-capped");
  ASSERT_FALSE(cap.empty());
  const std::int64_t n = std::stoll(cap);
  EXPECT_GT(n, 900);
  EXPECT_LT(n, 1000);
  ASSERT_EQ(closed.requests().size(), 1u);
  const boost::json::value sent = boost::json::parse(closed.requests()[0].body);
  EXPECT_EQ(sent.at("max_tokens").to_number<std::int64_t>(), n);  // the member the client used
  EXPECT_FALSE(sent.as_object().contains("max_completion_tokens"));
  // The model wrote up to the cap: the cost stays within the budget.
  const std::int64_t cost = parse_nanos(r->header("x-switchboard-cost-usd"));
  EXPECT_EQ(cost, 50 * 10'000 + n * 100'000);
  EXPECT_LE(cost, 100'000'000);
  // What is left affords less than min_output_tokens: refused.
  auto next = post("/v1/chat/completions",
                   chat_body("default", "write a long story", false, ",\"max_tokens\":4000"), true);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 429u) << next->body;
}

TEST_F(MoneyTest, AnAgentAskingPastTheModelsLimitReservesTheLimit) {
  // Claude Code asks every model for 32,000 tokens; this one writes 2,000 at most (declared), and
  // the request goes out clamped to it: the budget reserves 2,000 tokens ($0.20 of $0.30), so the
  // request is neither refused nor capped below what the model can write.
  FakeUpstream closed(closed_writing(1500));
  start_budgeted(closed, "0.3", "    max_output_tokens: 2000\n");
  auto r = post("/v1/chat/completions",
                chat_body("default", "write a long story", false, ",\"max_tokens\":32000"), true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-max-tokens-capped"), "");
  ASSERT_EQ(closed.requests().size(), 1u);
  const boost::json::value sent = boost::json::parse(closed.requests()[0].body);
  EXPECT_EQ(sent.at("max_tokens").to_number<std::int64_t>(), 2000);
}

TEST_F(MoneyTest, ARequestNamingNoLimitIsHeldToTheOneItReserved) {
  // No max_tokens: the reservation assumes the backend's max_output_tokens (2000, $0.20). An
  // engine left without a limit writes to its context's end (5000 here, $0.50): the request goes
  // out with the limit it reserved, so the budget holds. (Without a budget or a tpm limit
  // nothing is written: the other suites' requests go as their clients sent them.)
  FakeUpstream closed(closed_writing(5000));
  start_budgeted(closed, "0.5", "    max_output_tokens: 2000\n");
  auto r = post("/v1/chat/completions", chat_body("default", "write a long story", false), true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-max-tokens-capped"), "");  // not capped: held to its bound
  ASSERT_EQ(closed.requests().size(), 1u);
  const boost::json::value sent = boost::json::parse(closed.requests()[0].body);
  ASSERT_TRUE(sent.as_object().contains("max_completion_tokens")) << closed.requests()[0].body;
  EXPECT_EQ(sent.at("max_completion_tokens").to_number<std::int64_t>(), 2000);
  const std::int64_t cost = parse_nanos(r->header("x-switchboard-cost-usd"));
  EXPECT_EQ(cost, 50 * 10'000 + 2000 * 100'000);  // what was reserved, not the 5000 unbounded
}

TEST_F(MoneyTest, EveryAnswerAskedForIsReserved) {
  // n = 4 answers of up to 4,000 tokens each: 16,000 output tokens at $100 per million ($1.60)
  // against $1 a day. Reserving one answer ($0.40) would let the request spend $1.60; the cap
  // gives each answer its quarter of what the budget affords instead.
  FakeUpstream closed(closed_writing(16000));
  start_budgeted(closed, "1");
  auto r =
      post("/v1/chat/completions",
           chat_body("default", "write four stories", false, ",\"max_tokens\":4000,\"n\":4"), true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  const std::string cap = r->header("x-switchboard-max-tokens-capped");
  ASSERT_FALSE(cap.empty()) << "four answers of 4,000 tokens were not capped";
  const std::int64_t each = std::stoll(cap);
  EXPECT_GT(each, 2000);
  EXPECT_LE(4 * each * 100'000, 1'000'000'000) << "four answers would pass the budget";
  ASSERT_EQ(closed.requests().size(), 1u);
  const boost::json::value sent = boost::json::parse(closed.requests()[0].body);
  EXPECT_EQ(sent.at("max_tokens").to_number<std::int64_t>(), each);
  EXPECT_EQ(sent.at("n").to_number<std::int64_t>(), 4);
}

TEST_F(MoneyTest, ConcurrentRequestsCannotExceedTheTokensPerMinute) {
  FakeUpstreamOptions o;
  o.name = "closed";
  o.latency = 300ms;
  o.report_prompt_tokens = 50;
  o.report_completion_tokens = 1900;
  FakeUpstream closed(o);
  start(head(closed_backend("closed", closed, "{input_per_mtok: 1, output_per_mtok: 1}",
                            "    max_output_tokens: 2000\n"),
             std::string("models:\n  default: {candidates: [closed]}\ntenants:\n  team: "
                         "{api_keys: [\"") +
                 kTeamKeyHash + "\"], rate: {tpm: 5000}}\n"));
  Tally tally;
  run_concurrently(gw_->port(), 12, chat_body("default", "write a long story", false),
                   "rate_limit_exceeded", tally);
  EXPECT_EQ(tally.other.load(), 0);
  EXPECT_EQ(tally.refused_code.load(), tally.refused.load());
  EXPECT_GE(tally.ok.load(), 2);
  EXPECT_GE(tally.refused.load(), 8);
  EXPECT_LE(tally.tokens.load(), 5000) << "used more tokens than the minute allows";
  EXPECT_EQ(closed.request_count(), static_cast<std::size_t>(tally.ok.load()));
}

TEST_F(MoneyTest, AnExhaustedBudgetKeepsRequestsSelfHostedWhenConfigured) {
  FakeUpstreamOptions co;
  co.name = "closed";
  FakeUpstream closed(co);
  FakeUpstreamOptions lo;
  lo.name = "local";
  FakeUpstream local(lo);
  start(head(closed_backend("closed", closed, "{input_per_mtok: 10, output_per_mtok: 100}",
                            "    max_output_tokens: 2000\n") +
                 R"(  local:
    provider: vllm
    base_url: ")" +
                 local.base_url() +
                 R"("
    model: m
    clearance: restricted
)",
             std::string("models:\n  default: {candidates: [closed, local]}\npolicies:\n"
                         "  - {name: all, route: {to: [closed, local], strategy: ordered}}\n"
                         "tenants:\n  team: {api_keys: [\"") +
                 kTeamKeyHash +
                 "\"], budget: {daily_usd: 0.01, on_exhausted: self-hosted-only}}\n"));
  for (int i = 0; i < 3; ++i) {
    auto r = post("/v1/chat/completions", chat_body("default", "hello", false), true);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(r->header("x-switchboard-backend"), "local");
  }
  EXPECT_EQ(closed.request_count(), 0u) << "the budget never affords the closed worst case";
  EXPECT_EQ(local.request_count(), 3u);
}

}  // namespace
}  // namespace sb::testing

namespace sb::testing {
namespace {

// The cap reaches every provider in its own field: Anthropic max_tokens, Gemini
// generationConfig.maxOutputTokens, Bedrock inferenceConfig.maxTokens, Ollama options.num_predict,
// TGI max_tokens (it reads no max_completion_tokens), vLLM max_completion_tokens, and the
// /v1/messages dialect's max_tokens through any of them.
TEST_F(MoneyTest, TheCapIsWrittenInEveryProvidersFormat) {
  FakeUpstreamOptions o;
  o.name = "vendor";
  FakeUpstream vendor(o);
  const std::string root = "http://127.0.0.1:" + std::to_string(vendor.port());
  // Output at $100 per million (self-hosted: $360 an hour at 1000 tokens/s, the same per token);
  // a worst case of 4000 output tokens ($0.40) against $0.10 a day.
  const std::string price = "    price: {input_per_mtok: 100, output_per_mtok: 100}\n";
  const std::string gpu = "    price: {gpu_hour_usd: 360, tokens_per_second: 1000}\n";
  const std::string common = "    max_output_tokens: 4000\n    clearance: restricted\n";
  start(head(R"(  anthropic:
    provider: anthropic
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
                 vendor.base_url() + "\"\n    api_key: k\n    model: claude-3-5-sonnet-20241022\n" +
                 price + common +
                 R"(  gemini:
    provider: gemini
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
                 vendor.base_url() + "\"\n    api_key: k\n    model: gemini-2.0-flash\n" + price +
                 common +
                 R"(  bedrock:
    provider: bedrock
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
                 root + R"("
    model: anthropic.claude-3-5-sonnet-20240620-v1:0
    aws: {region: us-east-1, access_key_id: AKIDEXAMPLE, secret_access_key: secret}
)" + price + common +
                 R"(  ollama:
    provider: ollama
    api: native
    base_url: ")" +
                 root + "\"\n    model: llama3\n" + gpu + common + R"(  tgi:
    provider: tgi
    base_url: ")" +
                 vendor.base_url() + "\"\n    model: m\n" + gpu + common + R"(  vllm:
    provider: vllm
    base_url: ")" +
                 vendor.base_url() + "\"\n    model: m\n" + gpu + common,
             std::string("models:\n") +
                 "  anthropic: {candidates: [anthropic]}\n  gemini: {candidates: [gemini]}\n"
                 "  bedrock: {candidates: [bedrock]}\n  ollama: {candidates: [ollama]}\n"
                 "  tgi: {candidates: [tgi]}\n  vllm: {candidates: [vllm]}\n"
                 "tenants:\n  team: {api_keys: [\"" +
                 kTeamKeyHash + "\"], budget: {daily_usd: 0.1, on_exhausted: reject}}\n"));
  struct Case {
    std::string alias;
    std::vector<std::string> path;  // to the cap in the upstream body
  };
  const std::vector<Case> cases = {
      {"anthropic", {"max_tokens"}},
      {"gemini", {"generationConfig", "maxOutputTokens"}},
      {"bedrock", {"inferenceConfig", "maxTokens"}},
      {"ollama", {"options", "num_predict"}},
      {"tgi", {"max_tokens"}},
      {"vllm", {"max_completion_tokens"}},
  };
  std::size_t seen = 0;
  for (const Case& c : cases) {
    for (const bool messages : {false, true}) {
      auto r = messages ? post("/v1/messages",
                               "{\"model\":\"" + c.alias +
                                   "\",\"max_tokens\":4000,\"messages\":[{\"role\":\"user\","
                                   "\"content\":\"write a long story\"}]}",
                               true)
                        : post("/v1/chat/completions",
                               chat_body(c.alias, "write a long story", false), true);
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200u) << c.alias << " " << r->body;
      const std::string cap = r->header("x-switchboard-max-tokens-capped");
      ASSERT_FALSE(cap.empty()) << c.alias;
      EXPECT_GE(std::stoll(cap), 256) << c.alias;
      EXPECT_LT(std::stoll(cap), 1000) << c.alias;
      EXPECT_FALSE(r->header("x-switchboard-cost-usd").empty()) << c.alias;
      const std::vector<RecordedRequest> got = vendor.requests();
      ASSERT_EQ(got.size(), ++seen) << c.alias;
      const boost::json::value body = boost::json::parse(got.back().body);
      const boost::json::value* v = &body;
      // /v1/messages carries Anthropic's max_tokens, translated to OpenAI's max_tokens: the
      // member the request used is the one capped.
      const std::vector<std::string> path =
          messages && c.alias == "vllm" ? std::vector<std::string>{"max_tokens"} : c.path;
      for (const std::string& key : path) {
        v = v->as_object().if_contains(key);
        ASSERT_NE(v, nullptr) << c.alias << ": " << got.back().body;
      }
      EXPECT_EQ(v->to_number<std::int64_t>(), std::stoll(cap)) << c.alias << got.back().body;
    }
  }
}

}  // namespace
}  // namespace sb::testing

namespace sb::testing {
namespace {

// An Anthropic client through /v1/messages to an Anthropic upstream sees the prompt-cache counts
// the upstream reported, and pays them at their prices.
TEST_F(MoneyTest, AMessagesClientSeesTheCacheWritesItPaysFor) {
  FakeUpstream claude(FakeUpstreamOptions{});
  start(head(R"(  claude:
    provider: anthropic
    allow_insecure: true   # an http:// stand-in
    base_url: ")" +
                 claude.base_url() +
                 R"("
    api_key: "sk-ant"
    model: claude-sonnet-4-20250514
    clearance: restricted
    price: {input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3,
            cache_write_per_mtok: 3.75}
)",
             "models:\n  claude: {candidates: [claude]}\n"));
  const std::string usage = R"("usage":{"input_tokens":100,"cache_creation_input_tokens":200,)"
                            R"("cache_read_input_tokens":1000,"output_tokens":50})";
  Response message;
  message.body =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",)"
      R"("content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,)" +
      usage + "}";
  claude.push(message);
  const std::string ask =
      R"({"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"hello"}]})";
  auto plain = post("/v1/messages", ask);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200u) << plain->body;
  EXPECT_EQ(plain->header("x-switchboard-cost-usd"), "0.002100000");
  const boost::json::value answer = boost::json::parse(plain->body);
  EXPECT_EQ(answer.at("usage").at("input_tokens").to_number<std::int64_t>(), 100);
  EXPECT_EQ(answer.at("usage").at("cache_creation_input_tokens").to_number<std::int64_t>(), 200);
  EXPECT_EQ(answer.at("usage").at("cache_read_input_tokens").to_number<std::int64_t>(), 1000);
  EXPECT_EQ(answer.at("usage").at("output_tokens").to_number<std::int64_t>(), 50);

  claude.push(sse_response(
      {"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\","
       "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\","
       "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":"
       "100,\"cache_creation_input_tokens\":200,\"cache_read_input_tokens\":1000,"
       "\"output_tokens\":1}}}\n\n",
       "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
       "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
       "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
       "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
       "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50}}\n\n",
       "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"}));
  std::string streamed_ask = ask;
  streamed_ask.insert(1, "\"stream\":true,");
  auto streamed = post("/v1/messages", streamed_ask);
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200u) << streamed->body;
  // The faithful lane relays Anthropic's events as they came: the input counts in message_start,
  // the output count in message_delta, and the gateway prices both.
  const std::size_t delta = streamed->body.find("\"type\":\"message_delta\"");
  ASSERT_NE(delta, std::string::npos) << streamed->body;
  EXPECT_NE(streamed->body.find("\"input_tokens\":100,\"cache_creation_input_tokens\":200,"
                                "\"cache_read_input_tokens\":1000"),
            std::string::npos)
      << streamed->body;
  EXPECT_NE(streamed->body.find("\"output_tokens\":50", delta), std::string::npos)
      << streamed->body;
  EXPECT_EQ(
      metric("switchboard_cost_usd_total{backend=\"claude\",hosting=\"closed\",tenant=\"default\"}",
             "0.004200000"),
      "0.004200000");
}

}  // namespace
}  // namespace sb::testing

namespace sb::testing {
namespace {

// A reload that changes a tenant's budget keeps what the tenant spent this period.
TEST_F(MoneyTest, AReloadedBudgetKeepsItsSpend) {
  FakeUpstreamOptions o;
  o.name = "closed";
  o.report_prompt_tokens = 0;
  o.report_completion_tokens = 3000;  // $0.30 at $100 per million
  FakeUpstream closed(o);
  const auto config = [&](const std::string& daily) {
    return head(closed_backend("closed", closed, "{input_per_mtok: 0, output_per_mtok: 100}"),
                std::string("models:\n  default: {candidates: [closed]}\ntenants:\n  team: "
                            "{api_keys: [\"") +
                    kTeamKeyHash + "\"], budget: {daily_usd: " + daily +
                    ", on_exhausted: reject}}\n");
  };
  start(config("1"));
  const std::string body = chat_body("default", "hi", false, ",\"max_tokens\":3000");
  for (int i = 0; i < 2; ++i) {
    auto r = post("/v1/chat/completions", body, true);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200u) << r->body;
    EXPECT_EQ(r->header("x-switchboard-cost-usd"), "0.300000000");
  }
  EXPECT_EQ(
      metric("switchboard_budget_remaining_usd{period=\"daily\",tenant=\"team\"}", "0.400000000"),
      "0.400000000");
  // Lowered below the spend: exhausted at once, not refilled.
  gw_->write_config(config("0.5"));
  auto reload = request(gw_->admin_port(), "POST", "/admin/reload");
  ASSERT_TRUE(reload);
  ASSERT_EQ(reload->status, 200u) << reload->body;
  EXPECT_EQ(
      metric("switchboard_budget_remaining_usd{period=\"daily\",tenant=\"team\"}", "-0.100000000"),
      "-0.100000000");
  auto refused = post("/v1/chat/completions", body, true);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429u) << refused->body;
  // Raised: exactly what is left over the $0.60 spent.
  gw_->write_config(config("0.9"));
  reload = request(gw_->admin_port(), "POST", "/admin/reload");
  ASSERT_TRUE(reload);
  ASSERT_EQ(reload->status, 200u) << reload->body;
  auto last = post("/v1/chat/completions", body, true);
  ASSERT_TRUE(last);
  ASSERT_EQ(last->status, 200u) << last->body;
  EXPECT_EQ(last->header("x-switchboard-cost-usd"), "0.300000000");
  EXPECT_EQ(
      metric("switchboard_budget_remaining_usd{period=\"daily\",tenant=\"team\"}", "0.000000000"),
      "0.000000000");
  EXPECT_EQ(closed.request_count(), 3u);
}

}  // namespace
}  // namespace sb::testing
