#include "gateway/state/redis_client.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <random>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>

#include "gateway/state/redis_connection.h"

namespace sb::gateway::redis {
using namespace detail;  // NOLINT: the client's own internals

// ---------------------------------------------------------------------------------------------

Script::Script(std::string source) : source_(std::move(source)) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(source_.data(), source_.size(), md, &len, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA1 unavailable");  // at startup, when scripts are built
  }
  static constexpr char kHex[] = "0123456789abcdef";
  sha1_.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    sha1_.push_back(kHex[md[i] >> 4]);
    sha1_.push_back(kHex[md[i] & 0xf]);
  }
}

// ---------------------------------------------------------------------------------------------

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  enum class State { idle, connecting, ready, backoff };

  Impl(asio::any_io_executor ex, const config::StateSettings& s)
      : executor(std::move(ex)),
        command_timeout(s.command_timeout),
        reconnect_min(s.reconnect_min),
        reconnect_max(std::max(s.reconnect_max, s.reconnect_min)),
        connect_signal(executor),
        rng(std::random_device{}()) {
    settings.host = s.host;
    settings.port = s.port;
    settings.tls = s.tls;
    settings.server_name = s.server_name.empty() ? s.host : s.server_name;
    settings.ca_file = s.ca_file;
    settings.username = s.username;
    settings.password = s.password;
    settings.database = s.database;
    settings.connect_timeout = s.connect_timeout;
    error_code ec;
    const bool v6 = asio::ip::make_address(s.host, ec).is_v6() && !ec;
    server = (v6 ? "[" + s.host + "]" : s.host) + ":" + std::to_string(s.port);
    settings.prefix = "redis " + server + ": ";
  }

  asio::any_io_executor executor;
  ConnectSettings settings;
  Clock::duration command_timeout;
  Clock::duration reconnect_min;
  Clock::duration reconnect_max;
  std::string server;  // host:port

  std::unique_ptr<ssl::context> tls_context;
  State state = State::idle;
  std::shared_ptr<Connection> conn;   // the ready connection, or the one being set up
  asio::steady_timer connect_signal;  // cancelled to wake the commands awaiting a connect
  std::uint64_t generation = 0;       // bumped by close(): a connect in flight is abandoned
  Result last_failure;
  unsigned failures = 0;
  Clock::time_point retry_at{};
  std::minstd_rand rng;

  Result failure(Error e, std::string message) const {
    return detail::failure(settings.prefix, e, std::move(message));
  }

  // --- commands ---------------------------------------------------------------------------

  // `args` must stay alive until the command completes (callers keep it in their frame).
  asio::awaitable<Result> command(const std::vector<std::string>& args) {
    std::shared_ptr<Impl> self = shared_from_this();  // in-flight commands keep us alive
    if (args.empty()) {
      co_return failure(Error::protocol, "empty command");
    }
    if (state != State::ready) {
      Result r = co_await ensure_connected();
      if (!r.ok()) {
        co_return r;
      }
    }
    if (state != State::ready || !conn) {
      co_return failure(Error::io, "connection closed");  // lost between the connect and now
    }
    std::shared_ptr<Connection> c = conn;
    auto p = std::make_shared<Pending>(executor);
    try {
      append_command(c->out, args);
    } catch (const std::bad_alloc&) {
      co_return failure(Error::io, "out of memory encoding a command");
    }
    c->waiting.push_back(p);
    start_writer(c);
    p->timer.expires_after(command_timeout);
    co_await p->timer.async_wait(use_tuple);
    if (!p->done) {
      // Its reply may still come: the connection must go, or that reply would answer the next
      // command.
      fail_connection(c, Error::timeout,
                      "no reply within " + ms(command_timeout) + "; connection closed");
    }
    co_return std::move(p->result);
  }

  void start_writer(const std::shared_ptr<Connection>& c) {
    if (c->writing || c->closed || c->out.empty()) {
      return;
    }
    c->writing = true;
    asio::co_spawn(executor, write_loop(shared_from_this(), c), asio::detached);
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<Impl> self,
                                          std::shared_ptr<Connection> c) {
    std::string sending;
    while (!c->closed && !c->out.empty()) {
      sending.clear();
      std::swap(sending, c->out);  // commands issued while this write runs go in the next one
      auto [ec, n] = co_await c->write(asio::buffer(sending));
      (void)n;
      if (c->closed) {
        break;
      }
      if (ec) {
        self->fail_connection(c, Error::io, "write failed: " + describe(ec));
        break;
      }
    }
    c->writing = false;
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self,
                                         std::shared_ptr<Connection> c) {
    Reply reply;
    for (;;) {
      auto [ec, n] = co_await c->read_some(asio::buffer(c->buf));
      if (c->closed) {
        co_return;
      }
      if (ec) {
        self->fail_connection(c, Error::io, "connection lost: " + describe(ec));
        co_return;
      }
      c->parser.feed(std::string_view(c->buf.data(), n));
      for (;;) {
        const ReplyParser::Status st = c->parser.next(reply);
        if (st == ReplyParser::Status::need_more) {
          break;
        }
        if (st == ReplyParser::Status::failed) {
          self->fail_connection(c, c->parser.error(), c->parser.message() + "; connection closed");
          co_return;
        }
        if (c->waiting.empty()) {
          self->fail_connection(c, Error::protocol, "a reply nobody asked for; connection closed");
          co_return;
        }
        std::shared_ptr<Pending> p = std::move(c->waiting.front());
        c->waiting.pop_front();
        p->done = true;
        p->result = make_result(self->settings.prefix, std::move(reply));
        reply = Reply{};
        p->timer.cancel();
      }
    }
  }

  // Closes `c` and fails every command pending on it with `e`.
  void fail_connection(const std::shared_ptr<Connection>& c, Error e, const std::string& message) {
    if (c->closed) {
      return;
    }
    c->shutdown();
    c->out.clear();
    std::deque<std::shared_ptr<Pending>> waiting = std::move(c->waiting);
    c->waiting.clear();
    for (const std::shared_ptr<Pending>& p : waiting) {
      p->done = true;
      p->result = failure(e, message);
      p->timer.cancel();
    }
    if (conn == c && state == State::ready) {
      conn.reset();
      state = State::idle;  // the next command connects again, at once
    }
  }

  // --- connecting -------------------------------------------------------------------------

  asio::awaitable<Result> ensure_connected() {
    if (state == State::backoff) {
      const Clock::time_point now = Clock::now();
      if (now < retry_at) {
        // Wrong credentials or a certificate that does not verify stay what they are while the
        // client waits to try again: a caller (the start-up check) must not take them for a
        // server that is merely down.
        const Error kind = last_failure.error == Error::auth || last_failure.error == Error::tls
                               ? last_failure.error
                               : Error::connect;
        co_return failure(kind, "not connected; next attempt in " + ms(retry_at - now) +
                                    " (last error: " + last_failure.message + ")");
      }
    }
    if (state == State::idle || state == State::backoff) {
      state = State::connecting;
      connect_signal.expires_at(Clock::time_point::max());
      asio::co_spawn(executor, run_connect(shared_from_this(), generation), asio::detached);
    }
    co_await connect_signal.async_wait(use_tuple);
    if (state == State::ready) {
      co_return Result{};
    }
    if (last_failure.ok()) {
      co_return failure(Error::io, "connection closed");
    }
    co_return last_failure;
  }

  static asio::awaitable<void> run_connect(std::shared_ptr<Impl> self, std::uint64_t gen) {
    auto c = std::make_shared<Connection>();
    self->conn = c;
    Result r;
    if (self->settings.tls && !self->tls_context) {
      std::string error;
      self->tls_context = make_tls_context(self->settings.ca_file, error);
      if (!self->tls_context) {
        r = self->failure(Error::tls, "TLS: " + error);
      }
    }
    if (r.ok()) {
      r = co_await establish(*c, self->settings, self->tls_context.get(), self->executor,
                             Clock::now() + self->settings.connect_timeout);
    }
    if (gen != self->generation) {
      c->shutdown();  // close() ran meanwhile and has already woken the waiters
      co_return;
    }
    if (r.ok()) {
      self->state = State::ready;
      self->failures = 0;
      asio::co_spawn(self->executor, read_loop(self, c), asio::detached);
      self->start_writer(c);
    } else {
      c->shutdown();
      self->conn.reset();
      self->state = State::backoff;
      ++self->failures;
      self->retry_at = Clock::now() + self->backoff();
      self->last_failure = std::move(r);
    }
    self->connect_signal.cancel();
  }

  // reconnect.min doubling per consecutive failure up to reconnect.max, then a random point in
  // its upper half so that replicas that lost Redis together do not come back in step.
  Clock::duration backoff() {
    Clock::duration d = reconnect_min;
    for (unsigned i = 1; i < failures && d < reconnect_max; ++i) {
      d *= 2;
    }
    d = std::min(d, reconnect_max);
    std::uniform_int_distribution<Clock::rep> jitter(d.count() / 2, d.count());
    return Clock::duration(jitter(rng));
  }

  void close() {
    ++generation;
    if (conn) {
      fail_connection(conn, Error::io, "connection closed");
      conn.reset();
    }
    const bool was_connecting = state == State::connecting;
    state = State::idle;
    if (was_connecting) {
      last_failure = failure(Error::io, "connection closed while connecting");
      connect_signal.cancel();
    }
  }
};

// ---------------------------------------------------------------------------------------------

Client::Client(asio::any_io_executor executor, const config::StateSettings& settings)
    : impl_(std::make_shared<Impl>(std::move(executor), settings)) {}

Client::~Client() {
  impl_->close();
}

asio::awaitable<Result> Client::command(std::vector<std::string> args) {
  std::shared_ptr<Impl> impl = impl_;
  co_return co_await impl->command(args);
}

asio::awaitable<Result> Client::eval(const Script& script, std::vector<std::string> keys,
                                     std::vector<std::string> args) {
  std::shared_ptr<Impl> impl = impl_;
  std::vector<std::string> a;
  a.reserve(3 + keys.size() + args.size());
  a.emplace_back("EVALSHA");
  a.push_back(script.sha1());
  a.push_back(std::to_string(keys.size()));
  std::move(keys.begin(), keys.end(), std::back_inserter(a));
  std::move(args.begin(), args.end(), std::back_inserter(a));
  Result r = co_await impl->command(a);
  if (r.error == Error::server && r.reply.str.starts_with("NOSCRIPT")) {
    a[0] = "EVAL";
    a[1] = script.source();
    r = co_await impl->command(a);
  }
  co_return r;
}

asio::awaitable<Result> Client::ping() {
  std::shared_ptr<Impl> impl = impl_;
  const std::vector<std::string> ping{"PING"};
  Result r = co_await impl->command(ping);
  if (r.error == Error::server && r.reply.str.starts_with("NOAUTH")) {
    r.error = Error::auth;
    r.message = impl->settings.prefix + "authentication required (" + r.reply.str +
                "): set state.password or state.password_file";
  }
  co_return r;
}

bool Client::connected() const {
  return impl_->state == Impl::State::ready;
}

void Client::close() {
  impl_->close();
}

const std::string& Client::server() const {
  return impl_->server;
}

}  // namespace sb::gateway::redis
