#pragma once
// OTLP/HTTP trace export: a bounded lock-free queue the request path submits finished spans to,
// and a thread of its own (its own io_context) that sends them in batches as protobuf
// (`POST {endpoint}`, `Content-Type: application/x-protobuf`). The request path never waits: a
// full queue drops the span and counts it; a failed export drops its batch and counts it (no
// retry, so a dead collector costs nothing but the counters).
//
// Tracer is the facade the pipeline holds: settings, sampler and exporter, or nothing at all when
// tracing is off (every call then returns at its first test).
//
// Thread-safety: submit(), counters() and the Tracer's span functions may be called from any
// thread; stop() from one thread (the owner), once any thread may still submit (later spans are
// dropped and counted).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/observability/otlp.h"
#include "gateway/observability/trace_context.h"
#include "policies/config.h"

namespace sb::gateway::trace {

/// Nanoseconds since the Unix epoch (system clock), for span times.
std::uint64_t unix_nano_now();

class TraceExporter {
 public:
  /// Span counts since start (monotonic). Every submitted span ends in exactly one of exported,
  /// dropped (queue full, or still queued when stop() ran out of time, or submitted after stop)
  /// and failed (its export request failed: refused, timed out, non-2xx).
  struct Counters {
    std::uint64_t exported = 0;
    std::uint64_t dropped = 0;
    std::uint64_t failed = 0;
    std::uint64_t requests = 0;         ///< export requests answered 2xx
    std::uint64_t failed_requests = 0;  ///< export requests that failed
  };

  /// Starts the export thread, sending to `settings.endpoint` with its queue, batch, interval,
  /// timeout and headers (the rest of `settings` is the Tracer's); `resource` describes the
  /// sender. Throws std::invalid_argument when the endpoint is not an http:// URL (the config
  /// loader has checked it already).
  TraceExporter(const config::TraceSettings& settings, ResourceInfo resource);
  ~TraceExporter();  ///< stop()
  TraceExporter(const TraceExporter&) = delete;
  TraceExporter& operator=(const TraceExporter&) = delete;

  /// Queues a finished span: lock-free, never blocks; one allocation (the queued copy's node).
  /// False when it was dropped (queue full or stopped).
  bool submit(Span&& span);
  /// Sends what is queued, then ends the thread. Returns within about twice the export timeout
  /// (an export already in flight, then the flush). Idempotent.
  void stop();
  Counters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The pipeline's handle on tracing. Default-constructed (or from disabled settings) it is off:
/// start_server_span returns nullopt and submit does nothing.
class Tracer {
 public:
  Tracer() = default;
  /// Starts the exporter when `settings.enabled`. `version` becomes service.version.
  Tracer(const config::TraceSettings& settings, std::string version);

  bool enabled() const { return exporter_ != nullptr; }
  /// Whether closed backends get a traceparent too (self-hosted ones always do).
  bool propagate_to_closed() const { return propagate_to_closed_; }

  /// The request's server span: a child of the client's `traceparent` (its sampled flag decides,
  /// its `tracestate` kept) or a new root sampled by ratio. nullopt when tracing is off. An
  /// invalid traceparent starts a new trace (and its tracestate is ignored).
  std::optional<Span> start_server_span(std::string_view traceparent, std::string_view tracestate,
                                        std::string name,
                                        std::uint64_t start_unix_nano = unix_nano_now()) const;
  /// A child of `parent` in the same trace (same sampling), e.g. one CLIENT span per upstream
  /// attempt or an INTERNAL span for the decision.
  static Span start_child(const Span& parent, SpanKind kind, std::string name,
                          std::uint64_t start_unix_nano = unix_nano_now());

  /// Ends the span (end time `end_unix_nano`, or now, unless already set) and queues it when
  /// sampled. Never blocks. False when not exported (off, unsampled, or dropped).
  bool submit(Span&& span, std::uint64_t end_unix_nano = 0);

  /// The exporter's counters (all zero when off).
  TraceExporter::Counters counters() const;
  /// Flushes and stops the exporter (shutdown). Spans submitted afterwards are dropped.
  void stop();

 private:
  std::unique_ptr<TraceExporter> exporter_;
  Sampler sampler_;
  bool propagate_to_closed_ = false;
};

}  // namespace sb::gateway::trace
