#include "gateway/observability/log.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include "gateway/observability/json_line.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sb::gateway::log {
namespace {

std::string quoted(std::string_view s) {
  std::string out = "prefix:";
  append_json_string(out, s);
  return out;
}

TEST(AppendJsonStringTest, PlainTextIsCopiedWhole) {
  EXPECT_EQ(quoted("POST /v1/chat/completions"), R"(prefix:"POST /v1/chat/completions")");
  EXPECT_EQ(quoted(""), R"(prefix:"")");
  EXPECT_EQ(quoted("caf\xC3\xA9"), "prefix:\"caf\xC3\xA9\"");
}

TEST(AppendJsonStringTest, PlainTextOfEveryLengthAroundTheShortPathIsCopiedWhole) {
  // Short plain values take a path of their own (one append): its edge must not cut or pad.
  for (std::size_t len = 0; len <= 130; ++len) {
    std::string s(len, 'a');
    for (std::size_t i = 0; i < len; ++i) {
      s[i] = static_cast<char>('a' + i % 26);
    }
    EXPECT_EQ((quoted)(s), "prefix:\"" + s + "\"") << len;  // not std::quoted
  }
}

TEST(AppendJsonStringTest, EscapesAtTheStartTheEndAndBetweenRuns) {
  EXPECT_EQ(quoted("\"a\\b\"\n"), R"(prefix:"\"a\\b\"\n")");
  EXPECT_EQ(quoted(std::string_view("x\0y\x7f\r\tz", 7)), R"(prefix:"x\u0000y\u007f\r\tz")");
  EXPECT_EQ(quoted("\x01\x1f"), R"(prefix:"\u0001\u001f")");
}

TEST(AppendJsonStringTest, EscapesAtEveryPositionOfALongString) {
  // Strings are read sixteen bytes at a time (the last block overlapping), eight at a time
  // (twice) from 8 to 15 bytes, four at a time (twice, as one word) from 4 to 7, a byte at a time
  // below: an escape at each offset, in the first block, on a block's edge, in the tail and in
  // either half of the word, must still be found.
  for (std::size_t len = 1; len <= 70; ++len) {
    for (std::size_t at = 0; at < len; ++at) {
      for (char c : {'"', '\\', '\n', '\x01', '\x7f'}) {
        std::string s(len, 'a');
        s[at] = c;
        std::string out;
        append_json_string(out, s);
        EXPECT_EQ(out.size(), len + 2 + (c == '\x01' || c == '\x7f' ? 5 : 1)) << len << " " << at;
        EXPECT_EQ(boost::json::parse(out).as_string(), s) << len << " " << at;
      }
    }
  }
  std::string clean(100, 'z');
  std::string out;
  append_json_string(out, clean);
  EXPECT_EQ(out, '"' + clean + '"');
}

TEST(AppendJsonStringTest, BytesAboveDelAndNearTheMarksAreCopiedAsTheyAre) {
  // Bytes 0x80 to 0x9F differ from control bytes by their high bit alone; '!', '#', '[', ']'
  // and '~' are the neighbours of the quote, the backslash and DEL.
  const std::string_view kinds = "\x80\x9f\xa0\xff!#[]~\x20";
  for (std::size_t len = 1; len <= 40; ++len) {
    std::string s;
    for (std::size_t i = 0; i < len; ++i) {
      s.push_back(kinds[(i * 7 + len) % kinds.size()]);
    }
    EXPECT_EQ((quoted)(s), "prefix:\"" + s + "\"") << len;  // not std::quoted
  }
}

TEST(AppendJsonStringTest, EveryByteRoundTripsThroughAJsonParser) {
  std::string all;
  for (int c = 0; c < 128; ++c) {
    all.push_back(static_cast<char>(c));
    all += "ab";
  }
  std::string out;
  append_json_string(out, all);
  EXPECT_EQ(boost::json::parse(out).as_string(), all);
}

// The JSON line (json_line.h) writes what the std::string helpers write, byte for byte, past its
// inline room and across the pieces long strings are escaped in.
TEST(JsonLineTest, StringsAreEscapedAsByTheStringHelper) {
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all.push_back(static_cast<char>(c));
    all += "ab";
  }
  for (const std::size_t len : {0u, 1u, 127u, 128u, 129u, 300u, 767u, 4095u, 4096u, 4097u, 9000u}) {
    std::string s;
    while (s.size() < len) {
      s += all;
    }
    s.resize(len);
    std::string want = "{";
    append_json_string(want, s);
    JsonLine line;
    line += "{";
    append_json_string(line, s);
    EXPECT_EQ(line.view(), want) << len;
  }
}

TEST(JsonLineTest, GrowsPastItsInlineRoomKeepingEveryByte) {
  JsonLine line;
  std::string want;
  for (int i = 0; i < 2000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    line += piece;
    want += piece;
    append_integer(line, -i);
    append_integer(want, -i);
  }
  append_timestamp(line);
  EXPECT_EQ(line.view().substr(0, want.size()), want);
  EXPECT_EQ(line.view().size(), want.size() + 26);  // "YYYY-MM-DDTHH:MM:SS.mmmZ" quoted
  EXPECT_EQ(line.str(2).capacity() >= line.view().size() + 2, true);
}

std::string fixed(double v, int precision) {
  JsonLine line;
  append_fixed(line, v, precision);
  return std::string(line.view());
}

std::string to_chars_fixed(double v, int precision) {
  char buf[400];
  return std::string(
      buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, precision).ptr);
}

TEST(JsonLineTest, FixedNumbersReadAsToCharsWritesThem) {
  EXPECT_EQ(fixed(0, 3), "0.000");
  EXPECT_EQ(fixed(12.3456, 3), "12.346");
  EXPECT_EQ(fixed(0.04, 1), "0.0");
  EXPECT_EQ(fixed(1145.75, 1), "1145.8");
  EXPECT_EQ(fixed(999.9996, 3), "1000.000");
  EXPECT_EQ(fixed(7, 0), "7");
  EXPECT_EQ(fixed(-2.5, 1), "-2.5");
  EXPECT_EQ(fixed(-0.0, 3), "-0.000");
  EXPECT_EQ(fixed(3e12, 3), to_chars_fixed(3e12, 3));
  EXPECT_EQ(fixed(std::numeric_limits<double>::infinity(), 3), "inf");
  // Durations as the access line writes them: the same text as std::to_chars.
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> ms(0, 120'000);
  for (int i = 0; i < 200'000; ++i) {
    const double v = ms(gen);
    ASSERT_EQ(fixed(v, 3), to_chars_fixed(v, 3)) << v;
    ASSERT_EQ(fixed(v, 1), to_chars_fixed(v, 1)) << v;
  }
}

}  // namespace
}  // namespace sb::gateway::log
