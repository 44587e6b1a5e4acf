#pragma once
// The StateStore of `state.store: redis`: budgets and rate limits shared by every replica
// (gateway/state/state_sync.h has the model). Per snapshot, like MemoryState; the shares it reads
// live in the process-wide StateSync, by tenant and backend name, so they survive reloads.
//
// Request path: admit() takes from the local leases with single atomic operations. When they
// cannot cover a request it answers Admission::short_lease and the caller awaits top_up(),
// one call to Redis for exactly what the request needs. When Redis cannot be reached,
// `state.on_unavailable` applies (see config::StateUnavailable). What stays per replica: backend
// in-flight counts (and so `max_in_flight` and least-loaded routing) and circuit breakers.

#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "gateway/state/state_sync.h"
#include "policies/state.h"

namespace sb::gateway {

class SharedStore final : public policies::StateStore {
 public:
  /// `local` serves the per-replica parts (in-flight counts, rate windows) and the `local`
  /// on_unavailable mode; carry it over on reload as usual.
  SharedStore(const config::Config& config, StateSync& sync,
              std::shared_ptr<policies::MemoryState> local);

  // StateView
  std::int64_t backend_in_flight(std::size_t backend) const override;
  double backend_rpm(std::size_t backend) const override;
  double backend_tpm(std::size_t backend) const override;
  double budget_fraction(std::size_t tenant, config::BudgetPeriod period) const override;
  bool budget_exhausted(std::size_t tenant) const override;
  /// Engine load is per replica (each scrapes its engines): the local state's boards.
  policies::LoadSignals backend_load(std::size_t backend) const override;

  // StateStore
  policies::AdmissionResult admit(std::size_t tenant, const policies::Ask& ask) override;
  void reconcile(const policies::Reservation& r, std::uint64_t actual_tokens,
                 policies::Nanos actual) override;
  void record_backend(std::size_t backend, std::uint64_t tokens) override;
  void add_in_flight(std::size_t backend, std::int64_t delta) override;
  std::optional<policies::Nanos> budget_remaining(std::size_t tenant,
                                                  config::BudgetPeriod period) const override;

  /// After admit() answered short_lease: one call to Redis for what `ask` needs. Resumes on the
  /// caller's executor. Never throws.
  boost::asio::awaitable<policies::AdmissionResult> top_up(std::size_t tenant, policies::Ask ask);

  /// With on_unavailable self-hosted-only, once the closed backends are dropped: the tenant's
  /// rates counted by this replica alone, no budget reservation (its spend is journaled).
  policies::AdmissionResult admit_local_rates(std::size_t tenant, policies::Ask ask);

  /// False while Redis is unreachable and on_unavailable is `reject` (for /readyz).
  bool ready() const;
  StateSync& sync() const { return sync_; }

 private:
  /// When Redis is away and the leases cannot cover a request: on_unavailable decides.
  policies::AdmissionResult unavailable(std::size_t tenant, const policies::Ask& ask);
  /// A backend's shared counts while the shared store answers; nullptr when the local state does.
  const BackendShare* shared(std::size_t backend) const;

  StateSync& sync_;
  std::shared_ptr<policies::MemoryState> local_;
  std::vector<std::shared_ptr<TenantShare>> tenants_;
  std::vector<SharedLimits> limits_;
  std::vector<std::shared_ptr<BackendShare>> backends_;
};

}  // namespace sb::gateway
