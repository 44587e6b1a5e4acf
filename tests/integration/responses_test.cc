// POST /v1/responses through the real process: a Responses request is routed by the same policies
// as a chat completion and answered as Response objects and events; stored conversations keep
// their tenant and their level (sticky clearance).

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr std::string_view kCard = "4111 1111 1111 1111";

class ResponsesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions vo;
    vo.name = "vendor";
    vendor_ = std::make_unique<FakeUpstream>(vo);
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
tenants:
  team-a: {api_keys: ["sha256:8879f6a4ae35c420a15d35fed3b8dd07577207803d404f6d4cc4fa829dafa910"]}  # sk-team-a
  team-b: {api_keys: ["sha256:292d075b18c9240a48b848c521422c5f418f7dd16b5c66755fe58d0fb6a43e1f"]}  # sk-team-b
sensitivity:
  levels: [public, internal, restricted]
  detectors:
    credit_card: restricted
backends:
  vendor:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + vendor_->base_url() +
                             R"("
    api_key: "sk-vendor"
    model: "gpt-4o"
    clearance: internal
  local:
    provider: vllm
    base_url: ")" + local_->base_url() +
                             R"("
    model: "pinned/local"
    clearance: restricted
models:
  local: {candidates: [local]}
  smart: {candidates: [vendor, local]}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::optional<HttpResponse> responses(std::string_view body, std::string_view key = "sk-team-a") {
    return request(gw_->port(), "POST", "/v1/responses", body,
                   {{"authorization", "Bearer " + std::string(key)}});
  }
  std::optional<HttpResponse> stored(std::string_view method, std::string_view id,
                                     std::string_view key = "sk-team-a") {
    return request(gw_->port(), method, "/v1/responses/" + std::string(id), {},
                   {{"authorization", "Bearer " + std::string(key)}});
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> vendor_;
  std::unique_ptr<GatewayProcess> gw_;
};

json::object parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return ec || !v.is_object() ? json::object{} : v.as_object();
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The event names of an SSE body, in order.
std::vector<std::string> event_names(std::string_view body) {
  std::vector<std::string> names;
  std::size_t at = 0;
  while ((at = body.find("event: ", at)) != std::string_view::npos) {
    const std::size_t end = body.find('\n', at);
    names.emplace_back(body.substr(at + 7, end - at - 7));
    at = end;
  }
  return names;
}

TEST_F(ResponsesTest, ATextAnswerIsAResponseObject) {
  auto got = responses(R"({"model":"local","instructions":"be brief","input":"hi there"})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const json::object r = parse_object(got->body);
  EXPECT_EQ(str(r, "object"), "response");
  EXPECT_EQ(str(r, "status"), "completed");
  EXPECT_EQ(str(r, "model"), "local");
  EXPECT_TRUE(str(r, "id").starts_with("resp_")) << got->body;
  EXPECT_NE(got->body.find(R"("text":"Hello from local: hi there")"), std::string::npos)
      << got->body;
  EXPECT_NE(got->body.find(R"("input_tokens":)"), std::string::npos) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "local");
  ASSERT_TRUE(local_->wait_for_requests(1, 2s));
  const RecordedRequest sent = local_->requests().front();
  EXPECT_EQ(sent.target, "/v1/chat/completions");
  EXPECT_NE(sent.body.find(R"("role":"system","content":"be brief")"), std::string::npos)
      << sent.body;
  EXPECT_NE(sent.body.find(R"("model":"pinned/local")"), std::string::npos) << sent.body;
}

TEST_F(ResponsesTest, AStreamIsTheResponsesEventSequence) {
  auto got = responses(R"({"model":"local","stream":true,"input":"hi there"})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const std::vector<std::string> names = event_names(got->body);
  ASSERT_GE(names.size(), 8u) << got->body;
  EXPECT_EQ(names[0], "response.created");
  EXPECT_EQ(names[1], "response.in_progress");
  EXPECT_EQ(names[2], "response.output_item.added");
  EXPECT_EQ(names[3], "response.content_part.added");
  EXPECT_EQ(names[4], "response.output_text.delta");
  EXPECT_EQ(names.back(), "response.completed") << got->body;
  EXPECT_NE(got->body.find(R"("total_tokens":)"), std::string::npos) << got->body;
}

TEST_F(ResponsesTest, AFunctionCallRoundTripThroughPreviousResponseId) {
  auto first = responses(R"({"model":"local","input":"weather in Paris","tools":[)"
                         R"({"type":"function","name":"lookup","parameters":{"type":"object"}}]})");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u) << first->body;
  const json::object r = parse_object(first->body);
  const json::array* output = r.contains("output") ? r.at("output").if_array() : nullptr;
  ASSERT_TRUE(output != nullptr && !output->empty()) << first->body;
  const json::object& call = output->back().as_object();
  EXPECT_EQ(str(call, "type"), "function_call");
  EXPECT_EQ(str(call, "name"), "lookup");
  const std::string call_id = str(call, "call_id");
  ASSERT_FALSE(call_id.empty());

  auto second = responses(R"({"model":"local","previous_response_id":")" + str(r, "id") +
                          R"(","input":[{"type":"function_call_output","call_id":")" + call_id +
                          R"(","output":"sunny"}]})");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200u) << second->body;
  EXPECT_NE(second->body.find("Tool said: sunny"), std::string::npos) << second->body;
  ASSERT_TRUE(local_->wait_for_requests(2, 2s));
  const std::string sent = local_->requests()[1].body;
  // The stored turn goes first: the user's question, the assistant's call, then its result.
  const std::size_t question = sent.find("weather in Paris");
  const std::size_t calls = sent.find(R"("tool_calls")");
  const std::size_t result = sent.find(R"("role":"tool")");
  ASSERT_NE(question, std::string::npos) << sent;
  ASSERT_NE(calls, std::string::npos) << sent;
  ASSERT_NE(result, std::string::npos) << sent;
  EXPECT_LT(question, calls);
  EXPECT_LT(calls, result);
}

TEST_F(ResponsesTest, AConversationThatCarriedRestrictedDataStaysOnRestrictedBackends) {
  auto first = responses(R"({"model":"smart","input":"my card is )" + std::string(kCard) + R"("})");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u) << first->body;
  EXPECT_EQ(first->header("x-switchboard-backend"), "local");
  EXPECT_EQ(first->header("x-switchboard-sensitivity"), "restricted");
  const std::string id = str(parse_object(first->body), "id");

  // A clean request goes to the vendor...
  auto clean = responses(R"({"model":"smart","input":"what is 2+2"})");
  ASSERT_TRUE(clean);
  ASSERT_EQ(clean->status, 200u) << clean->body;
  EXPECT_EQ(clean->header("x-switchboard-backend"), "vendor");
  // ... but a clean follow-up of the restricted conversation stays where it was.
  auto follow = responses(R"({"model":"smart","previous_response_id":")" + id +
                          R"(","input":"and what is 2+2","store":false})");
  ASSERT_TRUE(follow);
  ASSERT_EQ(follow->status, 200u) << follow->body;
  EXPECT_EQ(follow->header("x-switchboard-backend"), "local");
  EXPECT_EQ(follow->header("x-switchboard-sensitivity"), "restricted");
  for (const RecordedRequest& r : vendor_->requests()) {
    EXPECT_EQ(r.body.find("4111 1111"), std::string::npos) << "restricted data reached the vendor";
  }
}

TEST_F(ResponsesTest, StoredResponsesBelongToTheirTenant) {
  auto first = responses(R"({"model":"local","input":"hi there"})");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u) << first->body;
  const std::string id = str(parse_object(first->body), "id");

  auto mine = stored("GET", id);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->status, 200u) << mine->body;
  EXPECT_EQ(str(parse_object(mine->body), "id"), id);

  auto theirs = stored("GET", id, "sk-team-b");
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 404u) << theirs->body;
  auto follow = responses(
      R"({"model":"local","previous_response_id":")" + id + R"(","input":"more"})", "sk-team-b");
  ASSERT_TRUE(follow);
  EXPECT_EQ(follow->status, 400u) << follow->body;
  EXPECT_NE(follow->body.find("previous_response_not_found"), std::string::npos) << follow->body;
  EXPECT_EQ(follow->body.find("hi there"), std::string::npos);

  const std::string metrics = wait_for_metrics(
      gw_->admin_port(), {"switchboard_response_store_events_total{event=\"stored\"} 1",
                          "switchboard_response_store_entries 1"});
  EXPECT_NE(metrics.find("switchboard_response_store_events_total{event=\"stored\"} 1"),
            std::string::npos)
      << metrics;

  auto removed = stored("DELETE", id);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->status, 200u) << removed->body;
  EXPECT_NE(removed->body.find(R"("deleted":true)"), std::string::npos);
  auto gone = stored("GET", id);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404u);
}

TEST_F(ResponsesTest, StoreFalseKeepsNothing) {
  auto first = responses(R"({"model":"local","input":"hi there","store":false})");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u) << first->body;
  const std::string id = str(parse_object(first->body), "id");
  auto got = stored("GET", id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 404u) << got->body;
}

TEST_F(ResponsesTest, BadRequestsGetOpenAIErrors) {
  auto not_json = responses("{not json");
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400u);
  EXPECT_NE(not_json->body.find(R"("type":"invalid_request_error")"), std::string::npos)
      << not_json->body;

  auto bad_input = responses(R"({"model":"local","input":42})");
  ASSERT_TRUE(bad_input);
  EXPECT_EQ(bad_input->status, 400u) << bad_input->body;
  EXPECT_NE(bad_input->body.find("input"), std::string::npos) << bad_input->body;

  auto unknown = responses(R"({"model":"local","previous_response_id":"resp_nope","input":"x"})");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400u) << unknown->body;
  EXPECT_NE(unknown->body.find("resp_nope"), std::string::npos) << unknown->body;

  auto model = responses(R"({"model":"nope","input":"x"})");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->status, 404u) << model->body;
  EXPECT_TRUE(local_->requests().empty()) << "nothing bad reached a backend";
}

// ---- native lane: OpenAI and Azure OpenAI take the client's Responses request as it is ----

constexpr std::string_view kAzureKey = "azure-key-123";

class ResponsesNativeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeUpstreamOptions lo;
    lo.name = "local";
    local_ = std::make_unique<FakeUpstream>(lo);
    FakeUpstreamOptions vo;
    vo.name = "vendor";
    vendor_ = std::make_unique<FakeUpstream>(vo);
    FakeUpstreamOptions ao;
    ao.name = "azure";
    azure_ = std::make_unique<FakeUpstream>(ao);
    std::string azure_root = azure_->base_url();
    azure_root.resize(azure_root.size() - 3);  // without "/v1"
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
tenants:
  team-a: {api_keys: ["sha256:8879f6a4ae35c420a15d35fed3b8dd07577207803d404f6d4cc4fa829dafa910"]}  # sk-team-a
sensitivity:
  levels: [public, internal, restricted]
  detectors:
    credit_card: restricted
backends:
  vendor:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + vendor_->base_url() +
                             R"("
    api_key: "sk-vendor"
    model: "gpt-4o"
    clearance: internal
    price: {input_per_mtok: 3, output_per_mtok: 15}
  azure:
    provider: azure-openai
    allow_insecure: true
    base_url: ")" + azure_root +
                             R"("
    api_key: ")" + std::string(kAzureKey) +
                             R"("
    api_version: "2024-10-21"   # the chat lane's; the Responses v1 path takes none
    model: "my-deployment"
    clearance: internal
  local:
    provider: vllm
    base_url: ")" + local_->base_url() +
                             R"("
    model: "pinned/local"
    clearance: restricted
models:
  gpt: {candidates: [vendor]}
  az: {candidates: [azure]}
  smart: {candidates: [vendor, local]}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
    ASSERT_TRUE(gw_->started()) << gw_->stderr_text();
  }

  std::optional<HttpResponse> responses(std::string_view body) {
    return request(gw_->port(), "POST", "/v1/responses", body,
                   {{"authorization", "Bearer sk-team-a"}});
  }
  // What the vendor fake answers `body` when asked directly.
  std::string direct(std::string_view body) {
    auto got = request(vendor_->port(), "POST", "/v1/responses", body,
                       {{"authorization", "Bearer sk-vendor"}});
    EXPECT_TRUE(got && got->status == 200u);
    return got ? got->body : std::string();
  }

  std::unique_ptr<FakeUpstream> local_;
  std::unique_ptr<FakeUpstream> vendor_;
  std::unique_ptr<FakeUpstream> azure_;
  std::unique_ptr<GatewayProcess> gw_;
};

// The events of an SSE text, each with its blank line.
std::vector<std::string> sse_events(std::string_view body) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < body.size()) {
    const std::size_t end = body.find("\n\n", at);
    const std::size_t stop = end == std::string_view::npos ? body.size() : end + 2;
    out.emplace_back(body.substr(at, stop - at));
    at = stop;
  }
  return out;
}

TEST_F(ResponsesNativeTest, OpenAIGetsTheClientsBodyWithOnlyTheModelChanged) {
  const std::string body =
      R"({"model":"gpt", "input":[{"type":"reasoning","id":"rs_1","summary":[],)"
      R"("encrypted_content":"ZW5j"},{"role":"user","content":"hi there"}],)"
      R"("include":["reasoning.encrypted_content"],"temperature":0.70,"store":false})";
  auto got = responses(body);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("x-switchboard-backend"), "vendor");
  EXPECT_NE(got->body.find("Hello from vendor: hi there"), std::string::npos) << got->body;
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  const RecordedRequest sent = vendor_->requests().front();
  EXPECT_EQ(sent.target, "/v1/responses");
  std::string expected = body;
  expected.replace(expected.find(R"("model":"gpt")"), 13, R"("model":"gpt-4o")");
  EXPECT_EQ(sent.body, expected) << "only the model differs";
  EXPECT_EQ(sent.header("authorization").value_or(""), "Bearer sk-vendor");
  const std::string cost(got->header("x-switchboard-cost-usd"));
  ASSERT_FALSE(cost.empty());
  EXPECT_GT(std::stod(cost), 0.0) << cost;
  // store: false: the gateway keeps nothing either.
  const std::string id = str(parse_object(got->body), "id");
  ASSERT_FALSE(id.empty()) << got->body;
  auto kept = request(gw_->port(), "GET", "/v1/responses/" + id, {},
                      {{"authorization", "Bearer sk-team-a"}});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->status, 404u) << kept->body;
}

TEST_F(ResponsesNativeTest, AnswersAndStreamsArriveAsTheUpstreamSentThem) {
  const std::string plain = direct(R"({"model":"gpt-4o","input":"hi there"})");
  Response scripted;
  scripted.body = plain;
  vendor_->push(scripted);
  auto got = responses(R"({"model":"gpt","input":"hi there"})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->body, plain);

  const std::string stream = direct(R"({"model":"gpt-4o","input":"hi there","stream":true})");
  vendor_->push(sse_response(sse_events(stream)));
  auto streamed = responses(R"({"model":"gpt","input":"hi there","stream":true})");
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200u) << streamed->body;
  EXPECT_EQ(streamed->body, stream) << "the fake's own event sequence, byte for byte";
  EXPECT_EQ(event_names(streamed->body).back(), "response.completed");
}

TEST_F(ResponsesNativeTest, AzureGetsTheV1PathAndItsKey) {
  const std::string body = R"({"model":"az","input":"hi there","stream":true})";
  auto got = responses(body);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(event_names(got->body).back(), "response.completed") << got->body;
  ASSERT_TRUE(azure_->wait_for_requests(1, 2s));
  const RecordedRequest sent = azure_->requests().front();
  EXPECT_EQ(sent.target, "/openai/v1/responses");
  EXPECT_EQ(sent.header("api-key").value_or(""), kAzureKey);
  EXPECT_FALSE(sent.header("authorization").has_value());
  EXPECT_EQ(sent.body, R"({"model":"my-deployment","input":"hi there","stream":true})");
}

TEST_F(ResponsesNativeTest, AStoredNativeResponseContinuesTranslated) {
  auto first = responses(R"({"model":"gpt","input":"remember kiwi","stream":true})");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200u) << first->body;
  ASSERT_TRUE(vendor_->wait_for_requests(1, 2s));
  EXPECT_EQ(vendor_->requests().front().target, "/v1/responses");
  const std::size_t at = first->body.find(R"("id":"resp_)");
  ASSERT_NE(at, std::string::npos) << first->body;
  const std::string id = first->body.substr(at + 6, first->body.find('"', at + 6) - at - 6);

  auto kept = request(gw_->port(), "GET", "/v1/responses/" + id, {},
                      {{"authorization", "Bearer sk-team-a"}});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->status, 200u) << "stored under the upstream's id " << id;

  auto follow =
      responses(R"({"model":"gpt","previous_response_id":")" + id + R"(","input":"which fruit?"})");
  ASSERT_TRUE(follow);
  ASSERT_EQ(follow->status, 200u) << follow->body;
  ASSERT_TRUE(vendor_->wait_for_requests(2, 2s));
  const RecordedRequest sent = vendor_->requests()[1];
  EXPECT_EQ(sent.target, "/v1/chat/completions") << "a stored conversation goes translated";
  const std::size_t question = sent.body.find("remember kiwi");
  const std::size_t answer = sent.body.find(R"("role":"assistant")");
  const std::size_t next = sent.body.find("which fruit?");
  ASSERT_NE(question, std::string::npos) << sent.body;
  ASSERT_NE(answer, std::string::npos) << sent.body;
  ASSERT_NE(next, std::string::npos) << sent.body;
  EXPECT_LT(question, answer);
  EXPECT_LT(answer, next);
  EXPECT_NE(sent.body.find("Hello from vendor: remember kiwi"), std::string::npos) << sent.body;
}

TEST_F(ResponsesNativeTest, AnUpstream400IsPassedOn) {
  Response refused;
  refused.status = 400;
  refused.body =
      R"({"error":{"message":"Invalid value: 'input_text'.","type":"invalid_request_error",)"
      R"("param":"input[0].content[0]","code":"invalid_value"}})";
  vendor_->push(refused);
  auto got = responses(R"({"model":"gpt","input":"hi"})");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 400u) << got->body;
  EXPECT_EQ(got->body, refused.body);
}

TEST_F(ResponsesNativeTest, AnUpstream5xxIsAnOpenAIShaped502) {
  Response broken;
  broken.status = 500;
  broken.body = "<html>internal error</html>";
  for (int i = 0; i < 4; ++i) {
    vendor_->push(broken);  // every retry
  }
  auto got = responses(R"({"model":"gpt","input":"hi"})");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 502u) << got->body;
  const json::object body = parse_object(got->body);
  ASSERT_TRUE(body.contains("error")) << got->body;
  EXPECT_EQ(str(body.at("error").as_object(), "code"), "upstream_error") << got->body;
  EXPECT_EQ(got->body.find("<html>"), std::string::npos) << got->body;
}

TEST_F(ResponsesNativeTest, AMidStreamResetEndsWithResponseFailed) {
  const std::string stream = direct(R"({"model":"gpt-4o","input":"hi there","stream":true})");
  Response cut = sse_response(sse_events(stream));
  cut.reset_after_chunks = 4;
  vendor_->push(cut);
  auto got = responses(R"({"model":"gpt","input":"hi there","stream":true})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto names = event_names(got->body);
  ASSERT_GE(names.size(), 3u) << got->body;
  EXPECT_EQ(names.front(), "response.created");
  EXPECT_EQ(names[names.size() - 2], "error") << got->body;
  EXPECT_EQ(names.back(), "response.failed") << got->body;
  EXPECT_EQ(got->body.find("response.completed"), std::string::npos);
  EXPECT_EQ(got->body.rfind(stream.substr(0, 200), 0), 0u) << "the upstream's events first";
}

TEST_F(ResponsesNativeTest, DetectionScansTheClientsBody) {
  // A card in an item the translated lane drops (a reasoning summary) still counts: the native
  // lane would send it. The only backend of `gpt` is cleared for internal data.
  auto hidden = responses(R"({"model":"gpt","input":[{"type":"reasoning","id":"rs_1",)"
                          R"("summary":[{"type":"summary_text","text":"card )" +
                          std::string(kCard) + R"("}]},{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(hidden);
  EXPECT_EQ(hidden->status, 403u) << hidden->body;
  auto plain = responses(R"({"model":"gpt","input":"my card is )" + std::string(kCard) + R"("})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 403u) << plain->body;
  EXPECT_EQ(vendor_->request_count(), 0u) << "nothing reached the vendor";
}

}  // namespace
}  // namespace sb::testing
