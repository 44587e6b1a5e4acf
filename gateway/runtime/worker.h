#pragma once
// One worker = one thread = one io_context (Envoy's worker model): connections accepted for a
// worker stay on its thread, so everything a worker owns is touched by that thread only and needs
// no locks. Cross-thread communication is by posting to the worker's io_context.

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "adapters/upstream/client.h"
#include "gateway/runtime/request_stats.h"
#include "gateway/runtime/snapshot.h"

namespace boost::asio::ssl {
class context;
}

namespace sb::gateway {

class AccessLog;
class InternalErrors;
class ResponseStore;
namespace audit {
class Trail;
}
namespace trace {
class Tracer;
}

/// Something a worker can ask to close when draining (an idle keep-alive connection).
class Drainable {
 public:
  virtual ~Drainable() = default;
  /// Called on the worker's thread when the server starts draining.
  virtual void on_drain() = 0;
};

struct Worker {
  /// `access_log` and `errors` are process-wide (owned by the composition root) and outlive
  /// the worker.
  Worker(unsigned index, AccessLog& access_log, InternalErrors& errors,
         upstream::PoolSettings pool_settings);

  unsigned index;
  AccessLog& access_log;   ///< where handlers write the request's line (thread-local buffers)
  InternalErrors& errors;  ///< last-resort accounting of what escaped a coroutine
  boost::asio::io_context ioc{1};
  upstream::Pool pool;
  /// The current configuration; replaced by posting to `ioc` (reload).
  std::shared_ptr<const Snapshot> snapshot;
  /// Live sessions, for draining. Worker thread only.
  std::list<Drainable*> sessions;
  /// Requests being processed; read by the control thread while draining.
  std::atomic<std::int64_t> active_requests{0};
  std::atomic<std::int64_t> open_sessions{0};
  bool draining = false;  ///< worker thread only
  StatsCache stats;       ///< worker thread only
  /// Where Responses API conversations are kept (process-wide, owned by the composition root);
  /// nullptr when the gateway keeps none.
  ResponseStore* responses = nullptr;
  /// The audit trail (process-wide, owned by the composition root); nullptr when `audit:` is not
  /// configured. Trail::submit is lock-free and never blocks.
  audit::Trail* audit = nullptr;
  /// OpenTelemetry traces (process-wide, owned by the composition root); nullptr when tracing is
  /// off. Tracer::submit is lock-free and never blocks.
  trace::Tracer* tracer = nullptr;

  /// A new request id: a per-process random prefix, the worker index and a counter.
  std::string next_request_id();
  /// A new connection id for the log: "c<worker>-<counter>".
  std::string next_connection_id();

 private:
  std::uint64_t counter_ = 0;
  std::uint64_t connections_ = 0;
};

}  // namespace sb::gateway
