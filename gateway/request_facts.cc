#include "gateway/request_facts.h"

namespace sb::gateway {

policies::RequestFacts request_facts(
    const boost::json::object& body, std::string_view model, std::size_t tenant,
    const config::Config& config, const std::function<std::string_view(std::string_view)>& header,
    FactsStorage& storage) {
  adapters::collect_chat_facts(body, storage.chat);
  storage.headers.clear();
  for (const std::string& name : config.policy_headers) {
    if (const std::string_view v = header(name); !v.empty()) {
      storage.headers.emplace_back(name, v);
    }
  }
  const adapters::ChatFacts& chat = storage.chat;
  policies::RequestFacts facts;
  facts.tenant = tenant;
  facts.model = model;
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
  facts.headers = storage.headers;
  return facts;
}

}  // namespace sb::gateway
