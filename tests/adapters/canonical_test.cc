#include "adapters/canonical.h"

#include <cstdint>
#include <memory>
#include <memory_resource>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "tests/adapters/request_bodies.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using Kind = ChatContentPart::Kind;
using Role = ChatMessage::Role;

constexpr std::string_view kUnparsable =
    "We could not parse the JSON body of your request. The body must be a JSON object (see "
    "https://platform.openai.com/docs/api-reference/chat/create).";

class ChatRequestTest : public ::testing::Test {
 protected:
  // Parses `body` (kept alive by the fixture) and fails the test on an error.
  const ChatRequest& parse(std::string body) {
    body_ = std::move(body);
    result_.emplace(parse_chat_request(body_));
    EXPECT_TRUE(result_->ok()) << (result_->ok() ? "" : result_->error().message);
    return result_->value();
  }
  // The error message for `body`; empty when it parses.
  std::string error_of(std::string body) {
    body_ = std::move(body);
    result_.emplace(parse_chat_request(body_));
    return result_->ok() ? std::string() : result_->error().message;
  }
  bool in_body(std::string_view s) const {
    return s.data() >= body_.data() && s.data() + s.size() <= body_.data() + body_.size();
  }
  std::string_view range(std::size_t b, std::size_t e) const { return {body_.data() + b, e - b}; }

  std::string body_;
  std::optional<Result<ChatRequest, ParseError>> result_;
};

constexpr std::string_view kMessages = R"("messages":[{"role":"user","content":"hi"}])";

std::string with(std::string_view members) {
  return R"({"model":"m",)" + std::string(kMessages) + (members.empty() ? "" : ",") +
         std::string(members) + "}";
}

TEST_F(ChatRequestTest, ReadsEveryScalarMember) {
  const ChatRequest& r = parse(with(
      R"("stream":true,"stream_options":{"include_usage":true,"x":1},"max_completion_tokens":300,)"
      R"("max_tokens":100,"temperature":0.7,"top_p":1,"n":2,"seed":-5,"presence_penalty":-0.5,)"
      R"("frequency_penalty":0.25,"reasoning_effort":"low","user":"u-1","parallel_tool_calls":false)"));
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.stream, true);
  EXPECT_EQ(r.include_usage, true);
  EXPECT_EQ(r.max_completion_tokens, 300);
  EXPECT_EQ(r.max_tokens, 100);
  EXPECT_EQ(r.output_cap(), 300);
  EXPECT_EQ(r.temperature, 0.7);
  EXPECT_EQ(r.top_p, 1.0);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.seed, -5);
  EXPECT_EQ(r.presence_penalty, -0.5);
  EXPECT_EQ(r.frequency_penalty, 0.25);
  EXPECT_EQ(r.reasoning_effort, "low");
  EXPECT_EQ(r.user, "u-1");
  EXPECT_EQ(r.parallel_tool_calls, false);
  EXPECT_TRUE(r.unknown.empty());
}

TEST(ChatRequestRawTest, RawIsTheLastOccurrencesBytes) {
  const std::string body =
      R"({"model":"m","temperature":1,"messages":[],"temperature": 2.50 ,"tools":[ ]})";
  const Result<ChatRequest, ParseError> r = parse_chat_request(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->raw("temperature"), "2.50");
  EXPECT_EQ(r->raw("tools"), "[ ]");
  EXPECT_EQ(r->raw("model"), "\"m\"");
  EXPECT_EQ(r->raw("top_p"), "");
}

TEST(ChatRequestRawTest, AModelIsRequiredUnlessTheCallerSaysOtherwise) {
  const std::string body = R"({"messages":[{"role":"user","content":"a"}]})";
  const Result<ChatRequest, ParseError> strict = parse_chat_request(body);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().message, "you must provide a model parameter");
  const Result<ChatRequest, ParseError> lenient = parse_chat_request(body, SIZE_MAX, false);
  ASSERT_TRUE(lenient);
  EXPECT_TRUE(lenient->model.empty());
  ASSERT_EQ(lenient->messages.size(), 1u);
  // Everything else is as strict as before.
  EXPECT_FALSE(parse_chat_request(R"({"messages":"a"})", SIZE_MAX, false));
}

TEST_F(ChatRequestTest, AbsentAndNullMembersStayUnset) {
  const ChatRequest& r = parse(with(R"("stream":null,"temperature":null,"max_tokens":7)"));
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.temperature);
  EXPECT_FALSE(r.include_usage);
  EXPECT_FALSE(r.max_completion_tokens);
  EXPECT_EQ(r.output_cap(), 7);  // the deprecated member when the new one is absent
  EXPECT_FALSE(r.tool_choice);
  EXPECT_FALSE(r.response_format);
}

TEST_F(ChatRequestTest, StopIsAListOfStrings) {
  EXPECT_EQ(parse(with(R"("stop":"END")")).stop.size(), 1u);
  const ChatRequest& r = parse(with(R"("stop":["a","b\n"])"));
  ASSERT_EQ(r.stop.size(), 2u);
  EXPECT_EQ(r.stop[0], "a");
  EXPECT_EQ(r.stop[1], "b\n");
}

TEST_F(ChatRequestTest, ResponseFormatKeepsTheSchemaBytes) {
  const std::string schema = R"({"name":"x","schema":{"type":"object","properties":{}}})";
  const ChatRequest& r =
      parse(with(R"("response_format":{"type":"json_schema","json_schema":)" + schema + "}"));
  ASSERT_TRUE(r.response_format);
  EXPECT_EQ(r.response_format->type, "json_schema");
  EXPECT_EQ(r.response_format->json_schema, schema);
  EXPECT_TRUE(in_body(r.response_format->json_schema));
}

TEST_F(ChatRequestTest, ToolsKeepTheirParameterBytes) {
  const std::string params = R"({"type":"object","properties":{"city":{"type":"string"}}})";
  const ChatRequest& r =
      parse(with(R"("tools":[{"type":"function","function":{"name":"weather","description":)"
                 R"("Gets it","parameters":)" +
                 params + R"(,"strict":true}}])"));
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].type, "function");
  EXPECT_EQ(r.tools[0].name, "weather");
  EXPECT_EQ(r.tools[0].description, "Gets it");
  EXPECT_EQ(r.tools[0].parameters, params);
  EXPECT_EQ(r.tools[0].strict, true);
  EXPECT_EQ(range(r.tools[0].begin, r.tools[0].end).front(), '{');
  EXPECT_TRUE(json::parse(range(r.tools[0].begin, r.tools[0].end)).is_object());
}

TEST_F(ChatRequestTest, ToolChoiceInEveryForm) {
  using K = ChatToolChoice::Kind;
  EXPECT_EQ(parse(with(R"("tool_choice":"none")")).tool_choice->kind, K::none);
  EXPECT_EQ(parse(with(R"("tool_choice":"auto")")).tool_choice->kind, K::automatic);
  EXPECT_EQ(parse(with(R"("tool_choice":"required")")).tool_choice->kind, K::required);
  EXPECT_EQ(parse(with(R"("tool_choice":"sometimes")")).tool_choice->kind, K::other);
  const std::string named = R"({"type":"function","function":{"name":"f"}})";
  const ChatRequest& r = parse(with(R"("tool_choice":)" + named));
  EXPECT_EQ(r.tool_choice->kind, K::function);
  EXPECT_EQ(r.tool_choice->name, "f");
  EXPECT_EQ(r.tool_choice->raw, named);
  EXPECT_EQ(parse(with(R"("tool_choice":{"type":"allowed_tools"})")).tool_choice->kind, K::other);
}

TEST_F(ChatRequestTest, RolesAreMappedAndOthersKeptAsSent) {
  const ChatRequest& r =
      parse(R"({"model":"m","messages":[{"role":"system"},{"role":"developer"},{"role":"user"},)"
            R"({"role":"assistant"},{"role":"tool"},{"role":"function"},{"role":"critic"}]})");
  ASSERT_EQ(r.messages.size(), 7u);
  const Role want[] = {Role::system, Role::developer, Role::user, Role::assistant,
                       Role::tool,   Role::function,  Role::other};
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(r.messages[i].role, want[i]) << i;
  }
  EXPECT_EQ(r.messages[6].role_text, "critic");
  EXPECT_EQ(r.messages[0].content_kind, ChatMessage::Content::absent);
}

TEST_F(ChatRequestTest, ContentAsTextOrParts) {
  const ChatRequest& r =
      parse(R"({"model":"m","messages":[{"role":"user","name":"ann","content":"plain"},)"
            R"({"role":"user","content":[{"type":"text","text":"a"},{"text":"b","type":"text"}]},)"
            R"({"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]})");
  EXPECT_EQ(r.messages[0].content_kind, ChatMessage::Content::text);
  EXPECT_EQ(r.messages[0].text, "plain");
  EXPECT_EQ(r.messages[0].name, "ann");
  ASSERT_EQ(r.messages[1].parts.size(), 2u);
  EXPECT_EQ(r.messages[1].content_kind, ChatMessage::Content::parts);
  EXPECT_EQ(r.messages[1].parts[1].kind, Kind::text);  // type after text
  EXPECT_EQ(r.messages[1].parts[1].text, "b");
  EXPECT_EQ(r.messages[2].parts[0].kind, Kind::refusal);
  EXPECT_EQ(r.messages[2].parts[0].text, "no");
}

TEST_F(ChatRequestTest, ImageByUrlWithDetail) {
  const ChatRequest& r =
      parse(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
            R"({"url":"https://x.test/a.png","detail":"high"}}]}]})");
  const ChatContentPart& p = r.messages[0].parts[0];
  EXPECT_EQ(p.kind, Kind::image_url);
  EXPECT_EQ(p.media().url, "https://x.test/a.png");
  EXPECT_EQ(p.media().detail, "high");
  EXPECT_FALSE(p.media().inline_data);
}

TEST_F(ChatRequestTest, DataUrlIsSplitNotDecoded) {
  const ChatRequest& r =
      parse(R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
            R"({"url":"data:image/png;base64,iVBORw0KGgo="}}]}]})");
  const ChatContentPart& p = r.messages[0].parts[0];
  EXPECT_TRUE(p.media().inline_data);
  EXPECT_TRUE(p.media().base64);
  EXPECT_EQ(p.media().media_type, "image/png");
  EXPECT_EQ(p.media().data, "iVBORw0KGgo=");
  EXPECT_TRUE(in_body(p.media().data));
}

TEST_F(ChatRequestTest, AudioAndFilePartsAreOpaque) {
  const ChatRequest& r = parse(
      R"({"model":"m","messages":[{"role":"user","content":[)"
      R"({"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},)"
      R"({"type":"file","file":{"file_id":"file-1","filename":"a.pdf","file_data":"JVBE"}}]}]})");
  const auto& parts = r.messages[0].parts;
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].kind, Kind::input_audio);
  EXPECT_EQ(parts[0].media().data, "UklGRg==");
  EXPECT_EQ(parts[0].media().format, "wav");
  EXPECT_EQ(parts[1].kind, Kind::file);
  EXPECT_EQ(parts[1].media().file_id, "file-1");
  EXPECT_EQ(parts[1].media().filename, "a.pdf");
  EXPECT_EQ(parts[1].media().file_data, "JVBE");
}

TEST_F(ChatRequestTest, UnknownPartIsKeptWithItsBytes) {
  const std::string part = R"({"type":"video","video":{"frames":[1,2]}})";
  const ChatRequest& r =
      parse(R"({"model":"m","messages":[{"role":"user","content":[)" + part + "]}]}");
  const ChatContentPart& p = r.messages[0].parts[0];
  EXPECT_EQ(p.kind, Kind::unknown);
  EXPECT_EQ(p.type, "video");
  EXPECT_EQ(range(p.begin, p.end), part);
}

TEST_F(ChatRequestTest, AssistantToolCallsWithNullContent) {
  const ChatRequest& r = parse(
      R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"call_1",)"
      R"("type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"sunny"}]})");
  const ChatMessage& a = r.messages[0];
  EXPECT_EQ(a.content_kind, ChatMessage::Content::null);
  ASSERT_EQ(a.tool_calls.size(), 1u);
  EXPECT_EQ(a.tool_calls[0].id, "call_1");
  EXPECT_EQ(a.tool_calls[0].type, "function");
  EXPECT_EQ(a.tool_calls[0].name, "weather");
  EXPECT_EQ(a.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.messages[1].role, Role::tool);
  EXPECT_EQ(r.messages[1].tool_call_id, "call_1");
  EXPECT_EQ(r.messages[1].text, "sunny");
}

TEST_F(ChatRequestTest, EscapedStringsAreUnescapedIntoTheArena) {
  const ChatRequest& r = parse(
      R"({"model":"caf\u00e9","messages":[{"role":"user","content":"say \"\ud83d\ude00\" \\ ok"}]})");
  EXPECT_EQ(r.model, "caf\xc3\xa9");
  EXPECT_EQ(r.messages[0].text, "say \"\xf0\x9f\x98\x80\" \\ ok");
  EXPECT_FALSE(in_body(r.model));
  EXPECT_TRUE(r.arena().contains(r.model.data(), r.model.size()));
  EXPECT_TRUE(r.arena().contains(r.messages[0].text.data(), r.messages[0].text.size()));
  EXPECT_TRUE(r.holds(r.messages[0].text));
}

TEST_F(ChatRequestTest, PlainStringsPointIntoTheBody) {
  const ChatRequest& r = parse(with(R"("user":"u")"));
  for (std::string_view s : {r.model, r.messages[0].role_text, r.messages[0].text, r.user}) {
    EXPECT_TRUE(in_body(s)) << s;
    EXPECT_EQ(body_.substr(static_cast<std::size_t>(s.data() - body_.data()), s.size()), s);
    EXPECT_EQ(s.data()[-1], '"');
    EXPECT_EQ(s.data()[s.size()], '"');
  }
}

TEST_F(ChatRequestTest, UnknownMembersKeepTheirExactBytes) {
  const ChatRequest& r =
      parse(with(R"("metadata" : { "a" : [1, 2] } ,"logit_bias":{"50256":-100},"store":true,)"
                 R"("x\u0041":-1.5e+3)"));
  ASSERT_EQ(r.unknown.size(), 4u);
  EXPECT_EQ(r.unknown[0].key, "metadata");
  EXPECT_EQ(range(r.unknown[0].value_begin, r.unknown[0].value_end), R"({ "a" : [1, 2] })");
  EXPECT_EQ(range(r.unknown[1].value_begin, r.unknown[1].value_end), R"({"50256":-100})");
  EXPECT_EQ(range(r.unknown[2].value_begin, r.unknown[2].value_end), "true");
  EXPECT_EQ(r.unknown[3].key, "xA");
  EXPECT_EQ(range(r.unknown[3].value_begin, r.unknown[3].value_end), "-1.5e+3");
  EXPECT_EQ(body_[r.unknown[3].key_begin], '"');
}

TEST_F(ChatRequestTest, MessageUnknownMembersAreKept) {
  const ChatRequest& r =
      parse(R"({"model":"m","messages":[{"role":"assistant","audio":{"id":"a1"},"content":"x"}]})");
  ASSERT_EQ(r.messages[0].unknown.size(), 1u);
  EXPECT_EQ(r.messages[0].unknown[0].key, "audio");
  const RawMember& m = r.messages[0].unknown[0];
  EXPECT_EQ(range(m.value_begin, m.value_end), R"({"id":"a1"})");
  EXPECT_EQ(range(r.messages[0].begin, r.messages[0].end).back(), '}');
}

TEST_F(ChatRequestTest, RangesMatchTheStructuralScanner) {
  const ChatRequest& r = parse(
      " \n{ \"model\" :\t\"m\" ,\r\n \"messages\" : [ {\"role\":\"user\",\"content\":[]} ] ,"
      " \"n\" : 1 , \"stop\" : null , \"e\\\"k\" : \"v\\\\\" , \"t\": false }\n ");
  const auto scanned = scan_object(body_);
  ASSERT_TRUE(scanned);
  ASSERT_EQ(r.members.size(), scanned->size());
  for (std::size_t i = 0; i < scanned->size(); ++i) {
    EXPECT_EQ(r.members[i].key, (*scanned)[i].key);
    EXPECT_EQ(r.members[i].key_begin, (*scanned)[i].begin);
    EXPECT_EQ(r.members[i].value_begin, (*scanned)[i].value_begin);
    EXPECT_EQ(r.members[i].value_end, (*scanned)[i].value_end);
  }
}

TEST_F(ChatRequestTest, TopLevelRangesSpliceBackToAnEquivalentBody) {
  const ChatRequest& r = parse(with(
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],)"
      R"("temperature":0.5,"stream":false,"metadata":{"k":"v\u00e9"})"));
  std::string spliced = "{";
  for (const RawMember& m : r.members) {
    spliced += spliced.size() > 1 ? "," : "";
    spliced += range(m.key_begin, m.value_begin);  // the key with its colon, as sent
    spliced += range(m.value_begin, m.value_end);
  }
  spliced += "}";
  EXPECT_EQ(json::parse(spliced), json::parse(body_));
}

TEST_F(ChatRequestTest, MalformedBodiesAreRefused) {
  for (std::string body : {"", "{", R"({"model":"m",})", R"({"model":"m"} x)", "[1]", "\"s\"", "42",
                           "null", R"({"model":"m\x01"})", R"({"a":tru})"}) {
    EXPECT_EQ(error_of(body), kUnparsable) << body;
  }
  EXPECT_EQ(error_of(R"({"model":"m"} )"
                     "\n"),
            "Missing required parameter: 'messages'.");
}

TEST_F(ChatRequestTest, ModelMustBeANonEmptyString) {
  for (std::string body : {R"({"messages":[]})", R"({"model":"","messages":[]})",
                           R"({"model":5,"messages":[]})", R"({"model":{"a":1},"messages":[]})"}) {
    EXPECT_EQ(error_of(body), "you must provide a model parameter") << body;
  }
}

TEST_F(ChatRequestTest, MessagesMustBeAnArray) {
  EXPECT_EQ(error_of(R"({"model":"m"})"), "Missing required parameter: 'messages'.");
  EXPECT_EQ(result_->error().code, "missing_required_parameter");
  for (std::string body : {R"({"model":"m","messages":{}})", R"({"model":"m","messages":null})",
                           R"({"model":"m","messages":"hi"})"}) {
    EXPECT_EQ(error_of(body), "Invalid type for 'messages': expected an array.") << body;
    EXPECT_EQ(result_->error().code, "invalid_type");
  }
}

TEST_F(ChatRequestTest, StreamMustBeABoolean) {
  for (std::string_view v : {R"("yes")", "1", "[]", "{}"}) {
    EXPECT_EQ(error_of(with(R"("stream":)" + std::string(v))),
              "Invalid type for 'stream': expected a boolean.")
        << v;
  }
  EXPECT_EQ(error_of(with(R"("stream":null)")), "");
}

TEST_F(ChatRequestTest, ErrorsComeInTheGatewaysOrder) {
  EXPECT_EQ(error_of(R"({"stream":"x","messages":5})"), "you must provide a model parameter");
  EXPECT_EQ(error_of(R"({"model":"m","stream":"x","messages":5})"),
            "Invalid type for 'messages': expected an array.");
  EXPECT_EQ(error_of(with(R"("temperature":"hot","stream":1)")),
            "Invalid type for 'stream': expected a boolean.");
}

TEST_F(ChatRequestTest, WrongTypesNameTheirPath) {
  EXPECT_EQ(error_of(with(R"("temperature":"hot")")),
            "Invalid type for 'temperature': expected a number.");
  EXPECT_EQ(error_of(with(R"("max_tokens":1.5)")),
            "Invalid type for 'max_tokens': expected an integer.");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"user","content":"a"},)"
                     R"({"role":"user","content":{"text":"b"}}]})"),
            "Invalid type for 'messages[1].content': expected a string or an array.");
  EXPECT_EQ(error_of(R"({"model":"m","messages":[{"role":"user","content":[{"type":"text",)"
                     R"("text":7}]}]})"),
            "Invalid type for 'messages[0].content[0].text': expected a string.");
  EXPECT_EQ(error_of(with(R"("tools":[{"type":"function","function":{"name":1}}])")),
            "Invalid type for 'tools[0].function.name': expected a string.");
  EXPECT_EQ(error_of(with(R"("stream_options":{"include_usage":"yes"})")),
            "Invalid type for 'stream_options.include_usage': expected a boolean.");
  EXPECT_EQ(error_of(R"({"model":"m","messages":["hi"]})"),
            "Invalid type for 'messages[0]': expected an object.");
}

// The member a refusal names is OpenAI's `param` too, as OpenAI sets it.
TEST_F(ChatRequestTest, ARefusalNamesItsMemberAsParam) {
  const auto param_of = [this](std::string body) {
    error_of(std::move(body));
    return result_->ok() ? std::string("(accepted)") : result_->error().param;
  };
  EXPECT_EQ(param_of(with(R"("temperature":"hot")")), "temperature");
  EXPECT_EQ(param_of(R"({"model":"m","messages":[{"role":"user","content":[{"type":"text",)"
                     R"("text":7}]}]})"),
            "messages[0].content[0].text");
  EXPECT_EQ(param_of(with(R"("stream_options":{"include_usage":"yes"})")),
            "stream_options.include_usage");
  EXPECT_EQ(param_of(R"({"model":"m","messages":{}})"), "messages");
  EXPECT_EQ(param_of(R"({"model":"m"})"), "messages");
  EXPECT_EQ(param_of(with(R"("stream":1)")), "stream");
  EXPECT_EQ(param_of(R"({"messages":[]})"), "");  // a missing model names none
}

TEST_F(ChatRequestTest, DepthIsLimitedAsTheGatewayLimitsIt) {
  const auto nested = [](int depth) {
    // The top-level object is level 1; each array adds one.
    return with(R"("metadata":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']'));
  };
  json::parse_options opts;
  opts.max_depth = 128;
  json::error_code ec;
  json::parse(nested(128), ec, {}, opts);
  ASSERT_FALSE(ec);
  EXPECT_EQ(error_of(nested(128)), "");
  json::parse(nested(129), ec, {}, opts);
  ASSERT_TRUE(ec);
  EXPECT_EQ(error_of(nested(129)), kUnparsable);
}

TEST_F(ChatRequestTest, ALargeConversationStaysInTheBody) {
  std::string body = R"({"model":"m","messages":[)";
  const std::string prose = "The quarterly report shows revenue grew in every region. ";
  for (int i = 0; i < 30; ++i) {
    body += i > 0 ? "," : "";
    body += R"({"role":")" + std::string(i % 2 == 0 ? "user" : "assistant") + R"(","content":")";
    for (int k = 0; k < 12; ++k) {
      body += prose;
    }
    body += R"("})";
  }
  body += "]}";
  ASSERT_GT(body.size(), 20000u);
  const ChatRequest& r = parse(body);
  ASSERT_EQ(r.messages.size(), 30u);
  for (const ChatMessage& m : r.messages) {
    EXPECT_TRUE(in_body(m.text));
    EXPECT_EQ(m.text.size(), prose.size() * 12);
  }
  // The vectors and the token tape only (no text copied: each text is in the body, above).
  EXPECT_LE(r.arena().heap_bytes(), 32768u);
}

// Conversations of many short turns (a chat's long history, an agent's many short tool results)
// are read typed, within the memory budget, whatever their length: the budget stops hostile
// shapes, not dense conversations. (The arena's blocks once doubled the heap at each growth:
// 100 turns of "ok N", 3.4 KB, took 131 KB, past the 118 KB budget.)
TEST_F(ChatRequestTest, ManyShortTurnsStayWithinTheBudget) {
  for (const int turns : {50, 100, 150, 200, 300, 400, 600, 1000, 3000}) {
    for (const char* shape :
         {R"({"role":"user","content":"ok N"})", R"({"role":"user","content":""})",
          R"({"role":"user","content":[{"type":"text","text":"ok"}]})",
          R"({"role":"tool","tool_call_id":"cN","content":"ok"})"}) {
      std::string body = R"({"model":"m","messages":[)";
      for (int i = 0; i < turns; ++i) {
        std::string turn = shape;
        if (const std::size_t n = turn.find('N'); n != std::string::npos) {
          turn.replace(n, 1, std::to_string(i));
        }
        body += i > 0 ? "," : "";
        body += turn;
      }
      body += "]}";
      Result<ChatRequest, ParseError> r = parse_chat_request(body);
      ASSERT_TRUE(r.ok()) << turns << " turns of " << shape << " (" << body.size()
                          << " bytes): " << r.error().message;
      EXPECT_EQ(r->messages.size(), static_cast<std::size_t>(turns));
      EXPECT_LE(r->arena().heap_bytes(), typed_heap_budget(body.size()));
    }
  }
}

TEST_F(ChatRequestTest, ArenaIsRecycledOnItsThread) {
  std::string body = R"({"model":"m","messages":[)";
  for (int i = 0; i < 200; ++i) {
    body += i > 0 ? "," : "";
    body += R"({"role":"user","content":"line\n)" + std::to_string(i) + R"("})";
  }
  body += "]}";
  const RequestArena* first = nullptr;
  std::size_t heap = 0;
  {
    Result<ChatRequest, ParseError> r = parse_chat_request(body);
    ASSERT_TRUE(r.ok());
    first = &r->arena();
    heap = r->arena().heap_bytes();
    ASSERT_GT(heap, 0u);
  }
  Result<ChatRequest, ParseError> again =
      parse_chat_request(body);  // the same arena, its blocks kept
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(&again->arena(), first);
  EXPECT_EQ(again->arena().heap_bytes(), heap);
  ASSERT_EQ(again->messages.size(), 200u);
  EXPECT_EQ(again->messages[199].text, "line\n199");
  EXPECT_TRUE(again->holds(again->messages[199].text));
  Result<ChatRequest, ParseError> other =
      parse_chat_request(body);  // the spare is taken: a new arena
  ASSERT_TRUE(other.ok());
  EXPECT_NE(&other->arena(), first);
  EXPECT_EQ(other->messages[7].text, "line\n7");
}

TEST_F(ChatRequestTest, DuplicateKeysLastOneWins) {
  const ChatRequest& r = parse(
      R"({"model":"a","stream":"bad","messages":5,"model":"b","stream":true,)"
      R"("messages":[{"role":"user","content":"x","content":[{"type":"text","text":"y"}]}]})");
  EXPECT_EQ(r.model, "b");
  EXPECT_EQ(r.stream, true);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content_kind, ChatMessage::Content::parts);
  EXPECT_EQ(r.messages[0].text, "");
  EXPECT_EQ(r.members.size(), 6u);  // every occurrence
  EXPECT_EQ(error_of(R"({"model":"a","messages":[],"model":""})"),
            "you must provide a model parameter");
}

// A nested object sent twice counts as its last occurrence alone (as a DOM keeps it): the
// members only the first one had are gone.
TEST_F(ChatRequestTest, ARepeatedNestedObjectReplacesTheEarlierOne) {
  const ChatRequest& r = parse(
      R"({"model":"m","messages":[{"role":"user","content":[)"
      R"({"type":"image_url","image_url":{"url":"https://a/x.png","detail":"high"},)"
      R"("image_url":{"url":"data:image/png;base64,QUJD"}},)"
      R"({"type":"image_url","image_url":{"url":"https://a/y.png","detail":"low"},)"
      R"("image_url":{"detail":"auto"}},)"
      R"({"type":"input_audio","input_audio":{"data":"AAA","format":"wav"},"input_audio":{"format":"mp3"}},)"
      R"({"type":"file","file":{"file_id":"f-1","filename":"a.pdf"},"file":{"file_data":"JVBE"}}]},)"
      R"({"role":"assistant","tool_calls":[{"id":"c1","type":"function",)"
      R"("function":{"name":"first","arguments":"{}"},"function":{"arguments":"{\"a\":1}"}}]}],)"
      R"("tools":[{"type":"function","function":{"name":"t","description":"d",)"
      R"("parameters":{"type":"object"},"strict":true},"function":{"description":"e"}}],)"
      R"("tool_choice":{"type":"function","function":{"name":"t"},"function":{}},)"
      R"("stream_options":{"include_usage":true},"stream_options":{}})");
  const auto& parts = r.messages[0].parts;
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0].media().url, "data:image/png;base64,QUJD");
  EXPECT_EQ(parts[0].media().detail, "");
  EXPECT_TRUE(parts[0].media().inline_data);
  EXPECT_EQ(parts[0].media().data, "QUJD");
  EXPECT_EQ(parts[1].media().url, "");
  EXPECT_EQ(parts[1].media().detail, "auto");
  EXPECT_FALSE(parts[1].media().inline_data);
  EXPECT_EQ(parts[2].media().data, "");
  EXPECT_EQ(parts[2].media().format, "mp3");
  EXPECT_EQ(parts[3].media().file_id, "");
  EXPECT_EQ(parts[3].media().filename, "");
  EXPECT_EQ(parts[3].media().file_data, "JVBE");
  const ChatToolCall& c = r.messages[1].tool_calls[0];
  EXPECT_EQ(c.id, "c1");
  EXPECT_EQ(c.name, "");
  EXPECT_EQ(c.arguments, R"({"a":1})");
  EXPECT_TRUE(c.has_function);
  const ChatTool& t = r.tools[0];
  EXPECT_EQ(t.name, "");
  EXPECT_EQ(t.description, "e");
  EXPECT_EQ(t.parameters, "");
  EXPECT_FALSE(t.strict);
  EXPECT_TRUE(t.has_function);
  ASSERT_TRUE(r.tool_choice);
  EXPECT_EQ(r.tool_choice->name, "");
  EXPECT_EQ(r.tool_choice->kind, ChatToolChoice::Kind::other);
  EXPECT_FALSE(r.include_usage);
}

// A null after a nested object leaves nothing of it (null reads as absent).
TEST_F(ChatRequestTest, ANullAfterANestedObjectDropsIt) {
  const ChatRequest& r = parse(
      R"({"model":"m","messages":[{"role":"user","content":[)"
      R"({"type":"image_url","image_url":{"url":"https://a/x.png","detail":"high"},"image_url":null},)"
      R"({"type":"image_url","image_url":"https://a/bare.png","image_url":null},)"
      R"({"type":"input_audio","input_audio":{"data":"AAA","format":"wav"},"input_audio":null},)"
      R"({"type":"file","file":{"file_id":"f-1","filename":"a.pdf","file_data":"JVBE"},"file":null}]},)"
      R"({"role":"assistant","tool_calls":[{"id":"c1","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"},"function":null}],"tool_calls":null}],)"
      R"("tools":[{"type":"function","function":{"name":"t","description":"d",)"
      R"("parameters":{"type":"object"},"strict":false},"function":null}],)"
      R"("tool_choice":{"type":"function","function":{"name":"t"},"function":null},)"
      R"("stream_options":{"include_usage":true},"stream_options":null})");
  const auto& parts = r.messages[0].parts;
  ASSERT_EQ(parts.size(), 4u);
  for (const ChatContentPart& p : parts) {
    for (std::string_view v : {p.media().url, p.media().detail, p.media().data, p.media().format,
                               p.media().file_id, p.media().filename, p.media().file_data}) {
      EXPECT_EQ(v, "");
    }
    EXPECT_FALSE(p.media().bare_url);
  }
  EXPECT_TRUE(r.messages[1].tool_calls.empty());
  EXPECT_FALSE(r.messages[1].has_tool_calls);
  const ChatTool& t = r.tools[0];
  EXPECT_EQ(t.name, "");
  EXPECT_EQ(t.description, "");
  EXPECT_EQ(t.parameters, "");
  EXPECT_FALSE(t.strict);
  EXPECT_FALSE(t.has_function);
  EXPECT_EQ(r.tool_choice->name, "");
  EXPECT_EQ(r.tool_choice->kind, ChatToolChoice::Kind::other);
  EXPECT_FALSE(r.include_usage);
}

TEST_F(ChatRequestTest, ToolCallAndToolFunctionsAreOnlyThereAsObjects) {
  const ChatRequest& r = parse(
      R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a"},)"
      R"({"id":"b","function":null},{"id":"c","function":{}},)"
      R"({"id":"d","function":null,"function":{"name":"n"}}]},{"role":"assistant","tool_calls":[]},)"
      R"({"role":"assistant"}],"tools":[{"type":"function"},{"type":"function","function":{}}]})");
  const auto& calls = r.messages[0].tool_calls;
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_FALSE(calls[0].has_function);
  EXPECT_FALSE(calls[1].has_function);
  EXPECT_TRUE(calls[2].has_function);
  EXPECT_TRUE(calls[3].has_function);
  EXPECT_EQ(calls[3].name, "n");
  EXPECT_TRUE(r.messages[0].has_tool_calls);
  EXPECT_TRUE(r.messages[1].has_tool_calls);
  EXPECT_TRUE(r.messages[1].tool_calls.empty());
  EXPECT_FALSE(r.messages[2].has_tool_calls);
  EXPECT_FALSE(r.tools[0].has_function);
  EXPECT_TRUE(r.tools[1].has_function);
}

TEST_F(ChatRequestTest, ABareStringImageUrlIsMarked) {
  const ChatRequest& r = parse(
      R"({"model":"m","messages":[{"role":"user","content":[)"
      R"({"type":"image_url","image_url":"https://a/x.png"},)"
      R"({"type":"image_url","image_url":"https://a/x.png","image_url":{"url":"https://a/y.png"}},)"
      R"({"type":"image_url","image_url":{"url":"https://a/y.png"},"image_url":"data:image/png;base64,QQ"}]}]})");
  const auto& parts = r.messages[0].parts;
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(parts[0].media().bare_url);
  EXPECT_EQ(parts[0].media().url, "https://a/x.png");
  EXPECT_FALSE(parts[1].media().bare_url);
  EXPECT_EQ(parts[1].media().url, "https://a/y.png");
  EXPECT_TRUE(parts[2].media().bare_url);
  EXPECT_TRUE(parts[2].media().inline_data);
  EXPECT_EQ(parts[2].media().data, "QQ");
}

// A part's `text` and `refusal` are two members: `text` is the one its type names, whichever
// order they come in.
TEST_F(ChatRequestTest, TextAndRefusalAreKeptApart) {
  const ChatRequest& r = parse(R"({"model":"m","messages":[{"role":"assistant","content":[)"
                               R"({"type":"text","text":"a","refusal":"b"},)"
                               R"({"type":"text","refusal":"b","text":"a"},)"
                               R"({"type":"refusal","text":"a","refusal":"b"},)"
                               R"({"refusal":"b","text":"a","type":"refusal"},)"
                               R"({"type":"text","refusal":"b"},)"
                               R"({"type":"refusal","text":"a"},)"
                               R"({"type":"text","text":"","refusal":null},)"
                               R"({"type":"text","text":"a","text":null}]}]})");
  const auto& p = r.messages[0].parts;
  ASSERT_EQ(p.size(), 8u);
  for (std::size_t i : {0u, 1u}) {
    EXPECT_EQ(p[i].kind, Kind::text);
    EXPECT_EQ(p[i].text, "a") << i;
    EXPECT_TRUE(p[i].text_set);
    EXPECT_EQ(p[i].refusal, "b");
    EXPECT_TRUE(p[i].refusal_set);
  }
  for (std::size_t i : {2u, 3u}) {
    EXPECT_EQ(p[i].kind, Kind::refusal);
    EXPECT_EQ(p[i].text, "b") << i;  // a refusal part's text is its refusal
    EXPECT_TRUE(p[i].text_set);
    EXPECT_EQ(p[i].refusal, "b");
  }
  EXPECT_EQ(p[4].text, "");
  EXPECT_FALSE(p[4].text_set);
  EXPECT_EQ(p[4].refusal, "b");
  EXPECT_EQ(p[5].text, "");
  EXPECT_FALSE(p[5].text_set);
  EXPECT_FALSE(p[5].refusal_set);
  EXPECT_EQ(p[6].text, "");
  EXPECT_TRUE(p[6].text_set);
  EXPECT_FALSE(p[6].refusal_set);
  EXPECT_EQ(p[7].text, "");
  EXPECT_FALSE(p[7].text_set);
}

TEST_F(ChatRequestTest, TheTapeReadsTokens) {
  const ChatRequest& r = parse(R"({"model":"m\u0041","messages":[],"n":12})");
  ASSERT_EQ(r.tokens.size(), 7u);
  EXPECT_EQ(r.token_first(0), '{');
  EXPECT_EQ(r.token_text(1), "model");
  EXPECT_EQ(r.token_text(2), "mA");
  EXPECT_EQ(r.token_bytes(2), R"("m\u0041")");
  EXPECT_EQ(r.token_first(4), '[');
  EXPECT_EQ(r.tokens[4].next, 5u);
  EXPECT_EQ(r.token_bytes(6), "12");
}

TEST_F(ChatRequestTest, EmptyMessagesArrayParses) {
  const ChatRequest& r = parse(R"({"model":"m","messages":[]})");
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.members.size(), 2u);
}

TEST_F(ChatRequestTest, MovingTheRequestKeepsItsViews) {
  body_ = R"({"model":"\u00e9","messages":[{"role":"user","content":"x"}]})";
  Result<ChatRequest, ParseError> parsed = parse_chat_request(body_);
  ASSERT_TRUE(parsed.ok());
  ChatRequest moved = std::move(parsed.value());
  EXPECT_EQ(moved.model, "\xc3\xa9");
  EXPECT_TRUE(moved.holds(moved.model));
  EXPECT_EQ(moved.messages[0].text, "x");
}

TEST_F(ChatRequestTest, IntegersBeyondInt64AreRefused) {
  EXPECT_EQ(error_of(with(R"("seed":18446744073709551615)")),
            "Invalid type for 'seed': expected an integer.");
  EXPECT_EQ(parse(with(R"("seed":-9223372036854775808)")).seed, INT64_MIN);
}
// The arena hands memory back for reuse (a vector's old buffer, a block's tail) and gives large
// allocations blocks of their own, freed when given back: many vectors growing side by side, of
// sizes on both sides of those thresholds, must never share a byte, and what each holds must
// survive every other's growth.
TEST(RequestArenaTest, VectorsGrowingSideBySideNeverOverlap) {
  std::unique_ptr<RequestArena, RequestArena::Release> arena = RequestArena::acquire();
  std::vector<std::pmr::vector<std::uint32_t>> vectors;
  for (int v = 0; v < 6; ++v) {
    vectors.emplace_back(arena.get());
  }
  std::uint32_t state = 12345;
  const auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  for (int step = 0; step < 60000; ++step) {
    auto& v = vectors[next() % vectors.size()];
    const std::size_t tag = static_cast<std::size_t>(&v - vectors.data());
    if (tag != 0 && next() % 50 == 0) {  // the first one grows past 32 KiB: large blocks
      v.clear();
      v.shrink_to_fit();  // gives the whole buffer back
      continue;
    }
    v.push_back(static_cast<std::uint32_t>(tag << 24 | (v.size() & 0xFFFFFF)));
  }
  for (std::size_t tag = 0; tag < vectors.size(); ++tag) {
    const auto& v = vectors[tag];
    for (std::size_t k = 0; k < v.size(); ++k) {
      ASSERT_EQ(v[k], static_cast<std::uint32_t>(tag << 24 | (k & 0xFFFFFF))) << tag << " " << k;
    }
    if (!v.empty()) {
      EXPECT_TRUE(arena->contains(reinterpret_cast<const char*>(v.data()),
                                  v.size() * sizeof(std::uint32_t)));
    }
  }
}

// A vector that grows past 32 KiB costs its final buffer, not every buffer it grew through.
TEST(RequestArenaTest, ALargeVectorHoldsOnlyItsLastBuffer) {
  std::unique_ptr<RequestArena, RequestArena::Release> arena = RequestArena::acquire();
  std::pmr::vector<std::uint32_t> v(arena.get());
  for (std::uint32_t k = 0; k < (1u << 20); ++k) {
    v.push_back(k);
  }
  EXPECT_EQ(v[12345], 12345u);
  EXPECT_LE(arena->heap_bytes(), v.capacity() * sizeof(std::uint32_t) + 64 * 1024);
  v.clear();
  v.shrink_to_fit();
  EXPECT_LE(arena->heap_bytes(), 64 * 1024u);  // the large buffer went back to the heap
}

// A body of many empty parts takes ~50x its size typed; past the caller's budget the parse
// stops early with an error of its own, while an ordinary body of the same size parses within it.
TEST(ChatRequestBudgetTest, ManyTinyPartsStopAtTheBudget) {
  const std::string tiny = test::chat_body_of_parts("m", "{}", 20000);
  const std::size_t budget = 16 * tiny.size() + 256 * 1024;
  EXPECT_EQ(typed_heap_budget(tiny.size()), budget);
  const Result<ChatRequest, ParseError> stopped = parse_chat_request(tiny, budget);
  ASSERT_FALSE(stopped.ok());
  EXPECT_NE(stopped.error().message.find("more memory than allowed"), std::string::npos)
      << stopped.error().message;
  EXPECT_EQ(stopped.error().code, kOverBudget);
  EXPECT_LT(stopped.error().offset, tiny.size());  // it stopped before the end
  // The budget is the default: a caller must ask for an unbounded reading.
  const Result<ChatRequest, ParseError> by_default = parse_chat_request(tiny);
  ASSERT_FALSE(by_default.ok());
  EXPECT_EQ(by_default.error().code, kOverBudget);
  const Result<ChatRequest, ParseError> unbounded = parse_chat_request(tiny, SIZE_MAX);
  ASSERT_TRUE(unbounded.ok()) << unbounded.error().message;
  EXPECT_GT(unbounded->arena().heap_bytes(), budget);  // what the budget spared

  const std::string prose = R"({"model":"m","messages":[{"role":"user","content":")" +
                            std::string(tiny.size(), 'x') + R"("}]})";
  const Result<ChatRequest, ParseError> ordinary = parse_chat_request(prose);
  ASSERT_TRUE(ordinary.ok()) << ordinary.error().message;
  EXPECT_EQ(ordinary->messages.size(), 1u);
}

// The budget holds at the end as well as where containers open: a long escaped text after the
// last container (its unescaped copy in the arena) cannot carry the reading past it.
TEST(ChatRequestBudgetTest, TheBudgetHoldsAfterTheLastContainer) {
  std::string escaped;
  for (int i = 0; i < 5000; ++i) {
    escaped += "\\n";
  }
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":")" + escaped + R"("}]})";
  const Result<ChatRequest, ParseError> stopped = parse_chat_request(body, 1024);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, kOverBudget);
  const Result<ChatRequest, ParseError> read = parse_chat_request(body, SIZE_MAX);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->messages[0].text, std::string(5000, '\n'));
  EXPECT_GT(read->arena().heap_bytes(), 1024u);
}

// A long agent conversation (thousands of short tool calls and results) is read within the
// default budget: the vectors it grows give their old buffers back (the large ones to the heap),
// so it holds about its final size, well under the 16x the budget allows.
TEST(ChatRequestBudgetTest, ALongAgentConversationFitsTheDefaultBudget) {
  for (const int pairs : {1000, 10000}) {
    std::string body = R"({"model":"m","messages":[)";
    for (int i = 0; i < pairs; ++i) {
      body += i == 0 ? "" : ",";
      body +=
          R"({"role":"assistant","tool_calls":[{"id":"c","type":"function","function":)"
          R"({"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"})";
    }
    body += "]}";
    const Result<ChatRequest, ParseError> r = parse_chat_request(body);
    ASSERT_TRUE(r.ok()) << pairs << ": " << r.error().message;
    EXPECT_EQ(r->messages.size(), 2u * pairs);
    EXPECT_LE(r->arena().heap_bytes(), 10 * body.size()) << pairs;
  }
}

// A text part carries no image, audio or file members (they are made for a part that names
// one), so a content array of many short text parts is read at under 10x its size.
TEST(ChatRequestBudgetTest, ShortTextPartsCarryNoMediaMembers) {
  std::string body =
      test::chat_body_of_parts("m", R"({"type":"text","text":"hello world"})", 20000);
  body.insert(body.size() - 4,
              R"(,{"type":"image_url","image_url":{"url":"https://x.test/a.png"}})");
  const Result<ChatRequest, ParseError> r = parse_chat_request(body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& parts = r->messages[0].parts;
  ASSERT_EQ(parts.size(), 20001u);
  EXPECT_EQ(parts[0].media_, nullptr);
  EXPECT_EQ(parts[0].media().url, "");
  ASSERT_NE(parts.back().media_, nullptr);
  EXPECT_EQ(parts.back().media().url, "https://x.test/a.png");
  EXPECT_LE(r->arena().heap_bytes(), 10 * body.size());
}

}  // namespace
}  // namespace sb::adapters
