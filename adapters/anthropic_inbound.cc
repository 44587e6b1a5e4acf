#include "adapters/anthropic_inbound.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

// ---- small JSON helpers --------------------------------------------------------------------

bool fail(std::string& error, std::string message) {
  error = std::move(message);
  return false;
}

json::object text_part(std::string_view text) {
  return json::object{{"type", "text"}, {"text", text}};
}

/// OpenAI message content from parts: a plain string for a single text part (what every
/// OpenAI-compatible server accepts), the parts array otherwise.
json::value content_from_parts(json::array&& parts) {
  if (parts.size() == 1 && string_member(parts[0].get_object(), "type") == "text") {
    return parts[0].get_object().at("text");
  }
  if (parts.empty()) {
    return json::string();
  }
  return json::value(std::move(parts));
}

/// The block at `blocks[k]` as an object with a string `type`.
const json::object* block_at(const json::array& blocks, std::size_t k, const std::string& where,
                             std::string_view& type, std::string& error) {
  const json::object* block = blocks[k].if_object();
  type = block != nullptr ? string_member(*block, "type") : std::string_view();
  if (block == nullptr || type.empty()) {
    fail(error, where + ": must be an object with a string type");
    return nullptr;
  }
  return block;
}

/// A text block's text.
bool block_text(const json::object& block, const std::string& where, std::string_view& text,
                std::string& error) {
  const json::value* t = block.if_contains("text");
  if (t == nullptr || !t->is_string()) {
    return fail(error, where + ".text: must be a string");
  }
  text = view(t->get_string());
  return true;
}

// ---- request -------------------------------------------------------------------------------

/// An image block as an image_url part
/// (https://docs.anthropic.com/en/docs/build-with-claude/vision#base64-encoded-image-example).
bool image_part(const json::object& block, const std::string& where, json::array& parts,
                std::string& error) {
  const json::value* s = member(block, "source");
  const json::object* source = s != nullptr ? s->if_object() : nullptr;
  if (source == nullptr) {
    return fail(error, where + ".source: must be an object");
  }
  const std::string_view type = string_member(*source, "type");
  std::string url;
  if (type == "base64") {
    const std::string_view media_type = string_member(*source, "media_type");
    const std::string_view data = string_member(*source, "data");
    if (media_type.empty() || data.empty()) {
      return fail(error, where + ".source: base64 images need media_type and data");
    }
    url.reserve(media_type.size() + data.size() + 13);
    url.append("data:").append(media_type).append(";base64,").append(data);
  } else if (type == "url") {
    url = string_member(*source, "url");
    if (url.empty()) {
      return fail(error, where + ".source.url: must be a non-empty string");
    }
  } else {
    return fail(error, where + ".source.type: '" + std::string(type) +
                           "' is not supported (supported: base64, url)");
  }
  parts.push_back(json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url}}}});
  return true;
}

/// A tool_result block as an OpenAI `tool` message. Its content is a string or text blocks
/// (joined by newlines: OpenAI tool messages carry text only).
bool tool_message(const json::object& block, const std::string& where, json::array& out,
                  std::string& error) {
  const std::string_view id = string_member(block, "tool_use_id");
  if (id.empty()) {
    return fail(error, where + ".tool_use_id: must be a non-empty string");
  }
  std::string text;
  if (const json::value* c = member(block, "content")) {
    if (c->is_string()) {
      text = view(c->get_string());
    } else if (const json::array* blocks = c->if_array()) {
      for (std::size_t k = 0; k < blocks->size(); ++k) {
        const std::string at = where + ".content[" + std::to_string(k) + "]";
        std::string_view type;
        const json::object* b = block_at(*blocks, k, at, type, error);
        if (b == nullptr) {
          return false;
        }
        if (type != "text") {
          return fail(error, at + ": only text blocks are supported in a tool_result");
        }
        std::string_view t;
        if (!block_text(*b, at, t, error)) {
          return false;
        }
        if (!text.empty()) {
          text += '\n';
        }
        text += t;
      }
    } else {
      return fail(error, where + ".content: must be a string or an array of blocks");
    }
  }
  out.push_back(json::object{{"role", "tool"}, {"tool_call_id", id}, {"content", text}});
  return true;
}

/// A user turn: its tool_result blocks as tool messages first (OpenAI wants them right after the
/// assistant's tool_calls), then the rest as one user message.
bool user_turn(const json::value& content, const std::string& where, json::array& out,
               std::string& error) {
  if (content.is_string()) {
    out.push_back(json::object{{"role", "user"}, {"content", content}});
    return true;
  }
  const json::array* blocks = content.if_array();
  if (blocks == nullptr) {
    return fail(error, where + ": must be a string or an array of content blocks");
  }
  json::array parts;
  bool had_tool_results = false;
  for (std::size_t k = 0; k < blocks->size(); ++k) {
    const std::string at = where + "[" + std::to_string(k) + "]";
    std::string_view type;
    const json::object* block = block_at(*blocks, k, at, type, error);
    if (block == nullptr) {
      return false;
    }
    if (type == "text") {
      std::string_view text;
      if (!block_text(*block, at, text, error)) {
        return false;
      }
      parts.push_back(text_part(text));
    } else if (type == "image") {
      if (!image_part(*block, at, parts, error)) {
        return false;
      }
    } else if (type == "tool_result") {
      if (!tool_message(*block, at, out, error)) {
        return false;
      }
      had_tool_results = true;
    } else {
      return fail(error, at + ": block type '" + std::string(type) +
                             "' is not supported in a user message");
    }
  }
  if (!parts.empty() || !had_tool_results) {
    out.push_back(
        json::object{{"role", "user"}, {"content", content_from_parts(std::move(parts))}});
  }
  return true;
}

/// An assistant turn: text blocks as content, tool_use blocks as tool_calls.
bool assistant_turn(const json::value& content, const std::string& where, json::array& out,
                    std::string& error) {
  if (content.is_string()) {
    out.push_back(json::object{{"role", "assistant"}, {"content", content}});
    return true;
  }
  const json::array* blocks = content.if_array();
  if (blocks == nullptr) {
    return fail(error, where + ": must be a string or an array of content blocks");
  }
  json::array parts;
  json::array calls;
  for (std::size_t k = 0; k < blocks->size(); ++k) {
    const std::string at = where + "[" + std::to_string(k) + "]";
    std::string_view type;
    const json::object* block = block_at(*blocks, k, at, type, error);
    if (block == nullptr) {
      return false;
    }
    if (type == "text") {
      std::string_view text;
      if (!block_text(*block, at, text, error)) {
        return false;
      }
      parts.push_back(text_part(text));
    } else if (type == "tool_use") {
      const std::string_view id = string_member(*block, "id");
      const std::string_view name = string_member(*block, "name");
      const json::value* input = block->if_contains("input");
      if (id.empty() || name.empty()) {
        return fail(error, at + ": tool_use needs a non-empty id and name");
      }
      if (input == nullptr || !input->is_object()) {
        return fail(error, at + ".input: must be an object");
      }
      calls.push_back(json::object{
          {"id", id},
          {"type", "function"},
          {"function", json::object{{"name", name}, {"arguments", json::serialize(*input)}}}});
    } else if (type == "thinking" || type == "redacted_thinking") {
      continue;  // OpenAI has no way to send reasoning back; the model does not need it.
    } else {
      return fail(error, at + ": block type '" + std::string(type) +
                             "' is not supported in an assistant message");
    }
  }
  json::object msg{{"role", "assistant"}};
  if (parts.empty() && !calls.empty()) {
    msg["content"] = nullptr;
  } else {
    msg["content"] = content_from_parts(std::move(parts));
  }
  if (!calls.empty()) {
    msg["tool_calls"] = std::move(calls);
  }
  out.push_back(std::move(msg));
  return true;
}

/// `system`: a string or an array of text blocks, as one system message.
// `system` (or a system turn's content at `where`): a string or text blocks, as one OpenAI
// system message in place.
bool system_message(const json::value& system, const std::string& where, json::array& out,
                    std::string& error) {
  if (system.is_string()) {
    if (!system.get_string().empty()) {
      out.push_back(json::object{{"role", "system"}, {"content", system}});
    }
    return true;
  }
  const json::array* blocks = system.if_array();
  if (blocks == nullptr) {
    return fail(error, where + ": must be a string or an array of text blocks");
  }
  json::array parts;
  for (std::size_t k = 0; k < blocks->size(); ++k) {
    const std::string at = where + "[" + std::to_string(k) + "]";
    std::string_view type;
    const json::object* block = block_at(*blocks, k, at, type, error);
    if (block == nullptr) {
      return false;
    }
    if (type != "text") {
      return fail(error, at + ": only text blocks are allowed in a system prompt");
    }
    std::string_view text;
    if (!block_text(*block, at, text, error)) {
      return false;
    }
    parts.push_back(text_part(text));
  }
  if (!parts.empty()) {
    out.push_back(
        json::object{{"role", "system"}, {"content", content_from_parts(std::move(parts))}});
  }
  return true;
}

bool convert_tools(const json::value& tools, json::array& out, std::string& error) {
  const json::array* list = tools.if_array();
  if (list == nullptr) {
    return fail(error, "tools: must be an array");
  }
  for (std::size_t k = 0; k < list->size(); ++k) {
    const std::string at = "tools[" + std::to_string(k) + "]";
    const json::object* tool = (*list)[k].if_object();
    if (tool == nullptr) {
      return fail(error, at + ": must be an object");
    }
    // Client tools have no type or "custom"; the others are Anthropic-hosted tools
    // (web_search_..., bash_..., text_editor_...) that only Anthropic can run.
    if (const std::string_view type = string_member(*tool, "type");
        !type.empty() && type != "custom") {
      return fail(error, at + ": tool type '" + std::string(type) + "' is not supported");
    }
    const std::string_view name = string_member(*tool, "name");
    if (name.empty()) {
      return fail(error, at + ".name: must be a non-empty string");
    }
    const json::value* schema = member(*tool, "input_schema");
    if (schema == nullptr || !schema->is_object()) {
      return fail(error, at + ".input_schema: must be a JSON Schema object");
    }
    json::object fn{{"name", name}};
    if (const std::string_view d = string_member(*tool, "description"); !d.empty()) {
      fn["description"] = d;
    }
    fn["parameters"] = *schema;
    out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  return true;
}

/// `tool_choice` (https://docs.anthropic.com/en/api/messages#body-tool-choice) into `out`.
bool convert_tool_choice(const json::value& choice, bool has_tools, json::object& out,
                         std::string& error) {
  const json::object* c = choice.if_object();
  if (c == nullptr) {
    return fail(error, "tool_choice: must be an object");
  }
  const std::string_view type = string_member(*c, "type");
  json::value mapped;
  if (type == "auto") {
    mapped = "auto";
  } else if (type == "any") {
    mapped = "required";
  } else if (type == "none") {
    mapped = "none";
  } else if (type == "tool") {
    const std::string_view name = string_member(*c, "name");
    if (name.empty()) {
      return fail(error, "tool_choice.name: must be a non-empty string");
    }
    mapped = json::object{{"type", "function"}, {"function", json::object{{"name", name}}}};
  } else {
    return fail(error, "tool_choice.type: must be one of auto, any, tool, none");
  }
  if (!has_tools) {
    if (type == "any" || type == "tool") {
      return fail(error, "tool_choice: requires tools");
    }
    return true;  // OpenAI rejects tool_choice without tools; auto and none say nothing then.
  }
  out["tool_choice"] = std::move(mapped);
  if (const json::value* d = member(*c, "disable_parallel_tool_use");
      d != nullptr && d->is_bool() && d->get_bool() && type != "none") {
    out["parallel_tool_calls"] = false;
  }
  return true;
}

// ---- response ------------------------------------------------------------------------------

std::string_view stop_reason(std::string_view finish_reason) {
  if (finish_reason == "length") {
    return "max_tokens";
  }
  if (finish_reason == "tool_calls" || finish_reason == "function_call") {
    return "tool_use";
  }
  if (finish_reason == "content_filter") {
    return "refusal";
  }
  return "end_turn";  // stop, and anything a server invents
}

std::string message_id(std::string_view openai_id) {
  constexpr std::string_view kPrefix = "chatcmpl-";
  if (openai_id.starts_with(kPrefix)) {
    openai_id.remove_prefix(kPrefix.size());
  }
  return "msg_" + std::string(openai_id.empty() ? std::string_view("unknown") : openai_id);
}

/// Anthropic's usage members (after the opening brace's position), from OpenAI counts.
std::string usage_members(const Usage& u) {
  const std::int64_t input = std::max<std::int64_t>(0, u.input - u.cached_input - u.cache_write);
  return "\"input_tokens\":" + std::to_string(input) +
         ",\"cache_creation_input_tokens\":" + std::to_string(u.cache_write) +
         ",\"cache_read_input_tokens\":" + std::to_string(u.cached_input) +
         ",\"output_tokens\":" + std::to_string(u.output);
}

std::string error_json(std::string_view type, std::string_view message) {
  return "{\"type\":\"error\",\"error\":{\"type\":" + quote(type) +
         ",\"message\":" + quote(message) + "}}";
}

/// Text of an OpenAI message content: a string, or an array of text parts.
std::string content_text(const json::value* content) {
  std::string text;
  if (content == nullptr) {
    return text;
  }
  if (content->is_string()) {
    text = view(content->get_string());
  } else if (const json::array* parts = content->if_array()) {
    for (const json::value& p : *parts) {
      if (const json::object* part = p.if_object()) {
        text += string_member(*part, "text");
      }
    }
  }
  return text;
}

/// The Anthropic error type of an OpenAI error object seen mid-stream (no HTTP status there).
std::string_view stream_error_type(std::string_view type, std::string_view code) {
  if (type.find("rate_limit") != std::string_view::npos ||
      code.find("rate_limit") != std::string_view::npos) {
    return "rate_limit_error";
  }
  if (type.find("overloaded") != std::string_view::npos ||
      code.find("overloaded") != std::string_view::npos) {
    return "overloaded_error";
  }
  if (type == "timeout_error" || code == "timeout") {
    return "timeout_error";
  }
  return "api_error";
}

/// Whether a choice index is 0 (the only choice a Messages answer has).
bool is_zero_index(const json::value& v) {
  if (const auto* i = v.if_int64()) {
    return *i == 0;
  }
  if (const auto* u = v.if_uint64()) {
    return *u == 0;
  }
  return false;
}

}  // namespace

std::optional<std::string> anthropic_to_openai_request(const json::object& body,
                                                       std::string& error) {
  const std::string_view model = string_member(body, "model");
  if (model.empty()) {
    error = "model: must be a non-empty string";
    return std::nullopt;
  }
  const json::value* max_tokens = member(body, "max_tokens");
  const std::optional<std::int64_t> max =
      max_tokens != nullptr ? positive_integer(*max_tokens) : std::nullopt;
  if (!max) {
    error = "max_tokens: must be a positive integer";
    return std::nullopt;
  }
  const json::value* m = member(body, "messages");
  const json::array* turns = m != nullptr ? m->if_array() : nullptr;
  if (turns == nullptr || turns->empty()) {
    error = "messages: must be a non-empty array";
    return std::nullopt;
  }

  json::array messages;
  if (const json::value* system = member(body, "system")) {
    if (!system_message(*system, "system", messages, error)) {
      return std::nullopt;
    }
  }
  for (std::size_t k = 0; k < turns->size(); ++k) {
    const std::string at = "messages[" + std::to_string(k) + "]";
    const json::object* turn = (*turns)[k].if_object();
    const json::value* content = turn != nullptr ? member(*turn, "content") : nullptr;
    if (turn != nullptr && string_member(*turn, "role") == "system") {
      // A system turn inside the conversation (Claude Code sends them, some carrying no text):
      // kept in its place as an OpenAI system message; one without content adds nothing.
      if (content != nullptr && !content->is_null() &&
          !system_message(*content, at + ".content", messages, error)) {
        return std::nullopt;
      }
      continue;
    }
    if (turn == nullptr || content == nullptr) {
      error = at + ": must be an object with role and content";
      return std::nullopt;
    }
    const std::string_view role = string_member(*turn, "role");
    bool ok = false;
    if (role == "user") {
      ok = user_turn(*content, at + ".content", messages, error);
    } else if (role == "assistant") {
      ok = assistant_turn(*content, at + ".content", messages, error);
    } else {
      error = at + ".role: must be user, assistant or system";
    }
    if (!ok) {
      return std::nullopt;
    }
  }

  if (std::none_of(messages.begin(), messages.end(), [](const json::value& v) {
        const json::string* role = v.as_object().at("role").if_string();
        return role != nullptr && *role != "system";
      })) {
    error = "messages: must have a user or assistant turn";
    return std::nullopt;
  }
  json::object out{{"model", model}, {"messages", std::move(messages)}, {"max_tokens", *max}};

  if (const json::value* stop = member(body, "stop_sequences")) {
    const json::array* list = stop->if_array();
    if (list == nullptr || !std::all_of(list->begin(), list->end(),
                                        [](const json::value& s) { return s.is_string(); })) {
      error = "stop_sequences: must be an array of strings";
      return std::nullopt;
    }
    if (!list->empty()) {
      out["stop"] = *list;
    }
  }
  std::string temperature;
  std::string top_p;
  if (!number_text(body, "temperature", temperature, error) ||
      !number_text(body, "top_p", top_p, error)) {
    return std::nullopt;
  }
  if (const json::value* s = member(body, "stream")) {
    if (!s->is_bool()) {
      error = "stream: must be a boolean";
      return std::nullopt;
    }
    if (s->get_bool()) {
      out["stream"] = true;
      out["stream_options"] = json::object{{"include_usage", true}};
    }
  }
  bool has_tools = false;
  if (const json::value* tools = member(body, "tools")) {
    json::array defs;
    if (!convert_tools(*tools, defs, error)) {
      return std::nullopt;
    }
    has_tools = !defs.empty();
    if (has_tools) {
      out["tools"] = std::move(defs);
    }
  }
  if (const json::value* choice = member(body, "tool_choice")) {
    if (!convert_tool_choice(*choice, has_tools, out, error)) {
      return std::nullopt;
    }
  }
  if (const json::value* meta = member(body, "metadata")) {
    if (!meta->is_object()) {
      error = "metadata: must be an object";
      return std::nullopt;
    }
    if (const std::string_view user = string_member(meta->get_object(), "user_id"); !user.empty()) {
      out["user"] = user;
    }
  }

  std::string text = json::serialize(out);
  if (!temperature.empty()) {
    set_member(text, "temperature", temperature);
  }
  if (!top_p.empty()) {
    set_member(text, "top_p", top_p);
  }
  return text;
}

std::optional<std::string> try_openai_to_anthropic_response(std::string_view body,
                                                            std::string_view model,
                                                            std::string& error,
                                                            std::int64_t cache_write) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const json::object* completion = !ec ? v.if_object() : nullptr;
  const json::value* choices = completion != nullptr ? member(*completion, "choices") : nullptr;
  const json::array* list = choices != nullptr ? choices->if_array() : nullptr;
  const json::object* choice =
      list != nullptr && !list->empty() ? list->front().if_object() : nullptr;
  const json::value* m = choice != nullptr ? member(*choice, "message") : nullptr;
  if (m == nullptr || !m->is_object()) {
    error = "upstream answer is not a chat.completion";
    return std::nullopt;
  }
  const json::object& message = m->get_object();

  json::array content;
  std::string text = content_text(member(message, "content"));
  text += string_member(message, "refusal");
  if (!text.empty()) {
    content.push_back(json::object{{"type", "text"}, {"text", text}});
  }
  if (const json::value* tc = member(message, "tool_calls"); tc != nullptr && tc->is_array()) {
    for (const json::value& c : tc->get_array()) {
      const json::object* call = c.if_object();
      if (call == nullptr) {
        continue;
      }
      const json::value* f = member(*call, "function");
      const json::object* fn = f != nullptr ? f->if_object() : nullptr;
      json::value input = json::object();
      if (fn != nullptr) {
        boost::system::error_code arg_ec;
        json::value args = json::parse(string_member(*fn, "arguments"), arg_ec);
        if (!arg_ec && args.is_object()) {
          input = std::move(args);
        }
      }
      content.push_back(json::object{{"type", "tool_use"},
                                     {"id", string_member(*call, "id")},
                                     {"name", fn != nullptr ? string_member(*fn, "name") : ""},
                                     {"input", std::move(input)}});
    }
  }

  Usage usage = usage_from_openai(v).value_or(Usage{});
  if (cache_write > 0) {
    usage.cache_write = cache_write;
  }
  json::object out{
      {"id", message_id(string_member(*completion, "id"))},
      {"type", "message"},
      {"role", "assistant"},
      {"model", model},
      {"content", std::move(content)},
      {"stop_reason", stop_reason(string_member(*choice, "finish_reason"))},
      {"stop_sequence", nullptr},
  };
  std::string serialized = json::serialize(out);
  serialized.pop_back();
  serialized += ",\"usage\":{" + usage_members(usage) + "}}";
  return serialized;
}

std::string openai_to_anthropic_response(std::string_view body, std::string_view model) {
  std::string error;
  std::optional<std::string> out = try_openai_to_anthropic_response(body, model, error);
  return out ? std::move(*out) : error_json("api_error", error);
}

std::string_view anthropic_error_type(unsigned status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
  }
}

std::string openai_error_to_anthropic(unsigned status, std::string_view body) {
  std::string message;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = member(v.get_object(), "error")) {
      message = e->is_object()   ? string_member(e->get_object(), "message")
                : e->is_string() ? view(e->get_string())
                                 : std::string_view();
    }
  }
  if (message.empty()) {
    message = "HTTP " + std::to_string(status);
  }
  return error_json(anthropic_error_type(status), message);
}

// ---- stream --------------------------------------------------------------------------------

AnthropicStreamWriter::AnthropicStreamWriter(std::string_view model,
                                             std::int64_t estimated_input_tokens)
    : model_(model),
      estimated_input_(std::max<std::int64_t>(0, estimated_input_tokens)),
      // The bytes fed here are the OpenAI-wire relay of any provider, whose events are already
      // capped upstream (Gemini's at 16 MiB, the largest): the same cap here drops nothing.
      parser_(16 * 1024 * 1024) {}

bool AnthropicStreamWriter::feed(std::string_view bytes, std::string& out) {
  if (failed_) {
    return false;
  }
  if (done_) {
    return true;  // anything after [DONE] is not part of the answer
  }
  events_.clear();
  const bool within_limit = parser_.feed(bytes, events_);
  for (const SseEvent& ev : events_) {
    if (!on_event(ev, out)) {
      return false;
    }
    if (done_) {
      return true;
    }
  }
  if (!within_limit) {
    fail("api_error", "upstream sent an event larger than the gateway accepts", out);
    return false;
  }
  return true;
}

bool AnthropicStreamWriter::finish(std::string& out) {
  if (done_) {
    return true;
  }
  if (failed_) {
    return false;
  }
  if (!stop_reason_.empty()) {
    complete(out);
    return true;
  }
  fail("api_error", "upstream stream ended before the answer was complete", out);
  return false;
}

bool AnthropicStreamWriter::on_event(const SseEvent& ev, std::string& out) {
  if (ev.data == "[DONE]") {
    complete(out);
    return true;
  }
  boost::system::error_code ec;
  const json::value v = json::parse(ev.data, ec);
  if (ec || !v.is_object()) {
    fail("api_error", "upstream sent an event that is not a JSON object", out);
    return false;
  }
  const json::object& chunk = v.get_object();
  if (const json::value* e = member(chunk, "error")) {
    std::string_view type;
    std::string_view code;
    std::string_view message;
    if (const json::object* eo = e->if_object()) {
      type = string_member(*eo, "type");
      code = string_member(*eo, "code");
      message = string_member(*eo, "message");
    } else if (e->is_string()) {
      message = view(e->get_string());
    }
    fail(stream_error_type(type, code), message.empty() ? "upstream stream error" : message, out);
    return false;
  }
  if (std::optional<Usage> u = usage_from_openai(v)) {
    usage_ = u;
    if (cache_write_ > 0) {
      usage_->cache_write = cache_write_;
    }
  }
  if (!started_) {
    start_message(string_member(chunk, "id"), out);
  }
  const json::value* choices = member(chunk, "choices");
  if (choices == nullptr || !choices->is_array()) {
    return true;  // the usage chunk, or a keep-alive
  }
  for (const json::value& c : choices->get_array()) {
    const json::object* choice = c.if_object();
    if (choice == nullptr) {
      continue;
    }
    if (const json::value* i = member(*choice, "index"); i != nullptr && !is_zero_index(*i)) {
      continue;  // Anthropic has one answer; the gateway never asks for n > 1
    }
    if (const json::value* d = member(*choice, "delta"); d != nullptr && d->is_object()) {
      const json::object& delta = d->get_object();
      on_text(string_member(delta, "content"), out);
      on_text(string_member(delta, "refusal"), out);
      if (const json::value* tc = member(delta, "tool_calls"); tc != nullptr && tc->is_array()) {
        for (const json::value& call : tc->get_array()) {
          if (call.is_object()) {
            on_tool_delta(call.get_object(), out);
          }
        }
      }
    }
    if (const std::string_view r = string_member(*choice, "finish_reason"); !r.empty()) {
      stop_reason_ = stop_reason(r);
    }
  }
  return true;
}

void AnthropicStreamWriter::start_message(std::string_view openai_id, std::string& out) {
  started_ = true;
  message_id_ = message_id(openai_id);
  Usage start;
  if (usage_) {
    start.input = usage_->input;
    start.cached_input = usage_->cached_input;
    start.cache_write = usage_->cache_write;
  } else {
    start.input = estimated_input_;
  }
  append_sse(out,
             "{\"type\":\"message_start\",\"message\":{\"id\":" + quote(message_id_) +
                 ",\"type\":\"message\",\"role\":\"assistant\",\"model\":" + quote(model_) +
                 ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{" +
                 usage_members(start) + "}}}",
             "message_start");
}

void AnthropicStreamWriter::on_text(std::string_view text, std::string& out) {
  if (text.empty()) {
    return;
  }
  if (open_ != BlockKind::text) {
    close_block(out);
    append_sse(out,
               "{\"type\":\"content_block_start\",\"index\":" + std::to_string(next_block_) +
                   ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
               "content_block_start");
    open_ = BlockKind::text;
    ++next_block_;
  }
  scratch_.assign("{\"type\":\"content_block_delta\",\"index\":");
  scratch_ += std::to_string(next_block_ - 1);
  scratch_ += ",\"delta\":{\"type\":\"text_delta\",\"text\":";
  scratch_ += quote(text);
  scratch_ += "}}";
  append_sse(out, scratch_, "content_block_delta");
}

void AnthropicStreamWriter::on_tool_delta(const json::object& call, std::string& out) {
  std::int64_t index = 0;
  if (const json::value* i = member(call, "index"); i != nullptr && i->is_int64()) {
    index = i->get_int64();
  } else if (i != nullptr && i->is_uint64()) {
    index = static_cast<std::int64_t>(i->get_uint64());
  } else {
    // No index (some servers omit it with a single call): the open call continues, else a new one.
    index = open_ == BlockKind::tool ? open_tool_ : static_cast<std::int64_t>(seen_tools_.size());
  }
  if (open_ != BlockKind::tool || index != open_tool_) {
    if (std::find(seen_tools_.begin(), seen_tools_.end(), index) != seen_tools_.end()) {
      return;  // a fragment for a call whose block is stopped: cannot be expressed (see header)
    }
    close_block(out);
    std::string id(string_member(call, "id"));
    std::string_view name;
    if (const json::value* f = member(call, "function"); f != nullptr && f->is_object()) {
      name = string_member(f->get_object(), "name");
    }
    if (id.empty()) {
      id = "toolu_" + message_id_.substr(4) + "_" + std::to_string(index);
    }
    append_sse(out,
               "{\"type\":\"content_block_start\",\"index\":" + std::to_string(next_block_) +
                   ",\"content_block\":{\"type\":\"tool_use\",\"id\":" + quote(id) +
                   ",\"name\":" + quote(name) + ",\"input\":{}}}",
               "content_block_start");
    open_ = BlockKind::tool;
    open_tool_ = index;
    seen_tools_.push_back(index);
    ++next_block_;
  }
  std::string_view arguments;
  if (const json::value* f = member(call, "function"); f != nullptr && f->is_object()) {
    arguments = string_member(f->get_object(), "arguments");
  }
  if (arguments.empty()) {
    return;
  }
  scratch_.assign("{\"type\":\"content_block_delta\",\"index\":");
  scratch_ += std::to_string(next_block_ - 1);
  scratch_ += ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":";
  scratch_ += quote(arguments);
  scratch_ += "}}";
  append_sse(out, scratch_, "content_block_delta");
}

void AnthropicStreamWriter::close_block(std::string& out) {
  if (open_ == BlockKind::none) {
    return;
  }
  append_sse(out,
             "{\"type\":\"content_block_stop\",\"index\":" + std::to_string(next_block_ - 1) + "}",
             "content_block_stop");
  open_ = BlockKind::none;
}

void AnthropicStreamWriter::complete(std::string& out) {
  if (!started_) {
    start_message({}, out);
  }
  close_block(out);
  // Anthropic's message_delta usage is cumulative and final; when the upstream sent no usage the
  // only honest count is output_tokens (required), and message_start's input estimate stands.
  const std::string usage = usage_ ? usage_members(*usage_) : std::string("\"output_tokens\":0");
  append_sse(out,
             "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":" +
                 quote(stop_reason_.empty() ? std::string_view("end_turn") : stop_reason_) +
                 ",\"stop_sequence\":null},\"usage\":{" + usage + "}}",
             "message_delta");
  append_sse(out, "{\"type\":\"message_stop\"}", "message_stop");
  done_ = true;
}

void AnthropicStreamWriter::fail(std::string_view type, std::string_view message,
                                 std::string& out) {
  if (failed_) {
    return;
  }
  append_sse(out, error_json(type, message), "error");
  failed_ = true;
}

}  // namespace sb::adapters
