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
    EXPECT_EQ(r.body.find("4111"), std::string::npos) << "restricted data reached the vendor";
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

}  // namespace
}  // namespace sb::testing
