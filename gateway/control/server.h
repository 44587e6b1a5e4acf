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
#include <vector>

#include "gateway/observability/metrics.h"
#include "gateway/runtime/snapshot.h"
#include "policies/config.h"

namespace sb::gateway {

struct Worker;
class AccessLog;
enum class Plane;

/// Where an exception reached a last-resort handler: the label of
/// switchboard_internal_errors_total{where}. Every series exists from the start.
enum class Where : std::size_t { session, admin, accept, health, reload, flush, worker, upstream };
inline constexpr std::size_t kWhereCount = 8;
std::string_view to_string(Where w);

/// Connections open on one plane, against its limit. Lock-free (relaxed atomics).
struct ConnectionLimit {
  std::atomic<std::int64_t> open{0};
  std::int64_t max = 0;
  metrics::Counter* rejected = nullptr;
};

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
                             std::string_view request = {}) noexcept;
  /// A co_spawn completion handler that reports what escaped the coroutine.
  auto guard(Where where) {
    return [this, where](std::exception_ptr e) {
      if (e) {
        report_internal_error(where, e);
      }
    };
  }

  /// Takes `n` bytes of the process-wide request-body budget (server.max_buffered_body_bytes,
  /// passed as `cap` from the request's snapshot). False, and nothing taken, when it would go
  /// past the cap. Lock-free; any thread.
  bool acquire_body_bytes(std::uint64_t n, std::uint64_t cap) noexcept;
  void release_body_bytes(std::uint64_t n) noexcept {
    buffered_body_bytes_.fetch_sub(n, std::memory_order_relaxed);
  }
  /// Counts a request refused because the body budget was spent.
  void count_body_budget_rejection() noexcept { body_budget_rejected_->inc(); }

  /// A session on `plane` has ended (its connection was admitted by the accept loop).
  void connection_closed(Plane plane) noexcept;

 private:
  struct Listeners;
  void finish_drain_when_idle();

  std::string config_path_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<SharedState> shared_;
  std::unique_ptr<AccessLog> access_log_;
  mutable std::mutex current_mutex_;  // control path only
  std::shared_ptr<const Snapshot> current_;
  std::mutex reload_mutex_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Listeners> listeners_;
  std::atomic<bool> draining_{false};
  metrics::Counter* reload_ok_ = nullptr;
  metrics::Counter* reload_failed_ = nullptr;
  bool reload_unguarded();

  std::array<metrics::Counter*, kWhereCount> internal_errors_{};
  ConnectionLimit data_connections_;
  ConnectionLimit admin_connections_;
  std::atomic<std::uint64_t> buffered_body_bytes_{0};
  metrics::Counter* body_budget_rejected_ = nullptr;
  metrics::Gauge* buffered_body_gauge_ = nullptr;
  metrics::Gauge* data_connections_gauge_ = nullptr;
};

}  // namespace sb::gateway
