#include "gateway/state_sync.h"

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

#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/redis_client.h"
#include "gateway/state_scripts.h"

namespace sb::gateway {

namespace asio = boost::asio;
using policies::BudgetLease;
using policies::Nanos;
using policies::RateLease;

namespace {

constexpr int kDay = 0;
constexpr int kMonth = 1;
constexpr int kRequests = 0;
constexpr int kTokens = 1;
/// A budget whose free part is below this many of the tenant's largest recent requests is
/// scarce: replicas then hold no lease ahead of need, and every request asks Redis for exactly
/// what it needs, so the last of a budget goes to whichever replica's request comes first.
constexpr std::int64_t kScarceAsks = 32;
/// Budget period keys outlive their period by this much (seconds), for audits and late reports.
constexpr std::int64_t kKeepAfterPeriod = 40LL * 86400;

// Tenant and backend names inside keys: bytes other than [A-Za-z0-9_.-] as %XX, so no name can
// break the hash tag's braces or collide with another.
std::string key_part(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '_' || c == '.' || c == '-') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string day_name(std::int64_t day) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{day}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string month_name(std::int64_t month) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld", static_cast<long long>(1970 + month / 12),
                static_cast<long long>(month % 12 + 1));
  return buf;
}

std::int64_t to_int(const redis::Reply& r) {
  if (r.type == redis::Reply::Type::integer) {
    return r.integer;
  }
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return ec == std::errc() && p == r.str.data() + r.str.size() ? v : 0;
}

std::string num(std::int64_t v) {
  return std::to_string(v);
}

}  // namespace

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

struct TenantShare::Book {
  explicit Book(const asio::any_io_executor& ex) : wake(ex) {
    wake.expires_at(asio::steady_timer::time_point::max());
  }
  bool busy = false;
  asio::steady_timer wake;  ///< waiters for `busy`, woken by cancel()
  std::uint64_t seq = 0;
  /// What this replica believes Redis holds as its lease, per kind and period slot.
  std::array<std::array<Nanos, 4>, 2> believed{};

  /// A report sent without an answer: sent again, as is, before anything new.
  struct BudgetReport {
    int kind = 0;
    std::int64_t period = 0;
    Nanos spend = 0;
    Nanos release = 0;
  };
  struct RateReport {
    std::int64_t second = -1;  ///< the grant the release goes back to
    std::uint64_t release = 0;
    std::uint64_t overrun = 0;
  };
  bool pending = false;
  std::uint64_t pending_seq = 0;
  std::vector<BudgetReport> budget_reports;
  std::array<RateReport, 2> rate_reports{};
  /// The second (Redis clock) of each rate lease's current grant, for its later release.
  std::array<std::int64_t, 2> grant_second{-1, -1};

  // Consumption rates (per second, smoothed) and when they were last read.
  std::array<double, 2> budget_rate{};
  std::array<std::uint64_t, 2> budget_seen{};
  std::array<double, 2> rate_rate{};
  std::array<std::uint64_t, 2> rate_seen{};
  std::int64_t rates_read_ms = 0;
  std::array<std::int64_t, 2> last_demand_ms{};

  // From the latest reply.
  std::array<Nanos, 2> free{};     ///< limit - spent - leased (what nobody holds)
  std::array<Nanos, 2> unspent{};  ///< limit - spent
  std::array<std::int64_t, 2> holders{};
  std::array<std::int64_t, 2> rate_free{};
  std::int64_t last_call_ms = 0;
  std::int64_t last_ok_ms = 0;
};

TenantShare::TenantShare(std::string tenant_name) : name(std::move(tenant_name)) {}
TenantShare::~TenantShare() = default;

// -------------------------------------------------------------------------------------------------

struct StateSync::Impl {
  Impl(StateSync& self, const config::StateSettings& s, metrics::Registry& reg)
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
    up_gauge =
        &reg.gauge("switchboard_state_store_up",
                   "1 while the shared state store (Redis) answers, 0 while it does not.", {});
    calls_ok = &reg.counter("switchboard_state_store_calls_total",
                            "Calls to the shared state store, by result.", {{"result", "ok"}});
    calls_failed =
        &reg.counter("switchboard_state_store_calls_total",
                     "Calls to the shared state store, by result.", {{"result", "error"}});
    top_ups = &reg.counter("switchboard_state_store_top_ups_total",
                           "Requests that waited for one call to the shared state store because "
                           "this replica's leases could not cover them.",
                           {});
    unreported = &reg.gauge(
        "switchboard_state_unreported_nanodollars",
        "Spend served by this replica and not yet recorded in the shared store (the journal).", {});
    stranded = &reg.gauge("switchboard_state_lease_headroom_nanodollars",
                          "Budget leased by this replica and not reserved by any request.", {});
  }

  StateSync& owner;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  redis::Client client;
  redis::Script tenant_script;
  redis::Script backend_script;
  metrics::Registry& registry;
  std::string replica;
  std::thread thread;
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // the maps below; control path and the sync thread's round start
  std::map<std::string, std::shared_ptr<TenantShare>> tenants;
  std::map<std::string, std::shared_ptr<BackendShare>> backends;

  metrics::Gauge* up_gauge = nullptr;
  metrics::Counter* calls_ok = nullptr;
  metrics::Counter* calls_failed = nullptr;
  metrics::Counter* top_ups = nullptr;
  metrics::Gauge* unreported = nullptr;
  metrics::Gauge* stranded = nullptr;

  const config::StateSettings& settings() const { return owner.settings_; }
  std::int64_t ttl_ms() const { return settings().lease_ttl.count(); }
  std::int64_t horizon_ms() const { return settings().lease_horizon.count(); }
  /// A rate grant may be used for `horizon` after it was made; the window in Redis is longer by
  /// that (and two seconds of rounding), so no 60-second span ever admits more than the limit.
  std::int64_t rate_window_s() const { return 62 + (horizon_ms() + 999) / 1000; }

  std::string tenant_key(const TenantShare& t, std::string_view rest) const {
    std::string k = settings().prefix;
    k += ":{t:";
    k += key_part(t.name);
    k += "}:";
    k += rest;
    return k;
  }

  void mark(bool ok, const std::string& why) {
    (ok ? calls_ok : calls_failed)->inc();
    const bool was = owner.up_.exchange(ok, std::memory_order_acq_rel);
    up_gauge->set(ok ? 1 : 0);
    if (was != ok) {
      if (ok) {
        log::info("shared state store reachable", {{"url_host", settings().host}});
      } else {
        log::warn("shared state store unreachable",
                  {{"url_host", settings().host},
                   {"reason", why},
                   {"on_unavailable",
                    settings().on_unavailable == config::StateUnavailable::self_hosted_only
                        ? "self-hosted-only"
                    : settings().on_unavailable == config::StateUnavailable::local ? "local"
                                                                                   : "reject"}});
      }
    }
  }

  // --- One call for one tenant -------------------------------------------------------------

  struct BudgetWant {
    int kind = 0;
    std::int64_t period = 0;
    Nanos min = 0;
    Nanos max = 0;
    bool for_request = false;
  };
  struct RateWant {
    std::uint64_t min = 0;
    std::uint64_t max = 0;
    bool for_request = false;
    bool asked = false;
  };
  struct Plan {
    std::vector<BudgetWant> budgets;  // every (kind, period) in the call
    std::array<RateWant, 2> rates{};
  };
  struct Outcome {
    bool reached = false;
    std::vector<Nanos> granted;  // per plan.budgets entry
    std::array<std::int64_t, 2> rate_granted{-1, -1};
    std::int64_t rate_retry_after = 1;
  };

  /// Waits until no other call of this tenant is in flight (replies update `believed`).
  asio::awaitable<void> lock(TenantShare::Book& b) {
    while (b.busy) {
      // The timer never expires (set once): unlock() cancels it, waking every waiter, and the
      // first to run takes the lock; the others wait again.
      boost::system::error_code ec;
      co_await b.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    b.busy = true;
  }
  void unlock(TenantShare::Book& b) {
    b.busy = false;
    b.wake.cancel();
  }

  /// Makes sure the ledgers of `period` exist for `kind` (reusing the one of four periods ago).
  void open_period(TenantShare& t, int kind, std::int64_t period) {
    BudgetLease& l = t.budget[kind][static_cast<std::size_t>(period % 4)];
    if (l.period() == period) {
      return;
    }
    if (l.unreported() != 0) {
      log::warn("shared state: spend of a period four periods old was never reported",
                {{"tenant", t.name}, {"nanodollars", num(l.unreported())}});
    }
    l.reset(period);
    t.book->believed[kind][static_cast<std::size_t>(period % 4)] = 0;
  }

  asio::awaitable<Outcome> call(TenantShare& t, Plan plan) {
    TenantShare::Book& b = *t.book;
    Outcome out;
    const std::array<Nanos, 2> limits{t.daily.load(), t.monthly.load()};
    const std::array<std::uint64_t, 2> rate_limits{t.rpm.load(), t.tpm.load()};

    // The report: the one not yet acknowledged, as it was; otherwise what is unreported now
    // and what the leases do not need. Every ledger with something to say joins the call.
    const PeriodIds now = period_ids(owner.now_());
    const std::array<std::int64_t, 2> current{now.day, now.month};
    const auto listed = [&](int kind, std::int64_t period) {
      return std::any_of(plan.budgets.begin(), plan.budgets.end(),
                         [&](const BudgetWant& w) { return w.kind == kind && w.period == period; });
    };
    if (!b.pending) {
      b.budget_reports.clear();
      for (int kind = 0; kind < 2; ++kind) {
        for (std::size_t s = 0; s < 4; ++s) {
          BudgetLease& l = t.budget[kind][s];
          const std::int64_t period = l.period();
          if (period < 0) {
            continue;
          }
          const bool live = period == current[kind] && limits[kind] >= 0;
          // A finished period (or a budget removed) gives all back; the current one what is
          // beyond twice its target (all of it when the budget is scarce).
          const Nanos tgt = live ? target(t, kind) : 0;
          const Nanos release = l.take_for_release(std::max<Nanos>(0, l.headroom() - 2 * tgt));
          const Nanos spend = l.take_unreported();
          if (!listed(kind, period) && spend == 0 && release == 0 && b.believed[kind][s] == 0) {
            continue;
          }
          b.budget_reports.push_back({kind, period, spend, release});
          if (!listed(kind, period)) {
            plan.budgets.push_back({kind, period, 0, 0, false});
          }
        }
      }
      for (int r = 0; r < 2; ++r) {
        b.rate_reports[r].overrun += (r == kRequests ? t.requests : t.tokens).take_overrun();
      }
      b.pending_seq = ++b.seq;
      b.pending = true;
    } else {
      for (const auto& rep : b.budget_reports) {
        if (!listed(rep.kind, rep.period)) {
          plan.budgets.push_back({rep.kind, rep.period, 0, 0, false});
        }
      }
    }
    out.granted.assign(plan.budgets.size(), 0);

    std::vector<std::string> keys;
    std::vector<std::string> args{
        replica, num(ttl_ms()), num(static_cast<std::int64_t>(b.pending_seq)),
        "0",     "0",           num(rate_window_s()),
        "0"};
    // Long enough for the longest period and a late report after it.
    const std::int64_t keep = 31 * 86400 + kKeepAfterPeriod;
    for (const BudgetWant& w : plan.budgets) {
      keys.push_back(tenant_key(
          t, w.kind == kDay ? "day:" + day_name(w.period) : "month:" + month_name(w.period)));
      Nanos spend = 0;
      Nanos release = 0;
      for (const auto& rep : b.budget_reports) {
        if (rep.kind == w.kind && rep.period == w.period) {
          spend = rep.spend;
          release = rep.release;
        }
      }
      const Nanos limit = std::max<Nanos>(0, limits[w.kind]);
      args.push_back(num(limit));
      args.push_back(num(spend));
      args.push_back(num(release));
      args.push_back(num(w.min));
      args.push_back(num(w.max));
    }
    std::vector<int> rate_kinds;
    for (int r = 0; r < 2; ++r) {
      const RateWant& w = plan.rates[r];
      const auto& rep = b.rate_reports[r];
      if (!w.asked && rep.release == 0 && rep.overrun == 0) {
        continue;
      }
      rate_kinds.push_back(r);
      keys.push_back(tenant_key(t, r == kRequests ? "rpm" : "tpm"));
      args.push_back(num(static_cast<std::int64_t>(rate_limits[r])));
      args.push_back(num(rep.second));
      args.push_back(num(static_cast<std::int64_t>(rep.release)));
      args.push_back(num(static_cast<std::int64_t>(rep.overrun)));
      args.push_back(num(static_cast<std::int64_t>(w.min)));
      args.push_back(num(static_cast<std::int64_t>(w.max)));
    }
    args[3] = num(static_cast<std::int64_t>(plan.budgets.size()));
    args[4] = num(static_cast<std::int64_t>(rate_kinds.size()));
    args[6] = num(keep);

    const std::int64_t sent_ms = StateSync::steady_ms();
    b.last_call_ms = sent_ms;
    redis::Result res = co_await client.eval(tenant_script, std::move(keys), std::move(args));
    const std::size_t expected = 1 + plan.budgets.size() * 5 + rate_kinds.size() * 4;
    if (res.error == redis::Error::none &&
        (res.reply.type != redis::Reply::Type::array || res.reply.elements.size() != expected)) {
      res.error = redis::Error::protocol;
      res.message = "unexpected reply to the tenant script";
    }
    if (res.error != redis::Error::none) {
      mark(false, res.message);
      // Unacknowledged: the report stays pending (sent again with the same sequence number).
      co_return out;
    }
    mark(true, {});
    out.reached = true;
    b.pending = false;
    b.last_ok_ms = sent_ms;
    const auto& e = res.reply.elements;
    std::size_t i = 1;
    for (std::size_t n = 0; n < plan.budgets.size(); ++n, i += 5) {
      const BudgetWant& w = plan.budgets[n];
      const Nanos granted = to_int(e[i]);
      const Nanos mine = to_int(e[i + 1]);
      const Nanos spent = to_int(e[i + 2]);
      const Nanos leased = to_int(e[i + 3]);
      const std::size_t slot = static_cast<std::size_t>(w.period % 4);
      BudgetLease& l = t.budget[w.kind][slot];
      Nanos spend = 0;
      Nanos release = 0;
      for (const auto& rep : b.budget_reports) {
        if (rep.kind == w.kind && rep.period == w.period) {
          spend = rep.spend;
          release = rep.release;
        }
      }
      Nanos& believed = b.believed[w.kind][slot];
      // What Redis holds against what this replica expected: a lost grant found again, or a
      // lease expired while Redis was out of reach, corrects the headroom.
      const Nanos expect = believed - spend - release + granted;
      const Nanos correction = mine - expect;
      believed = mine;
      if (l.period() != w.period) {
        continue;  // reused since: nothing local to credit
      }
      const Nanos to_request = w.for_request ? granted : 0;
      out.granted[n] = to_request;
      l.credit(granted - to_request + correction);
      if (w.period == current[w.kind] && limits[w.kind] >= 0) {
        l.set_valid_until(sent_ms + ttl_ms() * 4 / 5);
        b.free[w.kind] = limits[w.kind] - spent - leased;
        b.unspent[w.kind] = limits[w.kind] - spent;
        b.holders[w.kind] = to_int(e[i + 4]);
        t.global_committed[w.kind].store(spent + leased, std::memory_order_release);
        t.global_exhausted[w.kind].store(spent >= limits[w.kind], std::memory_order_release);
      }
    }
    for (const int r : rate_kinds) {
      const std::int64_t granted = to_int(e[i]);
      const std::int64_t second = to_int(e[i + 1]);
      const std::int64_t counted = to_int(e[i + 2]);
      const std::int64_t oldest = to_int(e[i + 3]);
      i += 4;
      b.rate_reports[r] = {};
      b.rate_free[r] = static_cast<std::int64_t>(rate_limits[r]) - counted;
      const RateWant& w = plan.rates[r];
      if (!w.asked) {
        continue;
      }
      if (w.for_request) {
        out.rate_granted[r] = granted;
        if (granted == 0) {
          out.rate_retry_after = std::max<std::int64_t>(1, oldest + rate_window_s() - second);
        }
        continue;
      }
      RateLease& lease = r == kRequests ? t.requests : t.tokens;
      // The new grant replaces the old; what is left of the old goes back with the next call.
      const auto [left, old_grant] =
          lease.replace(static_cast<std::uint64_t>(granted), sent_ms + horizon_ms());
      (void)old_grant;
      b.rate_reports[r] = {b.grant_second[r], left, 0};
      b.grant_second[r] = second;
    }
    co_return out;
  }

  // --- Lease sizing ---------------------------------------------------------------------------

  /// How much headroom this replica should hold for `kind`: its recent spending over the
  /// horizon (at least one of its largest requests), and none when the budget is scarce.
  Nanos target(const TenantShare& t, int kind) const {
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

  /// More than it may ask for now: a fair share of what nobody holds, so that replicas that
  /// start later still find some.
  Nanos fair_share(const TenantShare& t, int kind) const {
    const TenantShare::Book& b = *t.book;
    return std::max<Nanos>(0, b.free[kind] / (2 * std::max<std::int64_t>(1, b.holders[kind])));
  }

  void read_rates(TenantShare& t, std::int64_t now_ms) {
    TenantShare::Book& b = *t.book;
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

  // --- The background round -----------------------------------------------------------------

  /// Plans the background call for a tenant, or returns false when none is needed.
  bool plan_refill(TenantShare& t, std::int64_t now_ms, Plan& plan) {
    TenantShare::Book& b = *t.book;
    const PeriodIds p = period_ids(owner.now_());
    const std::array<Nanos, 2> limits{t.daily.load(), t.monthly.load()};
    const std::array<std::int64_t, 2> periods{p.day, p.month};
    bool needed = b.pending;
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
      auto tgt =
          static_cast<std::uint64_t>(per_s * static_cast<double>(horizon_ms()) / 1000.0 * 1.5);
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

  asio::awaitable<void> refill(std::shared_ptr<TenantShare> t) {
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

  asio::awaitable<void> refill_backend(std::shared_ptr<BackendShare> s) {
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

  asio::awaitable<void> loop() {
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

  /// At shutdown: reports everything and gives every lease back.
  asio::awaitable<void> give_back_all() {
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
};

// -------------------------------------------------------------------------------------------------

StateSync::StateSync(const config::StateSettings& settings, metrics::Registry& registry, NowFn now)
    : settings_(settings), now_(now != nullptr ? now : &Clock::now) {
  impl_ = std::make_unique<Impl>(*this, settings_, registry);
  impl_->thread = std::thread([this] {
    asio::co_spawn(impl_->io, impl_->loop(), asio::detached);
    for (;;) {
      try {
        impl_->io.run();
        break;
      } catch (const std::exception& e) {
        log::error("shared state thread: unexpected exception", {{"what", e.what()}});
      }
    }
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
      if (limits[k] >= 0 && cost > 0) {
        im.open_period(t, k, periods[k]);
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
  co_return co_await asio::co_spawn(im.io, work(), asio::use_awaitable);
}

}  // namespace sb::gateway
