#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header parsed and
// formatted, `tracestate` kept as it came, span and trace ids generated, and the parent-based
// ratio sampler of OpenTelemetry (ParentBased(TraceIdRatioBased)).
//
// Pure and allocation-free except format_traceparent's std::string overload. Thread-safety: the
// free functions are reentrant; the id generator is per thread; a Sampler is immutable.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::gateway::trace {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

/// Trace flags bit 0.
inline constexpr std::uint8_t kSampledFlag = 0x01;
/// `traceparent` of version 00: 2 + 1 + 32 + 1 + 16 + 1 + 2.
inline constexpr std::size_t kTraceparentSize = 55;
/// A `tracestate` longer than this is dropped rather than passed on (the spec's 32 members of
/// 256 bytes at most would allow 8 KiB; vendors keep well under 512).
inline constexpr std::size_t kMaxTracestateBytes = 512;

/// A remote parent as a `traceparent` names it.
struct TraceContext {
  TraceId trace_id{};
  SpanId span_id{};  ///< the caller's span (parent-id)
  std::uint8_t flags = 0;
  bool sampled() const { return (flags & kSampledFlag) != 0; }
};

/// Parses a `traceparent` value strictly: two lower-case hex digits of version (not `ff`);
/// version 00 exactly 55 characters; a later version at least 55, its first four fields read and
/// anything after them starting with '-'; lower-case hex only; trace-id and parent-id not all
/// zero. nullopt when invalid (the caller then starts a new trace and ignores `tracestate`).
std::optional<TraceContext> parse_traceparent(std::string_view value);

/// A `tracestate` value to pass on unchanged: at most kMaxTracestateBytes of printable ASCII
/// (0x20..0x7e), not empty. Members are not parsed (the gateway adds none).
bool keep_tracestate(std::string_view value);

/// `00-<trace-id>-<span-id>-<flags>` into `out` (no allocation).
void format_traceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags,
                        std::array<char, kTraceparentSize>& out);
std::string format_traceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags);

/// Lower-case hex of bytes (for logs and tests).
std::string to_hex(const std::uint8_t* bytes, std::size_t size);
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& id) {
  return to_hex(id.data(), N);
}

/// Random ids from a per-thread generator seeded from the OS; never all zero.
TraceId new_trace_id();
SpanId new_span_id();

template <std::size_t N>
bool is_zero(const std::array<std::uint8_t, N>& id) {
  for (std::uint8_t b : id) {
    if (b != 0) {
      return false;
    }
  }
  return true;
}

/// ParentBased(TraceIdRatioBased(ratio)): a request with a parent follows the parent's sampled
/// flag; a root is sampled when its trace id's last 8 bytes, read big-endian, are below
/// ratio * 2^64 (so ratio 0 samples nothing and 1 everything, and every service with the same
/// ratio decides a trace the same way).
class Sampler {
 public:
  /// `ratio` is clamped to [0, 1].
  explicit Sampler(double ratio = 1.0);
  bool sample_root(const TraceId& trace_id) const;
  bool should_sample(const TraceContext* parent, const TraceId& trace_id) const {
    return parent ? parent->sampled() : sample_root(trace_id);
  }
  double ratio() const { return ratio_; }

 private:
  double ratio_;
  bool all_;
  std::uint64_t bound_;  // sampled when the id's low 8 bytes < bound_ (unless all_)
};

}  // namespace sb::gateway::trace
