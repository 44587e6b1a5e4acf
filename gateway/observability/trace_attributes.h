#pragma once
// Span attribute names: OpenTelemetry semantic conventions (GenAI, HTTP, server, error) and the
// gateway's own `switchboard.*` ones. Never content: no prompt, completion or entity value is
// ever an attribute value, only names, counts and decisions.
// https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/

#include <string_view>

namespace sb::gateway::trace::attr {

// GenAI client spans (one per upstream attempt). Span name: "{operation} {request model}".
inline constexpr std::string_view kGenAiOperationName = "gen_ai.operation.name";  ///< chat, ...
inline constexpr std::string_view kGenAiProviderName = "gen_ai.provider.name";    ///< openai, ...
/// The name before gen_ai.provider.name (semconv <= 1.36); still read by many backends.
inline constexpr std::string_view kGenAiSystem = "gen_ai.system";
inline constexpr std::string_view kGenAiRequestModel = "gen_ai.request.model";
inline constexpr std::string_view kGenAiRequestMaxTokens = "gen_ai.request.max_tokens";
inline constexpr std::string_view kGenAiRequestStream = "gen_ai.request.stream";
inline constexpr std::string_view kGenAiResponseModel = "gen_ai.response.model";
inline constexpr std::string_view kGenAiResponseId = "gen_ai.response.id";
/// string[]: one per choice.
inline constexpr std::string_view kGenAiResponseFinishReasons = "gen_ai.response.finish_reasons";
inline constexpr std::string_view kGenAiUsageInputTokens = "gen_ai.usage.input_tokens";
inline constexpr std::string_view kGenAiUsageOutputTokens = "gen_ai.usage.output_tokens";
/// Cached prompt tokens (a subset of input tokens).
inline constexpr std::string_view kGenAiUsageCacheReadInputTokens =
    "gen_ai.usage.cache_read.input_tokens";
inline constexpr std::string_view kGenAiUsageCacheCreationInputTokens =
    "gen_ai.usage.cache_creation.input_tokens";
/// Reasoning tokens (a subset of output tokens), named after the cache_read pattern.
inline constexpr std::string_view kGenAiUsageReasoningOutputTokens =
    "gen_ai.usage.reasoning.output_tokens";

// Operation names (gen_ai.operation.name values).
inline constexpr std::string_view kOperationChat = "chat";
inline constexpr std::string_view kOperationTextCompletion = "text_completion";
inline constexpr std::string_view kOperationEmbeddings = "embeddings";

// HTTP and peer.
inline constexpr std::string_view kHttpRequestMethod = "http.request.method";
inline constexpr std::string_view kHttpResponseStatusCode = "http.response.status_code";
inline constexpr std::string_view kHttpRoute = "http.route";
inline constexpr std::string_view kUrlPath = "url.path";
inline constexpr std::string_view kServerAddress = "server.address";
inline constexpr std::string_view kServerPort = "server.port";
/// Low-cardinality error class: "timeout", "502", "rate_limited", ...
inline constexpr std::string_view kErrorType = "error.type";

// The gateway's decision and accounting.
inline constexpr std::string_view kRequestId = "switchboard.request_id";
/// The decision's outcome: route, forbidden, unavailable, shed, bad_request, unknown_model.
inline constexpr std::string_view kOutcome = "switchboard.outcome";
inline constexpr std::string_view kTenant = "switchboard.tenant";
inline constexpr std::string_view kModelAlias = "switchboard.model_alias";
inline constexpr std::string_view kRule = "switchboard.rule";
inline constexpr std::string_view kSensitivity = "switchboard.sensitivity";
inline constexpr std::string_view kSensitivityReason = "switchboard.sensitivity_reason";
inline constexpr std::string_view kTier = "switchboard.tier";
/// string[]: entity type names found (never the values).
inline constexpr std::string_view kEntityTypes = "switchboard.entity_types";
inline constexpr std::string_view kBackend = "switchboard.backend";
inline constexpr std::string_view kHosting = "switchboard.hosting";  ///< self-hosted | closed
inline constexpr std::string_view kAttempt = "switchboard.attempt";  ///< 1-based per request
inline constexpr std::string_view kCostUsd = "switchboard.cost_usd";
/// Milliseconds from the upstream request to its first content byte. (GenAI's
/// gen_ai.server.time_to_first_token is a metric, not a span attribute.)
inline constexpr std::string_view kTimeToFirstTokenMs = "switchboard.time_to_first_token_ms";

// Event names.
inline constexpr std::string_view kDecisionEvent = "switchboard.decision";

}  // namespace sb::gateway::trace::attr
