#pragma once
// Azure OpenAI: OpenAI's wire format behind a different address, a different key header, and
// content-filter annotations the client must not see.
// API reference: https://learn.microsoft.com/azure/ai-foundry/openai/reference
// Content filtering: https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter
// Streaming modes: https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-streaming
//
// What differs from OpenAI, and what this file does about it:
// - Address: `{base}/openai/deployments/{deployment}/{operation}?api-version={v}`; with no
//   api-version configured, the v1 API `{base}/openai/v1/{operation}` (deployment named by the
//   body's "model"). The deployment is BackendSpec::model.
// - Auth: `api-key: KEY`, not `Authorization: Bearer`.
// - Body: passed through via plan_chat_request. "model" is set to the deployment name (ignored
//   on deployment paths, required on the v1 path; the OpenAI SDK's Azure client sends it the same
//   way). Api-versions before 2024-09-01 reject `stream_options` with a 400, so it is removed for
//   them (the stream then carries no usage and the gateway estimates it).
// - Responses carry `prompt_filter_results` (older versions: `prompt_annotations`) and, per
//   choice, `content_filter_results` / `content_filter_offsets`: all stripped. Streams begin with
//   a chunk whose `choices` is `[]` and that holds only prompt filter results: dropped (the usage
//   chunk, which also has empty choices, is kept when the client asked for usage). Under the
//   asynchronous filter, annotation chunks (a choice without `delta`, and an empty id) come
//   between and after the content: dropped, except one that ends the answer with
//   `finish_reason: "content_filter"`, which becomes an OpenAI finish chunk under the stream's id.
//   `finish_reason: "content_filter"` stays (OpenAI defines it).
// - Errors are OpenAI-shaped but `type` is often null or absent and some carry `innererror`
//   (with the content filter verdict when `code` is "content_filter"): they pass through with
//   `type` filled from the status; `innererror` is kept. An API Management front answers
//   `{"statusCode":..,"message":..}`: mapped to the OpenAI shape.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/openai_compatible.h"
#include "adapters/sse.h"
#include "adapters/translator.h"
#include "adapters/usage.h"

namespace sb::adapters {

/// The Azure OpenAI operations the gateway serves.
enum class AzureOperation { chat_completions, completions, embeddings };

/// Request target for `operation` on `deployment` (percent-encoded). `base_path` is the path of
/// the resource endpoint, usually empty; a trailing "/openai" is not doubled. An empty
/// `api_version` selects the v1 API (no deployment in the path, no query).
std::string azure_target(std::string_view base_path, std::string_view deployment,
                         std::string_view api_version, AzureOperation operation);

/// True when `api_version` accepts `stream_options` (dated versions from 2024-09-01, previews
/// included, and the v1 API). Versions that cannot be read as a date are assumed recent.
bool azure_accepts_stream_options(std::string_view api_version);

/// Strips Azure's content-filter members from a non-stream chat or completions response body
/// (`prompt_filter_results`, `prompt_annotations` at the top; `content_filter_results`,
/// `content_filter_offsets` in each choice). Other bytes are kept; a body that is not a JSON
/// object is returned unchanged.
std::string clean_azure_response(std::string body);

/// An Azure error body (any non-2xx status) as an OpenAI error body; see the file comment.
TranslatedResponse azure_error(unsigned status, std::string_view body);

/// Relays an Azure chat-completions stream as OpenAI would have sent it: filter annotations
/// removed as described above, then OpenAIStreamTranslator's rules (usage chunk only when asked,
/// usage recorded either way). feed() returns false (error() set) on an in-stream error event,
/// which is relayed in OpenAI's shape, or when one event exceeds 1 MiB; finish() returns false
/// when no `[DONE]` arrived. Not thread-safe; one per stream.
class AzureStreamTranslator final : public OpenAIStreamTranslator {
 public:
  explicit AzureStreamTranslator(bool client_wants_usage)
      : OpenAIStreamTranslator(client_wants_usage, "Azure OpenAI sent an error event mid-stream",
                               "Azure OpenAI stream ended before [DONE]") {}

  bool feed(std::string_view bytes, std::string& out) override;
  /// Its chunks are rewritten (filter members, identities): a reader reads them, not the
  /// upstream's.
  bool relays_openai_chunks() const override { return false; }

 private:
  /// Rewrites one event in place; false when it must be dropped.
  bool clean(SseEvent& ev);
  void remember_identity(std::string_view data);

  SseParser parser_;
  std::vector<SseEvent> events_;
  std::vector<JsonMember> members_;
  std::string id_;       // quoted JSON values of the last chunk with a real id, to give an
  std::string created_;  // annotation that ends the answer the stream's identity
  std::string model_;
};

/// Chat completions on Azure OpenAI behind the ChatTranslator interface. Stateless: one
/// instance may serve any number of requests, from any thread.
class AzureTranslator final : public ChatTranslator {
 public:
  /// A pass-through: the text is planned as it is (parsed as a DOM), members of any type sent as
  /// the client wrote them; a text that is not a JSON object is a 400.
  Result<UpstreamRequest, TranslateError> request(std::string_view raw,
                                                  const BackendSpec& spec) const override;

  /// 2xx: the body cleaned of filter members (502 when it is not a JSON object); otherwise
  /// azure_error(). `model_alias` is unused: Azure reports the model it ran.
  TranslatedResponse response(unsigned status, std::string_view content_type, std::string_view body,
                              std::string_view model_alias) const override;

  std::unique_ptr<StreamTranslator> stream(bool include_usage,
                                           std::string_view model_alias) const override;

 protected:
  /// `POST` to azure_target(chat_completions) with `api-key`; body from plan_chat_request with
  /// "model" = `spec.model` (the deployment) and `stream_options` dropped for old api-versions
  /// (a body with a duplicated top-level key is read the DOM's way). Fails (status 500) only
  /// when no deployment is configured.
  Result<UpstreamRequest, TranslateError> build_request(const ChatRequest& r,
                                                        const BackendSpec& spec) const override;
};

}  // namespace sb::adapters
