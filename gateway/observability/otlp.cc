// The OTLP trace export request in protobuf wire format, written by hand (no protobuf runtime).
// Field numbers from opentelemetry-proto: collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto.
#include "gateway/observability/otlp.h"

#include <cstring>

namespace sb::gateway::trace {
namespace {

enum Wire : std::uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// Span.flags bits (trace.proto SpanFlags).
constexpr std::uint32_t kHasIsRemote = 0x100;
constexpr std::uint32_t kIsRemote = 0x200;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void tag(std::uint32_t field, Wire wire) { varint(field << 3 | wire); }
  // Length-delimited bytes, written even when empty (oneof members need that).
  void bytes(std::uint32_t field, const void* data, std::size_t size) {
    tag(field, kLen);
    varint(size);
    out_.append(static_cast<const char*>(data), size);
  }
  // A proto3 string: nothing when empty (the default).
  void string(std::uint32_t field, std::string_view s) {
    if (!s.empty()) {
      bytes(field, s.data(), s.size());
    }
  }
  void fixed64(std::uint32_t field, std::uint64_t v) {
    tag(field, kFixed64);
    for (int i = 0; i < 8; ++i) {
      out_.push_back(static_cast<char>(v >> (8 * i)));
    }
  }
  void fixed32(std::uint32_t field, std::uint32_t v) {
    tag(field, kFixed32);
    for (int i = 0; i < 4; ++i) {
      out_.push_back(static_cast<char>(v >> (8 * i)));
    }
  }
  // An embedded message: `body` writes its fields, then its length is inserted before them.
  template <class Body>
  void message(std::uint32_t field, Body&& body) {
    tag(field, kLen);
    const std::size_t start = out_.size();
    body();
    std::size_t size = out_.size() - start;
    char prefix[10];
    std::size_t n = 0;
    while (size >= 0x80) {
      prefix[n++] = static_cast<char>(size | 0x80);
      size >>= 7;
    }
    prefix[n++] = static_cast<char>(size);
    out_.insert(start, prefix, n);
  }

 private:
  std::string& out_;
};

// AnyValue: string_value = 1, bool_value = 2, int_value = 3, double_value = 4,
// array_value = 5 (ArrayValue.values = 1).
void any_value(Writer& w, const AttributeValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    w.bytes(1, s->data(), s->size());
  } else if (const auto* b = std::get_if<bool>(&v)) {
    w.tag(2, kVarint);
    w.varint(*b ? 1 : 0);
  } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
    w.tag(3, kVarint);
    w.varint(static_cast<std::uint64_t>(*i));
  } else if (const auto* d = std::get_if<double>(&v)) {
    std::uint64_t bits;
    std::memcpy(&bits, d, sizeof bits);
    w.fixed64(4, bits);
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&v)) {
    w.message(5, [&] {
      for (const std::string& item : *list) {
        w.message(1, [&] { w.bytes(1, item.data(), item.size()); });
      }
    });
  }
}

// KeyValue: key = 1, value = 2.
void key_value(Writer& w, std::uint32_t field, std::string_view key, const AttributeValue& v) {
  w.message(field, [&] {
    w.string(1, key);
    w.message(2, [&] { any_value(w, v); });
  });
}

void attributes(Writer& w, std::uint32_t field, const Attributes& a) {
  for (const Attribute& kv : a.items) {
    key_value(w, field, kv.key, kv.value);
  }
}

// Span: trace_id = 1, span_id = 2, trace_state = 3, parent_span_id = 4, name = 5, kind = 6,
// start_time_unix_nano = 7, end_time_unix_nano = 8, attributes = 9, events = 11, links = 13,
// status = 15, flags = 16.
void span(Writer& w, const Span& s) {
  w.message(2, [&] {  // ScopeSpans.spans = 2
    w.bytes(1, s.trace_id.data(), s.trace_id.size());
    w.bytes(2, s.span_id.data(), s.span_id.size());
    w.string(3, s.trace_state);
    if (!is_zero(s.parent_span_id)) {
      w.bytes(4, s.parent_span_id.data(), s.parent_span_id.size());
    }
    w.string(5, s.name);
    w.tag(6, kVarint);
    w.varint(static_cast<std::uint64_t>(s.kind));
    w.fixed64(7, s.start_unix_nano);
    w.fixed64(8, s.end_unix_nano);
    attributes(w, 9, s.attributes);
    for (const SpanEvent& e : s.events) {  // Event: time_unix_nano = 1, name = 2, attributes = 3
      w.message(11, [&] {
        w.fixed64(1, e.time_unix_nano);
        w.string(2, e.name);
        attributes(w, 3, e.attributes);
      });
    }
    // Link: trace_id = 1, span_id = 2, trace_state = 3, attributes = 4, flags = 6.
    for (const SpanLink& l : s.links) {
      w.message(13, [&] {
        w.bytes(1, l.trace_id.data(), l.trace_id.size());
        w.bytes(2, l.span_id.data(), l.span_id.size());
        w.string(3, l.trace_state);
        attributes(w, 4, l.attributes);
        w.fixed32(6, l.flags | kHasIsRemote);
      });
    }
    if (s.status.code != StatusCode::unset) {  // Status: message = 2, code = 3
      w.message(15, [&] {
        w.string(2, s.status.message);
        w.tag(3, kVarint);
        w.varint(static_cast<std::uint64_t>(s.status.code));
      });
    }
    w.fixed32(16, s.flags | kHasIsRemote | (s.parent_remote ? kIsRemote : 0));
  });
}

template <class Each>
void request(const ResourceInfo& r, std::string& out, Each&& each_span) {
  Writer w(out);
  w.message(1, [&] {    // ExportTraceServiceRequest.resource_spans = 1
    w.message(1, [&] {  // ResourceSpans.resource = 1; Resource.attributes = 1
      key_value(w, 1, "service.name", r.service_name);
      if (!r.service_version.empty()) {
        key_value(w, 1, "service.version", r.service_version);
      }
      key_value(w, 1, "telemetry.sdk.name", std::string(kScopeName));
      key_value(w, 1, "telemetry.sdk.language", std::string("cpp"));
      if (!r.service_version.empty()) {
        key_value(w, 1, "telemetry.sdk.version", r.service_version);
      }
      for (const auto& [key, value] : r.attributes) {
        key_value(w, 1, key, value);
      }
    });
    w.message(2, [&] {    // ResourceSpans.scope_spans = 2
      w.message(1, [&] {  // ScopeSpans.scope = 1: name = 1, version = 2
        w.string(1, kScopeName);
        w.string(2, r.service_version);
      });
      each_span(w);
    });
  });
}

}  // namespace

void encode_export_request(const ResourceInfo& resource, std::span<const Span> spans,
                           std::string& out) {
  request(resource, out, [&](Writer& w) {
    for (const Span& s : spans) {
      span(w, s);
    }
  });
}

void encode_export_request(const ResourceInfo& resource, std::span<const Span* const> spans,
                           std::string& out) {
  request(resource, out, [&](Writer& w) {
    for (const Span* s : spans) {
      span(w, *s);
    }
  });
}

}  // namespace sb::gateway::trace
