#include "gateway/pipeline/explain.h"

#include <utility>
#include <vector>

#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include "adapters/json_lex.h"
#include "gateway/net/http_response.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/runtime/snapshot.h"

namespace sb::gateway {

ExplainResult explain_request(
    const Snapshot& snapshot, std::string_view body,
    std::span<const std::pair<std::string_view, std::string_view>> headers,
    std::string_view api_key) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 128;
  bool repeated = false;
  const boost::json::value parsed = adapters::json_lex::parse(body, ec, {}, opts, &repeated);
  if (ec || !parsed.is_object()) {
    return {400, error_json("the request must be a chat-completions JSON object",
                            "invalid_request_error", {})};
  }
  const boost::json::object& obj = parsed.as_object();
  const auto* model = obj.if_contains("model");
  if (model == nullptr || !model->is_string()) {
    return {400, error_json("you must provide a model parameter", "invalid_request_error", {})};
  }
  const auto tenant = snapshot.authenticate(api_key);
  if (!tenant) {
    return {401, error_json(api_key.empty() ? "no API key and no anonymous tenant"
                                            : "Incorrect API key provided.",
                            "authentication_error", "invalid_api_key")};
  }
  FactsStorage storage;
  if (repeated) {
    scan_repeated_keys(body, storage);
  }
  const policies::RequestFacts facts = request_facts(
      Endpoint::chat, obj, std::string_view(model->get_string().data(), model->get_string().size()),
      *tenant, snapshot.config(), headers, storage);
  const policies::Decision d = snapshot.engine().decide(facts, snapshot.state(), true);
  return {200, snapshot.engine().explain_json(d, facts)};
}

}  // namespace sb::gateway
