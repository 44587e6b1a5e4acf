#pragma once
// From a parsed request body and its request headers to the facts the policy engine decides on.
// Shared by the data plane and explain, so both decide on exactly the same facts.
//
// What is scanned is everything any backend may receive: the whole body (adapters/chat_facts.h),
// the original body of a translated request (e.g. Anthropic's, before translation), and the name
// and value of every forwardable client header (gateway/net/forwarding.h).

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/chat_facts.h"
#include "gateway/net/forwarding.h"
#include "policies/engine.h"

namespace boost::json {
class object;
}

namespace sb::gateway {

/// The OpenAI endpoints the gateway routes: each has its own body shape and upstream path.
enum class Endpoint { chat, completions, embeddings };
/// "/chat/completions", "/completions" or "/embeddings" (appended to a backend's base path).
std::string_view upstream_path(Endpoint e);

/// Storage the facts point into; keep it alive as long as the facts (until the decision).
struct FactsStorage {
  /// chat.texts is one view of chat.text, which holds the body's text, the original body's and
  /// the forwardable headers'.
  adapters::ChatFacts chat;
  std::vector<HeaderLine>
      forwardable;  ///< what may be forwarded, as scanned (views into the request)
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string classification;  ///< every x-data-classification value, comma-joined
};

/// `headers` are every header line of the request (names as sent, any case). `original` is the
/// client's body when `body` was translated from it (its facts collected by collect_body_facts).
/// `floor_level`: a level name the decision may not go below (a stored conversation's: sticky
/// clearance), counted as an x-data-classification value; empty when none.
policies::RequestFacts request_facts(Endpoint endpoint, const boost::json::object& body,
                                     std::string_view model, std::size_t tenant,
                                     const config::Config& config,
                                     std::span<const HeaderLine> headers, FactsStorage& storage,
                                     const adapters::ChatFacts* original = nullptr,
                                     std::string_view floor_level = {});

/// The same with the body's facts already in `storage.chat` (collected from the typed request,
/// adapters/canonical.h, for a chat body).
policies::RequestFacts collected_request_facts(std::string_view model, std::size_t tenant,
                                               const config::Config& config,
                                               std::span<const HeaderLine> headers,
                                               FactsStorage& storage,
                                               const adapters::ChatFacts* original = nullptr,
                                               std::string_view floor_level = {});

}  // namespace sb::gateway
