#pragma once
// Translation between OpenAI chat completions and Amazon Bedrock's Converse API
// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html and
// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html).
//
// Pure and per request: the signing time and `created` are injected, nothing reads a clock.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/translator.h"

namespace sb::adapters {

/// Chat completions over Bedrock Converse / ConverseStream, signed with SigV4.
///
/// Request: `POST {base_path}/model/{model id}/converse` (or `/converse-stream` for streams). The
/// model id is one URI path segment: `:` and `/` are percent-encoded on the wire and encoded once
/// more in the SigV4 canonical URI (see adapters/sigv4.h). Credentials: spec.api_key is the
/// access key id, spec.secret_key the secret, spec.session_token the optional token, spec.region
/// the region; spec.host must equal the Host header the upstream client sends (host, or
/// host:port for a non-default port). Signed headers: accept, content-type, host,
/// x-amz-content-sha256, x-amz-date and x-amz-security-token when a token is set.
///
/// Body mapping: system/developer messages -> `system[{text}]`; user text and base64 data-URL
/// images -> `content[{text}|{image}]`; assistant tool_calls -> `toolUse` blocks; tool messages
/// -> `toolResult` blocks in a user turn; consecutive turns of the same role are merged (Converse
/// requires alternation); `max_completion_tokens`/`max_tokens`, `temperature`, `top_p`, `stop`
/// -> `inferenceConfig`; `tools`/`tool_choice` -> `toolConfig`. Requests Bedrock cannot express
/// (n > 1, remote image URLs, non-object tool arguments) are rejected with 400.
///
/// Usage: prompt_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens (Bedrock's
/// inputTokens excludes cached tokens, OpenAI's prompt_tokens includes them); cached_tokens =
/// cacheReadInputTokens; completion_tokens = outputTokens; reasoning_tokens = 0.
///
/// Finish reasons: end_turn, stop_sequence -> stop; max_tokens, model_context_window_exceeded ->
/// length; tool_use -> tool_calls; guardrail_intervened, content_filtered -> content_filter.
class BedrockTranslator final : public ChatTranslator {
 public:
  /// `created`: Unix seconds for the `created` member of every object produced.
  /// `amz_date`: the signing time, "YYYYMMDDTHHMMSSZ" (see format_amz_date in adapters/sigv4.h).
  /// `completion_id`: the `id` of the objects produced (Bedrock returns none); when empty, one
  /// is derived from `created` and `amz_date` ("chatcmpl-" + 24 hex digits).
  BedrockTranslator(std::int64_t created, std::string amz_date, std::string completion_id = {});

  /// A backend without its region, host or credentials (500).
  std::optional<TranslateError> unconfigured(const BackendSpec& spec) const override;

  /// Status 200: the Converse response as a chat.completion (text blocks concatenated into
  /// `content`, toolUse blocks as `tool_calls`, reasoning blocks dropped); an unreadable body is a
  /// 502. Other statuses: see response_with_error_type (the error type is then read from the
  /// body's `__type` member, when present).
  TranslatedResponse response(unsigned status, std::string_view content_type, std::string_view body,
                              std::string_view model_alias) const override;

  /// response(), also given the `x-amzn-errortype` response header (empty when absent), e.g.
  /// "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/". Errors
  /// (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html, Errors):
  /// ThrottlingException / 429 -> 429 rate_limit_error; ServiceUnavailableException / 503 -> 503;
  /// ModelNotReadyException -> 503; ModelTimeoutException / 408 -> 504; InternalServerException
  /// and other 5xx -> 502; ValidationException / 400 -> 400 invalid_request_error;
  /// AccessDeniedException / 403 -> 403 permission_error; UnrecognizedClientException / 401 ->
  /// 401; ResourceNotFoundException / 404 -> 404. 429, 503, 504 and 5xx are retryable.
  /// `retry_after`: the upstream's retry-after header value, carried onto retryable errors when
  /// it is a number of seconds.
  TranslatedResponse response_with_error_type(unsigned status, std::string_view body,
                                              std::string_view model_alias,
                                              std::string_view amzn_error_type,
                                              std::string_view retry_after = {}) const;

  /// `x-amzn-errortype`, for response_with_header().
  std::string_view response_header() const override { return "x-amzn-errortype"; }
  TranslatedResponse response_with_header(unsigned status, std::string_view content_type,
                                          std::string_view body, std::string_view model_alias,
                                          std::string_view header_value) const override;

  /// Translates the ConverseStream event stream (application/vnd.amazon.eventstream frames whose
  /// `:event-type` is messageStart, contentBlockStart, contentBlockDelta, contentBlockStop,
  /// messageStop or metadata) into chunks: the role chunk, content and tool-call deltas, the
  /// finish chunk at messageStop, the usage chunk when `include_usage` at metadata, then
  /// `data: [DONE]`. An exception frame (`:message-type` exception, e.g. throttlingException,
  /// modelStreamErrorException) or a framing/CRC error appends an OpenAI error event, sets
  /// error() and makes feed() return false. finish() appends [DONE] when messageStop arrived but
  /// metadata did not; before messageStop it sets error() (502), appends nothing and returns
  /// false, so the caller decides how to end the client's stream.
  std::unique_ptr<StreamTranslator> stream(bool include_usage,
                                           std::string_view model_alias) const override;

  const std::string& completion_id() const { return id_; }

 protected:
  /// Builds the signed Converse (or ConverseStream) request.
  Result<UpstreamRequest, TranslateError> build_request(const ChatRequest& r,
                                                        const BackendSpec& spec) const override;

 private:
  std::int64_t created_;
  std::string amz_date_;
  std::string id_;
};

}  // namespace sb::adapters
