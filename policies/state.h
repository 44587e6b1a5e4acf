#pragma once
// Live routing state: backend load, tenant rates and budgets. The evaluator reads it through
// StateView; the gateway updates it through StateStore around each request. The in-memory
// implementation is lock-free (atomics); a shared store (Redis) implements the same interface
// for many replicas.
//
// Money is integer nano-dollars (policies/money.h), so reservations and budgets are exact.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policies/config.h"
#include "policies/load.h"
#include "policies/money.h"

namespace sb::policies {

/// Read side, for the evaluator. Indexes are positions in Config::backends / Config::tenants.
class StateView {
 public:
  virtual ~StateView() = default;
  virtual std::int64_t backend_in_flight(std::size_t backend) const = 0;
  /// Requests / tokens sent to a backend over the last 60 seconds.
  virtual double backend_rpm(std::size_t backend) const = 0;
  virtual double backend_tpm(std::size_t backend) const = 0;
  /// (spent + reserved) / limit for the period; 0 when the tenant has no such budget. `any`:
  /// the higher of the daily and monthly fractions.
  virtual double budget_fraction(std::size_t tenant, config::BudgetPeriod period) const = 0;
  /// True when a budget of the tenant has nothing left for a new reservation.
  virtual bool budget_exhausted(std::size_t tenant) const = 0;
  /// A self-hosted backend's engine load (policies/load.h); source none when it is not scraped.
  virtual LoadSignals backend_load(std::size_t backend) const {
    (void)backend;
    return {};
  }
};

/// What a request asks of its tenant's limits at admission: its worst case, and the least that is
/// still useful (the gateway then caps the request's output to what was granted).
struct Ask {
  std::uint64_t tokens = 0;      ///< worst case (input estimate + output bound), for tpm
  std::uint64_t min_tokens = 0;  ///< least useful; tpm may grant anything in [min_tokens, tokens]
  Nanos cost = 0;                ///< worst-case cost
  Nanos min_cost = 0;  ///< least useful cost; the budget may grant anything in [min_cost, cost]
  bool enforce_budget = true;  ///< false: rates only (the self-hosted-only fallback)
};

/// What admission reserved; reconcile it exactly once.
struct Reservation {
  std::size_t tenant = 0;
  Nanos amount = 0;          ///< budget reserved (<= ask.cost)
  std::uint64_t tokens = 0;  ///< tpm tokens reserved (<= ask.tokens)
  std::int64_t day = -1;     ///< periods the budget reservation was made in (-1: none)
  std::int64_t month = -1;
  /// The second (since the epoch) the request and its tokens were counted in the rate window
  /// (-1: not counted).
  std::int64_t second = -1;
  /// Which store made it: 0 this process's memory store, 2 the shared store's leases, 1 the
  /// shared store's per-replica fallback (Redis out of reach, on_unavailable: local).
  std::uint8_t source = 0;
};

/// short_lease: the shared store's local lease cannot cover the request; the caller awaits one
/// call to the shared store (see gateway/state/shared_store.h) for exactly what it needs.
enum class Admission {
  ok,
  rate_limited_requests,
  rate_limited_tokens,
  budget_exhausted,
  short_lease,
  unavailable
};

struct AdmissionResult {
  Admission outcome = Admission::ok;
  std::chrono::seconds retry_after{0};  ///< for the limited outcomes
  Reservation reservation;              ///< with ok
};

/// Write side, for the gateway. Thread-safe.
class StateStore : public StateView {
 public:
  /// Checks the tenant's rate limits, counting this request and reserving between
  /// `ask.min_tokens` and `ask.tokens` of its tpm, and reserves between `ask.min_cost` and
  /// `ask.cost` against every budget of the tenant (all of them the same amount), atomically per
  /// limit: concurrent admissions can never reserve more than a limit holds. Grants as much as
  /// fits, up to the worst case; refuses when not even the least useful part fits.
  virtual AdmissionResult admit(std::size_t tenant, const Ask& ask) = 0;
  /// Replaces the reservation by what was used: actual tokens for tpm, actual cost for budgets
  /// (0 and 0 when nothing was served). The cost counts in the periods the reservation was made
  /// in (a request admitted before midnight UTC is spent on that day).
  virtual void reconcile(const Reservation& r, std::uint64_t actual_tokens, Nanos actual_cost) = 0;
  /// Records that a request with `tokens` tokens went to a backend (for rpm/tpm).
  virtual void record_backend(std::size_t backend, std::uint64_t tokens) = 0;
  virtual void add_in_flight(std::size_t backend, std::int64_t delta) = 0;
  /// Remaining budget for metrics: limit - spent - reserved (nullopt when no such budget; `any`:
  /// the smaller). Negative when actual costs outran what was reserved.
  virtual std::optional<Nanos> budget_remaining(std::size_t tenant,
                                                config::BudgetPeriod period) const = 0;
};

/// In-memory, lock-free state for one replica. Clocks are injectable for tests.
/// Indexed by the config it was built for; on reload the gateway builds a new one for the new
/// config and calls carry_over(previous), which SHARES (does not copy) the counter slots of the
/// backends and tenants present in both, matched by name: per-name slots are reference-counted
/// objects, so a request admitted under the old config that reconciles or leaves after the
/// reload updates the very same counters the new config reads. Budget limits and rate limits are
/// read from the config the state was built for; only counters live in the slots.
class MemoryState final : public StateStore {
 public:
  using Clock = std::chrono::system_clock;
  using NowFn = Clock::time_point (*)();
  explicit MemoryState(const config::Config& config, NowFn now = &Clock::now);
  ~MemoryState() override;

  /// Shares the slots (in-flight counts, rate windows, budget spend and reservations) of the
  /// backends/tenants that exist in both, matched by name. Call before the state is published.
  void carry_over(const MemoryState& previous);
  /// The engine load board of backend `backend` (policies/load.h), read by backend_load() with
  /// that backend's `load` settings on load_clock_ms(). Call before the state is published;
  /// reads are lock-free afterwards. Backends without a board answer source none.
  void attach_load(std::size_t backend, std::shared_ptr<const LoadBoard> board);

  std::int64_t backend_in_flight(std::size_t backend) const override;
  double backend_rpm(std::size_t backend) const override;
  double backend_tpm(std::size_t backend) const override;
  double budget_fraction(std::size_t tenant, config::BudgetPeriod period) const override;
  bool budget_exhausted(std::size_t tenant) const override;
  LoadSignals backend_load(std::size_t backend) const override;
  AdmissionResult admit(std::size_t tenant, const Ask& ask) override;
  void reconcile(const Reservation& r, std::uint64_t actual_tokens, Nanos actual_cost) override;
  void record_backend(std::size_t backend, std::uint64_t tokens) override;
  void add_in_flight(std::size_t backend, std::int64_t delta) override;
  std::optional<Nanos> budget_remaining(std::size_t tenant,
                                        config::BudgetPeriod period) const override;

  /// The largest budget limit held exactly: 2^60-1 nano-dollars (about $1.15 billion) per tenant
  /// and period; larger limits are clamped to it.
  static constexpr Nanos kMaxBudget = (Nanos{1} << 60) - 1;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::policies
