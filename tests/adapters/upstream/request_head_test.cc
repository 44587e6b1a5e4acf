// The upstream request's head is written by hand (upstream/connection.cc): byte for byte what
// Beast's serializer writes for the same message.

#include "adapters/upstream/connection.h"

#include <string>

#include <gtest/gtest.h>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/ostream.hpp>
#include <boost/beast/http/write.hpp>

namespace sb::upstream {
namespace {

namespace http = boost::beast::http;

std::string serialized(const Request& r) {
  boost::beast::flat_buffer buffer;
  boost::beast::ostream(buffer) << r;
  return boost::beast::buffers_to_string(buffer.data());
}

TEST(RequestHeadTest, IsWhatBeastsSerializerWrites) {
  Request post{http::verb::post, "/v1/chat/completions?x=1", 11};
  post.set(http::field::host, "engine.internal:8000");
  post.set(http::field::content_type, "application/json");
  post.set("x-request-id", "req_0123");
  post.set("Authorization", "Bearer sk-test");
  post.insert("x-multi", "a");
  post.insert("x-multi", "b");
  post.body() = R"({"model":"m","messages":[]})";
  post.prepare_payload();

  Request get{http::verb::get, "/metrics", 11};
  get.set(http::field::host, "[::1]:9000");
  get.prepare_payload();

  Request old{http::verb::post, "/api/chat", 10};
  old.set(http::field::host, "127.0.0.1");
  old.body() = "{}";
  old.prepare_payload();

  for (const Request* r : {&post, &get, &old}) {
    EXPECT_EQ(request_head(*r) + r->body(), serialized(*r));
  }
  EXPECT_TRUE(request_head(post).starts_with("POST /v1/chat/completions?x=1 HTTP/1.1\r\n"));
  EXPECT_NE(request_head(post).find("Content-Length: 27\r\n"), std::string::npos);
  EXPECT_TRUE(request_head(post).ends_with("\r\n\r\n"));
}

}  // namespace
}  // namespace sb::upstream
