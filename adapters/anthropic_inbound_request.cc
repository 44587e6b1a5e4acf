// The Messages API inbound: an Anthropic request → an OpenAI chat request
// (anthropic_to_openai_request). The answer's way back is in anthropic_inbound_response.cc.
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
#include "adapters/translate_common.h"
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

/// Calls `each(block, at, type)` for every content block of a turn but text ones, which go to
/// `parts` as text parts. False at the first failure, with `error` set.
template <class Each>
bool walk_blocks(const json::array& blocks, const std::string& where, json::array& parts,
                 std::string& error, Each&& each) {
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    const std::string at = where + "[" + std::to_string(k) + "]";
    std::string_view type;
    const json::object* block = block_at(blocks, k, at, type, error);
    if (block == nullptr) {
      return false;
    }
    if (type == "text") {
      std::string_view text;
      if (!block_text(*block, at, text, error)) {
        return false;
      }
      parts.push_back(text_part(text));
    } else if (!each(*block, at, type)) {
      return false;
    }
  }
  return true;
}

/// A turn's content when it is a string: one message of `role` with it, and true.
bool string_turn(const json::value& content, std::string_view role, json::array& out) {
  if (!content.is_string()) {
    return false;
  }
  out.push_back(json::object{{"role", role}, {"content", content}});
  return true;
}

/// A user turn: its tool_result blocks as tool messages first (OpenAI wants them right after the
/// assistant's tool_calls), then the rest as one user message.
bool user_turn(const json::value& content, const std::string& where, json::array& out,
               std::string& error) {
  if (string_turn(content, "user", out)) {
    return true;
  }
  const json::array* blocks = content.if_array();
  if (blocks == nullptr) {
    return fail(error, where + ": must be a string or an array of content blocks");
  }
  json::array parts;
  bool had_tool_results = false;
  const auto each = [&](const json::object& block, const std::string& at, std::string_view type) {
    if (type == "image") {
      return image_part(block, at, parts, error);
    }
    if (type == "tool_result") {
      had_tool_results = true;
      return tool_message(block, at, out, error);
    }
    return fail(error,
                at + ": block type '" + std::string(type) + "' is not supported in a user message");
  };
  if (!walk_blocks(*blocks, where, parts, error, each)) {
    return false;
  }
  if (!parts.empty() || !had_tool_results) {
    out.push_back(
        json::object{{"role", "user"}, {"content", content_from_parts(std::move(parts))}});
  }
  return true;
}

/// A tool_use block as an OpenAI tool call (its input, an object, as the arguments text).
bool tool_call(const json::object& block, const std::string& at, json::array& calls,
               std::string& error) {
  const std::string_view id = string_member(block, "id");
  const std::string_view name = string_member(block, "name");
  const json::value* input = block.if_contains("input");
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
  return true;
}

/// An assistant turn: text blocks as content, tool_use blocks as tool_calls.
bool assistant_turn(const json::value& content, const std::string& where, json::array& out,
                    std::string& error) {
  if (string_turn(content, "assistant", out)) {
    return true;
  }
  const json::array* blocks = content.if_array();
  if (blocks == nullptr) {
    return fail(error, where + ": must be a string or an array of content blocks");
  }
  json::array parts;
  json::array calls;
  const auto each = [&](const json::object& block, const std::string& at, std::string_view type) {
    if (type == "tool_use") {
      return tool_call(block, at, calls, error);
    }
    if (type == "thinking" || type == "redacted_thinking") {
      return true;  // OpenAI has no way to send reasoning back; the model does not need it.
    }
    return fail(error, at + ": block type '" + std::string(type) +
                           "' is not supported in an assistant message");
  };
  if (!walk_blocks(*blocks, where, parts, error, each)) {
    return false;
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

/// `system` and the turns as OpenAI messages; at least one user or assistant turn.
bool convert_conversation(const json::object& body, const json::array& turns, json::array& messages,
                          std::string& error) {
  if (const json::value* system = member(body, "system")) {
    if (!system_message(*system, "system", messages, error)) {
      return false;
    }
  }
  for (std::size_t k = 0; k < turns.size(); ++k) {
    const std::string at = "messages[" + std::to_string(k) + "]";
    const json::object* turn = turns[k].if_object();
    const json::value* content = turn != nullptr ? member(*turn, "content") : nullptr;
    if (turn != nullptr && string_member(*turn, "role") == "system") {
      // A system turn inside the conversation (Claude Code sends them, some carrying no text):
      // kept in its place as an OpenAI system message; one without content adds nothing.
      if (content != nullptr && !content->is_null() &&
          !system_message(*content, at + ".content", messages, error)) {
        return false;
      }
      continue;
    }
    if (turn == nullptr || content == nullptr) {
      return fail(error, at + ": must be an object with role and content");
    }
    const std::string_view role = string_member(*turn, "role");
    if (role == "user") {
      if (!user_turn(*content, at + ".content", messages, error)) {
        return false;
      }
    } else if (role == "assistant") {
      if (!assistant_turn(*content, at + ".content", messages, error)) {
        return false;
      }
    } else {
      return fail(error, at + ".role: must be user, assistant or system");
    }
  }
  if (std::none_of(messages.begin(), messages.end(), [](const json::value& v) {
        const json::string* role = v.as_object().at("role").if_string();
        return role != nullptr && *role != "system";
      })) {
    return fail(error, "messages: must have a user or assistant turn");
  }
  return true;
}

/// `stop_sequences`, `stream`, `tools`, `tool_choice` and `metadata.user_id` into `out`;
/// `temperature` and `top_p` into `sampling`. Checked in that order (stop_sequences, sampling,
/// then the rest), so the first error reported stays the same.
bool convert_options(const json::object& body, json::object& out, SamplingText& sampling,
                     std::string& error) {
  if (const json::value* stop = member(body, "stop_sequences")) {
    const json::array* list = stop->if_array();
    if (list == nullptr || !std::all_of(list->begin(), list->end(),
                                        [](const json::value& s) { return s.is_string(); })) {
      return fail(error, "stop_sequences: must be an array of strings");
    }
    if (!list->empty()) {
      out["stop"] = *list;
    }
  }
  if (!sampling.read(body, error)) {
    return false;
  }
  if (const json::value* s = member(body, "stream")) {
    if (!s->is_bool()) {
      return fail(error, "stream: must be a boolean");
    }
    if (s->get_bool()) {
      out["stream"] = true;
      out["stream_options"] = json::object{{"include_usage", true}};
    }
  }
  bool has_tools = false;
  if (!put_tools(body, out, has_tools, [&](const json::value& tools, json::array& defs) {
        return convert_tools(tools, defs, error);
      })) {
    return false;
  }
  if (const json::value* choice = member(body, "tool_choice")) {
    if (!convert_tool_choice(*choice, has_tools, out, error)) {
      return false;
    }
  }
  if (const json::value* meta = member(body, "metadata")) {
    if (!meta->is_object()) {
      return fail(error, "metadata: must be an object");
    }
    if (const std::string_view user = string_member(meta->get_object(), "user_id"); !user.empty()) {
      out["user"] = user;
    }
  }
  return true;
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
  if (!convert_conversation(body, *turns, messages, error)) {
    return std::nullopt;
  }
  json::object out{{"model", model}, {"messages", std::move(messages)}, {"max_tokens", *max}};
  SamplingText sampling;
  if (!convert_options(body, out, sampling, error)) {
    return std::nullopt;
  }
  std::string text = json::serialize(out);
  sampling.write(text);
  return text;
}

}  // namespace sb::adapters
