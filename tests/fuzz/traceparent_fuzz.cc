// libFuzzer target: the W3C traceparent parser (gateway/observability/trace_context) on arbitrary
// bytes. Oracles: an accepted value has non-zero ids and at least the version-00 length, formats
// back to its first 55 characters when its version is 00, and a formatted context parses back to
// itself; tracestate acceptance never exceeds its bound.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/observability/trace_context.h"
#include "tests/fuzz/fuzz_split.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace trace = sb::gateway::trace;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<trace::TraceContext> c = trace::parse_traceparent(bytes);
  if (c) {
    sb::fuzz::check(size >= trace::kTraceparentSize);
    sb::fuzz::check(!trace::is_zero(c->trace_id) && !trace::is_zero(c->span_id));
    const std::string formatted = trace::format_traceparent(c->trace_id, c->span_id, c->flags);
    if (bytes.starts_with("00")) {
      sb::fuzz::check(formatted == bytes);
    } else {
      sb::fuzz::check(formatted.substr(2) == bytes.substr(2, trace::kTraceparentSize - 2));
    }
    const std::optional<trace::TraceContext> again = trace::parse_traceparent(formatted);
    sb::fuzz::check(again && again->trace_id == c->trace_id && again->span_id == c->span_id &&
                    again->flags == c->flags);
  }
  if (trace::keep_tracestate(bytes)) {
    sb::fuzz::check(size > 0 && size <= trace::kMaxTracestateBytes);
  }
  return 0;
}
