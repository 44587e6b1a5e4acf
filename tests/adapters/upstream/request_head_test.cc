// The upstream request (upstream/request.h) keeps its fields as the bytes they are sent as: its
// head is byte for byte what Beast's serializer writes for a Beast message built by the same
// calls, and its lookups answer what Beast's do.

#include "adapters/upstream/request.h"

#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/ostream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace sb::upstream {
namespace {

namespace http = boost::beast::http;
using BeastRequest = http::request<http::string_body>;

std::string serialized(const BeastRequest& r) {
  boost::beast::flat_buffer buffer;
  boost::beast::ostream(buffer) << r;
  return boost::beast::buffers_to_string(buffer.data());
}

/// Builds the same request both ways with `build` and compares what is sent and what is read.
template <class Build>
void expect_same(http::verb method, std::string_view target, unsigned version, Build build) {
  Request ours{method, target, version};
  BeastRequest beasts{method, target, version};
  build(ours);
  build(beasts);
  EXPECT_EQ(ours.head() + ours.body(), serialized(beasts));
  std::string our_fields;
  for (const auto f : ours) {
    our_fields += std::string(f.name_string()) + '=' + std::string(f.value()) + ';';
  }
  std::string beast_fields;
  for (const auto& f : beasts) {
    beast_fields += std::string(f.name_string()) + '=' + std::string(f.value()) + ';';
  }
  EXPECT_EQ(our_fields, beast_fields);
  for (const std::string_view name :
       {"host", "CONTENT-TYPE", "x-multi", "x-gone", "content-length", "transfer-encoding"}) {
    EXPECT_EQ(ours[name], std::string_view(beasts[name])) << name;
    EXPECT_EQ(ours.find(name) != ours.end(), beasts.find(name) != beasts.end()) << name;
  }
}

TEST(RequestHeadTest, IsWhatBeastsSerializerWrites) {
  expect_same(http::verb::post, "/v1/chat/completions?x=1", 11, [](auto& r) {
    r.set(http::field::host, "engine.internal:8000");
    r.set(http::field::content_type, "application/json");
    r.set("x-request-id", "req_0123");
    r.set("Authorization", "Bearer sk-test");
    r.insert("x-multi", "a");
    r.insert("x-other", "o");
    r.insert("X-Multi", "b");  // after the last x-multi, not at the end
    r.set("x-gone", "1");
    r.set("content-type", "text/plain");  // replaced: moves to the end
    r.erase("X-GONE");
    r.body() = R"({"model":"m","messages":[]})";
    r.prepare_payload();
  });
  expect_same(http::verb::get, "/metrics", 11, [](auto& r) {
    r.set(http::field::host, "[::1]:9000");
    r.prepare_payload();  // no body, no Content-Length
  });
  expect_same(http::verb::post, "/api/chat", 10, [](auto& r) {
    r.set(http::field::host, "127.0.0.1");
    r.body() = "{}";
    r.prepare_payload();
    r.body() = "{}  ";
    r.prepare_payload();  // the length follows the body
  });
  expect_same(http::verb::post, "/empty", 11, [](auto& r) {
    r.set(http::field::transfer_encoding, "chunked");
    r.prepare_payload();  // a POST says its length, even 0
  });

  Request post{http::verb::post, "/v1/chat/completions", 11};
  post.body() = "{}";
  post.prepare_payload();
  EXPECT_TRUE(post.head().starts_with("POST /v1/chat/completions HTTP/1.1\r\n"));
  EXPECT_EQ(post["Content-Length"], "2");
  EXPECT_TRUE(post.head().ends_with("\r\n\r\n"));
}

TEST(RequestHeadTest, ErasingAndInsertingKeepTheOtherFieldsIntact) {
  Request r{http::verb::post, "/", 11};
  for (int i = 0; i < 20; ++i) {
    r.insert(i % 3 == 0 ? "x-drop" : "x-keep-" + std::to_string(i), std::to_string(i));
  }
  r.erase("x-drop");
  r.insert("x-keep-1", "again");
  std::string seen;
  for (const auto f : r) {
    seen += std::string(f.name_string()) + '=' + std::string(f.value()) + ';';
  }
  EXPECT_EQ(seen,
            "x-keep-1=1;x-keep-1=again;x-keep-2=2;x-keep-4=4;x-keep-5=5;x-keep-7=7;x-keep-8=8;"
            "x-keep-10=10;x-keep-11=11;x-keep-13=13;x-keep-14=14;x-keep-16=16;x-keep-17=17;"
            "x-keep-19=19;");
  EXPECT_EQ(r.head(),
            "POST / HTTP/1.1\r\nx-keep-1: 1\r\nx-keep-1: again\r\nx-keep-2: 2\r\nx-keep-4: 4\r\n"
            "x-keep-5: 5\r\nx-keep-7: 7\r\nx-keep-8: 8\r\nx-keep-10: 10\r\nx-keep-11: 11\r\n"
            "x-keep-13: 13\r\nx-keep-14: 14\r\nx-keep-16: 16\r\nx-keep-17: 17\r\nx-keep-19: 19\r\n"
            "\r\n");
  EXPECT_EQ(r["X-KEEP-19"], "19");
  EXPECT_EQ(r["x-drop"], "");
}

// A body given as a splice reads as its pieces in order; adjacent pieces of one kind are one
// (ranges of the original that continue each other, new bytes in a row); its length is announced
// as a string body's would be, and head and body are what Beast writes.
TEST(RequestBodyTest, ASplicedBodyReadsAsItsPiecesInOrder) {
  const std::string client = R"({"model":"alias","messages":[]})";
  Splice splice;
  splice.keep(0, 9);
  splice.add("\"up");
  splice.add("stream\"");
  splice.keep(16, 5);
  splice.keep(21, client.size() - 21);
  splice.keep(3, 0);
  splice.add("");
  ASSERT_EQ(splice.pieces.size(), 3u);
  Request ours{http::verb::post, "/v1/chat/completions", 11};
  ours.body(std::move(splice), client);
  EXPECT_EQ(ours.body_pieces(), 3u);
  EXPECT_EQ(ours.body_piece(0), R"({"model":)");
  EXPECT_EQ(ours.body_piece(1), R"("upstream")");
  EXPECT_EQ(ours.body_piece(2), R"(,"messages":[]})");
  const std::string expected = R"({"model":"upstream","messages":[]})";
  EXPECT_EQ(ours.body_text(), expected);
  EXPECT_EQ(ours.body_size(), expected.size());
  ours.set(http::field::content_type, "application/json");
  ours.prepare_payload();
  BeastRequest beasts{http::verb::post, "/v1/chat/completions", 11};
  beasts.set(http::field::content_type, "application/json");
  beasts.body() = expected;
  beasts.prepare_payload();
  EXPECT_EQ(ours.head() + ours.body_text(), serialized(beasts));
  std::string reused = "what a buffer held before";
  ours.head(reused);
  EXPECT_EQ(reused, ours.head());
}

// The original's pieces are lent, not copied: a change to the original shows (which is why its
// owner keeps it unchanged until the exchange ends). A body set whole afterwards replaces the
// splice.
TEST(RequestBodyTest, TheOriginalIsLentNotCopied) {
  std::string client = "abcdef";
  Splice splice;
  splice.keep(0, 3);
  splice.add("DEF");
  Request ours;
  ours.body(std::move(splice), client);
  client.replace(0, 3, "xyz");
  EXPECT_EQ(ours.body_text(), "xyzDEF");
  EXPECT_EQ(ours.body_piece(0).data(), client.data());
  ours.body() = "{}";
  EXPECT_EQ(ours.body_pieces(), 1u);
  EXPECT_EQ(ours.body_text(), "{}");
  EXPECT_EQ(ours.body_size(), 2u);
}

// A target given as a base path and a path is the two joined, replacing the one before.
TEST(RequestHeadTest, ATargetOfTwoPartsIsThemJoined) {
  Request ours{http::verb::post, "/an/earlier/target/that/was/long", 11};
  ours.target("/v1", "/chat/completions");
  EXPECT_EQ(ours.target(), "/v1/chat/completions");
  ours.target("", "/embeddings");
  EXPECT_EQ(ours.target(), "/embeddings");
  EXPECT_EQ(ours.head().substr(0, 29), "POST /embeddings HTTP/1.1\r\n\r\n");
}

// A body set whole is one piece, an empty one too.
TEST(RequestBodyTest, AWholeBodyIsOnePiece) {
  Request ours;
  EXPECT_EQ(ours.body_pieces(), 1u);
  EXPECT_EQ(ours.body_size(), 0u);
  ours.body() = "{}";
  EXPECT_EQ(ours.body_pieces(), 1u);
  EXPECT_EQ(ours.body_piece(0), "{}");
  EXPECT_EQ(ours.body_text(), "{}");
}

}  // namespace
}  // namespace sb::upstream
