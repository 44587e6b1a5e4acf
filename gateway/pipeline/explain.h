#pragma once
// The full routing decision for a request, as JSON, with nothing sent anywhere: the engine of
// `switchboard explain` and `POST /admin/explain`.

#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sb::gateway {

class Snapshot;

struct ExplainResult {
  unsigned status = 200;  ///< 200, or 400 (bad request body) / 401 (unknown key)
  std::string json;       ///< the explanation, or an OpenAI-shaped error
};

/// `headers` are the request's header lines (every one, names in any case).
ExplainResult explain_request(
    const Snapshot& snapshot, std::string_view body,
    std::span<const std::pair<std::string_view, std::string_view>> headers,
    std::string_view api_key);

}  // namespace sb::gateway
