#pragma once
// What really differs between the OpenAI-compatible engines behind adapters/openai_compatible:
// one profile per engine, each quirk with a link to the engine's own reference, and one pure
// body rewrite that applies the request-side quirks byte-preservingly (adapters/json_edit.h).
//
// References:
// - OpenAI:    https://platform.openai.com/docs/api-reference/chat/create
// - vLLM:      https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html
// - llama.cpp: https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
// - Ollama:    https://github.com/ollama/ollama/blob/main/docs/openai.md
// - TGI:       https://huggingface.co/docs/text-generation-inference/messages_api
// - SGLang:    https://docs.sglang.ai/basic_usage/openai_api_completions.html
//
// The gateway maps its own provider enum onto Engine (adapters never include policies/ or
// gateway/).

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/json_edit.h"

namespace sb::adapters {

enum class Engine { openai, vllm, llamacpp, ollama, tgi, sglang, generic };

/// What an engine does with the request's "model".
enum class ModelNaming {
  served_name,  ///< must name a model the server serves (else 404)
  ignored,      ///< the server runs one model and ignores the member (any value works)
};

/// What a healthy answer from the health endpoint looks like.
enum class HealthAnswer {
  none,           ///< no health endpoint (hosted APIs): the gateway relies on passive checks
  status_200,     ///< HTTP 200 is healthy, anything else is not
  status_200_ok,  ///< HTTP 200 with `{"status":"ok"}` (llama.cpp: 503 while the model loads)
};

struct EngineProfile {
  Engine engine;
  std::string_view name;  ///< lower-case, for logs and metrics labels
  /// Health endpoint, from the server root (not under the base URL's path, e.g. "/health"
  /// even when the API is served under "/v1"). Empty when `health` is none.
  std::string_view health_path;
  HealthAnswer health;
  /// The engine sends the usage chunk when asked with `stream_options.include_usage`. When
  /// false the gateway must estimate stream usage (a usage chunk that arrives anyway is still
  /// used by ChatStreamRelay).
  bool honours_include_usage;
  /// The engine reads `max_completion_tokens`. When false it silently ignores it (no limit!),
  /// so adapt_chat_body renames it to `max_tokens`, which new OpenAI SDKs no longer send.
  bool reads_max_completion_tokens;
  /// The engine answers 400 to `stream_options` on a request that does not stream; when true
  /// adapt_chat_body drops the member from such requests.
  bool rejects_stream_options_without_stream;
  ModelNaming model_naming;
  /// What to send as "model" when the backend configures none ("tgi" for TGI); empty when a
  /// model must be configured.
  std::string_view default_model;
};

/// The profile of `engine`; static storage, valid for the program's lifetime.
const EngineProfile& engine_profile(Engine engine);

/// Applies the body quirks of `profile` to a chat-completions request body (the output of
/// plan_chat_request): `max_completion_tokens` becomes `max_tokens` (its value kept, any
/// `max_tokens` the client also sent dropped) for engines that do not read it, and
/// `stream_options` is dropped from non-streaming requests for engines that reject it. Every
/// other byte is kept; a body that is not a JSON object, or needs nothing, is returned as is.
/// `stream`: whether the request streams, when the caller knows (plan_chat_request does); then a
/// streaming body is not scanned for what only non-streaming ones need. Unknown: read from the
/// body.
std::string adapt_chat_body(const EngineProfile& profile, std::string body,
                            std::optional<bool> stream = std::nullopt);

/// What the request-side quirks do to one top-level member of a chat body.
enum class MemberEdit : unsigned char { keep, drop, rename_to_max_tokens };

/// The quirks of `profile` as one edit per member of `text` (scanned into `members`), into
/// `edits` (resized to match). False when nothing changes. The decisions adapt_chat_body applies;
/// plan_chat_request applies them within its own single pass over the client's bytes.
bool engine_member_edits(const EngineProfile& profile, std::string_view text,
                         std::span<const JsonMember> members, std::optional<bool> stream,
                         std::vector<MemberEdit>& edits);

/// Whether a health probe's answer (`status`, `body`) means the engine can serve. For
/// HealthAnswer::none, always true.
bool engine_healthy(const EngineProfile& profile, unsigned status, std::string_view body);

}  // namespace sb::adapters
