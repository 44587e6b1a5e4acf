#pragma once
// Anthropic's Messages API, faithful lane: a client speaking Anthropic's dialect
// (`POST /v1/messages`, `POST /v1/messages/count_tokens`) routed to an Anthropic-format backend.
// Nothing crosses an OpenAI-shaped intermediate: the client's body goes upstream byte for byte
// except the members the gateway owns, and the upstream's answer or event stream comes back byte
// for byte while the gateway reads its usage on the way. Everything Anthropic-only therefore
// survives: `cache_control` (prompt caching), `thinking` and signed thinking blocks,
// `redacted_thinking`, `output_config`, `context_management`, documents, server tools,
// `defer_loading`, `tool_result.is_error`, system turns inside `messages`, and members added after
// this was written.
//
// Pure and per request: no sockets, no clock, no config types (see translator.h).
//
// What the gateway changes (spliced into the original text with adapters/json_edit.h; only the
// member changed is re-serialized, and only in the cases below):
// - `model` -> the backend's model (the client's alias is meaningless upstream);
// - `max_tokens` -> the cap, only when a cap is given and the client asked for more (a backend
//   whose model allows less would refuse the request: "max_tokens: N > M, which is the maximum
//   allowed number of output tokens for ..."). When the clamp brings max_tokens to or below
//   `thinking.budget_tokens` (Anthropic requires budget_tokens < max_tokens), the `thinking`
//   member is rewritten with budget_tokens = max_tokens - 1 so the request stays valid (a budget
//   below Anthropic's minimum of 1024 is then Anthropic's to refuse);
// - thinking blocks with an empty `signature` are removed from `messages` (then re-serialized):
//   the translated lane writes such blocks for an engine's reasoning (it cannot sign them), a
//   client sends them back in its history, and Anthropic refuses thinking it did not sign; this
//   is what lets one conversation move between an OpenAI-format engine and Anthropic;
// - count_tokens only: the members Anthropic's count endpoint does not take (kNotCounted) are
//   removed, so a client that sends its Messages body as is still gets a count.
//
// Headers: `x-api-key` (the backend's key: the client's own credentials never go upstream),
// `anthropic-version` (the client's, else BackendSpec::api_version, else kAnthropicVersion),
// `anthropic-beta` (the client's, verbatim, only when it sent one: beta features such as
// context management and interleaved thinking need it), `content-type: application/json`, and
// `accept: text/event-stream` for a stream. Nothing else of the client's headers is forwarded.
//
// Not covered here: Bedrock's Anthropic models (InvokeModel takes `anthropic_version` in the
// body and no `model`, and streams AWS event-stream frames), which stay on the translated lane.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/native_stream.h"

namespace sb::adapters {

/// Top-level members a Messages request may carry that POST /v1/messages/count_tokens refuses
/// ("<member>: Extra inputs are not permitted"): they tune generation, not the prompt
/// (https://docs.anthropic.com/en/api/messages-count-tokens lists the members it takes: model,
/// messages, system, tools, tool_choice, thinking, output_config, cache_control, mcp_servers,
/// context_management, speed).
inline constexpr std::string_view kNotCounted[] = {
    "max_tokens", "stream", "stop_sequences", "temperature",
    "top_k",      "top_p",  "metadata",       "service_tier",
};

/// The client's Messages body for an Anthropic-format backend, as said in the file comment.
///
/// Preconditions: `client_body` is valid JSON (the gateway has parsed it). It must be an object
/// with a string `model` (else 400 "model: Field required" / "model: Input should be a valid
/// string", Anthropic's wording). `upstream_model`: the backend's model; empty keeps the
/// client's. `max_tokens_cap`: 0 for none. `client_anthropic_version` / `client_anthropic_beta`:
/// the client's header values, empty when absent. The stream flag is read from the body
/// (`"stream": true`). Returns nullopt with `error` set (status 400, message in Anthropic's
/// wording) when the body cannot be sent. `client_query`: the query of the client's request
/// target without its '?' (Anthropic's SDKs add `beta=true` on their beta client, as Claude Code
/// does), appended to the upstream target when not empty and made only of letters, digits and
/// `-._~=&%+` (else dropped). Thread-safe (pure).
std::optional<UpstreamRequest> anthropic_native_request(
    std::string_view client_body, std::string_view upstream_model, std::uint64_t max_tokens_cap,
    const BackendSpec& spec, std::string_view client_anthropic_version,
    std::string_view client_anthropic_beta, TranslateError& error,
    std::string_view client_query = {});

/// The client's count_tokens body (or a Messages body) for the backend's
/// `{base_path}/messages/count_tokens`: the same splice of `model`, the kNotCounted members
/// removed, the same headers (never a stream). Same preconditions and errors as
/// anthropic_native_request.
std::optional<UpstreamRequest> anthropic_count_tokens_request(
    std::string_view client_body, std::string_view upstream_model, const BackendSpec& spec,
    std::string_view client_anthropic_version, std::string_view client_anthropic_beta,
    TranslateError& error, std::string_view client_query = {});

/// `input_tokens` of a count_tokens answer (`{"input_tokens": N}`); nullopt when the body is not
/// such an object or N is not a non-negative integer.
std::optional<std::int64_t> anthropic_count_tokens_answer(std::string_view body);

/// What the gateway needs to know of a complete (non-stream) native answer. The body itself goes
/// to the client unchanged (errors are already in Anthropic's shape).
struct AnthropicNativeAnswer {
  bool ok = false;  ///< status 200 and a `"type":"message"` body
  /// In the gateway's units (adapters/usage.h, as AnthropicTranslator counts): input =
  /// input_tokens + cache_read_input_tokens + cache_creation_input_tokens, cached_input =
  /// cache_read_input_tokens, cache_write = cache_creation_input_tokens, output = output_tokens.
  std::optional<Usage> usage;
  /// Worth trying another backend: 408, 429, 5xx, 529, or an error body of type
  /// overloaded_error, rate_limit_error, api_error or timeout_error.
  bool retryable = false;
  std::optional<std::string> retry_after;  ///< delta-seconds, from the retry-after header given
  std::string error_type;                  ///< error.type of an error body ("" when ok)
  std::string error_message;               ///< error.message of an error body
  /// A 200 whose body is not a message nor an error (the gateway should answer 502).
  bool unreadable = false;
};

/// Reads a complete answer of POST /messages (any status). `retry_after_header`: the upstream's
/// `retry-after` value, empty when absent.
AnthropicNativeAnswer anthropic_native_answer(unsigned status, std::string_view body,
                                              std::string_view retry_after_header = {});

/// Anthropic's error body `{"type":"error","error":{"type":..,"message":..}}`
/// (https://docs.anthropic.com/en/api/errors).
std::string anthropic_error_body(std::string_view type, std::string_view message);

/// The same as a stream event: `event: error\ndata: {...}\n\n`, for a gateway failure in the
/// middle of a native stream (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
std::string anthropic_error_event(std::string_view type, std::string_view message);

/// Relays an Anthropic event stream unchanged while reading it.
///
/// feed() appends the upstream's bytes to `out` exactly as they came (ping events, unknown
/// events, comments and line endings included), but only up to the end of the last complete
/// event: the bytes of an event still arriving are held (at most the SseParser limit, 16 MiB,
/// past which the stream fails) so that a failure the gateway reports next (an error event)
/// never lands in the middle of a half-sent event. On the way it reads:
/// - usage: message_start's message.usage (input_tokens, cache_creation_input_tokens,
///   cache_read_input_tokens, output_tokens) then every message_delta usage (cumulative: each
///   counter present replaces the previous), as adapters::Usage in AnthropicNativeAnswer's units,
///   available from the first message_start on;
/// - an `error` event (by `type` in its data, else by event name): relayed, then error() is set
///   (status 529 overloaded_error, 429 rate_limit_error, 504 timeout_error, 500 api_error and
///   unknown types, 400 other *_error types; retryable() for the first four) and feed() returns
///   false;
/// - `message_stop`: the answer is complete; bytes after it are not relayed.
/// finish() returns true only after message_stop; otherwise (the upstream ended early) error()
/// is a 502, nothing more is appended (a partial event is dropped), and the gateway ends the
/// client's stream with anthropic_error_event.
///
/// An event that is not JSON is relayed but not read. Not thread-safe; one per response.
class AnthropicNativeStream final : public NativeEventStream {
 public:
  /// 16 MiB: server-tool results (web fetch, code execution) arrive as one event each.
  static constexpr std::size_t kMaxEventBytes = 16 * 1024 * 1024;

  AnthropicNativeStream() : NativeEventStream(kMaxEventBytes, "message_stop") {}

  /// The error event's `error.type` ("" when none).
  const std::string& error_type() const { return error_type_; }
  /// True once message_start was seen.
  bool started() const { return started_; }

 private:
  void on_event(const SseEvent& ev) override;
  void read_usage(const boost::json::value* usage);

  // Raw Anthropic counters.
  std::int64_t input_ = 0;
  std::int64_t output_ = 0;
  std::int64_t cache_read_ = 0;
  std::int64_t cache_creation_ = 0;
  std::string error_type_;
  bool started_ = false;
};

}  // namespace sb::adapters
