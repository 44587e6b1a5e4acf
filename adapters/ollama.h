#pragma once
// Translation between OpenAI chat completions and Ollama's native chat API (`POST /api/chat`,
// newline-delimited JSON when streaming).
// API reference: https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
//
// Ollama also serves an OpenAI-compatible `/v1` (see adapters/engines.h); the native API is the
// one to use when a deployment needs what only it exposes (a JSON schema in `format`, images on
// every version, exact token counts) or runs an Ollama too old for `/v1` tool calls.
//
// Pure and per request: no sockets, no clocks. The completion id is injected (Ollama sends none);
// `created` is Ollama's `created_at` (RFC 3339) converted to Unix seconds, or the injected value
// when a response carries no readable `created_at`. The same inputs always give the same bytes.
//
// Choices made where the two APIs do not line up (each also noted beside its code):
// - Content part arrays become one `content` string (text parts joined with "\n") plus `images`
//   (base64 without the `data:` prefix). Ollama cannot fetch remote image URLs: http(s) image
//   URLs are a 400, so the gateway may try a backend that can.
// - `tool_choice` "none" sends no tools; "auto" (or absent) sends them; "required" or a named
//   function cannot be expressed (Ollama has no tool choice) and is a 400.
// - `n` greater than 1 is a 400 (Ollama answers one choice). `logprobs`, `logit_bias`, `user`,
//   `metadata`, `parallel_tool_calls`, `reasoning_effort` and `service_tier` are not forwarded.
// - `keep_alive` is never sent: the server's own setting applies, and a client cannot unload a
//   model other tenants share.
// - Thinking output (`message.thinking`) is not surfaced as content.
// - Ollama reports no cached-token count; prompt_tokens_details.cached_tokens is 0.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "adapters/translator.h"

namespace sb::adapters {

/// Ollama's native API's name for NativeTranslator.
struct OllamaApi {
  static constexpr std::string_view kName = "Ollama";
};

/// Chat-completions translator for Ollama's native `/api/chat` (see NativeTranslator). `created`
/// is reported when Ollama's `created_at` is missing or unreadable. Its members:
/// - response(): translates a complete `/api/chat` answer (2xx) or an Ollama error body
///   `{"error":"..."}` (any other status; 404 becomes code "model_not_found"; 429 and 5xx are
///   retryable). `model_alias` is reported as `model` when the response names none.
/// - stream(): a translator for one NDJSON stream. Lines may be split anywhere; a line longer
///   than 1 MiB is an error. The final chunk, the usage chunk (when `include_usage`) and
///   `data: [DONE]` are emitted as soon as the `"done": true` line arrives. `finish()` returns
///   false (`error()` set, status 502) when the stream ended before that line.
/// - build_request(): `POST {base_path}/api/chat` with `"stream"` always explicit (Ollama streams
///   by default). A `base_path` ending in "/v1" (the OpenAI-compatible prefix) is trimmed, since
///   the native API lives beside it. `spec.api_key`, when set, is sent as a bearer token (for an
///   Ollama behind an authenticating proxy). The error (status 400) for a request Ollama cannot
///   express.
using OllamaTranslator = NativeTranslator<OllamaApi>;

// Its members, defined in ollama_request.cc and ollama_response.cc (declared here, where every
// user of the translator sees them, as explicit specializations must be).
template <>
TranslatedResponse OllamaTranslator::response(unsigned status, std::string_view content_type,
                                              std::string_view body,
                                              std::string_view model_alias) const;
template <>
std::unique_ptr<StreamTranslator> OllamaTranslator::stream(bool include_usage,
                                                           std::string_view model_alias) const;
template <>
Result<UpstreamRequest, TranslateError> OllamaTranslator::build_request(
    const ChatRequest& r, const BackendSpec& spec) const;

/// Unix seconds for an RFC 3339 timestamp ("2024-07-22T20:33:28.123648Z",
/// "2023-08-04T08:52:19.385406455-07:00"); fractions are truncated. nullopt when malformed.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace sb::adapters
