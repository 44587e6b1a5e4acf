#pragma once
// Budgets and rate limits shared by every replica through Redis (`state.store: redis`).
//
// The guarantee: while Redis is reachable, across any number of replicas, spend plus outstanding
// reservations never exceed a budget, and no minute ever admits more than a tenant's rpm/tpm.
// The request path makes no Redis call in steady state: each replica holds leases, slices of
// budget and of rate allowance granted ahead of need (policies/lease.h), and admits against them
// with single atomic operations. One background thread (this class) talks to Redis:
//
// - every `sync_interval` it looks at each tenant and, when needed, makes ONE script call for it
//   (all of a tenant's keys share a hash tag, so a cluster-aware proxy can route it): reports
//   the spend settled since the last call, gives back headroom it does not need, renews its
//   leases and asks for more when its headroom will not last `lease_horizon` at its recent rate;
// - a request whose needs the local leases cannot cover awaits one call for exactly what it needs
//   (SharedStore::top_up);
// - reports carry a sequence number, so a call whose reply was lost is sent again without being
//   applied twice: totals in Redis equal the sum of what the replicas served;
// - while Redis is away, spend is journaled in the leases (unreported) and reported when it
//   returns; `state.on_unavailable` decides what is admitted beyond the leases still valid.
//
// Redis keeps per tenant and period a hash (spent, leased, and each replica's lease with its
// expiry, read against Redis's own clock: a crashed replica's share comes back after lease_ttl),
// and per tenant and rate a hash of per-second grants summed over 60 s plus the longest a grant
// may be used after it was made. Scripts: gateway/state/state_scripts.cc.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "policies/config.h"
#include "policies/lease.h"
#include "policies/money.h"

namespace sb::metrics {
class Registry;
class Gauge;
class Counter;
}  // namespace sb::metrics

namespace sb::gateway {

/// One tenant's limits as the latest config sets them (-1 / 0: none).
struct SharedLimits {
  policies::Nanos daily = -1;
  policies::Nanos monthly = -1;
  std::uint64_t rpm = 0;
  std::uint64_t tpm = 0;
  bool any() const { return daily >= 0 || monthly >= 0 || rpm > 0 || tpm > 0; }
};

/// What one call grants a request (SharedStore::top_up).
struct TopUpResult {
  bool reached = false;                           ///< the call got an answer from Redis
  std::array<policies::Nanos, 2> budget{-1, -1};  ///< day, month: granted (-1: not asked)
  std::int64_t requests = -1;                     ///< rpm granted (-1: not asked)
  std::int64_t tokens = -1;                       ///< tpm granted (-1: not asked)
  std::int64_t rate_retry_after = 1;              ///< seconds until the window frees some
};

/// A tenant's shared state on this replica, by name: survives reloads.
struct TenantShare {
  explicit TenantShare(std::string tenant_name);
  const std::string name;
  // Latest limits, published by each snapshot built (control path); read by the sync thread.
  std::atomic<policies::Nanos> daily{-1};
  std::atomic<policies::Nanos> monthly{-1};
  std::atomic<std::uint64_t> rpm{0};
  std::atomic<std::uint64_t> tpm{0};
  /// [0] day, [1] month; indexed by period % 4 (a period's ledger is reused four periods on).
  std::array<std::array<policies::BudgetLease, 4>, 2> budget;
  policies::RateLease requests;
  policies::RateLease tokens;
  /// The largest request seen lately (cost, tokens): leases hold at least one of them, and a
  /// budget with fewer than a few dozen of them left is not leased ahead (state_sync.cc).
  std::atomic<policies::Nanos> biggest_ask{0};
  std::atomic<std::uint64_t> biggest_tokens{0};
  /// Spend settled for a period whose ledger is not open here (journaled by the sync thread
  /// into the current period's ledger).
  std::array<std::atomic<policies::Nanos>, 2> orphan_spend{};
  /// Global figures from the latest reply, for budget_fraction: spent and leased by all.
  std::array<std::atomic<policies::Nanos>, 2> global_committed{};
  std::array<std::atomic<bool>, 2> global_exhausted{};
  struct Book;  // the sync thread's bookkeeping (state_sync.cc)
  std::unique_ptr<Book> book;
  ~TenantShare();
};

/// A backend's request and token counts, shared for volume rules (figures up to one
/// sync_interval old from the other replicas).
struct BackendShare {
  explicit BackendShare(std::string backend_name) : name(std::move(backend_name)) {}
  const std::string name;
  std::atomic<std::uint64_t> local_requests{0};  ///< counted here, not yet reported
  std::atomic<std::uint64_t> local_tokens{0};
  std::atomic<std::uint64_t> global_requests{0};  ///< all replicas, last 60 s, at the last sync
  std::atomic<std::uint64_t> global_tokens{0};

  /// Requests and tokens of all replicas over the last 60 s: the last sync's, and what was
  /// counted here since.
  std::uint64_t requests() const {
    return global_requests.load(std::memory_order_relaxed) +
           local_requests.load(std::memory_order_relaxed);
  }
  std::uint64_t tokens() const {
    return global_tokens.load(std::memory_order_relaxed) +
           local_tokens.load(std::memory_order_relaxed);
  }
};

class StateSync {
 public:
  using Clock = std::chrono::system_clock;
  using NowFn = Clock::time_point (*)();

  /// Starts the background thread. Does not wait for Redis.
  StateSync(const config::StateSettings& settings, metrics::Registry& registry,
            NowFn now = &Clock::now);
  /// Reports what is unreported and gives every lease back (bounded by the command timeout),
  /// then stops the thread.
  ~StateSync();

  /// Connects and PINGs once, waiting at most the connect timeout. Empty when Redis answered;
  /// otherwise the reason. `fatal` is set for errors waiting will not fix (authentication, TLS
  /// verification, a refused SELECT).
  std::string check(bool& fatal);

  /// The shares of `name`, created on first use (control path, takes a mutex).
  std::shared_ptr<TenantShare> tenant(const std::string& name, const SharedLimits& limits);
  std::shared_ptr<BackendShare> backend(const std::string& name);

  /// One call for a request whose needs the leases could not cover: asks for [min, max] of each
  /// budget (day, month) and rate the tenant has, for the given periods. Runs on the sync thread;
  /// the caller resumes on its own executor.
  boost::asio::awaitable<TopUpResult> top_up(std::shared_ptr<TenantShare> tenant,
                                             std::array<std::int64_t, 2> periods,
                                             policies::Nanos min_cost, policies::Nanos cost,
                                             std::uint64_t min_tokens, std::uint64_t tokens);

  /// Redis answered the latest call (lock-free).
  bool up() const { return up_.load(std::memory_order_acquire); }
  const config::StateSettings& settings() const { return settings_; }
  NowFn now_fn() const { return now_; }
  /// Milliseconds on the steady clock, as the leases' validity is kept.
  static std::int64_t steady_ms();

 private:
  struct Impl;
  config::StateSettings settings_;
  NowFn now_;
  std::atomic<bool> up_{false};
  std::unique_ptr<Impl> impl_;
};

/// UTC period ids as the budgets use them: days since 1970-01-01, months since 1970-01.
struct PeriodIds {
  std::int64_t day = 0;
  std::int64_t month = 0;
  std::int64_t seconds_to_day_end = 1;
  std::int64_t seconds_to_month_end = 1;
};
PeriodIds period_ids(StateSync::Clock::time_point now);

}  // namespace sb::gateway
