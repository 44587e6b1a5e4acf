#pragma once
// The chat relay for an OpenAI-wire upstream, saying that it rewrites what it relays: a client's
// writer (Anthropic's, the Responses API's) then reads the relay's output, the way every stream
// was read before ChunkSource read OpenAI-wire upstreams directly. The tests and the fuzz target
// of ChunkSource hold its direct reading to this one. Header-only; links the adapters.

#include <optional>
#include <string>
#include <string_view>

#include "adapters/openai_compatible.h"

namespace sb::testing {

class RelayedTranslator final : public adapters::StreamTranslator {
 public:
  bool feed(std::string_view bytes, std::string& out) override { return relay_.feed(bytes, out); }
  bool finish(std::string& out) override { return relay_.finish(out); }
  const std::optional<adapters::Usage>& usage() const override { return relay_.usage(); }
  const std::optional<adapters::TranslateError>& error() const override { return relay_.error(); }

 private:
  adapters::OpenAIStreamTranslator relay_{true};
};

}  // namespace sb::testing
