#pragma once
// OpenAI's Responses API, native lane: a client speaking the Responses dialect (`POST
// /v1/responses`) routed to a backend that serves the same API (OpenAI, Azure OpenAI's v1 API).
// Nothing crosses the chat-completions intermediate: the client's body goes upstream byte for
// byte except the members the gateway owns, and the upstream's answer or event stream comes back
// byte for byte while the gateway reads its usage and its final Response object on the way.
// Everything Responses-only therefore survives: reasoning items and their encrypted_content,
// built-in tools (web_search, file_search, code_interpreter, ...), `include`, `text.verbosity`,
// `prompt_cache_key`, `service_tier`, `background`, members added after this was written.
//
// Pure and per request: no sockets, no clock, no config types (see translator.h).
//
// What the gateway changes (spliced into the original text with adapters/json_edit.h; nothing
// else is re-serialized):
// - `model` -> the backend's model (or Azure deployment; the client's alias means nothing
//   upstream);
// - `max_output_tokens` -> the cap, only when a cap is given and the client asked for more.
// `store` is forwarded as the client sent it: whether OpenAI keeps its copy is the client's
// choice (the gateway keeps its own for previous_response_id, see gateway/pipeline/responses.h).
//
// Headers are the gateway's (credentials as the chat lane sends them, forwardable headers).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/json_edit.h"
#include "adapters/native_stream.h"

namespace boost::json {
class value;
}

namespace sb::adapters {

/// Where POST /responses goes: `{base_path}/responses` for OpenAI (base_path is usually "/v1"),
/// `{base_path}/openai/v1/responses` for Azure (a trailing "/openai" of base_path not doubled).
std::string responses_native_target(std::string_view base_path, bool azure);

/// The client's Responses body for the backend, as said in the file comment: target, body and
/// the stream flag (read from the body's `"stream": true`); no headers. `upstream_model`: empty
/// keeps the client's. `max_output_tokens_cap`: 0 for none. Returns nullopt with `error` (400,
/// OpenAI's wording) when the body is not a JSON object text or has no string `model`.
/// Precondition: `client_body` is valid JSON. Thread-safe (pure).
std::optional<UpstreamRequest> responses_native_request(std::string_view client_body,
                                                        std::string_view upstream_model,
                                                        std::uint64_t max_output_tokens_cap,
                                                        std::string_view base_path, bool azure,
                                                        TranslateError& error);

/// A Responses `usage` object in the gateway's units (the same as usage_from_openai): input =
/// input_tokens (cached included, as OpenAI counts), cached_input =
/// input_tokens_details.cached_tokens, output = output_tokens (reasoning included), reasoning =
/// output_tokens_details.reasoning_tokens. nullopt when not an object with integer input_tokens
/// and output_tokens, or when a counter present is negative or not an integer.
std::optional<Usage> usage_from_responses(const boost::json::value& usage);

/// What the gateway needs to know of a complete (non-stream) answer of POST /responses. The body
/// goes to the client unchanged (errors are already in OpenAI's shape).
struct ResponsesNativeAnswer {
  bool ok = false;             ///< status 200 and a `"object":"response"` body
  std::optional<Usage> usage;  ///< its `usage` (absent when unreadable)
  std::string id;              ///< the Response's `id` ("" when none)
  bool retryable = false;      ///< 408, 429 or 5xx
  bool unreadable = false;     ///< a 200 whose body is not a Response object
};

ResponsesNativeAnswer responses_native_answer(unsigned status, std::string_view body);

/// The `id` of a Response object's text ("" when it has none or is not an object).
std::string response_id_of(std::string_view response);

/// The events that end a native stream the gateway itself must cut (a mid-stream failure):
/// `error` then `response.failed` (a Response with `response_id`, status "failed" and the error),
/// numbered from `next_sequence`. `openai_sse`: the gateway's OpenAI error event (`data:
/// {"error":{"message","type","code"}}`); its message and code are carried (code
/// "rate_limit_exceeded" for a rate limit, else the code given, else "server_error").
std::string responses_native_failure(std::string_view openai_sse, std::string_view response_id,
                                     std::int64_t next_sequence);

/// Relays a Responses event stream unchanged while reading it.
///
/// feed() appends the upstream's bytes to `out` exactly as they came, but only up to the end of
/// the last complete event: the bytes of an event still arriving are held (at most
/// kMaxEventBytes, past which the stream fails) so that an event the gateway writes next never
/// lands inside a half-sent one. On the way it reads:
/// - `response.completed` / `response.incomplete`: the final Response object (its raw text,
///   final_response()) and its usage (usage_from_responses); the answer is complete (done()).
///   Bytes after it are not relayed;
/// - `error` and `response.failed`: relayed, then error() is set (status 429 for
///   rate_limit_exceeded, 400 for invalid_request_error / invalid_prompt and other client codes,
///   else 500; retryable() for 429 and 500) and feed() returns false.
/// finish() returns true only once the response is complete; otherwise error() is a 502 and the
/// gateway ends the client's stream with its own failure events. An event that is not JSON is
/// relayed but not read. Not thread-safe; one per response.
class ResponsesNativeStream final : public NativeEventStream {
 public:
  /// 16 MiB: a completed event repeats the whole Response (every output item).
  static constexpr std::size_t kMaxEventBytes = 16 * 1024 * 1024;

  ResponsesNativeStream() : NativeEventStream(kMaxEventBytes, "response.completed") {}

  /// The Response object of response.completed / response.incomplete ("" before).
  const std::string& final_response() const { return final_response_; }
  /// The response's id, from response.created on ("" before).
  const std::string& response_id() const { return response_id_; }
  /// One past the last `sequence_number` seen (0 before any).
  std::int64_t next_sequence() const { return next_sequence_; }

 private:
  void on_event(const SseEvent& ev) override;
  void on_failure(std::string_view data, bool failed_event);

  std::string final_response_;
  std::string response_id_;
  std::int64_t next_sequence_ = 0;
  std::vector<JsonMember> members_;  ///< scratch for event scans
};

}  // namespace sb::adapters
