#pragma once
// Live load of self-hosted backends as their engines report it: the board the gateway's
// background scraper writes (one writer per backend) and the routing engine reads through
// StateView::backend_load, lock-free. A backend with several `endpoints:` (replicas) has one
// slot per endpoint; the routing engine sees the pool as a whole, the gateway's endpoint picker
// sees each replica.
//
// Times are milliseconds of a monotonic clock, passed in so tests can move them.
//
// Pure: no sockets, no gateway includes.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "policies/config.h"

namespace sb::policies {

/// Where a backend's load figures come from.
enum class LoadSource : std::uint8_t {
  none,    ///< no engine signals configured: the gateway's own in-flight counts only
  engine,  ///< fresh engine signals (at least one endpoint read within stale_after)
  stale,   ///< signals configured but none fresh: config::OnStale decides
};
std::string_view to_string(LoadSource s);  ///< "none", "engine", "stale"

/// One endpoint's latest reading. Negative values: not exported by the engine.
struct EndpointLoad {
  bool fresh = false;
  double waiting = -1;
  double running = -1;
  double kv_cache = -1;      ///< 0..1
  double ttft_p50 = -1;      ///< seconds, over the last scrape interval
  std::int64_t age_ms = -1;  ///< since the reading; -1 never read
};

/// A pool's load as the routing engine sees it.
struct LoadSignals {
  LoadSource source = LoadSource::none;
  double waiting = 0;        ///< summed over fresh endpoints
  double running = 0;        ///< summed over fresh endpoints
  double kv_cache = -1;      ///< the least-used fresh endpoint's (where the next request can go)
  double ttft_p50 = -1;      ///< the lowest fresh endpoint's, seconds
  std::int64_t age_ms = -1;  ///< the freshest reading's age
  unsigned endpoints = 0;    ///< in the pool
  unsigned fresh = 0;        ///< of them with a fresh reading
  /// Fresh endpoints below both `load.headroom` thresholds (waiting < queue, kv < kv_cache); a
  /// figure the engine does not export does not count against an endpoint.
  unsigned with_headroom = 0;
};

/// Per-endpoint atomics for one backend. Shared (by backend name) across config reloads.
class LoadBoard {
 public:
  explicit LoadBoard(std::size_t endpoints);
  ~LoadBoard();
  LoadBoard(const LoadBoard&) = delete;
  LoadBoard& operator=(const LoadBoard&) = delete;

  std::size_t endpoints() const;

  /// Writer side (the scraper): a successful reading of endpoint `i` taken at `now_ms`.
  /// Negative values mean "not exported".
  void publish(std::size_t i, double waiting, double running, double kv_cache, double ttft_p50,
               std::int64_t now_ms);

  /// Reader side: endpoint `i` as of `now_ms`; fresh when read within `settings.stale_after`.
  EndpointLoad endpoint(std::size_t i, std::int64_t now_ms,
                        const config::LoadSettings& settings) const;
  /// The pool as of `now_ms` (source engine or stale; never none).
  LoadSignals pool(std::int64_t now_ms, const config::LoadSettings& settings) const;

 private:
  struct Slot;
  std::unique_ptr<Slot[]> slots_;
  std::size_t n_ = 0;
};

/// Milliseconds of std::chrono::steady_clock, the board's clock.
std::int64_t load_clock_ms();

}  // namespace sb::policies
