#include "adapters/openai_compatible.h"

#include "adapters/canonical.h"
#include "adapters/engines.h"

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/adapters/fixtures.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using sb::test::read_fixture;

/// A plan with its body read as one text.
struct Planned {
  std::string body;
  bool stream = false;
  bool client_wants_usage = false;
};

Planned plan(std::string_view body, std::string_view model = "gpt-4o-2024-08-06") {
  const json::value parsed = json::parse(body);
  const ChatRequestPlan p = plan_chat_request(body, parsed.as_object(), model);
  return Planned{p.body.text(body), p.stream, p.client_wants_usage};
}

// ---- plan_chat_request ---------------------------------------------------------------------

TEST(PlanChatRequestTest, NonStreamChangesOnlyTheModel) {
  const std::string_view body =
      "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"h\\u00e9llo \\\"model\\\" "
      "caf\xC3\xA9\"} ],"
      "\n\t\"model\":\"default\", \"temperature\":0.70,\"n\":12345678901234567890,"
      "\"x\":1e400,\"meta\":{\"model\":\"keep\"},\"stream\":false,"
      "\"stream_options\":{\"include_usage\":false}  }\n";
  const auto p = plan(body);
  EXPECT_FALSE(p.stream);
  EXPECT_FALSE(p.client_wants_usage);
  EXPECT_EQ(p.body,
            "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"h\\u00e9llo \\\"model\\\" "
            "caf\xC3\xA9\"} ],"
            "\n\t\"model\":\"gpt-4o-2024-08-06\", \"temperature\":0.70,\"n\":12345678901234567890,"
            "\"x\":1e400,\"meta\":{\"model\":\"keep\"},\"stream\":false,"
            "\"stream_options\":{\"include_usage\":false}  }\n");
}

TEST(PlanChatRequestTest, NonStreamWithoutStreamMemberAddsNoStreamOptions) {
  EXPECT_EQ(plan(R"({"model":"m","messages":[]})").body,
            R"({"model":"gpt-4o-2024-08-06","messages":[]})");
}

TEST(PlanChatRequestTest, StreamWithoutStreamOptionsAddsIncludeUsage) {
  const auto p = plan("{\"model\":\"m\",\"stream\":true,\"messages\":[] \n}");
  EXPECT_TRUE(p.stream);
  EXPECT_FALSE(p.client_wants_usage);
  EXPECT_EQ(p.body,
            "{\"model\":\"gpt-4o-2024-08-06\",\"stream\":true,\"messages\":[],"
            "\"stream_options\":{\"include_usage\":true} \n}");
}

TEST(PlanChatRequestTest, StreamKeepsOtherStreamOptionsAndForcesIncludeUsage) {
  const auto p =
      plan(R"({"stream_options": { "include_usage" : false, "continuous_usage_stats":true },)"
           R"( "model":"m", "stream" : true})");
  EXPECT_TRUE(p.stream);
  EXPECT_FALSE(p.client_wants_usage);
  EXPECT_EQ(p.body,
            R"({"stream_options": { "include_usage" : true, "continuous_usage_stats":true },)"
            R"( "model":"gpt-4o-2024-08-06", "stream" : true})");
}

TEST(PlanChatRequestTest, StreamAddsIncludeUsageInsideExistingStreamOptions) {
  const auto p =
      plan(R"({"model":"m","stream":true,"stream_options":{"continuous_usage_stats":true}})");
  EXPECT_FALSE(p.client_wants_usage);
  EXPECT_EQ(p.body, R"({"model":"gpt-4o-2024-08-06","stream":true,)"
                    R"("stream_options":{"continuous_usage_stats":true,"include_usage":true}})");
  EXPECT_EQ(
      plan(R"({"model":"m","stream":true,"stream_options":{ }})").body,
      R"({"model":"gpt-4o-2024-08-06","stream":true,"stream_options":{ "include_usage":true}})");
}

TEST(PlanChatRequestTest, StreamReplacesNullStreamOptions) {
  const auto p = plan(R"({"model":"m","stream":true,"stream_options":null,"n":1})");
  EXPECT_FALSE(p.client_wants_usage);
  EXPECT_EQ(p.body, R"({"model":"gpt-4o-2024-08-06","stream":true,)"
                    R"("stream_options":{"include_usage":true},"n":1})");
}

TEST(PlanChatRequestTest, ClientThatAskedForUsageGetsItsBodyUnchangedButTheModel) {
  const std::string body = R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})";
  const auto p = plan(body);
  EXPECT_TRUE(p.stream);
  EXPECT_TRUE(p.client_wants_usage);
  EXPECT_EQ(
      p.body,
      R"({"model":"gpt-4o-2024-08-06","stream":true,"stream_options":{"include_usage":true}})");
}

// The engine's quirks applied inside plan_chat_request's one pass give what planning and then
// adapting the body (two passes, as before) gives: the same bytes for compact bodies, the same
// JSON for any.
TEST(PlanChatRequestTest, EngineQuirksInTheSamePassAgreeWithAdaptingAfterwards) {
  const std::string_view bodies[] = {
      R"({"model":"m","messages":[],"max_tokens":10,"max_completion_tokens":20})",
      R"({"max_completion_tokens":1,"model":"a","max_completion_tokens":3,"model":"b"})",
      R"({"model":"m","stream_options":{"include_usage":true},"n":1})",
      R"({"model":"m","stream":false,"stream_options":{"include_usage":false,"x":1}})",
      R"({"model":"m","stream":true,"stream_options":{"x":1},"max_completion_tokens":5})",
      R"({"stream":true,"max_tokens":7,"messages":[{"role":"user","content":"max_completion_tokens"}]})",
      R"({"messages":[{"role":"user","content":"hi"}]})",
      R"( { "model" : "m" , "max_tokens" : 1 ,  "max_completion_tokens" : 2 , "stream_options" : {} } )",
  };
  const Engine engines[] = {Engine::openai, Engine::vllm,   Engine::llamacpp, Engine::ollama,
                            Engine::tgi,    Engine::sglang, Engine::generic};
  for (const std::string_view body : bodies) {
    const json::value parsed = json::parse(body);
    for (const Engine e : engines) {
      const EngineProfile& profile = engine_profile(e);
      const ChatRequestPlan one = plan_chat_request(body, parsed.as_object(), "up", &profile);
      const ChatRequestPlan two = plan_chat_request(body, parsed.as_object(), "up");
      const std::string one_body = one.body.text(body);
      const std::string two_body = adapt_chat_body(profile, two.body.text(body), two.stream);
      EXPECT_EQ(json::parse(one_body), json::parse(two_body)) << profile.name << ": " << body;
      if (body.find(' ') == std::string_view::npos) {
        EXPECT_EQ(one_body, two_body) << profile.name << ": " << body;
      }
      EXPECT_EQ(one.stream, two.stream);
      EXPECT_EQ(one.client_wants_usage, two.client_wants_usage);
    }
  }
}

// The plan from the typed reading (no DOM, no second scan) is the DOM plan, byte for byte, on
// every engine; a duplicated top-level key leaves the decision to the DOM.
TEST(PlanChatRequestTest, TheTypedReadingPlansAsTheDomDoes) {
  const std::string_view bodies[] = {
      R"({"model":"m","messages":[],"max_tokens":10,"max_completion_tokens":20})",
      R"({"model":"m","messages":[],"stream_options":{"include_usage":true},"n":1})",
      R"({"model":"m","messages":[],"stream":false,"stream_options":{"include_usage":false}})",
      R"({"model":"m","messages":[],"stream":true,"stream_options":{"x":1},"max_tokens":5})",
      R"({"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}})",
      R"({"model":"m","messages":[],"stream":true,"stream_options":null})",
      R"({"model":"m","stream":null,"messages":[{"role":"user","content":"max_tokens"}]})",
      R"({"messages":[{"role":"user","content":"h\u00e9"}],"model":"m\u00e9","seed":1})",
      R"( { "model" : "m" , "messages" : [ ] , "max_tokens" : 1 , "stream" : true ,
            "stream_options" : { "include_usage" : false , "y" : [ 1 ] } } )",
  };
  const Engine engines[] = {Engine::openai, Engine::vllm,   Engine::llamacpp, Engine::ollama,
                            Engine::tgi,    Engine::sglang, Engine::generic};
  for (const std::string_view body : bodies) {
    const json::value parsed = json::parse(body);
    const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
    ASSERT_TRUE(typed) << typed.error().message << ": " << body;
    for (const EngineProfile* profile :
         {static_cast<const EngineProfile*>(nullptr), &engine_profile(engines[0]),
          &engine_profile(engines[1]), &engine_profile(engines[2]), &engine_profile(engines[3]),
          &engine_profile(engines[4]), &engine_profile(engines[5]), &engine_profile(engines[6])}) {
      const ChatRequestPlan dom = plan_chat_request(body, parsed.as_object(), "up", profile);
      const std::optional<ChatRequestPlan> t =
          plan_chat_request(body, typed.value(), "up", profile);
      ASSERT_TRUE(t) << body;
      EXPECT_EQ(t->body.text(body), dom.body.text(body)) << body;
      EXPECT_EQ(t->stream, dom.stream) << body;
      EXPECT_EQ(t->client_wants_usage, dom.client_wants_usage) << body;
    }
  }
  const std::string_view dup = R"({"model":"a","messages":[],"stream":true,"stream":null})";
  const Result<ChatRequest, ParseError> typed = parse_chat_request(dup);
  ASSERT_TRUE(typed);
  EXPECT_FALSE(plan_chat_request(dup, typed.value(), "up").has_value());
  // Past the pairwise check (many top-level members): a repeat at the far end, and none.
  std::string wide = R"({"model":"a","messages":[])";
  for (int i = 0; i < 300; ++i) {
    wide +=
        ",\"k" + std::to_string(i) + "\":\"" + std::string(40, 'v') + "\"";  // within the budget
  }
  for (const std::string& body : {wide + R"(,"model":"b"})", wide + "}"}) {
    const Result<ChatRequest, ParseError> w = parse_chat_request(body);
    ASSERT_TRUE(w) << w.error().message << ": " << body.substr(0, 80);
    EXPECT_EQ(plan_chat_request(body, w.value(), "up").has_value(), body == wide + "}");
  }
}

// The plan lends the client's bytes instead of copying them: only its edits are new bytes.
TEST(PlanChatRequestTest, ThePlanLendsTheClientsBytes) {
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":")" +
                           std::string(20000, 'x') + R"("}],"stream":true})";
  const json::value parsed = json::parse(body);
  const ChatRequestPlan p = plan_chat_request(body, parsed.as_object(), "up");
  ASSERT_EQ(p.body.pieces.size(), 5u);
  std::size_t lent = 0;
  for (const upstream::Splice::Piece& piece : p.body.pieces) {
    lent += piece.added ? 0 : piece.size;
  }
  EXPECT_EQ(lent, body.size() - 3);  // all but the model's value, "m"
  EXPECT_EQ(p.body.added, R"("up","stream_options":{"include_usage":true})");
  EXPECT_EQ(p.body.piece(body, p.body.pieces[1]), R"("up")");
  EXPECT_EQ(p.body.size(), body.size() - 3 + p.body.added.size());
  std::string expected = body;
  expected.replace(9, 3, R"("up")");
  expected.insert(expected.size() - 1, R"(,"stream_options":{"include_usage":true})");
  EXPECT_EQ(p.body.text(body), expected);
}

TEST(PlanChatRequestTest, AddsModelWhenAbsent) {
  EXPECT_EQ(plan(R"({"messages":[]})").body, R"({"messages":[],"model":"gpt-4o-2024-08-06"})");
  EXPECT_EQ(
      plan(R"({"stream":true})").body,
      R"({"stream":true,"model":"gpt-4o-2024-08-06","stream_options":{"include_usage":true}})");
  EXPECT_EQ(plan("{ }").body, R"({ "model":"gpt-4o-2024-08-06"})");
}

TEST(PlanChatRequestTest, QuotesUpstreamModel) {
  EXPECT_EQ(plan(R"({"model":"m"})", "we\"ird\\name").body, R"({"model":"we\"ird\\name"})");
  EXPECT_EQ(plan(R"({"model":"m"})", "meta-llama/Llama-3.1-8B-Instruct").body,
            R"({"model":"meta-llama/Llama-3.1-8B-Instruct"})");
}

TEST(PlanChatRequestTest, ReplacesEscapedModelKey) {
  EXPECT_EQ(plan(R"({"mo\u0064el":"m","x":1})").body,
            R"({"mo\u0064el":"gpt-4o-2024-08-06","x":1})");
}

TEST(PlanChatRequestTest, DropsEarlierDuplicatesOfOwnedMembers) {
  // Boost.JSON keeps the last duplicate; an upstream that kept the first must not see "mine".
  const auto p = plan(R"({"model":"mine","stream":true,"stream_options":{"a":1},"model":"m",)"
                      R"("stream_options":{"include_usage":true},"x":2})");
  EXPECT_TRUE(p.client_wants_usage);
  EXPECT_EQ(p.body, R"({"stream":true,"model":"gpt-4o-2024-08-06",)"
                    R"("stream_options":{"include_usage":true},"x":2})");
}

TEST(PlanChatRequestTest, DropsEarlierDuplicatesOfEveryMember) {
  // What the gateway read is what goes out: a max_tokens under a cap or budget is the only one.
  EXPECT_EQ(plan(R"({"max_tokens":90000,"messages":[],"max_tokens":9,"n":1,"n":2})").body,
            R"({"messages":[],"max_tokens":9,"n":2,"model":"gpt-4o-2024-08-06"})");
  // Past the pairwise check: many members, each key's last occurrence kept in its place.
  std::string body = "{";
  std::string expected = "{";
  for (int i = 0; i < 40; ++i) {
    body += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  for (int i = 0; i < 40; ++i) {
    const std::string member = "\"k" + std::to_string(i) + "\":" + std::to_string(100 + i);
    body += member + ",";
    expected += member + ",";
  }
  body += R"("model":"m"})";
  expected += R"("model":"gpt-4o-2024-08-06"})";
  EXPECT_EQ(plan(body).body, expected);
}

TEST(PlanChatRequestTest, PlannedBodyParsesToTheExpectedDocument) {
  const std::string_view body =
      R"({"model":"default","messages":[{"role":"user","content":"\ud83d\ude00"}],)"
      R"("stream":true,"stream_options":{"include_usage":false,"x":[1,{"y":null}]},"top_p":1.0})";
  const auto p = plan(body, "llama");
  json::object expected = json::parse(body).as_object();
  expected["model"] = "llama";
  expected["stream_options"].as_object()["include_usage"] = true;
  EXPECT_EQ(json::parse(p.body), json::value(expected));
}

// ---- ChatStreamRelay -----------------------------------------------------------------------

std::string relay_all(std::string_view upstream, bool wants_usage,
                      ChatStreamRelay* keep = nullptr) {
  ChatStreamRelay local(wants_usage);
  ChatStreamRelay& r = keep != nullptr ? *keep : local;
  std::string out;
  r.feed(upstream, out);
  return out;
}

std::string crlf_to_lf(std::string s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

void expect_fixture_usage(const ChatStreamRelay& r, std::int64_t in, std::int64_t out,
                          std::int64_t cached) {
  ASSERT_TRUE(r.usage().has_value());
  EXPECT_EQ(r.usage()->input, in);
  EXPECT_EQ(r.usage()->output, out);
  EXPECT_EQ(r.usage()->cached_input, cached);
  EXPECT_EQ(r.usage()->reasoning, 0);
}

TEST(ChatStreamRelayTest, HidesUsageFromClientThatDidNotAskAndRecordsIt) {
  const std::string upstream = read_fixture("openai/chat_stream_include_usage.sse");
  ChatStreamRelay r(false);
  const std::string out = relay_all(upstream, false, &r);
  EXPECT_EQ(out, read_fixture("openai/chat_stream_include_usage.without_usage.sse"));
  EXPECT_EQ(out.find("usage"), std::string::npos);
  EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));
  EXPECT_TRUE(r.saw_done());
  EXPECT_FALSE(r.saw_error());
  EXPECT_EQ(r.events(), 14u);  // 13 content chunks and [DONE]; the usage chunk is dropped
  expect_fixture_usage(r, 1283, 14, 1024);
  EXPECT_TRUE(r.at_boundary());
  EXPECT_EQ(r.pending_bytes(), 0u);
}

TEST(ChatStreamRelayTest, PassesStreamUnchangedToClientThatAskedForUsage) {
  const std::string upstream = read_fixture("openai/chat_stream_include_usage.sse");
  ChatStreamRelay r(true);
  EXPECT_EQ(relay_all(upstream, true, &r), upstream);
  EXPECT_TRUE(r.saw_done());
  EXPECT_EQ(r.events(), 15u);
  expect_fixture_usage(r, 1283, 14, 1024);
}

TEST(ChatStreamRelayTest, ReframesCrLfStreamCanonically) {
  const std::string upstream = read_fixture("openai/chat_stream_crlf.sse");
  ChatStreamRelay hidden(false);
  EXPECT_EQ(relay_all(upstream, false, &hidden),
            read_fixture("openai/chat_stream_include_usage.without_usage.sse"));
  expect_fixture_usage(hidden, 1283, 14, 1024);
  ChatStreamRelay shown(true);
  EXPECT_EQ(relay_all(upstream, true, &shown), crlf_to_lf(upstream));
  expect_fixture_usage(shown, 1283, 14, 1024);
  EXPECT_TRUE(shown.saw_done());
}

TEST(ChatStreamRelayTest, RelaysToolCallDeltas) {
  const std::string upstream = read_fixture("openai/chat_stream_tool_calls.sse");
  ChatStreamRelay hidden(false);
  EXPECT_EQ(relay_all(upstream, false, &hidden),
            read_fixture("openai/chat_stream_tool_calls.without_usage.sse"));
  ASSERT_TRUE(hidden.usage());
  EXPECT_EQ(hidden.usage()->input, 82);
  EXPECT_EQ(hidden.usage()->output, 18);
  EXPECT_EQ(relay_all(upstream, true), upstream);
}

TEST(ChatStreamRelayTest, PassesStreamWithoutUsageThrough) {
  const std::string upstream = read_fixture("openai/chat_stream_no_usage.sse");
  for (bool wants : {false, true}) {
    ChatStreamRelay r(wants);
    EXPECT_EQ(relay_all(upstream, wants, &r), upstream);
    EXPECT_FALSE(r.usage().has_value());
    EXPECT_TRUE(r.saw_done());
  }
}

TEST(ChatStreamRelayTest, DetectsInStreamError) {
  const std::string upstream = read_fixture("openai/chat_stream_error.sse");
  ChatStreamRelay r(false);
  const std::string out = relay_all(upstream, false, &r);
  EXPECT_TRUE(r.saw_error());
  EXPECT_FALSE(r.saw_done());
  EXPECT_EQ(r.events(), 5u);
  EXPECT_NE(out.find("data: {\"error\":{\"message\":\"The server had an error"), std::string::npos);
  EXPECT_EQ(out.find("usage"), std::string::npos);
}

TEST(ChatStreamRelayTest, DetectsNamedErrorEventAndIgnoresNullError) {
  ChatStreamRelay named(true);
  std::string out;
  named.feed("event: error\ndata: {\"message\":\"overloaded\"}\n\n", out);
  EXPECT_TRUE(named.saw_error());
  EXPECT_EQ(out, "event: error\ndata: {\"message\":\"overloaded\"}\n\n");

  ChatStreamRelay null_error(true);
  null_error.feed("data: {\"error\":null,\"choices\":[]}\n\n", out);
  EXPECT_FALSE(null_error.saw_error());
}

TEST(ChatStreamRelayTest, OutputIsIdenticalAtEverySplitPoint) {
  for (const char* name : {"openai/chat_stream_include_usage.sse", "openai/chat_stream_crlf.sse",
                           "openai/chat_stream_tool_calls.sse", "openai/chat_stream_error.sse"}) {
    const std::string upstream = read_fixture(name);
    for (bool wants : {false, true}) {
      const std::string whole = relay_all(upstream, wants);
      for (std::size_t i = 0; i <= upstream.size(); ++i) {
        ChatStreamRelay r(wants);
        std::string out;
        r.feed(std::string_view(upstream).substr(0, i), out);
        r.feed(std::string_view(upstream).substr(i), out);
        ASSERT_EQ(out, whole) << name << " split at " << i << " wants_usage=" << wants;
        ASSERT_EQ(r.usage().has_value(), upstream.find("\"usage\":{") != std::string::npos);
      }
    }
  }
}

TEST(ChatStreamRelayTest, OutputIsIdenticalWhenFedByteAtATime) {
  const std::string upstream = read_fixture("openai/chat_stream_crlf.sse");
  ChatStreamRelay r(false);
  std::string out;
  for (char c : upstream) {
    r.feed(std::string_view(&c, 1), out);
  }
  EXPECT_EQ(out, relay_all(upstream, false));
  expect_fixture_usage(r, 1283, 14, 1024);
}

// Whole canonical events are relayed from the upstream's bytes; fed a byte at a time, no event is
// ever whole in one feed, so every event is parsed and framed again. On random streams of both
// kinds of events (and comments, names, ids, CRLF, multi-line data, usage, errors, [DONE]) the
// two give the same bytes, usage, counts and state, whole, byte by byte and split at random.
TEST(ChatStreamRelayTest, EventsRelayedFromTheirBytesAreTheEventsParsedAndFramedAgain) {
  const std::vector<std::string> events = {
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
      "data: {\"choices\":[{\"delta\":{\"content\":\"a \\\"q\\\"\"}}],\"usage\":null}\n\n",
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n",
      "data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}"
      "\n\n",
      "data: {\"usage\":null,\"choices\":[]}\n\n",
      "data: {\"error\":{\"message\":\"boom\"}}\n\n",
      "data: {\"x\":\"\\u0075sage\"}\n\n",
      "data: [DONE]\n\n",
      "data: not json\n\n",
      "data: {\"a\":1}\r\n\r\n",
      "data: {\"a\":\n\ndata: 2}\n\n",
      "data: {\"a\":1}\ndata: {\"b\":2}\n\n",
      "event: error\ndata: {\"a\":1}\n\n",
      "id: 7\ndata: {\"a\":1}\n\n",
      ": keep-alive\n\n",
      "data:{\"a\":1}\n\n",
      "data: {\"a\":1}\r\r",
      "\n"};
  std::mt19937 rng(20261204);
  for (int i = 0; i < 3000; ++i) {
    std::string upstream = rng() % 8 == 0 ? "\xEF\xBB\xBF" : "";
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      // Mostly the canonical content chunk, as upstreams send them.
      upstream += rng() % 2 == 0 ? events[0] : events[rng() % events.size()];
    }
    const bool wants = rng() % 2 == 0;
    ChatStreamRelay bytewise(wants);
    std::string expected;
    for (const char c : upstream) {
      bytewise.feed(std::string_view(&c, 1), expected);
    }
    ChatStreamRelay whole(wants);
    std::string got;
    whole.feed(upstream, got);
    ChatStreamRelay split(wants);
    std::string got_split;
    for (std::string_view rest = upstream; !rest.empty();) {
      const std::size_t take = std::min<std::size_t>(rest.size(), 1 + rng() % 40);
      split.feed(rest.substr(0, take), got_split);
      rest.remove_prefix(take);
    }
    for (const auto* r : {&whole, &split}) {
      const std::string& out = r == &whole ? got : got_split;
      ASSERT_EQ(out, expected) << upstream;
      ASSERT_EQ(r->events(), bytewise.events()) << upstream;
      ASSERT_EQ(r->saw_done(), bytewise.saw_done()) << upstream;
      ASSERT_EQ(r->saw_error(), bytewise.saw_error()) << upstream;
      ASSERT_EQ(r->at_boundary(), bytewise.at_boundary()) << upstream;
      ASSERT_EQ(r->pending_bytes(), bytewise.pending_bytes()) << upstream;
      ASSERT_EQ(r->usage().has_value(), bytewise.usage().has_value()) << upstream;
      if (r->usage()) {
        ASSERT_EQ(r->usage()->input, bytewise.usage()->input) << upstream;
        ASSERT_EQ(r->usage()->output, bytewise.usage()->output) << upstream;
      }
    }
  }
}

TEST(ChatStreamRelayTest, PassesNonJsonDataThrough) {
  std::string out;
  ChatStreamRelay r(false);
  r.feed("data: hello world\n\n: comment\ndata: [1,2]\n\ndata: {broken\n\n", out);
  EXPECT_EQ(out, "data: hello world\n\ndata: [1,2]\n\ndata: {broken\n\n");
  EXPECT_EQ(r.events(), 3u);
  EXPECT_FALSE(r.saw_done());
}

TEST(ChatStreamRelayTest, KeepsEventNames) {
  std::string out;
  ChatStreamRelay r(false);
  r.feed("event: message\r\nid: 3\r\ndata: {\"choices\":[],\"usage\":null}\r\n\r\n", out);
  EXPECT_EQ(out, "event: message\ndata: {\"choices\":[]}\n\n");
}

TEST(ChatStreamRelayTest, KeepsEmptyChoicesChunkWithoutUsage) {
  // Azure OpenAI opens streams with a prompt_filter_results chunk whose choices are empty.
  const std::string chunk =
      "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
      "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n";
  EXPECT_EQ(relay_all(chunk, false), chunk);
}

TEST(ChatStreamRelayTest, StripsUsageThatEnginesAddToContentChunks) {
  // vLLM with continuous_usage_stats reports running usage on every chunk; the last one wins.
  const std::string upstream =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],"
      "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}],"
      "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  ChatStreamRelay hidden(false);
  EXPECT_EQ(relay_all(upstream, false, &hidden),
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n"
            "data: [DONE]\n\n");
  ASSERT_TRUE(hidden.usage());
  EXPECT_EQ(hidden.usage()->output, 2);
  ChatStreamRelay shown(true);
  EXPECT_EQ(relay_all(upstream, true, &shown), upstream);
  EXPECT_EQ(shown.events(), 4u);
}

TEST(ChatStreamRelayTest, NullUsageIsTakenOffOnlyWhereItIsTheTopLevelsLastMember) {
  // Each chunk, the client's view without usage, and with it.
  const struct {
    std::string data;
    std::string hidden;
  } cases[] = {
      // The chunk engines send while include_usage is on: usage last, null.
      {R"({"choices":[{"delta":{"content":"a"}}],"usage":null})",
       R"({"choices":[{"delta":{"content":"a"}}]})"},
      // A nested "usage" ends the text too, but inside an object: not the top level's.
      {R"({"choices":[{"delta":{"x":1,"usage":null}}]})",
       R"({"choices":[{"delta":{"x":1,"usage":null}}]})"},
      // "usage" as a string value before the top-level member.
      {R"({"choices":[{"delta":{"content":"usage"}}],"usage":null})",
       R"({"choices":[{"delta":{"content":"usage"}}]})"},
      // A quote inside a string is escaped: no needle can match there.
      {R"({"choices":[{"delta":{"content":"say \"usage\":null}"}}]})",
       R"({"choices":[{"delta":{"content":"say \"usage\":null}"}}]})"},
      // The key spelled with an escape is still the key.
      {R"({"choices":[],"\u0075sage":null,"id":"x"})", R"({"choices":[],"id":"x"})"},
      // Usage not last, or with spaces: read as a document.
      {R"({"usage":null,"choices":[]})", R"({"choices":[]})"},
      {R"({"choices":[], "usage": null})", R"({"choices":[]})"},
  };
  for (const auto& c : cases) {
    const std::string upstream = "data: " + c.data + "\n\n";
    ChatStreamRelay hidden(false);
    EXPECT_EQ(relay_all(upstream, false, &hidden), "data: " + c.hidden + "\n\n") << c.data;
    EXPECT_FALSE(hidden.usage()) << c.data;
    EXPECT_EQ(hidden.events(), 1u);
    ChatStreamRelay shown(true);
    EXPECT_EQ(relay_all(upstream, true, &shown), upstream) << c.data;
  }
}

TEST(ChatStreamRelayTest, ErrorSpelledWithAnEscapeIsStillAnError) {
  ChatStreamRelay r(false);
  relay_all("data: {\"\\u0065rror\":{\"message\":\"overloaded\"}}\n\n", false, &r);
  EXPECT_TRUE(r.saw_error());
}

TEST(ChatStreamRelayTest, DropsUsageOnlyChunkWithoutChoices) {
  // The key as sent, and spelled with an escape (still the key: the chunk is read then).
  for (const std::string_view key : {"usage", "\\u0075sage"}) {
    ChatStreamRelay r(false);
    EXPECT_EQ(relay_all("data: {\"id\":\"x\",\"" + std::string(key) +
                            "\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n",
                        false, &r),
              "data: [DONE]\n\n")
        << key;
    ASSERT_TRUE(r.usage()) << key;
    EXPECT_EQ(r.usage()->input, 1);
    EXPECT_EQ(r.usage()->output, 2);
  }
}

TEST(ChatStreamRelayTest, IgnoresMalformedUsage) {
  ChatStreamRelay r(true);
  relay_all("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":2}}\n\n",
            true, &r);
  EXPECT_FALSE(r.usage());
  EXPECT_EQ(r.events(), 1u);
}

TEST(ChatStreamRelayTest, ReportsPendingBytesOfIncompleteEvent) {
  ChatStreamRelay r(false);
  std::string out;
  r.feed("data: {\"choices\":", out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r.pending_bytes(), 17u);
  EXPECT_FALSE(r.at_boundary());
}

TEST(OpenAIStreamTranslatorTest, EndlessLineFailsAtOneMiBWithAnErrorEvent) {
  OpenAIStreamTranslator t(false);
  std::string out;
  EXPECT_TRUE(t.feed("data: {\"choices\":[]}\n\ndata: {\"x\":\"", out));
  bool ok = true;
  for (int i = 0; i < 200 && ok; ++i) {
    ok = t.feed(std::string(16 * 1024, 'x'), out);
  }
  EXPECT_FALSE(ok);
  ASSERT_TRUE(t.error().has_value());
  EXPECT_NE(out.find("upstream_stream_interrupted"), std::string::npos) << out;
  EXPECT_EQ(out.find("[DONE]"), std::string::npos);
}

}  // namespace
}  // namespace sb::adapters
