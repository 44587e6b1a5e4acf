// The Messages API inbound: an Anthropic request → an OpenAI chat request
// (anthropic_to_openai_request): the conversation. The request's other members and the error
// wording are in anthropic_inbound_options.cc; the answer's way back is in
// anthropic_inbound_response.cc.
#include "adapters/anthropic_inbound.h"
#include "adapters/anthropic_inbound_internal.h"
#include "adapters/chat_text.h"
#include "adapters/json_write.h"

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

#include "adapters/chat_facts.h"
#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using namespace anthropic_inbound;

/// Content blocks of a Messages request (https://docs.anthropic.com/en/api/messages).
constexpr std::string_view kBlocks[] = {"text",
                                        "image",
                                        "document",
                                        "search_result",
                                        "thinking",
                                        "redacted_thinking",
                                        "tool_use",
                                        "tool_result",
                                        "server_tool_use",
                                        "web_search_tool_result",
                                        "web_fetch_tool_result",
                                        "code_execution_tool_result",
                                        "mcp_tool_use",
                                        "mcp_tool_result",
                                        "container_upload"};

/// The tags as the unknown-tag error lists them (`'text', 'image', ...`), written once.
std::string_view block_tags() {
  static const std::string tags = [] {
    std::string t;
    for (const std::string_view tag : kBlocks) {
      t.append(t.empty() ? "'" : ", '").append(tag).append("'");
    }
    return t;
  }();
  return tags;
}

/// Compared one by one (a search of the listed tags as text cost 700 instructions a block).
bool known_block(std::string_view type) {
  for (const std::string_view tag : kBlocks) {
    if (type == tag) {
      return true;
    }
  }
  return type.ends_with("_tool_result");
}

/// A block Anthropic knows but this lane cannot carry to an OpenAI-format engine.
bool not_translatable(std::string& error, const Path& where, std::string_view type) {
  return fail(error, where,
              ": '" + std::string(type) +
                  "' blocks cannot be sent to an OpenAI-format backend (route the request "
                  "to an Anthropic backend to use them)");
}

// ---- the chat text, written as the conversation is walked ---------------------------------------
// No DOM of the chat request is built: each message is written as JSON text as soon as it is
// known, byte for byte what json_write writes for the same message as a DOM.

/// The block at `blocks[k]` as an object with a string `type`.
const json::object* block_at(const json::array& blocks, std::size_t k, const Path& where,
                             std::string_view& type, std::string& error) {
  const json::object* block = blocks[k].if_object();
  if (block == nullptr) {
    expected(error, where, "a valid dictionary");
    return nullptr;
  }
  type = string_member(*block, "type");
  if (type.empty()) {
    fail(error, where, ": Unable to extract tag using discriminator 'type'");
    return nullptr;
  }
  return block;
}

/// A text block's text.
bool block_text(const json::object& block, const Path& where, std::string_view& text,
                std::string& error) {
  return string_at(block.if_contains("text"), where / ".text", text, error);
}

// ---- request blocks ------------------------------------------------------------------------

/// An image block as an image_url part
/// (https://docs.anthropic.com/en/docs/build-with-claude/vision#base64-encoded-image-example).
bool image_part(const json::object& block, const Path& where, ContentParts& parts,
                std::string& error) {
  const json::value* s = member(block, "source");
  const json::object* source = s != nullptr ? s->if_object() : nullptr;
  if (source == nullptr) {
    return s == nullptr ? required(error, where / ".source")
                        : expected(error, where / ".source", "a valid dictionary");
  }
  const std::string_view type = string_member(*source, "type");
  std::string url;
  if (type == "base64") {
    std::string_view media_type;
    std::string_view data;
    if (!string_at(member(*source, "media_type"), where / ".source.base64.media_type", media_type,
                   error) ||
        !string_at(member(*source, "data"), where / ".source.base64.data", data, error)) {
      return false;
    }
    url.reserve(media_type.size() + data.size() + 13);
    url.append("data:").append(media_type).append(";base64,").append(data);
  } else if (type == "url") {
    std::string_view u;
    if (!string_at(member(*source, "url"), where / ".source.url.url", u, error)) {
      return false;
    }
    url = u;
  } else if (type == "file") {
    return fail(error, where,
                ".source: file sources (the Files API) cannot be sent to an "
                "OpenAI-format backend");
  } else {
    return unknown_tag(error, where / ".source", type, "'base64', 'url', 'file'");
  }
  parts.image(url);
  return true;
}

/// A document block (https://docs.anthropic.com/en/docs/build-with-claude/pdf-support,
/// .../citations#plain-text-documents) as one text part: "Document: <title>\n\n" when titled,
/// then "<context>\n\n" when given, then the text. Plain-text and content sources carry text the
/// engine can read; PDFs (base64 or URL) and Files API sources would need a PDF reader the
/// gateway does not have, so they are refused rather than silently lost.
bool document_part(const json::object& block, const Path& where, ContentParts& parts,
                   std::string& error) {
  const json::object* source = object_member(block, "source");
  if (source == nullptr) {
    return required(error, where / ".source");
  }
  const std::string_view type = string_member(*source, "type");
  std::string text;
  if (const std::string_view title = string_member(block, "title"); !title.empty()) {
    text.append("Document: ").append(title).append("\n\n");
  }
  if (const std::string_view context = string_member(block, "context"); !context.empty()) {
    text.append(context).append("\n\n");
  }
  if (type == "text") {
    std::string_view data;
    if (!string_at(member(*source, "data"), where / ".source.text.data", data, error)) {
      return false;
    }
    text += data;
  } else if (type == "content") {
    const json::value* c = member(*source, "content");
    if (c != nullptr && c->is_string()) {
      text += view(c->get_string());
    } else if (const json::array* blocks = c != nullptr ? c->if_array() : nullptr) {
      const Path contents = where / ".source.content";
      for (std::size_t k = 0; k < blocks->size(); ++k) {
        std::string_view t;
        const json::object* b = (*blocks)[k].if_object();
        if (b == nullptr || string_member(*b, "type") != "text") {
          return fail(error, at(contents, k),
                      ": only text blocks can be sent to an OpenAI-format backend");
        }
        if (!block_text(*b, at(contents, k), t, error)) {
          return false;
        }
        text.append(k == 0 ? "" : "\n").append(t);
      }
    } else {
      return expected(error, where / ".source.content.content", "a valid list");
    }
  } else if (type == "base64" || type == "url" || type == "file") {
    return fail(error, where,
                ": PDF and file documents cannot be sent to an OpenAI-format "
                "backend (it reads no PDFs); send the document's text, or route "
                "the request to an Anthropic backend");
  } else {
    return unknown_tag(error, where / ".source", type,
                       "'base64', 'text', 'content', 'url', 'file'");
  }
  parts.text(text);
  return true;
}

/// A tool_result block as an OpenAI `tool` message. Its content is a string or blocks: text
/// blocks joined by newlines (OpenAI tool messages carry text only); image blocks cannot go in a
/// tool message, so they go to `images` (the user message that follows the tool messages),
/// after a text part naming the call. `is_error: true` prefixes the text with "Error: " ("Error"
/// alone when there is no text) so the model still sees that the tool failed.
bool tool_message(const json::object& block, const Path& where, ChatMessages& out,
                  ContentParts& images, std::string& error) {
  std::string_view id;
  if (!string_at(member(block, "tool_use_id"), where / ".tool_use_id", id, error)) {
    return false;
  }
  std::string text;
  ContentParts image_parts;
  if (const json::value* c = member(block, "content")) {
    if (c->is_string()) {
      text = view(c->get_string());
    } else if (const json::array* blocks = c->if_array()) {
      const Path contents = where / ".content";
      for (std::size_t k = 0; k < blocks->size(); ++k) {
        const Path where_k = at(contents, k);
        std::string_view type;
        const json::object* b = block_at(*blocks, k, where_k, type, error);
        if (b == nullptr) {
          return false;
        }
        std::string_view t;
        if (type == "image") {
          if (!image_part(*b, where_k, image_parts, error)) {
            return false;
          }
        } else if (type != "text") {
          return not_translatable(error, where_k, type);
        } else if (!block_text(*b, where_k, t, error)) {
          return false;
        } else {
          text.append(text.empty() ? "" : "\n").append(t);
        }
      }
    } else {
      return expected(error, where / ".content", "a valid list");
    }
  }
  if (is_true(member(block, "is_error"))) {
    text = text.empty() ? std::string("Error") : "Error: " + text;
  }
  if (!image_parts.empty()) {
    images.text("Image from the result of tool call " + std::string(id) + ":");
    images.append(image_parts);
  }
  append_json_string(out.tool_result(id), text);
  return true;
}

/// Calls `each(block, at, type)` for every content block of a turn but text ones, which go to
/// `parts` as text parts. False at the first failure, with `error` set.
template <class Each>
bool walk_blocks(const json::array& blocks, const Path& where, ContentParts& parts,
                 std::string& error, Each&& each) {
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    const Path where_k = at(where, k);
    std::string_view type;
    const json::object* block = block_at(blocks, k, where_k, type, error);
    if (block == nullptr) {
      return false;
    }
    if (type == "text") {
      std::string_view text;
      if (!block_text(*block, where_k, text, error)) {
        return false;
      }
      parts.text(text);
    } else if (!known_block(type)) {
      return unknown_tag(error, where_k, type, block_tags());
    } else if (!each(*block, where_k, type)) {
      return false;
    }
  }
  return true;
}

// ---- turns ---------------------------------------------------------------------------------

/// A turn's content when it is a string: one message of `role` with it, and true.
bool string_turn(const json::value& content, std::string_view role, ChatMessages& out) {
  if (!content.is_string()) {
    return false;
  }
  out.add(role, view(content.get_string()));
  return true;
}

/// Blocks of an assistant turn that only an Anthropic backend can take back: the calls and
/// results of Anthropic's server tools (web search, web fetch, code execution, tool search, MCP
/// connector). They are dropped on this lane: the engine did not make those calls, and the
/// assistant's text that used their results stays in the history.
bool server_tool_block(std::string_view type) {
  return type == "server_tool_use" || type == "mcp_tool_use" || type.ends_with("_tool_result");
}

/// A user turn's blocks: its tool_result blocks as tool messages first (OpenAI wants them right
/// after the assistant's tool_calls), then the rest (and images from tool results) as one user
/// message.
bool user_turn(const json::array& blocks, const Path& where, ChatMessages& out,
               std::string& error) {
  ContentParts parts;
  ContentParts tool_images;
  bool had_tool_results = false;
  const auto each = [&](const json::object& block, const Path& w, std::string_view type) {
    if (type == "image") {
      return image_part(block, w, parts, error);
    }
    if (type == "document") {
      return document_part(block, w, parts, error);
    }
    if (type == "tool_result") {
      had_tool_results = true;
      return tool_message(block, w, out, tool_images, error);
    }
    if (type == "tool_use" || type == "thinking" || type == "redacted_thinking" ||
        server_tool_block(type)) {
      return fail(error, w,
                  ": '" + std::string(type) + "' blocks are only allowed in assistant messages");
    }
    return not_translatable(error, w, type);
  };
  if (!walk_blocks(blocks, where, parts, error, each)) {
    return false;
  }
  parts.append(tool_images);
  if (!parts.empty() || !had_tool_results) {
    out.add("user", parts);
  }
  return true;
}

/// A tool_use block as an OpenAI tool call (its input, an object, as the arguments text), after
/// the `calls` written so far.
bool tool_call(const json::object& block, const Path& where, std::string& calls,
               std::string& error) {
  std::string_view id;
  std::string_view name;
  if (!string_at(member(block, "id"), where / ".id", id, error) ||
      !string_at(member(block, "name"), where / ".name", name, error)) {
    return false;
  }
  const json::value* input = block.if_contains("input");
  if (input == nullptr) {
    return required(error, where / ".input");
  }
  if (!input->is_object()) {
    return expected(error, where / ".input", "a valid dictionary");
  }
  if (!calls.empty()) {
    calls += ',';
  }
  append_tool_call(calls, id, name, input->get_object());
  return true;
}

/// An assistant turn's blocks: text blocks as content, tool_use blocks as tool_calls, thinking
/// text as `reasoning_content` when the engine takes it back (options), else dropped.
bool assistant_turn(const json::array& blocks, const Path& where,
                    const AnthropicInboundOptions& options, ChatMessages& out, std::string& error) {
  ContentParts parts;
  std::string calls;
  std::string reasoning;
  const auto each = [&](const json::object& block, const Path& w, std::string_view type) {
    if (type == "tool_use") {
      return tool_call(block, w, calls, error);
    }
    if (type == "thinking") {
      reasoning += string_member(block, "thinking");
      return true;
    }
    if (type == "redacted_thinking" || server_tool_block(type)) {
      return true;  // encrypted, or Anthropic's own: nothing an OpenAI engine can read
    }
    if (type == "tool_result" || type == "image" || type == "document") {
      return fail(error, w,
                  ": '" + std::string(type) + "' blocks are only allowed in user messages");
    }
    return not_translatable(error, w, type);
  };
  if (!walk_blocks(blocks, where, parts, error, each)) {
    return false;
  }
  std::string& json = out.begin("assistant");
  json += R"(,"content":)";
  if (parts.empty() && !calls.empty()) {
    json += "null";
  } else {
    parts.write_content(json);
  }
  if (!calls.empty()) {
    json += R"(,"tool_calls":[)";
    json += calls;
    json += ']';
  }
  if (options.reasoning_content && !reasoning.empty()) {
    json += R"(,"reasoning_content":)";
    append_json_string(json, reasoning);
  }
  return true;
}

// `system` (or a system turn's content at `where`): a string or text blocks, as one OpenAI
// system message in place.
bool system_message(const json::value& system, const Path& where, ChatMessages& out,
                    std::string& error) {
  if (system.is_string()) {
    if (!system.get_string().empty()) {
      out.add("system", view(system.get_string()));
    }
    return true;
  }
  const json::array* blocks = system.if_array();
  if (blocks == nullptr) {
    return expected(error, where, "a valid list");
  }
  ContentParts parts;
  for (std::size_t k = 0; k < blocks->size(); ++k) {
    const Path where_k = at(where, k);
    std::string_view type;
    const json::object* block = block_at(*blocks, k, where_k, type, error);
    if (block == nullptr) {
      return false;
    }
    if (type != "text") {
      return expected(error, where_k / ".type", "'text'");
    }
    std::string_view text;
    if (!block_text(*block, where_k, text, error)) {
      return false;
    }
    parts.text(text);
  }
  if (!parts.empty()) {
    out.add("system", parts);
  }
  return true;
}

/// One turn of `messages` at `where`.
bool convert_turn(const json::value& turn_value, const Path& where,
                  const AnthropicInboundOptions& options, ChatMessages& messages,
                  std::string& error) {
  const json::object* turn = turn_value.if_object();
  if (turn == nullptr) {
    return expected(error, where, "a valid dictionary");
  }
  const json::value* role = member(*turn, "role");
  if (role == nullptr) {
    return required(error, where / ".role");
  }
  const std::string_view r = role->is_string() ? view(role->get_string()) : std::string_view();
  const json::value* content = member(*turn, "content");
  if (r == "system") {
    // A system turn inside the conversation (Claude Code sends them, some carrying only
    // output_config): kept in its place as an OpenAI system message; no content adds nothing.
    return content == nullptr || system_message(*content, where / ".content", messages, error);
  }
  if (r != "user" && r != "assistant") {
    return expected(error, where / ".role", "'user', 'assistant' or 'system'");
  }
  const Path where_content = where / ".content";
  if (content == nullptr) {
    return required(error, where_content);
  }
  if (string_turn(*content, r, messages)) {
    return true;
  }
  const json::array* blocks = content->if_array();
  if (blocks == nullptr) {
    return expected(error, where_content, "a valid list");
  }
  return r == "user" ? user_turn(*blocks, where_content, messages, error)
                     : assistant_turn(*blocks, where_content, options, messages, error);
}

/// `system` and the turns as OpenAI messages; at least one user or assistant turn.
bool convert_conversation(const json::object& body, const json::array& turns,
                          const AnthropicInboundOptions& options, ChatMessages& messages,
                          std::string& error) {
  if (const json::value* system = member(body, "system")) {
    if (!system_message(*system, "system", messages, error)) {
      return false;
    }
  }
  const Path messages_path = "messages";
  for (std::size_t k = 0; k < turns.size(); ++k) {
    if (!convert_turn(turns[k], at(messages_path, k), options, messages, error)) {
      return false;
    }
  }
  if (!messages.any_turn()) {
    return fail(error, "messages: at least one user or assistant message is required");
  }
  return true;
}

/// anthropic_to_openai_request, or (`counting`) its count_tokens variant without max_tokens.
std::optional<std::string> translate_request(const json::object& body, std::string& error,
                                             const AnthropicInboundOptions& options,
                                             bool counting) {
  std::string_view model;
  std::int64_t max_tokens = 0;
  if (!read_head(body, options, counting, model, max_tokens, error)) {
    return std::nullopt;
  }
  const json::value* m = member(body, "messages");
  const json::array* turns = m != nullptr ? m->if_array() : nullptr;
  if (turns == nullptr || turns->empty()) {
    error = m == nullptr       ? "messages: Field required"
            : turns == nullptr ? "messages: Input should be a valid list"
                               : "messages: at least one message is required";
    return std::nullopt;
  }
  // The conversation is written as text while it is walked; the other members (few and small)
  // are built as a DOM in one monotonic resource, whose 4 KiB first block serves most requests
  // without the heap, and written after it.
  std::string text;
  text.reserve(options.body_bytes + 512);
  text += R"({"model":)";
  append_json_string(text, model);
  text += R"(,"messages":)";
  ChatMessages messages(text);
  if (!convert_conversation(body, *turns, options, messages, error)) {
    return std::nullopt;
  }
  alignas(std::max_align_t) unsigned char first_block[4096];
  json::monotonic_resource memory(first_block, sizeof first_block);
  json::object out({{"model", model}, {"max_tokens", max_tokens}}, &memory);
  SamplingText sampling;
  std::string tools;  // the tools' text (convert_options), with the body's size as its room
  if (!convert_options(body, out, tools, options.body_bytes, sampling, error) ||
      !convert_thinking(body, options, out, error) || !convert_output_format(body, out, error)) {
    return std::nullopt;
  }
  // {"model":...,"messages":[...],"max_tokens":...,<the options>}: what json_write writes for the
  // chat request as one object, "messages" second.
  messages.finish();
  append_chat_members(text, out, tools);
  text += '}';
  sampling.write(text);
  return text;
}

}  // namespace

bool anthropic_thinking_requested(const json::object& body) {
  const json::object* thinking = object_member(body, "thinking");
  if (thinking == nullptr || string_member(*thinking, "display") == "omitted") {
    return false;
  }
  const std::string_view type = string_member(*thinking, "type");
  return type == "enabled" || type == "adaptive";
}

std::optional<std::string> anthropic_to_openai_request(const json::object& body, std::string& error,
                                                       const AnthropicInboundOptions& options) {
  return translate_request(body, error, options, false);
}

std::optional<std::int64_t> anthropic_count_tokens_estimate(const json::object& body,
                                                            std::string& error) {
  AnthropicInboundOptions options;
  options.reasoning_content = true;  // thinking text in history is prompt too
  const std::optional<std::string> chat = translate_request(body, error, options, true);
  if (!chat) {
    return std::nullopt;
  }
  // The translation is read back as the gateway reads a body: its nesting can pass the default
  // limit (a client's tool schema goes a level deeper in it), so the limit is the body's own
  // plus room, and a text that still cannot be read is refused, not thrown.
  json::parse_options opts;
  opts.max_depth = 1024;
  boost::system::error_code ec;
  const json::value chat_value = json::parse(*chat, ec, {}, opts);
  if (ec || !chat_value.is_object()) {
    error = "messages: the request could not be counted";
    return std::nullopt;
  }
  ChatFacts facts;
  collect_chat_facts(chat_value.get_object(), facts);
  return static_cast<std::int64_t>(facts.estimated_prompt_tokens);
}

}  // namespace sb::adapters
