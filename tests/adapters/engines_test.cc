#include "adapters/engines.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sb::adapters {
namespace {

namespace json = boost::json;

constexpr Engine kAll[] = {Engine::openai, Engine::vllm,   Engine::llamacpp, Engine::ollama,
                           Engine::tgi,    Engine::sglang, Engine::generic};

TEST(EngineProfileTest, EveryEngineHasItsOwnProfile) {
  for (const Engine e : kAll) {
    const EngineProfile& p = engine_profile(e);
    EXPECT_EQ(p.engine, e);
    EXPECT_FALSE(p.name.empty());
    EXPECT_EQ(p.health == HealthAnswer::none, p.health_path.empty()) << p.name;
    if (!p.health_path.empty()) {
      EXPECT_EQ(p.health_path.front(), '/') << p.name;
    }
  }
}

TEST(EngineProfileTest, HealthEndpointsAreTheDocumentedOnes) {
  EXPECT_EQ(engine_profile(Engine::vllm).health_path, "/health");
  EXPECT_EQ(engine_profile(Engine::llamacpp).health_path, "/health");
  EXPECT_EQ(engine_profile(Engine::tgi).health_path, "/health");
  EXPECT_EQ(engine_profile(Engine::sglang).health_path, "/health");
  EXPECT_EQ(engine_profile(Engine::ollama).health_path, "/");
  EXPECT_EQ(engine_profile(Engine::openai).health, HealthAnswer::none);
}

TEST(EngineProfileTest, ModelNamingFollowsTheEngine) {
  EXPECT_EQ(engine_profile(Engine::tgi).model_naming, ModelNaming::ignored);
  EXPECT_EQ(engine_profile(Engine::tgi).default_model, "tgi");
  EXPECT_EQ(engine_profile(Engine::llamacpp).model_naming, ModelNaming::ignored);
  EXPECT_EQ(engine_profile(Engine::vllm).model_naming, ModelNaming::served_name);
  EXPECT_EQ(engine_profile(Engine::ollama).model_naming, ModelNaming::served_name);
  EXPECT_TRUE(engine_profile(Engine::vllm).default_model.empty());
}

TEST(EngineProfileTest, UsageChunkIsReliedOnOnlyWhereDocumented) {
  EXPECT_TRUE(engine_profile(Engine::openai).honours_include_usage);
  EXPECT_TRUE(engine_profile(Engine::vllm).honours_include_usage);
  EXPECT_TRUE(engine_profile(Engine::llamacpp).honours_include_usage);
  EXPECT_TRUE(engine_profile(Engine::ollama).honours_include_usage);
  EXPECT_TRUE(engine_profile(Engine::sglang).honours_include_usage);
  EXPECT_FALSE(engine_profile(Engine::tgi).honours_include_usage);
  EXPECT_FALSE(engine_profile(Engine::generic).honours_include_usage);
}

// ---- health answers ---------------------------------------------------------------------------

TEST(EngineHealthTest, LlamaCppIsHealthyOnlyWhenLoaded) {
  const EngineProfile& p = engine_profile(Engine::llamacpp);
  EXPECT_TRUE(engine_healthy(p, 200, R"({"status": "ok" })"));
  EXPECT_FALSE(engine_healthy(
      p, 503,
      R"({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})"));
  EXPECT_FALSE(engine_healthy(p, 200, R"({"status":"loading model"})"));
  EXPECT_FALSE(engine_healthy(p, 200, "<html>proxy</html>"));
}

TEST(EngineHealthTest, StatusOnlyEnginesLookAtTheStatus) {
  for (const Engine e : {Engine::vllm, Engine::tgi, Engine::sglang, Engine::ollama}) {
    const EngineProfile& p = engine_profile(e);
    EXPECT_TRUE(engine_healthy(p, 200, "")) << p.name;
    EXPECT_TRUE(engine_healthy(p, 200, "Ollama is running")) << p.name;
    EXPECT_FALSE(engine_healthy(p, 503, "")) << p.name;
    EXPECT_FALSE(engine_healthy(p, 500, "")) << p.name;
  }
}

TEST(EngineHealthTest, NoHealthEndpointMeansNoActiveVerdict) {
  EXPECT_TRUE(engine_healthy(engine_profile(Engine::openai), 0, ""));
  EXPECT_TRUE(engine_healthy(engine_profile(Engine::generic), 503, ""));
}

// ---- body quirks ------------------------------------------------------------------------------

TEST(AdaptChatBodyTest, RenamesMaxCompletionTokensWhereItIsIgnored) {
  const std::string body =
      R"({"model":"m", "messages":[{"role":"user","content":"hi"}], "max_completion_tokens": 64,)"
      R"( "temperature":0.7})";
  for (const Engine e : {Engine::llamacpp, Engine::ollama, Engine::tgi}) {
    EXPECT_EQ(adapt_chat_body(engine_profile(e), body),
              R"({"model":"m", "messages":[{"role":"user","content":"hi"}], "max_tokens":64,)"
              R"( "temperature":0.7})")
        << engine_profile(e).name;
  }
}

TEST(AdaptChatBodyTest, KeepsMaxCompletionTokensWhereItIsRead) {
  const std::string body = R"({"model":"m","messages":[],"max_completion_tokens":64})";
  for (const Engine e : {Engine::openai, Engine::vllm, Engine::sglang, Engine::generic}) {
    EXPECT_EQ(adapt_chat_body(engine_profile(e), body), body) << engine_profile(e).name;
  }
}

TEST(AdaptChatBodyTest, MaxCompletionTokensWinsOverMaxTokens) {
  const EngineProfile& p = engine_profile(Engine::llamacpp);
  EXPECT_EQ(adapt_chat_body(p, R"({"max_tokens":10,"messages":[],"max_completion_tokens":20})"),
            R"({"messages":[],"max_tokens":20})");
  EXPECT_EQ(adapt_chat_body(p, R"({"max_completion_tokens":20,"max_tokens":10})"),
            R"({"max_tokens":20})");
  // Duplicates: the last occurrence is the one a parser keeps.
  EXPECT_EQ(adapt_chat_body(p, R"({"max_completion_tokens":1,"a":2,"max_completion_tokens":3})"),
            R"({"a":2,"max_tokens":3})");
}

TEST(AdaptChatBodyTest, MaxTokensAloneIsUntouched) {
  const std::string body = R"({"max_tokens":10,"messages":[]})";
  EXPECT_EQ(adapt_chat_body(engine_profile(Engine::llamacpp), body), body);
}

TEST(AdaptChatBodyTest, VllmGetsNoStreamOptionsUnlessStreaming) {
  const EngineProfile& p = engine_profile(Engine::vllm);
  EXPECT_EQ(adapt_chat_body(p, R"({"model":"m","stream_options":{"include_usage":true},"n":1})"),
            R"({"model":"m","n":1})");
  EXPECT_EQ(adapt_chat_body(p, R"({"stream":false,"stream_options":{"include_usage":true}})"),
            R"({"stream":false})");
  const std::string streaming = R"({"stream":true,"stream_options":{"include_usage":true}})";
  EXPECT_EQ(adapt_chat_body(p, streaming), streaming);
  // Other engines are left alone.
  const std::string lone = R"({"model":"m","stream_options":{"include_usage":true}})";
  EXPECT_EQ(adapt_chat_body(engine_profile(Engine::sglang), lone), lone);
}

TEST(AdaptChatBodyTest, WhitespaceAndOtherBytesSurvive) {
  const std::string body =
      "{\n  \"model\" : \"m\",\n  \"max_completion_tokens\" : 5,\n  \"x\" : 1.50e0\n}\n";
  const std::string out = adapt_chat_body(engine_profile(Engine::tgi), body);
  EXPECT_EQ(out, "{\n  \"model\" : \"m\",\n  \"max_tokens\":5,\n  \"x\" : 1.50e0\n}\n");
  EXPECT_EQ(json::parse(out).at("max_tokens"), json::value(5));
}

TEST(AdaptChatBodyTest, DroppingEveryMemberLeavesAnEmptyObject) {
  EXPECT_EQ(adapt_chat_body(engine_profile(Engine::vllm), R"({ "stream_options" : {} })"), "{  }");
}

TEST(AdaptChatBodyTest, KeysInsideStringsOrNestedObjectsAreNotQuirks) {
  const std::string body = R"({"messages":[{"role":"user","content":"max_completion_tokens"}],)"
                           R"("metadata":{"max_completion_tokens":3}})";
  EXPECT_EQ(adapt_chat_body(engine_profile(Engine::llamacpp), body), body);
}

TEST(AdaptChatBodyTest, NonObjectBodiesAreReturnedAsIs) {
  EXPECT_EQ(adapt_chat_body(engine_profile(Engine::llamacpp), "[\"max_completion_tokens\"]"),
            "[\"max_completion_tokens\"]");
  EXPECT_EQ(adapt_chat_body(engine_profile(Engine::vllm), "stream_options"), "stream_options");
}

TEST(AdaptChatBodyTest, EveryResultParses) {
  const std::string bodies[] = {
      R"({"max_tokens":1,"max_completion_tokens":2,"stream_options":{},"stream":false})",
      R"({"stream_options":{},"max_completion_tokens":2})",
      R"({"a":[1,{"b":"}"}],"max_completion_tokens":null})",
  };
  for (const Engine e : kAll) {
    for (const std::string& b : bodies) {
      const std::string out = adapt_chat_body(engine_profile(e), b);
      boost::system::error_code ec;
      json::parse(out, ec);
      EXPECT_FALSE(ec) << engine_profile(e).name << ": " << out;
    }
  }
}

}  // namespace
}  // namespace sb::adapters
