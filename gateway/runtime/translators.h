#pragma once
// Which translator speaks to a backend: chosen by an explicit switch over the provider, never by
// registration. Providers that speak OpenAI's wire format as they are get none (their bodies are
// passed through, see adapters/openai_compatible.h), with their engine's quirks applied
// (adapters/engines.h).

#include <cstdint>
#include <memory>
#include <string_view>

#include "adapters/engines.h"
#include "adapters/translator.h"
#include "adapters/upstream/endpoint.h"
#include "policies/config.h"

namespace sb::gateway {

/// A per-request chat translator for `backend`, or nullptr when its chat bodies pass through.
/// `created` is the Unix time to report; `request_id` seeds completion and tool-call ids.
std::unique_ptr<adapters::ChatTranslator> make_translator(const config::Backend& backend,
                                                          std::int64_t created,
                                                          std::string_view request_id);

/// True when chat completions to `backend` go through a translator.
bool chat_translated(const config::Backend& backend);

/// True when OpenAI-format completions and embeddings bodies can be sent to `backend` as they
/// are (the OpenAI-compatible family over its `/v1` API, and Azure OpenAI).
bool speaks_openai_wire(const config::Backend& backend);

/// The engine whose quirks apply to a pass-through backend.
const adapters::EngineProfile& engine_of(const config::Backend& backend);

/// What a translator needs from a backend's configuration.
adapters::BackendSpec backend_spec(const config::Backend& backend,
                                   const upstream::Endpoint& endpoint);

}  // namespace sb::gateway
