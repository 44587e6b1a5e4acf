// The Responses API inbound, answer side: a chat.completion -> a Response object
// (chat_to_response), OpenAI errors -> Responses errors, and the parts of a Response the stream
// writer (responses_inbound_stream.cc) builds the same way.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json.hpp>

#include "adapters/chat_chunk.h"
#include "adapters/json_edit.h"
#include "adapters/json_write.h"
#include "adapters/openai_shapes.h"
#include "adapters/responses_inbound.h"
#include "adapters/responses_inbound_internal.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {

namespace json = boost::json;

namespace responses_detail {
namespace {

/// The hex part of a response id ("resp_<hex>"), or the whole id when it has another form.
std::string_view id_hex(std::string_view response_id) {
  constexpr std::string_view kPrefix = "resp_";
  return response_id.starts_with(kPrefix) ? response_id.substr(kPrefix.size()) : response_id;
}

std::string hex_index(std::size_t index) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kHex[index & 0xF]);
    index >>= 4;
  } while (index != 0);
  if (out.size() < 2) {
    out.insert(out.begin(), '0');
  }
  return out;
}

}  // namespace

std::string item_id(std::string_view response_id, std::string_view prefix, std::size_t index) {
  std::string id(prefix);
  id += id_hex(response_id);
  id += hex_index(index);
  return id;
}

std::string call_id(std::string_view response_id, std::size_t index) {
  return item_id(response_id, "call_", index);
}

void append_responses_usage(std::string& out, const Usage& u) {
  out += R"({"input_tokens":)";
  append_decimal(out, u.input);
  out += R"(,"input_tokens_details":{"cached_tokens":)";
  append_decimal(out, u.cached_input);
  out += R"(},"output_tokens":)";
  append_decimal(out, u.output);
  out += R"(,"output_tokens_details":{"reasoning_tokens":)";
  append_decimal(out, u.reasoning);
  out += R"(},"total_tokens":)";
  append_decimal(out, u.input + u.output);
  out += '}';
}

const std::string& default_echo() {
  static const std::string echo = [] {
    std::string error;
    std::string param;
    const std::optional<ResponsesTurn> turn =
        responses_to_chat_request(json::object{{"model", "m"}, {"input", ""}}, {}, error, param);
    return turn ? turn->echo : std::string();
  }();
  return echo;
}

std::string response_object(const ResponseMeta& meta, std::string_view status,
                            std::string_view output_json, const std::optional<Usage>& usage,
                            std::string_view incomplete_reason, std::string_view error_json) {
  const std::string& echo = meta.echo.empty() ? default_echo() : meta.echo;
  std::string out;
  out.reserve(output_json.size() + echo.size() + error_json.size() + 512);
  out += R"({"id":)";
  append_quoted(out, meta.id);
  out += R"(,"object":"response","created_at":)";
  append_decimal(out, meta.created_at);
  out += R"(,"status":)";
  append_quoted(out, status);
  out += R"(,"background":false,"error":)";
  out += error_json.empty() ? std::string_view("null") : error_json;
  out += R"(,"incomplete_details":)";
  if (incomplete_reason.empty()) {
    out += "null";
  } else {
    out += R"({"reason":)";
    append_quoted(out, incomplete_reason);
    out += '}';
  }
  out += R"(,"model":)";
  append_quoted(out, meta.model);
  out += R"(,"output":)";
  out += output_json;
  out += R"(,"previous_response_id":)";
  if (meta.previous_response_id.empty()) {
    out += "null";
  } else {
    append_quoted(out, meta.previous_response_id);
  }
  out += ',';
  out += echo;
  out += R"(,"usage":)";
  if (usage) {
    append_responses_usage(out, *usage);
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

const ToolAlias* alias_for(const ResponseMeta& meta, std::string_view chat_name) {
  for (const ToolAlias& a : meta.tool_aliases) {
    if (a.chat_name == chat_name) {
      return &a;
    }
  }
  return nullptr;
}

std::string custom_input(std::string_view arguments) {
  boost::system::error_code ec;
  const json::value v = json::parse(arguments, ec);
  if (!ec && v.is_object()) {
    if (const json::value* input = v.get_object().if_contains("input");
        input != nullptr && input->is_string()) {
      return std::string(view(input->get_string()));
    }
  }
  return std::string(arguments);
}

std::string_view item_status(std::string_view finish_reason) {
  return incomplete_reason(finish_reason).empty() ? "completed" : "incomplete";
}

std::string_view incomplete_reason(std::string_view finish_reason) {
  if (finish_reason == "length") {
    return "max_output_tokens";
  }
  if (finish_reason == "content_filter") {
    return "content_filter";
  }
  return {};
}

json::object call_item(const ResponseMeta& meta, std::size_t index, std::string_view id,
                       std::string_view chat_name, std::string_view arguments,
                       std::string_view status) {
  const ToolAlias* alias = alias_for(meta, chat_name);
  const std::string call = id.empty() ? call_id(meta.id, index) : std::string(id);
  if (alias != nullptr && alias->custom) {
    json::object item{{"id", item_id(meta.id, "ctc_", index)},
                      {"type", "custom_tool_call"},
                      {"status", status},
                      {"call_id", call},
                      {"input", custom_input(arguments)},
                      {"name", alias->name}};
    if (!alias->namespace_.empty()) {
      item["namespace"] = alias->namespace_;
    }
    return item;
  }
  json::object item{{"id", item_id(meta.id, "fc_", index)},
                    {"type", "function_call"},
                    {"status", status},
                    {"arguments", arguments},
                    {"call_id", call},
                    {"name", alias != nullptr ? std::string_view(alias->name) : chat_name}};
  if (alias != nullptr && !alias->namespace_.empty()) {
    item["namespace"] = alias->namespace_;
  }
  return item;
}

void append_text_part(std::string& out, std::string_view text) {
  out += R"({"type":"output_text","annotations":[],"logprobs":[],"text":)";
  append_json_string(out, text);
  out += '}';
}

void append_message_item(std::string& out, std::string_view id, std::string_view status,
                         const std::string* text) {
  out += R"({"id":)";
  append_json_string(out, id);
  out += R"(,"type":"message","status":)";
  append_json_string(out, status);
  out += R"(,"content":[)";
  if (text != nullptr) {
    append_text_part(out, *text);
  }
  out += R"(],"role":"assistant"})";
}

void append_reasoning_item(std::string& out, std::string_view id, const std::string* text) {
  out += R"({"id":)";
  append_json_string(out, id);
  out += R"(,"type":"reasoning","summary":[],"content":[)";
  if (text != nullptr) {
    out += R"({"type":"reasoning_text","text":)";
    append_json_string(out, *text);
    out += '}';
  }
  out += "]}";
}

std::string assistant_turn(std::string_view text, const json::array& tool_calls) {
  if (text.empty() && tool_calls.empty()) {
    return "[]";
  }
  std::string out = R"([{"role":"assistant","content":)";
  if (text.empty()) {
    out += "null";
  } else {
    append_json_string(out, text);
  }
  if (!tool_calls.empty()) {
    out += R"(,"tool_calls":)";
    append_json(out, tool_calls);
  }
  out += "}]";
  return out;
}

}  // namespace responses_detail

using namespace responses_detail;

namespace {

/// The texts of the first choice's message content given as parts (an array: what the one-pass
/// reading leaves to a DOM), joined.
std::string parts_text(std::string_view chat_completion) {
  boost::system::error_code ec;
  const json::value v = json::parse(chat_completion, ec);
  const json::object* completion = !ec ? v.if_object() : nullptr;
  const json::array* choices =
      completion != nullptr ? array_member(*completion, "choices") : nullptr;
  const json::object* choice =
      choices != nullptr && !choices->empty() ? choices->front().if_object() : nullptr;
  const json::object* message = choice != nullptr ? object_member(*choice, "message") : nullptr;
  return message != nullptr ? content_text(member(*message, "content")) : std::string();
}

}  // namespace

std::string new_response_id() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "resp_";
  for (int word = 0; word < 3; ++word) {
    std::uint64_t bits = gen();
    for (int k = 0; k < 16; ++k, bits >>= 4) {
      id += kHex[bits & 0xF];
    }
  }
  return id;
}

std::optional<std::string> chat_to_response(std::string_view chat_completion,
                                            const ResponseMeta& meta, std::string& output_messages,
                                            std::string& error, std::int64_t cache_write) {
  // Read in one pass into the members the Response needs (no DOM of the answer).
  ChatChunkParser parser;
  ChatChunk answer;
  const ChunkChoice* choice = parser.parse_answer(chat_completion, answer);
  if (choice == nullptr) {
    error = "upstream answer is not a chat.completion";
    return std::nullopt;
  }
  const std::string_view finish = choice->finish_reason;
  std::string output_json = "[";
  std::size_t items = 0;  // the output items written, each after a comma but the first
  auto next_item = [&] { output_json += items++ == 0 ? "" : ","; };
  if (const std::string_view r = choice->reasoning_text(); !r.empty()) {
    const std::string text(r);
    next_item();
    append_reasoning_item(output_json, item_id(meta.id, "rs_", 0), &text);
  }
  std::string text =
      choice->content_parts ? parts_text(chat_completion) : std::string(choice->content);
  text += choice->refusal;
  if (!text.empty()) {
    const std::size_t index = items;
    next_item();
    append_message_item(output_json, item_id(meta.id, "msg_", index), item_status(finish), &text);
  }
  json::array chat_calls;
  for (const ChunkToolCall& call : choice->tool_calls) {
    if (!call.has_function) {
      continue;
    }
    const json::object item =
        call_item(meta, items, call.id, call.name, call.arguments, "completed");
    chat_calls.push_back(
        tool_call_object(item.at("call_id").as_string(), call.name, std::string(call.arguments)));
    next_item();
    append_json(output_json, item);
  }
  output_json += ']';
  std::optional<Usage> usage = answer.usage;
  if (usage && cache_write > 0) {
    usage->cache_write = cache_write;  // counted in input_tokens already; no Responses member
  }
  const std::string_view reason = incomplete_reason(finish);
  output_messages = assistant_turn(text, chat_calls);
  return response_object(meta, reason.empty() ? "completed" : "incomplete", output_json, usage,
                         reason, {});
}

std::string responses_error_body(unsigned status, std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const json::object* root = !ec ? v.if_object() : nullptr;
  const json::value* e = root != nullptr ? member(*root, "error") : nullptr;
  const json::object* eo = e != nullptr ? e->if_object() : nullptr;
  std::string message(eo != nullptr ? string_member(*eo, "message") : string_of(e));
  if (message.empty()) {
    message = "HTTP " + std::to_string(status);
  }
  const std::string_view type = eo != nullptr ? string_member(*eo, "type") : "";
  json::object out{{"message", message},
                   {"type", type.empty() ? error_type_for(status) : type},
                   {"param", nullptr},
                   {"code", nullptr}};
  for (std::string_view key : {"param", "code"}) {
    if (const json::value* m = eo != nullptr ? member(*eo, key) : nullptr;
        m != nullptr && (m->is_string() || m->is_number())) {
      out[key] = *m;
    }
  }
  return json::serialize(json::object{{"error", std::move(out)}});
}

}  // namespace sb::adapters
