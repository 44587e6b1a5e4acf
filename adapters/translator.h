#pragma once
// The shape every provider translator has: from an OpenAI chat-completions request to the
// provider's native HTTP request, and from the provider's native response or stream back to
// exactly what OpenAI would have sent. Pure and per request: no sockets, no clocks, no config
// types (the gateway maps its config into BackendSpec).
//
// One provider per file pair (adapters/<provider>.{h,cc}); each quirk carries a link to the
// vendor's API reference beside it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/result.h"
#include "adapters/usage.h"

namespace sb::adapters {

class ChatRequest;

/// What a translator needs to know about the backend it speaks to.
struct BackendSpec {
  std::string base_path;  ///< path prefix of the base URL, e.g. "/v1" (may be empty)
  std::string host;       ///< for signing (Bedrock) and Host-bound schemes
  std::string model;      ///< the model or deployment pinned upstream
  /// Key material: views into the configuration's secret memory (kept out of core dumps), valid
  /// as long as the config snapshot that built this spec. Never logged.
  std::string_view api_key;        ///< the provider key
  std::string api_version;         ///< Azure api-version, Anthropic anthropic-version override
  std::string region;              ///< AWS region (Bedrock)
  std::string_view secret_key;     ///< AWS secret access key (Bedrock; api_key holds the key id)
  std::string_view session_token;  ///< AWS session token, optional
};

/// The upstream HTTP request to send.
struct UpstreamRequest {
  std::string method = "POST";
  std::string target;                                        ///< path and query, base_path included
  std::vector<std::pair<std::string, std::string>> headers;  ///< all provider-specific headers
  std::string body;
  bool stream = false;  ///< the response will be a stream
};

/// A translation failure the client must see as an OpenAI error (status 400 for a request the
/// provider cannot express, 502 for an upstream answer that cannot be understood).
struct TranslateError {
  unsigned status = 400;
  std::string message;
  /// OpenAI's error code for the client (e.g. "invalid_type" for a member of the wrong type);
  /// empty for a request the provider cannot express ("unsupported_parameter").
  std::string_view code;
  std::string param;  ///< the member concerned, as OpenAI's `param`; empty when none
};

/// An upstream response translated to OpenAI's format.
struct TranslatedResponse {
  unsigned status = 200;
  std::string body;  ///< OpenAI chat.completion JSON, or an OpenAI error body for errors
  std::optional<Usage> usage;
  bool retryable = false;  ///< for errors: worth trying another backend (429, 5xx, overloaded)
  std::optional<std::string> retry_after;  ///< seconds, when the provider said
};

/// Translates a provider's native stream into OpenAI chat.completion.chunk SSE events
/// (`data: {...}\n\n`, ending with `data: [DONE]\n\n`), event by event.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  /// Feeds raw upstream body bytes (split anywhere); appends client SSE bytes to `out`.
  /// Returns false on an unrecoverable stream error (then `error()` is set and an OpenAI error
  /// event has been appended to `out`).
  virtual bool feed(std::string_view bytes, std::string& out) = 0;
  /// Called when the upstream body ended; appends what is still due (e.g. `data: [DONE]` for a
  /// provider that sends none). Returns false when the stream ended before it was complete.
  virtual bool finish(std::string& out) = 0;
  /// The usage the upstream reported (the last report wins); nullopt while none came.
  virtual const std::optional<Usage>& usage() const { return usage_; }
  /// Why the stream failed, once feed() or finish() returned false.
  virtual const std::optional<TranslateError>& error() const { return error_; }
  /// Whether feed() only relays an OpenAI-wire upstream's own chunk stream (re-framed, its usage
  /// read, an error event or a missing `[DONE]` failing it, nothing rewritten that a chunk
  /// reader reads): a reader of OpenAI chunks may then read the upstream's bytes instead.
  virtual bool relays_openai_chunks() const { return false; }

 protected:
  std::optional<Usage> usage_;
  std::optional<TranslateError> error_;
};

/// The feed() of a stream read frame by frame (SSE events, event-stream messages): nothing once
/// `failed` (false) or `done` (true: what follows the answer's end is not part of it); otherwise
/// `decoder.feed(bytes, frames)` (false when a frame broke its bound) into `frames`, cleared
/// first, and each frame in order to `on_frame(frame) -> bool` until one is refused (false) or
/// ends the answer (`done`, true); past them, when a frame broke its bound, `on_overflow()`.
/// Inlined into each reader: no call per frame beyond its own on_frame.
template <class Decoder, class Frame, class OnFrame, class OnOverflow>
bool feed_frames(Decoder& decoder, std::string_view bytes, std::vector<Frame>& frames,
                 const bool& failed, const bool& done, OnFrame&& on_frame,
                 OnOverflow&& on_overflow) {
  if (failed) {
    return false;
  }
  if (done) {
    return true;
  }
  frames.clear();
  const bool within_limit = decoder.feed(bytes, frames);
  for (const Frame& frame : frames) {
    if (!on_frame(frame)) {
      return false;
    }
    if (done) {
      return true;
    }
  }
  return within_limit || on_overflow();
}

/// One provider's translation of chat completions.
class ChatTranslator {
 public:
  virtual ~ChatTranslator() = default;
  /// The upstream request for the client's validated OpenAI request, read from its typed reading
  /// (adapters/canonical.h), or why the provider cannot take it: a backend missing its config
  /// (unconfigured(), 500) first, then what build_request() refuses (400).
  Result<UpstreamRequest, TranslateError> request_from(const ChatRequest& r,
                                                       const BackendSpec& spec) const;
  /// The same from the request's text, for a caller without its typed reading (a body the
  /// pipeline read only as a DOM, a body clamped to a smaller context, the tests): a backend
  /// missing its config is refused first (unconfigured()); then the text is read typed, and a
  /// body that reading refuses is a 400 in OpenAI's words (a member of the wrong type:
  /// invalid_type, naming it); one whose typed reading would pass its memory budget
  /// (typed_heap_budget: many tiny values) is a 413, code request_too_large. A pass-through
  /// provider overrides it to forward any member as sent.
  virtual Result<UpstreamRequest, TranslateError> request(std::string_view raw,
                                                          const BackendSpec& spec) const;
  /// Why `spec` cannot serve any request (500, e.g. no model configured); nullopt when it can.
  virtual std::optional<TranslateError> unconfigured(const BackendSpec& /*spec*/) const {
    return std::nullopt;
  }
  /// A complete (non-stream) upstream response, any status.
  virtual TranslatedResponse response(unsigned status, std::string_view content_type,
                                      std::string_view body,
                                      std::string_view model_alias) const = 0;
  /// The upstream response header response_with_header() reads (e.g. Bedrock's
  /// `x-amzn-errortype`); empty when the provider's errors are told by status and body alone.
  virtual std::string_view response_header() const { return {}; }
  /// response(), also given the value of response_header() in the upstream answer (empty when
  /// absent).
  virtual TranslatedResponse response_with_header(unsigned status, std::string_view content_type,
                                                  std::string_view body,
                                                  std::string_view model_alias,
                                                  std::string_view header_value) const {
    (void)header_value;
    return response(status, content_type, body, model_alias);
  }
  /// A stream translator for one response (status 200).
  virtual std::unique_ptr<StreamTranslator> stream(bool include_usage,
                                                   std::string_view model_alias) const = 0;

 protected:
  /// request_from() for a backend unconfigured() accepts: the provider's own request.
  virtual Result<UpstreamRequest, TranslateError> build_request(const ChatRequest& r,
                                                                const BackendSpec& spec) const = 0;
};

/// The base of NativeTranslator, for a native model API (Gemini, Ollama): the backend names the
/// model to call (a backend without one is unconfigured()), and the provider sends neither an
/// OpenAI-style id nor a creation time, so the client request's own are injected and one instance
/// serves one request.
class IdentifiedTranslator : public ChatTranslator {
 public:
  const std::string& id() const { return id_; }
  std::int64_t created() const { return created_; }
  /// "the <provider> backend has no model configured" (500) for a spec without a model.
  std::optional<TranslateError> unconfigured(const BackendSpec& spec) const override;

 protected:
  IdentifiedTranslator(std::string_view provider, std::int64_t created, std::string id)
      : provider_(provider), created_(created), id_(std::move(id)) {}

  std::string_view provider_;  ///< the provider's name in messages (a literal)
  std::int64_t created_;
  std::string id_;
};

/// The translator of one native model API. `Api` names the provider (`Api::kName`, a literal,
/// in messages); the provider's own files define the three members below for it, as explicit
/// specializations (gemini.h: `GeminiTranslator = NativeTranslator<GeminiApi>`, its members in
/// gemini_request.cc and gemini_response.cc). Immutable after construction; `const` methods may
/// be called from any thread. One instance per client request (its id and `created` belong to
/// that request).
template <class Api>
class NativeTranslator final : public IdentifiedTranslator {
 public:
  /// `created`: the Unix time to report as `created` (the caller reads its clock once).
  /// `id`: the completion id to report (e.g. "chatcmpl-<request id>"); tool call ids the
  /// provider does not give are derived from it ("call_<id without the chatcmpl- prefix>_<n>"),
  /// so ids stay unique across the turns of a conversation when the caller's ids are.
  NativeTranslator(std::int64_t created, std::string id)
      : IdentifiedTranslator(Api::kName, created, std::move(id)) {}

  /// A complete answer (2xx) or the provider's error body (any other status); `model_alias` is
  /// reported as `model` when the answer names none.
  TranslatedResponse response(unsigned status, std::string_view content_type, std::string_view body,
                              std::string_view model_alias) const override;

  /// A translator for one stream; `finish()` returns false (`error()` set, status 502) when the
  /// stream ended before the provider's last word.
  std::unique_ptr<StreamTranslator> stream(bool include_usage,
                                           std::string_view model_alias) const override;

 protected:
  /// The provider's request, or the error (status 400) for a request it cannot express.
  Result<UpstreamRequest, TranslateError> build_request(const ChatRequest& r,
                                                        const BackendSpec& spec) const override;
};

}  // namespace sb::adapters
