// The socket watchdog on its own: it closes the socket once the current deadline passes, never
// while stopped, re-arms when the deadline moved on, and leaves no wait pending once cancelled.

#include "adapters/upstream/watchdog.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

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

}  // namespace
}  // namespace sb::upstream
