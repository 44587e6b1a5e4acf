#include "gateway/redis_client.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <random>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace sb::gateway::redis {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;

std::string ms(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

/// One command waiting for its reply.
struct Pending {
  explicit Pending(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;  // the command's timeout; cancelled to wake it when answered
  bool done = false;
  Result result;
};

/// One TCP or TLS connection with its parser and the commands pipelined on it, oldest first.
struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<ssl::stream<beast::tcp_stream>> tls;
  ReplyParser parser;
  std::deque<std::shared_ptr<Pending>> waiting;
  std::string out;  // encoded commands not yet handed to the writer
  bool writing = false;
  bool closed = false;
  std::array<char, kReadChunk> buf{};

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *plain; }

  asio::awaitable<std::tuple<error_code, std::size_t>> write(asio::const_buffer b) {
    return tls ? asio::async_write(*tls, b, use_tuple) : asio::async_write(*plain, b, use_tuple);
  }
  asio::awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer b) {
    return tls ? tls->async_read_some(b, use_tuple) : plain->async_read_some(b, use_tuple);
  }
  // No TLS close_notify: a connection is closed only when it is being abandoned, and whatever
  // the server still sends is of no use.
  void shutdown() {
    closed = true;
    lowest().close();
  }
};

Result make_result(const std::string& prefix, Reply&& reply) {
  Result r;
  if (reply.type == Reply::Type::error) {
    r.error = Error::server;
    r.message = prefix + reply.str;
  }
  r.reply = std::move(reply);
  return r;
}

std::string describe(const error_code& ec) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "closed by the server";
  }
  return ec.message();
}

std::unique_ptr<ssl::context> make_tls_context(const std::string& ca_file, std::string& error) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    error = "cannot require TLS 1.2 or newer";
    return nullptr;
  }
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  error_code ec;
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      error = "cannot load the system CA paths: " + ec.message();
      return nullptr;
    }
  } else {
    // Only the configured CAs: a private Redis is verified against its own CA, nothing else.
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      error = "cannot load CA file '" + ca_file + "': " + ec.message();
      return nullptr;
    }
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) {
    error = "cannot set the verify mode: " + ec.message();
    return nullptr;
  }
  return ctx;
}

}  // namespace

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
        host(s.host),
        port(s.port),
        use_tls(s.tls),
        server_name(s.server_name.empty() ? s.host : s.server_name),
        ca_file(s.ca_file),
        username(s.username),
        password(s.password),
        database(s.database),
        connect_timeout(s.connect_timeout),
        command_timeout(s.command_timeout),
        reconnect_min(s.reconnect_min),
        reconnect_max(std::max(s.reconnect_max, s.reconnect_min)),
        connect_signal(executor),
        rng(std::random_device{}()) {
    error_code ec;
    const bool v6 = asio::ip::make_address(host, ec).is_v6() && !ec;
    server = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
    prefix = "redis " + server + ": ";
  }

  asio::any_io_executor executor;
  std::string host;
  std::uint16_t port;
  bool use_tls;
  std::string server_name;
  std::string ca_file;
  std::string username;
  config::SecretString password;
  unsigned database;
  Clock::duration connect_timeout;
  Clock::duration command_timeout;
  Clock::duration reconnect_min;
  Clock::duration reconnect_max;
  std::string server;
  std::string prefix;  // "redis host:port: " before every message

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
    Result r;
    r.error = e;
    r.message = prefix + message;
    return r;
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
        p->result = make_result(self->prefix, std::move(reply));
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
        co_return failure(Error::connect, "not connected; next attempt in " + ms(retry_at - now) +
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
    Result r = co_await self->establish(*c, Clock::now() + self->connect_timeout);
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

  asio::awaitable<Result> establish(Connection& c, Clock::time_point deadline) {
    if (use_tls && !tls_context) {
      std::string error;
      tls_context = make_tls_context(ca_file, error);
      if (!tls_context) {
        co_return failure(Error::tls, "TLS: " + error);
      }
    }
    if (use_tls) {
      c.tls = std::make_unique<ssl::stream<beast::tcp_stream>>(executor, *tls_context);
    } else {
      c.plain = std::make_unique<beast::tcp_stream>(executor);
    }
    const std::string timed_out = "connect timed out after " + ms(connect_timeout);
    tcp::resolver::results_type endpoints;
    error_code ec;
    const asio::ip::address literal = asio::ip::make_address(host, ec);
    const bool is_literal = !ec;
    if (is_literal) {
      endpoints = tcp::resolver::results_type::create(tcp::endpoint(literal, port), host,
                                                      std::to_string(port));
    } else {
      Result r = co_await resolve(deadline, endpoints);
      if (!r.ok()) {
        co_return r;
      }
    }
    beast::tcp_stream& stream = c.lowest();
    stream.expires_at(deadline);
    auto [cec, ep] = co_await stream.async_connect(endpoints, use_tuple);
    (void)ep;
    if (cec) {
      co_return cec == beast::error::timeout
          ? failure(Error::timeout, timed_out)
          : failure(Error::connect, "connect failed: " + cec.message());
    }
    stream.socket().set_option(tcp::no_delay(true), ec);

    if (c.tls) {
      SSL* native = c.tls->native_handle();
      // SNI carries host names only (RFC 6066 §3 forbids IP literals in it).
      error_code name_ec;
      (void)asio::ip::make_address(server_name, name_ec);
      const bool name_is_literal = !name_ec;
      if (!name_is_literal && SSL_set_tlsext_host_name(native, server_name.c_str()) != 1) {
        co_return failure(Error::tls, "TLS: cannot set the server name");
      }
      error_code vec;
      c.tls->set_verify_mode(ssl::verify_peer, vec);
      if (!vec) {
        c.tls->set_verify_callback(ssl::host_name_verification(server_name), vec);
      }
      if (vec) {
        co_return failure(Error::tls, "TLS: cannot set up verification: " + vec.message());
      }
      auto [hec] = co_await c.tls->async_handshake(ssl::stream_base::client, use_tuple);
      if (hec) {
        if (hec == beast::error::timeout) {
          co_return failure(Error::timeout, timed_out + " (TLS handshake)");
        }
        const long verify = SSL_get_verify_result(native);
        if (verify != X509_V_OK) {
          co_return failure(Error::tls, std::string("TLS: certificate verify failed (") +
                                            X509_verify_cert_error_string(verify) + ")");
        }
        co_return failure(Error::tls, "TLS: handshake failed: " + hec.message());
      }
    }

    if (!password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!username.empty()) {
        auth.push_back(username);
      }
      auth.emplace_back(password.data(), password.size());
      Result r = co_await setup_command(c, std::move(auth), timed_out);
      if (r.error == Error::server) {
        co_return failure(Error::auth, "authentication failed: " + r.reply.str);
      }
      if (!r.ok()) {
        co_return r;
      }
    }
    if (database != 0) {
      std::vector<std::string> select{"SELECT", std::to_string(database)};
      Result r = co_await setup_command(c, std::move(select), timed_out);
      if (r.error == Error::server) {
        co_return failure(Error::server,
                          "SELECT " + std::to_string(database) + " failed: " + r.reply.str);
      }
      if (!r.ok()) {
        co_return r;
      }
    }
    stream.expires_never();  // from here on, each command has its own timeout
    co_return Result{};
  }

  // One command during the connect (AUTH, SELECT), under the connect deadline already set on
  // the stream. The request is wiped afterwards: it may hold the password.
  asio::awaitable<Result> setup_command(Connection& c, std::vector<std::string> args,
                                        const std::string& timed_out) {
    std::string out;
    append_command(out, args);
    for (std::string& a : args) {
      std::fill(a.begin(), a.end(), '\0');
    }
    auto [wec, wn] = co_await c.write(asio::buffer(out));
    (void)wn;
    std::fill(out.begin(), out.end(), '\0');
    if (wec) {
      co_return wec == beast::error::timeout ? failure(Error::timeout, timed_out)
                                             : failure(Error::io, "write failed: " + describe(wec));
    }
    Reply reply;
    for (;;) {
      const ReplyParser::Status st = c.parser.next(reply);
      if (st == ReplyParser::Status::reply) {
        break;
      }
      if (st == ReplyParser::Status::failed) {
        co_return failure(c.parser.error(), c.parser.message());
      }
      auto [rec, n] = co_await c.read_some(asio::buffer(c.buf));
      if (rec) {
        co_return rec == beast::error::timeout
            ? failure(Error::timeout, timed_out)
            : failure(Error::io, "connection lost while connecting: " + describe(rec));
      }
      c.parser.feed(std::string_view(c.buf.data(), n));
    }
    co_return make_result(prefix, std::move(reply));
  }

  // getaddrinfo cannot be interrupted, so the resolve runs detached in shared state and we wait
  // on a timer that its completion cancels; on timeout we walk away and the late completion
  // frees it.
  asio::awaitable<Result> resolve(Clock::time_point deadline,
                                  tcp::resolver::results_type& endpoints) {
    struct PendingResolve {
      explicit PendingResolve(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
      tcp::resolver resolver;
      asio::steady_timer timer;
      error_code ec;
      tcp::resolver::results_type results;
      bool done = false;
    };
    auto pending = std::make_shared<PendingResolve>(executor);
    pending->timer.expires_at(deadline);
    pending->resolver.async_resolve(
        host, std::to_string(port),
        [pending](const error_code& ec, tcp::resolver::results_type results) {
          pending->ec = ec;
          pending->results = std::move(results);
          pending->done = true;
          pending->timer.cancel();
        });
    co_await pending->timer.async_wait(use_tuple);
    if (!pending->done) {
      pending->resolver.cancel();
      co_return failure(Error::timeout,
                        "resolving '" + host + "' timed out after " + ms(connect_timeout));
    }
    if (pending->ec || pending->results.empty()) {
      co_return failure(Error::connect,
                        "cannot resolve '" + host + "': " +
                            (pending->ec ? pending->ec.message() : std::string("no address")));
    }
    endpoints = std::move(pending->results);
    co_return Result{};
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
    r.message = impl->prefix + "authentication required (" + r.reply.str +
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
