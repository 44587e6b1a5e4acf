// The connection layer (net/session) on its own: a session of the real code over a loopback TCP
// pair inside this process, a scripted Handler in place of the data plane, and a client that
// misbehaves on purpose (bytes one at a time, stalls, resets, oversized and malformed input).
// What it checks is what every handler relies on: framing and limits enforced before a handler
// sees a request, answers in order, and a session that always ends and gives back what it held.

#include "gateway/net/session.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "gateway/net/handler.h"
#include "gateway/net/limits.h"
#include "gateway/observability/access_log.h"
#include "gateway/observability/internal_errors.h"
#include "gateway/observability/metrics.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

// What the handler saw and how it answers; touched by the worker thread and the test thread.
class ScriptedHandler final : public Handler {
 public:
  std::atomic<bool> refuse{false};     ///< refuse every request with a body, from its header
  std::atomic<bool> fail{false};       ///< throw from handle()
  std::atomic<bool> keep{true};        ///< what handle() returns
  std::atomic<int> pieces_written{0};  ///< /flood and /paced: pieces of the answer written
  std::atomic<bool> write_failed{false};

  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

  asio::awaitable<bool> refuse_before_body(RequestContext& ctx) override {
    if (!refuse) {
      co_return false;
    }
    co_await ctx.downstream.write(
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\nConnection: close\r\n\r\nno key");
    co_return true;
  }

  asio::awaitable<bool> handle(RequestContext& ctx) override {
    const std::string line =
        std::string(ctx.request.target()) + ":" + std::string(ctx.request.body());
    {
      std::lock_guard lock(mu_);
      seen_.push_back(line);
    }
    if (fail) {
      throw std::runtime_error("scripted failure");
    }
    if (ctx.request.target() == "/flood" || ctx.request.target() == "/paced") {
      co_return co_await stream_answer(ctx, ctx.request.target() == "/paced");
    }
    const std::string body = "echo " + line;
    std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n" + ctx.common_headers() + "\r\n" + body;
    const auto ec = co_await ctx.downstream.write(answer);
    co_return !ec && keep;
  }

 private:
  // A chunked answer in pieces: /flood writes 64 KiB pieces (up to 64 MiB) as fast as the
  // connection takes them, each partly at once when the socket is nearly full; /paced writes 12
  // small ones 50 ms apart.
  asio::awaitable<bool> stream_answer(RequestContext& ctx, bool paced) {
    boost::system::error_code ec = co_await ctx.downstream.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + ctx.common_headers() + "\r\n");
    const std::string piece =
        paced ? "5\r\npiece\r\n" : "10000\r\n" + std::string(65536, 'x') + "\r\n";
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int i = 0; !ec && i < (paced ? 12 : 1024); ++i) {
      if (paced) {
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      // As the data plane writes: what the socket takes at once, then the rest after a wait.
      const asio::const_buffer b(piece.data(), piece.size());
      const std::span<const asio::const_buffer> bufs(&b, 1);
      std::size_t now = 0;
      ec = {};
      if (!written_now(ctx.downstream, bufs, now)) {
        ec = co_await ctx.downstream.write(bufs, now);
      }
      pieces_written += ec ? 0 : 1;
    }
    if (!ec) {
      ec = co_await ctx.downstream.write("0\r\n\r\n");
    }
    write_failed = static_cast<bool>(ec);
    co_return !ec;
  }

  mutable std::mutex mu_;
  std::vector<std::string> seen_;
};

constexpr std::string_view kConfig = R"(
server:
  max_body_bytes: 1024
  max_header_bytes: 1024
  max_buffered_body_bytes: 1024
  header_timeout: 300ms
  idle_timeout: 300ms
backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:9/v1", model: m}
)";

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::load_string(kConfig, "session_test.yaml");
    ASSERT_TRUE(loaded.ok());
    std::vector<std::string> errors;
    worker_.snapshot = Snapshot::build(std::move(*loaded.config), shared_, nullptr, errors);
    ASSERT_TRUE(worker_.snapshot) << (errors.empty() ? "" : errors.front());
    connections_.max = 100;
    connections_.rejected = &registry_.counter("test_connections_rejected_total", "test", {});
    budget_.rejected = &registry_.counter("test_body_budget_rejected_total", "test", {});
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(worker_.ioc, accept_loop(), asio::detached);
    runner_ = std::thread([this] { worker_.ioc.run(); });
  }

  void TearDown() override {
    // Every session must end on its own once its client is gone: that is asserted, then the
    // worker stops (a session outliving its worker would be a leak in the server too).
    EXPECT_TRUE(settled()) << worker_.open_sessions.load() << " sessions still open, "
                           << budget_.held() << " body bytes held";
    asio::post(worker_.ioc, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      worker_.ioc.stop();
    });
    runner_.join();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(worker_.ioc, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        co_return;
      }
      connections_.open.fetch_add(1);
      start_session(worker_, std::move(socket), plane_, nullptr);
    }
  }

  /// Waits (bounded) until no session is open and no body byte is held.
  bool settled() {
    for (int i = 0; i < 500; ++i) {
      if (worker_.open_sessions.load() == 0 && budget_.held() == 0 &&
          connections_.open.load() == 0) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  /// A blocking client socket; reads give up after 5 s so that no test can hang.
  tcp::socket connect() {
    tcp::socket s(client_ioc_);
    s.connect({asio::ip::make_address("127.0.0.1"), port_});
    s.set_option(tcp::no_delay(true));
    timeval tv{5, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
  }

  static void send(tcp::socket& s, std::string_view bytes) {
    asio::write(s, asio::buffer(bytes.data(), bytes.size()));
  }

  /// Everything until the server closes (or the 5 s read timeout).
  static std::string read_all(tcp::socket& s) {
    std::string out;
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = s.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) {
        return out;
      }
    }
  }

  static http::response<http::string_body> read_response(tcp::socket& s,
                                                         beast::flat_buffer& buffer) {
    http::response<http::string_body> res;
    http::read(s, buffer, res);
    return res;
  }

  /// Closes with an RST instead of a FIN (SO_LINGER 0): a client that vanishes mid-request.
  static void reset(tcp::socket& s) {
    s.set_option(asio::socket_base::linger(true, 0));
    s.close();
  }

  metrics::Registry registry_;
  SharedState shared_{registry_};
  AccessLog access_log_{-1};
  InternalErrors errors_{registry_};
  Worker worker_{0, access_log_, errors_, upstream::PoolSettings{}};
  ConnectionLimit connections_;
  BodyBytesBudget budget_;
  ScriptedHandler handler_;
  PlaneContext plane_{Plane::data, handler_, connections_, budget_};
  tcp::acceptor acceptor_{worker_.ioc};
  unsigned short port_ = 0;
  std::thread runner_;
  asio::io_context client_ioc_;
};

TEST_F(SessionTest, PipelinedRequestsAreAnsweredInOrder) {
  auto s = connect();
  send(s,
       "POST /first HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
       "GET /second HTTP/1.1\r\nHost: t\r\n\r\n"
       "POST /third HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nz");
  beast::flat_buffer buffer;
  EXPECT_EQ(read_response(s, buffer).body(), "echo /first:abc");
  EXPECT_EQ(read_response(s, buffer).body(), "echo /second:");
  EXPECT_EQ(read_response(s, buffer).body(), "echo /third:z");
  s.close();
}

TEST_F(SessionTest, AHeaderAndBodyArrivingOneByteAtATimeAreReadWhole) {
  auto s = connect();
  const std::string request =
      "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world";
  for (const char c : request) {
    send(s, std::string_view(&c, 1));
  }
  beast::flat_buffer buffer;
  EXPECT_EQ(read_response(s, buffer).body(), "echo /slow:hello world");
  s.close();
}

TEST_F(SessionTest, AChunkedBodyReachesTheHandlerDecoded) {
  auto s = connect();
  send(s,
       "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
       "4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nTrailer: x\r\n\r\n");
  beast::flat_buffer buffer;
  EXPECT_EQ(read_response(s, buffer).body(), "echo /c:abcdefg");
  s.close();
}

TEST_F(SessionTest, AnOversizedHeaderIs431AndTheHandlerNeverRuns) {
  auto s = connect();
  send(s, "GET /big HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n");
  const std::string answer = read_all(s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 ")) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(handler_.seen().empty());
}

TEST_F(SessionTest, ABodyOverTheLimitIs413BeforeTheHandlerOrA100Continue) {
  auto s = connect();
  send(s, "POST /big HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
  const std::string answer = read_all(s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
  EXPECT_NE(answer.find("1024 bytes"), std::string::npos) << answer;
  EXPECT_TRUE(handler_.seen().empty());
}

TEST_F(SessionTest, AChunkedBodyGrowingPastTheLimitIs413) {
  auto s = connect();
  send(s, "POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 5; ++i) {
    send(s, "100\r\n" + std::string(256, 'x') + "\r\n");  // 5 x 256 > 1024
  }
  send(s, "0\r\n\r\n");
  const std::string answer = read_all(s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
  EXPECT_TRUE(handler_.seen().empty());
}

TEST_F(SessionTest, MalformedFramingIs400) {
  for (const std::string_view bad : {
           std::string_view("GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),  // smuggling shape
           std::string_view("GET /x HTTP/1.1\r\nHost: t\r\nBad Header: 1\r\n\r\n"),
           std::string_view("GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 2\r\n\r\nab"),
       }) {
    auto s = connect();
    send(s, bad);
    const std::string answer = read_all(s);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << bad << "\n-> " << answer;
  }
  EXPECT_TRUE(handler_.seen().empty());
}

TEST_F(SessionTest, AStalledHeaderIsClosedAtTheDeadlineWithoutAnAnswer) {
  auto s = connect();
  send(s, "POST /stall HTTP/1.1\r\nHost: t\r\n");  // never finished (slowloris)
  EXPECT_EQ(read_all(s), "");
  EXPECT_TRUE(handler_.seen().empty());
}

TEST_F(SessionTest, AnIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  auto s = connect();
  send(s, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
  beast::flat_buffer buffer;
  EXPECT_EQ(read_response(s, buffer).body(), "echo /one:");
  boost::system::error_code ec;
  char byte = 0;
  EXPECT_EQ(s.read_some(asio::buffer(&byte, 1), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

// A client that stops reading a long answer is cut once a write has waited the idle timeout
// (300 ms here), however many writes went before.
TEST_F(SessionTest, AClientThatStopsReadingIsClosedWhenAWriteStallsPastTheIdleTimeout) {
  auto s = connect();
  send(s, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
  for (int i = 0; i < 500 && handler_.pieces_written.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(settled());  // the session ended although the client never read or closed
  EXPECT_TRUE(handler_.write_failed.load());
  EXPECT_GT(handler_.pieces_written.load(), 1);
  EXPECT_LT(handler_.pieces_written.load(), 1024);
}

// Writes that each finish quickly keep a connection open far past the idle timeout: the timeout
// is per write, not for the whole answer.
TEST_F(SessionTest, AnAnswerWrittenInPiecesOutlivesTheIdleTimeout) {
  auto s = connect();
  send(s, "GET /paced HTTP/1.1\r\nHost: t\r\n\r\n");
  beast::flat_buffer buffer;
  const auto res = read_response(s, buffer);  // 12 pieces over about 600 ms
  std::string expected;
  for (int i = 0; i < 12; ++i) {
    expected += "piece";
  }
  EXPECT_EQ(res.body(), expected);
  EXPECT_EQ(handler_.pieces_written.load(), 12);
  EXPECT_FALSE(handler_.write_failed.load());
}

// A client that reads late and then steadily gets a 64 MiB answer whole and in order: each
// piece goes partly at once (what the full socket takes) and the rest by waiting for the client.
// The client reads through a fixed 64 KiB buffer, so that it keeps up with the server's per-write
// idle timeout even under the sanitizers (a growing 64 MiB string's copies would not).
TEST_F(SessionTest, ALargeAnswerToALateReaderArrivesWholeAndInOrder) {
  auto s = connect();
  send(s, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the send buffer fills
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  http::read_header(s, buffer, parser);
  std::vector<char> piece(64 * 1024);
  std::size_t total = 0;
  std::size_t not_x = 0;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    boost::system::error_code ec;
    http::read(s, buffer, parser, ec);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    ASSERT_FALSE(ec) << ec.message() << " after " << total << " bytes";
    const std::size_t got = piece.size() - parser.get().body().size;
    not_x += static_cast<std::size_t>(
        std::count_if(piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(got),
                      [](char c) { return c != 'x'; }));
    total += got;
  }
  EXPECT_EQ(total, 1024u * 65536u);
  EXPECT_EQ(not_x, 0u);
  EXPECT_EQ(handler_.pieces_written.load(), 1024);
  EXPECT_FALSE(handler_.write_failed.load());
}

TEST_F(SessionTest, AClientResettingMidBodyEndsTheSessionAndReturnsItsBudget) {
  auto s = connect();
  send(s, "POST /reset HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789");
  ASSERT_TRUE([&] {
    for (int i = 0; i < 500 && budget_.held() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return budget_.held() == 1000;  // the whole declared body's share, taken before reading it
  }());
  reset(s);
  EXPECT_TRUE(settled());
  EXPECT_TRUE(handler_.seen().empty());
}

TEST_F(SessionTest, WhenTheBodyBudgetIsSpentANewBodyIs503WithRetryAfter) {
  auto holder = connect();
  send(holder, "POST /hold HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nx");
  ASSERT_TRUE([&] {
    for (int i = 0; i < 500 && budget_.held() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return budget_.held() == 1000;
  }());
  auto s = connect();
  send(s, "POST /more HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'y'));
  const std::string answer = read_all(s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 503 ")) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  EXPECT_EQ(budget_.held(), 1000u) << "the refused request took nothing";
  reset(holder);
}

TEST_F(SessionTest, ARefusalFromTheHeaderComesBefore100ContinueAndTheBodyIsNeverRead) {
  handler_.refuse = true;
  auto s = connect();
  send(s, "POST /secret HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
  const std::string answer = read_all(s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 401 ")) << answer;
  EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << answer;
  EXPECT_TRUE(handler_.seen().empty());
}

TEST_F(SessionTest, Expect100ContinueIsAnsweredBeforeTheBodyIsSent) {
  auto s = connect();
  send(s, "POST /ask HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  std::string interim(25, '\0');
  asio::read(s, asio::buffer(interim.data(), interim.size()));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  send(s, "body");
  beast::flat_buffer buffer;
  EXPECT_EQ(read_response(s, buffer).body(), "echo /ask:body");
  s.close();
}

TEST_F(SessionTest, AHandlerThatThrowsGets500TheConnectionClosesAndItIsCounted) {
  handler_.fail = true;
  auto s = connect();
  send(s, "GET /boom HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string answer = read_all(s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 500 ")) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_NE(registry_.serialize().find("switchboard_internal_errors_total{where=\"session\"} 1"),
            std::string::npos);
}

TEST_F(SessionTest, AHandlerThatDoesNotKeepTheConnectionClosesItAfterItsAnswer) {
  handler_.keep = false;
  auto s = connect();
  send(s, "GET /once HTTP/1.1\r\nHost: t\r\n\r\nGET /never HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string answer = read_all(s);
  EXPECT_NE(answer.find("echo /once:"), std::string::npos) << answer;
  EXPECT_EQ(handler_.seen(), std::vector<std::string>{"/once:"});
}

TEST_F(SessionTest, ConnectionCloseFromTheClientIsHonoured) {
  auto s = connect();
  send(s, "GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const std::string answer = read_all(s);
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_NE(answer.find("echo /bye:"), std::string::npos) << answer;
}

}  // namespace
}  // namespace sb::gateway
