#include "adapters/upstream/watchdog.h"

#include <algorithm>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/system/error_code.hpp>

namespace sb::upstream {

namespace {
constexpr Watchdog::Clock::time_point kNever = Watchdog::Clock::time_point::max();
}  // namespace

struct Watchdog::State {
  explicit State(const Executor& ex) : timer(ex) {}

  boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>, Executor> timer;
  Socket* socket = nullptr;  ///< the watched socket; null while not watching
  Clock::time_point deadline = kNever;
  Clock::time_point wake = kNever;   ///< the watch's wake-up time; kNever once woken or unset
  Clock::time_point armed = kNever;  ///< the pending wait's expiry; kNever: no wait pending
  std::uint64_t tick = 0;            ///< the pending wait's number: a superseded one is ignored
  bool fired = false;
  bool woke = false;
};

Watchdog::Watchdog(const Executor& executor) : state_(std::make_shared<State>(executor)) {}

Watchdog::~Watchdog() {
  cancel();
}

void Watchdog::arm(const std::shared_ptr<State>& s, Clock::time_point at) {
  s->armed = at;
  s->timer.expires_at(at);  // a wait still pending completes as aborted
  s->timer.async_wait(
      [weak = std::weak_ptr<State>(s), tick = ++s->tick](const boost::system::error_code& ec) {
        on_wait(weak, tick, static_cast<bool>(ec));
      });
}

void Watchdog::on_wait(const std::weak_ptr<State>& weak, std::uint64_t tick, bool aborted) {
  const std::shared_ptr<State> s = weak.lock();
  if (aborted || s == nullptr || tick != s->tick) {
    return;  // cancelled, re-armed since, or the watchdog is gone
  }
  s->armed = kNever;
  if (s->socket == nullptr) {
    return;  // not watching: stay disarmed until the next start()
  }
  const Clock::time_point now = Clock::now();
  if (now < s->deadline && now >= s->wake) {
    s->wake = kNever;
    s->woke = true;
    boost::system::error_code ignored;
    s->socket->cancel(ignored);  // the read returns; its caller reads again, watched again
    if (s->deadline != kNever) {
      arm(s, s->deadline);
    }
    return;
  }
  if (now < s->deadline) {
    arm(s, std::min(s->deadline, s->wake));  // the deadline moved on since this wait was armed
    return;
  }
  s->fired = true;
  boost::system::error_code ignored;
  s->socket->close(ignored);
}

void Watchdog::start(Clock::time_point deadline, Socket& socket) {
  start(deadline, socket, kNever);
}

void Watchdog::start(Clock::time_point deadline, Socket& socket, Clock::time_point wake) {
  State& s = *state_;
  s.socket = &socket;
  s.deadline = deadline;
  s.wake = wake;
  s.woke = false;
  const Clock::time_point first = std::min(deadline, wake);
  if (s.armed <= first) {
    return;  // fires first, and re-arms for this deadline then
  }
  arm(state_, first);
}

void Watchdog::stop() {
  state_->socket = nullptr;
  state_->deadline = kNever;
  state_->wake = kNever;
}

boost::system::error_code Watchdog::finish(boost::system::error_code ec) {
  stop();
  return ec && state_->fired ? boost::system::error_code(boost::beast::error::timeout) : ec;
}

void Watchdog::cancel() {
  stop();
  State& s = *state_;
  if (s.armed != kNever) {
    s.armed = kNever;
    ++s.tick;
    s.timer.cancel();
  }
}

bool Watchdog::fired() const {
  return state_->fired;
}

bool Watchdog::woke() const {
  return state_->woke;
}

}  // namespace sb::upstream
