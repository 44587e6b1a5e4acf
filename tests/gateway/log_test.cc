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

TEST(AppendJsonStringTest, EscapesAtTheStartTheEndAndBetweenRuns) {
  EXPECT_EQ(quoted("\"a\\b\"\n"), R"(prefix:"\"a\\b\"\n")");
  EXPECT_EQ(quoted(std::string_view("x\0y\x7f\r\tz", 7)), R"(prefix:"x\u0000y\u007f\r\tz")");
  EXPECT_EQ(quoted("\x01\x1f"), R"(prefix:"\u0001\u001f")");
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
