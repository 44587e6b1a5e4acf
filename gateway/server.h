#pragma once
// The composition root: builds workers, listeners and the admin plane from a loaded config,
// handles SIGHUP (reload), SIGTERM/SIGINT (drain, then exit).

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/metrics.h"
#include "gateway/snapshot.h"
#include "policies/config.h"

namespace sb::gateway {

struct Worker;
class AccessLog;

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
};

}  // namespace sb::gateway
