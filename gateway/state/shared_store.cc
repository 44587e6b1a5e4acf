#include "gateway/state/shared_store.h"

#include <algorithm>
#include <limits>

namespace sb::gateway {

namespace asio = boost::asio;
using policies::Admission;
using policies::AdmissionResult;
using policies::Ask;
using policies::BudgetLease;
using policies::Nanos;
using policies::Reservation;

namespace {

constexpr std::uint8_t kShared = 2;  ///< Reservation::source: made against the shared leases
constexpr std::uint8_t kLocal = 1;   ///< made by the per-replica store (Redis away, mode local)
/// Reservation::second of tokens granted by Redis for one request (not from a lease).
constexpr std::int64_t kDirectGrant = std::int64_t{1} << 40;

Nanos limit_nanos(const std::optional<double>& usd) {
  if (!usd) {
    return -1;
  }
  return std::max<Nanos>(0, policies::usd_to_nanos(*usd));
}

void raise_to(std::atomic<Nanos>& a, Nanos v) {
  Nanos cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

void raise_to(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  std::uint64_t cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

}  // namespace

SharedStore::SharedStore(const config::Config& config, StateSync& sync,
                         std::shared_ptr<policies::MemoryState> local)
    : sync_(sync), local_(std::move(local)) {
  for (const config::Tenant& t : config.tenants) {
    SharedLimits l;
    l.daily = limit_nanos(t.budget.daily_usd);
    l.monthly = limit_nanos(t.budget.monthly_usd);
    l.rpm = t.rate.rpm;
    l.tpm = t.rate.tpm;
    limits_.push_back(l);
    tenants_.push_back(sync.tenant(t.name, l));
  }
  for (const config::Backend& b : config.backends) {
    backends_.push_back(sync.backend(b.name));
  }
}

std::int64_t SharedStore::backend_in_flight(std::size_t backend) const {
  return local_->backend_in_flight(backend);
}

policies::LoadSignals SharedStore::backend_load(std::size_t backend) const {
  return local_->backend_load(backend);
}

const BackendShare* SharedStore::shared(std::size_t backend) const {
  return backend < backends_.size() && sync_.up() ? backends_[backend].get() : nullptr;
}

double SharedStore::backend_rpm(std::size_t backend) const {
  const BackendShare* s = shared(backend);
  return s != nullptr ? static_cast<double>(s->requests()) : local_->backend_rpm(backend);
}

double SharedStore::backend_tpm(std::size_t backend) const {
  const BackendShare* s = shared(backend);
  return s != nullptr ? static_cast<double>(s->tokens()) : local_->backend_tpm(backend);
}

namespace {

// Spent and leased by every replica, less what this one holds unreserved.
Nanos committed(const TenantShare& t, int kind, std::int64_t period) {
  const BudgetLease& l = t.budget[kind][static_cast<std::size_t>(period % 4)];
  const Nanos idle = l.period() == period ? std::max<Nanos>(0, l.headroom()) : 0;
  return std::max<Nanos>(0, t.global_committed[kind].load(std::memory_order_acquire) - idle);
}

}  // namespace

double SharedStore::budget_fraction(std::size_t tenant, config::BudgetPeriod period) const {
  if (tenant >= tenants_.size()) {
    return 0;
  }
  const SharedLimits& lim = limits_[tenant];
  const PeriodIds p = period_ids(sync_.now_fn()());
  double out = 0;
  const auto fraction = [](Nanos c, Nanos limit) {
    return limit == 0 ? 1.0 : static_cast<double>(c) / static_cast<double>(limit);
  };
  if (lim.daily >= 0 && period != config::BudgetPeriod::monthly) {
    out = fraction(committed(*tenants_[tenant], 0, p.day), lim.daily);
  }
  if (lim.monthly >= 0 && period != config::BudgetPeriod::daily) {
    out = std::max(out, fraction(committed(*tenants_[tenant], 1, p.month), lim.monthly));
  }
  return out;
}

bool SharedStore::budget_exhausted(std::size_t tenant) const {
  if (tenant >= tenants_.size()) {
    return false;
  }
  const SharedLimits& lim = limits_[tenant];
  const TenantShare& t = *tenants_[tenant];
  const PeriodIds p = period_ids(sync_.now_fn()());
  const std::array<std::int64_t, 2> periods{p.day, p.month};
  for (int k = 0; k < 2; ++k) {
    if ((k == 0 ? lim.daily : lim.monthly) < 0) {
      continue;
    }
    const BudgetLease& l = t.budget[k][static_cast<std::size_t>(periods[k] % 4)];
    const bool local_left = l.period() == periods[k] && l.headroom() > 0;
    if (t.global_exhausted[k].load(std::memory_order_acquire) && !local_left) {
      return true;
    }
  }
  return false;
}

namespace {

/// What a request took from this replica's leases so far: given back when they cannot cover it.
struct Taken {
  std::optional<policies::RateLease::Taken> requests;
  std::optional<policies::RateLease::Taken> tokens;
  std::array<Nanos, 2> budget{-1, -1};  ///< per period (day, month); -1 = nothing taken
};

BudgetLease& budget_lease(TenantShare& t, int k, const PeriodIds& p) {
  return t.budget[k][static_cast<std::size_t>((k == 0 ? p.day : p.month) % 4)];
}

void give_back(TenantShare& t, const PeriodIds& p, const Taken& taken) {
  if (taken.requests) {
    t.requests.give_back(taken.requests->grant, taken.requests->amount);
  }
  if (taken.tokens) {
    t.tokens.give_back(taken.tokens->grant, taken.tokens->amount);
  }
  for (int k = 0; k < 2; ++k) {
    if (taken.budget[k] > 0) {
      budget_lease(t, k, p).give_back(taken.budget[k]);
    }
  }
}

/// Demand is counted first, taken or not: leases are sized from it.
void note_demand(TenantShare& t, const SharedLimits& lim, const Ask& ask, const PeriodIds& p) {
  if (lim.rpm > 0) {
    t.requests.note_demand(1);
  }
  if (lim.tpm > 0) {
    t.tokens.note_demand(ask.tokens);
  }
  if (ask.enforce_budget && ask.cost > 0) {
    for (int k = 0; k < 2; ++k) {
      budget_lease(t, k, p).note_demand(ask.cost);
    }
  }
}

/// The request's cost from the budget lease of each period with a limit (the month granting less
/// than the day leaves the day as much), into `taken` and `amount`. False when a lease cannot
/// cover it. Even a request that reserves nothing needs its period's ledger, to journal its cost.
bool take_budget(TenantShare& t, const SharedLimits& lim, const Ask& ask, const PeriodIds& p,
                 std::int64_t now_ms, Taken& taken, Nanos& amount) {
  const std::array<Nanos, 2> limits{lim.daily, lim.monthly};
  const std::array<std::int64_t, 2> periods{p.day, p.month};
  const bool reserve = ask.enforce_budget && ask.cost > 0;
  amount = reserve ? ask.cost : 0;
  for (int k = 0; k < 2; ++k) {
    if (limits[k] < 0) {
      continue;
    }
    BudgetLease& l = budget_lease(t, k, p);
    if (l.period() != periods[k] || (reserve && !l.usable(periods[k], now_ms))) {
      return false;
    }
    if (!reserve) {
      continue;
    }
    const std::optional<Nanos> got = l.take(std::min(ask.min_cost, amount), amount);
    if (!got) {
      return false;
    }
    taken.budget[k] = *got;
    if (k == 1 && taken.budget[0] > *got) {
      budget_lease(t, 0, p).give_back(taken.budget[0] - *got);
      taken.budget[0] = *got;
    }
    amount = *got;
  }
  return true;
}

}  // namespace

AdmissionResult SharedStore::admit(std::size_t tenant, const Ask& ask) {
  AdmissionResult res;
  res.reservation.tenant = tenant;
  res.reservation.source = kShared;
  if (tenant >= tenants_.size() || !limits_[tenant].any()) {
    return res;  // nothing to limit: no lease, no Redis
  }
  const SharedLimits& lim = limits_[tenant];
  TenantShare& t = *tenants_[tenant];
  raise_to(t.biggest_ask, ask.cost);
  raise_to(t.biggest_tokens, ask.tokens);
  const std::int64_t now_ms = StateSync::steady_ms();
  const PeriodIds p = period_ids(sync_.now_fn()());
  note_demand(t, lim, ask, p);

  Taken taken;
  Nanos amount = 0;
  const bool covered = (lim.rpm <= 0 || (taken.requests = t.requests.take(1, 1, now_ms))) &&
                       (lim.tpm <= 0 || ask.tokens == 0 ||
                        (taken.tokens = t.tokens.take(ask.min_tokens, ask.tokens, now_ms))) &&
                       take_budget(t, lim, ask, p, now_ms, taken, amount);
  if (!covered) {
    give_back(t, p, taken);
    res.outcome = Admission::short_lease;
    return res;
  }
  const bool reserve = ask.enforce_budget && ask.cost > 0;
  Reservation& r = res.reservation;
  r.amount = amount;
  // Periods only with a reservation (the caller reads them as "a budget was reserved"); an
  // unreserved request's cost is journaled in the periods current when it settles.
  r.day = reserve && lim.daily >= 0 ? p.day : -1;
  r.month = reserve && lim.monthly >= 0 ? p.month : -1;
  r.tokens = taken.tokens ? taken.tokens->amount : 0;
  r.second = taken.tokens ? static_cast<std::int64_t>(taken.tokens->grant) : -1;
  return res;
}

namespace {

// Grants a refused request does not use go to the leases' headroom (they are this replica's
// lease in Redis).
void keep_budget(TenantShare& t, const PeriodIds& p, const std::array<Nanos, 2>& granted) {
  const std::array<std::int64_t, 2> periods{p.day, p.month};
  for (int k = 0; k < 2; ++k) {
    if (granted[k] > 0) {
      t.budget[k][static_cast<std::size_t>(periods[k] % 4)].give_back(granted[k]);
    }
  }
}

// What a direct top-up granted, as this request's admission: a rate refusal, an exhausted
// budget, or the reservation (the budget within every limited period; the surplus of a period
// goes to its lease).
AdmissionResult granted(std::size_t tenant, const Ask& ask, const SharedLimits& lim, TenantShare& t,
                        const PeriodIds& p, const TopUpResult& got) {
  AdmissionResult res;
  res.reservation.tenant = tenant;
  res.reservation.source = kShared;
  std::array<Nanos, 2> surplus{got.budget[0], got.budget[1]};
  if (got.requests == 0 || got.tokens == 0) {
    keep_budget(t, p, surplus);
    res.outcome =
        got.requests == 0 ? Admission::rate_limited_requests : Admission::rate_limited_tokens;
    res.retry_after = std::chrono::seconds{got.rate_retry_after};
    return res;
  }
  const bool reserve = ask.enforce_budget && ask.cost > 0;
  Nanos amount = 0;
  if (reserve) {
    amount = std::numeric_limits<Nanos>::max();
    const std::array<Nanos, 2> limits{lim.daily, lim.monthly};
    for (int k = 0; k < 2; ++k) {
      if (limits[k] >= 0) {
        amount = std::min(amount, std::max<Nanos>(0, got.budget[k]));
      }
    }
    if (amount == 0) {
      keep_budget(t, p, surplus);
      res.outcome = Admission::budget_exhausted;
      res.retry_after = std::chrono::seconds{
          lim.daily >= 0 && got.budget[0] <= 0 ? p.seconds_to_day_end : p.seconds_to_month_end};
      return res;
    }
    for (Nanos& n : surplus) {
      n = n > amount ? n - amount : 0;
    }
    keep_budget(t, p, surplus);
  }
  Reservation& r = res.reservation;
  r.amount = amount;
  r.day = reserve && lim.daily >= 0 ? p.day : -1;
  r.month = reserve && lim.monthly >= 0 ? p.month : -1;
  r.tokens = got.tokens > 0 ? static_cast<std::uint64_t>(got.tokens) : 0;
  // Counted in Redis for this request alone: nothing to give back to a lease.
  r.second = got.tokens > 0 ? kDirectGrant : -1;
  return res;
}

}  // namespace

asio::awaitable<AdmissionResult> SharedStore::top_up(std::size_t tenant, Ask ask) {
  if (tenant >= tenants_.size()) {
    AdmissionResult res;
    res.reservation.tenant = tenant;
    res.reservation.source = kShared;
    co_return res;
  }
  const SharedLimits& lim = limits_[tenant];
  std::shared_ptr<TenantShare> t = tenants_[tenant];
  const PeriodIds p = period_ids(sync_.now_fn()());
  const bool reserve = ask.enforce_budget && ask.cost > 0;
  TopUpResult got;
  try {
    got = co_await sync_.top_up(t, {p.day, p.month}, reserve ? ask.min_cost : 0,
                                reserve ? ask.cost : 0, ask.min_tokens, ask.tokens);
  } catch (...) {
    got.reached = false;
  }
  if (!got.reached) {
    co_return unavailable(tenant, ask);
  }
  co_return granted(tenant, ask, lim, *t, p, got);
}

AdmissionResult SharedStore::unavailable(std::size_t tenant, const Ask& ask) {
  AdmissionResult res;
  res.reservation.tenant = tenant;
  switch (sync_.settings().on_unavailable) {
    case config::StateUnavailable::local:
      res = local_->admit(tenant, ask);
      res.reservation.source = kLocal;
      return res;
    case config::StateUnavailable::self_hosted_only:
    case config::StateUnavailable::reject:
      break;
  }
  res.outcome = Admission::unavailable;
  return res;
}

AdmissionResult SharedStore::admit_local_rates(std::size_t tenant, Ask ask) {
  ask.enforce_budget = false;
  AdmissionResult res = local_->admit(tenant, ask);
  res.reservation.source = kLocal;
  return res;
}

void SharedStore::reconcile(const Reservation& r, std::uint64_t actual_tokens, Nanos actual) {
  if (r.source == kLocal) {
    local_->reconcile(r, actual_tokens, actual);
  }
  if (r.tenant >= tenants_.size()) {
    return;
  }
  TenantShare& t = *tenants_[r.tenant];
  const SharedLimits& lim = limits_[r.tenant];
  std::array<std::int64_t, 2> periods{r.day, r.month};
  if (r.source != kShared || (r.day < 0 && r.month < 0)) {
    // Admitted by this replica alone: its cost is journaled in the current periods.
    const PeriodIds p = period_ids(sync_.now_fn()());
    periods = {p.day, p.month};
  }
  for (int k = 0; k < 2; ++k) {
    if (periods[k] < 0 || (k == 0 ? lim.daily : lim.monthly) < 0) {
      continue;
    }
    BudgetLease& l = t.budget[k][static_cast<std::size_t>(periods[k] % 4)];
    if (l.period() != periods[k]) {
      t.orphan_spend[k].fetch_add(actual, std::memory_order_acq_rel);
    } else if (r.source == kShared && r.day + r.month > -2) {
      l.settle(r.amount, actual);
    } else {
      l.journal(actual);
    }
  }
  if (r.source == kShared && lim.tpm > 0) {
    if (actual_tokens < r.tokens) {
      if (r.second >= 0 && r.second != kDirectGrant) {
        t.tokens.give_back(static_cast<std::uint32_t>(r.second), r.tokens - actual_tokens);
      }
    } else if (actual_tokens > r.tokens) {
      t.tokens.overrun(actual_tokens - r.tokens);
    }
  }
}

void SharedStore::record_backend(std::size_t backend, std::uint64_t tokens) {
  local_->record_backend(backend, tokens);
  if (backend < backends_.size()) {
    backends_[backend]->local_requests.fetch_add(1, std::memory_order_relaxed);
    backends_[backend]->local_tokens.fetch_add(tokens, std::memory_order_relaxed);
  }
}

void SharedStore::add_in_flight(std::size_t backend, std::int64_t delta) {
  local_->add_in_flight(backend, delta);
}

std::optional<Nanos> SharedStore::budget_remaining(std::size_t tenant,
                                                   config::BudgetPeriod period) const {
  if (tenant >= tenants_.size()) {
    return std::nullopt;
  }
  const SharedLimits& lim = limits_[tenant];
  const PeriodIds p = period_ids(sync_.now_fn()());
  std::optional<Nanos> out;
  if (lim.daily >= 0 && period != config::BudgetPeriod::monthly) {
    out = lim.daily - committed(*tenants_[tenant], 0, p.day);
  }
  if (lim.monthly >= 0 && period != config::BudgetPeriod::daily) {
    const Nanos m = lim.monthly - committed(*tenants_[tenant], 1, p.month);
    out = out ? std::min(*out, m) : m;
  }
  return out;
}

bool SharedStore::ready() const {
  return sync_.up() || sync_.settings().on_unavailable != config::StateUnavailable::reject;
}

}  // namespace sb::gateway
