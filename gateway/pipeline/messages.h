#pragma once
// Anthropic's Messages API as an inbound dialect (`POST /v1/messages`): the request is translated
// to chat completions and routed by the same pipeline (detection, policies, budgets, fallbacks);
// what goes back to the client is translated to Anthropic's shape (adapters/anthropic_inbound.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/anthropic_inbound.h"
#include "adapters/translator.h"

namespace sb::gateway {

/// Wraps the stream translator of one attempt: its OpenAI chunks become Anthropic events.
class AnthropicOutbound final : public adapters::StreamTranslator {
 public:
  AnthropicOutbound(adapters::StreamTranslator& inner, std::string_view model,
                    std::int64_t estimated_input_tokens)
      : inner_(inner), writer_(model, estimated_input_tokens) {}

  bool feed(std::string_view bytes, std::string& out) override;
  bool finish(std::string& out) override;
  const std::optional<adapters::Usage>& usage() const override { return inner_.usage(); }
  const std::optional<adapters::TranslateError>& error() const override { return inner_.error(); }

  /// An OpenAI SSE event the gateway itself writes (a mid-stream failure), in Anthropic's shape.
  void gateway_event(std::string_view openai_sse, std::string& out);

 private:
  adapters::StreamTranslator& inner_;
  adapters::AnthropicStreamWriter writer_;
  std::string scratch_;
};

}  // namespace sb::gateway
