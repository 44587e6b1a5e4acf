#pragma once
// OpenAI's Responses API as an inbound dialect (`POST /v1/responses`, and GET and DELETE
// `/v1/responses/{id}` for stored responses). The request is translated to chat completions
// (adapters/responses_inbound.h) and routed by the same pipeline as chat (detection, policies,
// budgets, retries, fallbacks); answers and streams go back as Response objects and the Responses
// event sequence.
//
// Conversations: with `store` (OpenAI's default: true) the conversation so far — chat messages,
// the content-free level it reached and its tenant — is kept in the response store
// (gateway/state/response_store.h: memory, or Redis with `state.store: redis`) under the
// response's id. A request naming `previous_response_id` continues it: the stored messages go
// first, only the tenant that stored it can read it, and its level is a floor for the new
// decision (sticky clearance: once a conversation carried restricted data it stays on backends
// cleared for restricted data, whatever the follow-up says).
//
// Native lane: a request routed to an OpenAI or Azure OpenAI backend goes as the client sent it
// (only `model` and an over-cap `max_output_tokens` changed; chat::ResponsesNativeWire), and its
// answer or event stream comes back as it came, so everything the Responses API has and chat
// completions lack survives. Not when the request continues a stored conversation
// (`previous_response_id`): the gateway keeps conversations as chat messages, which the
// Responses API cannot take as they are, so a follow-up goes translated (to chat completions),
// whatever the backend. A native answer is stored (when the client asked to store) under the id
// the upstream gave it, as the turn's input messages plus its output items converted to chat
// messages. `store` itself is forwarded as the client sent it: whether OpenAI keeps its own copy
// is the client's choice, as it would be talking to OpenAI directly.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "adapters/responses_inbound.h"
#include "gateway/pipeline/chunk_source.h"
#include "gateway/pipeline/client_side.h"
#include "gateway/pipeline/native_wire.h"
#include "gateway/state/response_store.h"

namespace sb::gateway {

struct RequestContext;

/// Wraps the stream translator of one attempt: its OpenAI chunks become Responses events. The
/// bytes of the event that completes the response are held until finish(), so the store has the
/// response before the client can name it in a follow-up.
class ResponsesOutbound final : public ClientStream {
 public:
  ResponsesOutbound(ScrubbedStream& inner, adapters::ResponseMeta meta)
      : ClientStream(inner), writer_(std::move(meta)), source_(inner, writer_) {}

  bool feed(std::string_view bytes, std::string& out) override;
  bool finish(std::string& out) override;
  void gateway_event(std::string_view openai_sse, std::string& out) override;
  const std::optional<adapters::Usage>& usage() const override { return source_.usage(); }
  const std::optional<adapters::TranslateError>& error() const override { return source_.error(); }

  const adapters::ResponsesStreamWriter& writer() const { return writer_; }

 private:
  adapters::ResponsesStreamWriter writer_;
  ChunkSource source_;
  std::string held_;
};

/// A native stream (already Responses events) passed through; the bytes of the event that
/// completes the response are held until finish() (so the store has the response before the
/// client can name it), and the gateway's own failure event becomes `error` + `response.failed`.
class ResponsesNativeOutbound final : public ClientStream {
 public:
  ResponsesNativeOutbound(ScrubbedStream& inner, const chat::ResponsesNativeWire& wire)
      : ClientStream(inner), wire_(wire) {}

  bool feed(std::string_view bytes, std::string& out) override;
  bool finish(std::string& out) override;
  void gateway_event(std::string_view openai_sse, std::string& out) override;

 private:
  bool done() const;
  const chat::ResponsesNativeWire& wire_;
  std::string held_;
};

/// The Responses client's side of one request.
class ResponsesSide final : public ClientSide {
 public:
  ResponsesSide(const RequestContext& ctx, const adapters::ResponsesTurn& turn,
                std::string_view history, adapters::ResponseMeta meta)
      : ctx_(ctx), turn_(turn), history_(history), meta_(std::move(meta)) {}

  std::optional<std::string> answer(std::string body, std::string_view model, std::string& error,
                                    std::int64_t cache_write) override;
  std::unique_ptr<ClientStream> stream(ScrubbedStream& inner, std::string_view model,
                                       std::int64_t estimated_input, bool native) override;
  boost::asio::awaitable<void> completed(const Outcome& o) override;
  /// A ResponsesNativeWire for an OpenAI or Azure OpenAI backend when the request continues no
  /// stored conversation; else nullptr (translated).
  std::unique_ptr<chat::UpstreamWire> native_wire(const BackendRuntime& b,
                                                  std::string_view request_id,
                                                  std::span<const HeaderLine> forwardable) override;
  /// An OpenAI or Azure OpenAI backend takes the client's request as it is, unless it continues a
  /// stored conversation.
  bool sends_client_body(const config::Config& config) const override;

 private:
  /// Whether backends of provider `p` take this request as it is.
  bool native_for(config::Provider p) const;
  /// The conversation of a native answer (its input messages and its output items as chat
  /// messages) and the id the upstream gave it; false when it cannot be stored.
  bool native_conversation(StoredResponse& r, std::string& id) const;

  const RequestContext& ctx_;
  const adapters::ResponsesTurn& turn_;
  std::string_view history_;
  adapters::ResponseMeta meta_;
  std::string response_;         // the Response object of a complete answer
  std::string output_messages_;  // its assistant turn as chat messages
  ResponsesOutbound* outbound_ = nullptr;
  chat::ResponsesNativeWire* native_ = nullptr;  // the current attempt's native wire, if any
};

/// `[a,b]` + `[c]` -> `[a,b,c]`: JSON arrays (texts) joined; empty texts count as `[]`.
std::string join_json_arrays(std::string_view a, std::string_view b, std::string_view c);

}  // namespace sb::gateway
