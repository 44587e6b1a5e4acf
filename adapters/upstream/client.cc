#include "adapters/upstream/client.h"

#include <algorithm>
#include <array>
#include <exception>
#include <unordered_map>
#include <utility>

#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/errc.hpp>

#include "adapters/upstream/connection.h"

namespace sb::upstream {
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;

std::string_view to_string(ErrorKind k) {
  // In ErrorKind's order.
  static constexpr std::array<std::string_view, 12> kNames{"none",
                                                           "resolve",
                                                           "connect",
                                                           "connect_timeout",
                                                           "tls",
                                                           "write",
                                                           "first_byte_timeout",
                                                           "idle_timeout",
                                                           "total_timeout",
                                                           "reset",
                                                           "protocol",
                                                           "too_large"};
  const auto i = static_cast<std::size_t>(k);
  return i < kNames.size() ? kNames[i] : "unknown";
}

bool is_timeout(ErrorKind k) {
  return k == ErrorKind::connect_timeout || k == ErrorKind::first_byte_timeout ||
         k == ErrorKind::idle_timeout || k == ErrorKind::total_timeout;
}

// ---------------------------------------------------------------------------------------------
// Exchange

void Abort::fire() {
  fired_ = true;
  if (conn_ != nullptr) {
    conn_->abort();
    conn_ = nullptr;
  }
}

Exchange::Exchange(Pool& pool, std::unique_ptr<Connection> conn, Timeouts timeouts,
                   Clock::time_point deadline, Abort* abort)
    : pool_(pool),
      conn_(std::move(conn)),
      timeouts_(timeouts),
      deadline_(deadline),
      abort_(abort) {}

Exchange::~Exchange() {
  if (abort_ != nullptr) {
    abort_->conn_ = nullptr;  // the connection goes back to the pool or closes: out of reach
  }
  // Reuse only a connection whose response ended exactly where its framing said, with no error
  // and keep-alive on both sides; anything else is closed (plain close, nothing to wait for).
  if (conn_ && conn_->reusable()) {
    pool_.release(std::move(conn_));
  }
}

unsigned Exchange::status() const {
  return conn_->head().status();
}

const ResponseHead& Exchange::headers() const {
  return conn_->head();
}

bool Exchange::done() const {
  return conn_->body_done();
}

namespace {

/// The Error of an exchange ended by its Abort.
Error aborted() {
  return {ErrorKind::reset, asio::error::make_error_code(asio::error::operation_aborted)};
}

/// Whether `abort` (optional) fired.
bool fired(const Abort* abort) {
  return abort != nullptr && abort->fired();
}

/// What every request gets: HTTP/1.1 (persistent by default, so no Connection header), Host and
/// Content-Length.
void prepare(const Endpoint& endpoint, Request& request) {
  request.version(11);
  thread_local std::string host;  // copied into the request at once: reused by every send
  endpoint.host_header(host);
  request.set(http::field::host, host);
  request.prepare_payload();
}

/// The Error an exception inside an exchange becomes.
Error internal_error() {
  return {ErrorKind::protocol,
          boost::system::errc::make_error_code(boost::system::errc::not_enough_memory)};
}

}  // namespace

// One coroutine, not a wrapper around another: this runs once per streamed event.
asio::awaitable<bool> Exchange::read_some(std::string& out, Error& err, Clock::time_point wake) {
  err = {};
  if (conn_->failure()) {
    err = conn_->failure();
    co_return false;
  }
  try {
    // Loop past reads that produced only framing (chunk sizes, extensions), so `true` always
    // means new body bytes and `false` means the end or an error. The idle timeout applies per
    // read; a read resumed after its wake-up time keeps the budget of the one that woke.
    while (!conn_->body_done()) {
      const detail::Budget budget = silent_until_ == Clock::time_point::max()
                                        ? detail::budget(timeouts_.idle, deadline_)
                                        : detail::budget_until(silent_until_, silent_total_);
      if (!conn_->begin_body_read(budget, out, err, wake)) {
        co_return false;
      }
      auto [ec, bytes] = co_await conn_->body_read();
      (void)bytes;
      const std::size_t n = conn_->end_body_read(ec, budget, err);
      if (err) {
        co_return false;
      }
      if (n == 0 && conn_->woke()) {
        silent_until_ = budget.until;
        silent_total_ = budget.total_bound;
        co_return true;
      }
      silent_until_ = Clock::time_point::max();
      if (n > 0) {
        co_return true;
      }
    }
  } catch (const std::exception&) {
    conn_->fail(internal_error());
    err = conn_->failure();
  }
  co_return false;
}

asio::awaitable<bool> Exchange::read_all(std::string& out, std::size_t max_bytes, Error& err) {
  err = {};
  const std::size_t start = out.size();
  const Error too_large{ErrorKind::too_large, http::make_error_code(http::error::body_limit)};
  if (auto remaining = conn_->content_length_remaining()) {
    // Refuse an announced oversize body before reading any of it, and size `out` once otherwise.
    if (*remaining > max_bytes) {
      conn_->fail(too_large);
      err = too_large;
      co_return false;
    }
    out.reserve(start + static_cast<std::size_t>(*remaining));
  }
  while (co_await read_some(out, err)) {
    if (out.size() - start > max_bytes) {
      conn_->fail(too_large);
      err = too_large;
      co_return false;
    }
  }
  co_return !err;
}

// ---------------------------------------------------------------------------------------------
// Pool

struct Pool::Impl {
  struct Idle {
    std::unique_ptr<Connection> conn;
    Clock::time_point since;
  };
  /// Per key a stack (LIFO: the most recently used connection is the likeliest to be alive and
  /// the oldest ones expire from the front).
  using Stacks = std::unordered_map<detail::PoolKey, std::vector<Idle>, detail::PoolKeyHash,
                                    detail::PoolKeyEqual>;

  Impl(asio::io_context::executor_type ex, PoolSettings s) : executor(ex), settings(s) {}

  /// Pops a live idle connection for `key`, dropping dead and expired ones on the way.
  std::unique_ptr<Connection> take(const detail::PoolKeyView& key) {
    const auto now = Clock::now();
    sweep_if_due(now);
    auto it = stacks.find(key);
    if (it == stacks.end()) {
      return nullptr;
    }
    auto& stack = it->second;
    while (!stack.empty()) {
      Idle top = std::move(stack.back());
      stack.pop_back();
      --idle_count;
      if (now - top.since >= settings.idle_ttl) {
        idle_count -= stack.size();  // everything below is older still
        stack.clear();
        break;
      }
      if (top.conn->idle_and_alive()) {
        return std::move(top.conn);
      }
    }
    return nullptr;
  }

  void park(std::unique_ptr<Connection> conn) {
    const auto now = Clock::now();
    if (settings.max_idle_per_endpoint == 0 || settings.idle_ttl.count() <= 0) {
      return;
    }
    conn->park();
    auto& stack = stacks[conn->key()];
    if (stack.size() >= settings.max_idle_per_endpoint) {
      stack.erase(stack.begin());  // the oldest goes
      --idle_count;
    }
    stack.push_back({std::move(conn), now});
    ++idle_count;
    sweep_if_due(now);
  }

  /// Closes expired and dead idle connections of every endpoint, at most once a second, so
  /// sockets the upstream closed do not linger in CLOSE_WAIT while traffic goes elsewhere.
  void sweep_if_due(Clock::time_point now) {
    if (now < next_sweep) {
      return;
    }
    next_sweep = now + std::chrono::seconds(1);
    for (auto it = stacks.begin(); it != stacks.end();) {
      auto& stack = it->second;
      const auto keep_end = std::remove_if(stack.begin(), stack.end(), [&](Idle& idle) {
        return now - idle.since >= settings.idle_ttl || !idle.conn->idle_and_alive();
      });
      idle_count -= static_cast<std::size_t>(stack.end() - keep_end);
      stack.erase(keep_end, stack.end());
      if (stack.empty()) {
        it = stacks.erase(it);
      } else {
        ++it;
      }
    }
  }

  asio::io_context::executor_type executor;
  PoolSettings settings;
  Stacks stacks;
  std::size_t idle_count = 0;
  Clock::time_point next_sweep{};
};

Pool::Pool(asio::io_context::executor_type executor, PoolSettings settings)
    : impl_(std::make_unique<Impl>(executor, settings)) {}

Pool::~Pool() = default;

std::size_t Pool::idle_connections() const {
  return impl_->idle_count;
}

void Pool::release(std::unique_ptr<Connection> conn) {
  impl_->park(std::move(conn));
}

asio::awaitable<std::unique_ptr<Exchange>> Pool::send(const Endpoint& endpoint, ssl::context* tls,
                                                      Request&& request, const Timeouts& timeouts,
                                                      Error& err, Abort* abort) {
  try {
    co_return co_await send_impl(endpoint, tls, request, timeouts, err, abort);
  } catch (const std::exception&) {
    err = internal_error();  // the connection, if any, died with the frame that held it
  }
  follow(abort, nullptr);
  co_return nullptr;
}

// Retry rule: a pooled connection may have died while idle in a way the liveness probe could not
// see. If the write failed before a single byte went out, the upstream cannot have seen this
// request, so it goes once more on a fresh connection. Once any byte was written (or the write
// completed and the response then failed with eof/reset), the upstream may already be processing
// it; sending it again could run a paid, non-idempotent completion twice, so that is reported,
// never retried. Fresh connections are not retried.
asio::awaitable<std::unique_ptr<Exchange>> Pool::send_impl(const Endpoint& endpoint,
                                                           ssl::context* tls, Request& request,
                                                           const Timeouts& timeouts, Error& err,
                                                           Abort* abort) {
  err = {};
  const Clock::time_point deadline = Clock::now() + timeouts.total;
  if (fired(abort)) {
    err = aborted();
    co_return nullptr;
  }
  if (endpoint.tls && tls == nullptr) {
    err = {ErrorKind::tls, asio::error::make_error_code(asio::error::invalid_argument)};
    co_return nullptr;
  }
  ssl::context* context = endpoint.tls ? tls : nullptr;
  prepare(endpoint, request);
  const bool head = request.method() == http::verb::head;

  const detail::PoolKeyView key{endpoint.tls, endpoint.host, endpoint.port, context};
  std::unique_ptr<Connection> conn = impl_->take(key);
  bool reused = conn != nullptr;
  follow(abort, conn.get());  // cleared by the Exchange, or below
  for (;;) {
    if (!conn) {
      conn = std::make_unique<Connection>(impl_->executor, context, detail::PoolKey(key),
                                          impl_->settings.max_header_bytes);
      follow(abort, conn.get());
      if (Error e = co_await conn->connect(endpoint, timeouts.connect, deadline)) {
        err = e;
        break;
      }
      ++opened_;
    }
    if (fired(abort)) {
      err = aborted();  // fired while no operation was pending (name resolution)
      break;
    }
    auto [write_err, written] =
        co_await conn->write(request, detail::budget(timeouts.first_byte, deadline));
    if (write_err) {
      // The retry rule (above): once, on a fresh connection, when no byte went out.
      if (reused && written == 0 && write_err.kind == ErrorKind::write && !fired(abort)) {
        conn.reset();
        reused = false;
        continue;
      }
      err = write_err;
      break;
    }
    if (Error e = co_await conn->read_header(head, detail::budget(timeouts.first_byte, deadline))) {
      err = e;
    }
    break;
  }
  if (err) {
    follow(abort, nullptr);  // the connection dies with this frame
    co_return nullptr;
  }
  co_return std::make_unique<Exchange>(*this, std::move(conn), timeouts, deadline, abort);
}

// ---------------------------------------------------------------------------------------------
// TLS

std::unique_ptr<ssl::context> make_client_tls_context(const std::string& ca_file, bool verify,
                                                      std::string& error) {
  error.clear();
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    error = "cannot require TLS 1.2 or newer";
    return nullptr;
  }
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  // Advertise HTTP/1.1 so servers that select by ALPN do not assume HTTP/2.
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_CTX_set_alpn_protos(native, kAlpn, sizeof(kAlpn)) != 0) {
    error = "cannot set ALPN";
    return nullptr;
  }
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) {
    error = "cannot load the system CA paths: " + ec.message();
    return nullptr;
  }
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      error = "cannot load CA file '" + ca_file + "': " + ec.message();
      return nullptr;
    }
  }
  ctx->set_verify_mode(verify ? ssl::verify_peer : ssl::verify_none, ec);
  if (ec) {
    error = "cannot set the verify mode: " + ec.message();
    return nullptr;
  }
  return ctx;
}

}  // namespace sb::upstream
