#include "gateway/control/server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/audit/trail.h"
#include "gateway/control/admin.h"
#include "gateway/control/health.h"
#include "gateway/net/session.h"
#include "gateway/observability/access_log.h"
#include "gateway/observability/hop.h"
#include "gateway/observability/log.h"
#include "gateway/observability/stats.h"
#include "gateway/observability/trace_exporter.h"
#include "gateway/pipeline/data_plane.h"
#include "gateway/runtime/translators.h"
#include "gateway/runtime/worker.h"
#include "gateway/state/response_store.h"
#include "policies/url.h"

namespace sb::gateway {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

struct Server::Listeners {
  std::optional<tcp::acceptor> data;
  std::optional<tcp::acceptor> admin;
  std::unique_ptr<asio::ssl::context> tls;
  /// The admin plane is bound beyond loopback (set once at startup; addresses change only on
  /// restart, so a reloaded config may not drop the admin token while this holds).
  bool admin_beyond_loopback = false;
  /// What each listener's sessions hand their requests to, and the limits they share.
  DataPlane data_handler;
  std::unique_ptr<AdminPlane> admin_handler;
  std::optional<PlaneContext> data_plane;
  std::optional<PlaneContext> admin_plane;
};

namespace {

/// Counts workers that have taken a reloaded snapshot (control path only).
class SwapBarrier {
 public:
  void add() {
    std::lock_guard lock(mutex_);
    ++pending_;
  }
  void arrive() {
    std::lock_guard lock(mutex_);
    if (--pending_ == 0) {
      done_.notify_all();
    }
  }
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return done_.wait_for(lock, timeout, [this] { return pending_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  int pending_ = 0;
};

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// "host:port" or "[v6]:port" → endpoint (host names resolved once, at startup).
std::optional<tcp::endpoint> resolve_listen(const std::string& listen, std::string& error) {
  // The config's own host:port grammar (checked at load); the port may be 0.
  const config::Parsed<config::HostPort> split = config::parse_host_port(listen, true);
  if (!split.value) {
    error = "invalid listen address '" + listen + "'";
    return std::nullopt;
  }
  const std::string host(split.value->host);
  const std::string port(split.value->port);
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  error_code ec;
  auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, port,
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    error = "cannot resolve listen address '" + listen + "': " + ec.message();
    return std::nullopt;
  }
  return results.begin()->endpoint();
}

bool open_acceptor(tcp::acceptor& a, const tcp::endpoint& ep, std::string& error) {
  error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec) {
    a.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    a.bind(ep, ec);
  }
  if (!ec) {
    a.listen(4096, ec);
  }
  if (ec) {
    error = "cannot listen on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
            ": " + ec.message();
    return false;
  }
  return true;
}

std::string endpoint_string(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) {
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  }
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// Accepts on `acceptor` and hands each connection to the next worker, round robin. Connections
// then stay on that worker's thread for their whole life. Past the plane's connection limit a new
// connection is accepted and closed at once (so it neither waits in the backlog nor holds a
// descriptor), and counted. Nothing thrown ends the loop.
asio::awaitable<void> accept_loop(Server& server, tcp::acceptor& acceptor,
                                  std::vector<std::unique_ptr<Worker>>& workers,
                                  const PlaneContext& plane, asio::ssl::context* tls) {
  ConnectionLimit& limit = plane.connections;
  std::size_t next = 0;
  for (;;) {
    bool back_off = false;
    try {
      Worker& w = *workers[next];
      auto [ec, socket] = co_await acceptor.async_accept(w.ioc, use_nothrow);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      if (ec) {
        // Out of descriptors or a transient error: back off briefly rather than spin.
        log::warn("accept failed", {{"error", ec.message()}});
        back_off = true;
      } else if (limit.open.fetch_add(1, std::memory_order_relaxed) >= limit.max) {
        limit.open.fetch_sub(1, std::memory_order_relaxed);
        limit.rejected->inc();
        error_code ignored;
        socket.set_option(asio::socket_base::linger(true, 0), ignored);  // RST, no TIME_WAIT
        socket.close(ignored);
      } else {
        next = (next + 1) % workers.size();
        asio::post(w.ioc, [&server, &w, &plane, tls, s = std::move(socket)]() mutable {
          try {
            start_session(w, std::move(s), plane, tls);
          } catch (...) {
            server.report_internal_error(Where::accept, std::current_exception());
          }
        });
      }
    } catch (...) {
      server.report_internal_error(Where::accept, std::current_exception());
      back_off = true;
    }
    if (back_off) {
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(use_nothrow);
    }
  }
}

// Writes the worker's gathered access-log lines every 100 ms. Nothing thrown ends the loop.
asio::awaitable<void> flush_loop(Server& server, Worker& w, AccessLog& log) {
  asio::steady_timer timer(w.ioc);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(100));
    auto [ec] = co_await timer.async_wait(use_nothrow);
    try {
      log.flush_this_thread();
    } catch (...) {
      server.report_internal_error(Where::flush, std::current_exception());
    }
    if (ec) {
      co_return;
    }
  }
}

// Raises the soft descriptor limit to the hard one; returns the soft limit in force.
std::uint64_t raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return 1024;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    }
  }
  return rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : static_cast<std::uint64_t>(rl.rlim_cur);
}

// Descriptors kept back from client connections: listeners, logs, config and the admin plane.
constexpr std::int64_t kReservedDescriptors = 64;
constexpr std::int64_t kMaxAdminConnections = 32;

}  // namespace

Server::Server(std::string config_path, std::shared_ptr<const Snapshot> initial,
               std::unique_ptr<metrics::Registry> registry, std::unique_ptr<SharedState> shared)
    : config_path_(std::move(config_path)),
      registry_(std::move(registry)),
      internal_errors_(*registry_),
      shared_(std::move(shared)),
      access_log_(std::make_unique<AccessLog>(STDOUT_FILENO)),
      current_(std::move(initial)),
      listeners_(std::make_unique<Listeners>()) {
  registry_->set_collect_hook([this] {
    current()->refresh_gauges();
    buffered_body_gauge_->set(static_cast<std::int64_t>(body_budget_.held()));
    data_connections_gauge_->set(data_connections_.open.load(std::memory_order_relaxed));
    refresh_response_store();
    refresh_audit();
    refresh_tracing();
  });
  data_connections_.rejected =
      &registry_->counter(stats::kOverloadRejectionsTotal, {{"limit", "max_connections"}});
  admin_connections_.rejected =
      &registry_->counter(stats::kOverloadRejectionsTotal, {{"limit", "admin_connections"}});
  body_budget_.rejected =
      &registry_->counter(stats::kOverloadRejectionsTotal, {{"limit", "max_buffered_body_bytes"}});
  for (std::size_t r = 0; r < ProtocolErrors::kReasons; ++r) {
    const char* reason = ProtocolErrors::kNames[r];
    data_protocol_errors_.counters[r] = &registry_->counter(
        stats::kClientProtocolErrorsTotal, {{"plane", "data"}, {"reason", reason}});
    admin_protocol_errors_.counters[r] = &registry_->counter(
        stats::kClientProtocolErrorsTotal, {{"plane", "admin"}, {"reason", reason}});
  }
  buffered_body_gauge_ = &registry_->gauge(stats::kBufferedBodyBytes, {});
  data_connections_gauge_ = &registry_->gauge(stats::kClientConnections, {});
  reload_ok_ = &registry_->counter(stats::kConfigReloadTotal, {{"result", "success"}});
  reload_failed_ = &registry_->counter(stats::kConfigReloadTotal, {{"result", "failure"}});
}

Server::~Server() = default;

std::shared_ptr<const Snapshot> Server::current() const {
  std::lock_guard lock(current_mutex_);
  return current_;
}

bool Server::reload() {
  try {
    return reload_unguarded();
  } catch (...) {
    report_internal_error(Where::reload, std::current_exception());
    return false;
  }
}

asio::awaitable<bool> Server::reload_on_control_thread() {
  // The coroutine takes the server as a parameter (kept in its frame), not as a capture.
  auto reload_there = [](Server& s) -> asio::awaitable<bool> { co_return s.reload(); };
  co_return co_await hop_to(control_.get_executor(), reload_there(*this));
}

// The config file loaded and compiled into a snapshot; nullptr (the reasons logged, the failure
// counted) when it is rejected.
std::shared_ptr<const Snapshot> Server::build_reloaded() {
  config::LoadResult loaded = config::load_file(config_path_);
  if (!loaded.ok()) {
    reload_failed_->inc();
    for (const auto& e : loaded.errors) {
      log::error("configuration rejected", {{"error", e.to_string()}});
    }
    return nullptr;
  }
  if (listeners_->admin_beyond_loopback && loaded.config->admin.token.empty()) {
    reload_failed_->inc();
    log::error("configuration rejected",
               {{"error", config_path_ +
                              ": admin.token: the admin plane stays on its non-loopback address "
                              "until a restart, so the admin token cannot be removed by a "
                              "reload"}});
    return nullptr;
  }
  // Problems found while building the runtime name a key path: placed at that key, as at start.
  const config::KeyPositions positions = loaded.config->positions;
  std::vector<std::string> errors;
  auto snap = Snapshot::build(std::move(*loaded.config), *shared_, current().get(), errors);
  if (!snap) {
    reload_failed_->inc();
    for (const auto& e : errors) {
      log::error("configuration rejected",
                 {{"error", config::locate(config_path_, positions, e).to_string()}});
    }
  }
  return snap;
}

// Every worker takes the new snapshot before the reload is reported done, so the next request
// of whoever asked for it meets the new config: through their queues, waited for at most two
// seconds (a worker this runs on, if any, takes it at once: it cannot wait for its own queue).
void Server::hand_to_workers(const std::shared_ptr<const Snapshot>& snap) {
  auto barrier = std::make_shared<SwapBarrier>();
  for (auto& w : workers_) {
    if (w->ioc.get_executor().running_in_this_thread()) {
      w->snapshot = snap;
      continue;
    }
    barrier->add();
    asio::post(w->ioc, [worker = w.get(), snap, barrier] {
      worker->snapshot = snap;
      barrier->arrive();
    });
  }
  if (!barrier->wait_for(std::chrono::seconds(2))) {
    log::warn("configuration reloaded; a worker has not taken it up yet");
  }
}

bool Server::reload_unguarded() {
  std::lock_guard reload_lock(reload_mutex_);
  log::info("reloading configuration", {{"config", config_path_}});
  const std::shared_ptr<const Snapshot> snap = build_reloaded();
  if (!snap) {
    return false;
  }
  const auto old = current();
  const auto& a = old->config();
  const auto& b = snap->config();
  if (a.server.listen != b.server.listen || a.server.threads != b.server.threads ||
      a.admin.listen != b.admin.listen || a.server.tls.has_value() != b.server.tls.has_value() ||
      a.server.max_connections != b.server.max_connections) {
    log::warn("listen addresses, threads, max_connections and TLS change only on restart");
  }
  for (const std::string& notice : b.notices) {
    log::warn(notice);
  }
  record_reload_in_audit(*old, *snap);
  {
    std::lock_guard lock(current_mutex_);
    current_ = snap;
  }
  reload_ok_->inc();
  hand_to_workers(snap);
  log::info("configuration reloaded", {{"config", config_path_},
                                       {"backends", std::to_string(b.backends.size())},
                                       {"models", std::to_string(b.models.size())}});
  return true;
}

void Server::drain() {
  if (draining_.exchange(true)) {
    return;
  }
  log::info("draining: no new connections; in-flight requests may finish");
  asio::post(workers_.front()->ioc, [this] {
    error_code ec;
    if (listeners_->data) {
      listeners_->data->close(ec);
    }
  });
  for (auto& w : workers_) {
    asio::post(w->ioc, [worker = w.get()] {
      worker->draining = true;
      // on_drain may close a session, which unlinks it; iterate over a copy.
      const std::vector<Drainable*> sessions(worker->sessions.begin(), worker->sessions.end());
      for (Drainable* s : sessions) {
        s->on_drain();
      }
    });
  }
}

// Client connections get what is left after a quarter of the descriptors for upstream
// connections and a reserve for listeners, logs and the admin plane.
void Server::size_connections(const config::Config& cfg) {
  const std::uint64_t nofile = raise_nofile_limit();
  const auto fds = static_cast<std::int64_t>(nofile);
  const std::int64_t derived =
      std::max<std::int64_t>(16, fds - fds / 4 - kReservedDescriptors - kMaxAdminConnections);
  data_connections_.max = cfg.server.max_connections != 0
                              ? static_cast<std::int64_t>(cfg.server.max_connections)
                              : derived;
  admin_connections_.max = kMaxAdminConnections;
  if (data_connections_.max > fds - kReservedDescriptors - kMaxAdminConnections) {
    log::warn("server.max_connections is above what the descriptor limit allows",
              {{"max_connections", std::to_string(data_connections_.max)},
               {"nofile", std::to_string(nofile)}});
  }
}

// The listeners bound (on the first worker's context) and TLS loaded; false with `error`.
bool Server::open_listeners(const config::Config& cfg, std::string& error) {
  const auto data_ep = resolve_listen(cfg.server.listen, error);
  const auto admin_ep = data_ep ? resolve_listen(cfg.admin.listen, error) : std::nullopt;
  if (!data_ep || !admin_ep) {
    return false;
  }
  Worker& first = *workers_.front();
  listeners_->data.emplace(first.ioc);
  listeners_->admin.emplace(first.ioc);
  if (!open_acceptor(*listeners_->data, *data_ep, error) ||
      !open_acceptor(*listeners_->admin, *admin_ep, error)) {
    return false;
  }
  const asio::ip::address a = admin_ep->address();
  const bool mapped_loopback =
      a.is_v6() && a.to_v6().is_v4_mapped() &&
      asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  listeners_->admin_beyond_loopback = !a.is_loopback() && !mapped_loopback;
  if (!cfg.server.tls) {
    return true;
  }
  listeners_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  auto& ctx = *listeners_->tls;
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  error_code ec;
  ctx.use_certificate_chain_file(cfg.server.tls->cert_file, ec);
  if (!ec) {
    ctx.use_private_key_file(cfg.server.tls->key_file, asio::ssl::context::pem, ec);
  }
  if (ec) {
    error = "server.tls: " + ec.message();
    return false;
  }
  return true;
}

// Both planes' accept loops, on the first worker.
void Server::start_accepting() {
  Worker& first = *workers_.front();
  listeners_->admin_handler = std::make_unique<AdminPlane>(*this);
  listeners_->data_plane.emplace(Plane::data, listeners_->data_handler, data_connections_,
                                 body_budget_, &data_protocol_errors_);
  listeners_->admin_plane.emplace(Plane::admin, *listeners_->admin_handler, admin_connections_,
                                  body_budget_, &admin_protocol_errors_);
  asio::co_spawn(first.ioc,
                 accept_loop(*this, *listeners_->data, workers_, *listeners_->data_plane,
                             listeners_->tls.get()),
                 guard(Where::accept));
  asio::co_spawn(
      first.ioc,
      accept_loop(*this, *listeners_->admin, workers_, *listeners_->admin_plane, nullptr),
      guard(Where::accept));
}

// One thread per worker, each running its context until stopped: whatever a handler throws past
// its own guard is logged and counted, and the worker runs on (one connection's failure never
// stops the others on its thread).
std::vector<std::thread> Server::run_workers() {
  std::vector<std::thread> pool;
  asio::co_spawn(workers_.front()->ioc, health_loop(*workers_.front()), guard(Where::health));
  for (auto& w : workers_) {
    asio::co_spawn(w->ioc, flush_loop(*this, *w, *access_log_), guard(Where::flush));
    pool.emplace_back([this, worker = w.get(), log = access_log_.get()] {
      for (;;) {
        try {
          worker->ioc.run();
          break;
        } catch (...) {
          report_internal_error(Where::worker, std::current_exception());
        }
      }
      try {
        log->flush_this_thread();  // what the worker gathered since its last flush
      } catch (...) {
        report_internal_error(Where::flush, std::current_exception());
      }
    });
  }
  return pool;
}

// The control thread until the process should stop: SIGHUP reloads, SIGINT and SIGTERM drain
// (stop accepting, wait for the requests in flight up to server.drain_timeout).
void Server::run_control(asio::signal_set& signals) {
  std::function<void()> wait_signal;
  std::optional<Clock::time_point> drain_deadline;
  asio::steady_timer drain_timer(control_);
  std::function<void()> poll_drain = [&] {
    std::int64_t active = 0;
    std::int64_t sessions = 0;
    for (auto& w : workers_) {
      active += w->active_requests.load(std::memory_order_relaxed);
      sessions += w->open_sessions.load(std::memory_order_relaxed);
    }
    if ((active == 0 && sessions == 0) || Clock::now() >= *drain_deadline) {
      if (active > 0) {
        log::warn("drain deadline reached; closing with requests in flight",
                  {{"in_flight", std::to_string(active)}});
      }
      signals.cancel();
      control_.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&](error_code ec) {
      if (!ec) {
        poll_drain();
      }
    });
  };
  wait_signal = [&] {
    signals.async_wait([&](error_code ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      log::info("shutdown requested", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
      drain();
      drain_deadline = Clock::now() + current()->config().server.drain_timeout;
      poll_drain();
      wait_signal();
    });
  };
  wait_signal();
  control_.run();
}

// The workers stopped and joined; then what outlives them.
void Server::stop_workers(std::vector<std::thread>& pool) {
  for (auto& w : workers_) {
    w->ioc.stop();
  }
  for (auto& t : pool) {
    t.join();
  }
  // Sessions still suspended past the drain deadline live in their io_context's queues and point
  // into their worker; the process is about to exit, so the workers (and the listeners bound to
  // them) are deliberately not destroyed: the OS reclaims everything at once. They stay reachable
  // from static storage, so a leak checker sees them for what they are.
  static auto* const kept_workers = new std::vector<std::unique_ptr<Worker>>();
  static auto* const kept_listeners = new std::vector<std::unique_ptr<Listeners>>();
  for (auto& w : workers_) {
    kept_workers->push_back(std::move(w));
  }
  kept_listeners->push_back(std::move(listeners_));
  // Suspended sessions may wait on the response store too: it is kept with them.
  static auto* const kept_responses = new std::vector<std::unique_ptr<ResponseStore>>();
  kept_responses->push_back(std::move(responses_));
  // Every worker thread has been joined: nothing can submit any more, so the trail and the
  // tracer are drained and destroyed here (their lock-free queues keep nodes behind tagged
  // pointers, which a leak checker cannot follow from a kept object).
  if (audit_ != nullptr) {
    audit_->stop();  // what the workers submitted is written
    audit_counters_.clear();
    audit_.reset();
  }
  if (tracer_ != nullptr) {
    tracer_->stop();  // what the workers submitted is sent (within the export timeout)
    tracer_.reset();
  }
  // The engine-load scraper's thread is joined and its suspended scrapes destroyed.
  shared_->stop_scraper();
}

int Server::run() {
  // Signals are claimed before anything is announced, so a SIGHUP or SIGTERM sent as soon as the
  // "listening" line appears is handled, never the default action (which would kill the process).
  asio::signal_set signals(control_, SIGINT, SIGTERM, SIGHUP);
  const auto snap = current();
  const config::Config& cfg = snap->config();
  const unsigned threads = cfg.server.threads != 0
                               ? cfg.server.threads
                               : std::max(1u, std::thread::hardware_concurrency());
  size_connections(cfg);
  responses_ = make_response_store(cfg);  // `responses:` changes take effect at the next start
  export_response_store();
  if (!open_audit(*snap)) {
    return 1;
  }
  open_tracing(*snap);
  const upstream::PoolSettings pool_settings{};
  for (unsigned i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, *access_log_, internal_errors_, pool_settings));
    workers_.back()->snapshot = snap;
    workers_.back()->responses = responses_.get();
    workers_.back()->audit = audit_.get();
    workers_.back()->tracer = tracer_ != nullptr && tracer_->enabled() ? tracer_.get() : nullptr;
  }
  if (std::string error; !open_listeners(cfg, error)) {
    log::error("startup failed", {{"error", error}});
    return 1;
  }
  registry_->gauge(stats::kBuildInfo, {{"version", SWITCHBOARD_VERSION}}).set(1);
  start_accepting();
  for (const std::string& notice : cfg.notices) {
    log::warn(notice);
  }
  log::info("listening", {{"listen", endpoint_string(listeners_->data->local_endpoint())},
                          {"admin", endpoint_string(listeners_->admin->local_endpoint())},
                          {"tls", cfg.server.tls ? "on" : "off"},
                          {"threads", std::to_string(threads)},
                          {"max_connections", std::to_string(data_connections_.max)},
                          {"config", config_path_}});
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& w : workers_) {
    guards.emplace_back(w->ioc.get_executor());
  }
  std::vector<std::thread> pool = run_workers();
  run_control(signals);
  for (auto& w : workers_) {
    asio::post(w->ioc, [worker = w.get(), this] {
      error_code ec;
      if (worker->index == 0) {
        listeners_->admin->close(ec);
        listeners_->data->close(ec);
      }
    });
  }
  guards.clear();
  stop_workers(pool);
  log::info("stopped");
  return 0;
}

void Server::export_response_store() {
  if (responses_ == nullptr) {
    return;
  }
  const ResponseStoreCounters& c = responses_->counters();
  const std::pair<const char*, const std::atomic<std::uint64_t>*> events[] = {
      {"stored", &c.stored},           {"refused", &c.refused}, {"put_failed", &c.put_failures},
      {"unavailable", &c.unavailable}, {"evicted", &c.evicted}, {"expired", &c.expired}};
  for (const auto& [name, value] : events) {
    store_events_.emplace_back(
        &registry_->counter(stats::kResponseStoreEventsTotal, {{"event", name}}), value);
  }
  store_entries_ = &registry_->gauge(stats::kResponseStoreEntries, {});
  store_bytes_ = &registry_->gauge(stats::kResponseStoreBytes, {});
}

// Off the request path: the store counts in its own atomics; a scrape copies them.
void Server::refresh_response_store() const {
  if (store_entries_ == nullptr) {
    return;
  }
  for (const auto& [counter, value] : store_events_) {
    const std::uint64_t now = value->load(std::memory_order_relaxed);
    if (now > counter->value()) {
      counter->inc(now - counter->value());
    }
  }
  const ResponseStoreCounters& c = responses_->counters();
  store_entries_->set(c.entries.load(std::memory_order_relaxed));
  store_bytes_->set(c.bytes.load(std::memory_order_relaxed));
}

// `audit:` opens the trail before anything is served; a trail that cannot be opened (directory,
// key, a last line the key does not verify) fails the start.
bool Server::open_audit(const Snapshot& snap) {
  const config::AuditSettings& settings = snap.config().audit;
  if (!settings.enabled()) {
    return true;
  }
  std::string error;
  audit_ = audit::Trail::open(settings, error);
  if (audit_ == nullptr) {
    log::error("startup failed", {{"error", "audit: " + error}});
    return false;
  }
  audit_->record_config(snap.config_snapshot(), snap.config_hash(), "start");
  const audit::TrailCounters& c = audit_->counters();
  audit_counters_ = {{&registry_->counter(stats::kAuditLinesTotal, {}), &c.lines},
                     {&registry_->counter(stats::kAuditDroppedTotal, {}), &c.dropped},
                     {&registry_->counter(stats::kAuditWriteErrorsTotal, {}), &c.write_errors}};
  log::info("audit trail open", {{"path", settings.path}, {"config", snap.config_hash()}});
  return true;
}

// Off the request path: the trail counts in its own atomics; a scrape copies them.
void Server::refresh_audit() const {
  for (const auto& [counter, value] : audit_counters_) {
    const std::uint64_t now = value->load(std::memory_order_relaxed);
    if (now > counter->value()) {
      counter->inc(now - counter->value());
    }
  }
}

// Before the workers take the new snapshot, so its `config` line precedes every line under it.
// The trail itself stays as started: `audit:` changes take effect at the next start.
void Server::record_reload_in_audit(const Snapshot& old, const Snapshot& snap) {
  const config::AuditSettings& a = old.config().audit;
  const config::AuditSettings& b = snap.config().audit;
  if (a.path != b.path || a.key_file != b.key_file || a.key != b.key ||
      a.rotate_size != b.rotate_size || a.rotate_age != b.rotate_age ||
      a.flush_interval != b.flush_interval || a.queue != b.queue || a.fsync != b.fsync) {
    log::warn("audit: settings changed; the running trail is kept until a restart");
  }
  if (audit_ != nullptr) {
    audit_->record_config(snap.config_snapshot(), snap.config_hash(), "reload");
  }
}

}  // namespace sb::gateway
