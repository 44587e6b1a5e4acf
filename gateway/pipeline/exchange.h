#pragma once
// Internal to the data plane: the facts of one request gathered along its way, the helpers that
// write answers, and what a request's record writes (metrics and the access-log line).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "adapters/upstream/client.h"
#include "adapters/usage.h"
#include "gateway/net/handler.h"
#include "gateway/observability/otlp.h"
#include "gateway/runtime/request_stats.h"

namespace sb::adapters {
struct ChatFacts;
}

namespace sb::gateway {

struct AliasRuntime;
struct BackendRuntime;
class Snapshot;

struct Outcome {
  std::size_t tenant = kNoTenant;
  const AliasRuntime* alias = nullptr;
  const BackendRuntime* backend = nullptr;  ///< the backend that answered (or failed last)
  std::size_t rule_slot = 0;
  unsigned status = 0;
  bool stream = false;
  unsigned attempts = 0;
  Clock::duration io_wait{};                    ///< time awaiting the upstream or the client
  Clock::duration upstream{};                   ///< time awaiting the upstream
  std::optional<Clock::time_point> first_byte;  ///< first content byte sent (streams)
  std::optional<adapters::Usage> usage;
  bool usage_estimated = false;  ///< the upstream reported none; tokens are estimates
  std::int64_t cost_nanos = 0;   ///< what the request cost (policies::Nanos)
  std::string_view error;
  std::string_view sensitivity;  ///< level name, once decided
  int level = -1;                ///< the same as an index, once decided
  /// The request's server span while tracing is on (pipeline/tracing.h); ended by record(). Held
  /// by pointer: an outcome lives in the coroutine frame of every request, traced or not, and a
  /// span inline would put 240 bytes in it.
  std::unique_ptr<trace::Span> span;
};

/// The request path without its query string.
std::string_view path_of(std::string_view target);
/// The query string of the request target, without its `?` (empty when none).
std::string_view query_of(std::string_view target);

/// Records metrics and writes the access-log line: the sink of a RequestRecord
/// (request_record.h), which calls it once per request. Nothing else does.
void record(RequestContext& ctx, Outcome& o);

/// Writes complete response bytes; false when the client is gone.
boost::asio::awaitable<bool> send(RequestContext& ctx, Outcome& o, std::string_view bytes);

/// Answers with an error in the client's dialect (the request's record notes the status).
/// Returns whether the connection may stay open.
boost::asio::awaitable<bool> send_error(RequestContext& ctx, Outcome& o, unsigned status,
                                        std::string_view message, std::string_view code = {},
                                        std::string_view extra_headers = {});

enum class Endpoint;
class RequestRecord;
class ClientSide;

/// What an inbound dialect (Messages, Responses) hands the chat pipeline beside the chat body.
struct ChatInbound {
  /// The facts of the client's body when `body` was translated from it (scanned as well).
  const adapters::ChatFacts* original = nullptr;
  /// The client's side (answers, streams, native wires); nullptr for chat completions.
  ClientSide* side = nullptr;
  /// A sensitivity level the decision may not go below (a stored conversation's), as a level
  /// name; empty when none.
  std::string_view floor_level;
  /// Why the client's request cannot be translated to chat completions, when it cannot: only a
  /// native wire can send it (the body is then a stand-in for the decision; the client's own
  /// body is scanned through `original`). Empty when it can.
  std::string_view untranslatable;
};

/// The pipeline of the OpenAI model endpoints (chat.cc): decide, admit, dispatch, relay,
/// reconcile — for chat completions, legacy completions and embeddings alike.
/// `body` is the OpenAI request body (the client's, or one translated from another dialect).
/// The request's record is `record`, its outcome's tenant set.
boost::asio::awaitable<bool> handle_chat(RequestContext& ctx, RequestRecord& record,
                                         Endpoint endpoint, std::string_view body,
                                         const ChatInbound& inbound = {});
/// POST /v1/messages (messages.cc): an Anthropic Messages request translated to chat completions,
/// routed by the same pipeline, answered in Anthropic's shape.
boost::asio::awaitable<bool> handle_messages(RequestContext& ctx, RequestRecord& record);
/// POST /v1/messages/count_tokens (messages.cc): the prompt's input tokens.
boost::asio::awaitable<bool> handle_count_tokens(RequestContext& ctx, RequestRecord& record);
/// POST /v1/responses (responses.cc): an OpenAI Responses request translated to chat
/// completions, routed by the same pipeline, answered as Responses objects and events.
boost::asio::awaitable<bool> handle_responses(RequestContext& ctx, RequestRecord& record);
/// GET and DELETE /v1/responses/{id} (responses.cc): a stored response.
boost::asio::awaitable<bool> handle_stored_response(RequestContext& ctx, RequestRecord& record,
                                                    std::string_view id);

}  // namespace sb::gateway
