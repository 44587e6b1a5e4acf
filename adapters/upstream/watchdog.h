#pragma once
// A deadline for the operations on one socket, kept by one timer armed lazily (nginx's lazy
// timers): moving the deadline later, as every read or write of a stream does, touches no timer;
// the timer fires at the deadline it was armed with, finds the later one and re-arms once. When
// the current deadline has passed, the socket is closed, which ends the pending operation. The
// upstream client times its exchanges with it, and the gateway's sessions their client's reads
// and writes.
//
// A watch may also name a wake-up time before its deadline: once it passes, the socket's pending
// operations are cancelled (not closed), so that a read waiting on a silent peer returns to its
// caller, which may do something else (write a keep-alive to its own client) and read again.
//
// Beast's stream timeouts arm and cancel a timer around every operation (and run the cancelled
// wait's completion); a relayed stream reads and writes once per event, so that cost was per
// event.
//
// Thread-safety: none; used from the socket's io_context thread only.

#include <chrono>
#include <cstdint>
#include <memory>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

namespace sb::upstream {

class Watchdog {
 public:
  using Executor = boost::asio::io_context::executor_type;
  using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
  using Clock = std::chrono::steady_clock;

  explicit Watchdog(const Executor& executor);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Watches `socket` (which must outlive the watch) until stop(): closed once `deadline` passes.
  /// Call it before each operation; an operation that ends with an error after fired() was cut.
  void start(Clock::time_point deadline, Socket& socket);
  /// The same, and once `wake` passes (before the deadline) the socket's pending operations are
  /// cancelled: they end with boost::asio::error::operation_aborted and woke() is true until the
  /// next start(). Only for a read: a write cancelled midway would leave its stream unusable.
  void start(Clock::time_point deadline, Socket& socket, Clock::time_point wake);
  /// Ends the watch (the timer may stay armed, to be reused by the next start()).
  void stop();
  /// Ends the watch after an operation that ended with `ec`: its error, or
  /// boost::beast::error::timeout when the watchdog closed the socket under it.
  boost::system::error_code finish(boost::system::error_code ec);
  /// Ends the watch and disarms the timer, so that no wait is left pending on the io_context.
  void cancel();
  /// True once a deadline passed and the socket was closed.
  bool fired() const;
  /// True when the current watch's wake-up time passed and its operations were cancelled.
  bool woke() const;

 private:
  struct State;
  static void arm(const std::shared_ptr<State>& s, Clock::time_point at);
  static void on_wait(const std::weak_ptr<State>& weak, std::uint64_t tick, bool aborted);

  std::shared_ptr<State> state_;
};

}  // namespace sb::upstream
