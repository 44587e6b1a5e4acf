#pragma once
// Translation between OpenAI chat completions and Anthropic's Messages API
// (https://docs.anthropic.com/en/api/messages).
//
// Pure and per request: no sockets, no clock. Anthropic's responses carry no creation time, so the
// caller samples its clock once and passes it in as `created`.
//
// Request (OpenAI -> POST {base_path}/messages):
// - headers `x-api-key`, `anthropic-version` (spec.api_version, else kAnthropicVersion) and
//   `content-type: application/json`; `model` is spec.model (the client's when spec.model is
//   empty);
// - system and developer messages, wherever they appear, are lifted in order into the top-level
//   `system` array of text blocks (Anthropic has no system role in `messages`);
// - messages become content blocks; consecutive messages of the same Anthropic role are merged
//   into one turn (the API wants user and assistant to alternate); `tool` messages become
//   `tool_result` blocks of a user turn, placed before that turn's other blocks as the API
//   requires; empty text is dropped (the API rejects empty text blocks);
// - `max_tokens` (required upstream) is `max_completion_tokens`, else `max_tokens`, else
//   kAnthropicDefaultMaxTokens;
// - temperature, top_p pass through (Anthropic's range is 0..1; a value above 1 is left for the
//   upstream to reject rather than silently rescaled); `stop` -> `stop_sequences`; `user` ->
//   `metadata.user_id`; tools, tool_choice and parallel_tool_calls as Anthropic's tool use
//   (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use);
// - rejected with a 400 TranslateError: n != 1, logprobs, top_logprobs, logit_bias, non-zero
//   presence/frequency penalties, response_format other than text, audio output, the legacy
//   functions API, non-function tools, unsupported image or content types, tool-call arguments
//   that are not a JSON object; a known member of the wrong type, as OpenAI refuses it (the
//   request is read typed, adapters/canonical.h). Best-effort hints without an Anthropic
//   equivalent (seed, store, service_tier, metadata, reasoning_effort, stream_options, ...) are
//   ignored.
//
// Response: see AnthropicTranslator::response() and stream(). The OpenAI `id` is "chatcmpl-"
// followed by Anthropic's message id ("chatcmpl-msg_01..."), so a response can still be traced in
// Anthropic's console; `model` is the model Anthropic reports, else the client's alias.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/translator.h"

namespace sb::adapters {

/// The `anthropic-version` header sent when BackendSpec::api_version is empty
/// (https://docs.anthropic.com/en/api/versioning).
inline constexpr std::string_view kAnthropicVersion = "2023-06-01";

/// `max_tokens` sent when the client set neither max_completion_tokens nor max_tokens: Anthropic
/// requires the member and OpenAI has no default. 4096 is within every current Claude model's
/// output limit.
inline constexpr std::int64_t kAnthropicDefaultMaxTokens = 4096;

/// Chat completions through Anthropic's Messages API. Immutable after construction; const
/// methods are thread-safe. Meant to be built per request (it holds the request's `created`).
///
/// Usage mapping (both paths): prompt_tokens = input_tokens + cache_read_input_tokens +
/// cache_creation_input_tokens (Anthropic's input_tokens excludes cached tokens, OpenAI's
/// prompt_tokens includes them); cached_tokens = cache_read_input_tokens; completion_tokens =
/// output_tokens (thinking included); reasoning_tokens = 0 (Anthropic does not report it apart).
///
/// Finish reasons: end_turn, stop_sequence, pause_turn -> stop; max_tokens,
/// model_context_window_exceeded -> length; tool_use -> tool_calls; refusal -> content_filter.
class AnthropicTranslator final : public ChatTranslator {
 public:
  /// `created`: Unix seconds for the `created` member of every object produced.
  explicit AnthropicTranslator(std::int64_t created) : created_(created) {}

  /// Status 200: the Messages response as a chat.completion (text blocks concatenated into
  /// `content`, tool_use blocks as `tool_calls`, thinking blocks dropped); an unreadable body is a
  /// 502. Other statuses: Anthropic's error body (https://docs.anthropic.com/en/api/errors) as an
  /// OpenAI error body. 4xx keep their status; 529 overloaded_error becomes 503 (OpenAI clients
  /// know no 529); 503 and 504 are kept; other 5xx become 502 (the upstream failed). 429, 5xx and
  /// 529 are retryable. retry_after is not set here (see response_with_retry_after).
  TranslatedResponse response(unsigned status, std::string_view content_type, std::string_view body,
                              std::string_view model_alias) const override;

  /// response(), also carrying the upstream's `retry-after` header value (empty when absent) onto
  /// a retryable error (see parse_retry_after).
  TranslatedResponse response_with_retry_after(unsigned status, std::string_view content_type,
                                               std::string_view body, std::string_view model_alias,
                                               std::string_view retry_after) const;

  /// Translates Anthropic's SSE stream
  /// (https://docs.anthropic.com/en/docs/build-with-claude/streaming) into chunks: the role chunk
  /// at message_start, content and tool-call argument deltas (tool calls numbered 0, 1, ... in
  /// order of their content blocks), the finish chunk, the usage chunk when `include_usage`, and
  /// `data: [DONE]` at message_stop (Anthropic sends no [DONE]). ping and thinking deltas are
  /// dropped. An `error` event becomes an OpenAI error event and feed() returns false; finish()
  /// before message_stop sets error() (502) and returns false without appending anything, so the
  /// caller decides how to end the client's stream.
  std::unique_ptr<StreamTranslator> stream(bool include_usage,
                                           std::string_view model_alias) const override;

 protected:
  /// Builds `POST {base_path}/messages` (see the top of this file). A known member of the wrong
  /// type is a 400 in OpenAI's words ("Invalid type for 'temperature': expected a number.").
  Result<UpstreamRequest, TranslateError> build_request(const ChatRequest& r,
                                                        const BackendSpec& spec) const override;

 private:
  std::int64_t created_;
};

/// A `retry-after` header in delta-seconds form (RFC 9110 10.2.3), surrounding whitespace
/// ignored. nullopt for an empty value or the HTTP-date form (which Anthropic does not send and
/// which would need a clock to convert).
std::optional<std::string> parse_retry_after(std::string_view header_value);

}  // namespace sb::adapters
