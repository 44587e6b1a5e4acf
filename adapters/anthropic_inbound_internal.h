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

/// A member's dotted path in the request ("messages.1.content.0.text"), as an error names it:
/// each level a link on the stack to the one above, written out only when an error is (a string
/// built for every turn and block cost more than the block's own translation). A path must not
/// outlive the one it extends: extending a temporary does not compile.
class Path {
 public:
  /// A top-level member ("messages", "tools").
  Path(const char* member) : text_(member) {}
  /// Below `parent`: `suffix` with its leading dot (".content", ".source.url.url").
  Path(const Path& parent, std::string_view suffix) : parent_(&parent), text_(suffix) {}
  Path(Path&& parent, std::string_view suffix) = delete;
  /// The element `k` of the array at `parent`.
  Path(const Path& parent, std::size_t k) : parent_(&parent), index_(k) {}
  Path(Path&& parent, std::size_t k) = delete;

  /// The path as Anthropic writes it.
  std::string str() const;

 private:
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
  const Path* parent_ = nullptr;
  std::string_view text_;
  std::size_t index_ = kNoIndex;
};

/// `where` and then `suffix` (with its leading dot).
inline Path operator/(const Path& where, std::string_view suffix) {
  return {where, suffix};
}
Path operator/(Path&& where, std::string_view suffix) = delete;

/// "<where>.<k>": the path of an array element.
inline Path at(const Path& where, std::size_t k) {
  return {where, k};
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
/// `temperature` and `top_p` into `sampling` (see anthropic_inbound.h for the mapping).
bool convert_options(const boost::json::object& body, boost::json::object& out,
                     SamplingText& sampling, std::string& error);

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
