#include "gateway/request_facts.h"

namespace sb::gateway {

std::string_view upstream_path(Endpoint e) {
  switch (e) {
    case Endpoint::chat:
      return "/chat/completions";
    case Endpoint::completions:
      return "/completions";
    case Endpoint::embeddings:
      return "/embeddings";
  }
  return "/chat/completions";
}

policies::RequestFacts request_facts(
    Endpoint endpoint, const boost::json::object& body, std::string_view model, std::size_t tenant,
    const config::Config& config, const std::function<std::string_view(std::string_view)>& header,
    FactsStorage& storage) {
  switch (endpoint) {
    case Endpoint::chat:
      switch (endpoint) {
        case Endpoint::chat:
          adapters::collect_chat_facts(body, storage.chat);
          break;
        case Endpoint::completions:
          adapters::collect_completion_facts(body, storage.chat);
          break;
        case Endpoint::embeddings:
          adapters::collect_embedding_facts(body, storage.chat);
          break;
      }
      break;
    case Endpoint::completions:
      adapters::collect_completion_facts(body, storage.chat);
      break;
    case Endpoint::embeddings:
      adapters::collect_embedding_facts(body, storage.chat);
      break;
  }
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
