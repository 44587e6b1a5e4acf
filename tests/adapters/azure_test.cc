#include "adapters/azure.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using sb::test::read_fixture;

BackendSpec spec() {
  BackendSpec s;
  s.base_path = "";
  s.host = "contoso.openai.azure.com";
  s.model = "gpt-4o-prod";
  s.api_key = "azure-secret-key";
  s.api_version = "2024-10-21";
  return s;
}

std::optional<UpstreamRequest> translate(std::string_view body, const BackendSpec& s = spec()) {
  auto r = AzureTranslator().request(body, s);
  if (!r) {
    return std::nullopt;
  }
  return std::move(*r);
}

std::string header(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return "<absent>";
}

// ---- targets ---------------------------------------------------------------------------------

TEST(AzureTargetTest, DeploymentPathWithApiVersion) {
  EXPECT_EQ(azure_target("", "gpt-4o-prod", "2024-10-21", AzureOperation::chat_completions),
            "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(azure_target("/", "davinci", "2024-10-21", AzureOperation::completions),
            "/openai/deployments/davinci/completions?api-version=2024-10-21");
  EXPECT_EQ(azure_target("/openai/", "ada 2", "2024-06-01", AzureOperation::embeddings),
            "/openai/deployments/ada%202/embeddings?api-version=2024-06-01");
  EXPECT_EQ(azure_target("/proxy", "a/b?c", "2025-01-01-preview", AzureOperation::embeddings),
            "/proxy/openai/deployments/a%2Fb%3Fc/embeddings?api-version=2025-01-01-preview");
}

TEST(AzureTargetTest, NoApiVersionSelectsTheV1Api) {
  EXPECT_EQ(azure_target("", "gpt-4o-prod", "", AzureOperation::chat_completions),
            "/openai/v1/chat/completions");
  EXPECT_EQ(azure_target("/openai", "x", "", AzureOperation::embeddings), "/openai/v1/embeddings");
}

TEST(AzureTargetTest, StreamOptionsNeedARecentApiVersion) {
  EXPECT_FALSE(azure_accepts_stream_options("2023-05-15"));
  EXPECT_FALSE(azure_accepts_stream_options("2024-06-01"));
  EXPECT_FALSE(azure_accepts_stream_options("2024-08-01-preview"));
  EXPECT_TRUE(azure_accepts_stream_options("2024-09-01-preview"));
  EXPECT_TRUE(azure_accepts_stream_options("2024-10-21"));
  EXPECT_TRUE(azure_accepts_stream_options("2025-04-01-preview"));
  EXPECT_TRUE(azure_accepts_stream_options(""));
  EXPECT_TRUE(azure_accepts_stream_options("preview"));
}

// ---- requests --------------------------------------------------------------------------------

TEST(AzureRequestTest, SendsTheBodyWithTheKeyInApiKey) {
  const std::string_view body =
      R"({"model":"chat","messages":[{"role":"user","content":"hi"}],"temperature":0.7})";
  const auto req = translate(body);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->target, "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
  EXPECT_FALSE(req->stream);
  EXPECT_EQ(header(*req, "api-key"), "azure-secret-key");
  EXPECT_EQ(header(*req, "authorization"), "<absent>");
  EXPECT_EQ(header(*req, "content-type"), "application/json");
  // The client's bytes, with the deployment as the model.
  EXPECT_EQ(req->body, R"({"model":"gpt-4o-prod","messages":[{"role":"user","content":"hi"}],)"
                       R"("temperature":0.7})");
}

TEST(AzureRequestTest, StreamForcesUsageOnRecentVersions) {
  const std::string_view body = R"({"model":"chat","stream":true,"messages":[]})";
  const auto req = translate(body);
  ASSERT_TRUE(req.has_value());
  EXPECT_TRUE(req->stream);
  EXPECT_EQ(json::parse(req->body).at("stream_options").at("include_usage"), json::value(true));
}

TEST(AzureRequestTest, OldVersionsGetNoStreamOptions) {
  BackendSpec s = spec();
  s.api_version = "2024-06-01";
  const auto req = translate(
      R"({"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[]})", s);
  ASSERT_TRUE(req.has_value());
  EXPECT_TRUE(req->stream);
  EXPECT_FALSE(json::parse(req->body).as_object().contains("stream_options")) << req->body;
}

TEST(AzureRequestTest, TheTypedRequestAndTheDomGiveTheSameUpstreamRequest) {
  // The gateway hands Azure its typed reading (no DOM); request() plans from the DOM. Same bytes,
  // including the stream_options an old api-version does not take and a key sent twice (which
  // the typed plan leaves to the DOM).
  BackendSpec old_version = spec();
  old_version.api_version = "2024-02-01";
  const std::string bodies[] = {
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":1})",
      R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},)"
      R"("messages":[{"role":"user","content":"hi"}]})",
      R"({"model":"a","messages":[{"role":"user","content":"hi"}],"model":"b","n":2})",
  };
  for (const BackendSpec& s : {spec(), old_version}) {
    for (const std::string& body : bodies) {
      const auto from_dom = translate(body, s);
      ASSERT_TRUE(from_dom.has_value()) << body;
      const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
      ASSERT_TRUE(typed) << body;
      const auto from_typed = AzureTranslator().request_from(*typed, s);
      ASSERT_TRUE(from_typed) << body;
      EXPECT_EQ(from_typed->body, from_dom->body) << body;
      EXPECT_EQ(from_typed->target, from_dom->target);
      EXPECT_EQ(from_typed->stream, from_dom->stream);
      EXPECT_EQ(from_typed->headers, from_dom->headers);
    }
  }
  BackendSpec none = spec();
  none.model.clear();
  const Result<ChatRequest, ParseError> typed = parse_chat_request(bodies[0]);
  ASSERT_TRUE(typed);
  const auto r = AzureTranslator().request_from(*typed, none);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 500u);
}

TEST(AzureRequestTest, MissingDeploymentIsAServerError) {
  BackendSpec s = spec();
  s.model.clear();
  const auto r = AzureTranslator().request(R"({"messages":[]})", s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 500u);
}

// ---- non-stream responses --------------------------------------------------------------------

TEST(AzureResponseTest, StripsFilterResultsAndKeepsEverythingElse) {
  for (const std::string name : {"chat", "filtered"}) {
    const TranslatedResponse r = AzureTranslator().response(
        200, "application/json", read_fixture("azure/response/" + name + ".azure.json"), "alias");
    EXPECT_EQ(r.status, 200u);
    EXPECT_FALSE(r.retryable);
    EXPECT_EQ(json::parse(r.body),
              json::parse(read_fixture("azure/response/" + name + ".openai.json")))
        << r.body;
    EXPECT_EQ(r.body.find("filter_results"), std::string::npos);
    EXPECT_EQ(r.body.find("prompt_annotations"), std::string::npos);
  }
}

TEST(AzureResponseTest, ReportsUsageWithCachedTokens) {
  const TranslatedResponse r = AzureTranslator().response(
      200, "application/json", read_fixture("azure/response/chat.azure.json"), "alias");
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_EQ(r.usage->input, 18);
  EXPECT_EQ(r.usage->output, 4);
  EXPECT_EQ(r.usage->cached_input, 16);
}

TEST(AzureResponseTest, BodyWithoutFiltersIsUntouched) {
  const std::string body =
      R"({"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"hi"},"logprobs":{"content":[{"logprob":-0.5}]},)"
      R"("finish_reason":"stop"}]})";
  EXPECT_EQ(AzureTranslator().response(200, "application/json", body, "a").body, body);
  EXPECT_EQ(clean_azure_response("not json"), "not json");
}

TEST(AzureResponseTest, UnreadableSuccessIsABadGateway) {
  const TranslatedResponse r = AzureTranslator().response(200, "text/html", "<html/>", "a");
  EXPECT_EQ(r.status, 502u);
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(json::parse(r.body).at("error").at("type"), "api_error");
}

// ---- errors ----------------------------------------------------------------------------------

struct ErrorCase {
  std::string name;
  unsigned status;
  std::string body;
  std::string type;
  json::value code;
  std::string message;
  bool retryable;
  std::optional<std::string> retry_after;
};

class AzureErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(AzureErrorTest, PassesThroughInOpenAiShape) {
  const ErrorCase& c = GetParam();
  const TranslatedResponse r =
      AzureTranslator().response(c.status, "application/json", c.body, "a");
  EXPECT_EQ(r.status, c.status);
  EXPECT_EQ(r.retryable, c.retryable);
  EXPECT_EQ(r.retry_after, c.retry_after);
  const json::value v = json::parse(r.body);
  const json::object& e = v.at("error").as_object();
  EXPECT_EQ(e.at("type"), json::value(c.type));
  EXPECT_EQ(e.at("message"), json::value(c.message));
  EXPECT_EQ(e.at("code"), c.code);
  EXPECT_TRUE(e.contains("param"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AzureErrorTest,
    testing::Values(
        ErrorCase{"DeploymentNotFound404", 404,
                  R"({"error":{"code":"DeploymentNotFound","message":"The API deployment for )"
                  R"(this resource does not exist."}})",
                  "not_found_error", json::value("DeploymentNotFound"),
                  "The API deployment for this resource does not exist.", false, std::nullopt},
        ErrorCase{"Unauthorized401", 401,
                  R"({"error":{"code":"401","message":"Access denied due to invalid )"
                  R"(subscription key or wrong API endpoint."}})",
                  "authentication_error", json::value("401"),
                  "Access denied due to invalid subscription key or wrong API endpoint.", false,
                  std::nullopt},
        ErrorCase{"ApiManagement401", 401,
                  R"({"statusCode":401,"message":"Access denied due to missing subscription )"
                  R"(key."})",
                  "authentication_error", json::value(nullptr),
                  "Access denied due to missing subscription key.", false, std::nullopt},
        ErrorCase{"RateLimited429", 429,
                  R"({"error":{"code":"429","message":"Requests to the ChatCompletions_Create )"
                  R"(Operation have exceeded call rate limit. Please retry after 6 seconds."}})",
                  "rate_limit_error", json::value("429"),
                  "Requests to the ChatCompletions_Create Operation have exceeded call rate "
                  "limit. Please retry after 6 seconds.",
                  true, "6"},
        ErrorCase{"NumericCode500", 500,
                  R"({"error":{"code":500,"message":"The server had an error."}})", "api_error",
                  json::value("500"), "The server had an error.", true, std::nullopt},
        ErrorCase{"TypeKept400", 400,
                  R"({"error":{"message":"Unrecognized request argument supplied: foo",)"
                  R"("type":"invalid_request_error","param":null,"code":null}})",
                  "invalid_request_error", json::value(nullptr),
                  "Unrecognized request argument supplied: foo", false, std::nullopt},
        ErrorCase{"HtmlFromAProxy503", 503, "<html>unavailable</html>", "api_error",
                  json::value(nullptr), "Azure OpenAI returned HTTP 503", true, std::nullopt}),
    [](const testing::TestParamInfo<ErrorCase>& p) { return p.param.name; });

TEST(AzureErrorTest, ContentFilterKeepsItsCodeAndVerdict) {
  const std::string body = R"({"error":{"message":"The response was filtered due to the prompt )"
                           R"(triggering Azure OpenAI's content management policy.","type":null,)"
                           R"("param":"prompt","code":"content_filter","status":400,)"
                           R"("innererror":{"code":"ResponsibleAIPolicyViolation",)"
                           R"("content_filter_result":{"violence":{"filtered":true,)"
                           R"("severity":"medium"}}}}})";
  const TranslatedResponse r = AzureTranslator().response(400, "application/json", body, "a");
  EXPECT_EQ(r.status, 400u);
  EXPECT_FALSE(r.retryable);
  const json::value v = json::parse(r.body);
  const json::object& e = v.at("error").as_object();
  EXPECT_EQ(e.at("code"), "content_filter");
  EXPECT_EQ(e.at("type"), "invalid_request_error");
  EXPECT_EQ(e.at("param"), "prompt");
  EXPECT_EQ(e.at("innererror").at("code"), "ResponsibleAIPolicyViolation");
  EXPECT_FALSE(e.contains("status"));
}

// ---- streams ---------------------------------------------------------------------------------

struct StreamRun {
  std::string out;
  bool fed = true;
  bool finished = false;
  std::unique_ptr<StreamTranslator> st;
};

StreamRun run_stream(std::string_view upstream, bool include_usage,
                     std::vector<std::size_t> splits = {}) {
  StreamRun run;
  run.st = AzureTranslator().stream(include_usage, "alias");
  std::size_t at = 0;
  splits.push_back(upstream.size());
  for (const std::size_t s : splits) {
    run.fed = run.st->feed(upstream.substr(at, s - at), run.out) && run.fed;
    at = s;
  }
  run.finished = run.st->finish(run.out);
  return run;
}

struct StreamCase {
  std::string upstream;
  std::string expected;
  bool include_usage;
};

class AzureStreamFixtureTest : public testing::TestWithParam<StreamCase> {};

TEST_P(AzureStreamFixtureTest, RelaysWhatOpenAiWouldSend) {
  const StreamCase& c = GetParam();
  const StreamRun run = run_stream(read_fixture("azure/stream/" + c.upstream), c.include_usage);
  EXPECT_TRUE(run.fed);
  EXPECT_TRUE(run.finished);
  EXPECT_FALSE(run.st->error().has_value());
  EXPECT_EQ(run.out, read_fixture("azure/stream/" + c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Golden, AzureStreamFixtureTest,
    testing::Values(StreamCase{"default.azure.sse", "default.openai.sse", true},
                    StreamCase{"default.azure.sse", "default.without_usage.openai.sse", false},
                    StreamCase{"async_filter.azure.sse", "async_filter.openai.sse", false}));

TEST(AzureStreamTest, EveryByteSplitGivesTheSameChunks) {
  const std::string upstream = read_fixture("azure/stream/async_filter.azure.sse");
  const std::string expected = read_fixture("azure/stream/async_filter.openai.sse");
  for (std::size_t i = 0; i <= upstream.size(); ++i) {
    const StreamRun run = run_stream(upstream, false, {i});
    ASSERT_TRUE(run.fed && run.finished) << "split at " << i;
    ASSERT_EQ(run.out, expected) << "split at " << i;
  }
}

TEST(AzureStreamTest, RecordsUsageEvenWhenTheClientDidNotAsk) {
  const StreamRun run = run_stream(read_fixture("azure/stream/default.azure.sse"), false);
  ASSERT_TRUE(run.st->usage().has_value());
  EXPECT_EQ(run.st->usage()->input, 18);
  EXPECT_EQ(run.st->usage()->output, 3);
}

TEST(AzureStreamTest, AnnotationsAfterTheFinishAreDropped) {
  const std::string upstream =
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
      "data: {\"id\":\"\",\"object\":\"\",\"created\":0,\"model\":\"\",\"choices\":[{\"index\":0,"
      "\"finish_reason\":null,\"content_filter_results\":{\"hate\":{\"filtered\":false}},"
      "\"content_filter_offsets\":{\"check_offset\":506,\"start_offset\":44,"
      "\"end_offset\":571}}],\"usage\":null}\n\n"
      "data: [DONE]\n\n";
  const StreamRun run = run_stream(upstream, false);
  EXPECT_TRUE(run.finished);
  EXPECT_EQ(
      run.out,
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n");
}

TEST(AzureStreamTest, ChunkWithBothAnnotationAndContentKeepsTheContent) {
  const std::string upstream =
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"finish_reason\":null,\"content_filter_results\":{}},"
      "{\"index\":1,\"delta\":{\"content\":\"B\"},\"finish_reason\":null,"
      "\"content_filter_results\":{}}]}\n\n"
      "data: [DONE]\n\n";
  const StreamRun run = run_stream(upstream, false);
  EXPECT_EQ(
      run.out,
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":5,\"model\":\"m\","
      "\"choices\":[{\"index\":1,\"delta\":{\"content\":\"B\"},\"finish_reason\":null}]}\n\n"
      "data: [DONE]\n\n");
}

TEST(AzureStreamTest, InStreamErrorIsRelayedInOpenAiShapeAndFails) {
  StreamRun run;
  run.st = AzureTranslator().stream(false, "alias");
  const bool ok = run.st->feed(
      "data: {\"error\":{\"code\":\"content_filter\",\"message\":\"The response was filtered\"}}"
      "\n\n",
      run.out);
  EXPECT_FALSE(ok);
  ASSERT_TRUE(run.st->error().has_value());
  const json::value v = json::parse(run.out.substr(6));
  EXPECT_EQ(v.at("error").at("code"), "content_filter");
  EXPECT_EQ(v.at("error").at("type"), "api_error");
  EXPECT_EQ(v.at("error").at("message"), "The response was filtered");
  EXPECT_FALSE(run.st->finish(run.out));
}

TEST(AzureStreamTest, StreamWithoutDoneIsTruncated) {
  std::string upstream = read_fixture("azure/stream/default.azure.sse");
  upstream.resize(upstream.find("data: [DONE]"));
  const StreamRun run = run_stream(upstream, true);
  EXPECT_TRUE(run.fed);
  EXPECT_FALSE(run.finished);
  ASSERT_TRUE(run.st->error().has_value());
  EXPECT_EQ(run.st->error()->status, 502u);
  EXPECT_EQ(run.out.find("[DONE]"), std::string::npos);
}

TEST(AzureStreamTest, EndlessLineFailsAtOneMiBWithAnErrorEvent) {
  const StreamRun run = run_stream("data: {\"x\":\"" + std::string(2 << 20, 'x'), false);
  EXPECT_FALSE(run.fed);
  EXPECT_FALSE(run.finished);
  EXPECT_NE(run.out.find("upstream_stream_interrupted"), std::string::npos);
}

}  // namespace
}  // namespace sb::adapters
