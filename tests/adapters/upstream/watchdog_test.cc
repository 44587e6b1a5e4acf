// The socket watchdog on its own: it closes the socket once the current deadline passes, never
// while stopped, re-arms when the deadline moved on, and leaves no wait pending once cancelled.

#include "adapters/upstream/watchdog.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

namespace sb::upstream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = Watchdog::Clock;

class WatchdogTest : public ::testing::Test {
 protected:
  WatchdogTest() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}), socket_(ioc_) {
    socket_.connect(acceptor_.local_endpoint());
    accepted_.emplace(acceptor_.accept());
  }

  /// Runs the io_context for `d` (or until it runs out of work).
  void run_for(std::chrono::milliseconds d) {
    ioc_.restart();
    ioc_.run_for(d);
  }

  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  Watchdog::Socket socket_;
  std::optional<asio::ip::tcp::socket> accepted_;
};

TEST_F(WatchdogTest, ClosesTheSocketOnceTheDeadlinePasses) {
  Watchdog watch(ioc_.get_executor());
  watch.start(Clock::now() + 300ms, socket_);
  run_for(20ms);
  EXPECT_TRUE(socket_.is_open());
  EXPECT_FALSE(watch.fired());
  run_for(2s);  // returns once the socket is closed: nothing else is pending
  EXPECT_FALSE(socket_.is_open());
  EXPECT_TRUE(watch.fired());
}

TEST_F(WatchdogTest, AStoppedWatchNeverCloses) {
  Watchdog watch(ioc_.get_executor());
  watch.start(Clock::now() + 20ms, socket_);
  watch.stop();
  run_for(150ms);  // the armed timer fires and finds nothing watched
  EXPECT_TRUE(socket_.is_open());
  EXPECT_FALSE(watch.fired());
}

TEST_F(WatchdogTest, ALaterDeadlineIsKeptWithoutClosingEarly) {
  Watchdog watch(ioc_.get_executor());
  watch.start(Clock::now() + 200ms, socket_);
  // The deadline moves on every 50 ms, as a stream's reads move it, for three times the first.
  for (int i = 0; i < 12; ++i) {
    run_for(50ms);
    ASSERT_TRUE(socket_.is_open()) << "closed at step " << i;
    watch.start(Clock::now() + 200ms, socket_);
  }
  EXPECT_FALSE(watch.fired());
  run_for(2s);  // then no more moves: it closes at the last deadline
  EXPECT_FALSE(socket_.is_open());
  EXPECT_TRUE(watch.fired());
}

TEST_F(WatchdogTest, AnEarlierDeadlineReArmsAtOnce) {
  Watchdog watch(ioc_.get_executor());
  watch.start(Clock::now() + 10s, socket_);
  watch.start(Clock::now() + 20ms, socket_);
  run_for(2s);  // returns at the earlier deadline, far before the first
  EXPECT_FALSE(socket_.is_open());
  EXPECT_TRUE(watch.fired());
}

TEST_F(WatchdogTest, CancelLeavesNoWaitPending) {
  Watchdog watch(ioc_.get_executor());
  watch.start(Clock::now() + 10s, socket_);
  watch.cancel();
  const auto started = Clock::now();
  ioc_.restart();
  ioc_.run();  // returns once the cancelled wait's completion ran: no 10 s wait is left
  EXPECT_LT(Clock::now() - started, 5s);
  EXPECT_TRUE(socket_.is_open());
  EXPECT_FALSE(watch.fired());
}

TEST_F(WatchdogTest, DestroyingAnArmedWatchdogIsSafe) {
  {
    Watchdog watch(ioc_.get_executor());
    watch.start(Clock::now() + 20ms, socket_);
  }
  run_for(150ms);  // the cancelled wait completes after its watchdog is gone
  EXPECT_TRUE(socket_.is_open());
}

// At its wake-up time the pending read ends as cancelled, the socket stays open, and the next
// watch (without a wake-up time) reads what comes after; the deadline still closes it later.
TEST_F(WatchdogTest, AWakeUpCancelsThePendingReadAndLeavesTheSocketOpen) {
  Watchdog watch(ioc_.get_executor());
  char byte = 0;
  boost::system::error_code first;
  watch.start(Clock::now() + 10s, socket_, Clock::now() + 30ms);
  socket_.async_read_some(asio::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
    first = ec;
    ioc_.stop();  // the deadline's wait stays pending
  });
  run_for(2s);
  EXPECT_EQ(first, asio::error::operation_aborted);
  EXPECT_TRUE(watch.woke());
  EXPECT_FALSE(watch.fired());
  EXPECT_TRUE(socket_.is_open());
  EXPECT_FALSE(watch.finish(first) == boost::beast::error::timeout);

  watch.start(Clock::now() + 10s, socket_);
  EXPECT_FALSE(watch.woke());
  asio::write(*accepted_, asio::buffer("x", 1));
  std::size_t got = 0;
  socket_.async_read_some(asio::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    got = n;
    ioc_.stop();
  });
  run_for(2s);
  watch.stop();
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(byte, 'x');
  EXPECT_FALSE(watch.woke());
  watch.cancel();
}

// A deadline before the wake-up time closes the socket, as without one.
TEST_F(WatchdogTest, ADeadlineBeforeTheWakeUpTimeStillCloses) {
  Watchdog watch(ioc_.get_executor());
  watch.start(Clock::now() + 30ms, socket_, Clock::now() + 10s);
  run_for(2s);
  EXPECT_FALSE(socket_.is_open());
  EXPECT_TRUE(watch.fired());
  EXPECT_FALSE(watch.woke());
}

}  // namespace
}  // namespace sb::upstream
