// The upstream response parser (adapters/upstream/response_parser.h): Beast's parsing, with the
// status and fields kept in a ResponseHead and the body copied into a lent buffer.

#include "adapters/upstream/response_parser.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "adapters/upstream/client.h"

namespace sb::upstream {
namespace {

namespace http = boost::beast::http;
using boost::system::error_code;

/// Parses `wire` whole with room for `room` body bytes per parse, given again when spent, as the
/// connection reads (Beast's parse stops after the header, and when the room is spent); returns
/// the body and sets `ec` to the error that stopped it, if any.
std::string parse(ResponseParser& p, std::string_view wire, std::size_t room, error_code& ec) {
  std::string body;
  ec = {};
  while (!p.is_done() && !wire.empty()) {
    const std::size_t before = body.size();
    p.body_sink(&body, room);
    const std::size_t used = p.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    EXPECT_EQ(body.size() - before, room - p.body_room());
    EXPECT_LE(body.size() - before, room);
    wire.remove_prefix(used);
    if (ec == http::error::need_buffer) {
      ec = {};
    } else if (ec) {
      break;
    }
  }
  return body;
}

std::vector<std::pair<std::string, std::string>> fields(const ResponseHead& head) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto f : head) {
    out.emplace_back(f.name_string(), f.value());
  }
  return out;
}

TEST(ResponseParserTest, KeepsStatusAndFieldsInTheOrderReceived) {
  ResponseHead head;
  ResponseParser p(head);
  error_code ec;
  const std::string body = parse(p,
                                 "HTTP/1.1 429 Too Many Requests\r\n"
                                 "Retry-After:   7  \r\n"
                                 "Content-Type: application/json\r\n"
                                 "x-ratelimit: a\r\n"
                                 "X-Request-Id: req_1\r\n"
                                 "X-RateLimit: b\r\n"
                                 "Content-Length: 2\r\n"
                                 "\r\n{}",
                                 64, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(body, "{}");
  EXPECT_EQ(head.status(), 429u);
  EXPECT_EQ(head.version(), 11);
  using F = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(fields(head), (F{{"Retry-After", "7"},
                             {"Content-Type", "application/json"},
                             {"x-ratelimit", "a"},
                             {"X-Request-Id", "req_1"},
                             {"X-RateLimit", "b"},
                             {"Content-Length", "2"}}));
  // Lookups in any case, the first of a repeated name, by Beast's field names too.
  EXPECT_EQ(head["retry-after"], "7");
  EXPECT_EQ(head["X-RATELIMIT"], "a");
  EXPECT_EQ(head[http::field::content_type], "application/json");
  EXPECT_EQ(head["x-missing"], "");
  EXPECT_EQ(head["x-ratelimi"], "");  // a prefix is not the name
}

TEST(ResponseParserTest, ANewResponseReplacesTheLastOnesFields) {
  ResponseHead head;
  {
    ResponseParser p(head);
    error_code ec;
    parse(p, "HTTP/1.1 200 OK\r\nx-first: 1\r\nx-second: 2\r\nContent-Length: 0\r\n\r\n", 16, ec);
    ASSERT_FALSE(ec);
  }
  ResponseParser p(head);
  error_code ec;
  parse(p, "HTTP/1.0 503 Unavailable\r\nx-third: 3\r\nContent-Length: 0\r\n\r\n", 16, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(head.status(), 503u);
  EXPECT_EQ(head.version(), 10);
  EXPECT_EQ(head.size(), 2u);
  EXPECT_EQ(head["x-first"], "");
  EXPECT_EQ(head["x-third"], "3");
}

TEST(ResponseParserTest, BodyFillsTheLentBufferThenAsksForAnother) {
  const std::string payload(100, 'x');
  for (const std::size_t room : {1u, 7u, 64u, 100u, 4096u}) {
    ResponseHead head;
    ResponseParser p(head);
    error_code ec;
    const std::string body =
        parse(p, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + payload, room, ec);
    ASSERT_FALSE(ec) << room;
    EXPECT_TRUE(p.is_done()) << room;
    EXPECT_EQ(body, payload) << room;
  }
  // No buffer lent: the parse stops at the body's first byte.
  ResponseHead head;
  ResponseParser p(head);
  error_code ec;
  const std::string_view wire = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const std::size_t header = p.put(boost::asio::buffer(wire.data(), wire.size()), ec);
  ASSERT_FALSE(ec);
  ASSERT_TRUE(p.is_header_done());
  EXPECT_EQ(header, wire.size() - 3);
  const std::size_t used = p.put(boost::asio::buffer(wire.data() + header, 3), ec);
  EXPECT_EQ(ec, http::error::need_buffer);
  EXPECT_EQ(used, 0u);
  EXPECT_FALSE(p.is_done());
}

TEST(ResponseParserTest, ChunkedBodyIsDecoded) {
  ResponseHead head;
  ResponseParser p(head);
  error_code ec;
  const std::string body = parse(p,
                                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n",
                                 4, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(body, "hello, world");
}

TEST(ResponseParserTest, ChunkExtensionsPastTheCapFailTheResponse) {
  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string ext = ";x=" + std::string(100, 'e');
  std::size_t sent = 0;
  while (sent <= kMaxChunkExtensionBytes) {
    wire += "1" + ext + "\r\na\r\n";
    sent += ext.size();
  }
  wire += "0\r\n\r\n";
  ResponseHead head;
  ResponseParser p(head);
  error_code ec;
  parse(p, wire, 4096, ec);
  EXPECT_EQ(ec, http::error::bad_chunk_extension);

  // Just under the cap: read whole.
  std::string under = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  under += "1;" + std::string(kMaxChunkExtensionBytes - 1, 'e') + "\r\na\r\n0\r\n\r\n";
  ResponseParser q(head);
  const std::string body = parse(q, under, 4096, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(body, "a");
}

}  // namespace
}  // namespace sb::upstream
