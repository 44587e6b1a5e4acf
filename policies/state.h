#pragma once
// Live routing state: backend load, tenant rates and budgets. The evaluator reads it through
// StateView; the gateway updates it through StateStore around each request. The in-memory
// implementation is lock-free (atomics); a shared store (Redis) can implement the same interface
// for many replicas.
//
// Money is kept in micro-dollars (int64) so that reservations are exact integer arithmetic.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policies/config.h"
#include "policies/money.h"

namespace sb::policies {

using Micros = std::int64_t;  ///< micro-USD
Micros to_micros(double usd);
double to_usd(Micros m);

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
};

/// What a request asks of its tenant's limits at admission.
struct Ask {
  std::uint64_t tokens = 0;      ///< worst case (input estimate + output bound), for tpm
  std::uint64_t min_tokens = 0;  ///< least useful; tpm may grant anything in [min_tokens, tokens]
  Nanos cost = 0;                ///< worst-case cost
  Nanos min_cost = 0;            ///< least useful cost; a budget may grant [min_cost, cost]
  bool enforce_budget = true;    ///< false: rates only (the self-hosted-only fallback)
};

/// A budget reservation made at admission; reconcile it exactly once.
struct Reservation {
  std::size_t tenant = 0;
  Micros amount = 0;
  Nanos nanos = 0;           ///< the amount in nano-dollars
  std::uint64_t tokens = 0;  ///< tpm tokens reserved (<= ask.tokens)
  std::int64_t day = -1;     ///< period ids the reservation was made in
  std::int64_t month = -1;
  std::int64_t second = -1;  ///< the rate window's second (or the shared store's grant)
  std::uint8_t source = 0;   ///< which store made it (a shared store's local fallback: 1)
};

/// short_lease: the shared store's local lease cannot cover the request; the caller awaits one
/// call to the shared store (see gateway/shared_store.h) for exactly what it needs.
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

/// Write side, for the gateway.
class StateStore : public StateView {
 public:
  /// Checks the tenant's rate limits (counting this request and its estimated tokens) and
  /// reserves `estimate` against every budget of the tenant, atomically per budget: concurrent
  /// admissions can never reserve more than a budget holds. `enforce_budget` false (the
  /// self-hosted-only mode) skips the budget reservation but still counts rates.
  virtual AdmissionResult admit(std::size_t tenant, std::uint64_t estimated_tokens, Micros estimate,
                                bool enforce_budget) = 0;
  virtual AdmissionResult admit(std::size_t tenant, const Ask& ask) {
    AdmissionResult r = admit(tenant, ask.tokens, ask.cost / 1000, ask.enforce_budget);
    r.reservation.tokens = ask.tokens;
    return r;
  }
  virtual void reconcile(const Reservation& r, std::uint64_t /*actual_tokens*/, Nanos actual) {
    reconcile(r, actual / 1000);
  }
  /// Replaces the reservation by the actual cost (0 when nothing was served).
  virtual void reconcile(const Reservation& r, Micros actual) = 0;
  /// Records that a request with `tokens` tokens went to a backend (for rpm/tpm).
  virtual void record_backend(std::size_t backend, std::uint64_t tokens) = 0;
  virtual void add_in_flight(std::size_t backend, std::int64_t delta) = 0;
  /// Remaining budget for metrics: limit - spent - reserved (nullopt when no such budget).
  virtual std::optional<double> budget_remaining_usd(std::size_t tenant,
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

  std::int64_t backend_in_flight(std::size_t backend) const override;
  double backend_rpm(std::size_t backend) const override;
  double backend_tpm(std::size_t backend) const override;
  double budget_fraction(std::size_t tenant, config::BudgetPeriod period) const override;
  bool budget_exhausted(std::size_t tenant) const override;
  AdmissionResult admit(std::size_t tenant, std::uint64_t estimated_tokens, Micros estimate,
                        bool enforce_budget) override;
  void reconcile(const Reservation& r, Micros actual) override;
  void record_backend(std::size_t backend, std::uint64_t tokens) override;
  void add_in_flight(std::size_t backend, std::int64_t delta) override;
  std::optional<double> budget_remaining_usd(std::size_t tenant,
                                             config::BudgetPeriod period) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::policies
