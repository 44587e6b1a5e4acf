// OpenAI chat request → Anthropic Messages request (AnthropicTranslator::build_request),
// read from the typed request (adapters/canonical.h). The response and stream
// translation back is in anthropic_response.cc.
#include "adapters/anthropic.h"
#include "adapters/json_write.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/translate_common.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

// ---- small helpers -------------------------------------------------------------------------

bool is_zero_number(const json::value& v) {
  if (const auto* i = v.if_int64()) {
    return *i == 0;
  }
  if (const auto* u = v.if_uint64()) {
    return *u == 0;
  }
  if (const auto* d = v.if_double()) {
    return *d == 0.0;
  }
  return false;
}

bool fail(TranslateError& error, std::string message, unsigned status = 400) {
  error.status = status;
  error.message = std::move(message);
  return false;
}

json::object text_block(std::string_view text) {
  return json::object{{"type", "text"}, {"text", text}};
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    return lower(x) == lower(y);
  });
}

/// "messages[<i>]", the place a message's error names (built only for the error).
std::string message_at(std::size_t i) {
  return "messages[" + std::to_string(i) + "]";
}

/// Whether a member's raw bytes (ChatRequest::raw) are there and not JSON null.
bool present(std::string_view raw) {
  return !raw.empty() && raw != "null";
}

// ---- request: messages ---------------------------------------------------------------------

/// A message's content that may only hold text: a string, or `{"type":"text","text":...}` parts
/// (one block per non-empty part).
bool text_blocks(const ChatMessage& m, std::size_t i, json::array& out, TranslateError& error) {
  if (m.content_kind != ChatMessage::Content::parts) {
    if (!m.text.empty()) {
      out.push_back(text_block(m.text));
    }
    return true;
  }
  for (const ChatContentPart& p : m.parts) {
    // An assistant's refusal part is text it said (its `text` is the refusal).
    const bool textual = p.type == "text" || p.type == "refusal";
    if (!textual || !p.text_set) {
      return fail(error, message_at(i) + ": only text content parts are supported here");
    }
    if (!p.text.empty()) {
      out.push_back(text_block(p.text));
    }
  }
  return true;
}

/// An image URL as an Anthropic image block
/// (https://docs.anthropic.com/en/docs/build-with-claude/vision): data URLs as base64 sources,
/// http(s) URLs as url sources.
bool image_block(std::string_view url, std::size_t i, json::array& out, TranslateError& error) {
  if (url.empty()) {
    return fail(error, message_at(i) + ": image_url.url is required");
  }
  if (url.size() > 5 && is_data_url(url)) {
    const std::optional<DataUrl> data = parse_data_url(url);
    if (!data) {
      return fail(error, message_at(i) + ": malformed data URL");
    }
    const std::string_view media_type = data->media_type;
    if (!data->base64) {
      return fail(error, message_at(i) + ": image data URLs must be base64-encoded");
    }
    // The media types Anthropic accepts.
    std::string_view media;
    for (const std::string_view t : {"image/jpeg", "image/png", "image/gif", "image/webp"}) {
      if (ascii_iequals(media_type, t)) {
        media = t;
      }
    }
    if (media.empty()) {
      return fail(error, message_at(i) + ": unsupported image type '" + std::string(media_type) +
                             "' (supported: image/jpeg, image/png, image/gif, image/webp)");
    }
    out.push_back(json::object{
        {"type", "image"},
        {"source", json::object{{"type", "base64"}, {"media_type", media}, {"data", data->data}}}});
    return true;
  }
  if ((url.size() > 7 && ascii_iequals(url.substr(0, 7), "http://")) ||
      (url.size() > 8 && ascii_iequals(url.substr(0, 8), "https://"))) {
    out.push_back(
        json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}});
    return true;
  }
  return fail(error, message_at(i) + ": image URLs must be data: or http(s) URLs");
}

/// A user message's content: a string or an array of text and image_url parts.
bool user_blocks(const ChatMessage& m, std::size_t i, json::array& out, TranslateError& error) {
  if (m.content_kind != ChatMessage::Content::parts) {
    return text_blocks(m, i, out, error);
  }
  for (const ChatContentPart& p : m.parts) {
    if (p.type == "text") {
      if (!p.text.empty()) {
        out.push_back(text_block(p.text));
      }
    } else if (p.type == "image_url") {
      if (!image_block(p.media().url, i, out, error)) {
        return false;
      }
    } else {
      return fail(error, message_at(i) + ": content part type '" + std::string(p.type) +
                             "' is not supported by this backend");
    }
  }
  return true;
}

/// An assistant's `tool_calls` as tool_use blocks; `arguments` must be a JSON object (its text),
/// an empty string reading as `{}`.
bool tool_use_blocks(const ChatMessage& m, std::size_t i, json::array& out, TranslateError& error) {
  for (std::size_t k = 0; k < m.tool_calls.size(); ++k) {
    const ChatToolCall& c = m.tool_calls[k];
    const auto at = [&] { return message_at(i) + ".tool_calls[" + std::to_string(k) + "]"; };
    if (c.id.empty() || c.name.empty()) {  // a call without a `function` has no name
      return fail(error, at() + ": a function call with id and function.name is required");
    }
    if (!c.type.empty() && c.type != "function") {
      return fail(error, at() + ": only function tool calls are supported by this backend");
    }
    std::optional<json::value> input = tool_arguments_object(c.arguments);
    if (!input) {
      return fail(error, at() + ".function.arguments: must be a JSON object");
    }
    out.push_back(json::object{
        {"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", std::move(*input)}});
  }
  return true;
}

/// A `tool` message as a tool_result block (its content a string or text blocks).
bool tool_result_block(const ChatMessage& m, std::size_t i, json::array& blocks,
                       TranslateError& error) {
  if (m.tool_call_id.empty()) {
    return fail(error, message_at(i) + ": tool_call_id is required");
  }
  json::object result{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}};
  if (m.content_kind == ChatMessage::Content::text) {
    result["content"] = m.text;
  } else {
    json::array parts;
    if (!text_blocks(m, i, parts, error)) {
      return false;
    }
    result["content"] = std::move(parts);
  }
  blocks.push_back(std::move(result));
  return true;
}

struct Turn {
  std::string_view role;  // "user" or "assistant"
  json::array content;
};

/// Appends blocks to the conversation, merging with the previous turn of the same role.
void push_turn(std::vector<Turn>& turns, std::string_view role, json::array&& blocks) {
  if (blocks.empty()) {
    return;
  }
  if (!turns.empty() && turns.back().role == role) {
    for (json::value& b : blocks) {
      turns.back().content.push_back(std::move(b));
    }
    return;
  }
  turns.push_back(Turn{role, std::move(blocks)});
}

bool is_tool_result(const json::value& block) {
  return block.is_object() && string_member(block.get_object(), "type") == "tool_result";
}

/// The turns as `messages`, each user turn's tool_result blocks first.
bool flush_turns(std::vector<Turn>& turns, json::array& out, TranslateError& error) {
  for (Turn& t : turns) {
    if (t.role == "user") {
      // tool_result blocks must come first in their user turn
      // (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use).
      std::stable_partition(t.content.begin(), t.content.end(), is_tool_result);
    }
    out.push_back(json::object{{"role", t.role}, {"content", std::move(t.content)}});
  }
  if (out.empty()) {
    return fail(error, "messages: at least one user or assistant message with content is required");
  }
  return true;
}

/// An assistant message's text and tool_use blocks; its legacy function_call is refused.
bool assistant_blocks(const ChatRequest& r, std::size_t i, json::array& out,
                      TranslateError& error) {
  const ChatMessage& m = r.messages[i];
  if (!text_blocks(m, i, out, error) || !tool_use_blocks(m, i, out, error)) {
    return false;
  }
  if (present(message_member(m, r.body, "function_call"))) {
    return fail(error,
                message_at(i) + ": the legacy function_call is not supported; use tool_calls");
  }
  return true;
}

/// One message into `system` or the turns (a tool result joins a user turn).
bool convert_message(const ChatRequest& r, std::size_t i, json::array& system,
                     std::vector<Turn>& turns, TranslateError& error) {
  using Role = ChatMessage::Role;
  const ChatMessage& m = r.messages[i];
  json::array blocks;
  bool ok = false;
  switch (m.role) {
    case Role::system:
    case Role::developer:
      return text_blocks(m, i, system, error);
    case Role::user:
      ok = user_blocks(m, i, blocks, error);
      break;
    case Role::assistant:
      ok = assistant_blocks(r, i, blocks, error);
      break;
    case Role::tool:
      ok = tool_result_block(m, i, blocks, error);
      break;
    case Role::function:
      return fail(error,
                  message_at(i) + ": the legacy function role is not supported; use tool messages");
    default:
      return fail(error, message_at(i) + ": unknown role '" + std::string(m.role_text) + "'");
  }
  if (ok) {
    push_turn(turns, m.role == Role::assistant ? "assistant" : "user", std::move(blocks));
  }
  return ok;
}

/// Builds `system` and `messages` from OpenAI's messages.
bool convert_messages(const ChatRequest& r, json::array& system, json::array& out,
                      TranslateError& error) {
  std::vector<Turn> turns;
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    if (!convert_message(r, i, system, turns, error)) {
      return false;
    }
  }
  return flush_turns(turns, out, error);
}

// ---- request: tools ------------------------------------------------------------------------

/// OpenAI `tools` as Anthropic tool definitions.
bool convert_tools(const ChatRequest& r, json::array& out, TranslateError& error) {
  for (std::size_t k = 0; k < r.tools.size(); ++k) {
    const ChatTool& t = r.tools[k];
    const auto at = [&] { return "tools[" + std::to_string(k) + "]"; };
    if (t.type != "function") {
      return fail(error, at() + ": only function tools are supported by this backend");
    }
    if (t.name.empty()) {  // a tool without a `function` has no name
      return fail(error, at() + ": function.name is required");
    }
    json::object def{{"name", t.name}};
    if (!t.description.empty()) {
      def["description"] = t.description;
    }
    // input_schema is required upstream; OpenAI allows omitting parameters for a function that
    // takes none. The typed reading holds them as an object, or "null", or nothing.
    def["input_schema"] =
        t.parameters.starts_with('{')
            ? json_of(t.parameters)
            : json::value(json::object{{"type", "object"}, {"properties", json::object{}}});
    out.push_back(std::move(def));
  }
  return true;
}

/// OpenAI `tool_choice` as Anthropic's; an empty object when it maps to nothing.
bool convert_tool_choice(const ToolChoice& choice, bool has_tools, json::object& out,
                         TranslateError& error) {
  using Kind = ToolChoice::Kind;
  if (choice.is_string) {
    if (choice.kind == Kind::automatic) {
      out = {{"type", "auto"}};
    } else if (choice.kind == Kind::none) {
      out = {{"type", "none"}};
    } else if (choice.kind == Kind::required) {
      out = {{"type", "any"}};
    } else {
      return fail(error, "tool_choice: unknown value '" + std::string(choice.text) + "'");
    }
  } else if (choice.object != nullptr) {
    if (choice.type != "function" || choice.name.empty()) {
      return fail(error,
                  "tool_choice: only {\"type\":\"function\",\"function\":{\"name\":...}} "
                  "objects are supported by this backend");
    }
    out = {{"type", "tool"}, {"name", choice.name}};
  } else {
    return fail(error, "tool_choice: must be a string or an object");
  }
  if (!has_tools) {
    const std::string_view type = string_member(out, "type");
    if (type == "any" || type == "tool") {
      return fail(error, "tool_choice: requires tools");
    }
    out.clear();  // auto or none without tools: nothing to say upstream
  }
  return true;
}

/// `tools`, `tool_choice` and `parallel_tool_calls` (as disable_parallel_tool_use).
bool convert_tool_fields(const ChatRequest& r, json::object& out, TranslateError& error) {
  json::array defs;
  if (!convert_tools(r, defs, error)) {
    return false;
  }
  const bool has_tools = !defs.empty();
  if (has_tools) {
    out["tools"] = std::move(defs);
  }
  json::object choice;
  json::object holder;
  if (const std::optional<ToolChoice> tc = tool_choice_of(r, false, holder)) {
    if (!convert_tool_choice(*tc, has_tools, choice, error)) {
      return false;
    }
  }
  if (r.parallel_tool_calls.has_value() && !*r.parallel_tool_calls && has_tools) {
    if (choice.empty()) {
      choice = {{"type", "auto"}};
    }
    // tool_choice none has no such member.
    if (string_member(choice, "type") != "none") {
      choice["disable_parallel_tool_use"] = true;
    }
  }
  if (!choice.empty()) {
    out["tool_choice"] = std::move(choice);
  }
  return true;
}

// ---- request: the other members ------------------------------------------------------------

/// Rejects the OpenAI parameters Anthropic cannot honour.
bool check_unsupported(const ChatRequest& r, TranslateError& error) {
  if (r.n && *r.n != 1) {
    return fail(error, "n: only 1 choice is supported by this backend");
  }
  if (const json::value v = json_of(r.raw("logprobs"));
      !v.is_null() && !(v.is_bool() && !v.get_bool())) {
    return fail(error, "logprobs: not supported by this backend");
  }
  if (const json::value v = json_of(r.raw("top_logprobs")); !v.is_null() && !is_zero_number(v)) {
    return fail(error, "top_logprobs: not supported by this backend");
  }
  if (const json::value v = json_of(r.raw("logit_bias"));
      !v.is_null() && !(v.is_object() && v.get_object().empty())) {
    return fail(error, "logit_bias: not supported by this backend");
  }
  if (r.presence_penalty.value_or(0) != 0) {
    return fail(error, "presence_penalty: not supported by this backend");
  }
  if (r.frequency_penalty.value_or(0) != 0) {
    return fail(error, "frequency_penalty: not supported by this backend");
  }
  if (r.response_format && r.response_format->type != "text") {
    return fail(error, "response_format: only {\"type\":\"text\"} is supported by this backend");
  }
  if (present(r.raw("audio"))) {
    return fail(error, "audio: audio output is not supported by this backend");
  }
  if (const json::value v = json_of(r.raw("modalities")); v.is_array()) {
    for (const json::value& m : v.get_array()) {
      if (!(m.is_string() && m.get_string() == "text")) {
        return fail(error, "modalities: only text output is supported by this backend");
      }
    }
  }
  if (present(r.raw("functions")) || present(r.raw("function_call"))) {
    return fail(error, "functions: the legacy functions API is not supported; use tools");
  }
  return true;
}

/// `max_tokens` for Anthropic, which requires it: the client's limit (either name, when set,
/// must be a positive integer; max_tokens is checked first), else kAnthropicDefaultMaxTokens.
std::optional<std::int64_t> max_tokens_of(const ChatRequest& r, TranslateError& error) {
  if (r.max_tokens && *r.max_tokens <= 0) {
    fail(error, "max_tokens: must be a positive integer");
    return std::nullopt;
  }
  if (r.max_completion_tokens && *r.max_completion_tokens <= 0) {
    fail(error, "max_completion_tokens: must be a positive integer");
    return std::nullopt;
  }
  return r.output_cap().value_or(kAnthropicDefaultMaxTokens);
}

/// `temperature` and `top_p` as SamplingText::read takes them, from the client's bytes.
bool sampling_of(const ChatRequest& r, SamplingText& out, TranslateError& error) {
  const auto read = [&](std::string_view key, bool set, std::string& to) {
    if (!set) {
      return true;
    }
    std::optional<std::string> text = json_number_text(json_of(r.raw(key)));
    if (!text) {
      return fail(error, std::string(key) + ": must be a finite number");
    }
    to = std::move(*text);
    return true;
  };
  return read("temperature", r.temperature.has_value(), out.temperature) &&
         read("top_p", r.top_p.has_value(), out.top_p);
}

/// OpenAI `stop` as `stop_sequences`, empty ones dropped (the API rejects them).
void convert_stop(const ChatRequest& r, json::object& out) {
  json::array sequences;
  for (const std::string_view s : r.stop) {
    if (!s.empty()) {
      sequences.emplace_back(s);
    }
  }
  if (!sequences.empty()) {
    out["stop_sequences"] = std::move(sequences);
  }
}

/// The POST to `<base>/messages` with Anthropic's headers.
UpstreamRequest messages_request(const BackendSpec& spec, bool streaming) {
  UpstreamRequest req;
  req.target = std::string(trimmed_base(spec.base_path)) + "/messages";
  req.headers = {
      {"x-api-key", std::string(spec.api_key)},
      {"anthropic-version",
       spec.api_version.empty() ? std::string(kAnthropicVersion) : spec.api_version},
      {"content-type", "application/json"},
  };
  if (streaming) {
    req.headers.emplace_back("accept", "text/event-stream");
  }
  req.stream = streaming;
  return req;
}

}  // namespace

Result<UpstreamRequest, TranslateError> AnthropicTranslator::build_request(
    const ChatRequest& r, const BackendSpec& spec) const {
  TranslateError error;
  if (!check_unsupported(r, error)) {
    return error;
  }
  json::object out;
  out["model"] = spec.model.empty() ? r.model : std::string_view(spec.model);
  const std::optional<std::int64_t> max_tokens = max_tokens_of(r, error);
  if (!max_tokens) {
    return error;
  }
  out["max_tokens"] = *max_tokens;

  json::array system;
  json::array converted;
  if (!convert_messages(r, system, converted, error)) {
    return error;
  }
  if (!system.empty()) {
    out["system"] = std::move(system);
  }
  out["messages"] = std::move(converted);

  SamplingText sampling;
  if (!sampling_of(r, sampling, error)) {
    return error;
  }
  convert_stop(r, out);
  if (!convert_tool_fields(r, out, error)) {
    return error;
  }
  if (!r.user.empty()) {
    out["metadata"] = json::object{{"user_id", r.user}};
  }
  const bool streaming = r.stream.value_or(false);
  if (streaming) {
    out["stream"] = true;
  }
  UpstreamRequest req = messages_request(spec, streaming);
  req.body = to_json(out);
  sampling.write(req.body);
  return req;
}

}  // namespace sb::adapters
