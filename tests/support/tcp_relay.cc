#include "tests/support/tcp_relay.h"

#include <array>
#include <list>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace sb::testing {
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Session {
  explicit Session(tcp::socket c) : client(std::move(c)), server(client.get_executor()) {}
  tcp::socket client;
  tcp::socket server;
  bool connected = false;

  void reset() {
    error_code ec;
    for (tcp::socket* s : {&client, &server}) {
      if (s->is_open()) {
        s->set_option(asio::socket_base::linger(true, 0), ec);  // close = RST
        s->close(ec);
      }
    }
  }
};
}  // namespace

struct TcpRelay::Impl : std::enable_shared_from_this<TcpRelay::Impl> {
  explicit Impl(std::uint16_t target) : target_port(target) {}

  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::uint16_t target_port;
  std::atomic<std::int64_t> delay_ms{0};
  std::atomic<bool> black_hole{false};
  std::atomic<std::size_t> accepted{0};
  std::list<std::weak_ptr<Session>> sessions;  // io thread only
  std::thread thread;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) {
        co_return;
      }
      ++accepted;
      auto s = std::make_shared<Session>(std::move(socket));
      sessions.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
      sessions.push_back(s);
      asio::co_spawn(io, run(s), asio::detached);
    }
  }

  asio::awaitable<void> run(std::shared_ptr<Session> s) {
    if (!black_hole) {
      auto [ec] = co_await s->server.async_connect(
          tcp::endpoint(asio::ip::address_v4::loopback(), target_port), use_tuple);
      if (ec) {
        s->reset();
        co_return;
      }
      s->connected = true;
      asio::co_spawn(io, pump(s, s->server, s->client), asio::detached);
    }
    co_await pump(s, s->client, s->server);
  }

  asio::awaitable<void> pump(std::shared_ptr<Session> s, tcp::socket& from, tcp::socket& to) {
    std::array<char, 16 * 1024> buf;
    asio::steady_timer timer(io);
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), use_tuple);
      if (ec) {
        s->reset();
        co_return;
      }
      if (black_hole || !s->connected) {
        continue;
      }
      if (const std::int64_t d = delay_ms; d > 0) {
        timer.expires_after(std::chrono::milliseconds(d));
        co_await timer.async_wait(use_tuple);
      }
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), use_tuple);
      (void)wn;
      if (wec) {
        s->reset();
        co_return;
      }
    }
  }
};

TcpRelay::TcpRelay(std::uint16_t target_port) : impl_(std::make_shared<Impl>(target_port)) {
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([impl = impl_] { impl->io.run(); });
}

TcpRelay::~TcpRelay() {
  asio::post(impl_->io, [impl = impl_] {
    error_code ec;
    impl->acceptor.close(ec);
    for (const std::weak_ptr<Session>& w : impl->sessions) {
      if (auto s = w.lock()) {
        s->reset();
      }
    }
    impl->io.stop();
  });
  impl_->thread.join();
}

std::uint16_t TcpRelay::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void TcpRelay::set_delay(std::chrono::milliseconds delay) {
  impl_->delay_ms = delay.count();
}

void TcpRelay::set_black_hole(bool on) {
  impl_->black_hole = on;
}

void TcpRelay::cut_all() {
  asio::post(impl_->io, [impl = impl_] {
    for (const std::weak_ptr<Session>& w : impl->sessions) {
      if (auto s = w.lock()) {
        s->reset();
      }
    }
  });
}

std::size_t TcpRelay::accepted() const {
  return impl_->accepted;
}

}  // namespace sb::testing
