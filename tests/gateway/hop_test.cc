// hop_to (gateway/observability/hop.h): a coroutine's work run on another thread's executor.

#include "gateway/observability/hop.h"

#include <memory>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace sb::gateway {
namespace {

namespace asio = boost::asio;

/// An io_context run by a thread of its own until destroyed.
class Home {
 public:
  Home() : thread_([this] { io_.run(); }) {}
  ~Home() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  asio::io_context::executor_type executor() { return io_.get_executor(); }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{asio::make_work_guard(io_)};
  std::thread thread_;
};

asio::awaitable<std::thread::id> where_am_i() {
  co_return std::this_thread::get_id();
}

asio::awaitable<int> throws() {
  throw std::runtime_error("from home");
  co_return 0;
}

TEST(HopTest, TheWorkRunsThereAndTheCallerResumesOnItsOwnThread) {
  Home home;
  asio::io_context caller;
  std::thread::id ran_on;
  std::thread::id resumed_on;
  asio::co_spawn(
      caller,
      [&]() -> asio::awaitable<void> {
        ran_on = co_await hop_to(home.executor(), where_am_i());
        resumed_on = std::this_thread::get_id();
      },
      asio::detached);
  caller.run();  // returns only once the caller has resumed and finished
  EXPECT_EQ(ran_on, home.id());
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

TEST(HopTest, AnExceptionThereIsThrownInTheCaller) {
  Home home;
  asio::io_context caller;
  std::string caught;
  asio::co_spawn(
      caller,
      [&]() -> asio::awaitable<void> {
        try {
          co_await hop_to(home.executor(), throws());
        } catch (const std::runtime_error& e) {
          caught = e.what();
        }
      },
      asio::detached);
  caller.run();
  EXPECT_EQ(caught, "from home");
}

// A worker stops and destroys its io_context as soon as its coroutine has its answer, while the
// home thread may still be unwinding its side of the hop: nothing there may still refer to the
// worker's context. (A co_spawn with use_awaitable fails this: its home side gives back the work
// it counted on the context after the caller resumed, on a context freed by then, and the next
// one, allocated at the same address, loses a count and returns from run() before its coroutine
// has resumed; under the sanitizers, a use after free.)
TEST(HopTest, TheCallersContextMayGoAsSoonAsTheCallerResumes) {
  Home home;
  for (int i = 0; i < 2000; ++i) {
    auto caller = std::make_unique<asio::io_context>();
    std::thread::id got;
    asio::co_spawn(
        *caller,
        [&]() -> asio::awaitable<void> {
          got = co_await hop_to(home.executor(), where_am_i());
          caller->stop();
        },
        asio::detached);
    caller->run();
    caller.reset();
    ASSERT_EQ(got, home.id());
  }
}

}  // namespace
}  // namespace sb::gateway
