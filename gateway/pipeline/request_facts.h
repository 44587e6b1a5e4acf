#pragma once
// From a parsed request body and its request headers to the facts the policy engine decides on.
// Shared by the data plane and explain, so both decide on exactly the same facts.
//
// What is scanned is everything any backend may receive: the whole body (adapters/chat_facts.h),
// the original body of a translated request (e.g. Anthropic's, before translation), and the name
// and value of every forwardable client header (gateway/net/forwarding.h).

#include <cstddef>
#include <memory>
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
  /// The request target's query string: the Messages lane to an Anthropic backend forwards it
  /// (`beta=true` from Claude Code), so it is scanned with the rest. Set before the facts.
  std::string_view query;
  /// Every key and string of the body's bytes when an object of the body names a key twice
  /// (scan_repeated_keys): scanned as well. Null otherwise (a pointer: the storage lives in a
  /// coroutine frame that must stay small enough for Asio to recycle).
  std::unique_ptr<adapters::ChatFacts> repeated;
};

/// For a body that names a key twice in one object (adapters::collect_raw_facts): its DOM and its
/// typed reading hold the last value of the key, but the bytes a backend receives hold every one,
/// so every key and string of `body` is collected into `storage.repeated`, to be scanned with the
/// rest. Call it before request_facts / collected_request_facts.
void scan_repeated_keys(std::string_view body, FactsStorage& storage);

/// The facts of a client's body in another dialect (the `original` of a translated request), `dom`
/// parsed from `text`: every key and string of the DOM, or of the text's bytes when `repeated`
/// (a key named twice in one object, whose every value a backend sent the text receives).
void collect_original_facts(const boost::json::object& dom, std::string_view text, bool repeated,
                            adapters::ChatFacts& out);

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
