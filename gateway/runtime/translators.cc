#include "gateway/runtime/translators.h"

#include <string>

#include "adapters/anthropic.h"
#include "adapters/azure.h"
#include "adapters/bedrock.h"
#include "adapters/gemini.h"
#include "adapters/ollama.h"
#include "adapters/sigv4.h"
#include "policies/providers.h"

namespace sb::gateway {

std::unique_ptr<adapters::ChatTranslator> make_translator(const config::Backend& backend,
                                                          std::int64_t created,
                                                          std::string_view request_id) {
  const std::string id = "chatcmpl-" + std::string(request_id);
  switch (backend.provider) {
    case config::Provider::vllm:
    case config::Provider::llamacpp:
    case config::Provider::tgi:
    case config::Provider::sglang:
    case config::Provider::openai_compatible:
    case config::Provider::openai:
      return nullptr;
    case config::Provider::ollama:
      if (backend.api == config::WireApi::native) {
        return std::make_unique<adapters::OllamaTranslator>(created, id);
      }
      return nullptr;
    case config::Provider::anthropic:
      return std::make_unique<adapters::AnthropicTranslator>(created);
    case config::Provider::gemini:
      return std::make_unique<adapters::GeminiTranslator>(created, id);
    case config::Provider::bedrock:
      // Signed at the time of sending.
      return std::make_unique<adapters::BedrockTranslator>(created,
                                                           adapters::format_amz_date(created), id);
    case config::Provider::azure_openai:
      return std::make_unique<adapters::AzureTranslator>();
  }
  return nullptr;
}

namespace {

/// Ollama behind `api: native` speaks its own API, not its provider row's default.
bool native_ollama(const config::Backend& backend) {
  return backend.provider == config::Provider::ollama && backend.api == config::WireApi::native;
}

}  // namespace

bool chat_translated(const config::Backend& backend) {
  return native_ollama(backend) ||
         config::provider_info(backend.provider).wire != config::WireFormat::openai;
}

bool speaks_openai_wire(const config::Backend& backend) {
  const config::WireFormat wire = config::provider_info(backend.provider).wire;
  return !native_ollama(backend) &&
         (wire == config::WireFormat::openai || wire == config::WireFormat::azure_openai);
}

const adapters::EngineProfile& engine_of(const config::Backend& backend) {
  // The provider row names its engine profile (policies do not include adapters).
  const std::string_view name = config::provider_info(backend.provider).engine;
  for (const adapters::Engine e :
       {adapters::Engine::openai, adapters::Engine::vllm, adapters::Engine::llamacpp,
        adapters::Engine::ollama, adapters::Engine::tgi, adapters::Engine::sglang}) {
    if (adapters::engine_profile(e).name == name) {
      return adapters::engine_profile(e);
    }
  }
  return adapters::engine_profile(adapters::Engine::generic);
}

adapters::BackendSpec backend_spec(const config::Backend& backend,
                                   const upstream::Endpoint& endpoint) {
  adapters::BackendSpec spec;
  spec.base_path = endpoint.base_path;
  spec.host = endpoint.host_header();
  spec.model = backend.model;
  spec.api_key = backend.api_key;
  spec.api_version = backend.api_version;
  if (backend.provider == config::Provider::bedrock) {
    spec.api_key = backend.aws_access_key_id;  // SigV4: the key id signs, the secret stays here
    spec.secret_key = backend.aws_secret_access_key;
    spec.session_token = backend.aws_session_token;
    spec.region = backend.aws_region;
  }
  return spec;
}

}  // namespace sb::gateway
