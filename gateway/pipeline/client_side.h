#pragma once
// The client's side of a chat request whose client does not speak chat completions: how a chat
// answer and a chat stream become what the client reads (Anthropic's Messages API, OpenAI's
// Responses API), which backends take the client's own request verbatim (a native wire), and
// what is due once an answer is complete (the Responses store). Chosen by the inbound handler
// (messages.cc, responses.cc); a chat-completions request has none.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "adapters/translator.h"
#include "gateway/pipeline/scrubbed_stream.h"
#include "gateway/pipeline/upstream_wire.h"

namespace sb::gateway {

struct Outcome;

/// A chat stream (OpenAI chunks) rewritten event by event into the client's events. Usage and
/// errors are the attempt's stream translator's (`inner`), which the rewriting wraps, unless the
/// rewriting reads the upstream's events itself (ChunkSource).
class ClientStream : public adapters::StreamTranslator {
 public:
  explicit ClientStream(ScrubbedStream& inner) : inner_(inner) {}

  const std::optional<adapters::Usage>& usage() const override { return inner_.usage(); }
  const std::optional<adapters::TranslateError>& error() const override { return inner_.error(); }
  /// An OpenAI SSE event the gateway itself writes (a mid-stream failure), in the client's shape.
  virtual void gateway_event(std::string_view openai_sse, std::string& out) = 0;

 protected:
  ScrubbedStream& inner_;
};

class ClientSide {
 public:
  virtual ~ClientSide() = default;

  /// A complete chat completion (OpenAI's JSON) in the client's shape; nullopt with `error` set
  /// when it cannot be read. `cache_write`: prompt-cache writes the OpenAI shape cannot carry.
  virtual std::optional<std::string> answer(std::string body, std::string_view model,
                                            std::string& error, std::int64_t cache_write) = 0;
  /// The Content-Type of a converted answer.
  virtual std::string_view answer_content_type() const { return "application/json"; }

  /// The attempt's stream (OpenAI chunks from `inner`) as the client's events. `native`: the
  /// attempt's wire already speaks the client's shape (its bytes pass unchanged; only the
  /// gateway's own events are converted).
  virtual std::unique_ptr<ClientStream> stream(ScrubbedStream& inner, std::string_view model,
                                               std::int64_t estimated_input, bool native) = 0;

  /// A wire that sends the client's own request to backend `b` (Anthropic to Anthropic,
  /// Responses to OpenAI and Azure OpenAI), or nullptr when the request goes as chat
  /// completions. `forwardable`: the client's headers that may be forwarded (as scanned), for
  /// the forward_headers rules. Called once per attempt.
  virtual std::unique_ptr<chat::UpstreamWire> native_wire(const BackendRuntime& b,
                                                          std::string_view request_id,
                                                          std::span<const HeaderLine> forwardable) {
    (void)b;
    (void)request_id;
    (void)forwardable;
    return nullptr;
  }

  /// Whether a backend of `config` would receive the client's own request (native_wire() gives
  /// it a wire). When none would, only the translation can leave the gateway, and only it needs
  /// scanning; else the client's body is scanned as well.
  virtual bool sends_client_body(const config::Config& config) const {
    (void)config;
    return false;
  }

  /// Called once when an answer is complete (after answer() or at the end of a stream), before
  /// its last bytes reach the client, so a follow-up the client sends at once finds what it
  /// needs (the Responses store).
  virtual boost::asio::awaitable<void> completed(const Outcome& o) {
    (void)o;
    co_return;
  }
};

}  // namespace sb::gateway
