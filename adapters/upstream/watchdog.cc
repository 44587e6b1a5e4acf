#include "adapters/upstream/watchdog.h"

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
  Clock::time_point armed = kNever;  ///< the pending wait's expiry; kNever: no wait pending
  std::uint64_t tick = 0;            ///< the pending wait's number: a superseded one is ignored
  bool fired = false;
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
  if (Clock::now() < s->deadline) {
    arm(s, s->deadline);  // the deadline moved on since this wait was armed
    return;
  }
  s->fired = true;
  boost::system::error_code ignored;
  s->socket->close(ignored);
}

void Watchdog::start(Clock::time_point deadline, Socket& socket) {
  State& s = *state_;
  s.socket = &socket;
  s.deadline = deadline;
  if (s.armed <= deadline) {
    return;  // fires first, and re-arms for this deadline then
  }
  arm(state_, deadline);
}

void Watchdog::stop() {
  state_->socket = nullptr;
  state_->deadline = kNever;
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

}  // namespace sb::upstream
