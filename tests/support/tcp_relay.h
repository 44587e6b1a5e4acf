#pragma once
// An in-process TCP relay on 127.0.0.1 for fault injection between a client and a server
// (e.g. a slow or unreachable Redis): it forwards bytes both ways, optionally delaying every
// chunk, swallowing everything (black hole), or resetting every relayed connection. It runs on
// its own thread and io_context. Links no production code.
//
// Thread-safety: the setters and cut_all() may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace sb::testing {

class TcpRelay {
 public:
  /// Listens on 127.0.0.1 (a free port) and relays to 127.0.0.1:`target_port`.
  explicit TcpRelay(std::uint16_t target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  std::uint16_t port() const;

  /// Every chunk read from either side waits this long before it is forwarded (0 = none).
  void set_delay(std::chrono::milliseconds delay);
  /// On: connections are accepted and read, but nothing is forwarded either way (new ones do
  /// not even reach the target). Off: forwarding resumes on connections that have a target.
  void set_black_hole(bool on);
  /// Resets (RST) every relayed connection, both sides; the relay keeps accepting.
  void cut_all();
  /// Connections accepted so far.
  std::size_t accepted() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace sb::testing
