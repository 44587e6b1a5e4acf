// The Messages API inbound, answer side: OpenAI chat completions, stream chunks and errors →
// Anthropic messages, stream events and errors. The request side is in
// anthropic_inbound_request.cc.
#include "adapters/anthropic_inbound.h"
#include "adapters/anthropic_inbound_internal.h"

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

#include "adapters/chat_chunk.h"
#include "adapters/json_edit.h"
#include "adapters/json_write.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

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

/// One "msg_" prefix whatever the upstream's id: "chatcmpl-X" -> "msg_X", "msg_X" and
/// "chatcmpl-msg_X" (an Anthropic upstream through the translator) -> "msg_X".
std::string message_id(std::string_view openai_id) {
  constexpr std::string_view kPrefix = "chatcmpl-";
  if (openai_id.starts_with(kPrefix)) {
    openai_id.remove_prefix(kPrefix.size());
  }
  if (openai_id.starts_with("msg_") && openai_id.size() > 4) {
    return std::string(openai_id);
  }
  return "msg_" + std::string(openai_id.empty() ? std::string_view("unknown") : openai_id);
}

/// The reasoning text of an OpenAI message or delta: `reasoning_content` (vLLM, SGLang,
/// llama.cpp, DeepSeek), else `reasoning` (Ollama, OpenRouter, newer vLLM).
std::string_view reasoning_of(const json::object& o) {
  const std::string_view r = string_member(o, "reasoning_content");
  return r.empty() ? string_member(o, "reasoning") : r;
}

/// Appends Anthropic's usage members (what follows the opening brace), from OpenAI counts.
void append_usage_members(std::string& out, const Usage& u) {
  const std::int64_t input = std::max<std::int64_t>(0, u.input - u.cached_input - u.cache_write);
  out += "\"input_tokens\":";
  append_decimal(out, input);
  out += ",\"cache_creation_input_tokens\":";
  append_decimal(out, u.cache_write);
  out += ",\"cache_read_input_tokens\":";
  append_decimal(out, u.cached_input);
  out += ",\"output_tokens\":";
  append_decimal(out, u.output);
}

std::string error_json(std::string_view type, std::string_view message) {
  return "{\"type\":\"error\",\"error\":{\"type\":" + quote(type) +
         ",\"message\":" + quote(message) + "}}";
}

/// A content_block_delta event for block `index`: `delta_head` (the delta's type and the name of
/// its member) and `value` quoted. The most frequent event of a stream is written in place, as
/// append_sse frames it: its data is one line (a quoted value has every line break escaped).
void block_delta(std::int64_t index, std::string_view delta_head, std::string_view value,
                 std::string& out) {
  out.reserve(out.size() + value.size() + 128);
  out += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":";
  append_decimal(out, index);
  out += R"(,"delta":{)";
  out += delta_head;
  append_quoted(out, value);
  out += "}}\n\n";
}

/// An OpenAI assistant message's reasoning (when `thinking`), text (refusal included) and tool
/// calls as Anthropic content blocks; tool arguments that are not a JSON object read as `{}`.
/// Built in `sp`.
json::array content_blocks(const json::object& message, bool thinking,
                           const json::storage_ptr& sp) {
  json::array content(sp);
  if (const std::string_view r = reasoning_of(message); thinking && !r.empty()) {
    content.push_back(json::object({{"type", "thinking"}, {"thinking", r}, {"signature", ""}}, sp));
  }
  std::string text = content_text(member(message, "content"));
  text += string_member(message, "refusal");
  if (!text.empty()) {
    content.push_back(json::object({{"type", "text"}, {"text", text}}, sp));
  }
  const json::value* tc = member(message, "tool_calls");
  if (tc == nullptr || !tc->is_array()) {
    return content;
  }
  for (const json::value& c : tc->get_array()) {
    const json::object* call = c.if_object();
    if (call == nullptr) {
      continue;
    }
    const json::value* f = member(*call, "function");
    const json::object* fn = f != nullptr ? f->if_object() : nullptr;
    json::value input = json::object(sp);
    if (fn != nullptr) {
      boost::system::error_code arg_ec;
      json::value args = json::parse(string_member(*fn, "arguments"), arg_ec, sp);
      if (!arg_ec && args.is_object()) {
        input = std::move(args);
      }
    }
    content.push_back(json::object({{"type", "tool_use"},
                                    {"id", string_member(*call, "id")},
                                    {"name", fn != nullptr ? string_member(*fn, "name") : ""},
                                    {"input", std::move(input)}},
                                   sp));
  }
  return content;
}

}  // namespace

namespace anthropic_inbound {

std::optional<std::string> message_from_dom(std::string_view body, std::string_view model,
                                            std::string& error, std::int64_t cache_write,
                                            bool thinking) {
  // The answer's DOM and the message built from it live in one monotonic resource: a bump of a
  // pointer per node, nothing freed node by node; the 4 KiB first block serves a short answer
  // without the heap.
  alignas(std::max_align_t) unsigned char first_block[4096];
  json::monotonic_resource memory(first_block, sizeof first_block);
  const json::storage_ptr sp(&memory);
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec, sp);
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

  json::array content = content_blocks(message, thinking, sp);
  Usage usage = usage_from_openai(v).value_or(Usage{});
  if (cache_write > 0) {
    usage.cache_write = cache_write;
  }
  const json::object out(
      {
          {"id", message_id(string_member(*completion, "id"))},
          {"type", "message"},
          {"role", "assistant"},
          {"model", model},
          {"content", std::move(content)},
          {"stop_reason", stop_reason(string_member(*choice, "finish_reason"))},
          {"stop_sequence", nullptr},
      },
      sp);
  std::string serialized = to_json(out, body.size() + 256);
  serialized.pop_back();
  serialized += ",\"usage\":{";
  append_usage_members(serialized, usage);
  serialized += "}}";
  return serialized;
}

}  // namespace anthropic_inbound

namespace {

/// The tool_use block of `call`: its arguments, when they parse as a JSON object, are the input
/// (written as Boost writes the parsed object), else `{}`.
void append_tool_use(const ChunkToolCall& call, std::string& out) {
  out += R"({"type":"tool_use","id":)";
  append_json_string(out, call.id);
  out += R"(,"name":)";
  append_json_string(out, call.name);
  out += R"(,"input":)";
  alignas(std::max_align_t) unsigned char first_block[1024];
  json::monotonic_resource memory(first_block, sizeof first_block);
  boost::system::error_code ec;
  const json::value args = json::parse(call.arguments, ec, &memory);
  if (!ec && args.is_object()) {
    append_json(out, args.get_object());
  } else {
    out += "{}";
  }
  out += '}';
}

/// The Message of an answer read by ChatChunkParser, byte for byte what message_from_dom writes.
std::string message_from_typed(const ChatChunk& answer, const ChunkChoice& choice,
                               std::string_view model, std::int64_t cache_write, bool thinking,
                               std::size_t expected) {
  std::string out;
  out.reserve(expected);
  out += R"({"id":)";
  append_json_string(out, message_id(answer.id));
  out += R"(,"type":"message","role":"assistant","model":)";
  append_json_string(out, model);
  out += R"(,"content":[)";
  const char* separator = "";
  if (const std::string_view r = choice.reasoning_text(); thinking && !r.empty()) {
    out += R"({"type":"thinking","thinking":)";
    append_json_string(out, r);
    out += R"(,"signature":""})";
    separator = ",";
  }
  if (!choice.content.empty() || !choice.refusal.empty()) {
    out += separator;
    out += R"({"type":"text","text":)";
    if (choice.refusal.empty()) {
      append_json_string(out, choice.content);  // the usual answer: no string joined first
    } else {
      append_json_string(out, std::string(choice.content) + std::string(choice.refusal));
    }
    out += '}';
    separator = ",";
  }
  for (const ChunkToolCall& call : choice.tool_calls) {
    out += separator;
    append_tool_use(call, out);
    separator = ",";
  }
  out += R"(],"stop_reason":)";
  append_json_string(out, stop_reason(choice.finish_reason));
  Usage usage = answer.usage.value_or(Usage{});
  if (cache_write > 0) {
    usage.cache_write = cache_write;
  }
  out += R"(,"stop_sequence":null,"usage":{)";
  append_usage_members(out, usage);
  out += "}}";
  return out;
}

}  // namespace

std::optional<std::string> try_openai_to_anthropic_response(std::string_view body,
                                                            std::string_view model,
                                                            std::string& error,
                                                            std::int64_t cache_write,
                                                            bool thinking) {
  // Read in one pass into the members the Message needs (no DOM); content given as parts (an
  // array, which engines rarely send) takes the DOM reading.
  ChatChunkParser parser;
  ChatChunk answer;
  const ChunkChoice* choice = parser.parse_answer(body, answer);
  if (choice == nullptr) {
    error = "upstream answer is not a chat.completion";
    return std::nullopt;
  }
  if (choice->content_parts) {
    return anthropic_inbound::message_from_dom(body, model, error, cache_write, thinking);
  }
  return message_from_typed(answer, *choice, model, cache_write, thinking, body.size() + 256);
}

std::string openai_to_anthropic_response(std::string_view body, std::string_view model) {
  std::string error;
  std::optional<std::string> out = try_openai_to_anthropic_response(body, model, error);
  return out ? std::move(*out) : error_json("api_error", error);
}

std::string_view anthropic_error_type(unsigned status) {
  // https://docs.anthropic.com/en/api/errors
  static constexpr StatusMapping kTypes[] = {
      {401, "authentication_error"}, {403, "permission_error"}, {404, "not_found_error"},
      {413, "request_too_large"},    {429, "rate_limit_error"}, {503, "overloaded_error"},
      {529, "overloaded_error"},     {504, "timeout_error"},
  };
  return map_status(kTypes, status,
                    status >= 400 && status < 500 ? "invalid_request_error" : "api_error");
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
                                             std::int64_t estimated_input_tokens, bool thinking)
    : ChatChunkReader("api_error"),
      model_(model),
      estimated_input_(std::max<std::int64_t>(0, estimated_input_tokens)),
      thinking_(thinking) {}

// The Anthropic error type of an OpenAI error object seen mid-stream (no HTTP status there).
std::string_view AnthropicStreamWriter::error_kind(std::string_view type,
                                                   std::string_view code) const {
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

void AnthropicStreamWriter::on_chunk(const ChatChunk& chunk, std::string& out) {
  if (!started_) {
    start_message(chunk.id, out);
  }
  for (const ChunkChoice& choice : chunk.choices) {
    if (choice.index_kind != ChunkChoice::Index::absent &&
        (choice.index_kind != ChunkChoice::Index::integer || choice.index != 0)) {
      continue;  // Anthropic has one answer; the gateway never asks for n > 1
    }
    if (thinking_) {
      on_thinking(choice.reasoning_text(), out);
    }
    on_text(choice.content, out);
    on_text(choice.refusal, out);
    for (const ChunkToolCall& call : choice.tool_calls) {
      on_tool_delta(call, out);
    }
    if (!choice.finish_reason.empty()) {
      stop_reason_ = stop_reason(choice.finish_reason);
    }
  }
}

void AnthropicStreamWriter::start_message(std::string_view openai_id, std::string& out) {
  started_ = true;
  message_id_ = message_id(openai_id);
  Usage start;
  if (const std::optional<Usage>& known = usage() ? usage() : upstream_input_) {
    start.input = known->input;
    start.cached_input = known->cached_input;
    start.cache_write = known->cache_write;
  } else {
    start.input = estimated_input_;
  }
  scratch_.assign(R"({"type":"message_start","message":{"id":)");
  append_quoted(scratch_, message_id_);
  scratch_ += R"(,"type":"message","role":"assistant","model":)";
  append_quoted(scratch_, model_);
  scratch_ += R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{)";
  append_usage_members(scratch_, start);
  scratch_ += "}}}";
  append_sse(out, scratch_, "message_start");
}

void AnthropicStreamWriter::open_block(BlockKind kind, std::string_view content_block,
                                       std::string& out) {
  close_block(out);
  scratch_.assign(R"({"type":"content_block_start","index":)");
  append_decimal(scratch_, next_block_);
  scratch_ += R"(,"content_block":)";
  scratch_ += content_block;
  scratch_ += '}';
  append_sse(out, scratch_, "content_block_start");
  open_ = kind;
  ++next_block_;
}

void AnthropicStreamWriter::on_text(std::string_view text, std::string& out) {
  if (text.empty()) {
    return;
  }
  if (open_ != BlockKind::text) {
    open_block(BlockKind::text, R"({"type":"text","text":""})", out);
  }
  block_delta(next_block_ - 1, R"("type":"text_delta","text":)", text, out);
}

void AnthropicStreamWriter::on_thinking(std::string_view text, std::string& out) {
  if (text.empty()) {
    return;
  }
  if (open_ != BlockKind::thinking) {
    open_block(BlockKind::thinking, R"({"type":"thinking","thinking":"","signature":""})", out);
  }
  block_delta(next_block_ - 1, R"("type":"thinking_delta","thinking":)", text, out);
}

void AnthropicStreamWriter::on_tool_delta(const ChunkToolCall& call, std::string& out) {
  // No index (some servers omit it with a single call): the open call continues, else a new one.
  const std::int64_t index = call.index.value_or(
      open_ == BlockKind::tool ? open_tool_ : static_cast<std::int64_t>(seen_tools_.size()));
  if (open_ != BlockKind::tool || index != open_tool_) {
    if (seen_tools_.contains(index)) {
      return;  // a fragment for a call whose block is stopped: cannot be expressed (see header)
    }
    close_block(out);
    std::string id(call.id);
    if (id.empty()) {
      id = "toolu_" + message_id_.substr(4) + "_" + std::to_string(index);
    }
    append_sse(out,
               "{\"type\":\"content_block_start\",\"index\":" + std::to_string(next_block_) +
                   ",\"content_block\":{\"type\":\"tool_use\",\"id\":" + quote(id) +
                   ",\"name\":" + quote(call.name) + ",\"input\":{}}}",
               "content_block_start");
    open_ = BlockKind::tool;
    open_tool_ = index;
    seen_tools_.insert(index);
    ++next_block_;
  }
  if (call.arguments.empty()) {
    return;
  }
  block_delta(next_block_ - 1, R"("type":"input_json_delta","partial_json":)", call.arguments, out);
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

void AnthropicStreamWriter::write_complete(std::string& out) {
  if (!started_) {
    start_message({}, out);
  }
  close_block(out);
  // Anthropic's message_delta usage is cumulative and final; when the upstream sent no usage the
  // only honest count is output_tokens (required), and message_start's input estimate stands.
  scratch_.assign(R"({"type":"message_delta","delta":{"stop_reason":)");
  append_quoted(scratch_, stop_reason_.empty() ? std::string_view("end_turn") : stop_reason_);
  scratch_ += R"(,"stop_sequence":null},"usage":{)";
  if (usage()) {
    append_usage_members(scratch_, *usage());
  } else {
    scratch_ += "\"output_tokens\":0";
  }
  scratch_ += "}}";
  append_sse(out, scratch_, "message_delta");
  append_sse(out, "{\"type\":\"message_stop\"}", "message_stop");
}

void AnthropicStreamWriter::write_failure(std::string_view type, std::string_view message,
                                          std::string& out) {
  append_sse(out, error_json(type, message), "error");
}

}  // namespace sb::adapters