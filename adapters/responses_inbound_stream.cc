// The Responses API inbound, stream side: OpenAI chat.completion.chunk SSE -> the Responses event
// stream (ResponsesStreamWriter; the sequence is documented in responses_inbound.h).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "adapters/json_write.h"
#include "adapters/openai_shapes.h"
#include "adapters/responses_inbound.h"
#include "adapters/responses_inbound_internal.h"
#include "adapters/sse.h"
#include "adapters/usage.h"

namespace sb::adapters {

namespace json = boost::json;
using namespace responses_detail;

struct ResponsesStreamWriter::Item {
  enum class Kind { reasoning, message, call };
  Kind kind = Kind::message;
  std::string id;
  std::string text;              ///< text, reasoning text, or the call's arguments
  std::int64_t tool_index = -1;  ///< the chat tool-call index of a call
  std::string call_id;
  std::string chat_name;
  bool custom = false;  ///< a flattened custom tool: input sent whole at the end
  bool closed = false;
  std::string_view status = "in_progress";  ///< a literal: completed or incomplete once closed
};

namespace {

/// Opens an event's JSON: `{"type":"<type>"`.
void head(std::string& s, std::string_view type) {
  s.assign("{\"type\":\"");
  s += type;
  s += '"';
}

/// Appends `,"item_id":...,"output_index":N` (and content_index 0 when `with_content`).
void locate(std::string& s, std::string_view item_id, std::size_t index, bool with_content) {
  s += ",\"item_id\":";
  append_quoted(s, item_id);
  s += ",\"output_index\":";
  append_decimal(s, static_cast<std::int64_t>(index));
  if (with_content) {
    s += ",\"content_index\":0";
  }
}

}  // namespace

ResponsesStreamWriter::ResponsesStreamWriter(ResponseMeta meta)
    : ChatChunkReader("server_error"), meta_(std::move(meta)) {}

ResponsesStreamWriter::~ResponsesStreamWriter() = default;

void ResponsesStreamWriter::emit(std::string_view type, std::string& out) {
  scratch_ += ",\"sequence_number\":";
  append_decimal(scratch_, sequence_++);
  scratch_ += '}';
  append_sse(out, scratch_, type);
}

// A delta of text, reasoning or a call's arguments for item `index`, the most frequent event of a
// stream, written in place as append_sse frames it (not through scratch_ and the framer's search
// for line breaks): its data is one line, as every value in it is a literal, a number or quoted (a
// quoted value has every line break escaped). A content part's delta (text, reasoning) names its
// content_index; a message's text has logprobs.
void ResponsesStreamWriter::emit_delta(Delta kind, const Item& item, std::size_t index,
                                       std::string_view delta, std::string& out) {
  const std::string_view type = kind == Delta::text ? "response.output_text.delta"
                                : kind == Delta::reasoning
                                    ? "response.reasoning_text.delta"
                                    : "response.function_call_arguments.delta";
  out.reserve(out.size() + delta.size() + item.id.size() + 2 * type.size() + 128);
  out += "event: ";
  out += type;
  out += "\ndata: {\"type\":\"";
  out += type;
  out += '"';
  locate(out, item.id, index, kind != Delta::arguments);
  out += ",\"delta\":";
  append_quoted(out, delta);
  if (kind == Delta::text) {
    out += ",\"logprobs\":[]";
  }
  out += ",\"sequence_number\":";
  append_decimal(out, sequence_++);
  out += "}\n\n";
}

// A rate limit stays a rate limit; anything else mid-stream is the server's failure.
std::string_view ResponsesStreamWriter::error_kind(std::string_view type,
                                                   std::string_view code) const {
  if (type.find("rate_limit") != std::string_view::npos ||
      code.find("rate_limit") != std::string_view::npos) {
    return "rate_limit_exceeded";
  }
  return code.empty() ? "server_error" : code;
}

void ResponsesStreamWriter::on_chunk(const ChatChunk& chunk, std::string& out) {
  start(out);
  for (const ChunkChoice& choice : chunk.choices) {
    if (choice.index_kind == ChunkChoice::Index::integer && choice.index != 0) {
      continue;  // a Response has one answer; the gateway never asks for n > 1
    }
    text_delta(true, choice.reasoning_text(), out);
    text_delta(false, choice.content, out);
    text_delta(false, choice.refusal, out);
    for (const ChunkToolCall& call : choice.tool_calls) {
      on_tool_delta(call, out);
    }
    if (!choice.finish_reason.empty()) {
      finish_reason_ = choice.finish_reason;
    }
  }
}

void ResponsesStreamWriter::start(std::string& out) {
  if (started_) {
    return;
  }
  started_ = true;
  const std::string response = response_object(meta_, "in_progress", "[]", std::nullopt, {}, {});
  for (std::string_view type : {"response.created", "response.in_progress"}) {
    head(scratch_, type);
    scratch_ += ",\"response\":";
    scratch_ += response;
    emit(type, out);
  }
}

void ResponsesStreamWriter::open_item(Item item, std::string& out) {
  const std::size_t index = items_.size();
  head(scratch_, "response.output_item.added");
  scratch_ += ",\"output_index\":";
  append_decimal(scratch_, static_cast<std::int64_t>(index));
  scratch_ += ",\"item\":";
  if (item.kind == Item::Kind::message) {
    append_message_item(scratch_, item.id, "in_progress", nullptr);
  } else if (item.kind == Item::Kind::reasoning) {
    append_reasoning_item(scratch_, item.id, nullptr);
  } else {
    const json::object added =
        call_item(meta_, index, item.call_id, item.chat_name, "", "in_progress");
    item.id = string_of(added.if_contains("id"));
    item.call_id = string_of(added.if_contains("call_id"));
    item.custom = string_of(added.if_contains("type")) == "custom_tool_call";
    append_json(scratch_, added);
  }
  emit("response.output_item.added", out);
  if (item.kind != Item::Kind::call) {
    head(scratch_, "response.content_part.added");
    locate(scratch_, item.id, index, true);
    scratch_ += ",\"part\":";
    if (item.kind == Item::Kind::message) {
      append_text_part(scratch_, "");
    } else {
      scratch_ += R"({"type":"reasoning_text","text":""})";
    }
    emit("response.content_part.added", out);
  }
  items_.push_back(std::move(item));
}

// `text` appended to the open reasoning or message item (closing another and opening one when the
// last item is not such an open one), told as its delta event.
void ResponsesStreamWriter::text_delta(bool reasoning, std::string_view text, std::string& out) {
  if (text.empty()) {
    return;
  }
  const Item::Kind kind = reasoning ? Item::Kind::reasoning : Item::Kind::message;
  if (items_.empty() || items_.back().closed || items_.back().kind != kind) {
    close_open(out);
    Item item;
    item.kind = kind;
    item.id = item_id(meta_.id, reasoning ? "rs_" : "msg_", items_.size());
    open_item(std::move(item), out);
  }
  items_.back().text += text;
  emit_delta(reasoning ? Delta::reasoning : Delta::text, items_.back(), items_.size() - 1, text,
             out);
}

void ResponsesStreamWriter::on_tool_delta(const ChunkToolCall& call, std::string& out) {
  const bool call_open =
      !items_.empty() && !items_.back().closed && items_.back().kind == Item::Kind::call;
  // No index (some servers omit it with a single call): the open call continues, else a new one.
  const std::int64_t index = call.index.value_or(
      call_open ? items_.back().tool_index : static_cast<std::int64_t>(call_indexes_.size()));
  if (!call_open || items_.back().tool_index != index) {
    if (!call_indexes_.insert(index).second) {
      return;  // a fragment for a closed call: cannot be expressed (see the header)
    }
    close_open(out);
    Item item;
    item.kind = Item::Kind::call;
    item.tool_index = index;
    item.call_id = call.id;
    item.chat_name = call.name;
    open_item(std::move(item), out);
  }
  Item& target = items_.back();
  const std::string_view arguments = call.arguments;
  if (arguments.empty()) {
    return;
  }
  target.text += arguments;
  if (target.custom) {
    return;  // sent whole at the end (see the header)
  }
  emit_delta(Delta::arguments, target, items_.size() - 1, arguments, out);
}

void ResponsesStreamWriter::close_open(std::string& out) {
  if (!items_.empty()) {
    close_item(items_.back(), items_.size() - 1, out);
  }
}

void ResponsesStreamWriter::close_item(Item& item, std::size_t index, std::string& out) {
  if (item.closed) {
    return;
  }
  item.closed = true;
  item.status = item.kind == Item::Kind::call ? "completed" : item_status(finish_reason_);
  if (item.kind == Item::Kind::call) {
    close_call(item, index, out);
  } else {
    const bool message = item.kind == Item::Kind::message;
    head(scratch_, message ? "response.output_text.done" : "response.reasoning_text.done");
    locate(scratch_, item.id, index, true);
    scratch_ += ",\"text\":";
    append_quoted(scratch_, item.text);
    scratch_ += message ? ",\"logprobs\":[]" : "";
    emit(message ? "response.output_text.done" : "response.reasoning_text.done", out);
    head(scratch_, "response.content_part.done");
    locate(scratch_, item.id, index, true);
    scratch_ += ",\"part\":";
    if (message) {
      append_text_part(scratch_, item.text);
    } else {
      scratch_ += R"({"type":"reasoning_text","text":)";
      append_quoted(scratch_, item.text);
      scratch_ += '}';
    }
    emit("response.content_part.done", out);
  }
  head(scratch_, "response.output_item.done");
  scratch_ += ",\"output_index\":";
  append_decimal(scratch_, static_cast<std::int64_t>(index));
  scratch_ += ",\"item\":";
  append_item(scratch_, item, index);
  emit("response.output_item.done", out);
}

void ResponsesStreamWriter::close_call(const Item& item, std::size_t index, std::string& out) {
  if (item.custom) {
    const std::string input = custom_input(item.text);
    if (!input.empty()) {
      head(scratch_, "response.custom_tool_call_input.delta");
      locate(scratch_, item.id, index, false);
      scratch_ += ",\"delta\":";
      append_quoted(scratch_, input);
      emit("response.custom_tool_call_input.delta", out);
    }
    head(scratch_, "response.custom_tool_call_input.done");
    locate(scratch_, item.id, index, false);
    scratch_ += ",\"input\":";
    append_quoted(scratch_, input);
    emit("response.custom_tool_call_input.done", out);
    return;
  }
  const ToolAlias* alias = alias_for(meta_, item.chat_name);
  head(scratch_, "response.function_call_arguments.done");
  locate(scratch_, item.id, index, false);
  scratch_ += ",\"arguments\":";
  append_quoted(scratch_, item.text);
  scratch_ += ",\"name\":";
  append_quoted(scratch_, alias != nullptr ? alias->name : item.chat_name);
  emit("response.function_call_arguments.done", out);
}

void ResponsesStreamWriter::append_item(std::string& out, const Item& item,
                                        std::size_t index) const {
  switch (item.kind) {
    case Item::Kind::reasoning:
      return append_reasoning_item(out, item.id, &item.text);
    case Item::Kind::message:
      return append_message_item(out, item.id, item.status, &item.text);
    case Item::Kind::call:
      break;
  }
  append_json(out, call_item(meta_, index, item.call_id, item.chat_name, item.text, item.status));
}

void ResponsesStreamWriter::write_complete(std::string& out) {
  start(out);
  close_open(out);
  json::array chat_calls;
  std::string text;
  for (const Item& item : items_) {
    if (item.kind == Item::Kind::message) {
      text += item.text;
    } else if (item.kind == Item::Kind::call) {
      chat_calls.push_back(tool_call_object(item.call_id, item.chat_name, item.text));
    }
  }
  const std::string_view reason = incomplete_reason(finish_reason_);
  final_response_ = response_object(meta_, reason.empty() ? "completed" : "incomplete",
                                    output_json(), usage(), reason, {});
  output_messages_ = assistant_turn(text, chat_calls);
  const std::string_view type = reason.empty() ? "response.completed" : "response.incomplete";
  head(scratch_, type);
  scratch_ += ",\"response\":";
  scratch_ += final_response_;
  emit(type, out);
}

std::string ResponsesStreamWriter::output_json() const {
  std::string text = "[";
  for (std::size_t k = 0; k < items_.size(); ++k) {
    text += k == 0 ? "" : ",";
    append_item(text, items_[k], k);
  }
  text += ']';
  return text;
}

void ResponsesStreamWriter::write_failure(std::string_view code, std::string_view message,
                                          std::string& out) {
  start(out);
  head(scratch_, "error");
  scratch_ += ",\"code\":" + quote(code) + ",\"message\":" + quote(message) + ",\"param\":null";
  emit("error", out);
  // The items as the client has them: open ones with their text so far, still in_progress.
  const std::string error = "{\"code\":" + quote(code) + ",\"message\":" + quote(message) + "}";
  head(scratch_, "response.failed");
  scratch_ +=
      ",\"response\":" + response_object(meta_, "failed", output_json(), usage(), {}, error);
  emit("response.failed", out);
}

}  // namespace sb::adapters
