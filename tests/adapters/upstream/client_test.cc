#include "adapters/upstream/client.h"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "adapters/upstream/endpoint.h"
#include "adapters/upstream/splice.h"
#include "tests/support/fake_upstream.h"

namespace sb::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;
using testing::Chunk;
using testing::FakeUpstream;
using testing::FakeUpstreamOptions;
using testing::Response;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// gtest's ASSERT_* return from the function, which a coroutine cannot do.
#define CO_ASSERT_TRUE(cond)                        \
  if (!(cond)) {                                    \
    ADD_FAILURE() << "assertion failed: " << #cond; \
    co_return;                                      \
  }

/// Runs `body(ioc)` as a coroutine on a fresh io_context in this thread until everything on the
/// context has finished.
template <class F>
void run(F&& body) {
  asio::io_context ioc;
  bool finished = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        co_await body(ioc);
        finished = true;
      },
      asio::detached);
  ioc.run();
  EXPECT_TRUE(finished) << "the test coroutine did not run to completion";
}

/// Timeouts generous enough never to fire on a loaded machine unless a test means them to.
Timeouts relaxed() {
  return Timeouts{10s, 10s, 10s, 30s};
}

Request make_request(const Endpoint& ep, std::string_view path, std::string body = "{}",
                     http::verb verb = http::verb::post) {
  Request req{verb, ep.base_path + std::string(path), 11};
  req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  return req;
}

Endpoint endpoint_of(const FakeUpstream& fake) {
  auto ep = Endpoint::parse(fake.base_url());
  EXPECT_TRUE(ep.has_value()) << fake.base_url();
  return ep.value_or(Endpoint{});
}

std::string certs(std::string_view file) {
  return std::string(SB_TEST_CERTS_DIR "/") += file;
}

FakeUpstreamOptions tls_options(std::string cert = certs("server.pem"),
                                std::string key = certs("server.key")) {
  FakeUpstreamOptions o;
  o.tls = true;
  o.cert_file = std::move(cert);
  o.key_file = std::move(key);
  return o;
}

std::unique_ptr<asio::ssl::context> tls_context(const std::string& ca_file) {
  std::string error;
  auto ctx = make_client_tls_context(ca_file, true, error);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

/// Waits (on the io_context, so servers on it keep running) until `cond` holds.
template <class Cond>
asio::awaitable<void> wait_until(asio::io_context& ioc, Cond cond) {
  asio::steady_timer timer(ioc);
  for (int i = 0; i < 1000 && !cond(); ++i) {
    timer.expires_after(5ms);
    co_await timer.async_wait(use_tuple);
  }
}

/// Lets the io_context run other work for a while (not a measurement: nothing asserts on time).
asio::awaitable<void> pause(asio::io_context& ioc, std::chrono::milliseconds d) {
  asio::steady_timer timer(ioc, d);
  co_await timer.async_wait(use_tuple);
}

/// Reads the rest of the body with read_some, returning every piece in order.
asio::awaitable<std::vector<std::string>> read_pieces(Exchange& ex, Error& err) {
  std::vector<std::string> pieces;
  std::string piece;
  while (co_await ex.read_some(piece, err)) {
    pieces.push_back(std::move(piece));
    piece.clear();
  }
  co_return pieces;
}

std::string join(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) {
    out += p;
  }
  return out;
}

Response chunked(std::vector<std::string> pieces, std::chrono::milliseconds gap = 0ms) {
  Response r;
  for (auto& p : pieces) {
    r.chunks.push_back(Chunk{std::move(p), gap});
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Error kinds and TLS contexts

TEST(ErrorKindTest, NamesAreSnakeCase) {
  EXPECT_EQ(to_string(ErrorKind::none), "none");
  EXPECT_EQ(to_string(ErrorKind::resolve), "resolve");
  EXPECT_EQ(to_string(ErrorKind::connect), "connect");
  EXPECT_EQ(to_string(ErrorKind::connect_timeout), "connect_timeout");
  EXPECT_EQ(to_string(ErrorKind::tls), "tls");
  EXPECT_EQ(to_string(ErrorKind::write), "write");
  EXPECT_EQ(to_string(ErrorKind::first_byte_timeout), "first_byte_timeout");
  EXPECT_EQ(to_string(ErrorKind::idle_timeout), "idle_timeout");
  EXPECT_EQ(to_string(ErrorKind::total_timeout), "total_timeout");
  EXPECT_EQ(to_string(ErrorKind::reset), "reset");
  EXPECT_EQ(to_string(ErrorKind::protocol), "protocol");
  EXPECT_EQ(to_string(ErrorKind::too_large), "too_large");
}

TEST(ErrorKindTest, OnlyTimeoutKindsAreTimeouts) {
  EXPECT_TRUE(is_timeout(ErrorKind::connect_timeout));
  EXPECT_TRUE(is_timeout(ErrorKind::first_byte_timeout));
  EXPECT_TRUE(is_timeout(ErrorKind::idle_timeout));
  EXPECT_TRUE(is_timeout(ErrorKind::total_timeout));
  for (ErrorKind k :
       {ErrorKind::none, ErrorKind::resolve, ErrorKind::connect, ErrorKind::tls, ErrorKind::write,
        ErrorKind::reset, ErrorKind::protocol, ErrorKind::too_large}) {
    EXPECT_FALSE(is_timeout(k)) << to_string(k);
  }
}

TEST(TlsContextTest, MissingCaFileIsReported) {
  std::string error;
  auto ctx = make_client_tls_context(certs("does-not-exist.pem"), true, error);
  EXPECT_EQ(ctx.get(), nullptr);
  EXPECT_NE(error.find("does-not-exist.pem"), std::string::npos) << error;
}

TEST(TlsContextTest, BuildsAVerifyingContextWithTheTestCa) {
  std::string error;
  auto ctx = make_client_tls_context(certs("ca.pem"), true, error);
  ASSERT_NE(ctx, nullptr) << error;
  EXPECT_TRUE(error.empty());
  EXPECT_NE(SSL_CTX_get_verify_mode(ctx->native_handle()) & SSL_VERIFY_PEER, 0);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx->native_handle()), TLS1_2_VERSION);
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP exchanges

TEST(ClientTest, RoundTripDeliversStatusHeadersAndBody) {
  FakeUpstream fake;
  Response scripted;
  scripted.status = 200;
  scripted.headers = {{"x-upstream-test", "yes"}};
  scripted.body = R"({"answer":42})";
  fake.push(scripted);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Request req = make_request(ep, "/chat/completions", R"({"model":"m"})");
    req.set(http::field::authorization, "Bearer secret");
    Error err;
    auto ex = co_await pool.send(ep, nullptr, std::move(req), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    EXPECT_FALSE(err);
    EXPECT_EQ(ex->status(), 200u);
    EXPECT_EQ(ex->headers()["x-upstream-test"], "yes");
    std::string body;
    EXPECT_TRUE(co_await ex->read_all(body, 1 << 20, err));
    EXPECT_FALSE(err) << to_string(err.kind);
    EXPECT_EQ(body, R"({"answer":42})");
    EXPECT_TRUE(ex->done());
  });

  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v1/chat/completions");
  EXPECT_EQ(requests[0].body, R"({"model":"m"})");
  EXPECT_EQ(requests[0].header("host"), ep.host_header());
  EXPECT_EQ(requests[0].header("content-length"), "13");
  EXPECT_EQ(requests[0].header("authorization"), "Bearer secret");
  EXPECT_EQ(requests[0].header("connection"), std::nullopt);
}

TEST(ClientTest, ReadSomeYieldsStreamedChunksInOrderUntilDone) {
  FakeUpstream fake;
  fake.push(chunked({"data: one\n\n", "data: two\n\n", "data: three\n\n"}, 10ms));
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    EXPECT_EQ(ex->headers()[http::field::content_type], "text/event-stream");
    EXPECT_FALSE(ex->done());
    auto pieces = co_await read_pieces(*ex, err);
    EXPECT_FALSE(err) << to_string(err.kind);
    EXPECT_FALSE(pieces.empty());
    for (const auto& p : pieces) {
      EXPECT_FALSE(p.empty());  // `true` from read_some always means new bytes
    }
    EXPECT_EQ(join(pieces), "data: one\n\ndata: two\n\ndata: three\n\n");
    EXPECT_TRUE(ex->done());
    std::string more;
    EXPECT_FALSE(co_await ex->read_some(more, err));  // the end stays the end, without error
    EXPECT_FALSE(err);
    EXPECT_TRUE(more.empty());
  });
}

TEST(ClientTest, ReadSomeDeliversBytesBeforeTheBodyEnds) {
  FakeUpstream fake;
  Response r = chunked({"first;", "second;", "never"});
  r.stall_after_chunks = 2;  // the body stays open: only relayed bytes can reach the reader
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    std::string got;
    while (got.size() < std::string_view("first;second;").size()) {
      CO_ASSERT_TRUE(co_await ex->read_some(got, err));
    }
    EXPECT_EQ(got, "first;second;");
    EXPECT_FALSE(ex->done());
    ex.reset();  // abandoned mid-body: the connection cannot be reused
    EXPECT_EQ(pool.idle_connections(), 0u);
  });
}

TEST(ClientTest, KeepAliveReusesOneConnection) {
  FakeUpstream fake;
  Response a;
  a.body = "first";
  Response b = chunked({"sec", "ond"});
  fake.push(a);
  fake.push(b);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    for (std::string expected : {"first", "second"}) {
      Error err;
      auto ex =
          co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
      CO_ASSERT_TRUE(ex != nullptr);
      std::string body;
      EXPECT_TRUE(co_await ex->read_all(body, 1024, err));
      EXPECT_EQ(body, expected);
      ex.reset();
      EXPECT_EQ(pool.idle_connections(), 1u);
    }
    EXPECT_EQ(pool.connections_opened(), 1u);
  });
  EXPECT_EQ(fake.connections(), 1u);
  EXPECT_EQ(fake.requests().size(), 2u);
}

// A kept connection's timer is not cancelled when it goes idle: the wait armed for the last
// exchange's deadlines fires while the connection sits in the pool and must find nothing to
// close. The connection outlives those deadlines and serves the next exchange.
TEST(ClientTest, AKeptConnectionOutlivesTheDeadlinesOfItsLastExchange) {
  FakeUpstream fake;
  Response a;
  a.body = "first";
  Response b;
  b.body = "second";
  fake.push(a);
  fake.push(b);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.first_byte = 100ms;
    t.idle = 100ms;
    for (std::string expected : {"first", "second"}) {
      Error err;
      auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
      CO_ASSERT_TRUE(ex != nullptr);
      std::string body;
      EXPECT_TRUE(co_await ex->read_all(body, 1024, err));
      EXPECT_FALSE(err) << to_string(err.kind);
      EXPECT_EQ(body, expected);
      ex.reset();
      EXPECT_EQ(pool.idle_connections(), 1u);
      co_await pause(ioc, 400ms);  // past both deadlines, idle in the pool
      EXPECT_EQ(pool.idle_connections(), 1u);
    }
    EXPECT_EQ(pool.connections_opened(), 1u);
  });
  EXPECT_EQ(fake.connections(), 1u);
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(ClientTest, ReadAllReadsBodiesLargerThanOneRead) {
  FakeUpstream fake;
  std::string fixed(300 * 1024, '\0');
  for (std::size_t i = 0; i < fixed.size(); ++i) {
    fixed[i] = static_cast<char>('a' + i % 26);
  }
  Response with_length;
  with_length.body = fixed;
  fake.push(with_length);
  std::vector<std::string> pieces;
  for (int i = 0; i < 10; ++i) {
    pieces.push_back(fixed.substr(static_cast<std::size_t>(i) * 30 * 1024, 30 * 1024));
  }
  fake.push(chunked(pieces));
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    for (int i = 0; i < 2; ++i) {
      Error err;
      auto ex =
          co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
      CO_ASSERT_TRUE(ex != nullptr);
      std::string body;
      EXPECT_TRUE(co_await ex->read_all(body, fixed.size(), err));
      EXPECT_FALSE(err) << to_string(err.kind);
      EXPECT_TRUE(body == fixed) << "body of " << body.size() << " bytes differs";
    }
    EXPECT_EQ(pool.connections_opened(), 1u);
  });
}

TEST(ClientTest, ResponseWithConnectionCloseIsNotPooled) {
  FakeUpstream fake;
  Response closing;
  closing.headers = {{"Connection", "close"}};
  closing.body = "bye";
  fake.push(closing);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    for (int i = 0; i < 2; ++i) {
      Error err;
      auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/models", "", http::verb::get),
                                   relaxed(), err);
      CO_ASSERT_TRUE(ex != nullptr);
      std::string body;
      EXPECT_TRUE(co_await ex->read_all(body, 1 << 20, err));
      ex.reset();
      if (i == 0) {
        EXPECT_EQ(body, "bye");
        EXPECT_EQ(pool.idle_connections(), 0u);
      }
    }
    EXPECT_EQ(pool.connections_opened(), 2u);
  });
  EXPECT_EQ(fake.connections(), 2u);
}

TEST(ClientTest, UnreadBodyIsNotPooled) {
  FakeUpstream fake;
  Response r;
  r.body = "left unread";
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    ex.reset();
    EXPECT_EQ(pool.idle_connections(), 0u);
  });
}

/// A raw HTTP/1.1 server in the test's io_context for what the fake cannot express: it answers
/// one request per connection with a keep-alive response, then half-closes (FIN), as an upstream
/// whose keep-alive timeout is shorter than the pool's idle TTL. It keeps reading afterwards, so
/// a request wrongly written to the dead connection is seen.
struct ClosesAfterEachResponse {
  explicit ClosesAfterEachResponse(asio::io_context& ioc)
      : acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/v1";
  }

  asio::awaitable<void> serve(int connections) {
    for (int i = 0; i < connections; ++i) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) {
        co_return;
      }
      ++accepted;
      asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, use_tuple);
    if (ec) {
      ++ended;
      co_return;
    }
    ++requests;
    static constexpr std::string_view kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    co_await asio::async_write(socket, asio::buffer(kResponse), use_tuple);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    ++closed;
    for (;;) {
      char byte[256];
      auto [rec, got] = co_await socket.async_read_some(asio::buffer(byte), use_tuple);
      late_bytes += got;
      if (rec) {
        ++ended;
        co_return;
      }
    }
  }

  tcp::acceptor acceptor;
  int accepted = 0;
  int requests = 0;
  int closed = 0;
  int ended = 0;  ///< sessions finished (they must before the server goes away)
  std::size_t late_bytes = 0;
};

TEST(ClientTest, IdleConnectionClosedByUpstreamIsReplacedAndRequestSentOnce) {
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    ClosesAfterEachResponse server(ioc);
    asio::co_spawn(ioc, server.serve(2), asio::detached);
    const auto ep = Endpoint::parse(server.base_url());
    CO_ASSERT_TRUE(ep.has_value());
    {
      Pool pool(ioc.get_executor());
      for (int i = 0; i < 2; ++i) {
        Error err;
        auto ex = co_await pool.send(*ep, nullptr, make_request(*ep, "/chat/completions"),
                                     relaxed(), err);
        CO_ASSERT_TRUE(ex != nullptr);
        std::string body;
        EXPECT_TRUE(co_await ex->read_all(body, 1024, err));
        EXPECT_FALSE(err) << to_string(err.kind);
        EXPECT_EQ(body, "ok");
        ex.reset();
        EXPECT_EQ(pool.idle_connections(), 1u);  // the response itself allowed keep-alive
        co_await wait_until(ioc, [&] { return server.closed > i; });
      }
      EXPECT_EQ(pool.connections_opened(), 2u);
    }
    // The pool is gone, so both connections are closed and both sessions end.
    co_await wait_until(ioc, [&] { return server.ended == 2; });
    EXPECT_EQ(server.ended, 2);
    EXPECT_EQ(server.accepted, 2);
    EXPECT_EQ(server.requests, 2);
    EXPECT_EQ(server.late_bytes, 0u);  // nothing went to the closed connection
  });
}

TEST(ClientTest, ReusedConnectionClosedAfterTheRequestIsNotRetried) {
  FakeUpstream fake;
  Response ok;
  ok.body = "ok";
  fake.push(ok);
  Response vanish;
  vanish.kind = Response::Kind::close_on_read;  // the request arrived, then the upstream left
  fake.push(vanish);
  fake.push(ok);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto first =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(first != nullptr);
    std::string body;
    EXPECT_TRUE(co_await first->read_all(body, 1024, err));
    first.reset();
    CO_ASSERT_TRUE(pool.idle_connections() == 1u);

    auto second =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    EXPECT_EQ(second.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::reset) << to_string(err.kind);
  });
  // The upstream may have acted on the second request: it must not see it twice.
  EXPECT_EQ(fake.requests().size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Failures

TEST(ClientTest, RefusedConnectionIsConnectError) {
  std::uint16_t port = 0;
  {
    asio::io_context probe;
    tcp::acceptor acceptor(probe, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }  // closed again: nothing listens there now
  const auto ep = Endpoint::parse("http://127.0.0.1:" + std::to_string(port) + "/v1");
  ASSERT_TRUE(ep.has_value());

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex = co_await pool.send(*ep, nullptr, make_request(*ep, "/models"), relaxed(), err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::connect) << to_string(err.kind);
    EXPECT_TRUE(err.ec);
    EXPECT_EQ(pool.connections_opened(), 0u);
  });
}

TEST(ClientTest, UnansweredConnectIsConnectTimeout) {
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    // A listener whose accept queue is full and never drained: the kernel drops further SYNs,
    // so a connect neither succeeds nor fails.
    tcp::acceptor acceptor(ioc);
    const tcp::endpoint local(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(local.protocol());
    acceptor.bind(local);
    acceptor.listen(0);
    std::vector<tcp::socket> fillers;
    for (int i = 0; i < 4; ++i) {
      fillers.emplace_back(ioc);
      fillers.back().async_connect(acceptor.local_endpoint(), [](boost::system::error_code) {});
    }
    co_await pause(ioc, 50ms);  // let the fillers' handshakes settle

    const auto ep =
        Endpoint::parse("http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()));
    CO_ASSERT_TRUE(ep.has_value());
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.connect = 200ms;
    Error err;
    auto ex = co_await pool.send(*ep, nullptr, make_request(*ep, "/models"), t, err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::connect_timeout) << to_string(err.kind);
    EXPECT_TRUE(is_timeout(err.kind));
    for (auto& f : fillers) {
      f.close();
    }
  });
}

TEST(ClientTest, UnresolvableHostIsResolveError) {
  // RFC 6761: ".invalid" names never resolve.
  const auto ep = Endpoint::parse("http://upstream.invalid/v1");
  ASSERT_TRUE(ep.has_value());
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    Timeouts t = relaxed();
    t.connect = 60s;  // a slow resolver must fail by itself, not by our clock
    t.total = 120s;
    auto ex = co_await pool.send(*ep, nullptr, make_request(*ep, "/models"), t, err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::resolve) << to_string(err.kind);
  });
}

TEST(ClientTest, StalledUpstreamIsFirstByteTimeout) {
  FakeUpstream fake;
  Response stall;
  stall.kind = Response::Kind::stall;
  fake.push(stall);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.first_byte = 200ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::first_byte_timeout) << to_string(err.kind);
    EXPECT_TRUE(is_timeout(err.kind));
    EXPECT_EQ(pool.idle_connections(), 0u);
  });
  EXPECT_EQ(fake.requests().size(), 1u);
}

// An Abort ends an exchange from outside (its client went away): the wait for the header ends at
// once with an error, the upstream sees the connection closed, and nothing is pooled.
TEST(ClientTest, AbortEndsTheWaitForTheHeader) {
  FakeUpstream fake;
  Response stall;
  stall.kind = Response::Kind::stall;
  fake.push(stall);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Abort abort;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          co_await wait_until(ioc, [&] { return fake.requests().size() == 1; });
          abort.fire();
        },
        asio::detached);
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err,
                                 &abort);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_TRUE(abort.fired());
    EXPECT_EQ(err.kind, ErrorKind::reset) << to_string(err.kind);  // not a timeout
    EXPECT_EQ(pool.idle_connections(), 0u);
    co_await wait_until(ioc, [&] { return fake.abandoned() == 1; });
  });
  EXPECT_EQ(fake.abandoned(), 1u);
  // Fired before a send, the send fails without a byte out.
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Abort abort;
    abort.fire();
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err,
                                 &abort);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::reset);
  });
  EXPECT_EQ(fake.requests().size(), 1u);
}

// The same in the middle of a body: the pending read ends, the failure is sticky, and the
// connection is closed, not pooled. An exchange that ended leaves its Abort harmless.
TEST(ClientTest, AbortEndsAStalledBodyAndAFinishedExchangeIsOutOfItsReach) {
  FakeUpstream fake;
  Response r = chunked({"data: a\n\n", "data: b\n\n"});
  r.stall_after_chunks = 1;
  fake.push(r);
  fake.push(chunked({"data: c\n\n"}));
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Abort abort;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err,
                                 &abort);
    CO_ASSERT_TRUE(ex != nullptr);
    std::string piece;
    CO_ASSERT_TRUE(co_await ex->read_some(piece, err));
    EXPECT_EQ(piece, "data: a\n\n");
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          co_await pause(ioc, 20ms);
          abort.fire();
        },
        asio::detached);
    piece.clear();
    EXPECT_FALSE(co_await ex->read_some(piece, err));
    EXPECT_TRUE(err);
    EXPECT_FALSE(ex->done());
    ex.reset();
    EXPECT_EQ(pool.idle_connections(), 0u);
    co_await wait_until(ioc, [&] { return fake.abandoned() == 1; });

    // A later exchange completes and is pooled; firing its Abort after it ended changes nothing.
    Abort later;
    auto next = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(),
                                   err, &later);
    CO_ASSERT_TRUE(next != nullptr);
    auto pieces = co_await read_pieces(*next, err);
    EXPECT_EQ(join(pieces), "data: c\n\n");
    next.reset();
    later.fire();
    EXPECT_EQ(pool.idle_connections(), 1u);
  });
  EXPECT_EQ(fake.abandoned(), 1u);
}

// An upstream that accepts but never reads: the write of a request larger than the socket
// buffers stalls, and the first-byte timeout (which bounds the write too) ends it.
// A request far larger than the socket takes at once: what it takes goes first, the rest as the
// upstream reads; the upstream gets every byte once, in order.
TEST(ClientTest, ARequestLargerThanTheSocketTakesAtOnceArrivesWhole) {
  FakeUpstream fake;
  Response scripted;
  scripted.body = R"({"ok":true})";
  fake.push(scripted);
  const Endpoint ep = endpoint_of(fake);
  std::string big(24 << 20, ' ');
  for (std::size_t i = 0; i < big.size(); i += 4096) {
    big[i] = static_cast<char>('a' + (i / 4096) % 26);  // a misplaced piece shows
  }
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions", big), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    std::string body;
    EXPECT_TRUE(co_await ex->read_all(body, 1 << 20, err));
    EXPECT_EQ(body, R"({"ok":true})");
  });
  const auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body.size(), big.size());
  EXPECT_TRUE(requests[0].body == big);
}

/// A splice of `slices` ranges of `original`, each followed by new bytes, and what it reads as.
std::pair<Splice, std::string> pieced(const std::string& original, std::size_t slices) {
  Splice splice;
  std::string whole;
  const std::size_t step = original.size() / slices;
  for (std::size_t k = 0; k < slices; ++k) {
    std::string marker = "<";  // (appended: GCC 12 warns on `"<" + ...` with -Wrestrict)
    marker.append(std::to_string(k)).push_back('>');
    splice.keep(k * step, step);
    splice.add(marker);
    whole.append(original, k * step, step).append(marker);
  }
  return {std::move(splice), std::move(whole)};
}

// A spliced body (more pieces than one system call gathers, more bytes than the socket takes at
// once) arrives whole and in order, with its length announced; over TLS too, where the pieces
// are joined first.
TEST(ClientTest, ASplicedBodyArrivesWholeAndInOrder) {
  std::string lent(12 << 20, ' ');
  for (std::size_t i = 0; i < lent.size(); i += 4096) {
    lent[i] = static_cast<char>('a' + (i / 4096) % 26);
  }
  for (const bool tls : {false, true}) {
    FakeUpstream fake(tls ? tls_options() : FakeUpstreamOptions{});
    Response scripted;
    scripted.body = R"({"ok":true})";
    fake.push(scripted);
    const Endpoint ep = endpoint_of(fake);
    auto ctx = tls ? tls_context(certs("ca.pem")) : nullptr;
    Request req{http::verb::post, ep.base_path + "/chat/completions", 11};
    auto [splice, whole] = pieced(lent, 40);
    req.body(std::move(splice), lent);
    EXPECT_EQ(req.body_size(), whole.size());
    EXPECT_EQ(req.body_pieces(), 80u);
    run([&](asio::io_context& ioc) -> asio::awaitable<void> {
      Pool pool(ioc.get_executor());
      Error err;
      auto ex = co_await pool.send(ep, ctx.get(), std::move(req), relaxed(), err);
      CO_ASSERT_TRUE(ex != nullptr);
      std::string body;
      EXPECT_TRUE(co_await ex->read_all(body, 1 << 20, err));
      EXPECT_EQ(body, R"({"ok":true})");
    });
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 1u) << (tls ? "tls" : "plain");
    EXPECT_EQ(requests[0].header("content-length"), std::to_string(whole.size()));
    EXPECT_EQ(requests[0].body.size(), whole.size());
    EXPECT_TRUE(requests[0].body == whole) << (tls ? "tls" : "plain");
  }
}

TEST(ClientTest, AnUpstreamThatNeverReadsTheRequestIsFirstByteTimeout) {
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    const auto ep = Endpoint::parse(
        "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/v1");
    CO_ASSERT_TRUE(ep.has_value());
    std::optional<asio::ip::tcp::socket> held;  // accepted, never read
    acceptor.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (!ec) {
        held.emplace(std::move(s));
      }
    });
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.first_byte = 200ms;
    Error err;
    auto ex = co_await pool.send(
        *ep, nullptr, make_request(*ep, "/chat/completions", std::string(64 << 20, 'x')), t, err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::first_byte_timeout) << to_string(err.kind);
    EXPECT_TRUE(held.has_value());
    EXPECT_EQ(pool.idle_connections(), 0u);
  });
}

TEST(ClientTest, StalledBodyIsIdleTimeout) {
  FakeUpstream fake;
  Response r = chunked({"data: a\n\n", "data: b\n\n"});
  r.stall_after_chunks = 1;
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.idle = 200ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    CO_ASSERT_TRUE(ex != nullptr);
    auto pieces = co_await read_pieces(*ex, err);
    EXPECT_EQ(join(pieces), "data: a\n\n");
    EXPECT_EQ(err.kind, ErrorKind::idle_timeout) << to_string(err.kind);
    EXPECT_FALSE(ex->done());
    std::string more;
    EXPECT_FALSE(co_await ex->read_some(more, err));  // the failure is sticky
    EXPECT_EQ(err.kind, ErrorKind::idle_timeout);
    ex.reset();
    EXPECT_EQ(pool.idle_connections(), 0u);
  });
}

// The body's idle timeout is one lazily armed timer: a stream whose events keep coming within
// the idle timeout outlives it many times over, and the timer fires, finds the deadline moved on
// and re-arms, without cutting it.
TEST(ClientTest, AStreamPacedWithinTheIdleTimeoutOutlivesIt) {
  FakeUpstream fake;
  fake.push(chunked(std::vector<std::string>(12, "data: x\n\n"), 40ms));
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.idle = 150ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    CO_ASSERT_TRUE(ex != nullptr);
    auto pieces = co_await read_pieces(*ex, err);
    EXPECT_FALSE(err) << to_string(err.kind);
    EXPECT_EQ(join(pieces).size(), 12 * std::string_view("data: x\n\n").size());
    EXPECT_TRUE(ex->done());
  });
}

// A stream that stalls after many events is cut at the idle timeout all the same: the re-armed
// timer fires at the last event's deadline.
TEST(ClientTest, AStreamThatStallsAfterManyEventsIsIdleTimeout) {
  FakeUpstream fake;
  Response r = chunked(std::vector<std::string>(10, "data: x\n\n"), 30ms);
  r.stall_after_chunks = 8;
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.idle = 150ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    CO_ASSERT_TRUE(ex != nullptr);
    auto pieces = co_await read_pieces(*ex, err);
    EXPECT_EQ(join(pieces).size(), 8 * std::string_view("data: x\n\n").size());
    EXPECT_EQ(err.kind, ErrorKind::idle_timeout) << to_string(err.kind);
    EXPECT_FALSE(ex->done());
    ex.reset();
    EXPECT_EQ(pool.idle_connections(), 0u);
  });
}

// The idle timeout times the upstream's reads only: a caller that waits between two reads (a
// slow client being written to) longer than the idle timeout does not cut the upstream.
TEST(ClientTest, TimeBetweenReadsIsNotTheUpstreamsIdleTime) {
  FakeUpstream fake;
  fake.push(chunked({"data: a\n\n", "data: b\n\n", "data: c\n\n"}));
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.idle = 100ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    CO_ASSERT_TRUE(ex != nullptr);
    std::string first;
    CO_ASSERT_TRUE(co_await ex->read_some(first, err));
    co_await pause(ioc, 350ms);  // the timer armed by that read fires meanwhile
    auto rest = co_await read_pieces(*ex, err);
    EXPECT_FALSE(err) << to_string(err.kind);
    EXPECT_EQ(first + join(rest), "data: a\n\ndata: b\n\ndata: c\n\n");
    EXPECT_TRUE(ex->done());
    ex.reset();
    EXPECT_EQ(pool.idle_connections(), 1u);
  });
}

/// Reads the rest of the body with read_some, each read waking `wake` after it began; counts the
/// reads that ended so, with nothing read.
asio::awaitable<std::string> read_waking(Exchange& ex, Error& err, std::chrono::milliseconds wake,
                                         int& wakes, int max_wakes = 1000) {
  std::string body;
  for (;;) {
    const std::size_t before = body.size();
    if (!co_await ex.read_some(body, err, Clock::now() + wake)) {
      break;
    }
    if (body.size() == before && ++wakes >= max_wakes) {
      break;
    }
  }
  co_return body;
}

Response paused_stream() {
  Response r;
  r.chunks = {Chunk{"data: a\n\n", 0ms}, Chunk{"data: b\n\n", 300ms}, Chunk{"data: c\n\n", 0ms}};
  return r;
}

// A read past its wake-up time returns with nothing, and the exchange reads on from where it was:
// every byte once, in order, the connection kept for the next exchange.
TEST(ClientTest, AReadEndsEmptyAtItsWakeUpTimeAndTheStreamReadsOnIntact) {
  FakeUpstream fake;
  fake.push(paused_stream());
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    int wakes = 0;
    const std::string body = co_await read_waking(*ex, err, 40ms, wakes);
    EXPECT_FALSE(err) << to_string(err.kind);
    EXPECT_EQ(body, "data: a\n\ndata: b\n\ndata: c\n\n");
    EXPECT_GE(wakes, 2);
    EXPECT_TRUE(ex->done());
    ex.reset();
    EXPECT_EQ(pool.idle_connections(), 1u);
  });
}

// The same over TLS: a read cancelled at its wake-up time consumed nothing of the TLS stream.
TEST(ClientTest, OverTlsAReadEndsEmptyAtItsWakeUpTimeAndTheStreamReadsOnIntact) {
  FakeUpstream fake(tls_options());
  fake.push(paused_stream());
  fake.push(chunked({"sec", "ure"}));
  const Endpoint ep = endpoint_of(fake);
  auto ctx = tls_context(certs("ca.pem"));
  ASSERT_NE(ctx, nullptr);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, ctx.get(), make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    int wakes = 0;
    const std::string body = co_await read_waking(*ex, err, 40ms, wakes);
    EXPECT_FALSE(err) << to_string(err.kind) << ": " << err.ec.message();
    EXPECT_EQ(body, "data: a\n\ndata: b\n\ndata: c\n\n");
    EXPECT_GE(wakes, 2);
    ex.reset();
    // The connection is sound: the next exchange runs on it.
    auto next =
        co_await pool.send(ep, ctx.get(), make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(next != nullptr);
    std::string second;
    EXPECT_TRUE(co_await next->read_all(second, 1024, err));
    EXPECT_EQ(second, "secure");
    EXPECT_EQ(pool.connections_opened(), 1u);
  });
}

// Waking does not restart the idle timeout: an upstream silent after its first event is cut at
// `idle` after that event, however often its reader woke meanwhile.
TEST(ClientTest, WakingReadsDoNotResetTheIdleTimeout) {
  FakeUpstream fake;
  Response r = chunked({"data: a\n\n", "data: b\n\n"});
  r.stall_after_chunks = 1;
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.idle = 200ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    CO_ASSERT_TRUE(ex != nullptr);
    int wakes = 0;
    const std::string body = co_await read_waking(*ex, err, 30ms, wakes, 200);
    EXPECT_EQ(body, "data: a\n\n");
    EXPECT_EQ(err.kind, ErrorKind::idle_timeout) << to_string(err.kind) << " after " << wakes;
    EXPECT_GE(wakes, 1);
    EXPECT_LT(wakes, 200);
  });
}

TEST(ClientTest, TotalDeadlineBoundsAStreamThatKeepsTrickling) {
  FakeUpstream fake;
  // Each piece arrives well within the idle timeout, but the whole would take seconds.
  fake.push(chunked(std::vector<std::string>(100, "data: x\n\n"), 50ms));
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.total = 300ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    CO_ASSERT_TRUE(ex != nullptr);
    co_await read_pieces(*ex, err);
    EXPECT_EQ(err.kind, ErrorKind::total_timeout) << to_string(err.kind);
    EXPECT_FALSE(ex->done());
  });
}

TEST(ClientTest, TotalDeadlineBoundsTheWaitForTheHeader) {
  FakeUpstream fake;
  Response slow;
  slow.header_delay = 5s;
  fake.push(slow);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Timeouts t = relaxed();
    t.total = 200ms;
    Error err;
    auto ex = co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), t, err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::total_timeout) << to_string(err.kind);
  });
}

TEST(ClientTest, ResetMidStreamIsReset) {
  FakeUpstream fake;
  Response r = chunked({"data: a\n\n", "data: b\n\n", "data: c\n\n"});
  r.reset_after_chunks = 1;
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    auto pieces = co_await read_pieces(*ex, err);
    EXPECT_EQ(err.kind, ErrorKind::reset) << to_string(err.kind);
    EXPECT_FALSE(is_timeout(err.kind));
    EXPECT_FALSE(ex->done());
  });
}

TEST(ClientTest, CloseBeforeTheResponseIsReset) {
  FakeUpstream fake;
  Response r;
  r.kind = Response::Kind::reset_on_read;
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::reset) << to_string(err.kind);
  });
  EXPECT_EQ(fake.requests().size(), 1u);
}

TEST(ClientTest, RateLimitIsJustAResponse) {
  FakeUpstream fake;
  Response limited;
  limited.status = 429;
  limited.headers = {{"Retry-After", "7"}};
  limited.body = testing::error_body("Rate limit reached", "requests", "rate_limit_exceeded");
  fake.push(limited);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    EXPECT_FALSE(err);
    EXPECT_EQ(ex->status(), 429u);
    EXPECT_EQ(ex->headers()[http::field::retry_after], "7");
    std::string body;
    EXPECT_TRUE(co_await ex->read_all(body, 1 << 20, err));
    EXPECT_NE(body.find("rate_limit_exceeded"), std::string::npos);
  });
}

TEST(ClientTest, ReadAllRefusesAnAnnouncedBodyOverTheLimit) {
  FakeUpstream fake;
  Response big;
  big.body = std::string(4096, 'x');
  fake.push(big);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    std::string body;
    EXPECT_FALSE(co_await ex->read_all(body, 1000, err));
    EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind);
    EXPECT_LE(body.size(), 1000u);
    ex.reset();
    EXPECT_EQ(pool.idle_connections(), 0u);
  });
}

TEST(ClientTest, ReadAllStopsAChunkedBodyOverTheLimit) {
  FakeUpstream fake;
  fake.push(chunked(std::vector<std::string>(8, std::string(512, 'y'))));
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    CO_ASSERT_TRUE(ex != nullptr);
    std::string body;
    EXPECT_FALSE(co_await ex->read_all(body, 1000, err));
    EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind);
  });
}

TEST(ClientTest, OversizeResponseHeaderIsTooLarge) {
  FakeUpstream fake;
  Response r;
  r.headers = {{"x-padding", std::string(4096, 'p')}};
  fake.push(r);
  const Endpoint ep = endpoint_of(fake);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    PoolSettings settings;
    settings.max_header_bytes = 1024;
    Pool pool(ioc.get_executor(), settings);
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind);
  });
}

// ---------------------------------------------------------------------------------------------
// Hostile upstreams: every cap fails the exchange with an Error, never a throw or unbounded
// memory (before the caps, a 64 KiB trailer threw std::length_error out of io_context::run).

constexpr std::string_view kChunkedHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

Response raw(std::string bytes, std::string repeat = {}, std::size_t repeat_bytes = 0) {
  Response r;
  r.kind = Response::Kind::raw;
  r.body = std::move(bytes);
  r.repeat = std::move(repeat);
  r.repeat_bytes = repeat_bytes;
  return r;
}

/// Sends one request to `fake` and reads the whole answer with read_all (limit 1 MiB); returns
/// the error (none when the answer was read) and the body in `body`.
Error fetch(FakeUpstream& fake, std::string& body, PoolSettings settings = {}) {
  const Endpoint ep = endpoint_of(fake);
  Error result;
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor(), settings);
    Error err;
    auto ex =
        co_await pool.send(ep, nullptr, make_request(ep, "/chat/completions"), relaxed(), err);
    if (ex) {
      co_await ex->read_all(body, 1 << 20, err);
    }
    result = err;
  });
  return result;
}

// A read woken midway through an event (its size line and half its data in, the rest 300 ms
// later) reads on from where the parse stopped, on plain TCP and on TLS: the event arrives whole.
TEST(ClientTest, AReadWokenMidEventReadsTheRestWhole) {
  for (const bool tls : {false, true}) {
    FakeUpstream fake(tls ? tls_options() : FakeUpstreamOptions{});
    Response r = raw(std::string(kChunkedHead) + "9\r\ndata: a\n\n\r\n9\r\ndat");
    r.chunks = {Chunk{"a: b\n\n\r\n", 300ms}, Chunk{"0\r\n\r\n", 0ms}};
    fake.push(r);
    const Endpoint ep = endpoint_of(fake);
    auto ctx = tls ? tls_context(certs("ca.pem")) : nullptr;

    run([&](asio::io_context& ioc) -> asio::awaitable<void> {
      Pool pool(ioc.get_executor());
      Error err;
      auto ex =
          co_await pool.send(ep, ctx.get(), make_request(ep, "/chat/completions"), relaxed(), err);
      CO_ASSERT_TRUE(ex != nullptr);
      int wakes = 0;
      const std::string body = co_await read_waking(*ex, err, 40ms, wakes);
      EXPECT_FALSE(err) << tls << ": " << to_string(err.kind) << ": " << err.ec.message();
      EXPECT_EQ(body, "data: a\n\ndata: b\n\n") << tls;
      EXPECT_GE(wakes, 2) << tls;
      EXPECT_TRUE(ex->done()) << tls;
    });
  }
}

TEST(HostileUpstreamTest, TrailerOf64KiBIsTooLargeNotAThrow) {
  FakeUpstream fake;
  fake.push(raw(std::string(kChunkedHead) +
                "5\r\nhello\r\n0\r\nX-Trailer: " + std::string(70'000, 't') + "\r\n\r\n"));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind) << ": " << err.ec.message();
}

TEST(HostileUpstreamTest, SmallTrailerIsAccepted) {
  FakeUpstream fake;
  fake.push(raw(std::string(kChunkedHead) +
                "5\r\nhello\r\n0\r\nX-Trailer: " + std::string(2'000, 't') + "\r\n\r\n"));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_FALSE(err) << to_string(err.kind);
  EXPECT_EQ(body, "hello");
}

TEST(HostileUpstreamTest, EndlessTrailerIsCutOff) {
  FakeUpstream fake;
  fake.push(raw(std::string(kChunkedHead) + "5\r\nhello\r\n0\r\nX-Trailer: ", "t", 64 << 20));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind);
}

TEST(HostileUpstreamTest, EndlessChunkExtensionIsCutOff) {
  FakeUpstream fake;
  fake.push(raw(std::string(kChunkedHead) + "5;name=", "v", 64 << 20));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind);
}

TEST(HostileUpstreamTest, ChunkExtensionFloodIsProtocolError) {
  // Each chunk carries a short extension; together they pass the per-response cap.
  std::string bytes(kChunkedHead);
  for (int i = 0; i < 200; ++i) {
    bytes += "1;ext=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nx\r\n";
  }
  bytes += "0\r\n\r\n";
  FakeUpstream fake;
  fake.push(raw(bytes));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_EQ(err.kind, ErrorKind::protocol) << to_string(err.kind);
}

TEST(HostileUpstreamTest, EndlessHeaderLineIsTooLarge) {
  FakeUpstream fake;
  fake.push(raw("HTTP/1.1 200 OK\r\nX-Endless: ", "h", 64 << 20));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind);
}

TEST(HostileUpstreamTest, HeaderValueOf64KiBIsTooLargeEvenWithALargerConfiguredLimit) {
  FakeUpstream fake;
  fake.push(raw("HTTP/1.1 200 OK\r\nX-Big: " + std::string(70'000, 'b') +
                "\r\nContent-Length: 2\r\n\r\nok"));
  PoolSettings settings;
  settings.max_header_bytes = 1 << 20;  // clamped to kMaxResponseHeaderBytes
  std::string body;
  const Error err = fetch(fake, body, settings);
  EXPECT_EQ(err.kind, ErrorKind::too_large) << to_string(err.kind);
}

TEST(HostileUpstreamTest, ContentLengthWithChunkedIsProtocolError) {
  FakeUpstream fake;
  fake.push(
      raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nhello\r\n0\r\n\r\n"));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_EQ(err.kind, ErrorKind::protocol) << to_string(err.kind);
}

TEST(HostileUpstreamTest, InterimResponsesAreSkipped) {
  FakeUpstream fake;
  fake.push(
      raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_FALSE(err) << to_string(err.kind);
  EXPECT_EQ(body, "ok");
}

TEST(HostileUpstreamTest, EndlessInterimResponsesAreProtocolError) {
  FakeUpstream fake;
  std::string bytes;
  for (int i = 0; i < 20; ++i) {  // far more than kMaxInterimResponses
    bytes += "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n";
  }
  bytes += "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  fake.push(raw(bytes));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_EQ(err.kind, ErrorKind::protocol) << to_string(err.kind);
}

TEST(HostileUpstreamTest, LargeChunkedBodiesStillStreamThroughTheCappedBuffer) {
  // Chunks larger than the framing cap are body, not framing: they pass.
  std::string bytes(kChunkedHead);
  const std::string piece(100'000, 'z');
  for (int i = 0; i < 3; ++i) {
    bytes += "186a0\r\n" + piece + "\r\n";
  }
  bytes += "0\r\n\r\n";
  FakeUpstream fake;
  fake.push(raw(bytes));
  std::string body;
  const Error err = fetch(fake, body);
  EXPECT_FALSE(err) << to_string(err.kind);
  EXPECT_EQ(body.size(), 300'000u);
}

// ---------------------------------------------------------------------------------------------
// TLS

TEST(ClientTest, TlsWithTheTestCaSucceedsAndKeepsTheConnection) {
  FakeUpstream fake(tls_options());
  Response a;
  a.body = "secure";
  fake.push(a);
  fake.push(chunked({"sec", "ure", "!"}));
  const Endpoint ep = endpoint_of(fake);
  ASSERT_TRUE(ep.tls);
  auto ctx = tls_context(certs("ca.pem"));
  ASSERT_NE(ctx, nullptr);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    for (std::string expected : {"secure", "secure!"}) {
      Error err;
      auto ex =
          co_await pool.send(ep, ctx.get(), make_request(ep, "/chat/completions"), relaxed(), err);
      CO_ASSERT_TRUE(ex != nullptr);
      std::string body;
      EXPECT_TRUE(co_await ex->read_all(body, 1024, err));
      EXPECT_FALSE(err) << to_string(err.kind) << ": " << err.ec.message();
      EXPECT_EQ(body, expected);
    }
    EXPECT_EQ(pool.connections_opened(), 1u);
  });
  EXPECT_EQ(fake.connections(), 1u);
  ASSERT_EQ(fake.requests().size(), 2u);
  EXPECT_EQ(fake.requests()[0].header("host"), ep.host_header());
}

TEST(ClientTest, TlsWithAnUnrelatedCaIsTlsError) {
  FakeUpstream fake(tls_options());
  const Endpoint ep = endpoint_of(fake);
  auto ctx = tls_context(certs("other_ca.pem"));
  ASSERT_NE(ctx, nullptr);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex = co_await pool.send(ep, ctx.get(), make_request(ep, "/models"), relaxed(), err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::tls) << to_string(err.kind);
  });
  EXPECT_TRUE(fake.requests().empty());
}

TEST(ClientTest, HttpsEndpointWithoutTlsContextIsTlsError) {
  const auto ep = Endpoint::parse("https://127.0.0.1:1/v1");
  ASSERT_TRUE(ep.has_value());
  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ex = co_await pool.send(*ep, nullptr, make_request(*ep, "/models"), relaxed(), err);
    EXPECT_EQ(ex.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::tls);
  });
}

/// Writes a self-signed certificate naming only DNS:localhost (no IP address) and its key, so
/// one server is trusted under one name and not under its IP literal.
void write_localhost_only_certificate(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost");
  ASSERT_NE(san, nullptr);
  X509_add_ext(cert, san, -1);
  X509_EXTENSION_free(san);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);

  FILE* f = std::fopen(cert_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

TEST(ClientTest, TlsCertificateForAnotherNameIsTlsError) {
  const std::string dir = ::testing::TempDir();
  const std::string cert = dir + "upstream_client_test_localhost.pem";
  const std::string key = dir + "upstream_client_test_localhost.key";
  ASSERT_NO_FATAL_FAILURE(write_localhost_only_certificate(cert, key));
  FakeUpstream fake(tls_options(cert, key));
  auto ctx = tls_context(cert);  // trusted as its own anchor: only the name can fail
  ASSERT_NE(ctx, nullptr);
  const std::string port = std::to_string(fake.port());
  const auto by_name = Endpoint::parse("https://localhost:" + port + "/v1");
  const auto by_ip = Endpoint::parse("https://127.0.0.1:" + port + "/v1");
  ASSERT_TRUE(by_name && by_ip);

  run([&](asio::io_context& ioc) -> asio::awaitable<void> {
    Pool pool(ioc.get_executor());
    Error err;
    auto ok =
        co_await pool.send(*by_name, ctx.get(),
                           make_request(*by_name, "/models", "", http::verb::get), relaxed(), err);
    EXPECT_NE(ok.get(), nullptr) << to_string(err.kind) << ": " << err.ec.message();
    ok.reset();
    auto refused =
        co_await pool.send(*by_ip, ctx.get(), make_request(*by_ip, "/models"), relaxed(), err);
    EXPECT_EQ(refused.get(), nullptr);
    EXPECT_EQ(err.kind, ErrorKind::tls) << to_string(err.kind);
  });
  EXPECT_EQ(fake.requests().size(), 1u);
  std::remove(cert.c_str());
  std::remove(key.c_str());
}

}  // namespace
}  // namespace sb::upstream
