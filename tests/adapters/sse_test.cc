#include "adapters/sse.h"

#include <cstddef>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/adapters/fixtures.h"

namespace sb::adapters {

void PrintTo(const SseEvent& e, std::ostream* os) {
  *os << "{event=\"" << e.event << "\" data=\"" << e.data << "\" id=\"" << e.id << "\"}";
}

namespace {

using sb::test::read_fixture;

std::vector<SseEvent> parse_whole(std::string_view bytes) {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed(bytes, out);
  return out;
}

std::vector<SseEvent> parse_pieces(const std::vector<std::string_view>& pieces) {
  SseParser p;
  std::vector<SseEvent> out;
  for (std::string_view piece : pieces) {
    p.feed(piece, out);
  }
  return out;
}

SseEvent data_event(std::string data) {
  return SseEvent{"", std::move(data), ""};
}

TEST(SseParserTest, ParsesSingleDataEvent) {
  EXPECT_EQ(parse_whole("data: hello\n\n"), std::vector<SseEvent>{data_event("hello")});
}

TEST(SseParserTest, JoinsMultiLineDataWithNewline) {
  EXPECT_EQ(parse_whole("data: a\ndata: b\ndata:\ndata: c\n\n"),
            std::vector<SseEvent>{data_event("a\nb\n\nc")});
}

TEST(SseParserTest, StripsExactlyOneLeadingSpace) {
  EXPECT_EQ(parse_whole("data:x\n\ndata:  y\n\ndata: \n\n"),
            (std::vector<SseEvent>{data_event("x"), data_event(" y"), data_event("")}));
}

TEST(SseParserTest, KeepsColonsInsideTheValue) {
  EXPECT_EQ(parse_whole("data: {\"a\": \"b:c\"}\n\n"),
            std::vector<SseEvent>{data_event("{\"a\": \"b:c\"}")});
}

TEST(SseParserTest, FieldWithoutColonHasEmptyValue) {
  EXPECT_EQ(parse_whole("data\n\n"), std::vector<SseEvent>{data_event("")});
  EXPECT_EQ(parse_whole("data\ndata\n\n"), std::vector<SseEvent>{data_event("\n")});
  EXPECT_EQ(parse_whole("event\ndata: x\n\n"), std::vector<SseEvent>{data_event("x")});
}

TEST(SseParserTest, IgnoresComments) {
  EXPECT_EQ(parse_whole(": keep-alive\n\n:\ndata: a\n: inside\ndata: b\n\n"),
            std::vector<SseEvent>{data_event("a\nb")});
}

TEST(SseParserTest, IgnoresUnknownFieldsAndRetry) {
  EXPECT_EQ(parse_whole("retry: 1000\nfoo: bar\nDATA: no\ndata: yes\n\n"),
            std::vector<SseEvent>{data_event("yes")});
}

TEST(SseParserTest, AcceptsLfCrAndCrLfLineEndings) {
  EXPECT_EQ(
      parse_whole("data: a\r\rdata: b\r\n\r\ndata: c\n\ndata: d\r\n\n"),
      (std::vector<SseEvent>{data_event("a"), data_event("b"), data_event("c"), data_event("d")}));
}

TEST(SseParserTest, CrAtEndOfFeedAndLfAtStartOfNextAreOneLineEnding) {
  // If the CR and LF counted as two line endings, the LF would end a blank line and dispatch "a".
  EXPECT_EQ(parse_pieces({"data: a\r", "\ndata: b\r\n\r\n"}),
            std::vector<SseEvent>{data_event("a\nb")});
  EXPECT_EQ(parse_pieces({"data: a\r", "", "\n", "data: b\r", "\n\r", "\n"}),
            std::vector<SseEvent>{data_event("a\nb")});
}

TEST(SseParserTest, CrAtEndOfFeedFollowedByCrIsTwoLineEndings) {
  EXPECT_EQ(parse_pieces({"data: a\r", "\rdata: b\r", "\r"}),
            (std::vector<SseEvent>{data_event("a"), data_event("b")}));
}

TEST(SseParserTest, ReadsEventNameAndKeepsLastEventIdAcrossEvents) {
  const auto events = parse_whole("event: ping\nid: 7\ndata: x\n\ndata: y\n\nid\ndata: z\n\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], (SseEvent{"ping", "x", "7"}));
  EXPECT_EQ(events[1], (SseEvent{"", "y", "7"}));  // the name resets, the id does not
  EXPECT_EQ(events[2], (SseEvent{"", "z", ""}));   // an empty id field clears it
}

TEST(SseParserTest, IgnoresIdContainingNul) {
  using namespace std::string_view_literals;
  const auto events = parse_whole("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"sv);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].id, "1");
}

TEST(SseParserTest, DoesNotDispatchEventWithoutDataOrName) {
  EXPECT_TRUE(parse_whole("id: 1\n\nretry: 5\n\n\n\n").empty());
}

TEST(SseParserTest, DispatchesNamedEventWithoutData) {
  EXPECT_EQ(parse_whole("event: ping\n\n"), (std::vector<SseEvent>{SseEvent{"ping", "", ""}}));
}

TEST(SseParserTest, HoldsIncompleteEventUntilBlankLine) {
  SseParser p;
  std::vector<SseEvent> out;
  EXPECT_TRUE(p.at_boundary());
  p.feed("data: hello", out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.pending_bytes(), 11u);
  EXPECT_FALSE(p.at_boundary());
  p.feed("\n", out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.pending_bytes(), 5u);  // "hello" waits for the blank line
  EXPECT_FALSE(p.at_boundary());
  p.feed("\n", out);
  EXPECT_EQ(out, std::vector<SseEvent>{data_event("hello")});
  EXPECT_EQ(p.pending_bytes(), 0u);
  EXPECT_TRUE(p.at_boundary());
}

TEST(SseParserTest, IsAtBoundaryAfterCrTerminatedEvent) {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed("data: a\r\r", out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(p.at_boundary());
}

TEST(SseParserTest, CommentsAloneLeaveParserAtBoundary) {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed(": ping\n", out);
  EXPECT_TRUE(p.at_boundary());
}

TEST(SseParserTest, AppendsToOutputWithoutClearingIt) {
  SseParser p;
  std::vector<SseEvent> out{data_event("earlier")};
  p.feed("data: later\n\n", out);
  EXPECT_EQ(out, (std::vector<SseEvent>{data_event("earlier"), data_event("later")}));
}

TEST(SseParserTest, SkipsLeadingByteOrderMarkEvenWhenSplit) {
  EXPECT_EQ(parse_whole("\xEF\xBB\xBF"
                        "data: x\n\n"),
            std::vector<SseEvent>{data_event("x")});
  EXPECT_EQ(parse_pieces({"\xEF", "\xBB",
                          "\xBF"
                          "data: x\n\n"}),
            std::vector<SseEvent>{data_event("x")});
}

TEST(SseParserTest, KeepsBytesOfAnIncompleteByteOrderMark) {
  // "\xEF\xBB" followed by "data" is a field named "\xEF\xBBdata": unknown, ignored.
  EXPECT_TRUE(parse_pieces({"\xEF\xBB", "data: x\n\n"}).empty());
  // Only the first BOM of the stream is skipped.
  EXPECT_TRUE(parse_whole("\xEF\xBB\xBF\xEF\xBB\xBF"
                          "data: x\n\n")
                  .empty());
}

// A canonical event is recognized only where feeding its bytes would yield exactly {data: X}
// and leave the parser as it was; everywhere else the caller feeds the bytes.
TEST(SseParserTest, RecognizesACanonicalEventOnlyWhereFeedingItWouldYieldJustIt) {
  std::size_t size = 0;
  SseParser p;
  const std::string_view two = "data: {\"a\":1}\n\ndata: [DONE]\n\n";
  std::optional<std::string_view> data = p.canonical_event(two, size);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, "{\"a\":1}");
  EXPECT_EQ(size, 15u);
  data = p.canonical_event(two.substr(size), size);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, "[DONE]");
  EXPECT_EQ(size, 14u);
  // Not whole, not canonical, or not at rest: nullopt.
  for (const std::string_view bytes :
       {"data: x\n", "data: x", "data: x\r\n\r\n", "data: x\ndata: y\n\n", "data:x\n\n",
        "event: e\ndata: x\n\n", "id: 1\ndata: x\n\n", ": ping\ndata: x\n\n", "data: x\n\r",
        "\xEF\xBB\xBF"
        "data: x\n\n"}) {
    SseParser fresh;
    EXPECT_FALSE(fresh.canonical_event(bytes, size).has_value()) << bytes;
  }
  SseParser mid;
  std::vector<SseEvent> out;
  mid.feed("data: a\n", out);  // a field of an event not ended yet
  EXPECT_FALSE(mid.canonical_event("data: x\n\n", size).has_value());
  SseParser cr;
  cr.feed("data: a\r\r", out);  // a CR whose LF may follow
  EXPECT_FALSE(cr.canonical_event("data: x\n\n", size).has_value());
  SseParser bom;
  bom.feed("\xEF\xBB", out);  // the start of a byte order mark is held
  EXPECT_FALSE(bom.canonical_event("data: x\n\n", size).has_value());
  SseParser whole_bom;
  whole_bom.feed("\xEF\xBB\xBF", out);  // a whole one is skipped, and events follow as usual
  EXPECT_TRUE(whole_bom.canonical_event("data: x\n\n", size).has_value());
  // After a recognized first event, a byte order mark is data, as feed() reads it.
  SseParser first;
  ASSERT_TRUE(first.canonical_event("data: x\n\n", size).has_value());
  out.clear();
  first.feed(
      "\xEF\xBB\xBF"
      "data: y\n\n",
      out);
  EXPECT_TRUE(out.empty());  // a field named "\xEF\xBB\xBFdata": ignored
  // The limit: the line "data: X" of at most max_event_bytes bytes, as feed() checks it.
  SseParser small(10);
  EXPECT_TRUE(small.canonical_event("data: 1234\n\n", size).has_value());
  EXPECT_FALSE(small.canonical_event("data: 12345\n\n", size).has_value());
  EXPECT_FALSE(small.failed());
  SseParser failed(10);
  failed.feed("data: 12345678901\n", out);
  ASSERT_TRUE(failed.failed());
  EXPECT_FALSE(failed.canonical_event("data: 1\n\n", size).has_value());
}

TEST(SseParserTest, ParsesLongLineFedOneByteAtATime) {
  std::string payload(200000, 'x');
  const std::string stream = "data: " + payload + "\n\n";
  SseParser p;
  std::vector<SseEvent> out;
  for (char c : stream) {
    p.feed(std::string_view(&c, 1), out);
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, payload);
}

TEST(SseParserTest, EndlessLineFailsAtTheEventLimit) {
  SseParser p(1024);
  std::vector<SseEvent> out;
  bool ok = p.feed("data: ok\n\ndata: ", out);
  for (int i = 0; i < 100 && ok; ++i) {
    ok = p.feed(std::string(100, 'x'), out);
    EXPECT_LE(p.pending_bytes(), 1024u);
  }
  EXPECT_FALSE(ok);
  EXPECT_TRUE(p.failed());
  ASSERT_EQ(out.size(), 1u);  // the event completed before the overflow is kept
  EXPECT_FALSE(p.feed("\n\ndata: later\n\n", out)) << "a failed parser stays failed";
  EXPECT_EQ(out.size(), 1u);
}

TEST(SseParserTest, EndlessEventOfShortLinesFailsAtTheEventLimit) {
  SseParser p(1024);
  std::vector<SseEvent> out;
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) {
    ok = p.feed("data: 0123456789\n", out);  // lines end, the event never does
  }
  EXPECT_FALSE(ok);
  EXPECT_TRUE(out.empty());
}

TEST(SseParserTest, LineArrivingWholeInOneFeedIsCheckedToo) {
  SseParser p(1024);
  std::vector<SseEvent> out;
  EXPECT_FALSE(p.feed("data: " + std::string(2000, 'x') + "\n\n", out));
  EXPECT_TRUE(out.empty());
}

TEST(SseParserTest, EventsUpToTheLimitPass) {
  SseParser p(1024);
  std::vector<SseEvent> out;
  const std::string data(1000, 'x');
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(p.feed("data: " + data + "\n\n", out));
  }
  EXPECT_EQ(out.size(), 50u);
}

TEST(SseParserTest, DefaultLimitIsOneMiB) {
  SseParser p;
  EXPECT_EQ(p.max_event_bytes(), 1024u * 1024u);
  std::vector<SseEvent> out;
  EXPECT_TRUE(p.feed("data: " + std::string(1000 * 1000, 'x'), out));
  EXPECT_FALSE(p.feed(std::string(100 * 1000, 'x'), out));
}

class SseFixtureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SseFixtureTest, EverySplitPointYieldsTheSameEvents) {
  const std::string stream = read_fixture(GetParam());
  const auto whole = parse_whole(stream);
  ASSERT_GT(whole.size(), 3u);
  const std::string_view s = stream;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    ASSERT_EQ(parse_pieces({s.substr(0, i), s.substr(i)}), whole) << "split at " << i;
  }
}

TEST_P(SseFixtureTest, ByteAtATimeYieldsTheSameEvents) {
  const std::string stream = read_fixture(GetParam());
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    bytes.push_back(std::string_view(stream).substr(i, 1));
  }
  EXPECT_EQ(parse_pieces(bytes), parse_whole(stream));
}

TEST_P(SseFixtureTest, RandomMultiSplitsYieldTheSameEvents) {
  const std::string stream = read_fixture(GetParam());
  const auto whole = parse_whole(stream);
  std::mt19937 rng(20241123);  // fixed seed: failures reproduce
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> pieces;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const std::size_t len = std::uniform_int_distribution<std::size_t>(0, 40)(rng);
      pieces.push_back(std::string_view(stream).substr(pos, len));
      pos += len;
    }
    ASSERT_EQ(parse_pieces(pieces), whole) << "round " << round;
  }
}

TEST_P(SseFixtureTest, EveryEventIsCompleteJsonOrDone) {
  const auto events = parse_whole(read_fixture(GetParam()));
  for (const SseEvent& e : events) {
    EXPECT_TRUE(e.data == "[DONE]" || (e.data.front() == '{' && e.data.back() == '}')) << e.data;
    EXPECT_EQ(e.data.find('\n'), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(OpenAiStreams, SseFixtureTest,
                         ::testing::Values("openai/chat_stream_include_usage.sse",
                                           "openai/chat_stream_no_usage.sse",
                                           "openai/chat_stream_tool_calls.sse",
                                           "openai/chat_stream_crlf.sse",
                                           "openai/chat_stream_error.sse"));

TEST(SseParserTest, CrLfFixtureParsesLikeLfFixture) {
  EXPECT_EQ(parse_whole(read_fixture("openai/chat_stream_crlf.sse")),
            parse_whole(read_fixture("openai/chat_stream_include_usage.sse")));
}

TEST(AppendSseTest, WritesCanonicalDataEvent) {
  std::string out = "x";
  append_sse(out, R"({"a":1})");
  EXPECT_EQ(out, "xdata: {\"a\":1}\n\n");
}

TEST(AppendSseTest, WritesEventNameAndOneDataLinePerLine) {
  std::string out;
  append_sse(out, "a\nb\r\nc\rd", "delta");
  EXPECT_EQ(out, "event: delta\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
}

TEST(AppendSseTest, KeepsEmptyDataAndEmptyLines) {
  std::string out;
  append_sse(out, "");
  append_sse(out, "a\n\nb\n");
  EXPECT_EQ(out, "data: \n\ndata: a\ndata: \ndata: b\ndata: \n\n");
}

TEST(AppendSseTest, CannotForgeFieldsThroughEventName) {
  std::string out;
  append_sse(out, "x", "name\ndata: injected");
  EXPECT_EQ(out, "event: name\ndata: x\n\n");
}

TEST(AppendSseTest, RoundTripsThroughParser) {
  const std::vector<SseEvent> events{SseEvent{"", " leading space", ""},
                                     SseEvent{"message", "multi\nline\n\ndata", ""},
                                     SseEvent{"", "", ""}, SseEvent{"", ":not a comment", ""}};
  std::string wire;
  for (const SseEvent& e : events) {
    append_sse(wire, e.data, e.event);
  }
  EXPECT_EQ(parse_whole(wire), events);
}

}  // namespace
}  // namespace sb::adapters

namespace sb::adapters {
namespace {

// ---- the whole-event relay behind the native streams ----

std::string relay_all(SseEventRelay& relay, std::string_view bytes, std::size_t piece,
                      std::vector<std::string>& names, std::string_view terminal = {}) {
  std::string out;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    relay.feed(bytes.substr(at, piece), out, [&](const SseEvent& ev) {
      names.emplace_back(ev.event);
      return ev.event != terminal || terminal.empty();
    });
  }
  return out;
}

TEST(SseEventRelayTest, OnlyWholeEventsGoOutWhereverTheBytesSplit) {
  const std::string stream = "event: a\r\ndata: 1\r\n\r\nevent: b\ndata: 2\n\nevent: c\ndata: 3";
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    SseEventRelay relay(1024);
    std::vector<std::string> names;
    const std::string out = relay_all(relay, stream, piece, names);
    EXPECT_EQ(out, "event: a\r\ndata: 1\r\n\r\nevent: b\ndata: 2\n\n") << piece;
    EXPECT_EQ(names, (std::vector<std::string>{"a", "b"})) << piece;
  }
}

TEST(SseEventRelayTest, NothingFollowsATerminalEventButTheLfOfItsCrlf) {
  const std::string stream = "event: stop\r\ndata: {}\r\n\r\nevent: late\r\ndata: x\r\n\r\n";
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    SseEventRelay relay(1024);
    std::vector<std::string> names;
    const std::string out = relay_all(relay, stream, piece, names, "stop");
    EXPECT_EQ(out, "event: stop\r\ndata: {}\r\n\r\n") << piece;
    EXPECT_EQ(names, (std::vector<std::string>{"stop"})) << piece;
    EXPECT_TRUE(relay.stopped());
  }
}

TEST(SseEventRelayTest, AnEventOverTheLimitStopsTheRelay) {
  SseEventRelay relay(16);
  std::string out;
  const auto keep = [](const SseEvent&) { return true; };
  EXPECT_TRUE(relay.feed("data: ok\n\n", out, keep));
  EXPECT_FALSE(relay.feed("data: " + std::string(64, 'x') + "\n\n", out, keep));
  EXPECT_EQ(out, "data: ok\n\n");
  EXPECT_TRUE(relay.stopped());
  std::string later;
  relay.feed("data: more\n\n", later, keep);
  EXPECT_TRUE(later.empty());
}

}  // namespace
}  // namespace sb::adapters
