#include "gateway/observability/log.h"

#include <string>
#include <string_view>

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
  // Long strings are read sixteen bytes at a time: an escape at each offset, in the first block,
  // on a block's edge and in the tail, must still be found.
  for (std::size_t len : {15u, 16u, 17u, 31u, 32u, 33u, 70u}) {
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

}  // namespace
}  // namespace sb::gateway::log
