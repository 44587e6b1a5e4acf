// The data plane's spans (see tracing.h).

#include "gateway/pipeline/tracing.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "gateway/observability/trace_attributes.h"
#include "gateway/observability/trace_exporter.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway::tracing {
namespace {

namespace attr = trace::attr;

// The route template of a data-plane path (the span's name and http.route): bounded, whatever
// the client sends.
std::string_view route_template(std::string_view path) {
  for (std::string_view known :
       {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/messages",
        "/v1/messages/count_tokens", "/v1/responses", "/v1/models"}) {
    if (path == known) {
      return known;
    }
  }
  if (path.starts_with("/v1/responses/")) {
    return "/v1/responses/{id}";
  }
  if (path.starts_with("/v1/models/")) {
    return "/v1/models/{id}";
  }
  return {};
}

// The GenAI conventions' gen_ai.provider.name for the closed providers that have one; the
// configured provider's name for the rest (vllm, llamacpp, ollama, tgi, sglang, ...).
std::string_view provider_name(config::Provider p) {
  switch (p) {
    case config::Provider::openai:
      return "openai";
    case config::Provider::azure_openai:
      return "azure.ai.openai";
    case config::Provider::anthropic:
      return "anthropic";
    case config::Provider::gemini:
      return "gcp.gemini";
    case config::Provider::bedrock:
      return "aws.bedrock";
    default:
      return config::to_string(p);
  }
}

std::string_view operation(Endpoint e) {
  return e == Endpoint::embeddings    ? attr::kOperationEmbeddings
         : e == Endpoint::completions ? attr::kOperationTextCompletion
                                      : attr::kOperationChat;
}

std::uint64_t unix_nanos_at(Clock::time_point t) {
  const auto age = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t);
  const std::uint64_t now = trace::unix_nano_now();
  const auto back = static_cast<std::uint64_t>(std::max<std::int64_t>(age.count(), 0));
  return back < now ? now - back : now;
}

}  // namespace

void start_request(RequestContext& ctx, Outcome& o) {
  const trace::Tracer* tracer = ctx.worker.tracer;
  if (tracer == nullptr) {
    return;
  }
  const std::string_view method = ctx.request.method_string();
  const std::string_view route = route_template(path_of(ctx.request.target()));
  std::string name(method.substr(0, 16));
  if (!route.empty()) {
    name += ' ';
    name += route;
  }
  std::optional<trace::Span> span =
      tracer->start_server_span(ctx.request.field("traceparent"), ctx.request.field("tracestate"),
                                std::move(name), unix_nanos_at(ctx.received));
  if (!span) {
    return;
  }
  o.span = std::make_unique<trace::Span>(std::move(*span));
  o.span->set_string(attr::kHttpRequestMethod, method.substr(0, 16));
  if (!route.empty()) {
    o.span->set_string(attr::kHttpRoute, route);
  }
  o.span->set_string(attr::kRequestId, ctx.request_id);
}

void end_request(RequestContext& ctx, Outcome& o) {
  if (!o.span || ctx.worker.tracer == nullptr) {
    return;
  }
  trace::Span& s = *o.span;
  s.set_int(attr::kHttpResponseStatusCode, o.status);
  if (o.tenant != kNoTenant) {
    s.set_string(attr::kTenant, ctx.snapshot.config().tenants[o.tenant].name);
  }
  if (o.alias != nullptr) {
    s.set_string(attr::kModelAlias, o.alias->name);
  }
  if (o.backend != nullptr && o.attempts > 0) {
    s.set_string(attr::kBackend, o.backend->spec->name);
  }
  if (o.status >= 500 || o.status == 0) {
    // The server span's error: a status the gateway answered with (or none: the client left).
    const std::string status = o.status == 0 ? "client_closed" : std::to_string(o.status);
    s.set_string(attr::kErrorType, status);
    s.set_error(o.error.empty() ? status : o.error);
  }
  ctx.worker.tracer->submit(std::move(s));
  o.span.reset();
}

void decision(Outcome& o, const policies::Engine& engine, const policies::Decision& d) {
  if (!o.span || !o.span->sampled()) {
    return;
  }
  const config::Config& c = engine.config();
  const std::string_view level =
      c.sensitivity.levels.names[static_cast<std::size_t>(d.sensitivity)];
  const std::string_view tier = c.tiers.levels.names[static_cast<std::size_t>(d.tier)];
  std::vector<std::string> types;
  types.reserve(d.detection.entities.size());
  for (const policies::EntityCount& e : d.detection.entities) {
    types.push_back(engine.detector().entity_names()[e.entity]);
  }
  trace::Attributes event;
  event.set_string(attr::kOutcome, policies::to_string(d.outcome))
      .set_string(attr::kRule, d.rule)
      .set_string(attr::kSensitivity, level)
      .set_string(attr::kTier, tier)
      .set_strings(attr::kEntityTypes, types);
  if (!d.backends.empty()) {
    event.set_string(attr::kBackend, c.backends[d.backends.front()].name);
  }
  o.span->add_event(std::string(attr::kDecisionEvent), trace::unix_nano_now(), std::move(event));
  o.span->set_string(attr::kRule, d.rule)
      .set_string(attr::kSensitivity, level)
      .set_string(attr::kTier, tier)
      .set_strings(attr::kEntityTypes, std::move(types));
}

std::unique_ptr<trace::Span> start_attempt(const RequestContext& ctx, const Outcome& o,
                                           const BackendRuntime& b, Endpoint endpoint,
                                           upstream::Request& up) {
  const trace::Tracer* tracer = ctx.worker.tracer;
  if (!o.span || tracer == nullptr) {
    return nullptr;
  }
  // An unsampled span is never exported: it only carries the context upstream, so its name is
  // not built.
  std::string name;
  if (o.span->sampled()) {
    name = operation(endpoint);
    name += ' ';
    name += b.spec->model;
  }
  trace::Span span = trace::Tracer::start_child(*o.span, trace::SpanKind::client, std::move(name));
  if (b.spec->hosting == config::Hosting::self_hosted || tracer->propagate_to_closed()) {
    const auto tp = span.traceparent();
    up.set("traceparent", std::string_view(tp.data(), tp.size()));
    if (!span.trace_state.empty()) {
      up.set("tracestate", span.trace_state);
    } else {
      up.erase("tracestate");
    }
  } else {
    up.erase("traceparent");
    up.erase("tracestate");
  }
  span.set_string(attr::kGenAiOperationName, operation(endpoint))
      .set_string(attr::kGenAiProviderName, provider_name(b.spec->provider))
      .set_string(attr::kGenAiRequestModel, b.spec->model)
      .set_string(attr::kServerAddress, b.endpoint.host)
      .set_string(attr::kBackend, b.spec->name)
      .set_string(attr::kHosting, b.hosting)
      .set_int(attr::kAttempt, o.attempts);
  return std::make_unique<trace::Span>(std::move(span));
}

void end_attempt(const RequestContext& ctx, std::unique_ptr<trace::Span>& span,
                 const AttemptEnd& end) {
  if (!span || ctx.worker.tracer == nullptr) {
    return;
  }
  trace::Span& s = *span;
  s.set_bool(attr::kGenAiRequestStream, end.stream);
  if (end.status != 0) {
    s.set_int(attr::kHttpResponseStatusCode, end.status);
  }
  if (end.usage != nullptr) {
    s.set_int(attr::kGenAiUsageInputTokens, end.usage->input)
        .set_int(attr::kGenAiUsageOutputTokens, end.usage->output)
        .set_int(attr::kGenAiUsageCacheReadInputTokens, end.usage->cached_input)
        .set_int(attr::kGenAiUsageCacheCreationInputTokens, end.usage->cache_write)
        .set_int(attr::kGenAiUsageReasoningOutputTokens, end.usage->reasoning)
        // What it served is billed, also when its stream was cut after the head (an error).
        .set_double(attr::kCostUsd, static_cast<double>(end.cost_nanos) / 1e9);
  }
  if (end.ttft_ms >= 0) {
    s.set_double(attr::kTimeToFirstTokenMs, end.ttft_ms);
  }
  if (!end.response_model.empty()) {
    s.set_string(attr::kGenAiResponseModel, end.response_model);
  }
  if (!end.finish_reasons.empty()) {
    s.set_strings(attr::kGenAiResponseFinishReasons,
                  std::vector<std::string>(end.finish_reasons.begin(), end.finish_reasons.end()));
  }
  if (!end.error.empty()) {
    s.set_string(attr::kErrorType, end.error);
    s.set_error(std::string(end.error));
  }
  ctx.worker.tracer->submit(std::move(s));
  span.reset();
}

namespace {

constexpr std::size_t kMaxReasons = 16;
constexpr std::size_t kMaxFactLength = 128;

std::string string_member(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string()
             ? std::string(std::string_view(v->get_string()).substr(0, kMaxFactLength))
             : std::string();
}

// The string value after `"key"` (and optional spaces and a colon) at `at`; empty when the bytes
// there are not a plain string (an escape ends it: reasons and model names have none).
std::string_view string_after(std::string_view bytes, std::size_t at) {
  std::size_t i = bytes.find_first_not_of(" \t", at);
  if (i == std::string_view::npos || bytes[i] != ':') {
    return {};
  }
  i = bytes.find_first_not_of(" \t", i + 1);
  if (i == std::string_view::npos || bytes[i] != '"') {
    return {};
  }
  const std::size_t end = bytes.find_first_of("\"\\", i + 1);
  if (end == std::string_view::npos || bytes[end] != '"') {
    return {};
  }
  return bytes.substr(i + 1, std::min(end - i - 1, kMaxFactLength));
}

}  // namespace

void AnswerFacts::read_answer(std::string_view body) {
  boost::system::error_code ec;
  boost::json::monotonic_resource mr;
  const boost::json::value v = boost::json::parse(body, ec, &mr);
  const boost::json::object* o = !ec ? v.if_object() : nullptr;
  if (o == nullptr) {
    return;
  }
  model = string_member(*o, "model");
  if (const auto* choices = o->if_contains("choices"); choices != nullptr && choices->is_array()) {
    for (const boost::json::value& c : choices->get_array()) {  // chat and completions
      if (c.is_object() && finish_reasons.size() < kMaxReasons) {
        if (std::string r = string_member(c.get_object(), "finish_reason"); !r.empty()) {
          finish_reasons.push_back(std::move(r));
        }
      }
    }
    return;
  }
  std::string reason = string_member(*o, "stop_reason");  // Anthropic Messages
  if (reason.empty() && string_member(*o, "object") == "response") {
    if (const auto* d = o->if_contains("incomplete_details"); d != nullptr && d->is_object()) {
      reason = string_member(d->get_object(), "reason");
    }
    reason = reason.empty() ? string_member(*o, "status") : reason;
  }
  if (!reason.empty()) {
    finish_reasons.push_back(std::move(reason));
  }
}

void AnswerFacts::scan_stream(std::string_view bytes) {
  if (model.empty()) {
    if (const std::size_t at = bytes.find("\"model\""); at != std::string_view::npos) {
      model = std::string(string_after(bytes, at + 7));
    }
  }
  for (std::string_view key :
       {std::string_view("\"finish_reason\""), std::string_view("\"stop_reason\"")}) {
    for (std::size_t at = bytes.find(key); at != std::string_view::npos;
         at = bytes.find(key, at + key.size())) {
      const std::string_view r = string_after(bytes, at + key.size());
      if (!r.empty() && finish_reasons.size() < kMaxReasons) {
        finish_reasons.emplace_back(r);
      }
    }
  }
}

}  // namespace sb::gateway::tracing
