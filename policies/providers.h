#pragma once
// The provider table: one row per provider the config accepts, holding what the loader and the
// gateway need to know about it as data: its name, default hosting, the provider-specific keys it
// accepts or requires, the chat API it speaks, its engine profile, the client headers on its
// allow-list and its default output bound. Adding a provider is one row here (plus its adapter
// and the gateway's translator factory).
//
// Data only: policies never include adapters, so the engine profile and the wire API are names
// and enums the gateway maps. Thread-safety: immutable tables.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "policies/config.h"

namespace sb::config {

/// Provider-specific backend keys, as bits of ProviderInfo::allowed_keys / required_keys.
enum ProviderKey : unsigned {
  kKeyApiVersion = 1u << 0,  ///< `api_version`
  kKeyAws = 1u << 1,         ///< `aws: {region, access_key_id, ...}`
  kKeyOpenAiIds = 1u << 2,   ///< `organization`, `project`
  kKeyWireApi = 1u << 3,     ///< `api: openai | native`
};

/// The chat API a provider speaks by default (Ollama's `api: native` switches to its own).
enum class WireFormat { openai, anthropic, gemini, bedrock_converse, azure_openai };

struct ProviderInfo {
  std::string_view name;  ///< as written in `provider:`
  Provider provider;
  Hosting hosting;         ///< the default when `hosting` is not given
  unsigned allowed_keys;   ///< ProviderKey bits accepted
  unsigned required_keys;  ///< ProviderKey bits required (a subset of allowed_keys)
  WireFormat wire;
  std::string_view engine;  ///< engine profile name: vllm, llamacpp, ..., openai, generic
  /// Client headers a closed backend of this provider receives besides `forward_headers`.
  std::array<std::string_view, 2> client_headers;
  /// The output bound assumed for a request without max_tokens (see default_max_output_tokens).
  std::uint64_t (*default_max_output)(std::string_view model);
};

/// Every provider, self-hosted engines first.
std::span<const ProviderInfo> providers();
/// The row of `p` (every enumerator has one).
const ProviderInfo& provider_info(Provider p);
/// The row named `name`, or nullptr.
const ProviderInfo* find_provider(std::string_view name);

/// The engine metrics a backend of `p` is scraped for by default (LoadSettings::metrics): its
/// engine profile when the engine exports Prometheus load figures (vllm, sglang, tgi, llamacpp),
/// else "none" (ollama, generic openai-compatible servers, closed APIs).
std::string_view default_load_metrics(Provider p);
/// The names `load.metrics` accepts: vllm, sglang, tgi, llamacpp, none.
std::span<const std::string_view> load_metrics_names();

/// `only for provider X` / `only for X and Y`: the providers that accept `key`, those that require
/// it first.
std::string providers_accepting(ProviderKey key);

}  // namespace sb::config
