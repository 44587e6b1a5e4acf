#pragma once
// A finished span as a value, and its OTLP encoding: a hand-written protobuf encoder for
// `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest` (opentelemetry-proto's
// trace.proto, common.proto, resource.proto and trace_service.proto; field numbers beside each
// write in otlp.cc).
//
// Attribute keys are std::string_view and are NOT copied: pass string literals or the constants
// of trace_attributes.h (anything that outlives the span's export). Values are copied.
//
// Thread-safety: a Span is a plain value owned by one thread at a time; encode_export_request is
// reentrant.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/observability/trace_context.h"

namespace sb::gateway::trace {

/// OTLP Span.SpanKind values.
enum class SpanKind : std::uint8_t { internal = 1, server = 2, client = 3 };
/// OTLP Status.StatusCode values.
enum class StatusCode : std::uint8_t { unset = 0, ok = 1, error = 2 };

using AttributeValue =
    std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;

struct Attribute {
  std::string_view key;  ///< not owned: a literal or a constant
  AttributeValue value;
};

/// Adds typed attributes to a list; named per type so `"text"` never turns into a bool and an
/// int never has to choose between int64 and double.
class Attributes {
 public:
  Attributes& set_string(std::string_view key, std::string_view value) {
    items.push_back({key, std::string(value)});
    return *this;
  }
  Attributes& set_int(std::string_view key, std::int64_t value) {
    items.push_back({key, value});
    return *this;
  }
  Attributes& set_double(std::string_view key, double value) {
    items.push_back({key, value});
    return *this;
  }
  Attributes& set_bool(std::string_view key, bool value) {
    items.push_back({key, value});
    return *this;
  }
  Attributes& set_strings(std::string_view key, std::vector<std::string> values) {
    items.push_back({key, std::move(values)});
    return *this;
  }
  std::vector<Attribute> items;
};

struct SpanEvent {
  std::string name;
  std::uint64_t time_unix_nano = 0;
  Attributes attributes;
};

struct SpanLink {
  TraceId trace_id{};
  SpanId span_id{};
  std::string trace_state;
  std::uint8_t flags = 0;  ///< the linked context's trace flags
  Attributes attributes;
};

struct SpanStatus {
  StatusCode code = StatusCode::unset;
  std::string message;  ///< only with StatusCode::error
};

/// One span. Created by Tracer (trace_exporter.h), filled by the request's code, submitted when
/// it ends. An unsampled span (sampled() false) still carries the ids to propagate; its
/// attribute setters do nothing.
struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};     ///< all zero for a root span
  bool parent_remote = false;  ///< the parent came from a traceparent header
  std::uint8_t flags = 0;      ///< W3C trace flags (bit 0: sampled)
  std::string trace_state;     ///< passed through from the client's tracestate
  std::string name;
  SpanKind kind = SpanKind::internal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;  ///< set by Tracer::submit when still 0
  Attributes attributes;
  std::vector<SpanEvent> events;
  std::vector<SpanLink> links;
  SpanStatus status;

  bool sampled() const { return (flags & kSampledFlag) != 0; }

  // The setters do nothing on an unsampled span (nothing of it is exported).
  Span& set_string(std::string_view key, std::string_view value) {
    if (sampled()) {
      attributes.set_string(key, value);
    }
    return *this;
  }
  Span& set_int(std::string_view key, std::int64_t value) {
    if (sampled()) {
      attributes.set_int(key, value);
    }
    return *this;
  }
  Span& set_double(std::string_view key, double value) {
    if (sampled()) {
      attributes.set_double(key, value);
    }
    return *this;
  }
  Span& set_bool(std::string_view key, bool value) {
    if (sampled()) {
      attributes.set_bool(key, value);
    }
    return *this;
  }
  Span& set_strings(std::string_view key, std::vector<std::string> values) {
    if (sampled()) {
      attributes.set_strings(key, std::move(values));
    }
    return *this;
  }
  /// Adds an event (e.g. "switchboard.decision"); `attributes` may be empty.
  Span& add_event(std::string event_name, std::uint64_t time_unix_nano,
                  Attributes attributes = {}) {
    if (sampled()) {
      events.push_back({std::move(event_name), time_unix_nano, std::move(attributes)});
    }
    return *this;
  }
  Span& set_error(std::string_view message) {
    status = {StatusCode::error, std::string(message)};
    return *this;
  }
  Span& set_ok() {
    status = {StatusCode::ok, {}};
    return *this;
  }
  /// This span's own context as a `traceparent` value (what an upstream request carries).
  std::array<char, kTraceparentSize> traceparent() const {
    std::array<char, kTraceparentSize> out;
    format_traceparent(trace_id, span_id, flags & kSampledFlag, out);
    return out;
  }
};

/// Who sends the spans: becomes the Resource and the InstrumentationScope of every request.
struct ResourceInfo {
  std::string service_name = "switchboard";
  std::string service_version;  ///< service.version and telemetry.sdk.version; may be empty
  std::map<std::string, std::string> attributes;  ///< extra resource attributes
};

/// Scope name of every span.
inline constexpr std::string_view kScopeName = "switchboard";

/// Appends the protobuf encoding of an ExportTraceServiceRequest holding `spans` (one
/// ResourceSpans, one ScopeSpans) to `out`. Resource attributes: service.name, service.version
/// (when set), telemetry.sdk.name "switchboard", telemetry.sdk.language "cpp",
/// telemetry.sdk.version, then `resource.attributes`.
void encode_export_request(const ResourceInfo& resource, std::span<const Span> spans,
                           std::string& out);
/// The same over pointers (the exporter's batch).
void encode_export_request(const ResourceInfo& resource, std::span<const Span* const> spans,
                           std::string& out);

}  // namespace sb::gateway::trace
