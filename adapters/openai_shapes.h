#pragma once
// The OpenAI wire shapes that provider translators produce, and the readers of OpenAI (and other
// JSON) requests they share: error bodies, usage objects, chat.completion and
// chat.completion.chunk envelopes, tool-call objects, and null-safe JSON accessors.
//
// Every function here is pure (no clocks, no I/O) and safe to call from any thread; ChunkWriter
// and IdentifiedStream are per-stream objects and not thread-safe. Output bytes are part of the
// translators' golden fixtures: member order and escaping are those of Boost.JSON's serializer.
// https://platform.openai.com/docs/api-reference/chat/object
// https://platform.openai.com/docs/api-reference/chat/streaming

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include "adapters/translator.h"
#include "adapters/usage.h"

namespace sb::adapters {

// ---- JSON readers ----------------------------------------------------------------------------

/// The string `v` holds; empty when `v` is null (the pointer) or not a string.
std::string_view string_of(const boost::json::value* v);
/// The object `v` holds; nullptr when `v` is null or not an object.
const boost::json::object* object_of(const boost::json::value* v);
/// The array `v` holds; nullptr when `v` is null or not an array.
const boost::json::array* array_of(const boost::json::value* v);
/// Member `key` of `o`; nullptr when `o` is null or has no such member (a JSON null is returned).
const boost::json::value* member_of(const boost::json::object* o, std::string_view key);
/// Whether `v` is a JSON number (integer or double).
bool is_number(const boost::json::value* v);
/// Whether `v` is the JSON literal `true`.
bool is_true(const boost::json::value* v);
/// A non-negative integer count: negative, non-integer, absent and out-of-range values read as 0
/// (for providers that omit zero counts).
std::int64_t count_of(const boost::json::value* v);

/// Member `key` of `o` when present and not JSON null; nullptr otherwise.
const boost::json::value* member(const boost::json::object& o, std::string_view key);
/// The string member `key` of `o`; empty when absent or not a string.
std::string_view string_member(const boost::json::object& o, std::string_view key);
/// The object member `key` of `o`; nullptr when absent or not an object.
const boost::json::object* object_member(const boost::json::object& o, std::string_view key);
/// The array member `key` of `o`; nullptr when absent or not an array.
const boost::json::array* array_member(const boost::json::object& o, std::string_view key);
/// The integer member `key` of `o` when it fits an int64 (either sign); nullopt when absent, not
/// an integer or out of range.
std::optional<std::int64_t> int64_member(const boost::json::object& o, std::string_view key);
/// int64_member() when it is not negative: a token count or index as providers send them.
std::optional<std::int64_t> count_member(const boost::json::object& o, std::string_view key);
/// A view of `s` (valid while `s` lives).
std::string_view view(const boost::json::string& s);

/// A positive integer (an integral double such as 100.0 included, as JSON does not tell them
/// apart); nullopt otherwise.
std::optional<std::int64_t> positive_integer(const boost::json::value& v);

/// The JSON text of the number member `key` of `body` into `out` (see json_number_text: doubles
/// in their shortest round-trip form, so the upstream sees the client's value). An absent or null
/// member leaves `out` alone and returns true; any other non-number, or a non-finite one, returns
/// false with `error` set to "<key>: must be a number" / "<key>: must be a finite number".
bool number_text(const boost::json::object& body, std::string_view key, std::string& out,
                 std::string& error);

/// ASCII case-insensitive prefix test (URL schemes, `;base64`).
bool starts_with_ci(std::string_view s, std::string_view prefix);

// ---- reading OpenAI requests -------------------------------------------------------------------

/// Reports a request a provider cannot express: sets `error` to status 400 with `message` and
/// returns false, so a translation step can `return fail("...")`.
struct RequestFailure {
  TranslateError& error;

  bool operator()(std::string message) const;
};

/// The URL of an `image_url` content part: `image_url` as a string, or its `url` member. Empty
/// when there is none.
std::string_view image_url_of(const boost::json::object& part);

/// The function name of the assistant tool call `id`, searched backwards from message `before`
/// (the nearest call wins when a client reuses ids across turns). Empty when no earlier
/// assistant message made that call. For providers that match tool results by function name.
std::string_view tool_name_for(const boost::json::array& messages, std::size_t before,
                               std::string_view id);

/// The JSON value of a request body's text, or of a member of it, read as the gateway reads
/// bodies (nesting up to 128 levels; Boost.JSON's default stops at 32). nullopt when malformed.
std::optional<boost::json::value> parse_request_json(std::string_view text);

/// The JSON object an OpenAI tool call's `arguments` text holds; text that is empty or only
/// whitespace reads as `{}`. nullopt when the text is not a JSON object.
std::optional<boost::json::value> tool_arguments_object(std::string_view arguments);

/// Parses the `arguments` of the OpenAI function call `fn` (`{name, arguments}`) for a provider
/// that takes them as an object. Fails (through `fail`) when the name is missing ("assistant tool
/// call without a function name") or the arguments are not an object ("tool call arguments of
/// '<name>' must be a JSON object for <provider>"). On success `name` views into `fn`.
bool function_call_of(const boost::json::object* fn, std::string_view provider,
                      const RequestFailure& fail, std::string_view& name,
                      boost::json::value& arguments);

/// The prefix of the tool call ids a translator makes up for calls the provider sent without one:
/// "call_<completion id without its chatcmpl- prefix>_" (a call number follows), so ids stay
/// unique across the turns of a conversation when completion ids are.
std::string tool_call_id_prefix(std::string_view completion_id);

/// A Retry-After value in delta-seconds form (RFC 9110 10.2.3) of at most `max_digits` digits,
/// surrounding spaces and tabs ignored; nullopt for anything else (the HTTP-date form included).
std::optional<std::string> delta_seconds(std::string_view v, std::size_t max_digits);

// ---- OpenAI errors ---------------------------------------------------------------------------

/// `{"error":{"message":...,"type":...,"param":null,"code":...}}`; `code` null when empty.
std::string error_body(std::string_view message, std::string_view type, std::string_view code);

/// OpenAI error `type` for an HTTP status, as the gateway's own errors use (404 is
/// not_found_error; 408 and 504 timeout_error; other 4xx invalid_request_error; 5xx api_error).
std::string_view error_type_for(unsigned status);

/// Whether a client would retry this status elsewhere: 408, 429 and 5xx.
bool retryable_status(unsigned status);

/// A 502 (retryable) for an upstream answer that cannot be understood, with `message` as is
/// (type api_error, code upstream_error).
TranslatedResponse bad_upstream(std::string_view message);

/// bad_upstream() with the message "upstream provider sent an unreadable response: <why>".
TranslatedResponse unreadable_upstream(std::string_view why);

// ---- OpenAI answers --------------------------------------------------------------------------

/// The OpenAI `usage` object: prompt/completion/total tokens with prompt_tokens_details
/// (cached_tokens) and completion_tokens_details (reasoning_tokens).
boost::json::object usage_object(const Usage& u);
/// usage_object() as JSON text.
std::string usage_json(const Usage& u);

/// An OpenAI tool call: `{"id", "type": "function", "function": {"name", "arguments"}}`, the
/// arguments as JSON text.
boost::json::object tool_call_object(std::string_view id, std::string_view name,
                                     std::string arguments);

/// The assistant message of a choice: `{"role": "assistant", content, "refusal": null}` plus
/// `tool_calls` when there are any.
boost::json::object assistant_message(boost::json::value content, boost::json::array tool_calls);

/// A chat.completion choice: `{index, message, "logprobs": null, finish_reason}`.
boost::json::object completion_choice(std::size_t index, boost::json::object message,
                                      std::string_view finish_reason);

/// A chat.completion without usage: `{id, "object": "chat.completion", created, model, choices}`
/// (callers append `usage` last, where OpenAI puts it).
boost::json::object completion_object(std::string_view id, std::int64_t created,
                                      std::string_view model, boost::json::array choices);

// ---- OpenAI streams --------------------------------------------------------------------------

/// The delta of the first chunk of a choice.
inline constexpr std::string_view kRoleDelta =
    R"({"role":"assistant","content":"","refusal":null})";

/// A text delta: `{"content":<text>}`.
std::string content_delta(std::string_view text);

/// The delta of a tool call sent whole in one chunk: `{"tool_calls":[{index, id, "type":
/// "function", function}]}`, from a tool_call_object() (whose `id` and `function` are moved).
std::string whole_tool_call_delta(std::size_t index, boost::json::object& call);

/// Writes the chat.completion.chunk events of one stream as SSE (`data: {...}\n\n`): every chunk
/// carries the same id, created and model, then `choices`, then `"usage": null` when the client
/// asked for the usage chunk (as OpenAI sends it). Not thread-safe; one per stream.
class ChunkWriter {
 public:
  explicit ChunkWriter(bool include_usage) : include_usage_(include_usage) {}

  /// Sets the id, created and model of the chunks written from now on.
  void identify(std::string_view id, std::int64_t created, std::string_view model);
  /// Whether identify() was called.
  bool identified() const { return !prefix_.empty(); }
  bool include_usage() const { return include_usage_; }

  /// A chunk with one choice: `index`, `delta` (a JSON object's text), `"logprobs": null` and
  /// `finish_reason` (null when empty). Requires identified().
  void choice(std::string& out, std::size_t index, std::string_view delta,
              std::string_view finish_reason = {});
  /// The usage chunk: empty `choices` and the usage object. Requires identified().
  void usage(std::string& out, const Usage& u) const;
  /// The stream's end: `data: [DONE]`.
  static void done(std::string& out);

 private:
  std::string prefix_;   // `{"id":...,"object":"chat.completion.chunk","created":...,"model":...`
  std::string scratch_;  // the chunk being written, reused
  bool include_usage_;
};

/// The base of a stream translated from a native model API that sends no OpenAI-style id
/// (Gemini, Ollama): the client request's id and `created`, the model to report, tool call ids
/// derived from the id, and the writer of the chunks. Not thread-safe; one per stream.
class IdentifiedStream : public StreamTranslator {
 protected:
  /// `model`: the model to report until the provider names one.
  IdentifiedStream(std::int64_t created, std::string id, bool include_usage, std::string_view model)
      : created_(created),
        id_(std::move(id)),
        call_prefix_(tool_call_id_prefix(id_)),
        model_(model),
        chunks_(include_usage) {}

  /// Fails the stream with the 5xx `status`: appends an OpenAI error event (api_error,
  /// upstream_error) to `out` and sets error(). Returns false.
  bool fail(unsigned status, std::string message, std::string& out);

  std::int64_t created_;
  std::string id_;
  std::string call_prefix_;  ///< tool_call_id_prefix(id_)
  std::string model_;
  ChunkWriter chunks_;
  std::size_t next_call_ = 0;  ///< the number of the next tool call id made up
};

}  // namespace sb::adapters
