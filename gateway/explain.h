#pragma once
// The full routing decision for a request, as JSON, with nothing sent anywhere: the engine of
// `switchboard explain` and `POST /admin/explain`.

#include <functional>
#include <string>
#include <string_view>

namespace sb::gateway {

class Snapshot;

struct ExplainResult {
  unsigned status = 200;  ///< 200, or 400 (bad request body) / 401 (unknown key)
  std::string json;       ///< the explanation, or an OpenAI-shaped error
};

/// `header(name)` returns a request header's value (lower-case name), empty when absent.
ExplainResult explain_request(const Snapshot& snapshot, std::string_view body,
                              const std::function<std::string_view(std::string_view)>& header,
                              std::string_view api_key);

}  // namespace sb::gateway
