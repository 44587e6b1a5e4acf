// The request head as the session reads it: gateway/net/request.h (one pass over the block by the
// framing rules, fields as offsets into one copy of it).

#include "gateway/net/request.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "gateway/net/credentials.h"

namespace sb::gateway {
namespace {

namespace http = boost::beast::http;

Request parsed(std::string_view block) {
  Request r;
  const framing::Verdict v = r.parse(block);
  EXPECT_TRUE(v.ok()) << v.error;
  return r;
}

TEST(RequestTest, ReadsTheRequestLineAndFieldsInTheOrderReceived) {
  const Request r = parsed(
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
      "Host: gw.example\r\n"
      "X-Tag:  \t first \t\r\n"
      "Content-Length: 12\r\n"
      "x-tag:second\r\n"
      "Empty:\r\n"
      "\r\n");
  EXPECT_EQ(r.method(), http::verb::post);
  EXPECT_EQ(r.method_string(), "POST");
  EXPECT_EQ(r.target(), "/v1/chat/completions?x=1");
  EXPECT_EQ(r.version(), 11u);
  ASSERT_EQ(r.field_count(), 5u);
  const std::pair<std::string_view, std::string_view> want[] = {
      {"Host", "gw.example"}, {"X-Tag", "first"}, {"Content-Length", "12"},
      {"x-tag", "second"},    {"Empty", ""},
  };
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.name(i), want[i].first) << i;
    EXPECT_EQ(r.value(i), want[i].second) << i;
  }
  EXPECT_EQ(r.content_length(), 12u);
  EXPECT_FALSE(r.chunked());
  EXPECT_TRUE(r.body().empty());
}

TEST(RequestTest, LooksUpTheFirstFieldOfANameInAnyLetterCase) {
  const Request r = parsed(
      "GET / HTTP/1.1\r\nHost: a\r\nX-TAG: one\r\nx-tag: two\r\nAuthorization: Bearer k\r\n\r\n");
  EXPECT_EQ(r.field("x-tag"), "one");
  EXPECT_EQ(r.field("host"), "a");
  EXPECT_EQ(r.field("x-ta"), "");
  EXPECT_EQ(r.field("x-tags"), "");
  EXPECT_EQ(api_key_in(r), "k");
}

TEST(RequestTest, OffsetsHoldAfterToleratedLeadingEmptyLines) {
  const Request r = parsed("\r\n\r\nDELETE /v1/responses/r1 HTTP/1.0\r\nX: y\r\n\r\n");
  EXPECT_EQ(r.method(), http::verb::delete_);
  EXPECT_EQ(r.target(), "/v1/responses/r1");
  EXPECT_EQ(r.version(), 10u);
  ASSERT_EQ(r.field_count(), 1u);
  EXPECT_EQ(r.name(0), "X");
  EXPECT_EQ(r.value(0), "y");
}

TEST(RequestTest, AnUnknownMethodIsKeptAsSent) {
  const Request r = parsed("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.method(), http::verb::unknown);
  EXPECT_EQ(r.method_string(), "BREW");
}

TEST(RequestTest, KeepAliveFollowsTheVersionAndEveryConnectionField) {
  const auto keep = [](std::string_view version, std::string_view fields) {
    std::string block = "GET / " + std::string(version) + "\r\nHost: a\r\n";
    block += fields;
    block += "\r\n";
    return parsed(block).keep_alive();
  };
  EXPECT_TRUE(keep("HTTP/1.1", ""));
  EXPECT_FALSE(keep("HTTP/1.1", "Connection: close\r\n"));
  EXPECT_FALSE(keep("HTTP/1.1", "Connection: Upgrade ,\tCLOSE\r\n"));
  EXPECT_TRUE(keep("HTTP/1.1", "Connection: closed, x-close\r\n"));
  // A close in a second Connection field counts (Beast read the first field only).
  EXPECT_FALSE(keep("HTTP/1.1", "Connection: keep-alive\r\nConnection: close\r\n"));
  EXPECT_FALSE(keep("HTTP/1.0", ""));
  EXPECT_TRUE(keep("HTTP/1.0", "Connection: Keep-Alive\r\n"));
  EXPECT_FALSE(keep("HTTP/1.0", "Connection: keep-alive, close\r\n"));
  // A value that is no token list is read for the options it names, not refused.
  EXPECT_TRUE(keep("HTTP/1.1", "Connection: [{\"x\": 1}]\r\n"));
}

TEST(RequestTest, ReadsTheBodyFraming) {
  const Request chunked =
      parsed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
  EXPECT_TRUE(chunked.chunked());
  EXPECT_FALSE(chunked.content_length().has_value());
  const Request listed = parsed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n");
  EXPECT_EQ(listed.content_length(), 7u);
  const Request none = parsed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_FALSE(none.content_length().has_value());
  EXPECT_FALSE(none.chunked());
}

TEST(RequestTest, ARefusedBlockLeavesTheRequestEmpty) {
  Request r;
  const framing::Verdict v = r.parse(
      "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(v.status, 400u);
  EXPECT_EQ(v.error, "both Content-Length and Transfer-Encoding");
  EXPECT_EQ(r.field_count(), 0u);
  EXPECT_EQ(r.target(), "");
  EXPECT_EQ(r.method(), http::verb::unknown);
  EXPECT_FALSE(r.content_length().has_value());
  EXPECT_EQ(r.parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n").status, 505u);
  EXPECT_EQ(r.field_count(), 0u);
}

TEST(RequestTest, FieldsInsertedInCodeSurviveAMove) {
  Request r;
  for (int i = 0; i < 40; ++i) {  // past the inline room, and the block reallocates
    r.insert("X-" + std::to_string(i), "value " + std::to_string(i));
  }
  r.body() = "{}";
  const Request moved = std::move(r);
  ASSERT_EQ(moved.field_count(), 40u);
  for (std::size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(moved.name(i), "X-" + std::to_string(i));
    EXPECT_EQ(moved.value(i), "value " + std::to_string(i));
  }
  EXPECT_EQ(moved.field("x-39"), "value 39");
  EXPECT_EQ(moved.body(), "{}");
}

}  // namespace
}  // namespace sb::gateway
