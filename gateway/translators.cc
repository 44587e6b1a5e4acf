#include "gateway/translators.h"

#include <string>

#include "adapters/anthropic.h"
#include "adapters/gemini.h"
#include "gateway/snapshot.h"

namespace sb::gateway {

std::unique_ptr<adapters::ChatTranslator> make_translator(config::Provider provider,
                                                          std::int64_t created,
                                                          std::string_view request_id) {
  switch (provider) {
    case config::Provider::vllm:
    case config::Provider::llamacpp:
    case config::Provider::ollama:
    case config::Provider::tgi:
    case config::Provider::sglang:
    case config::Provider::openai_compatible:
    case config::Provider::openai:
      return nullptr;
    case config::Provider::anthropic:
      return std::make_unique<adapters::AnthropicTranslator>(created);
    case config::Provider::gemini:
      return std::make_unique<adapters::GeminiTranslator>(created,
                                                          "chatcmpl-" + std::string(request_id));
    case config::Provider::azure_openai:
    case config::Provider::bedrock:
      return nullptr;  // not translated yet: chat_supported() is false for them
  }
  return nullptr;
}

bool chat_supported(config::Provider provider) {
  switch (provider) {
    case config::Provider::anthropic:
    case config::Provider::gemini:
      return true;
    case config::Provider::azure_openai:
    case config::Provider::bedrock:
      return false;
    default:
      return speaks_openai_wire(provider);
  }
}

adapters::BackendSpec backend_spec(const config::Backend& backend,
                                   const upstream::Endpoint& endpoint) {
  adapters::BackendSpec spec;
  spec.base_path = endpoint.base_path;
  spec.host = endpoint.host_header();
  spec.model = backend.model;
  spec.api_key = backend.api_key;
  return spec;
}

}  // namespace sb::gateway
