#include "gateway/explain.h"

#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_facts.h"
#include "gateway/http_response.h"
#include "gateway/snapshot.h"

namespace sb::gateway {

ExplainResult explain_request(const Snapshot& snapshot, std::string_view body,
                              const std::function<std::string_view(std::string_view)>& header,
                              std::string_view api_key) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 128;
  const boost::json::value parsed = boost::json::parse(body, ec, {}, opts);
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
  adapters::ChatFacts chat;
  adapters::collect_chat_facts(obj, chat);
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  for (const std::string& name : snapshot.config().policy_headers) {
    if (const std::string_view v = header(name); !v.empty()) {
      headers.emplace_back(name, v);
    }
  }
  policies::RequestFacts facts;
  facts.tenant = *tenant;
  facts.model = std::string_view(model->get_string().data(), model->get_string().size());
  facts.texts = chat.texts;
  facts.classification_header = header("x-data-classification");
  facts.tier_header = header("x-capability-tier");
  facts.estimated_prompt_tokens = chat.estimated_prompt_tokens;
  facts.max_tokens = chat.max_tokens;
  facts.tools = chat.tools;
  facts.images = chat.images;
  facts.json_schema = chat.json_schema;
  facts.depth = chat.depth;
  facts.reasoning_effort = chat.reasoning_effort;
  facts.headers = headers;
  const policies::Decision d = snapshot.engine().decide(facts, snapshot.state(), true);
  return {200, snapshot.engine().explain_json(d, facts)};
}

}  // namespace sb::gateway
