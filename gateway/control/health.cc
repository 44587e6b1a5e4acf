#include "gateway/control/health.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include "adapters/engines.h"
#include "gateway/net/handler.h"
#include "gateway/observability/internal_errors.h"
#include "gateway/observability/log.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

struct ProbeState {
  Clock::time_point due{};
  unsigned passed = 0;  // in a row
  unsigned failed = 0;  // in a row
  bool healthy = true;
  bool in_flight = false;
};
using ProbeStates = std::unordered_map<std::string, ProbeState>;

// What to GET: the configured path, else the engine's health endpoint, else the model list.
std::string probe_target(const BackendRuntime& b) {
  const config::HealthCheck& hc = *b.spec->health_check;
  if (!hc.path.empty()) {
    return hc.path;
  }
  if (!b.engine->health_path.empty()) {
    return std::string(b.engine->health_path);
  }
  return b.endpoint.base_path + "/models";
}

// Backend `index` as seen through its endpoint `k` (a pool's view; else the backend itself).
const BackendRuntime& through(const Snapshot& snap, std::size_t index, std::size_t k) {
  const BackendRuntime& b = snap.backend(index);
  return b.pooled() ? *b.endpoints[k].view : b;
}

// Probe states are kept per endpoint: by backend name, and URL in pools.
std::string probe_key(const BackendRuntime& b, std::size_t k) {
  return b.pooled() ? b.spec->name + " " + b.endpoints[k].url : b.spec->name;
}

asio::awaitable<void> probe(Worker& w, std::shared_ptr<const Snapshot> snap, std::size_t index,
                            std::size_t k, std::shared_ptr<ProbeStates> states) {
  const BackendRuntime& b = through(*snap, index, k);
  const std::string key = probe_key(snap->backend(index), k);
  const config::HealthCheck& hc = *b.spec->health_check;
  upstream::Request req{http::verb::get, probe_target(b), 11};
  req.set(http::field::accept_encoding, "identity");
  if (!b.credential_header.empty()) {
    req.set(b.credential_header, b.credential);
  }
  for (const auto& [name, value] : b.headers) {
    req.set(name, value);
  }
  upstream::Timeouts timeouts = b.timeouts;
  timeouts.connect = std::min(timeouts.connect, hc.timeout);
  timeouts.first_byte = std::min(timeouts.first_byte, hc.timeout);
  timeouts.idle = std::min(timeouts.idle, hc.timeout);
  timeouts.total = hc.timeout;

  upstream::Error err;
  bool passed = false;
  unsigned status = 0;
  auto ex = co_await w.pool.send(b.endpoint, b.tls.get(), std::move(req), timeouts, err);
  if (ex) {
    status = ex->status();
    std::string body;
    upstream::Error rerr;
    const bool complete = co_await ex->read_all(body, 64 * 1024, rerr);
    passed = complete && status >= 200 && status < 300 &&
             adapters::engine_healthy(*b.engine, status, body);
  }

  ProbeState& s = (*states)[key];
  s.in_flight = false;
  if (passed) {
    s.failed = 0;
    ++s.passed;
    if (!s.healthy && s.passed >= hc.healthy_threshold) {
      s.healthy = true;
      b.circuit->set_healthy(true);
      log::info("backend healthy again", {{"backend", b.spec->name}, {"endpoint", key}});
    }
  } else {
    s.passed = 0;
    ++s.failed;
    if (s.healthy && s.failed >= hc.unhealthy_threshold) {
      s.healthy = false;
      b.circuit->set_healthy(false);
      log::warn("backend unhealthy: taken out of rotation",
                {{"backend", b.spec->name},
                 {"endpoint", key},
                 {"probe", probe_target(b)},
                 {"status", status == 0 ? std::string(upstream::to_string(err.kind))
                                        : std::to_string(status)}});
    }
  }
}

}  // namespace

asio::awaitable<void> health_loop(Worker& w) {
  auto states = std::make_shared<ProbeStates>();
  asio::steady_timer timer(w.ioc);
  for (;;) {
    try {
      const std::shared_ptr<const Snapshot> snap = w.snapshot;
      const auto now = Clock::now();
      const auto& backends = snap->config().backends;
      for (std::size_t i = 0; i < backends.size(); ++i) {
        const BackendRuntime& backend = snap->backend(i);
        if (!backend.spec->health_check) {
          continue;
        }
        for (std::size_t k = 0; k < backend.endpoints.size(); ++k) {
          const BackendRuntime& b = through(*snap, i, k);
          std::string key = probe_key(backend, k);
          ProbeState& s = (*states)[key];
          if (s.in_flight || now < s.due) {
            continue;
          }
          // A circuit built anew by a reload starts healthy: say what the probes know.
          b.circuit->set_healthy(s.healthy);
          s.in_flight = true;
          s.due = now + b.spec->health_check->interval;
          // A probe that throws counts as failed-to-run: logged, counted, and due again later.
          asio::co_spawn(w.ioc, probe(w, snap, i, k, states),
                         [&w, states, key = std::move(key)](std::exception_ptr e) {
                           if (e) {
                             (*states)[key].in_flight = false;
                             w.errors.report(Where::health, e);
                           }
                         });
        }
      }
    } catch (...) {
      w.errors.report(Where::health, std::current_exception());
    }
    timer.expires_after(100ms);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || w.draining) {
      co_return;
    }
  }
}

}  // namespace sb::gateway
