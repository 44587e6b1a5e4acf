#pragma once
// Shared by the Messages API inbound files (anthropic_inbound_request.cc: the conversation;
// anthropic_inbound_options.cc: the other members and the error wording;
// anthropic_inbound_response.cc: the answer). Not a public interface: only those files and the
// tests that hold one reading to another include it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/anthropic_inbound.h"
#include "adapters/member_path.h"

namespace boost::json {
class object;
class value;
}  // namespace boost::json

namespace sb::adapters {
struct SamplingText;
}

namespace sb::adapters::anthropic_inbound {

// ---- refusals in the wording of Anthropic's validator ------------------------------------------
// Anthropic reports a request it cannot validate as `<dotted path>: <reason>`, e.g.
// "max_tokens: Field required", "messages.0.role: Input should be 'user' or 'assistant'",
// "messages.1.content.0: Input tag 'x' found using 'type' does not match any of the expected
// tags: ...", "messages: at least one message is required". Each helper sets `error` and
// returns false.

/// A member's path as Anthropic's errors name it ("messages.1.content.0.text"): see
/// adapters/member_path.h.
using Path = MemberPath;

/// "<where>.<k>": the path of an array element.
inline Path at(const Path& where, std::size_t k) {
  return where.element(k);
}
Path at(Path&& where, std::size_t k) = delete;

/// `error` = `message`.
bool fail(std::string& error, std::string message);
/// `error` = "<where>" + `message`.
bool fail(std::string& error, const Path& where, std::string_view message);
/// "<where>: Field required".
bool required(std::string& error, const Path& where);
/// "<where>: Input should be <what>" (e.g. "a valid string", "a valid dictionary").
bool expected(std::string& error, const Path& where, std::string_view what);
/// A tagged union's unknown tag: "<where>: Input tag '<tag>' found using 'type' does not match
/// any of the expected tags: <tags>".
bool unknown_tag(std::string& error, const Path& where, std::string_view tag,
                 std::string_view tags);
/// The string `v` as a view into `out`; "Field required" when `v` is null, "Input should be a
/// valid string" when it is not a string.
bool string_at(const boost::json::value* v, const Path& where, std::string_view& out,
               std::string& error);

// ---- the members around the conversation -------------------------------------------------------

/// `model` and `max_tokens` (lowered to options.max_tokens_cap), as Anthropic validates them. A
/// count_tokens body has no max_tokens (`counting`): then it reads as 1.
bool read_head(const boost::json::object& body, const AnthropicInboundOptions& options,
               bool counting, std::string_view& model, std::int64_t& max_tokens,
               std::string& error);

/// `stop_sequences`, `stream`, `tools`, `tool_choice` and `metadata.user_id` into `out`;
/// `temperature` and `top_p` into `sampling` (see anthropic_inbound.h for the mapping). The tools
/// are written as JSON text into `tools_text` (their schemas straight from `body`, not copied into
/// `out`; given `tools_room` bytes up front when there are some), and `out["tools"]` holds their
/// place as null.
bool convert_options(const boost::json::object& body, boost::json::object& out,
                     std::string& tools_text, std::size_t tools_room, SamplingText& sampling,
                     std::string& error);

/// `thinking` (checked) and the effort it implies as `reasoning_effort` (see
/// anthropic_inbound.h).
bool convert_thinking(const boost::json::object& body, const AnthropicInboundOptions& options,
                      boost::json::object& out, std::string& error);

/// `output_config.format` as `response_format` (see anthropic_inbound.h).
bool convert_output_format(const boost::json::object& body, boost::json::object& out,
                           std::string& error);

// ---- the answer --------------------------------------------------------------------------------

/// try_openai_to_anthropic_response by way of a DOM of the whole answer: what it does when the
/// message's content is an array of parts, and what its one-pass reading must equal otherwise.
std::optional<std::string> message_from_dom(std::string_view body, std::string_view model,
                                            std::string& error, std::int64_t cache_write,
                                            bool thinking);

}  // namespace sb::adapters::anthropic_inbound
