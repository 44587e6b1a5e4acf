// The provider contract: one behavioural suite every chat translator must pass, whatever its
// native wire format. Each provider is a fixture object (a Provider subclass) that knows how to
// build its translator, how to read its native upstream request back into a neutral form, and
// how to speak its native answers, streams and errors for the canned scenarios below. Every
// assertion is about behaviour seen through parsed JSON, never about byte equality with what the
// translator itself produced.
//
// Adding a provider: write one Provider subclass and add one line to INSTANTIATE_TEST_SUITE_P.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapters/anthropic.h"
#include "adapters/azure.h"
#include "adapters/bedrock.h"
#include "adapters/canonical.h"
#include "adapters/eventstream.h"
#include "adapters/gemini.h"
#include "adapters/ollama.h"
#include "adapters/openai_compatible.h"
#include "adapters/sse.h"
#include "adapters/translator.h"
#include "adapters/usage.h"
#include "tests/adapters/request_bodies.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

constexpr std::int64_t kCreated = 1750000123;
constexpr std::string_view kCompletionId = "chatcmpl-contract42";
constexpr std::string_view kAlias = "frontier";

// ---- neutral views ---------------------------------------------------------------------------

/// A tool call as the contract sees it, whatever the provider's shape.
struct Call {
  std::string id;  ///< the provider's link between call and result (Gemini links by name)
  std::string name;
  json::value args;  ///< the arguments object
};

/// A tool result as the contract sees it.
struct ToolResult {
  std::string id;       ///< the call it answers (Gemini: the function name)
  std::string content;  ///< its text, or the serialized native payload
};

/// One conversation turn of an upstream request.
struct Turn {
  std::string role;  ///< "user", "assistant", or "tool" (OpenAI keeps tool messages apart)
  std::vector<std::string> texts;
  std::vector<Call> calls;
  std::vector<ToolResult> results;
};

struct Tool {
  std::string name;
  json::value schema;
};

/// An upstream request read back by the provider fixture.
struct NeutralRequest {
  std::string model;                ///< the model pinned upstream (body or path)
  std::vector<std::string> system;  ///< system/developer instructions, in order
  std::vector<Turn> turns;          ///< everything else, in order
  std::vector<Tool> tools;
};

/// A tool call the contract asks a provider to answer with (providers that stream arguments
/// send them in fragments_of() their JSON text).
struct CannedCall {
  std::string id;
  std::string name;
  json::object args;
};

enum class ErrorKind { kBadRequest, kUnauthorized, kRateLimited, kServerError, kOverloaded };

std::string_view to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::kBadRequest:
      return "bad_request";
    case ErrorKind::kUnauthorized:
      return "unauthorized";
    case ErrorKind::kRateLimited:
      return "rate_limited";
    case ErrorKind::kServerError:
      return "server_error";
    case ErrorKind::kOverloaded:
      return "overloaded";
  }
  return "?";
}

/// A native error answer: status, headers and body as the provider sends them.
struct NativeError {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string message;  ///< the native message the client must still see
  /// The wait the native answer asked for, in a header or in its body.
  std::optional<std::string> retry_after;
};

std::string header_of(const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// Text of an OpenAI or Anthropic content value: a string, or an array of text parts/blocks.
std::vector<std::string> texts_of(const json::value& content) {
  std::vector<std::string> out;
  if (content.is_string()) {
    out.emplace_back(content.as_string());
  } else if (content.is_array()) {
    for (const json::value& part : content.as_array()) {
      if (const json::object* o = part.if_object()) {
        if (const json::value* t = o->if_contains("text"); t && t->is_string()) {
          out.emplace_back(t->as_string());
        }
      }
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    out += p;
  }
  return out;
}

/// Splits `text` into pieces of at most `n` bytes (one empty piece for an empty text).
std::vector<std::string> fragments_of(const std::string& text, std::size_t n = 7) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size(); i += n) {
    out.push_back(text.substr(i, n));
  }
  if (out.empty()) {
    out.emplace_back();
  }
  return out;
}

std::string sse(const json::value& data, std::string_view event = {}) {
  std::string out;
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += "\n";
  }
  out += "data: ";
  out += json::serialize(data);
  out += "\n\n";
  return out;
}

// ---- the provider fixture interface ------------------------------------------------------------

/// One provider as the contract drives it: its translator, a reader of its native requests, and
/// its native answers, streams and errors for the canned scenarios.
class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string name() const = 0;
  virtual BackendSpec spec() const = 0;
  /// A fresh translator for one request, reporting kCreated (and kCompletionId where the
  /// translator takes an id).
  virtual std::unique_ptr<ChatTranslator> translator() const = 0;

  /// Asserts method, target and auth headers of a translated request.
  virtual void check_transport(const UpstreamRequest& r, bool stream) const = 0;
  /// Reads a translated upstream request back into the neutral form.
  virtual NeutralRequest decode(const UpstreamRequest& r) const = 0;

  /// Whether the client's bytes are forwarded as sent (an OpenAI-shaped wire), rather than
  /// rebuilt in the provider's format from the typed reading.
  virtual bool passes_bytes_through() const { return false; }
  /// Whether consecutive same-role turns are merged (the provider requires alternation).
  virtual bool merges_same_role_turns() const = 0;
  /// Whether tool call ids survive the round trip (Gemini and Ollama have none: they
  /// link a result to its call by function name).
  virtual bool keeps_tool_call_ids() const { return true; }
  virtual bool reports_cached_tokens() const = 0;
  virtual bool reports_reasoning_tokens() const = 0;
  /// The `model` the client must see: what the native answer reported, else the alias.
  virtual std::string expected_model(std::string_view alias) const = 0;

  /// Native answers and streams for the canned scenarios. `usage` is what the client must be
  /// told (OpenAI counting); the fixture encodes it in the provider's own counting.
  virtual std::string text_answer(const std::string& text, const Usage& usage) const = 0;
  virtual std::string tool_answer(const std::vector<CannedCall>& calls,
                                  const Usage& usage) const = 0;
  /// The native stream, one element per native event (frame).
  virtual std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                               const Usage& usage) const = 0;
  virtual std::vector<std::string> tool_stream(const std::vector<CannedCall>& calls,
                                               const Usage& usage) const = 0;
  /// One in-stream native error event.
  virtual std::string stream_error_event() const = 0;

  virtual NativeError error(ErrorKind kind) const = 0;
};

/// The suite's parameter: a provider fixture, printed by name in test names and failures.
struct ProviderPtr {
  std::shared_ptr<const Provider> provider;
  const Provider* operator->() const { return provider.get(); }
  const Provider& operator*() const { return *provider; }
  friend void PrintTo(const ProviderPtr& p, std::ostream* os) { *os << p->name(); }
};

template <typename P>
ProviderPtr make_provider() {
  return ProviderPtr{std::make_shared<const P>()};
}

// ---- OpenAI wire (shared by the OpenAI passthrough and Azure) --------------------------------

/// Reads an OpenAI-shaped chat request (system/developer messages stay in `messages` there;
/// the neutral view lifts them out so the contract can compare providers).
NeutralRequest decode_openai_body(const json::value& body) {
  NeutralRequest n;
  n.model = std::string(body.at("model").as_string());
  for (const json::value& m : body.at("messages").as_array()) {
    const std::string role(m.at("role").as_string());
    const json::value* content = m.as_object().if_contains("content");
    if (role == "system" || role == "developer") {
      for (std::string& t : texts_of(*content)) {
        n.system.push_back(std::move(t));
      }
      continue;
    }
    Turn turn{role, content ? texts_of(*content) : std::vector<std::string>{}, {}, {}};
    if (const json::value* calls = m.as_object().if_contains("tool_calls")) {
      for (const json::value& c : calls->as_array()) {
        turn.calls.push_back({std::string(c.at("id").as_string()),
                              std::string(c.at("function").at("name").as_string()),
                              json::parse(c.at("function").at("arguments").as_string())});
      }
    }
    if (role == "tool") {
      turn.results.push_back({std::string(m.at("tool_call_id").as_string()), joined(turn.texts)});
      turn.texts.clear();
    }
    n.turns.push_back(std::move(turn));
  }
  if (const json::value* tools = body.as_object().if_contains("tools")) {
    for (const json::value& t : tools->as_array()) {
      n.tools.push_back({std::string(t.at("function").at("name").as_string()),
                         t.at("function").at("parameters")});
    }
  }
  return n;
}

/// Builds OpenAI chat.completion objects and chunks as an OpenAI-wire upstream sends them.
class OpenAIWire {
 public:
  OpenAIWire(std::string id, std::string model) : id_(std::move(id)), model_(std::move(model)) {}

  static json::object usage(const Usage& u) {
    return json::object{
        {"prompt_tokens", u.input},
        {"completion_tokens", u.output},
        {"total_tokens", u.input + u.output},
        {"prompt_tokens_details", json::object{{"cached_tokens", u.cached_input}}},
        {"completion_tokens_details", json::object{{"reasoning_tokens", u.reasoning}}}};
  }

  static json::array tool_calls(const std::vector<CannedCall>& calls) {
    json::array tc;
    for (const CannedCall& c : calls) {
      tc.push_back(json::object{
          {"id", c.id},
          {"type", "function"},
          {"function", json::object{{"name", c.name}, {"arguments", json::serialize(c.args)}}}});
    }
    return tc;
  }

  json::object completion(json::object message, std::string_view finish, const Usage& u) const {
    return json::object{{"id", id_},
                        {"object", "chat.completion"},
                        {"created", kCreated},
                        {"model", model_},
                        {"choices", json::array{json::object{{"index", 0},
                                                             {"message", std::move(message)},
                                                             {"logprobs", nullptr},
                                                             {"finish_reason", finish}}}},
                        {"usage", usage(u)},
                        {"system_fingerprint", "fp_contract"}};
  }

  json::object chunk(json::object delta, std::string_view finish = {}) const {
    json::object c = base();
    c["choices"] = json::array{
        json::object{{"index", 0},
                     {"delta", std::move(delta)},
                     {"logprobs", nullptr},
                     {"finish_reason", finish.empty() ? json::value() : json::value(finish)}}};
    c["usage"] = nullptr;
    return c;
  }

  json::object usage_chunk(const Usage& u) const {
    json::object c = base();
    c["choices"] = json::array{};
    c["usage"] = usage(u);
    return c;
  }

  /// The chunks of a text answer streamed in `pieces` (the usage chunk and [DONE] excluded).
  std::vector<json::object> text_chunks(const std::vector<std::string>& pieces) const {
    std::vector<json::object> out{
        chunk(json::object{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}})};
    for (const std::string& p : pieces) {
      out.push_back(chunk(json::object{{"content", p}}));
    }
    out.push_back(chunk(json::object{}, "stop"));
    return out;
  }

  /// The chunks of a tool-call answer, arguments streamed in fragments.
  std::vector<json::object> tool_chunks(const std::vector<CannedCall>& calls) const {
    std::vector<json::object> out{
        chunk(json::object{{"role", "assistant"}, {"content", nullptr}, {"refusal", nullptr}})};
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const CannedCall& c = calls[i];
      out.push_back(chunk(json::object{
          {"tool_calls", json::array{json::object{
                             {"index", i},
                             {"id", c.id},
                             {"type", "function"},
                             {"function", json::object{{"name", c.name}, {"arguments", ""}}}}}}}));
      for (const std::string& f : fragments_of(json::serialize(c.args))) {
        out.push_back(chunk(json::object{
            {"tool_calls", json::array{json::object{
                               {"index", i}, {"function", json::object{{"arguments", f}}}}}}}));
      }
    }
    out.push_back(chunk(json::object{}, "tool_calls"));
    return out;
  }

  static std::string error_body(std::string_view message, json::value type, json::value code) {
    return json::serialize(json::object{{"error", json::object{{"message", message},
                                                               {"type", std::move(type)},
                                                               {"param", nullptr},
                                                               {"code", std::move(code)}}}});
  }

 private:
  json::object base() const {
    return json::object{{"id", id_},
                        {"object", "chat.completion.chunk"},
                        {"created", kCreated},
                        {"model", model_},
                        {"system_fingerprint", "fp_contract"}};
  }

  std::string id_;
  std::string model_;
};

std::vector<std::string> sse_events(const std::vector<json::object>& chunks) {
  std::vector<std::string> out;
  for (const json::object& c : chunks) {
    out.push_back(sse(c));
  }
  return out;
}

// ---- OpenAI (passthrough) ------------------------------------------------------------------

/// The OpenAI-wire path has no ChatTranslator of its own (the gateway relays it): this is the
/// same behaviour behind the interface, built from the pieces the gateway uses.
class OpenAIPassthrough final : public ChatTranslator {
 public:
  Result<UpstreamRequest, TranslateError> build_request(const ChatRequest& typed,
                                                        const BackendSpec& spec) const override {
    if (std::optional<ChatRequestPlan> plan = plan_chat_request(typed.body, typed, spec.model)) {
      return upstream(typed.body, *plan, spec);
    }
    return request(typed.body, spec);  // a top-level key sent twice: the DOM decides
  }
  Result<UpstreamRequest, TranslateError> request(std::string_view raw,
                                                  const BackendSpec& spec) const override {
    const json::value body = json::parse(raw);
    return upstream(raw, plan_chat_request(raw, body.as_object(), spec.model), spec);
  }

  static UpstreamRequest upstream(std::string_view raw, const ChatRequestPlan& plan,
                                  const BackendSpec& spec) {
    UpstreamRequest r;
    r.target = spec.base_path + "/chat/completions";
    r.headers = {{"authorization", std::string("Bearer ").append(spec.api_key)},
                 {"content-type", "application/json"}};
    r.body = plan.body.text(raw);
    r.stream = plan.stream;
    return r;
  }

  TranslatedResponse response(unsigned status, std::string_view /*content_type*/,
                              std::string_view body, std::string_view /*alias*/) const override {
    TranslatedResponse r;
    r.status = status;
    r.body = std::string(body);
    if (status == 200) {
      r.usage = usage_from_openai_text(body);
    } else {
      r.retryable = status == 429 || status >= 500;
    }
    return r;
  }

  std::unique_ptr<StreamTranslator> stream(bool include_usage,
                                           std::string_view /*alias*/) const override {
    return std::make_unique<OpenAIStreamTranslator>(include_usage);
  }
};

class OpenAIProvider final : public Provider {
 public:
  std::string name() const override { return "openai"; }
  bool passes_bytes_through() const override { return true; }
  BackendSpec spec() const override {
    BackendSpec s;
    s.base_path = "/v1";
    s.host = "api.openai.com";
    s.model = "gpt-4o-2024-08-06";
    s.api_key = "sk-contract";
    return s;
  }
  std::unique_ptr<ChatTranslator> translator() const override {
    return std::make_unique<OpenAIPassthrough>();
  }

  void check_transport(const UpstreamRequest& r, bool stream) const override {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/chat/completions");
    EXPECT_EQ(header_of(r.headers, "authorization"), "Bearer sk-contract");
    EXPECT_EQ(r.stream, stream);
    EXPECT_EQ(json::parse(r.body).as_object().contains("stream"), stream);
  }

  NeutralRequest decode(const UpstreamRequest& r) const override {
    return decode_openai_body(json::parse(r.body));
  }

  bool merges_same_role_turns() const override { return false; }
  bool reports_cached_tokens() const override { return true; }
  bool reports_reasoning_tokens() const override { return true; }
  std::string expected_model(std::string_view /*alias*/) const override { return kModel; }

  std::string text_answer(const std::string& text, const Usage& u) const override {
    return json::serialize(wire_.completion(
        json::object{{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}, "stop", u));
  }

  std::string tool_answer(const std::vector<CannedCall>& calls, const Usage& u) const override {
    return json::serialize(
        wire_.completion(json::object{{"role", "assistant"},
                                      {"content", nullptr},
                                      {"tool_calls", OpenAIWire::tool_calls(calls)},
                                      {"refusal", nullptr}},
                         "tool_calls", u));
  }

  // The upstream is always asked for usage (plan_chat_request forces include_usage).
  std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                       const Usage& u) const override {
    std::vector<std::string> out = sse_events(wire_.text_chunks(pieces));
    out.push_back(sse(wire_.usage_chunk(u)));
    out.emplace_back("data: [DONE]\n\n");
    return out;
  }

  std::vector<std::string> tool_stream(const std::vector<CannedCall>& calls,
                                       const Usage& u) const override {
    std::vector<std::string> out = sse_events(wire_.tool_chunks(calls));
    out.push_back(sse(wire_.usage_chunk(u)));
    out.emplace_back("data: [DONE]\n\n");
    return out;
  }

  std::string stream_error_event() const override {
    return sse(json::parse(OpenAIWire::error_body(
        "The server had an error while processing your request.", "server_error", nullptr)));
  }

  // https://platform.openai.com/docs/guides/error-codes
  NativeError error(ErrorKind kind) const override {
    switch (kind) {
      case ErrorKind::kBadRequest:
        return {400,
                {},
                OpenAIWire::error_body("Invalid value for 'temperature'.", "invalid_request_error",
                                       nullptr),
                "Invalid value for 'temperature'.",
                std::nullopt};
      case ErrorKind::kUnauthorized:
        return {401,
                {},
                OpenAIWire::error_body("Incorrect API key provided.", "invalid_request_error",
                                       "invalid_api_key"),
                "Incorrect API key provided.",
                std::nullopt};
      case ErrorKind::kRateLimited:
        return {429,
                {{"retry-after", "7"}},
                OpenAIWire::error_body("Rate limit reached for requests.", "requests",
                                       "rate_limit_exceeded"),
                "Rate limit reached for requests.",
                "7"};
      case ErrorKind::kServerError:
        return {500,
                {},
                OpenAIWire::error_body("The server had an error processing your request.",
                                       "server_error", nullptr),
                "The server had an error processing your request.",
                std::nullopt};
      case ErrorKind::kOverloaded:
        return {
            503,
            {{"retry-after", "7"}},
            OpenAIWire::error_body("The engine is currently overloaded.", "server_error", nullptr),
            "The engine is currently overloaded.",
            "7"};
    }
    return {};
  }

 private:
  static constexpr const char* kModel = "gpt-4o-2024-08-06";
  OpenAIWire wire_{"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", kModel};
};

// ---- Anthropic -------------------------------------------------------------------------------

class AnthropicProvider final : public Provider {
 public:
  std::string name() const override { return "anthropic"; }
  BackendSpec spec() const override {
    BackendSpec s;
    s.base_path = "/v1";
    s.host = "api.anthropic.com";
    s.model = kModel;
    s.api_key = "sk-ant-contract";
    return s;
  }
  std::unique_ptr<ChatTranslator> translator() const override {
    return std::make_unique<AnthropicTranslator>(kCreated);
  }

  void check_transport(const UpstreamRequest& r, bool stream) const override {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/v1/messages");
    EXPECT_EQ(header_of(r.headers, "x-api-key"), "sk-ant-contract");
    EXPECT_FALSE(header_of(r.headers, "anthropic-version").empty());
    EXPECT_EQ(r.stream, stream);
    const json::value body = json::parse(r.body);
    const json::value* s = body.as_object().if_contains("stream");
    EXPECT_EQ(s != nullptr && s->is_bool() && s->as_bool(), stream);
    EXPECT_TRUE(body.as_object().contains("max_tokens"));
  }

  NeutralRequest decode(const UpstreamRequest& r) const override {
    const json::value body = json::parse(r.body);
    NeutralRequest n;
    n.model = std::string(body.at("model").as_string());
    if (const json::value* system = body.as_object().if_contains("system")) {
      n.system = texts_of(*system);
    }
    for (const json::value& m : body.at("messages").as_array()) {
      Turn turn{std::string(m.at("role").as_string()), {}, {}, {}};
      const json::value& content = m.at("content");
      if (content.is_string()) {
        turn.texts.emplace_back(content.as_string());
      } else {
        for (const json::value& block : content.as_array()) {
          const std::string_view type = block.at("type").as_string();
          if (type == "text") {
            turn.texts.emplace_back(block.at("text").as_string());
          } else if (type == "tool_use") {
            turn.calls.push_back({std::string(block.at("id").as_string()),
                                  std::string(block.at("name").as_string()), block.at("input")});
          } else if (type == "tool_result") {
            const json::value* c = block.as_object().if_contains("content");
            turn.results.push_back({std::string(block.at("tool_use_id").as_string()),
                                    c ? joined(texts_of(*c)) : std::string()});
          }
        }
      }
      n.turns.push_back(std::move(turn));
    }
    if (const json::value* tools = body.as_object().if_contains("tools")) {
      for (const json::value& t : tools->as_array()) {
        n.tools.push_back({std::string(t.at("name").as_string()), t.at("input_schema")});
      }
    }
    return n;
  }

  bool merges_same_role_turns() const override { return true; }
  bool reports_cached_tokens() const override { return true; }
  bool reports_reasoning_tokens() const override { return false; }
  std::string expected_model(std::string_view /*alias*/) const override { return kModel; }

  std::string text_answer(const std::string& text, const Usage& u) const override {
    return json::serialize(
        message(json::array{json::object{{"type", "text"}, {"text", text}}}, "end_turn", u));
  }

  std::string tool_answer(const std::vector<CannedCall>& calls, const Usage& u) const override {
    json::array content;
    for (const CannedCall& c : calls) {
      content.push_back(
          json::object{{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", c.args}});
    }
    return json::serialize(message(std::move(content), "tool_use", u));
  }

  std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                       const Usage& u) const override {
    std::vector<std::string> out{
        message_start(u),
        event("content_block_start",
              json::object{{"index", 0},
                           {"content_block", json::object{{"type", "text"}, {"text", ""}}}}),
        event("ping", json::object{})};
    for (const std::string& p : pieces) {
      out.push_back(
          event("content_block_delta",
                json::object{{"index", 0},
                             {"delta", json::object{{"type", "text_delta"}, {"text", p}}}}));
    }
    out.push_back(event("content_block_stop", json::object{{"index", 0}}));
    out.push_back(message_delta("end_turn", u));
    out.push_back(event("message_stop", json::object{}));
    return out;
  }

  std::vector<std::string> tool_stream(const std::vector<CannedCall>& calls,
                                       const Usage& u) const override {
    std::vector<std::string> out{message_start(u)};
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const CannedCall& c = calls[i];
      out.push_back(
          event("content_block_start",
                json::object{{"index", i},
                             {"content_block", json::object{{"type", "tool_use"},
                                                            {"id", c.id},
                                                            {"name", c.name},
                                                            {"input", json::object{}}}}}));
      for (const std::string& f : fragments_of(json::serialize(c.args))) {
        out.push_back(event("content_block_delta",
                            json::object{{"index", i},
                                         {"delta", json::object{{"type", "input_json_delta"},
                                                                {"partial_json", f}}}}));
      }
      out.push_back(event("content_block_stop", json::object{{"index", i}}));
    }
    out.push_back(message_delta("tool_use", u));
    out.push_back(event("message_stop", json::object{}));
    return out;
  }

  std::string stream_error_event() const override {
    return sse(
        json::parse(
            R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
        "error");
  }

  // https://docs.anthropic.com/en/api/errors
  NativeError error(ErrorKind kind) const override {
    const auto body = [](std::string_view type, std::string_view message) {
      return json::serialize(
          json::object{{"type", "error"},
                       {"error", json::object{{"type", type}, {"message", message}}},
                       {"request_id", "req_011Ccontract"}});
    };
    switch (kind) {
      case ErrorKind::kBadRequest:
        return {400,
                {},
                body("invalid_request_error", "messages: text content blocks must be non-empty"),
                "messages: text content blocks must be non-empty",
                std::nullopt};
      case ErrorKind::kUnauthorized:
        return {401,
                {},
                body("authentication_error", "invalid x-api-key"),
                "invalid x-api-key",
                std::nullopt};
      case ErrorKind::kRateLimited:
        return {429,
                {{"retry-after", "7"}},
                body("rate_limit_error", "Number of request tokens has exceeded your rate limit."),
                "Number of request tokens has exceeded your rate limit.",
                "7"};
      case ErrorKind::kServerError:
        return {500,
                {},
                body("api_error", "Internal server error"),
                "Internal server error",
                std::nullopt};
      case ErrorKind::kOverloaded:
        return {
            529, {{"retry-after", "7"}}, body("overloaded_error", "Overloaded"), "Overloaded", "7"};
    }
    return {};
  }

 private:
  static constexpr const char* kModel = "claude-sonnet-4-20250514";
  static constexpr const char* kMessageId = "msg_01ContractXyZ";

  static json::object usage_json(const Usage& u, std::int64_t output) {
    // Anthropic's input_tokens excludes the cached ones.
    return json::object{{"input_tokens", u.input - u.cached_input},
                        {"cache_creation_input_tokens", 0},
                        {"cache_read_input_tokens", u.cached_input},
                        {"output_tokens", output}};
  }

  static json::object message(json::array content, std::string_view stop, const Usage& u) {
    return json::object{{"id", kMessageId},
                        {"type", "message"},
                        {"role", "assistant"},
                        {"model", kModel},
                        {"content", std::move(content)},
                        {"stop_reason", stop},
                        {"stop_sequence", nullptr},
                        {"usage", usage_json(u, u.output)}};
  }

  static std::string event(std::string_view type, json::object data) {
    data["type"] = type;
    return sse(data, type);
  }

  static std::string message_start(const Usage& u) {
    return event("message_start",
                 json::object{{"message", json::object{{"id", kMessageId},
                                                       {"type", "message"},
                                                       {"role", "assistant"},
                                                       {"model", kModel},
                                                       {"content", json::array{}},
                                                       {"stop_reason", nullptr},
                                                       {"stop_sequence", nullptr},
                                                       {"usage", usage_json(u, 1)}}}});
  }

  static std::string message_delta(std::string_view stop, const Usage& u) {
    return event(
        "message_delta",
        json::object{{"delta", json::object{{"stop_reason", stop}, {"stop_sequence", nullptr}}},
                     {"usage", json::object{{"output_tokens", u.output}}}});
  }
};

// ---- Gemini ----------------------------------------------------------------------------------

class GeminiProvider final : public Provider {
 public:
  std::string name() const override { return "gemini"; }
  BackendSpec spec() const override {
    BackendSpec s;
    s.base_path = "/v1beta";
    s.host = "generativelanguage.googleapis.com";
    s.model = "gemini-2.5-flash";
    s.api_key = "AIza-contract";
    return s;
  }
  std::unique_ptr<ChatTranslator> translator() const override {
    return std::make_unique<GeminiTranslator>(kCreated, std::string(kCompletionId));
  }

  void check_transport(const UpstreamRequest& r, bool stream) const override {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, stream ? "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
                               : "/v1beta/models/gemini-2.5-flash:generateContent");
    EXPECT_EQ(header_of(r.headers, "x-goog-api-key"), "AIza-contract");
    EXPECT_EQ(r.stream, stream);
  }

  NeutralRequest decode(const UpstreamRequest& r) const override {
    const json::value body = json::parse(r.body);
    NeutralRequest n;
    const std::string_view target = r.target;
    const std::size_t from = target.find("/models/");
    const std::size_t to = target.rfind(':');
    if (from != std::string_view::npos && to != std::string_view::npos && to > from) {
      n.model = percent_decode(target.substr(from + 8, to - from - 8));
    }
    if (const json::value* si = body.as_object().if_contains("systemInstruction")) {
      n.system = texts_of(si->at("parts"));
    }
    for (const json::value& c : body.at("contents").as_array()) {
      const std::string_view role = c.at("role").as_string();
      Turn turn{role == "model" ? "assistant" : std::string(role), {}, {}, {}};
      for (const json::value& part : c.at("parts").as_array()) {
        const json::object& p = part.as_object();
        if (const json::value* t = p.if_contains("text")) {
          turn.texts.emplace_back(t->as_string());
        } else if (const json::value* fc = p.if_contains("functionCall")) {
          const json::value* args = fc->as_object().if_contains("args");
          turn.calls.push_back({std::string(fc->at("name").as_string()),
                                std::string(fc->at("name").as_string()),
                                args ? *args : json::value(json::object{})});
        } else if (const json::value* fr = p.if_contains("functionResponse")) {
          turn.results.push_back(
              {std::string(fr->at("name").as_string()), json::serialize(fr->at("response"))});
        }
      }
      n.turns.push_back(std::move(turn));
    }
    if (const json::value* tools = body.as_object().if_contains("tools")) {
      for (const json::value& t : tools->as_array()) {
        if (const json::value* decls = t.as_object().if_contains("functionDeclarations")) {
          for (const json::value& d : decls->as_array()) {
            const json::value* params = d.as_object().if_contains("parameters");
            n.tools.push_back(
                {std::string(d.at("name").as_string()), params ? *params : json::value()});
          }
        }
      }
    }
    return n;
  }

  bool merges_same_role_turns() const override { return true; }
  bool keeps_tool_call_ids() const override { return false; }
  bool reports_cached_tokens() const override { return true; }
  bool reports_reasoning_tokens() const override { return true; }
  std::string expected_model(std::string_view /*alias*/) const override { return kModelVersion; }

  std::string text_answer(const std::string& text, const Usage& u) const override {
    return json::serialize(response(json::array{json::object{{"text", text}}}, u, true));
  }

  std::string tool_answer(const std::vector<CannedCall>& calls, const Usage& u) const override {
    return json::serialize(response(function_calls(calls), u, true));
  }

  // Gemini's SSE uses CRLF framing and sends no terminator
  // (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
  std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                       const Usage& u) const override {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const bool last = i + 1 == pieces.size();
      out.push_back(crlf_event(response(json::array{json::object{{"text", pieces[i]}}},
                                        last ? u : prompt_only(u), last)));
    }
    return out;
  }

  std::vector<std::string> tool_stream(const std::vector<CannedCall>& calls,
                                       const Usage& u) const override {
    // Gemini streams each function call whole, never its arguments in pieces.
    return {crlf_event(response(function_calls(calls), u, true))};
  }

  std::string stream_error_event() const override {
    return crlf_event(json::parse(
        R"({"error":{"code":503,"message":"The model is overloaded. Please try again later.",)"
        R"("status":"UNAVAILABLE"}})"));
  }

  // https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
  NativeError error(ErrorKind kind) const override {
    const auto body = [](int code, std::string_view status, std::string_view message,
                         json::array details = {}) {
      json::object e{{"code", code}, {"message", message}, {"status", status}};
      if (!details.empty()) {
        e["details"] = std::move(details);
      }
      return json::serialize(json::object{{"error", std::move(e)}});
    };
    switch (kind) {
      case ErrorKind::kBadRequest:
        return {400,
                {},
                body(400, "INVALID_ARGUMENT", "Invalid JSON payload received."),
                "Invalid JSON payload received.",
                std::nullopt};
      case ErrorKind::kUnauthorized:
        return {401,
                {},
                body(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
                "Request had invalid authentication credentials.",
                std::nullopt};
      case ErrorKind::kRateLimited:
        return {429,
                {},
                body(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
                     json::array{json::object{{"@type", "type.googleapis.com/google.rpc.RetryInfo"},
                                              {"retryDelay", "7s"}}}),
                "You exceeded your current quota.",
                "7"};
      case ErrorKind::kServerError:
        return {500,
                {},
                body(500, "INTERNAL", "An internal error has occurred."),
                "An internal error has occurred.",
                std::nullopt};
      case ErrorKind::kOverloaded:
        return {503,
                {},
                body(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
                "The model is overloaded. Please try again later.",
                std::nullopt};
    }
    return {};
  }

 private:
  static constexpr const char* kModelVersion = "gemini-2.5-flash-001";

  static Usage prompt_only(const Usage& u) { return Usage{u.input, 0, u.cached_input, 0}; }

  static json::array function_calls(const std::vector<CannedCall>& calls) {
    json::array parts;
    for (const CannedCall& c : calls) {
      parts.push_back(
          json::object{{"functionCall", json::object{{"name", c.name}, {"args", c.args}}}});
    }
    return parts;
  }

  // usageMetadata: promptTokenCount includes cachedContentTokenCount; candidatesTokenCount
  // excludes thoughtsTokenCount (https://ai.google.dev/api/generate-content#UsageMetadata).
  static json::object response(json::array parts, const Usage& u, bool finished) {
    json::object candidate{
        {"content", json::object{{"parts", std::move(parts)}, {"role", "model"}}}, {"index", 0}};
    if (finished) {
      candidate["finishReason"] = "STOP";
    }
    json::object usage{{"promptTokenCount", u.input},
                       {"candidatesTokenCount", u.output - u.reasoning},
                       {"totalTokenCount", u.input + u.output}};
    if (u.cached_input > 0) {
      usage["cachedContentTokenCount"] = u.cached_input;
    }
    if (u.reasoning > 0) {
      usage["thoughtsTokenCount"] = u.reasoning;
    }
    return json::object{{"candidates", json::array{std::move(candidate)}},
                        {"usageMetadata", std::move(usage)},
                        {"modelVersion", kModelVersion},
                        {"responseId", "mD5aaContract"}};
  }

  static std::string crlf_event(const json::value& data) {
    return "data: " + json::serialize(data) + "\r\n\r\n";
  }
};

// ---- Bedrock ---------------------------------------------------------------------------------

class BedrockProvider final : public Provider {
 public:
  std::string name() const override { return "bedrock"; }
  BackendSpec spec() const override {
    BackendSpec s;
    s.host = "bedrock-runtime.us-east-1.amazonaws.com";
    s.model = kModel;
    s.api_key = "AKIDEXAMPLE";
    s.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    s.region = "us-east-1";
    return s;
  }
  std::unique_ptr<ChatTranslator> translator() const override {
    return std::make_unique<BedrockTranslator>(kCreated, "20250615T101500Z",
                                               std::string(kCompletionId));
  }

  void check_transport(const UpstreamRequest& r, bool stream) const override {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, std::string("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/") +
                            (stream ? "converse-stream" : "converse"));
    EXPECT_TRUE(header_of(r.headers, "authorization").starts_with("AWS4-HMAC-SHA256 "));
    EXPECT_EQ(r.stream, stream);
  }

  NeutralRequest decode(const UpstreamRequest& r) const override {
    const json::value body = json::parse(r.body);
    NeutralRequest n;
    const std::string_view target = r.target;
    const std::size_t from = target.find("/model/");
    const std::size_t to = target.rfind('/');
    if (from != std::string_view::npos && to > from + 7) {
      n.model = percent_decode(target.substr(from + 7, to - from - 7));
    }
    if (const json::value* system = body.as_object().if_contains("system")) {
      n.system = texts_of(*system);
    }
    for (const json::value& m : body.at("messages").as_array()) {
      Turn turn{std::string(m.at("role").as_string()), {}, {}, {}};
      for (const json::value& block : m.at("content").as_array()) {
        const json::object& b = block.as_object();
        if (const json::value* t = b.if_contains("text")) {
          turn.texts.emplace_back(t->as_string());
        } else if (const json::value* use = b.if_contains("toolUse")) {
          turn.calls.push_back({std::string(use->at("toolUseId").as_string()),
                                std::string(use->at("name").as_string()), use->at("input")});
        } else if (const json::value* res = b.if_contains("toolResult")) {
          turn.results.push_back({std::string(res->at("toolUseId").as_string()),
                                  joined(texts_of(res->at("content")))});
        }
      }
      n.turns.push_back(std::move(turn));
    }
    if (const json::value* config = body.as_object().if_contains("toolConfig")) {
      for (const json::value& t : config->at("tools").as_array()) {
        const json::value& s = t.at("toolSpec");
        n.tools.push_back({std::string(s.at("name").as_string()), s.at("inputSchema").at("json")});
      }
    }
    return n;
  }

  bool merges_same_role_turns() const override { return true; }
  bool reports_cached_tokens() const override { return true; }
  bool reports_reasoning_tokens() const override { return false; }
  std::string expected_model(std::string_view alias) const override { return std::string(alias); }

  std::string text_answer(const std::string& text, const Usage& u) const override {
    return json::serialize(answer(json::array{json::object{{"text", text}}}, "end_turn", u));
  }

  std::string tool_answer(const std::vector<CannedCall>& calls, const Usage& u) const override {
    json::array content;
    for (const CannedCall& c : calls) {
      content.push_back(json::object{
          {"toolUse", json::object{{"toolUseId", c.id}, {"name", c.name}, {"input", c.args}}}});
    }
    return json::serialize(answer(std::move(content), "tool_use", u));
  }

  std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                       const Usage& u) const override {
    std::vector<std::string> out{frame("messageStart", json::object{{"role", "assistant"}})};
    for (const std::string& p : pieces) {
      out.push_back(frame("contentBlockDelta", json::object{{"contentBlockIndex", 0},
                                                            {"delta", json::object{{"text", p}}}}));
    }
    out.push_back(frame("contentBlockStop", json::object{{"contentBlockIndex", 0}}));
    out.push_back(frame("messageStop", json::object{{"stopReason", "end_turn"}}));
    out.push_back(metadata(u));
    return out;
  }

  std::vector<std::string> tool_stream(const std::vector<CannedCall>& calls,
                                       const Usage& u) const override {
    std::vector<std::string> out{frame("messageStart", json::object{{"role", "assistant"}})};
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const CannedCall& c = calls[i];
      out.push_back(frame(
          "contentBlockStart",
          json::object{{"contentBlockIndex", i},
                       {"start", json::object{{"toolUse", json::object{{"toolUseId", c.id},
                                                                       {"name", c.name}}}}}}));
      for (const std::string& f : fragments_of(json::serialize(c.args))) {
        out.push_back(
            frame("contentBlockDelta",
                  json::object{{"contentBlockIndex", i},
                               {"delta", json::object{{"toolUse", json::object{{"input", f}}}}}}));
      }
      out.push_back(frame("contentBlockStop", json::object{{"contentBlockIndex", i}}));
    }
    out.push_back(frame("messageStop", json::object{{"stopReason", "tool_use"}}));
    out.push_back(metadata(u));
    return out;
  }

  std::string stream_error_event() const override {
    std::string out;
    EXPECT_TRUE(append_eventstream_message(
        out,
        {EventStreamHeader::string(":exception-type", "throttlingException"),
         EventStreamHeader::string(":content-type", "application/json"),
         EventStreamHeader::string(":message-type", "exception")},
        R"({"message":"Too many tokens, please wait before trying again."})"));
    return out;
  }

  // Errors: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
  NativeError error(ErrorKind kind) const override {
    const auto body = [](std::string_view message) {
      return json::serialize(json::object{{"message", message}});
    };
    switch (kind) {
      case ErrorKind::kBadRequest:
        return {400,
                {{"x-amzn-errortype",
                  "ValidationException:http://internal.amazon.com/coral/"
                  "com.amazon.bedrock/"}},
                body("Malformed input request, please reformat your input and try again."),
                "Malformed input request, please reformat your input and try again.",
                std::nullopt};
      case ErrorKind::kUnauthorized:
        return {401,
                {{"x-amzn-errortype", "UnrecognizedClientException"}},
                body("The security token included in the request is invalid."),
                "The security token included in the request is invalid.",
                std::nullopt};
      case ErrorKind::kRateLimited:
        return {429,
                {{"x-amzn-errortype",
                  "ThrottlingException:http://internal.amazon.com/coral/"
                  "com.amazon.bedrock/"},
                 {"retry-after", "7"}},
                body("Too many requests, please wait before trying again."),
                "Too many requests, please wait before trying again.",
                "7"};
      case ErrorKind::kServerError:
        return {500,
                {{"x-amzn-errortype", "InternalServerException"}},
                body("The server encountered an internal error."),
                "The server encountered an internal error.",
                std::nullopt};
      case ErrorKind::kOverloaded:
        return {503,
                {{"x-amzn-errortype", "ServiceUnavailableException"}, {"retry-after", "7"}},
                body("Bedrock is unable to process your request."),
                "Bedrock is unable to process your request.",
                "7"};
    }
    return {};
  }

 private:
  static constexpr const char* kModel = "anthropic.claude-3-5-sonnet-20240620-v1:0";

  // Bedrock's inputTokens excludes cacheReadInputTokens.
  static json::object usage_json(const Usage& u) {
    return json::object{{"inputTokens", u.input - u.cached_input},
                        {"outputTokens", u.output},
                        {"totalTokens", u.input + u.output},
                        {"cacheReadInputTokens", u.cached_input},
                        {"cacheWriteInputTokens", 0}};
  }

  static json::object answer(json::array content, std::string_view stop, const Usage& u) {
    return json::object{
        {"output", json::object{{"message", json::object{{"role", "assistant"},
                                                         {"content", std::move(content)}}}}},
        {"stopReason", stop},
        {"usage", usage_json(u)},
        {"metrics", json::object{{"latencyMs", 321}}}};
  }

  static std::string frame(std::string_view type, const json::object& payload) {
    std::string out;
    EXPECT_TRUE(
        append_eventstream_message(out,
                                   {EventStreamHeader::string(":event-type", std::string(type)),
                                    EventStreamHeader::string(":content-type", "application/json"),
                                    EventStreamHeader::string(":message-type", "event")},
                                   json::serialize(payload)));
    return out;
  }

  static std::string metadata(const Usage& u) {
    return frame("metadata", json::object{{"usage", usage_json(u)},
                                          {"metrics", json::object{{"latencyMs", 321}}}});
  }
};

// ---- Ollama (native /api/chat) ----------------------------------------------------------------

class OllamaProvider final : public Provider {
 public:
  std::string name() const override { return "ollama"; }
  BackendSpec spec() const override {
    BackendSpec s;
    s.host = "127.0.0.1:11434";
    s.model = kModel;
    return s;
  }
  std::unique_ptr<ChatTranslator> translator() const override {
    return std::make_unique<OllamaTranslator>(kCreated, std::string(kCompletionId));
  }

  void check_transport(const UpstreamRequest& r, bool stream) const override {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/api/chat");
    EXPECT_EQ(r.stream, stream);
    // Ollama streams by default, so the member must always be explicit.
    EXPECT_EQ(json::parse(r.body).at("stream"), json::value(stream));
  }

  // https://github.com/ollama/ollama/blob/main/docs/api.md#chat-request-with-tools
  NeutralRequest decode(const UpstreamRequest& r) const override {
    const json::value body = json::parse(r.body);
    NeutralRequest n;
    n.model = std::string(body.at("model").as_string());
    for (const json::value& m : body.at("messages").as_array()) {
      const std::string role(m.at("role").as_string());
      const json::object& o = m.as_object();
      std::vector<std::string> texts;
      if (const json::value* c = o.if_contains("content");
          c && c->is_string() && !c->as_string().empty()) {
        texts.emplace_back(c->as_string());
      }
      if (role == "system") {
        n.system.insert(n.system.end(), texts.begin(), texts.end());
        continue;
      }
      Turn turn{role, std::move(texts), {}, {}};
      if (const json::value* calls = o.if_contains("tool_calls")) {
        // Ollama has no call ids in requests: a result names its function (`tool_name`).
        for (const json::value& c : calls->as_array()) {
          const std::string fn(c.at("function").at("name").as_string());
          turn.calls.push_back({fn, fn, c.at("function").at("arguments")});
        }
      }
      if (role == "tool") {
        const json::value* tool_name = o.if_contains("tool_name");
        turn.results.push_back(
            {tool_name ? std::string(tool_name->as_string()) : std::string(), joined(turn.texts)});
        turn.texts.clear();
      }
      n.turns.push_back(std::move(turn));
    }
    if (const json::value* tools = body.as_object().if_contains("tools")) {
      for (const json::value& t : tools->as_array()) {
        n.tools.push_back({std::string(t.at("function").at("name").as_string()),
                           t.at("function").at("parameters")});
      }
    }
    return n;
  }

  bool merges_same_role_turns() const override { return false; }
  bool keeps_tool_call_ids() const override { return false; }
  bool reports_cached_tokens() const override { return false; }
  bool reports_reasoning_tokens() const override { return false; }
  std::string expected_model(std::string_view /*alias*/) const override { return kModel; }

  std::string text_answer(const std::string& text, const Usage& u) const override {
    return json::serialize(line(json::object{{"role", "assistant"}, {"content", text}}, u));
  }

  std::string tool_answer(const std::vector<CannedCall>& calls, const Usage& u) const override {
    return json::serialize(line(
        json::object{{"role", "assistant"}, {"content", ""}, {"tool_calls", ollama_calls(calls)}},
        u));
  }

  // NDJSON: one object per line, the last one `"done": true` with the counts.
  std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                       const Usage& u) const override {
    std::vector<std::string> out;
    for (const std::string& p : pieces) {
      out.push_back(
          json::serialize(line(json::object{{"role", "assistant"}, {"content", p}}, std::nullopt)) +
          "\n");
    }
    out.push_back(json::serialize(line(json::object{{"role", "assistant"}, {"content", ""}}, u)) +
                  "\n");
    return out;
  }

  // Ollama sends each tool call whole, in a message of its own.
  std::vector<std::string> tool_stream(const std::vector<CannedCall>& calls,
                                       const Usage& u) const override {
    std::vector<std::string> out;
    for (const CannedCall& c : calls) {
      out.push_back(json::serialize(line(json::object{{"role", "assistant"},
                                                      {"content", ""},
                                                      {"tool_calls", ollama_calls({c})}},
                                         std::nullopt)) +
                    "\n");
    }
    out.push_back(json::serialize(line(json::object{{"role", "assistant"}, {"content", ""}}, u)) +
                  "\n");
    return out;
  }

  std::string stream_error_event() const override {
    return R"({"error":"an error was encountered while running the model"})"
           "\n";
  }

  NativeError error(ErrorKind kind) const override {
    const auto body = [](std::string_view message) {
      return json::serialize(json::object{{"error", message}});
    };
    switch (kind) {
      case ErrorKind::kBadRequest:
        return {400,
                {},
                body("invalid options: num_predict"),
                "invalid options: num_predict",
                std::nullopt};
      case ErrorKind::kUnauthorized:
        return {401, {}, body("unauthorized"), "unauthorized", std::nullopt};
      case ErrorKind::kRateLimited:
        return {429, {}, body("too many requests"), "too many requests", std::nullopt};
      case ErrorKind::kServerError:
        return {500,
                {},
                body("llama runner process has terminated: exit status 2"),
                "llama runner process has terminated: exit status 2",
                std::nullopt};
      case ErrorKind::kOverloaded:
        return {503,
                {},
                body("server busy, please try again.  maximum pending requests exceeded"),
                "server busy, please try again.  maximum pending requests exceeded",
                std::nullopt};
    }
    return {};
  }

 private:
  static constexpr const char* kModel = "llama3.2:3b";
  static constexpr const char* kCreatedAt = "2025-06-15T15:08:43.123456Z";  // kCreated

  static json::array ollama_calls(const std::vector<CannedCall>& calls) {
    json::array out;
    for (const CannedCall& c : calls) {
      out.push_back(
          json::object{{"function", json::object{{"name", c.name}, {"arguments", c.args}}}});
    }
    return out;
  }

  /// One answer object; `usage` set marks the final (`done`) one. Ollama has no cached-token
  /// count: prompt_eval_count is the whole prompt.
  static json::object line(json::object message, const std::optional<Usage>& usage) {
    json::object o{{"model", kModel}, {"created_at", kCreatedAt}, {"message", std::move(message)}};
    o["done"] = usage.has_value();
    if (usage) {
      o["done_reason"] = "stop";
      o["total_duration"] = 4883583458;
      o["prompt_eval_count"] = usage->input;
      o["eval_count"] = usage->output;
    }
    return o;
  }
};

// ---- Azure OpenAI ---------------------------------------------------------------------------

class AzureProvider final : public Provider {
 public:
  std::string name() const override { return "azure"; }
  bool passes_bytes_through() const override { return true; }
  BackendSpec spec() const override {
    BackendSpec s;
    s.host = "contoso.openai.azure.com";
    s.model = "gpt4o-prod";
    s.api_key = "azure-contract-key";
    s.api_version = "2024-10-21";
    return s;
  }
  std::unique_ptr<ChatTranslator> translator() const override {
    return std::make_unique<AzureTranslator>();
  }

  void check_transport(const UpstreamRequest& r, bool stream) const override {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
    EXPECT_EQ(header_of(r.headers, "api-key"), "azure-contract-key");
    EXPECT_TRUE(header_of(r.headers, "authorization").empty());
    EXPECT_EQ(r.stream, stream);
  }

  NeutralRequest decode(const UpstreamRequest& r) const override {
    return decode_openai_body(json::parse(r.body));
  }

  bool merges_same_role_turns() const override { return false; }
  bool reports_cached_tokens() const override { return true; }
  bool reports_reasoning_tokens() const override { return true; }
  std::string expected_model(std::string_view /*alias*/) const override { return kModel; }

  std::string text_answer(const std::string& text, const Usage& u) const override {
    return json::serialize(filtered(wire_.completion(
        json::object{{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}, "stop", u)));
  }

  std::string tool_answer(const std::vector<CannedCall>& calls, const Usage& u) const override {
    return json::serialize(
        filtered(wire_.completion(json::object{{"role", "assistant"},
                                               {"content", nullptr},
                                               {"tool_calls", OpenAIWire::tool_calls(calls)}},
                                  "tool_calls", u)));
  }

  // https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-streaming: a first
  // chunk with empty choices holding the prompt filter verdict, annotation chunks with empty ids.
  std::vector<std::string> text_stream(const std::vector<std::string>& pieces,
                                       const Usage& u) const override {
    return framed(wire_.text_chunks(pieces), u);
  }

  std::vector<std::string> tool_stream(const std::vector<CannedCall>& calls,
                                       const Usage& u) const override {
    return framed(wire_.tool_chunks(calls), u);
  }

  std::string stream_error_event() const override {
    return sse(json::parse(OpenAIWire::error_body(
        "The server had an error while processing your request.", "server_error", nullptr)));
  }

  // https://learn.microsoft.com/azure/ai-foundry/openai/reference (error responses)
  NativeError error(ErrorKind kind) const override {
    const auto azure = [](std::string_view code, std::string_view message) {
      return json::serialize(
          json::object{{"error", json::object{{"code", code}, {"message", message}}}});
    };
    switch (kind) {
      case ErrorKind::kBadRequest:
        return {400,
                {},
                OpenAIWire::error_body("Invalid value for 'temperature'.", "invalid_request_error",
                                       nullptr),
                "Invalid value for 'temperature'.",
                std::nullopt};
      case ErrorKind::kUnauthorized:
        return {
            401,
            {},
            azure("401", "Access denied due to invalid subscription key or wrong API endpoint."),
            "Access denied due to invalid subscription key or wrong API endpoint.",
            std::nullopt};
      case ErrorKind::kRateLimited:
        return {429,
                {{"retry-after", "7"}},
                azure("429",
                      "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
                      "version 2024-10-21 have exceeded token rate limit of your current pricing "
                      "tier. Please retry after 7 seconds."),
                "have exceeded token rate limit",
                "7"};
      case ErrorKind::kServerError:
        return {
            500,
            {},
            azure("InternalServerError", "The server had an error while processing your request."),
            "The server had an error while processing your request.",
            std::nullopt};
      case ErrorKind::kOverloaded:
        return {503,
                {},
                azure("ServiceUnavailable",
                      "The service is temporarily unable to process your request."),
                "The service is temporarily unable to process your request.",
                std::nullopt};
    }
    return {};
  }

 private:
  static constexpr const char* kModel = "gpt-4o-2024-11-20";
  OpenAIWire wire_{"chatcmpl-BYcvCkaKJjQIM7e2j6vg08RIcY8qp", kModel};

  static json::object safe() {
    return json::object{{"hate", json::object{{"filtered", false}, {"severity", "safe"}}},
                        {"self_harm", json::object{{"filtered", false}, {"severity", "safe"}}},
                        {"sexual", json::object{{"filtered", false}, {"severity", "safe"}}},
                        {"violence", json::object{{"filtered", false}, {"severity", "safe"}}}};
  }

  static json::object filtered(json::object completion) {
    completion["prompt_filter_results"] =
        json::array{json::object{{"prompt_index", 0}, {"content_filter_results", safe()}}};
    for (json::value& c : completion["choices"].as_array()) {
      c.as_object()["content_filter_results"] = safe();
    }
    return completion;
  }

  std::vector<std::string> framed(const std::vector<json::object>& chunks, const Usage& u) const {
    std::vector<std::string> out{sse(json::object{
        {"choices", json::array{}},
        {"created", 0},
        {"id", ""},
        {"model", ""},
        {"object", ""},
        {"prompt_filter_results",
         json::array{json::object{{"prompt_index", 0}, {"content_filter_results", safe()}}}}})};
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      out.push_back(sse(chunks[i]));
      if (i == 1) {
        // An annotation chunk after the first content.
        out.push_back(sse(json::object{
            {"choices",
             json::array{json::object{
                 {"content_filter_offsets",
                  json::object{{"check_offset", 0}, {"start_offset", 0}, {"end_offset", 4}}},
                 {"content_filter_results", safe()},
                 {"finish_reason", nullptr},
                 {"index", 0}}}},
            {"created", 0},
            {"id", ""},
            {"model", ""},
            {"object", ""}}));
      }
    }
    out.push_back(sse(wire_.usage_chunk(u)));
    out.emplace_back("data: [DONE]\n\n");
    return out;
  }
};

// ---- the contract ------------------------------------------------------------------------------

/// What the client sees of a translated stream.
struct ClientStream {
  std::vector<json::value> chunks;  ///< parsed `data:` JSON events, in order
  std::size_t done_events = 0;      ///< `data: [DONE]` events
  bool ends_with_done = false;
  std::vector<std::string> unparsed;  ///< data that is neither [DONE] nor JSON
};

ClientStream read_client_stream(const std::string& out) {
  SseParser parser;
  std::vector<SseEvent> events;
  parser.feed(out, events);
  EXPECT_TRUE(parser.at_boundary()) << "the client stream ends mid-event";
  ClientStream s;
  for (const SseEvent& e : events) {
    if (e.data == "[DONE]") {
      ++s.done_events;
      continue;
    }
    boost::system::error_code ec;
    json::value v = json::parse(e.data, ec);
    if (ec) {
      s.unparsed.push_back(e.data);
    } else {
      s.chunks.push_back(std::move(v));
    }
  }
  s.ends_with_done = out.ends_with("data: [DONE]\n\n");
  return s;
}

struct StreamRun {
  std::string out;
  bool fed = true;
  bool finished = false;
  std::unique_ptr<StreamTranslator> st;
};

/// Feeds `upstream` whole, or one byte at a time, then finishes. Stops feeding after a failure.
StreamRun run_stream(const ChatTranslator& t, const std::string& upstream, bool include_usage,
                     bool bytewise) {
  StreamRun run;
  run.st = t.stream(include_usage, kAlias);
  if (bytewise) {
    for (std::size_t i = 0; i < upstream.size() && run.fed; ++i) {
      run.fed = run.st->feed(std::string_view(upstream).substr(i, 1), run.out);
    }
  } else {
    run.fed = run.st->feed(upstream, run.out);
  }
  if (run.fed) {
    run.finished = run.st->finish(run.out);
  }
  return run;
}

std::string concat(const std::vector<std::string>& events) {
  std::string out;
  for (const std::string& e : events) {
    out += e;
  }
  return out;
}

/// The usage the canned answers report, as far as `p` can report it.
Usage canned_usage(const Provider& p) {
  Usage u;
  u.input = 1200;
  u.output = 43;
  u.cached_input = p.reports_cached_tokens() ? 1024 : 0;
  u.reasoning = p.reports_reasoning_tokens() ? 40 : 0;
  return u;
}

void expect_usage(const json::value& usage, const Usage& want) {
  ASSERT_TRUE(usage.is_object()) << json::serialize(usage);
  const std::optional<Usage> got = usage_from_openai_usage(usage);
  ASSERT_TRUE(got) << json::serialize(usage);
  EXPECT_EQ(got->input, want.input);
  EXPECT_EQ(got->output, want.output);
  EXPECT_EQ(got->cached_input, want.cached_input);
  EXPECT_EQ(got->reasoning, want.reasoning);
  const json::value* total = usage.as_object().if_contains("total_tokens");
  ASSERT_TRUE(total && total->is_int64()) << json::serialize(usage);
  EXPECT_EQ(total->as_int64(), want.input + want.output);
}

void expect_same_usage(const std::optional<Usage>& got, const Usage& want) {
  ASSERT_TRUE(got);
  EXPECT_EQ(got->input, want.input);
  EXPECT_EQ(got->output, want.output);
  EXPECT_EQ(got->cached_input, want.cached_input);
  EXPECT_EQ(got->reasoning, want.reasoning);
}

std::vector<CannedCall> canned_calls() {
  return {{"toolu_01Weather", "get_weather", json::object{{"city", "Paris"}, {"days", 3}}},
          {"toolu_02Clock", "get_time", json::object{}}};
}

const char* const kToolsJson = R"([{"type":"function","function":{"name":"get_weather",
  "description":"Current weather for a city",
  "parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},
  "days":{"type":"integer","description":"Days ahead"}},"required":["city"]}}},
  {"type":"function","function":{"name":"get_time","description":"Local time",
  "parameters":{"type":"object","properties":{"tz":{"type":"string"}}}}}])";

class ProviderContractTest : public testing::TestWithParam<ProviderPtr> {
 protected:
  const Provider& provider() const { return *GetParam(); }

  /// Translates `body` (a client request); fails the test when the translator refuses it.
  /// The gateway's entry (request_from, on the typed reading) and the text entry (request) give
  /// the same request.
  std::optional<UpstreamRequest> translate(const std::string& body) const {
    const std::unique_ptr<ChatTranslator> t = provider().translator();
    const Result<ChatRequest, ParseError> typed = parse_chat_request(body);
    EXPECT_TRUE(typed) << body;
    if (!typed) {
      return std::nullopt;
    }
    auto r = t->request_from(*typed, provider().spec());
    EXPECT_TRUE(r) << (r ? 0u : r.error().status) << " " << (r ? "" : r.error().message);
    if (!r) {
      return std::nullopt;
    }
    const auto from_text = t->request(body, provider().spec());
    EXPECT_TRUE(from_text && from_text->body == r->body && from_text->target == r->target &&
                from_text->headers == r->headers && from_text->stream == r->stream)
        << body;
    return std::move(*r);
  }

  /// Checks the chat.completion envelope shared by every non-stream answer.
  void expect_completion_envelope(const json::value& v) const {
    EXPECT_EQ(v.at("object"), "chat.completion");
    ASSERT_TRUE(v.at("id").is_string());
    EXPECT_FALSE(v.at("id").as_string().empty());
    EXPECT_EQ(v.at("created"), kCreated);
    EXPECT_EQ(v.at("model"), json::value(provider().expected_model(kAlias)));
    ASSERT_EQ(v.at("choices").as_array().size(), 1u);
    EXPECT_EQ(v.at("choices").at(0).at("index"), 0);
    EXPECT_EQ(v.at("choices").at(0).at("message").at("role"), "assistant");
  }

  /// Checks the envelope shared by every chunk of a successful stream.
  void expect_chunk_envelopes(const ClientStream& s) const {
    ASSERT_FALSE(s.chunks.empty());
    const json::value& id = s.chunks.front().at("id");
    ASSERT_TRUE(id.is_string());
    EXPECT_FALSE(id.as_string().empty());
    for (const json::value& c : s.chunks) {
      EXPECT_EQ(c.at("id"), id) << json::serialize(c);
      EXPECT_EQ(c.at("object"), "chat.completion.chunk") << json::serialize(c);
      EXPECT_EQ(c.at("created"), kCreated) << json::serialize(c);
      EXPECT_EQ(c.at("model"), json::value(provider().expected_model(kAlias)))
          << json::serialize(c);
    }
  }
};

// 1. simple ----------------------------------------------------------------------------------

TEST_P(ProviderContractTest, SimpleRequestCarriesTheUserMessageInTheProviderShape) {
  const auto r = translate(
      R"({"model":"frontier","messages":[{"role":"user","content":"Say hello in French."}]})");
  ASSERT_TRUE(r);
  provider().check_transport(*r, false);
  const NeutralRequest n = provider().decode(*r);
  EXPECT_EQ(n.model, provider().spec().model);
  EXPECT_TRUE(n.system.empty());
  ASSERT_EQ(n.turns.size(), 1u);
  EXPECT_EQ(n.turns[0].role, "user");
  EXPECT_EQ(n.turns[0].texts, std::vector<std::string>{"Say hello in French."});
  EXPECT_TRUE(n.tools.empty());
}

TEST_P(ProviderContractTest, StreamRequestAsksTheProviderForAStream) {
  const auto r = translate(
      R"({"model":"frontier","stream":true,"stream_options":{"include_usage":true},
          "messages":[{"role":"user","content":"Say hello in French."}]})");
  ASSERT_TRUE(r);
  provider().check_transport(*r, true);
  EXPECT_EQ(provider().decode(*r).model, provider().spec().model);
}

TEST_P(ProviderContractTest, SimpleAnswerBecomesAChatCompletion) {
  const Usage usage = canned_usage(provider());
  const auto t = provider().translator();
  const TranslatedResponse r =
      t->response(200, "application/json", provider().text_answer("Bonjour !", usage), kAlias);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_FALSE(r.retryable);
  const json::value v = json::parse(r.body);
  expect_completion_envelope(v);
  const json::value& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("message").at("content"), "Bonjour !");
  EXPECT_EQ(choice.at("finish_reason"), "stop");
  expect_usage(v.at("usage"), usage);
  expect_same_usage(r.usage, usage);
}

// 2. system prompt ---------------------------------------------------------------------------

TEST_P(ProviderContractTest, SystemAndDeveloperMessagesAreLiftedOnce) {
  const auto r = translate(R"({"model":"frontier","messages":[
      {"role":"system","content":"You are terse."},
      {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
      {"role":"user","content":"Hello"}]})");
  ASSERT_TRUE(r);
  const NeutralRequest n = provider().decode(*r);
  EXPECT_EQ(n.system, (std::vector<std::string>{"You are terse.", "Answer in French."}));
  ASSERT_EQ(n.turns.size(), 1u);
  EXPECT_EQ(n.turns[0].role, "user");
  EXPECT_EQ(n.turns[0].texts, std::vector<std::string>{"Hello"});
  // The instructions are nowhere among the conversation turns.
  for (const Turn& turn : n.turns) {
    for (const std::string& text : turn.texts) {
      EXPECT_EQ(text.find("terse"), std::string::npos);
      EXPECT_EQ(text.find("French"), std::string::npos);
    }
  }
}

// 3. multi-turn ------------------------------------------------------------------------------

TEST_P(ProviderContractTest, MultiTurnKeepsOrderAndMergesSameRoleWhereRequired) {
  const auto alternating = translate(R"({"model":"frontier","messages":[
      {"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},
      {"role":"user","content":"Q2"}]})");
  ASSERT_TRUE(alternating);
  const NeutralRequest a = provider().decode(*alternating);
  ASSERT_EQ(a.turns.size(), 3u);
  EXPECT_EQ(a.turns[0].role, "user");
  EXPECT_EQ(a.turns[0].texts, std::vector<std::string>{"Q1"});
  EXPECT_EQ(a.turns[1].role, "assistant");
  EXPECT_EQ(a.turns[1].texts, std::vector<std::string>{"A1"});
  EXPECT_EQ(a.turns[2].role, "user");
  EXPECT_EQ(a.turns[2].texts, std::vector<std::string>{"Q2"});

  const auto repeated = translate(R"({"model":"frontier","messages":[
      {"role":"user","content":"Q1a"},{"role":"user","content":"Q1b"},
      {"role":"assistant","content":"A1"},{"role":"user","content":"Q2"}]})");
  ASSERT_TRUE(repeated);
  const NeutralRequest m = provider().decode(*repeated);
  if (provider().merges_same_role_turns()) {
    ASSERT_EQ(m.turns.size(), 3u);
    EXPECT_EQ(m.turns[0].role, "user");
    EXPECT_EQ(m.turns[0].texts, (std::vector<std::string>{"Q1a", "Q1b"}));
    EXPECT_EQ(m.turns[1].role, "assistant");
    EXPECT_EQ(m.turns[2].texts, std::vector<std::string>{"Q2"});
  } else {
    ASSERT_EQ(m.turns.size(), 4u);
    EXPECT_EQ(m.turns[0].texts, std::vector<std::string>{"Q1a"});
    EXPECT_EQ(m.turns[1].texts, std::vector<std::string>{"Q1b"});
    EXPECT_EQ(m.turns[2].role, "assistant");
    EXPECT_EQ(m.turns[3].texts, std::vector<std::string>{"Q2"});
  }
}

// 4. tools -----------------------------------------------------------------------------------

TEST_P(ProviderContractTest, ToolsAreDeclaredWithNamesAndSchemas) {
  const auto r = translate(std::string(R"({"model":"frontier","messages":[
      {"role":"user","content":"Weather in Paris?"}],"tools":)") +
                           kToolsJson + "}");
  ASSERT_TRUE(r);
  const NeutralRequest n = provider().decode(*r);
  const json::value tools = json::parse(kToolsJson);
  ASSERT_EQ(n.tools.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(n.tools[i].name, tools.at(i).at("function").at("name").as_string());
    EXPECT_EQ(n.tools[i].schema, tools.at(i).at("function").at("parameters"))
        << json::serialize(n.tools[i].schema);
  }
}

TEST_P(ProviderContractTest, ToolCallAnswerBecomesToolCalls) {
  const std::vector<CannedCall> calls = canned_calls();
  const auto t = provider().translator();
  const TranslatedResponse r = t->response(
      200, "application/json", provider().tool_answer(calls, canned_usage(provider())), kAlias);
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value v = json::parse(r.body);
  expect_completion_envelope(v);
  const json::value& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  const json::array& got = choice.at("message").at("tool_calls").as_array();
  ASSERT_EQ(got.size(), calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    SCOPED_TRACE(calls[i].name);
    const json::value& c = got[i];
    ASSERT_TRUE(c.at("id").is_string());
    EXPECT_FALSE(c.at("id").as_string().empty());
    if (provider().keeps_tool_call_ids()) {
      EXPECT_EQ(c.at("id"), json::value(calls[i].id));
    }
    EXPECT_EQ(c.at("type"), "function");
    EXPECT_EQ(c.at("function").at("name"), json::value(calls[i].name));
    ASSERT_TRUE(c.at("function").at("arguments").is_string());
    EXPECT_EQ(json::parse(c.at("function").at("arguments").as_string()), calls[i].args);
  }
  EXPECT_NE(got[0].at("id"), got[1].at("id"));
  expect_same_usage(r.usage, canned_usage(provider()));
}

TEST_P(ProviderContractTest, ToolResultsFollowAndLinkToTheirCalls) {
  const auto r = translate(std::string(R"({"model":"frontier","messages":[
      {"role":"user","content":"Weather in Paris?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"toolu_01Weather","type":"function",
        "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"days\":3}"}}]},
      {"role":"tool","tool_call_id":"toolu_01Weather","content":"18C and sunny"}],
      "tools":)") + kToolsJson +
                           "}");
  ASSERT_TRUE(r);
  const NeutralRequest n = provider().decode(*r);
  ASSERT_EQ(n.turns.size(), 3u);
  EXPECT_EQ(n.turns[0].role, "user");
  const Turn& call_turn = n.turns[1];
  EXPECT_EQ(call_turn.role, "assistant");
  ASSERT_EQ(call_turn.calls.size(), 1u);
  const Call& call = call_turn.calls[0];
  EXPECT_EQ(call.name, "get_weather");
  EXPECT_EQ(call.args, json::parse(R"({"city":"Paris","days":3})"));
  if (provider().keeps_tool_call_ids()) {
    EXPECT_EQ(call.id, "toolu_01Weather");
  }
  const Turn& result_turn = n.turns[2];
  EXPECT_NE(result_turn.role, "assistant");
  ASSERT_EQ(result_turn.results.size(), 1u);
  EXPECT_EQ(result_turn.results[0].id, call.id);
  EXPECT_NE(result_turn.results[0].content.find("18C and sunny"), std::string::npos)
      << result_turn.results[0].content;
}

// 5. streaming -------------------------------------------------------------------------------

TEST_P(ProviderContractTest, StreamBecomesChunksTheSameWholeOrByteByByte) {
  const std::vector<std::string> pieces{"Once", " upon", " a time."};
  const Usage usage = canned_usage(provider());
  const std::string upstream = concat(provider().text_stream(pieces, usage));
  const auto t = provider().translator();
  const StreamRun whole = run_stream(*t, upstream, false, false);
  ASSERT_TRUE(whole.fed) << whole.out;
  ASSERT_TRUE(whole.finished) << whole.out;
  EXPECT_FALSE(whole.st->error());
  const StreamRun bytes = run_stream(*t, upstream, false, true);
  EXPECT_TRUE(bytes.fed && bytes.finished);
  EXPECT_EQ(bytes.out, whole.out);

  const ClientStream s = read_client_stream(whole.out);
  EXPECT_TRUE(s.unparsed.empty());
  EXPECT_EQ(s.done_events, 1u);
  EXPECT_TRUE(s.ends_with_done);
  expect_chunk_envelopes(s);
  ASSERT_FALSE(s.chunks.front().at("choices").as_array().empty());
  EXPECT_EQ(s.chunks.front().at("choices").at(0).at("delta").at("role"), "assistant");
  std::string content;
  std::size_t finishes = 0;
  for (const json::value& c : s.chunks) {
    for (const json::value& choice : c.at("choices").as_array()) {
      const json::object& delta = choice.at("delta").as_object();
      if (const json::value* text = delta.if_contains("content"); text && text->is_string()) {
        content += text->as_string();
      }
      if (!choice.at("finish_reason").is_null()) {
        ++finishes;
        EXPECT_EQ(choice.at("finish_reason"), "stop");
      }
    }
  }
  EXPECT_EQ(content, "Once upon a time.");
  EXPECT_EQ(finishes, 1u);
}

// 6. streaming with tools --------------------------------------------------------------------

TEST_P(ProviderContractTest, StreamedToolCallsBecomeToolCallDeltas) {
  const std::vector<CannedCall> calls = canned_calls();
  const std::string upstream = concat(provider().tool_stream(calls, canned_usage(provider())));
  const auto t = provider().translator();
  const StreamRun whole = run_stream(*t, upstream, false, false);
  ASSERT_TRUE(whole.fed && whole.finished) << whole.out;
  EXPECT_EQ(run_stream(*t, upstream, false, true).out, whole.out);
  const ClientStream s = read_client_stream(whole.out);
  expect_chunk_envelopes(s);
  EXPECT_TRUE(s.ends_with_done);

  struct Seen {
    std::string id;
    std::string name;
    std::string arguments;
    std::size_t deltas = 0;
  };
  std::vector<Seen> seen;
  std::vector<std::string> finish_reasons;
  for (const json::value& c : s.chunks) {
    for (const json::value& choice : c.at("choices").as_array()) {
      if (!choice.at("finish_reason").is_null()) {
        finish_reasons.emplace_back(choice.at("finish_reason").as_string());
      }
      const json::value* tcs = choice.at("delta").as_object().if_contains("tool_calls");
      if (tcs == nullptr) {
        continue;
      }
      for (const json::value& tc : tcs->as_array()) {
        const std::size_t index = static_cast<std::size_t>(tc.at("index").to_number<int64_t>());
        if (index >= seen.size()) {
          ASSERT_EQ(index, seen.size()) << "tool call indexes must appear in order";
          seen.emplace_back();
          // The first delta of a call carries its identity.
          ASSERT_TRUE(tc.as_object().contains("id")) << json::serialize(tc);
          seen.back().id = std::string(tc.at("id").as_string());
          EXPECT_EQ(tc.at("type"), "function");
          seen.back().name = std::string(tc.at("function").at("name").as_string());
        }
        if (const json::value* args = tc.at("function").as_object().if_contains("arguments")) {
          seen[index].arguments += args->as_string();
        }
        ++seen[index].deltas;
      }
    }
  }
  EXPECT_EQ(finish_reasons, std::vector<std::string>{"tool_calls"});
  ASSERT_EQ(seen.size(), calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    SCOPED_TRACE(calls[i].name);
    EXPECT_FALSE(seen[i].id.empty());
    if (provider().keeps_tool_call_ids()) {
      EXPECT_EQ(seen[i].id, calls[i].id);
    }
    EXPECT_EQ(seen[i].name, calls[i].name);
    boost::system::error_code ec;
    const json::value args = json::parse(seen[i].arguments, ec);
    ASSERT_FALSE(ec) << seen[i].arguments;
    EXPECT_EQ(args, calls[i].args);
  }
  EXPECT_NE(seen[0].id, seen[1].id);
}

// 7. usage -----------------------------------------------------------------------------------

TEST_P(ProviderContractTest, StreamUsageChunkOnlyWhenAskedButAlwaysReported) {
  const Usage usage = canned_usage(provider());
  const std::string upstream = concat(provider().text_stream({"Hi", " there"}, usage));
  const auto t = provider().translator();
  {
    SCOPED_TRACE("include_usage true");
    const StreamRun run = run_stream(*t, upstream, true, false);
    ASSERT_TRUE(run.fed && run.finished) << run.out;
    const ClientStream s = read_client_stream(run.out);
    expect_chunk_envelopes(s);
    EXPECT_TRUE(s.ends_with_done);
    const json::value& last = s.chunks.back();
    EXPECT_TRUE(last.at("choices").as_array().empty()) << json::serialize(last);
    expect_usage(last.at("usage"), usage);
    // No other chunk carries usage.
    for (std::size_t i = 0; i + 1 < s.chunks.size(); ++i) {
      const json::value* u = s.chunks[i].as_object().if_contains("usage");
      EXPECT_TRUE(u == nullptr || u->is_null()) << json::serialize(s.chunks[i]);
      EXPECT_FALSE(s.chunks[i].at("choices").as_array().empty());
    }
    expect_same_usage(run.st->usage(), usage);
  }
  {
    SCOPED_TRACE("include_usage false");
    const StreamRun run = run_stream(*t, upstream, false, false);
    ASSERT_TRUE(run.fed && run.finished) << run.out;
    const ClientStream s = read_client_stream(run.out);
    for (const json::value& c : s.chunks) {
      EXPECT_FALSE(c.at("choices").as_array().empty()) << json::serialize(c);
      const json::value* u = c.as_object().if_contains("usage");
      EXPECT_TRUE(u == nullptr || u->is_null()) << json::serialize(c);
    }
    expect_same_usage(run.st->usage(), usage);
  }
}

// 8. errors ----------------------------------------------------------------------------------

TEST_P(ProviderContractTest, NativeErrorsBecomeOpenAiErrors) {
  const auto t = provider().translator();
  for (const ErrorKind kind :
       {ErrorKind::kBadRequest, ErrorKind::kUnauthorized, ErrorKind::kRateLimited,
        ErrorKind::kServerError, ErrorKind::kOverloaded}) {
    SCOPED_TRACE(std::string(to_string(kind)));
    const NativeError native = provider().error(kind);
    // As the gateway does: the translator gets the one response header it asks for.
    const TranslatedResponse r =
        t->response_with_header(native.status, "application/json", native.body, kAlias,
                                header_of(native.headers, t->response_header()));
    switch (kind) {
      case ErrorKind::kBadRequest:
        EXPECT_EQ(r.status, 400u);
        break;
      case ErrorKind::kUnauthorized:
        EXPECT_EQ(r.status, 401u);
        break;
      case ErrorKind::kRateLimited:
        EXPECT_EQ(r.status, 429u);
        break;
      case ErrorKind::kServerError:
        EXPECT_GE(r.status, 500u);
        EXPECT_LE(r.status, 599u);
        break;
      case ErrorKind::kOverloaded:
        EXPECT_EQ(r.status, 503u);
        break;
    }
    const bool retryable = kind != ErrorKind::kBadRequest && kind != ErrorKind::kUnauthorized;
    EXPECT_EQ(r.retryable, retryable);
    // What the client is told to wait: the upstream's Retry-After header, which the gateway
    // relays itself, else the hint the translator found in the body.
    const std::string header = header_of(native.headers, "retry-after");
    const std::optional<std::string> told = header.empty() ? r.retry_after : header;
    EXPECT_EQ(told, retryable ? native.retry_after : std::nullopt);
    if (!retryable) {
      EXPECT_FALSE(r.retry_after);
    }
    EXPECT_FALSE(r.usage);

    boost::system::error_code ec;
    const json::value v = json::parse(r.body, ec);
    ASSERT_FALSE(ec) << r.body;
    const json::object* e =
        v.as_object().if_contains("error") ? v.at("error").if_object() : nullptr;
    ASSERT_TRUE(e) << r.body;
    ASSERT_TRUE(e->contains("message") && e->at("message").is_string()) << r.body;
    EXPECT_NE(std::string_view(e->at("message").as_string()).find(native.message),
              std::string_view::npos)
        << r.body;
    ASSERT_TRUE(e->contains("type") && e->at("type").is_string()) << r.body;
    EXPECT_FALSE(e->at("type").as_string().empty());
    EXPECT_TRUE(e->contains("param")) << r.body;
    EXPECT_TRUE(e->contains("code")) << r.body;
    if (kind == ErrorKind::kBadRequest) {
      EXPECT_EQ(e->at("type"), "invalid_request_error");
    }
  }
}

// 9. broken streams ----------------------------------------------------------------------------

/// Index of the first native event carrying `text`.
std::size_t event_with(const std::vector<std::string>& events, std::string_view text) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].find(text) != std::string::npos) {
      return i;
    }
  }
  ADD_FAILURE() << "no native event carries " << text;
  return events.size() - 1;
}

TEST_P(ProviderContractTest, StreamCutMidwayDoesNotClaimSuccess) {
  const std::vector<std::string> events =
      provider().text_stream({"Once", " upon", " a time."}, canned_usage(provider()));
  const std::size_t at = event_with(events, "upon");
  ASSERT_LT(at + 1, events.size());
  // Everything through " upon", then half of the next event.
  std::string upstream;
  for (std::size_t i = 0; i <= at; ++i) {
    upstream += events[i];
  }
  upstream += events[at + 1].substr(0, events[at + 1].size() / 2);

  const auto t = provider().translator();
  for (const bool include_usage : {false, true}) {
    SCOPED_TRACE(include_usage ? "include_usage true" : "include_usage false");
    auto st = t->stream(include_usage, kAlias);
    std::string out;
    EXPECT_TRUE(st->feed(upstream, out)) << out;
    const std::string fed = out;
    EXPECT_FALSE(st->finish(out));
    EXPECT_TRUE(st->error());
    // A failed finish() appends nothing: the caller writes the one interruption event the
    // client sees (the gateway does), so a translator's own would make two.
    EXPECT_TRUE(out == fed) << "appended at finish: "
                            << out.substr(std::min(fed.size(), out.size()));
    EXPECT_EQ(out.find("[DONE]"), std::string::npos) << out;
    const ClientStream s = read_client_stream(fed);
    std::string content;
    for (const json::value& c : s.chunks) {
      ASSERT_TRUE(c.as_object().contains("choices")) << json::serialize(c);
      for (const json::value& choice : c.at("choices").as_array()) {
        EXPECT_TRUE(choice.at("finish_reason").is_null()) << json::serialize(c);
        if (const json::value* text = choice.at("delta").as_object().if_contains("content");
            text && text->is_string()) {
          content += text->as_string();
        }
      }
    }
    EXPECT_EQ(content, "Once upon");
  }
}

TEST_P(ProviderContractTest, InStreamErrorBecomesAnErrorEventAndStopsTheStream) {
  const std::vector<std::string> events =
      provider().text_stream({"Once", " upon", " a time."}, canned_usage(provider()));
  const std::size_t at = event_with(events, "upon");
  std::string upstream;
  for (std::size_t i = 0; i <= at; ++i) {
    upstream += events[i];
  }
  upstream += provider().stream_error_event();
  for (std::size_t i = at + 1; i < events.size(); ++i) {
    upstream += events[i];
  }

  const auto t = provider().translator();
  auto st = t->stream(true, kAlias);
  std::string out;
  EXPECT_FALSE(st->feed(upstream, out)) << out;
  ASSERT_TRUE(st->error()) << out;
  EXPECT_GE(st->error()->status, 400u);
  EXPECT_EQ(out.find("[DONE]"), std::string::npos) << out;
  EXPECT_EQ(out.find("a time."), std::string::npos) << "content after the error: " << out;

  const ClientStream s = read_client_stream(out);
  ASSERT_FALSE(s.chunks.empty());
  const json::value& last = s.chunks.back();
  ASSERT_TRUE(last.as_object().contains("error")) << out;
  const json::object& e = last.at("error").as_object();
  ASSERT_TRUE(e.contains("message") && e.at("message").is_string());
  EXPECT_FALSE(e.at("message").as_string().empty());
  ASSERT_TRUE(e.contains("type") && e.at("type").is_string());
  EXPECT_FALSE(e.at("type").as_string().empty());
  std::size_t errors = 0;
  for (const json::value& c : s.chunks) {
    errors += c.as_object().contains("error") ? 1 : 0;
  }
  EXPECT_EQ(errors, 1u);
  EXPECT_FALSE(st->finish(out));
}

// 10. memory ---------------------------------------------------------------------------------

// A body of 20,000 empty parts would take ~50x its size typed: the text entry
// refuses it as too large (413, request_too_large) past the typed reading's budget rather than
// hold it; a pass-through provider forwards the bytes as sent.
TEST_P(ProviderContractTest, ABodyOfManyTinyPartsIsRefusedAsTooLargeUnlessPassedThrough) {
  const std::string body = test::chat_body_of_parts("frontier", "{}", 20000);
  const auto r = provider().translator()->request(body, provider().spec());
  if (provider().passes_bytes_through()) {
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return;
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 413u);
  EXPECT_EQ(r.error().code, "request_too_large");
  EXPECT_NE(r.error().message.find("too many small values"), std::string::npos)
      << r.error().message;
  // A body of the same size in one long text fits the budget.
  const std::string prose = R"({"model":"frontier","messages":[{"role":"user","content":")" +
                            std::string(body.size(), 'x') + R"("}]})";
  const auto long_text = provider().translator()->request(prose, provider().spec());
  EXPECT_TRUE(long_text) << (long_text ? "" : long_text.error().message);
}

INSTANTIATE_TEST_SUITE_P(
    Providers, ProviderContractTest,
    testing::Values(make_provider<OpenAIProvider>(), make_provider<AnthropicProvider>(),
                    make_provider<GeminiProvider>(), make_provider<BedrockProvider>(),
                    make_provider<OllamaProvider>(), make_provider<AzureProvider>()),
    [](const testing::TestParamInfo<ProviderPtr>& p) { return p.param->name(); });

}  // namespace
}  // namespace sb::adapters
