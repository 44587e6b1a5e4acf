// The OTLP protobuf encoder against bytes checked by hand, field by field, for a small span.
// (The node harness, tests/client/otlp_receiver.mjs, decodes richer spans with the official
// OpenTelemetry classes: see otlp_node_test.cc.)

#include <gtest/gtest.h>

#include <string>

#include "gateway/observability/otlp.h"

namespace sb::gateway::trace {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) {
    s.push_back(static_cast<char>(c));
  }
  return s;
}

Span small_span() {
  Span s;
  for (int i = 0; i < 16; ++i) {
    s.trace_id[i] = static_cast<std::uint8_t>(i + 1);
  }
  for (int i = 0; i < 8; ++i) {
    s.span_id[i] = static_cast<std::uint8_t>(0x11 + i);
  }
  s.flags = kSampledFlag;
  s.name = std::string(1, 'n');  // (GCC 12 -O3 warns falsely on = "n")
  s.kind = SpanKind::server;
  s.start_unix_nano = 1;
  s.end_unix_nano = 2;
  s.set_int("k", 5);
  return s;
}

TEST(OtlpTest, SmallSpanMatchesHandCheckedBytes) {
  // Span (66 bytes).
  std::string span = bytes({0x0a, 0x10});  // 1: trace_id, 16 bytes
  for (int i = 1; i <= 16; ++i) {
    span.push_back(static_cast<char>(i));
  }
  span += bytes({0x12, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18});  // 2: span_id
  span += bytes({0x2a, 0x01, 'n'});                                             // 5: name
  span += bytes({0x30, 0x02});                                                  // 6: kind SERVER
  span += bytes({0x39, 1, 0, 0, 0, 0, 0, 0, 0});                                // 7: start, fixed64
  span += bytes({0x41, 2, 0, 0, 0, 0, 0, 0, 0});                                // 8: end, fixed64
  span += bytes({0x4a, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02, 0x18, 0x05});         // 9: {k: int 5}
  span += bytes({0x85, 0x01, 0x01, 0x01, 0x00, 0x00});  // 16: flags fixed32 0x101
  ASSERT_EQ(span.size(), 66u);
  // ScopeSpans (83 bytes): 1: scope {1: "switchboard"}, 2: the span.
  std::string scope_spans = bytes({0x0a, 0x0d, 0x0a, 0x0b}) + "switchboard";
  scope_spans += bytes({0x12, 0x42}) + span;
  ASSERT_EQ(scope_spans.size(), 83u);
  // Resource (91 bytes): three KeyValues with string AnyValues.
  std::string resource =
      bytes({0x0a, 0x13, 0x0a, 0x0c}) + "service.name" + bytes({0x12, 0x03, 0x0a, 0x01}) + "s";
  resource += bytes({0x0a, 0x23, 0x0a, 0x12}) + "telemetry.sdk.name" +
              bytes({0x12, 0x0d, 0x0a, 0x0b}) + "switchboard";
  resource += bytes({0x0a, 0x1f, 0x0a, 0x16}) + "telemetry.sdk.language" +
              bytes({0x12, 0x05, 0x0a, 0x03}) + "cpp";
  ASSERT_EQ(resource.size(), 91u);
  // ResourceSpans (178 bytes, a two-byte length) inside ExportTraceServiceRequest.resource_spans.
  const std::string expected =
      bytes({0x0a, 0xb2, 0x01, 0x0a, 0x5b}) + resource + bytes({0x12, 0x53}) + scope_spans;
  ResourceInfo r;
  r.service_name = "s";
  std::string out;
  const Span spans[] = {small_span()};
  encode_export_request(r, spans, out);
  EXPECT_EQ(out, expected);
}

TEST(OtlpTest, ValuesOfEveryTypeAreEncoded) {
  Span s = small_span();
  s.attributes.items.clear();
  s.set_string("s", "").set_bool("b", false).set_int("i", -1).set_double("d", 1.0);
  s.set_strings("a", {"x", ""});
  ResourceInfo r;
  std::string out;
  const Span spans[] = {s};
  encode_export_request(r, spans, out);
  // Oneof members are written even when they hold their default value.
  EXPECT_NE(out.find(bytes({0x0a, 0x01, 's', 0x12, 0x02, 0x0a, 0x00})), std::string::npos);
  EXPECT_NE(out.find(bytes({0x0a, 0x01, 'b', 0x12, 0x02, 0x10, 0x00})), std::string::npos);
  // -1 as int64: ten varint bytes.
  EXPECT_NE(out.find(bytes({0x0a, 0x01, 'i', 0x12, 0x0b, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0x01})),
            std::string::npos);
  EXPECT_NE(out.find(bytes({0x0a, 0x01, 'd', 0x12, 0x09, 0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f})),
            std::string::npos);
  // ArrayValue {values: [{string "x"}, {string ""}]}.
  EXPECT_NE(out.find(bytes({0x0a, 0x01, 'a', 0x12, 0x0b, 0x2a, 0x09, 0x0a, 0x03, 0x0a, 0x01, 'x',
                            0x0a, 0x02, 0x0a, 0x00})),
            std::string::npos);
}

TEST(OtlpTest, UnsampledSpansIgnoreAttributesAndEvents) {
  Span s;
  s.set_string("a", "b").set_int("c", 1).add_event("e", 1);
  EXPECT_TRUE(s.attributes.items.empty());
  EXPECT_TRUE(s.events.empty());
}

TEST(OtlpTest, TraceparentOfASpan) {
  Span s = small_span();
  const auto tp = s.traceparent();
  EXPECT_EQ(std::string(tp.data(), tp.size()),
            "00-0102030405060708090a0b0c0d0e0f10-1112131415161718-01");
}

}  // namespace
}  // namespace sb::gateway::trace
