#pragma once
// A deadline for the operations on one socket, kept by one timer armed lazily (nginx's lazy
// timers): moving the deadline later, as every read or write of a stream does, touches no timer;
// the timer fires at the deadline it was armed with, finds the later one and re-arms once. When
// the current deadline has passed, the socket is closed, which ends the pending operation. The
// upstream client times its exchanges with it, and the gateway's sessions their client's reads
// and writes.
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
  /// Ends the watch (the timer may stay armed, to be reused by the next start()).
  void stop();
  /// Ends the watch after an operation that ended with `ec`: its error, or
  /// boost::beast::error::timeout when the watchdog closed the socket under it.
  boost::system::error_code finish(boost::system::error_code ec);
  /// Ends the watch and disarms the timer, so that no wait is left pending on the io_context.
  void cancel();
  /// True once a deadline passed and the socket was closed.
  bool fired() const;

 private:
  struct State;
  static void arm(const std::shared_ptr<State>& s, Clock::time_point at);
  static void on_wait(const std::weak_ptr<State>& weak, std::uint64_t tick, bool aborted);

  std::shared_ptr<State> state_;
};

}  // namespace sb::upstream
