#pragma once
// What every chat translator (anthropic, gemini, bedrock, ollama) reads or maps the same way,
// written once: the output-token limit, data URLs, tool_choice, finish-reason tables and usage
// from split prompt counters. Each translator keeps its own checks and messages on top. Pure
// functions; the views they return point into their arguments.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapters/canonical.h"
#include "adapters/openai_shapes.h"
#include "adapters/translator.h"
#include "adapters/usage.h"

namespace sb::adapters {

// ---- request --------------------------------------------------------------------------------

/// A `data:` URL (RFC 2397): `data:<media type>[;param]*[;base64],<data>`.
struct DataUrl {
  std::string_view header;      ///< between "data:" and the first comma
  std::string_view media_type;  ///< the header up to its first ';' (may be empty)
  bool base64 = false;          ///< the header ends in ";base64" (ASCII case-insensitive)
  std::string_view data;        ///< after the first comma
};

/// Whether `url` starts with "data:" (ASCII case-insensitive).
bool is_data_url(std::string_view url);
/// The parts of a data URL; nullopt when `url` is not one (is_data_url) or has no comma.
std::optional<DataUrl> parse_data_url(std::string_view url);
/// parse_data_url() for a provider that takes only base64 payloads: nullopt, after `fail`
/// ("data URL without a comma", "only base64 data URLs can be sent to <provider>"), otherwise.
std::optional<DataUrl> base64_data_url(std::string_view url, std::string_view provider,
                                       const RequestFailure& fail);

/// An OpenAI `tool_choice` (or legacy `function_call`) as every translator reads it
/// (https://platform.openai.com/docs/api-reference/chat/create#chat-create-tool_choice).
struct ToolChoice {
  enum class Kind {
    none,           ///< "none"
    automatic,      ///< "auto"
    required,       ///< "required"
    function,       ///< an object naming one function, of type "function" or without a type
    allowed_tools,  ///< {"type": "allowed_tools", ...} (read through `object`)
    unknown,        ///< another string, another object, or another JSON type
  };
  Kind kind = Kind::unknown;
  bool is_string = false;                       ///< the string form (`text` holds it)
  std::string_view text;                        ///< the string as sent
  const boost::json::object* object = nullptr;  ///< the object form; nullptr otherwise
  std::string_view type;                        ///< the object's `type`
  /// `function.name`; for an object without a type and without it, the legacy `name`.
  std::string_view name;
  bool legacy_name = false;  ///< `name` came from the legacy `{"name": ...}` form
};

/// Reads `tool_choice` from `body`; when it is absent or null and `or_function_call`, the legacy
/// `function_call` instead. nullopt when the member read is absent or null.
std::optional<ToolChoice> tool_choice_of(const boost::json::object& body, bool or_function_call);

/// The function calls of an OpenAI assistant message, for providers that take arguments as an
/// object: every `tool_calls` entry (which must be of type "function") and then the legacy
/// `function_call`, each checked by function_call_of() and appended to `out` as
/// `{<wrapper>: {"name": ..., <arguments_key>: {...}}}`.
bool assistant_function_calls(const boost::json::object& message, std::string_view provider,
                              std::string_view wrapper, std::string_view arguments_key,
                              boost::json::array& out, const RequestFailure& fail);

// ---- request, typed (adapters/canonical.h) --------------------------------------------------

/// The JSON value of bytes the typed parse accepted (a member ChatRequest keeps as bytes: a
/// number as the client wrote it, tool parameters, a schema); null when `raw` is empty.
boost::json::value json_of(std::string_view raw);

/// The raw bytes of message `m`'s member `key` that ChatMessage does not type (e.g. the legacy
/// `function_call`), its last occurrence; empty when absent.
std::string_view message_member(const ChatMessage& m, std::string_view body, std::string_view key);

/// The typed request's `tool_choice`, else (`or_function_call`) its legacy `function_call`, read
/// as tool_choice_of() reads them; `holder` keeps the object the result points into.
std::optional<ToolChoice> tool_choice_of(const ChatRequest& r, bool or_function_call,
                                         boost::json::object& holder);

/// assistant_function_calls() on a typed assistant message: its tool calls, then its legacy
/// `function_call` (read from `body`, as the DOM helper reads it).
bool assistant_function_calls(const ChatMessage& m, std::string_view body,
                              std::string_view provider, std::string_view wrapper,
                              std::string_view arguments_key, boost::json::array& out,
                              const RequestFailure& fail);

/// The output-token limit as the client wrote it: max_completion_tokens, which replaced the
/// deprecated max_tokens, wins over it (ChatRequest::output_cap); null when neither is set.
boost::json::value output_cap_json(const ChatRequest& r);

/// `stop`'s strings as a JSON array (a string `stop` is a list of one).
boost::json::array stop_json(const ChatRequest& r);

/// The function name of the assistant tool call `id`, searched backwards from message `before`
/// (the nearest call wins when a client reuses ids across turns); empty when none made it.
std::string_view tool_name_for(std::span<const ChatMessage> messages, std::size_t before,
                               std::string_view id);

/// `temperature` and `top_p` as the client's JSON text (number_text: the shortest round-trip form
/// of a double), set into the serialized upstream body afterwards so the upstream sees the
/// client's number, not a re-rounded one.
struct SamplingText {
  std::string temperature;
  std::string top_p;

  /// Reads both from `body`; false with `error` set when one is set and not a finite number.
  bool read(const boost::json::object& body, std::string& error);
  /// Sets the members that were present into the JSON object text `json`.
  void write(std::string& json) const;
};

/// `s` percent-encoded (RFC 3986): unreserved bytes (A-Z a-z 0-9 - . _ ~) kept, every other
/// byte %XX in upper-case hex; '/' kept only when `keep_slash`. For path segments and query
/// values built from config (deployment names, model ids, API versions).
std::string percent_encode(std::string_view s, bool keep_slash);

/// `base_path` without trailing slashes, to append "/<endpoint>" to.
std::string_view trimmed_base(std::string_view base_path);

// ---- response -------------------------------------------------------------------------------

/// A provider's stop reason as OpenAI's finish_reason: "length", "tool_calls" or
/// "content_filter" where one says so, else "stop" (and for anything newer). One table holds
/// every provider's names, which do not collide: Anthropic's and Bedrock's snake case, Gemini's
/// upper case, Ollama's done_reason.
std::string_view openai_finish_reason(std::string_view provider_reason);

/// One row of a dialect's HTTP status table (error types, error codes).
struct StatusMapping {
  unsigned status;
  std::string_view to;
};

/// `status` looked up in `table`; `otherwise` when it is not listed.
std::string_view map_status(std::span<const StatusMapping> table, unsigned status,
                            std::string_view otherwise);

/// The text of an OpenAI message `content`: the string, or the `text` members of an array's
/// parts joined (parts without one add nothing); empty when `content` is null or another type.
std::string content_text(const boost::json::value* content);

/// A 200 answer: `completion` (a completion_object()) with `usage` appended last, where OpenAI
/// puts it, when known.
TranslatedResponse completion_response(boost::json::object completion, std::optional<Usage> usage);

/// Usage from a provider that counts prompt tokens in three parts (Anthropic, Bedrock): OpenAI's
/// prompt_tokens is their sum; cache reads are its cached tokens, cache writes its cache_write.
Usage split_prompt_usage(std::int64_t uncached_input, std::int64_t output, std::int64_t cache_read,
                         std::int64_t cache_write);

}  // namespace sb::adapters
