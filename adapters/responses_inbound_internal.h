#pragma once
// What the Responses inbound's answer side (responses_inbound_response.cc) and its stream writer
// (responses_inbound_stream.cc) build the same way: item ids, the usage object, the Response
// object around its output, the flattened-tool lookup. Internal to adapters/responses_inbound*.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapters/responses_inbound.h"
#include "adapters/usage.h"

namespace sb::adapters::responses_detail {

/// An output item's id: `prefix` ("msg_", "fc_", "ctc_", "rs_") + the response id's hex + the
/// output index as two or more hex digits.
std::string item_id(std::string_view response_id, std::string_view prefix, std::size_t index);

/// A call id for a tool call the upstream sent without one.
std::string call_id(std::string_view response_id, std::size_t index);

/// Appends the Responses `usage` object.
void append_responses_usage(std::string& out, const Usage& u);

/// The echo members for a request that set none of them (OpenAI's defaults).
const std::string& default_echo();

/// The Response object: `status` ("in_progress", "completed", "incomplete", "failed"), the
/// output items' JSON array text, usage (null when absent), incomplete_details (null when
/// `incomplete_reason` is empty) and error (null when `error_json` is empty).
std::string response_object(const ResponseMeta& meta, std::string_view status,
                            std::string_view output_json, const std::optional<Usage>& usage,
                            std::string_view incomplete_reason, std::string_view error_json);

/// The alias of the chat function `chat_name`, or nullptr when it is a plain function.
const ToolAlias* alias_for(const ResponseMeta& meta, std::string_view chat_name);

/// A flattened custom tool's input from the call's arguments (`{"input": "..."}`); arguments of
/// another shape are the input as they are.
std::string custom_input(std::string_view arguments);

/// The item status for a finished answer: "incomplete" when cut, else "completed".
std::string_view item_status(std::string_view finish_reason);

/// incomplete_details.reason for a finish_reason ("" when the answer is complete).
std::string_view incomplete_reason(std::string_view finish_reason);

/// A tool call's output item: function_call (with namespace when flattened) or custom_tool_call.
boost::json::object call_item(const ResponseMeta& meta, std::size_t index, std::string_view id,
                              std::string_view chat_name, std::string_view arguments,
                              std::string_view status);

// The items below are written as JSON text where they are needed, with no DOM: the bytes a DOM of
// them would serialize to (the members in the order given, strings escaped as json_write does).

/// Appends the message item `{id, type, status, content, role}` with one output_text part (no part
/// when `text` is null, for the item as added).
void append_message_item(std::string& out, std::string_view id, std::string_view status,
                         const std::string* text);

/// Appends the reasoning item `{id, type, summary: [], content}` (content [] when `text` is null).
void append_reasoning_item(std::string& out, std::string_view id, const std::string* text);

/// Appends the output_text part `{type, annotations: [], logprobs: [], text}`.
void append_text_part(std::string& out, std::string_view text);

/// The assistant turn as chat messages JSON array text: `[{"role":"assistant","content":...,
/// "tool_calls":[...]}]` (content null when empty and there are calls); "[]" when both are empty.
std::string assistant_turn(std::string_view text, const boost::json::array& tool_calls);

}  // namespace sb::adapters::responses_detail
