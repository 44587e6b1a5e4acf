// RESP2 parsing and encoding: every reply type, replies split anywhere, and the limits that make
// the parser fail closed.

#include "gateway/state/redis_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/state/redis_client.h"

namespace sb::gateway::redis {
namespace {

using Status = ReplyParser::Status;

std::vector<Reply> parse_all(ReplyParser& p, std::string_view bytes, std::size_t piece) {
  std::vector<Reply> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    p.feed(bytes.substr(i, piece));
    Reply r;
    Status st;
    while ((st = p.next(r)) == Status::reply) {
      out.push_back(std::move(r));
    }
    if (st == Status::failed) {
      break;
    }
  }
  return out;
}

constexpr std::string_view kMixed =
    "+OK\r\n-ERR wrong type\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n"
    "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$0\r\n\r\n+done\r\n";

void expect_mixed(const std::vector<Reply>& r) {
  ASSERT_EQ(r.size(), 8u);
  EXPECT_EQ(r[0].type, Reply::Type::status);
  EXPECT_EQ(r[0].str, "OK");
  EXPECT_EQ(r[1].type, Reply::Type::error);
  EXPECT_EQ(r[1].str, "ERR wrong type");
  EXPECT_EQ(r[2].type, Reply::Type::integer);
  EXPECT_EQ(r[2].integer, -42);
  EXPECT_EQ(r[3].type, Reply::Type::string);
  EXPECT_EQ(r[3].str, "hello");
  EXPECT_EQ(r[4].type, Reply::Type::nil);
  EXPECT_EQ(r[5].type, Reply::Type::nil);
  EXPECT_EQ(r[6].type, Reply::Type::array);
  EXPECT_TRUE(r[6].elements.empty());
  ASSERT_EQ(r[7].type, Reply::Type::array);
  ASSERT_EQ(r[7].elements.size(), 3u);
  EXPECT_EQ(r[7].elements[0].integer, 1);
  ASSERT_EQ(r[7].elements[1].elements.size(), 2u);
  EXPECT_EQ(r[7].elements[1].elements[0].str, "a");
  EXPECT_EQ(r[7].elements[1].elements[1].type, Reply::Type::string);
  EXPECT_EQ(r[7].elements[1].elements[1].str, "");
  EXPECT_EQ(r[7].elements[2].type, Reply::Type::status);
}

TEST(ReplyParserTest, ParsesEveryTypeInOneFeed) {
  ReplyParser p;
  expect_mixed(parse_all(p, kMixed, kMixed.size()));
}

TEST(ReplyParserTest, ParsesEveryTypeFedByteByByte) {
  ReplyParser p;
  expect_mixed(parse_all(p, kMixed, 1));
  Reply r;
  EXPECT_EQ(p.next(r), Status::need_more);
}

TEST(ReplyParserTest, BinarySafeStrings) {
  ReplyParser p;
  std::vector<Reply> r = parse_all(p, std::string_view("$4\r\na\0\r\n\r\n", 10), 3);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].str, std::string("a\0\r\n", 4));
}

TEST(ReplyParserTest, UnknownTypeByteIsAProtocolError) {
  ReplyParser p;
  p.feed("?what\r\n");
  Reply r;
  EXPECT_EQ(p.next(r), Status::failed);
  EXPECT_EQ(p.error(), Error::protocol);
  // Failed for good: later bytes are ignored.
  p.feed("+OK\r\n");
  EXPECT_EQ(p.next(r), Status::failed);
}

TEST(ReplyParserTest, OutOfRangeLengthsAndIntegersAreProtocolErrors) {
  for (std::string_view bad : {"*4294967297\r\n:1\r\n", "*-2\r\n", "$-5\r\n",
                               "$18446744073709551615\r\nab\r\n", ":12a\r\n"}) {
    ReplyParser p;
    p.feed(bad);
    Reply r;
    EXPECT_EQ(p.next(r), Status::failed) << bad;
    EXPECT_EQ(p.error(), Error::protocol) << bad;
  }
}

TEST(ReplyParserTest, ArrayOfMoreThan1024ElementsIsTooLarge) {
  {
    ReplyParser p;
    std::string ok = "*1024\r\n";
    for (int i = 0; i < 1024; ++i) {
      ok += ":1\r\n";
    }
    std::vector<Reply> r = parse_all(p, ok, 4096);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].elements.size(), 1024u);
  }
  ReplyParser p;
  p.feed("*1025\r\n");
  Reply r;
  EXPECT_EQ(p.next(r), Status::failed);
  EXPECT_EQ(p.error(), Error::too_large);
  EXPECT_EQ(p.message(), "array of 1025 elements (at most 1024)");
}

TEST(ReplyParserTest, NestingDeeperThanFourIsRefused) {
  {
    ReplyParser p;
    std::vector<Reply> r = parse_all(p, "*1\r\n*1\r\n*1\r\n*1\r\n:7\r\n", 64);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].elements[0].elements[0].elements[0].elements[0].integer, 7);
  }
  ReplyParser p;
  p.feed("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:7\r\n");
  Reply r;
  EXPECT_EQ(p.next(r), Status::failed);
  EXPECT_EQ(p.error(), Error::protocol);
  EXPECT_EQ(p.message(), "reply nested deeper than 4 arrays");
}

TEST(ReplyParserTest, BulkStringOverTheLimitFailsBeforeItIsAllBuffered) {
  ReplyParser p;
  p.feed("$2097152\r\n");
  Reply r;
  EXPECT_EQ(p.next(r), Status::need_more);
  const std::string chunk(64 * 1024, 'x');
  std::size_t fed = 0;
  Status st = Status::need_more;
  while (st == Status::need_more && fed < 2 * 1024 * 1024) {
    p.feed(chunk);
    fed += chunk.size();
    st = p.next(r);
  }
  EXPECT_EQ(st, Status::failed);
  EXPECT_EQ(p.error(), Error::too_large);
  EXPECT_LE(fed, (1u << 20) + chunk.size());  // stopped at the limit, not at the end
}

TEST(ReplyParserTest, ManySmallStringsAddUpToTheLimit) {
  // 1,000 strings of 1,100 bytes in one array: each is fine, the whole is over 1 MiB.
  ReplyParser p;
  std::string bytes = "*1000\r\n";
  for (int i = 0; i < 1000; ++i) {
    bytes += "$1100\r\n" + std::string(1100, 'y') + "\r\n";
  }
  EXPECT_TRUE(parse_all(p, bytes, 8192).empty());
  EXPECT_EQ(p.error(), Error::too_large);
}

TEST(ReplyParserTest, LimitsAreConfigurable) {
  const ReplyParser::Limits limits{.max_reply_bytes = 100, .max_array_elements = 2, .max_depth = 1};
  ReplyParser p(limits);
  std::vector<Reply> r = parse_all(p, "*2\r\n:1\r\n:2\r\n$10\r\n0123456789\r\n", 5);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(parse_all(p, "$100\r\n" + std::string(100, 'z') + "\r\n", 7).empty());
  EXPECT_EQ(p.error(), Error::too_large);

  ReplyParser nested(limits);
  EXPECT_TRUE(parse_all(nested, "*1\r\n*0\r\n", 1).empty());
  EXPECT_EQ(nested.error(), Error::protocol);
}

TEST(RespEncodingTest, CommandsAreArraysOfBulkStrings) {
  std::string out;
  const std::vector<std::string> args{"SET", "k", std::string("a\0b", 3)};
  append_command(out, args);
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\0b\r\n", 29));
}

TEST(ScriptTest, Sha1IsComputedFromTheSource) {
  EXPECT_EQ(Script("").sha1(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
}  // namespace sb::gateway::redis
