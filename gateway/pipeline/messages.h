#pragma once
// Anthropic's Messages API as an inbound dialect (`POST /v1/messages`). Routed by the same
// pipeline as chat (detection, policies, budgets, fallbacks), with two lanes:
//
// - to an Anthropic-format backend, the faithful lane: the client's body goes verbatim (only
//   `model`, and `max_tokens` when the backend declares a smaller limit, are rewritten), with its
//   anthropic-version and anthropic-beta headers, and the event stream comes back as it was sent
//   (cache_control, thinking and its signatures, documents, server tools all survive);
// - to any other backend, the request is translated to chat completions and the answer back to
//   Anthropic's shape (adapters/anthropic_inbound.h).
//
// Either way the detectors scan the client's whole body: what any backend receives was scanned.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/anthropic_inbound.h"
#include "adapters/translator.h"
#include "gateway/pipeline/chunk_source.h"
#include "gateway/pipeline/client_side.h"

namespace sb::gateway {

struct RequestContext;

/// Wraps the stream translator of one attempt: its OpenAI chunks (ChunkSource) become Anthropic
/// events. In native mode the attempt's bytes are Anthropic events already and pass unchanged.
class AnthropicOutbound final : public ClientStream {
 public:
  AnthropicOutbound(ScrubbedStream& inner, std::string_view model,
                    std::int64_t estimated_input_tokens, bool native = false, bool thinking = false)
      : ClientStream(inner),
        writer_(model, estimated_input_tokens, thinking),
        source_(inner, writer_),
        native_(native) {}

  bool feed(std::string_view bytes, std::string& out) override;
  bool finish(std::string& out) override;
  const std::optional<adapters::Usage>& usage() const override {
    return native_ ? inner_.usage() : source_.usage();
  }
  const std::optional<adapters::TranslateError>& error() const override {
    return native_ ? inner_.error() : source_.error();
  }

  /// An OpenAI SSE event the gateway itself writes (a mid-stream failure), in Anthropic's shape.
  void gateway_event(std::string_view openai_sse, std::string& out) override;

 private:
  adapters::AnthropicStreamWriter writer_;
  ChunkSource source_;
  bool native_;
};

/// The Messages client's side of one request.
class AnthropicSide final : public ClientSide {
 public:
  /// `client_body`: the client's request bytes (the faithful lane sends them). `ctx`: for the
  /// client's anthropic-version and anthropic-beta headers.
  /// `thinking`: the client asked for thinking (the engine's reasoning comes back as thinking).
  AnthropicSide(const RequestContext& ctx, std::string_view client_body, bool thinking)
      : ctx_(ctx), client_body_(client_body), thinking_(thinking) {}

  std::optional<std::string> answer(std::string body, std::string_view model, std::string& error,
                                    std::int64_t cache_write) override;
  std::unique_ptr<ClientStream> stream(ScrubbedStream& inner, std::string_view model,
                                       std::int64_t estimated_input, bool native) override;
  std::unique_ptr<chat::UpstreamWire> native_wire(const BackendRuntime& b,
                                                  std::string_view request_id,
                                                  std::span<const HeaderLine> forwardable) override;
  /// An Anthropic backend takes the client's request as it is.
  bool sends_client_body(const config::Config& config) const override;

 private:
  const RequestContext& ctx_;
  std::string_view client_body_;
  bool thinking_;
};

}  // namespace sb::gateway
