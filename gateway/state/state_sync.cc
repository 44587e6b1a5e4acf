#include "gateway/state/state_sync_impl.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <future>
#include <random>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "gateway/observability/hop.h"
#include "gateway/observability/io_thread.h"
#include "gateway/observability/log.h"
#include "gateway/observability/metrics.h"
#include "gateway/observability/stats.h"
#include "gateway/state/redis_client.h"
#include "gateway/state/state_scripts.h"

namespace sb::gateway {

namespace asio = boost::asio;
using policies::BudgetLease;
using policies::Nanos;
using policies::RateLease;

using namespace sync_detail;

PeriodIds period_ids(StateSync::Clock::time_point now) {
  using namespace std::chrono;
  PeriodIds p;
  const sys_days d = floor<days>(now);
  const year_month_day ymd{d};
  p.day = d.time_since_epoch().count();
  p.month = (static_cast<int>(ymd.year()) - 1970) * 12 +
            static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
  const sys_days next_month = sys_days{year_month_day{ymd.year(), ymd.month(), day{1}} + months{1}};
  p.seconds_to_day_end = std::max<std::int64_t>(1, ceil<seconds>(d + days{1} - now).count());
  p.seconds_to_month_end = std::max<std::int64_t>(1, ceil<seconds>(next_month - now).count());
  return p;
}

std::int64_t StateSync::steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// -------------------------------------------------------------------------------------------------
// The sync thread's bookkeeping for one tenant.

TenantShare::TenantShare(std::string tenant_name) : name(std::move(tenant_name)) {}
TenantShare::~TenantShare() = default;

// -------------------------------------------------------------------------------------------------

StateSync::Impl::Impl(StateSync& self, const config::StateSettings& s, metrics::Registry& reg)
    : owner(self),
      guard(asio::make_work_guard(io)),
      client(io.get_executor(), s),
      tenant_script(std::string(scripts::kTenant)),
      backend_script(std::string(scripts::kBackend)),
      registry(reg) {
  std::random_device rd;
  char id[24];
  std::snprintf(id, sizeof id, "%08x%08x", rd(), rd());
  replica = id;
  up_gauge = &reg.gauge(stats::kStateStoreUp, {});
  calls_ok = &reg.counter(stats::kStateStoreCallsTotal, {{"result", "ok"}});
  calls_failed = &reg.counter(stats::kStateStoreCallsTotal, {{"result", "error"}});
  top_ups = &reg.counter(stats::kStateStoreTopUpsTotal, {});
  unreported = &reg.gauge(stats::kStateUnreportedNanodollars, {});
  stranded = &reg.gauge(stats::kStateLeaseHeadroomNanodollars, {});
}

Nanos StateSync::Impl::target(const TenantShare& t, int kind) const {
  const TenantShare::Book& b = *t.book;
  const Nanos biggest = std::max<Nanos>(1, t.biggest_ask.load(std::memory_order_relaxed));
  if (b.last_ok_ms == 0 || b.unspent[kind] < kScarceAsks * biggest) {
    return 0;
  }
  // Idle for a horizon: nothing held ahead (what is left goes back at once).
  if (StateSync::steady_ms() - b.last_demand_ms[kind] > horizon_ms()) {
    return 0;
  }
  const double want = b.budget_rate[kind] * static_cast<double>(horizon_ms()) / 1000.0;
  if (want < 1) {
    return 0;
  }
  const Nanos w = want > 9e18 ? std::numeric_limits<Nanos>::max() : static_cast<Nanos>(want);
  return std::max(w, biggest);
}

Nanos StateSync::Impl::fair_share(const TenantShare& t, int kind) const {
  const TenantShare::Book& b = *t.book;
  return std::max<Nanos>(0, b.free[kind] / (2 * std::max<std::int64_t>(1, b.holders[kind])));
}

void StateSync::Impl::read_rates(TenantShare& t, std::int64_t now_ms) {
  TenantShare::Book& b = *t.book;
  // "The largest request lately": halved every minute, so one huge request does not keep a
  // tenant's budget "scarce" (unleased) for good.
  if (b.biggest_decayed_ms == 0) {
    b.biggest_decayed_ms = now_ms;
  } else if (now_ms - b.biggest_decayed_ms >= 60'000) {
    b.biggest_decayed_ms = now_ms;
    t.biggest_ask.store(t.biggest_ask.load(std::memory_order_relaxed) / 2,
                        std::memory_order_relaxed);
    t.biggest_tokens.store(t.biggest_tokens.load(std::memory_order_relaxed) / 2,
                           std::memory_order_relaxed);
  }
  const double dt = static_cast<double>(now_ms - b.rates_read_ms) / 1000.0;
  if (b.rates_read_ms == 0 || dt <= 0) {
    b.rates_read_ms = now_ms;
    for (int k = 0; k < 2; ++k) {
      b.budget_seen[k] = 0;
      for (const BudgetLease& l : t.budget[k]) {
        b.budget_seen[k] += l.demand();
      }
    }
    b.rate_seen = {t.requests.demand(), t.tokens.demand()};
    return;
  }
  if (dt < 0.05) {
    return;
  }
  // Smoothed over about two seconds.
  const double alpha = std::min(1.0, dt / 2.0);
  for (int k = 0; k < 2; ++k) {
    std::uint64_t seen = 0;
    for (const BudgetLease& l : t.budget[k]) {
      seen += l.demand();
    }
    if (seen != b.budget_seen[k]) {
      b.last_demand_ms[k] = now_ms;
    }
    const double rate = static_cast<double>(seen - b.budget_seen[k]) / dt;
    b.budget_rate[k] += alpha * (rate - b.budget_rate[k]);
    b.budget_seen[k] = seen;
  }
  const std::array<std::uint64_t, 2> seen{t.requests.demand(), t.tokens.demand()};
  for (int r = 0; r < 2; ++r) {
    const double rate = static_cast<double>(seen[r] - b.rate_seen[r]) / dt;
    b.rate_rate[r] += alpha * (rate - b.rate_rate[r]);
    b.rate_seen[r] = seen[r];
  }
  b.rates_read_ms = now_ms;
}

bool StateSync::Impl::plan_refill(TenantShare& t, std::int64_t now_ms, Plan& plan) {
  const bool budgets = plan_budgets(t, now_ms, plan);
  const bool rates = plan_rates(t, now_ms, plan);
  return t.book->pending || budgets || rates;
}

// The budget leases' part of a refill: what each open period wants, and whether a call is due
// (headroom low or in surplus, spend to report, a lease to renew, a finished period to close).
bool StateSync::Impl::plan_budgets(TenantShare& t, std::int64_t now_ms, Plan& plan) {
  TenantShare::Book& b = *t.book;
  const PeriodIds p = period_ids(owner.now_());
  const std::array<Nanos, 2> limits{t.daily.load(), t.monthly.load()};
  const std::array<std::int64_t, 2> periods{p.day, p.month};
  bool needed = false;
  const std::int64_t flush_ms =
      std::max<std::int64_t>(settings().sync_interval.count(), horizon_ms() / 2);
  for (int k = 0; k < 2; ++k) {
    if (limits[k] < 0) {
      continue;
    }
    open_period(t, k, periods[k]);
    BudgetLease& l = t.budget[k][static_cast<std::size_t>(periods[k] % 4)];
    if (const Nanos orphan = t.orphan_spend[k].exchange(0); orphan != 0) {
      l.journal(orphan);
    }
    const Nanos tgt = target(t, k);
    BudgetWant w{k, periods[k], 0, 0, false};
    if (l.headroom() < tgt / 2 + 1 && tgt > 0) {
      w.max = std::min(tgt - std::max<Nanos>(0, l.headroom()), fair_share(t, k));
      needed = needed || w.max > 0;
    }
    if (l.headroom() > 2 * tgt && l.headroom() > 0) {
      needed = true;  // surplus to give back
    }
    if (l.unreported() != 0 && now_ms - b.last_call_ms >= flush_ms) {
      needed = true;
    }
    if (b.believed[k][static_cast<std::size_t>(periods[k] % 4)] > 0 &&
        now_ms - b.last_ok_ms >= ttl_ms() / 3) {
      needed = true;  // renew the lease before it expires
    }
    plan.budgets.push_back(w);
  }
  for (int k = 0; k < 2; ++k) {
    for (std::size_t s = 0; s < 4; ++s) {
      const BudgetLease& l = t.budget[k][s];
      if (l.period() >= 0 && l.period() != periods[k] &&
          (l.unreported() != 0 || b.believed[k][s] > 0)) {
        needed = true;  // a finished period: report it and give its lease back
      }
    }
  }
  return needed;
}

// The rate leases' part of a refill: a grant sized to the recent rate when the lease runs low or
// out, the unused part given back when nothing more is wanted, reports still to send.
bool StateSync::Impl::plan_rates(TenantShare& t, std::int64_t now_ms, Plan& plan) {
  TenantShare::Book& b = *t.book;
  bool needed = false;
  const std::array<std::uint64_t, 2> rate_limits{t.rpm.load(), t.tpm.load()};
  for (int r = 0; r < 2; ++r) {
    if (rate_limits[r] == 0) {
      continue;
    }
    RateLease& lease = r == kRequests ? t.requests : t.tokens;
    const double per_s = b.rate_rate[r];
    const std::uint64_t biggest =
        r == kRequests ? 1 : std::max<std::uint64_t>(1, t.biggest_tokens.load());
    const bool scarce =
        b.rate_free[r] < static_cast<std::int64_t>(kScarceAsks * biggest) && b.last_ok_ms != 0;
    auto tgt = static_cast<std::uint64_t>(per_s * static_cast<double>(horizon_ms()) / 1000.0 * 1.5);
    if (tgt > 0) {
      tgt = std::max(tgt, biggest);
    }
    if (scarce) {
      tgt = 0;
    }
    tgt = std::min<std::uint64_t>(tgt, rate_limits[r] / 4);
    const bool expiring = lease.valid_until() - now_ms < horizon_ms() / 2;
    const bool low = lease.available() < tgt / 2 + 1;
    if (tgt > 0 && (expiring || low)) {
      plan.rates[r] = {0, tgt, false, true};
      needed = true;
    } else if (lease.available() > 0 && (expiring || tgt == 0)) {
      // Nothing more wanted: the unused part goes back.
      const auto [left, old] = lease.replace(0, 0);
      (void)old;
      b.rate_reports[r] = {b.grant_second[r], left, b.rate_reports[r].overrun};
      needed = true;
    }
    needed = needed || b.rate_reports[r].release > 0 || b.rate_reports[r].overrun > 0;
  }
  return needed;
}

asio::awaitable<void> StateSync::Impl::refill(std::shared_ptr<TenantShare> t) {
  TenantShare::Book& b = *t->book;
  if (b.busy) {
    co_return;  // a request's call is in flight; the next round looks again
  }
  co_await lock(b);
  const std::int64_t now_ms = StateSync::steady_ms();
  read_rates(*t, now_ms);
  Plan plan;
  if (plan_refill(*t, now_ms, plan)) {
    co_await call(*t, std::move(plan));
  }
  unlock(b);
}

asio::awaitable<void> StateSync::Impl::refill_backend(std::shared_ptr<BackendShare> s) {
  const std::uint64_t r = s->local_requests.exchange(0);
  const std::uint64_t tk = s->local_tokens.exchange(0);
  std::string key = settings().prefix + ":{b:" + key_part(s->name) + "}:load";
  // (Built before the co_await: GCC 12 mishandles braced lists inside one.)
  std::vector<std::string> keys{std::move(key)};
  std::vector<std::string> args{num(static_cast<std::int64_t>(r)),
                                num(static_cast<std::int64_t>(tk))};
  redis::Result res = co_await client.eval(backend_script, std::move(keys), std::move(args));
  if (res.error != redis::Error::none || res.reply.type != redis::Reply::Type::array ||
      res.reply.elements.size() != 2) {
    // Counted again with the next call (at most double-counted if this one landed).
    s->local_requests.fetch_add(r);
    s->local_tokens.fetch_add(tk);
    mark(false, res.message.empty() ? "unexpected reply to the backend script" : res.message);
    co_return;
  }
  mark(true, {});
  s->global_requests.store(static_cast<std::uint64_t>(to_int(res.reply.elements[0])));
  s->global_tokens.store(static_cast<std::uint64_t>(to_int(res.reply.elements[1])));
}

asio::awaitable<void> StateSync::Impl::loop() {
  asio::steady_timer timer(io);
  std::int64_t last_backends = 0;
  while (!stopping.load()) {
    std::vector<std::shared_ptr<TenantShare>> ts;
    std::vector<std::shared_ptr<BackendShare>> bs;
    {
      std::lock_guard lock(mutex);
      for (auto& [name, t] : tenants) {
        ts.push_back(t);
      }
      for (auto& [name, s] : backends) {
        bs.push_back(s);
      }
    }
    Nanos unreported_total = 0;
    Nanos headroom_total = 0;
    for (auto& t : ts) {
      for (const auto& kind : t->budget) {
        for (const BudgetLease& l : kind) {
          unreported_total += l.unreported();
          headroom_total += std::max<Nanos>(0, l.headroom());
        }
      }
      if (t->daily.load() >= 0 || t->monthly.load() >= 0 || t->rpm.load() > 0 ||
          t->tpm.load() > 0 || t->book->pending) {
        asio::co_spawn(io, refill(t), asio::detached);
      }
    }
    unreported->set(unreported_total);
    stranded->set(headroom_total);
    const std::int64_t now_ms = StateSync::steady_ms();
    if (now_ms - last_backends >= 1000) {
      last_backends = now_ms;
      for (auto& s : bs) {
        asio::co_spawn(io, refill_backend(s), asio::detached);
      }
    }
    timer.expires_after(settings().sync_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> StateSync::Impl::give_back_all() {
  std::vector<std::shared_ptr<TenantShare>> ts;
  {
    std::lock_guard lock(mutex);
    for (auto& [name, t] : tenants) {
      ts.push_back(t);
    }
  }
  for (auto& t : ts) {
    co_await lock(*t->book);
    // Limits off for the call: everything is released (old periods and current alike).
    const Nanos daily = t->daily.exchange(-1);
    const Nanos monthly = t->monthly.exchange(-1);
    for (int pass = 0; pass < 2; ++pass) {  // the second sends what a lost reply left pending
      Plan plan;
      for (int r = 0; r < 2; ++r) {
        RateLease& lease = r == kRequests ? t->requests : t->tokens;
        const auto [left, old] = lease.replace(0, 0);
        (void)old;
        if (left > 0) {
          t->book->rate_reports[r] = {t->book->grant_second[r], left,
                                      t->book->rate_reports[r].overrun};
        }
      }
      const Outcome o = co_await call(*t, std::move(plan));
      if (o.reached) {
        break;
      }
    }
    t->daily.store(daily);
    t->monthly.store(monthly);
    unlock(*t->book);
  }
}

// -------------------------------------------------------------------------------------------------

StateSync::StateSync(const config::StateSettings& settings, metrics::Registry& registry, NowFn now)
    : settings_(settings), now_(now != nullptr ? now : &Clock::now) {
  impl_ = std::make_unique<Impl>(*this, settings_, registry);
  impl_->thread = std::thread([this] {
    asio::co_spawn(impl_->io, impl_->loop(), asio::detached);
    run_logging_escapes(impl_->io, "shared state");
  });
}

StateSync::~StateSync() {
  impl_->stopping.store(true);
  try {
    std::future<void> done = asio::co_spawn(impl_->io, impl_->give_back_all(), asio::use_future);
    done.wait_for(settings_.command_timeout * 4 + std::chrono::seconds(1));
  } catch (...) {
    // Leases then expire in Redis after lease_ttl.
  }
  impl_->guard.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

std::string StateSync::check(bool& fatal) {
  fatal = false;
  std::future<redis::Result> f = asio::co_spawn(impl_->io, impl_->client.ping(), asio::use_future);
  if (f.wait_for(settings_.connect_timeout + settings_.command_timeout +
                 std::chrono::milliseconds(500)) != std::future_status::ready) {
    return "no answer within the connect and command timeouts";
  }
  redis::Result r;
  try {
    r = f.get();
  } catch (const std::exception& e) {
    return e.what();
  }
  if (r.error == redis::Error::none) {
    impl_->mark(true, {});
    return {};
  }
  fatal = r.error == redis::Error::auth || r.error == redis::Error::tls ||
          r.error == redis::Error::server;
  return r.message.empty() ? std::string(redis::to_string(r.error)) : r.message;
}

std::shared_ptr<TenantShare> StateSync::tenant(const std::string& name,
                                               const SharedLimits& limits) {
  std::lock_guard lock(impl_->mutex);
  auto& slot = impl_->tenants[name];
  if (!slot) {
    slot = std::make_shared<TenantShare>(name);
    slot->book = std::make_unique<TenantShare::Book>(impl_->io.get_executor());
  }
  slot->daily.store(limits.daily);
  slot->monthly.store(limits.monthly);
  slot->rpm.store(limits.rpm);
  slot->tpm.store(limits.tpm);
  return slot;
}

std::shared_ptr<BackendShare> StateSync::backend(const std::string& name) {
  std::lock_guard lock(impl_->mutex);
  auto& slot = impl_->backends[name];
  if (!slot) {
    slot = std::make_shared<BackendShare>(name);
  }
  return slot;
}

asio::awaitable<TopUpResult> StateSync::top_up(std::shared_ptr<TenantShare> tenant,
                                               std::array<std::int64_t, 2> periods, Nanos min_cost,
                                               Nanos cost, std::uint64_t min_tokens,
                                               std::uint64_t tokens) {
  Impl& im = *impl_;
  auto work = [&im, tenant, periods, min_cost, cost, min_tokens,
               tokens]() -> asio::awaitable<TopUpResult> {
    TenantShare& t = *tenant;
    co_await im.lock(*t.book);
    im.top_ups->inc();
    Impl::Plan plan;
    const std::array<Nanos, 2> limits{t.daily.load(), t.monthly.load()};
    for (int k = 0; k < 2; ++k) {
      if (limits[k] < 0) {
        continue;
      }
      // Opened even for a request that reserves nothing: it journals its cost there.
      im.open_period(t, k, periods[k]);
      if (cost > 0) {
        plan.budgets.push_back({k, periods[k], std::max<Nanos>(1, min_cost), cost, true});
      }
    }
    if (t.rpm.load() > 0) {
      plan.rates[kRequests] = {1, 1, true, true};
    }
    if (t.tpm.load() > 0 && tokens > 0) {
      plan.rates[kTokens] = {std::max<std::uint64_t>(1, min_tokens), tokens, true, true};
    }
    const Impl::Outcome o = co_await im.call(t, plan);
    TopUpResult r;
    r.reached = o.reached;
    for (std::size_t n = 0; n < plan.budgets.size(); ++n) {
      r.budget[static_cast<std::size_t>(plan.budgets[n].kind)] = o.granted[n];
    }
    r.requests = plan.rates[kRequests].asked ? o.rate_granted[kRequests] : -1;
    r.tokens = plan.rates[kTokens].asked ? o.rate_granted[kTokens] : -1;
    r.rate_retry_after = o.rate_retry_after;
    im.unlock(*t.book);
    co_return r;
  };
  co_return co_await hop_to(im.io.get_executor(), work());
}

}  // namespace sb::gateway
