#pragma once
// The data plane's OpenTelemetry spans (observability/trace_exporter.h), with the GenAI semantic
// conventions: one SERVER span per request (a child of the client's `traceparent`, else a new
// root), the routing decision as an event on it (rule, sensitivity level, tier, entity types —
// names, never values), and one CLIENT span per upstream attempt (provider, request model, usage,
// time to first token, cost, error type). Nothing of the prompt or the completion, ever: every
// attribute is a name, a number or a status.
//
// Each call does nothing but a null test when tracing is off (Worker::tracer == nullptr).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/upstream/client.h"
#include "gateway/observability/otlp.h"
#include "gateway/pipeline/exchange.h"
#include "gateway/pipeline/request_facts.h"
#include "policies/engine.h"

namespace sb::gateway::tracing {

/// Starts the request's server span in `o.span`, from when the request header was complete.
void start_request(RequestContext& ctx, Outcome& o);
/// Ends and submits the server span with the request's outcome (status, tenant, alias, level).
void end_request(RequestContext& ctx, Outcome& o);

/// The decision as an event on the server span, and its rule, level and tier as attributes.
void decision(Outcome& o, const policies::Engine& engine, const policies::Decision& d);

/// A client span for one attempt on `b`, started now; writes its traceparent (and the client's
/// tracestate) into `up` when `b` is self-hosted, or closed and `propagate_to_closed` is set.
/// nullopt when the request has no span.
std::unique_ptr<trace::Span> start_attempt(const RequestContext& ctx, const Outcome& o,
                                           const BackendRuntime& b, Endpoint endpoint,
                                           upstream::Request& up);

/// What an attempt ended with.
struct AttemptEnd {
  unsigned status = 0;     ///< the upstream's status, 0 when none
  std::string_view error;  ///< the error kind; empty when it served (a stream cut after its head
                           ///< served and failed: both usage and error)
  const adapters::Usage* usage = nullptr;  ///< when it served: usage and cost are recorded
  std::int64_t cost_nanos = 0;
  double ttft_ms = -1;  ///< < 0 when nothing was streamed
  bool stream = false;
  std::string_view response_model;              ///< empty when unknown
  std::span<const std::string> finish_reasons;  ///< in the order seen
};

/// What the answer says of itself, for the attempt's span (gen_ai.response.model and
/// gen_ai.response.finish_reasons): gathered only while the request's span is sampled.
struct AnswerFacts {
  std::string model;
  std::vector<std::string> finish_reasons;
  /// From a complete answer: OpenAI chat and completions (`choices[].finish_reason`), Anthropic
  /// Messages (`stop_reason`), Responses (`incomplete_details.reason`, else `status`).
  void read_answer(std::string_view body);
  /// From stream bytes as they go to the client: the first `"model"` and every
  /// `"finish_reason"` / `"stop_reason"` string value (bounded).
  void scan_stream(std::string_view bytes);
};
void end_attempt(const RequestContext& ctx, std::unique_ptr<trace::Span>& span,
                 const AttemptEnd& end);

}  // namespace sb::gateway::tracing
