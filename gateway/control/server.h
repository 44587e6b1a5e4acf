#pragma once
// The composition root: builds workers, listeners and the admin plane from a loaded config,
// handles SIGHUP (reload), SIGTERM/SIGINT (drain, then exit).

#include <array>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "gateway/net/limits.h"
#include "gateway/observability/internal_errors.h"
#include "gateway/observability/metrics.h"
#include "gateway/runtime/snapshot.h"
#include "policies/config.h"

namespace sb::gateway {

struct Worker;
class AccessLog;

class ResponseStore;
namespace trace {
class Tracer;
}
namespace audit {
class Trail;
}

class Server {
 public:
  /// `config_path` is re-read on reload.
  Server(std::string config_path, std::shared_ptr<const Snapshot> initial,
         std::unique_ptr<metrics::Registry> registry, std::unique_ptr<SharedState> shared);
  ~Server();

  /// Binds the listeners and runs until drained after SIGTERM/SIGINT. Returns the exit code.
  int run();

  /// Re-reads the config file; on success swaps the snapshot on every worker. Thread-safe.
  /// Returns false (and logs every error) when the new config is invalid; the old one stays.
  bool reload();
  /// reload() on the control thread (the one that handles signals and the drain), so compiling a
  /// config never stalls a data-plane worker: the calling coroutine (an admin request's) waits
  /// without blocking its worker, which meanwhile serves its other connections and takes the new
  /// snapshot through its queue like the others. Only while run() runs.
  boost::asio::awaitable<bool> reload_on_control_thread();

  /// Starts a graceful shutdown (as SIGTERM does). Thread-safe.
  void drain();

  metrics::Registry& registry() { return *registry_; }
  std::shared_ptr<const Snapshot> current() const;
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  AccessLog& access_log() { return *access_log_; }

  /// The last-resort handler for an exception that escaped a coroutine or a worker loop: logs
  /// one line (with the connection and request ids when known) and counts
  /// switchboard_internal_errors_total{where}. Never throws; any thread.
  void report_internal_error(Where where, std::exception_ptr e, std::string_view conn = {},
                             std::string_view request = {}) noexcept {
    internal_errors_.report(where, e, conn, request);
  }
  /// A co_spawn completion handler that reports what escaped the coroutine.
  auto guard(Where where) { return internal_errors_.guard(where); }

  /// Takes `n` bytes of the process-wide request-body budget (server.max_buffered_body_bytes,
  /// passed as `cap` from the request's snapshot). False, and nothing taken, when it would go
  /// past the cap. Lock-free; any thread.
  bool acquire_body_bytes(std::uint64_t n, std::uint64_t cap) noexcept {
    return body_budget_.acquire(n, cap);
  }
  void release_body_bytes(std::uint64_t n) noexcept { body_budget_.release(n); }

 private:
  struct Listeners;
  void finish_drain_when_idle();
  // The steps of a reload.
  std::shared_ptr<const Snapshot> build_reloaded();
  void hand_to_workers(const std::shared_ptr<const Snapshot>& snap);
  // The steps of run().
  void size_connections(const config::Config& cfg);
  bool open_listeners(const config::Config& cfg, std::string& error);
  void start_accepting();
  std::vector<std::thread> run_workers();
  void run_control(boost::asio::signal_set& signals);
  /// Stops and joins the workers, then releases what they used.
  void stop_workers(std::vector<std::thread>& pool);

  std::string config_path_;
  std::unique_ptr<metrics::Registry> registry_;
  InternalErrors internal_errors_;
  std::unique_ptr<SharedState> shared_;
  std::unique_ptr<AccessLog> access_log_;
  /// The Responses API's conversations (previous_response_id); outlives the workers that use it.
  std::unique_ptr<ResponseStore> responses_;
  /// The store's own counters mirrored into the registry at each scrape (set before serving).
  std::vector<std::pair<metrics::Counter*, const std::atomic<std::uint64_t>*>> store_events_;
  metrics::Gauge* store_entries_ = nullptr;
  metrics::Gauge* store_bytes_ = nullptr;
  void export_response_store();
  /// The audit trail (`audit:`), opened at start; outlives the workers that submit to it.
  std::unique_ptr<audit::Trail> audit_;
  std::vector<std::pair<metrics::Counter*, const std::atomic<std::uint64_t>*>> audit_counters_;
  bool open_audit(const Snapshot& snap);
  void refresh_audit() const;
  void record_reload_in_audit(const Snapshot& old, const Snapshot& snap);
  void refresh_response_store() const;
  /// OpenTelemetry traces (`telemetry.traces`), started at start; outlives the workers.
  std::unique_ptr<trace::Tracer> tracer_;
  std::vector<metrics::Counter*> trace_counters_;  // exported, dropped, failed
  void open_tracing(const Snapshot& snap);
  void refresh_tracing() const;
  mutable std::mutex current_mutex_;  // control path only
  std::shared_ptr<const Snapshot> current_;
  std::mutex reload_mutex_;
  /// The control thread's: signals, reloads and the drain (run by run()).
  boost::asio::io_context control_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Listeners> listeners_;
  std::atomic<bool> draining_{false};
  metrics::Counter* reload_ok_ = nullptr;
  metrics::Counter* reload_failed_ = nullptr;
  bool reload_unguarded();

  ConnectionLimit data_connections_;
  ConnectionLimit admin_connections_;
  ProtocolErrors data_protocol_errors_;
  ProtocolErrors admin_protocol_errors_;
  BodyBytesBudget body_budget_;
  metrics::Gauge* buffered_body_gauge_ = nullptr;
  metrics::Gauge* data_connections_gauge_ = nullptr;
};

}  // namespace sb::gateway
