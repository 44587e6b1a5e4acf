// The server's OpenTelemetry tracer: started from `telemetry.traces` (and the OTEL_* environment
// variables the loader read) before anything is served, its counters mirrored into the registry
// at each scrape. `telemetry:` changes take effect at the next start.

#include <exception>

#include "gateway/control/server.h"
#include "gateway/observability/log.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/stats.h"
#include "gateway/observability/trace_exporter.h"
#include "gateway/runtime/snapshot.h"

namespace sb::gateway {

void Server::open_tracing(const Snapshot& snap) {
  const config::TraceSettings& settings = snap.config().telemetry.traces;
  try {
    tracer_ = std::make_unique<trace::Tracer>(settings, SWITCHBOARD_VERSION);
  } catch (const std::exception& e) {
    // The loader validated the endpoint; a tracer that cannot start never stops the gateway.
    log::error("tracing off: the exporter could not start", {{"error", e.what()}});
    tracer_ = std::make_unique<trace::Tracer>();
  }
  for (const char* result : {"exported", "dropped", "failed"}) {
    trace_counters_.push_back(&registry_->counter(stats::kTraceSpansTotal, {{"result", result}}));
  }
  if (tracer_->enabled()) {
    log::info("tracing on", {{"endpoint", settings.endpoint},
                             {"service", settings.service_name},
                             {"sample_ratio", std::to_string(settings.sample_ratio)}});
  }
}

// Off the request path: the exporter counts in its own atomics; a scrape copies them.
void Server::refresh_tracing() const {
  if (tracer_ == nullptr || trace_counters_.size() != 3) {
    return;
  }
  const trace::TraceExporter::Counters c = tracer_->counters();
  const std::uint64_t values[] = {c.exported, c.dropped, c.failed};
  for (std::size_t i = 0; i < 3; ++i) {
    metrics::Counter* counter = trace_counters_[i];
    if (values[i] > counter->value()) {
      counter->inc(values[i] - counter->value());
    }
  }
}

}  // namespace sb::gateway
