#pragma once
// From a parsed chat-completions body and its request headers to the facts the policy engine
// decides on. Shared by the data plane and explain, so both decide on exactly the same facts.

#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/chat_facts.h"
#include "policies/engine.h"

namespace boost::json {
class object;
}

namespace sb::gateway {

/// The OpenAI endpoints the gateway routes: each has its own body shape and upstream path.
enum class Endpoint { chat, completions, embeddings };
/// "/chat/completions", "/completions" or "/embeddings" (appended to a backend's base path).
std::string_view upstream_path(Endpoint e);

/// Storage the facts point into; keep it alive as long as the facts.
struct FactsStorage {
  adapters::ChatFacts chat;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};

/// `header(name)` returns the request header `name` (lower-case), empty when absent.
policies::RequestFacts request_facts(
    Endpoint endpoint, const boost::json::object& body, std::string_view model, std::size_t tenant,
    const config::Config& config, const std::function<std::string_view(std::string_view)>& header,
    FactsStorage& storage);

}  // namespace sb::gateway
