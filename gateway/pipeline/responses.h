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

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/responses_inbound.h"
#include "gateway/pipeline/client_side.h"
#include "gateway/state/response_store.h"

namespace sb::gateway {

struct RequestContext;

/// Wraps the stream translator of one attempt: its OpenAI chunks become Responses events. The
/// bytes of the event that completes the response are held until finish(), so the store has the
/// response before the client can name it in a follow-up.
class ResponsesOutbound final : public ClientStream {
 public:
  ResponsesOutbound(adapters::StreamTranslator& inner, adapters::ResponseMeta meta)
      : inner_(inner), writer_(std::move(meta)) {}

  bool feed(std::string_view bytes, std::string& out) override;
  bool finish(std::string& out) override;
  const std::optional<adapters::Usage>& usage() const override { return inner_.usage(); }
  const std::optional<adapters::TranslateError>& error() const override { return inner_.error(); }
  void gateway_event(std::string_view openai_sse, std::string& out) override;

  const adapters::ResponsesStreamWriter& writer() const { return writer_; }

 private:
  adapters::StreamTranslator& inner_;
  adapters::ResponsesStreamWriter writer_;
  std::string scratch_;
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
  std::unique_ptr<ClientStream> stream(adapters::StreamTranslator& inner, std::string_view model,
                                       std::int64_t estimated_input, bool native) override;
  boost::asio::awaitable<void> completed(const Outcome& o) override;

 private:
  const RequestContext& ctx_;
  const adapters::ResponsesTurn& turn_;
  std::string_view history_;
  adapters::ResponseMeta meta_;
  std::string response_;         // the Response object of a complete answer
  std::string output_messages_;  // its assistant turn as chat messages
  ResponsesOutbound* outbound_ = nullptr;
};

/// `[a,b]` + `[c]` -> `[a,b,c]`: JSON arrays (texts) joined; empty texts count as `[]`.
std::string join_json_arrays(std::string_view a, std::string_view b, std::string_view c);

}  // namespace sb::gateway
