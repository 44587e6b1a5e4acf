// What leaves is what was scanned, through the real process: a card number or SSN anywhere in a
// request (tool schemas, response_format, stop, metadata, user, prediction, content sent as an
// object, Anthropic input_schema, escaped digits inside tool arguments, a forwarded header),
// content the gateway cannot read (token ids) and a raised x-data-classification never reach a
// closed backend cleared only for `internal`; and closed backends receive allow-listed headers
// only. The policy would send public traffic to the closed backend, so each case fails when the
// gateway misses what it carries.

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

std::string leak_config(const FakeUpstream& local, const FakeUpstream& closed,
                        std::string_view closed_extra = {}) {
  return R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
backends:
  local:
    provider: vllm
    hosting: self-hosted
    base_url: ")" +
         local.base_url() + R"("
    model: "pinned/local"
    clearance: restricted
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
  closed:
    provider: openai
    base_url: ")" +
         closed.base_url() + R"("
    allow_insecure: true
    api_key: "sk-backend"
    model: "gpt-4o"
    clearance: internal
    timeouts: {connect: 500ms, first_token: 2s, idle: 2s, total: 10s}
)" + std::string(closed_extra) +
         R"(models:
  default: {candidates: [closed, local]}
policies:
  - name: sensitive-stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: [local], on_unavailable: reject}
  - name: public-goes-out
    route: {to: [closed, local]}
)";
}

class LeakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions co;
    co.name = "closed";
    closed_ = std::make_unique<FakeUpstream>(co);
    start(leak_config(*local_, *closed_));
  }
  void start(const std::string& yaml) {
    gw_.reset();
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::optional<HttpResponse> post(std::string_view path, std::string_view body,
                                   const HeaderList& headers = {}) {
    return request(gw_->port(), "POST", path, body, headers);
  }

  // The request stayed on the self-hosted backend, classified restricted, and the closed one
  // recorded nothing.
  void expect_kept_home(const std::optional<HttpResponse>& r, std::string_view what) {
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->header("x-switchboard-backend"), "local") << what << ": " << r->body;
    EXPECT_EQ(r->header("x-switchboard-sensitivity"), "restricted") << what;
    EXPECT_TRUE(closed_->requests().empty()) << what << " reached the closed backend";
  }

  // A chat body whose user says hello, with `extra` members added at the top level.
  static std::string chat(std::string_view extra) {
    std::string body = R"({"model":"default","messages":[{"role":"user","content":"hello"}])";
    if (!extra.empty()) {
      body += ',';
      body += extra;
    }
    body += '}';
    return body;
  }

  // An Anthropic backend cleared for internal, preferred, and the self-hosted one beside it.
  void start_with_anthropic() {
    start(R"(server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
backends:
  local:
    provider: vllm
    base_url: ")" +
          local_->base_url() + R"("
    model: "pinned/local"
    clearance: restricted
  claude:
    provider: anthropic
    allow_insecure: true
    base_url: ")" +
          closed_->base_url() + R"("
    api_key: "sk-ant-backend"
    model: "claude-sonnet-4-5"
    clearance: internal
models:
  default: {candidates: [claude, local]}
policies:
  - name: sensitive-stays-home
    when: {sensitivity: {at_least: confidential}}
    route: {to: [local], on_unavailable: reject}
  - name: public-goes-out
    route: {to: [claude, local]}
)");
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> closed_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(LeakTest, CleanTrafficGoesToTheClosedBackend) {
  // The control: without a finding the policy sends the request out.
  // The address a proxy in front of the gateway records is not forwarded, so not scanned either.
  auto r = post("/v1/chat/completions", chat(R"("metadata":{"note":"nothing to see"})"),
                {{"X-Forwarded-For", "203.0.113.9"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "closed");
  EXPECT_EQ(r->header("x-switchboard-sensitivity"), "public");
  ASSERT_EQ(closed_->requests().size(), 1u);
  EXPECT_FALSE(closed_->requests().front().header("x-forwarded-for"));
}

TEST_F(LeakTest, CardInToolSchemaDescriptionStaysHome) {
  expect_kept_home(
      post("/v1/chat/completions",
           chat(R"("tools":[{"type":"function","function":{"name":"lookup","description":"finds",)"
                R"("parameters":{"type":"object","properties":{"acct":{"type":"string",)"
                R"("description":"for example 4111 1111 1111 1111"}}}}}])")),
      "tool schema description");
}

TEST_F(LeakTest, SsnInToolSchemaEnumStaysHome) {
  expect_kept_home(
      post(
          "/v1/chat/completions",
          chat(
              R"("tools":[{"type":"function","function":{"name":"lookup","parameters":)"
              R"({"type":"object","properties":{"who":{"type":"string","enum":["078-05-1120"]}}}}}])")),
      "tool schema enum");
}

TEST_F(LeakTest, CardInToolSchemaDefaultStaysHome) {
  expect_kept_home(
      post(
          "/v1/chat/completions",
          chat(
              R"("tools":[{"type":"function","function":{"name":"lookup","parameters":)"
              R"({"type":"object","properties":{"c":{"type":"string","default":"4111111111111111"}}}}}])")),
      "tool schema default");
}

TEST_F(LeakTest, SsnInResponseFormatSchemaStaysHome) {
  expect_kept_home(
      post(
          "/v1/chat/completions",
          chat(
              R"("response_format":{"type":"json_schema","json_schema":{"name":"r","schema":)"
              R"({"type":"object","properties":{"s":{"type":"string","const":"078-05-1120"}}}}})")),
      "response_format schema");
}

TEST_F(LeakTest, SsnInStopStaysHome) {
  expect_kept_home(post("/v1/chat/completions", chat(R"("stop":["078-05-1120"])")), "stop");
}

TEST_F(LeakTest, CardInMetadataStaysHome) {
  expect_kept_home(
      post("/v1/chat/completions", chat(R"("metadata":{"note":"card 4111 1111 1111 1111"})")),
      "metadata");
}

TEST_F(LeakTest, SsnInUserStaysHome) {
  expect_kept_home(post("/v1/chat/completions", chat(R"("user":"078-05-1120")")), "user");
}

TEST_F(LeakTest, CardInPredictionStaysHome) {
  expect_kept_home(post("/v1/chat/completions",
                        chat(R"("prediction":{"type":"content","content":"4111 1111 1111 1111"})")),
                   "prediction");
}

TEST_F(LeakTest, CardInContentSentAsAnObjectStaysHome) {
  const auto r = post(
      "/v1/chat/completions",
      R"({"model":"default","messages":[{"role":"user","content":{"card":"4111 1111 1111 1111"}}]})");
  ASSERT_TRUE(r);
  EXPECT_NE(r->header("x-switchboard-backend"), "closed");
  EXPECT_EQ(r->header("x-switchboard-sensitivity"), "restricted");
  EXPECT_TRUE(closed_->requests().empty());
}

TEST_F(LeakTest, EscapedDigitsInToolArgumentsStayHome) {
  // The arguments string holds JSON whose digits are \u escapes: decoded before the scan.
  expect_kept_home(
      post(
          "/v1/chat/completions",
          R"({"model":"default","messages":[{"role":"user","content":"pay"},)"
          R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",)"
          R"("function":{"name":"pay","arguments":"{\"card\":\"\\u0034\\u0031\\u0031\\u0031)"
          R"( \\u0031\\u0031\\u0031\\u0031 \\u0031\\u0031\\u0031\\u0031 \\u0031\\u0031\\u0031\\u0031\"}"}}]},)"
          R"({"role":"tool","tool_call_id":"c1","content":"done"}]})"),
      "escaped tool arguments");
}

TEST_F(LeakTest, AnthropicInputSchemaStaysHome) {
  expect_kept_home(
      post(
          "/v1/messages",
          R"({"model":"default","max_tokens":50,"messages":[{"role":"user","content":"hello"}],)"
          R"("tools":[{"name":"lookup","description":"finds","input_schema":{"type":"object",)"
          R"("properties":{"acct":{"type":"string","description":"like 4111 1111 1111 1111"}}}}]})",
          {{"anthropic-version", "2023-06-01"}}),
      "anthropic input_schema");
}

TEST_F(LeakTest, ServiceTokensACodingAgentReadsStayHome) {
  // What an agent's tools read out of a project: a .env file, a CI variable, a config. Each
  // request carries one token and nothing else to find.
  const std::string gemini = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY";
  const std::string stripe = "sk_live_51H8xYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
  const std::string gitlab = "glpat-xYz12AbC-dEf_34GhIjK";
  const std::string hf = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567";
  const std::string openrouter = "sk-or-v1-" + std::string(32, 'a') + std::string(32, '0');
  const std::string agent_turn =
      R"({"model":"default","messages":[{"role":"user","content":"why does the build fail?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",)"
      R"("function":{"name":"read_file","arguments":"{\"path\":\".env\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"GEMINI_API_KEY=)" +
      gemini + R"(\nLOG_LEVEL=debug\n"}]})";
  expect_kept_home(post("/v1/chat/completions", agent_turn), "a Google API key in a tool result");
  expect_kept_home(
      post("/v1/messages",
           R"({"model":"default","max_tokens":50,"messages":[{"role":"user","content":[)"
           R"({"type":"text","text":"charge it with )" +
               stripe + R"("}]}]})",
           {{"anthropic-version", "2023-06-01"}}),
      "a Stripe key in a Messages request");
  for (const std::string& token : {gitlab, hf, openrouter}) {
    expect_kept_home(post("/v1/chat/completions", chat(R"("user":")" + token + R"(")")), token);
  }
}

TEST_F(LeakTest, ConnectionStringsDeepSeekKeysAndNpmTokensStayHome) {
  // A database URL with its password, as a .env file or a docker-compose file holds it: the
  // address-like `password@host` it contains was counted as an email address (confidential), not
  // as the secret it is.
  const std::string dsn = R"(DATABASE_URL=postgres://app:Pr0d-Passw0rd@db.prod.internal:5432/app)";
  expect_kept_home(post("/v1/chat/completions", chat(R"("user":")" + dsn + R"(")")),
                   "a database URL");
  const std::string deepseek = "sk-" + std::string(16, 'a') + "0123456789abcdef";
  expect_kept_home(post("/v1/chat/completions", chat(R"("user":"key )" + deepseek + R"(")")),
                   "a DeepSeek key");
  // Found from the digits in its body (not by Hyperscan): an .npmrc as an agent reads it.
  const std::string npmrc =
      R"(//registry.npmjs.org/:_authToken=npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8\n)";
  expect_kept_home(post("/v1/chat/completions", chat(R"("user":")" + npmrc + R"(")")),
                   "an npm token");
}

TEST_F(LeakTest, CredentialsNamedAsSuchStayHome) {
  // A value whatever its format, after a name that says it is a password, a secret, a token or an
  // API key: what an agent reads out of a .env file, a curl command it runs, the arguments of a
  // tool call, an Anthropic tool_use input (an object, translated into the arguments' JSON text).
  const std::string env_file =
      R"({"model":"default","messages":[{"role":"user","content":"why does it fail?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",)"
      R"("function":{"name":"read_file","arguments":"{\"path\":\".env\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"LOG_LEVEL=debug\nDB_PASSWORD=Pr0d-2024!x\n"}]})";
  expect_kept_home(post("/v1/chat/completions", env_file), "a password in a .env file");
  const std::string curl =
      R"({"model":"default","messages":[{"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"c2","type":"function","function":{"name":"bash","arguments":)"
      R"("{\"command\":\"curl -H 'Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543' )"
      R"(https://api.internal/v1\"}"}}]},{"role":"tool","tool_call_id":"c2","content":"ok"}]})";
  expect_kept_home(post("/v1/chat/completions", curl), "a bearer token in a tool call");
  const std::string login_command =
      R"({"model":"default","messages":[{"role":"user","content":)"
      R"("it says: docker login -u ci --password Sup3rS3cret registry.corp, then fails"}]})";
  expect_kept_home(post("/v1/chat/completions", login_command), "a password as an option");
  const std::string login =
      R"({"model":"default","messages":[{"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"c3","type":"function","function":{"name":"login","arguments":)"
      R"("{\"user\":\"svc\",\"password\":\"Tr0ub4dor&3\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"c3","content":"ok"}]})";
  expect_kept_home(post("/v1/chat/completions", login), "a password in a tool call's arguments");
  expect_kept_home(
      post(
          "/v1/messages",
          R"({"model":"default","max_tokens":50,"messages":[)"
          R"({"role":"user","content":"call the API"},)"
          R"({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"http",)"
          R"("input":{"url":"https://api.internal","api_key":"9f86d081884c7d65"}}]},)"
          R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]})",
          {{"anthropic-version", "2023-06-01"}}),
      "an API key in a tool_use input");
}

TEST_F(LeakTest, CodeThatReadsACredentialStillGoesOut) {
  // The names alone, followed by code that reads the value from elsewhere, are no finding.
  const std::string code =
      R"(import os\npassword = os.environ[\"DB_PASSWORD\"]\ntoken = self.token\n)"
      R"(headers = {\"Authorization\": f\"Bearer {token}\"}\napi_key: str = settings.API_KEY\n)";
  auto r = post("/v1/chat/completions",
                R"({"model":"default","messages":[{"role":"user","content":")" + code + R"("}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "closed");
  EXPECT_EQ(r->header("x-switchboard-sensitivity"), "public");
}

TEST_F(LeakTest, ResponsesMetadataStaysHomeWhereABackendTakesTheClientsBody) {
  // `metadata` is echoed in the Response, not translated: only a backend that takes the client's
  // Responses request as it is receives it, and the closed OpenAI backend is one. The client's
  // body is scanned for that lane.
  expect_kept_home(post("/v1/responses", R"({"model":"default","input":"hello",)"
                                         R"("metadata":{"note":"4111 1111 1111 1111"}})"),
                   "responses metadata");
}

TEST_F(LeakTest, AMessagesRequestNoBackendTakesAsItIsIsScannedOnceAsTranslated) {
  // No Anthropic backend: only the translation can leave, and it alone is scanned, so the card
  // counts once in the decision (scanning the client's body as well would count it twice).
  expect_kept_home(post("/v1/messages",
                        R"({"model":"default","max_tokens":50,)"
                        R"("messages":[{"role":"user","content":"pay with 4111 1111 1111 1111"}]})",
                        {{"anthropic-version", "2023-06-01"}}),
                   "anthropic content");
  // The decision line goes to the access log (stdout) when no audit trail is configured.
  std::string log;
  for (int i = 0; i < 200 && log.find(R"("type":"decision")") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
    log = gw_->stdout_text();
  }
  EXPECT_NE(log.find(R"("entities":{"credit_card":1})"), std::string::npos) << log;
}

// A key named twice in one object: the gateway's reading keeps the last value, but the bytes sent
// hold both, and a backend's parser may keep the first. Every value is scanned, on each lane that
// forwards the client's bytes: the typed chat reading, the DOM one, embeddings, completions, a
// Responses body an OpenAI backend takes as it is (a Messages body an Anthropic backend takes as
// it is: below). A translation is written from the DOM: it sends the last value alone.
TEST_F(LeakTest, EveryValueOfARepeatedKeyIsScanned) {
  const std::string card = R"("card 4111 1111 1111 1111")";
  const struct {
    const char* path;
    std::string body;
  } cases[] = {
      {"/v1/chat/completions", R"({"model":"default","messages":[{"role":"user","content":)" +
                                   card + R"(}],"messages":[{"role":"user","content":"hello"}]})"},
      {"/v1/chat/completions", R"({"model":"default","messages":[{"role":"user","content":)" +
                                   card + R"(,"content":"hello"}]})"},
      {"/v1/chat/completions",
       chat(R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",)"
            R"("description":)" +
            card + R"(,"description":"plain"}}}])")},
      // A max_tokens the typed reading refuses (a string): the DOM's lane.
      {"/v1/chat/completions",
       chat(R"("max_tokens":"5","metadata":{"n":)" + card + R"(,"n":"x"})")},
      {"/v1/embeddings", R"({"model":"default","input":)" + card + R"(,"input":"hello"})"},
      {"/v1/completions", R"({"model":"default","prompt":)" + card + R"(,"prompt":"hello"})"},
      {"/v1/responses",
       R"({"model":"default","input":"hello","metadata":{"n":)" + card + R"(,"n":"x"}})"},
  };
  for (const auto& c : cases) {
    expect_kept_home(post(c.path, c.body, {{"anthropic-version", "2023-06-01"}}), c.body);
  }
}

TEST_F(LeakTest, ACardSentAsAFloatStaysHome) {
  // A client that keeps numbers as float64 writes a card number with a fraction or an exponent;
  // the upstream reads the same digits. On the typed lane, the DOM's lane (a max_tokens the typed
  // reading refuses) and every other endpoint.
  const std::string fraction = "4111111111111111.0";
  const std::string exponent = "4.111111111111111e15";
  const struct {
    const char* path;
    std::string body;
  } cases[] = {
      {"/v1/chat/completions", chat(R"("metadata":{"n":)" + fraction + "}")},
      {"/v1/chat/completions", chat(R"("metadata":{"n":)" + exponent + "}")},
      {"/v1/chat/completions", chat(R"("max_tokens":"5","metadata":{"n":)" + exponent + "}")},
      {"/v1/chat/completions",
       R"({"model":"default","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":)"
       R"("function","function":{"name":"pay","arguments":"{\"card\":)" +
           exponent + R"(}"}}]},{"role":"user","content":"again"}]})"},
      {"/v1/embeddings", R"({"model":"default","input":"hello","n":)" + fraction + "}"},
      {"/v1/completions", R"({"model":"default","prompt":"hello","n":)" + exponent + "}"},
      {"/v1/responses", R"({"model":"default","input":"hello","metadata":{"n":)" + fraction + "}}"},
      // A Messages request's tool input goes out as the call's arguments; its unknown metadata
      // does not go out at all (the translation drops it), so it is not the case to try.
      {"/v1/messages",
       R"({"model":"default","max_tokens":5,"messages":[{"role":"user","content":"hello"},)"
       R"({"role":"assistant","content":[{"type":"tool_use","id":"t","name":"pay","input":)"
       R"({"card":)" +
           exponent +
           R"(}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t",)"
           R"("content":"done"}]}]})"},
  };
  for (const auto& c : cases) {
    expect_kept_home(post(c.path, c.body, {{"anthropic-version", "2023-06-01"}}), c.body);
  }
}

TEST_F(LeakTest, ARepeatedKeyWithNothingToFindStillGoesOut) {
  // The control: repeating a key is not itself sensitive. What leaves is what the gateway read:
  // the last value of a repeated top-level key, alone (an upstream that kept the first would
  // otherwise read what no cap or budget saw), on every lane that forwards the client's bytes.
  const struct {
    const char* path;
    std::string body;
    std::string_view kept;
    std::string_view dropped;
  } cases[] = {
      {"/v1/chat/completions", chat(R"("max_tokens":90000,"temperature":0.7,"max_tokens":9)"),
       R"("temperature":0.7,"max_tokens":9})", "90000"},
      {"/v1/embeddings", R"({"model":"default","input":"hi","dimensions":64,"dimensions":8})",
       R"("input":"hi","dimensions":8})", "64"},
      {"/v1/completions", R"({"model":"default","prompt":"hi","max_tokens":90000,"max_tokens":9})",
       R"("prompt":"hi","max_tokens":9})", "90000"},
      {"/v1/responses",
       R"({"model":"default","input":"hi","max_output_tokens":90000,"max_output_tokens":9})",
       R"("input":"hi","max_output_tokens":9})", "90000"},
  };
  for (const auto& c : cases) {
    const std::size_t before = closed_->requests().size();
    auto r = post(c.path, c.body);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, 200u) << c.path << ": " << r->body;
    EXPECT_EQ(r->header("x-switchboard-backend"), "closed") << c.path;
    EXPECT_EQ(r->header("x-switchboard-sensitivity"), "public") << c.path;
    ASSERT_EQ(closed_->requests().size(), before + 1) << c.path;
    const std::string sent = closed_->requests().back().body;
    EXPECT_NE(sent.find(c.kept), std::string::npos) << c.path << ": " << sent;
    EXPECT_EQ(sent.find(c.dropped), std::string::npos) << c.path << ": " << sent;
  }
}

TEST_F(LeakTest, ARepeatedKeyInAMessagesRequestSentAsItIsIsScanned) {
  // An Anthropic backend takes the client's Messages body as it is (only `model` changes): the
  // first `user_id`, which the DOM drops, would reach it.
  start_with_anthropic();
  const std::string body =
      R"({"model":"default","max_tokens":50,"metadata":{"user_id":"card 4111 1111 1111 1111",)"
      R"("user_id":"u"},"messages":[{"role":"user","content":"hello"}]})";
  expect_kept_home(post("/v1/messages", body, {{"anthropic-version", "2023-06-01"}}), body);
}

TEST_F(LeakTest, TheQueryAnAnthropicBackendReceivesIsScanned) {
  // The Messages lane carries the client's query to an Anthropic backend (Claude Code's
  // `?beta=true`): what it holds was not scanned.
  start_with_anthropic();
  const std::string body =
      R"({"model":"default","max_tokens":50,"messages":[{"role":"user","content":"hello"}]})";
  const HeaderList version = {{"anthropic-version", "2023-06-01"}};
  expect_kept_home(post("/v1/messages?beta=true&ref=4111111111111111", body, version), "query");
  const auto counted =
      post("/v1/messages/count_tokens?beta=true&ref=4111111111111111",
           R"({"model":"default","messages":[{"role":"user","content":"hi"}]})", version);
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->status, 200) << counted->body;
  EXPECT_TRUE(closed_->requests().empty()) << "the count reached the closed backend";
  // A plain `beta=true` still goes out.
  const auto clean = post("/v1/messages?beta=true", body, version);
  ASSERT_TRUE(clean);
  ASSERT_EQ(closed_->requests().size(), 1u) << clean->body;
  EXPECT_EQ(closed_->requests().front().target, "/v1/messages?beta=true");
}

TEST_F(LeakTest, TokenIdPromptStaysHome) {
  expect_kept_home(
      post("/v1/completions", R"({"model":"default","prompt":[15496,11,995],"max_tokens":5})"),
      "token-id prompt");
}

TEST_F(LeakTest, TokenIdEmbeddingInputStaysHome) {
  expect_kept_home(post("/v1/embeddings", R"({"model":"default","input":[[15496,11],[995]]})"),
                   "token-id input");
}

TEST_F(LeakTest, SsnInAForwardableHeaderStaysHome) {
  expect_kept_home(post("/v1/chat/completions", chat(""), {{"X-Customer-SSN", "078-05-1120"}}),
                   "X-Customer-SSN header");
}

TEST_F(LeakTest, EveryClassificationHeaderCounts) {
  expect_kept_home(
      post("/v1/chat/completions", chat(""),
           {{"x-data-classification", "public"}, {"x-data-classification", "restricted"}}),
      "duplicate x-data-classification");
  expect_kept_home(
      post("/v1/chat/completions", chat(""), {{"x-data-classification", "public, restricted"}}),
      "comma-separated x-data-classification");
}

TEST_F(LeakTest, UnknownClassificationIsABadRequestInTheClientsShape) {
  auto openai = post("/v1/chat/completions", chat(""),
                     {{"x-data-classification", "public"}, {"x-data-classification", "secret"}});
  ASSERT_TRUE(openai);
  EXPECT_EQ(openai->status, 400u);
  EXPECT_NE(openai->body.find("\"error\":{"), std::string::npos) << openai->body;
  EXPECT_NE(openai->body.find("x-data-classification"), std::string::npos) << openai->body;
  auto anthropic =
      post("/v1/messages",
           R"({"model":"default","max_tokens":50,"messages":[{"role":"user","content":"hello"}]})",
           {{"anthropic-version", "2023-06-01"}, {"x-data-classification", "public,bogus"}});
  ASSERT_TRUE(anthropic);
  EXPECT_EQ(anthropic->status, 400u);
  EXPECT_NE(anthropic->body.find("\"type\":\"error\""), std::string::npos) << anthropic->body;
  EXPECT_TRUE(closed_->requests().empty());
  EXPECT_TRUE(local_->requests().empty());
}

TEST_F(LeakTest, ClosedBackendsReceiveAllowListedHeadersOnly) {
  start(leak_config(*local_, *closed_, "    forward_headers: [X-App-Trace]\n"));
  HeaderList headers = {{"user-agent", "leak-test/1"}, {"openai-beta", "assistants=v2"},
                        {"accept-language", "en"},     {"x-app-trace", "t-1"},
                        {"x-stainless-os", "Linux"},   {"x-junk", "nothing"}};
  for (int i = 0; i < 100; ++i) {
    headers.emplace_back("x-junk-" + std::to_string(i), "j");
  }
  auto r = post("/v1/chat/completions", chat(""), headers);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "closed");
  ASSERT_EQ(closed_->requests().size(), 1u);
  const RecordedRequest got = closed_->requests().front();
  EXPECT_EQ(got.header("user-agent"), "leak-test/1");
  EXPECT_EQ(got.header("openai-beta"), "assistants=v2");
  EXPECT_EQ(got.header("accept-language"), "en");
  EXPECT_EQ(got.header("x-app-trace"), "t-1") << "listed in forward_headers";
  EXPECT_FALSE(got.header("x-stainless-os"));
  EXPECT_FALSE(got.header("x-junk"));
  for (const auto& [name, value] : got.headers) {
    EXPECT_NE(name.rfind("x-junk", 0), 0u) << name;
  }
}

TEST_F(LeakTest, SelfHostedBackendsReceiveABoundedHeaderSet) {
  HeaderList headers = {{"x-data-classification", "restricted"}, {"x-app-trace", "t-2"}};
  for (int i = 0; i < 200; ++i) {
    headers.emplace_back("x-junk-" + std::to_string(i), "j");
  }
  auto r = post("/v1/chat/completions", chat(""), headers);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-switchboard-backend"), "local") << r->body;
  ASSERT_EQ(local_->requests().size(), 1u);
  const RecordedRequest got = local_->requests().front();
  EXPECT_EQ(got.header("x-app-trace"), "t-2");
  std::size_t junk = 0;
  for (const auto& [name, value] : got.headers) {
    junk += name.rfind("x-junk", 0) == 0 ? 1 : 0;
  }
  EXPECT_GT(junk, 0u);
  EXPECT_LT(junk, 64u) << "client headers forwarded to a self-hosted backend are bounded";
}

// Text as people paste it, through the binary: each value reaches the gateway in a form the
// detector only sees after decoding and normalisation (JSON \u escapes of no-break and thin
// spaces, Unicode hyphens, full-width digits, zero-width characters), glued to a word, with dots
// as separators, or split across two content parts or two messages. Each must stay home.
struct PastedCase {
  const char* name;
  const char* messages;  // the JSON array of messages
};

class LeakPastedTest : public LeakTest, public ::testing::WithParamInterface<PastedCase> {};

TEST_P(LeakPastedTest, PastedValueStaysHome) {
  const PastedCase& c = GetParam();
  const std::string body = std::string(R"({"model":"default","messages":)") + c.messages + "}";
  auto r = post("/v1/chat/completions", body);
  ASSERT_TRUE(r) << c.name;
  EXPECT_EQ(r->status, 200u) << c.name << ": " << r->body;
  EXPECT_EQ(r->header("x-switchboard-backend"), "local") << c.name;
  EXPECT_NE(r->header("x-switchboard-sensitivity"), "public") << c.name;
  EXPECT_TRUE(closed_->requests().empty()) << c.name << " reached the closed backend";
}

const PastedCase kPasted[] = {
    {"nbsp_groups", R"([{"role":"user","content":"card 4111\u00a01111\u00a01111\u00a01111"}])"},
    {"thin_space_groups",
     R"([{"role":"user","content":"card 4111\u20091111\u20091111\u20091111"}])"},
    {"narrow_nbsp_groups", R"([{"role":"user","content":"4111\u202f1111\u202f1111\u202f1111"}])"},
    {"ideographic_space", R"([{"role":"user","content":"4111\u30001111\u30001111\u30001111"}])"},
    {"hyphen_2010", R"([{"role":"user","content":"ssn 078\u201005\u20101120"}])"},
    {"hyphen_2011", R"([{"role":"user","content":"ssn 078\u201105\u20111120"}])"},
    {"figure_dash", R"([{"role":"user","content":"ssn 078\u201205\u20121120"}])"},
    {"en_dash", R"([{"role":"user","content":"ssn 078\u201305\u20131120"}])"},
    {"em_dash", R"([{"role":"user","content":"ssn 078\u201405\u20141120"}])"},
    {"horizontal_bar", R"([{"role":"user","content":"ssn 078\u201505\u20151120"}])"},
    {"minus_sign", R"([{"role":"user","content":"ssn 078\u221205\u22121120"}])"},
    {"full_width_digits",
     R"([{"role":"user","content":"\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11"}])"},
    {"full_width_at", R"([{"role":"user","content":"write to jane.doe\uff20contoso.com"}])"},
    {"zero_width_in_card", R"([{"role":"user","content":"4111\u200b1111\u200c1111\u200d1111"}])"},
    {"zero_width_in_email", R"([{"role":"user","content":"jane\u200b.doe@conto\u2060so.com"}])"},
    {"glued_to_word", R"([{"role":"user","content":"my card4111111111111111 thanks"}])"},
    {"dots_as_separators", R"([{"role":"user","content":"4111.1111.1111.1111"}])"},
    {"split_across_parts",
     R"([{"role":"user","content":[{"type":"text","text":"card 4111 1111"},{"type":"text","text":" 1111 1111"}]}])"},
    {"split_across_messages", R"([{"role":"user","content":"card 4111 1111"},)"
                              R"({"role":"user","content":"1111 1111"}])"},
};

INSTANTIATE_TEST_SUITE_P(Pasted, LeakPastedTest, ::testing::ValuesIn(kPasted),
                         [](const ::testing::TestParamInfo<PastedCase>& i) {
                           return std::string(i.param.name);
                         });

}  // namespace
}  // namespace sb::testing
