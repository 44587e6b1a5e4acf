#include "adapters/eventstream.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace sb::adapters {
namespace {

using Type = EventStreamHeaderType;
using Error = EventStreamDecoder::Error;

// A frame built independently of the encoder under test (with Python's zlib.crc32):
// headers :event-type="chunk", :message-type="event", flag=true, int=-2; payload {"a":1}.
const std::string kKnownFrame(
    "\x00\x00\x00\x50\x00\x00\x00\x39\x02\x34\x98\xaa\x0b\x3a\x65\x76\x65\x6e\x74\x2d\x74\x79"
    "\x70\x65\x07\x00\x05\x63\x68\x75\x6e\x6b\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79"
    "\x70\x65\x07\x00\x05\x65\x76\x65\x6e\x74\x04\x66\x6c\x61\x67\x00\x03\x69\x6e\x74\x04\xff"
    "\xff\xff\xfe\x7b\x22\x61\x22\x3a\x31\x7d\x26\x9e\xf7\x2c",
    80);

std::string frame(std::string_view event_type, std::string_view payload,
                  std::string_view message_type = "event") {
  std::string out;
  EXPECT_TRUE(append_eventstream_message(
      out,
      {EventStreamHeader::string(":event-type", std::string(event_type)),
       EventStreamHeader::string(":content-type", "application/json"),
       EventStreamHeader::string(":message-type", std::string(message_type))},
      payload));
  return out;
}

/// A stream exercising every header type, then two plain frames.
std::string sample_stream() {
  std::string s;
  std::vector<EventStreamHeader> all{
      {"t", Type::kBoolTrue, 1, {}},
      {"f", Type::kBoolFalse, 0, {}},
      {"b", Type::kByte, -5, {}},
      {"s", Type::kShort, 12345, {}},
      {"i", Type::kInt, -100000, {}},
      {"l", Type::kLong, 1LL << 40, {}},
      {"y", Type::kBytes, 0, std::string("\x00\x01\x02", 3)},
      {"str", Type::kString, 0, "value"},
      {"ts", Type::kTimestamp, 1440938160000, {}},
      {"u", Type::kUuid, 0, std::string(16, '\x7f')},
  };
  EXPECT_TRUE(append_eventstream_message(s, all, "payload-0"));
  s += frame("contentBlockDelta", R"({"delta":{"text":"Hel"}})");
  s += frame("messageStop", R"({"stopReason":"end_turn"})");
  return s;
}

TEST(Crc32Test, MatchesZlibCheckValue) {
  EXPECT_EQ(crc32_ieee("123456789"), 0xCBF43926U);
  EXPECT_EQ(crc32_ieee(""), 0U);
  EXPECT_EQ(crc32_ieee("6789", crc32_ieee("12345")), 0xCBF43926U);
}

TEST(EventStreamDecoderTest, DecodesIndependentlyBuiltFrame) {
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  ASSERT_TRUE(d.feed(kKnownFrame, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].string_header(":event-type"), "chunk");
  EXPECT_EQ(out[0].string_header(":message-type"), "event");
  ASSERT_NE(out[0].find("flag"), nullptr);
  EXPECT_EQ(out[0].find("flag")->type, Type::kBoolTrue);
  ASSERT_NE(out[0].find("int"), nullptr);
  EXPECT_EQ(out[0].find("int")->integer, -2);
  EXPECT_EQ(out[0].string_header("int"), "");
  EXPECT_EQ(out[0].payload, R"({"a":1})");
  EXPECT_TRUE(d.at_boundary());
}

TEST(EventStreamDecoderTest, EncoderReproducesIndependentFrame) {
  std::string out;
  ASSERT_TRUE(append_eventstream_message(out,
                                         {EventStreamHeader::string(":event-type", "chunk"),
                                          EventStreamHeader::string(":message-type", "event"),
                                          {"flag", Type::kBoolTrue, 1, {}},
                                          {"int", Type::kInt, -2, {}}},
                                         R"({"a":1})"));
  EXPECT_EQ(out, kKnownFrame);
}

TEST(EventStreamDecoderTest, RoundTripsEveryHeaderType) {
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  ASSERT_TRUE(d.feed(sample_stream(), out));
  ASSERT_EQ(out.size(), 3u);
  const EventStreamMessage& m = out[0];
  ASSERT_EQ(m.headers.size(), 10u);
  EXPECT_EQ(m.headers[0], (EventStreamHeader{"t", Type::kBoolTrue, 1, {}}));
  EXPECT_EQ(m.headers[1], (EventStreamHeader{"f", Type::kBoolFalse, 0, {}}));
  EXPECT_EQ(m.headers[2].integer, -5);
  EXPECT_EQ(m.headers[3].integer, 12345);
  EXPECT_EQ(m.headers[4].integer, -100000);
  EXPECT_EQ(m.headers[5].integer, 1LL << 40);
  EXPECT_EQ(m.headers[6].bytes, std::string("\x00\x01\x02", 3));
  EXPECT_EQ(m.string_header("str"), "value");
  EXPECT_EQ(m.headers[8].integer, 1440938160000);
  EXPECT_EQ(m.headers[9].bytes, std::string(16, '\x7f'));
  EXPECT_EQ(m.payload, "payload-0");
  EXPECT_EQ(out[1].string_header(":event-type"), "contentBlockDelta");
  EXPECT_EQ(out[2].payload, R"({"stopReason":"end_turn"})");
}

TEST(EventStreamDecoderTest, SameMessagesWhenSplitAtEveryByte) {
  const std::string stream = sample_stream();
  std::vector<EventStreamMessage> whole;
  EventStreamDecoder reference;
  ASSERT_TRUE(reference.feed(stream, whole));
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    EventStreamDecoder d;
    std::vector<EventStreamMessage> out;
    ASSERT_TRUE(d.feed(std::string_view(stream).substr(0, cut), out)) << cut;
    ASSERT_TRUE(d.feed(std::string_view(stream).substr(cut), out)) << cut;
    ASSERT_EQ(out.size(), whole.size()) << cut;
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].headers, whole[i].headers) << cut;
      EXPECT_EQ(out[i].payload, whole[i].payload) << cut;
    }
    EXPECT_TRUE(d.at_boundary());
  }
}

TEST(EventStreamDecoderTest, SameMessagesFedOneByteAtATime) {
  const std::string stream = sample_stream();
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  for (const char c : stream) {
    ASSERT_TRUE(d.feed(std::string_view(&c, 1), out));
  }
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].string_header(":event-type"), "messageStop");
}

TEST(EventStreamDecoderTest, RejectsCorruptedPreludeAsSoonAsItArrives) {
  std::string s = frame("x", "payload");
  s[2] ^= 0x01;  // total length, covered by the prelude CRC
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  EXPECT_FALSE(d.feed(std::string_view(s).substr(0, 12), out));
  EXPECT_EQ(d.error(), Error::kPreludeCrc);
  EXPECT_EQ(d.error_message(), "event stream prelude checksum mismatch");
  EXPECT_FALSE(d.feed(frame("y", "{}"), out));  // sticky
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(d.at_boundary());
}

TEST(EventStreamDecoderTest, RejectsCorruptedPayloadByMessageCrc) {
  std::string s = frame("a", "{}") + frame("b", "payload");
  s[s.size() - 6] ^= 0x20;  // a payload byte of the second message
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  EXPECT_FALSE(d.feed(s, out));
  EXPECT_EQ(d.error(), Error::kMessageCrc);
  ASSERT_EQ(out.size(), 1u);  // the good message before it was delivered
  EXPECT_EQ(out[0].string_header(":event-type"), "a");
}

TEST(EventStreamDecoderTest, RejectsCorruptedMessageCrcItself) {
  std::string s = frame("a", "{}");
  s.back() ^= 0x01;
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  EXPECT_FALSE(d.feed(s, out));
  EXPECT_EQ(d.error(), Error::kMessageCrc);
}

/// A prelude with a valid CRC over the given lengths.
std::string prelude(std::uint32_t total, std::uint32_t headers_len) {
  std::string p;
  for (const std::uint32_t v : {total, headers_len}) {
    for (int i = 3; i >= 0; --i) {
      p.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    }
  }
  const std::uint32_t crc = crc32_ieee(p);
  for (int i = 3; i >= 0; --i) {
    p.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  }
  return p;
}

TEST(EventStreamDecoderTest, RejectsAbsurdLengths) {
  for (const auto& [total, headers_len] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{
           {16 * 1024 * 1024 + 1, 0}, {0xFFFFFFFFU, 0}, {15, 0}, {0, 0}, {100, 85}, {100, 200}}) {
    EventStreamDecoder d;
    std::vector<EventStreamMessage> out;
    EXPECT_FALSE(d.feed(prelude(total, headers_len), out)) << total << "/" << headers_len;
    EXPECT_EQ(d.error(), Error::kLength) << total << "/" << headers_len;
  }
  EventStreamDecoder small(64);
  std::vector<EventStreamMessage> out;
  EXPECT_FALSE(small.feed(prelude(65, 0), out));
  EXPECT_EQ(small.error(), Error::kLength);
}

TEST(EventStreamDecoderTest, AcceptsEmptyMessage) {
  std::string s;
  ASSERT_TRUE(append_eventstream_message(s, {}, ""));
  EXPECT_EQ(s.size(), 16u);
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  ASSERT_TRUE(d.feed(s, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].headers.empty());
  EXPECT_TRUE(out[0].payload.empty());
}

TEST(EventStreamDecoderTest, RejectsMalformedHeaderBlock) {
  // A header claiming a 10-byte string where only 2 bytes remain, inside valid CRCs.
  const std::string block = std::string("\x01n\x07\x00\x0a", 5) + "ab";
  std::string s = prelude(static_cast<std::uint32_t>(16 + block.size()),
                          static_cast<std::uint32_t>(block.size()));
  s += block;
  const std::uint32_t crc = crc32_ieee(s);
  for (int i = 3; i >= 0; --i) {
    s.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  }
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  EXPECT_FALSE(d.feed(s, out));
  EXPECT_EQ(d.error(), Error::kHeader);
}

TEST(EventStreamDecoderTest, RejectsUnknownHeaderType) {
  const std::string block = std::string("\x01n\x0a", 3);
  std::string s = prelude(static_cast<std::uint32_t>(16 + block.size()),
                          static_cast<std::uint32_t>(block.size()));
  s += block;
  const std::uint32_t crc = crc32_ieee(s);
  for (int i = 3; i >= 0; --i) {
    s.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  }
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  EXPECT_FALSE(d.feed(s, out));
  EXPECT_EQ(d.error(), Error::kHeader);
}

TEST(EventStreamDecoderTest, DetectsTruncatedStream) {
  const std::string s = frame("a", "{}") + frame("b", "{\"x\":1}");
  for (std::size_t cut = s.size() / 2 + 1; cut < s.size(); ++cut) {
    EventStreamDecoder d;
    std::vector<EventStreamMessage> out;
    ASSERT_TRUE(d.feed(std::string_view(s).substr(0, cut), out));
    EXPECT_FALSE(d.at_boundary()) << cut;
    EXPECT_GT(d.pending_bytes(), 0u);
  }
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  ASSERT_TRUE(d.feed(s, out));
  EXPECT_TRUE(d.at_boundary());
}

TEST(EventStreamEncoderTest, RefusesOversizedHeaderFields) {
  std::string out;
  EXPECT_FALSE(
      append_eventstream_message(out, {{std::string(256, 'n'), Type::kBoolTrue, 1, {}}}, ""));
  EXPECT_FALSE(append_eventstream_message(
      out, {EventStreamHeader::string("n", std::string(65536, 'v'))}, ""));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sb::adapters
