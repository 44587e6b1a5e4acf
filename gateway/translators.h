#pragma once
// Which translator speaks to a backend: chosen by an explicit switch over the provider, never by
// registration. Providers that speak OpenAI's wire format as they are get none (their bodies are
// passed through, see adapters/openai_compatible.h).

#include <cstdint>
#include <memory>
#include <string_view>

#include "adapters/translator.h"
#include "adapters/upstream/endpoint.h"
#include "policies/config.h"

namespace sb::gateway {

/// A per-request translator for `provider`, or nullptr for the OpenAI-wire family. `created` is
/// the Unix time to report; `request_id` seeds completion and tool-call ids.
std::unique_ptr<adapters::ChatTranslator> make_translator(config::Provider provider,
                                                          std::int64_t created,
                                                          std::string_view request_id);

/// True when the gateway can send chat completions to `provider` (directly or translated).
bool chat_supported(config::Provider provider);

/// What a translator needs from a backend's configuration.
adapters::BackendSpec backend_spec(const config::Backend& backend,
                                   const upstream::Endpoint& endpoint);

}  // namespace sb::gateway
