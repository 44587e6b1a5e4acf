#pragma once
// Translation between OpenAI chat completions and the Google Gemini API (generativelanguage,
// `models/{model}:generateContent` and `:streamGenerateContent?alt=sse`).
// API reference: https://ai.google.dev/api/generate-content
//
// Pure and per request: no sockets, no clocks. The completion id and the `created` timestamp
// are injected (Gemini sends neither a creation time nor an OpenAI-style id), so the same inputs
// always give the same bytes.
//
// Choices made where the two APIs do not line up (each also noted beside its code):
// - A prompt Gemini blocks outright (`promptFeedback.blockReason`, no candidates) becomes an
//   HTTP 400 with code "content_filter", as Azure OpenAI answers a filtered prompt; the prompt
//   tokens are still reported as usage (they are billed).
// - Tool and response schemas keep only the fields of Gemini's OpenAPI-subset `Schema`
//   (see kGeminiSchemaFields in gemini_tools.cc); JSON-Schema-only keys such as
//   `additionalProperties`, `$schema`, `$ref`, `$defs`, `strict`, `const`, `oneOf`, `allOf`,
//   `not`, `examples` and `patternProperties` are dropped. A `type` list with "null" becomes
//   `nullable: true`.
// - Thought parts (`thought: true`) are not surfaced as content; their tokens are reported as
//   completion_tokens_details.reasoning_tokens.
// - `logprobs`, `top_logprobs`, `reasoning_effort`, `parallel_tool_calls`, `user`, `metadata`
//   and `service_tier` are not forwarded (Gemini has no direct equivalent).

#include <memory>
#include <string_view>

#include "adapters/translator.h"

namespace sb::adapters {

/// The Gemini API's name for NativeTranslator.
struct GeminiApi {
  static constexpr std::string_view kName = "Gemini";
};

/// Chat-completions translator for the Gemini API (see NativeTranslator). Its members:
/// - response(): translates a `GenerateContentResponse` (2xx) or a Google error body (any other
///   status). `model_alias` is reported as `model` when the response has no `modelVersion`.
/// - stream(): a translator for one `alt=sse` stream. Gemini sends no terminator, so `finish()`
///   emits `data: [DONE]` when every choice got a finishReason, and returns false (appending
///   nothing, `error()` set, status 502) when the stream ended before that; the caller then tells
///   the client the stream was interrupted.
/// - build_request(): `POST {base_path}/models/{model}:generateContent` (or
///   `:streamGenerateContent?alt=sse` when `stream` is true) with the key in `x-goog-api-key`.
///   A `spec.model` that already names a resource ("models/...", "tunedModels/...") is used as
///   is. The error (status 400) for a request Gemini cannot express.
using GeminiTranslator = NativeTranslator<GeminiApi>;

// Its members, defined in gemini_request.cc and gemini_response.cc (declared here, where every
// user of the translator sees them, as explicit specializations must be).
template <>
TranslatedResponse GeminiTranslator::response(unsigned status, std::string_view content_type,
                                              std::string_view body,
                                              std::string_view model_alias) const;
template <>
std::unique_ptr<StreamTranslator> GeminiTranslator::stream(bool include_usage,
                                                           std::string_view model_alias) const;
template <>
Result<UpstreamRequest, TranslateError> GeminiTranslator::build_request(
    const ChatRequest& r, const BackendSpec& spec) const;

}  // namespace sb::adapters
