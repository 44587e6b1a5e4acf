#include "gateway/state/state_sync_impl.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/observability/log.h"
#include "gateway/state/state_scripts.h"

// One script call for one tenant (scripts::kTenant): the report (spend since the last call,
// headroom given back), the wants (refills ahead of need, or what one request needs), and the
// reply applied to the local leases.

namespace sb::gateway {

using namespace sync_detail;
using policies::BudgetLease;
using policies::Nanos;
using policies::RateLease;

namespace sync_detail {

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
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string month_name(std::int64_t month) {
  char buf[48];
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

}  // namespace sync_detail

std::string StateSync::Impl::tenant_key(const TenantShare& t, std::string_view rest) const {
  std::string k = settings().prefix;
  k += ":{t:";
  k += key_part(t.name);
  k += "}:";
  k += rest;
  return k;
}

void StateSync::Impl::mark(bool ok, const std::string& why) {
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

asio::awaitable<void> StateSync::Impl::lock(TenantShare::Book& b) {
  while (b.busy) {
    // The timer never expires (set once): unlock() cancels it, waking every waiter, and the
    // first to run takes the lock; the others wait again.
    boost::system::error_code ec;
    co_await b.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  b.busy = true;
}

void StateSync::Impl::unlock(TenantShare::Book& b) {
  b.busy = false;
  b.wake.cancel();
}

void StateSync::Impl::open_period(TenantShare& t, int kind, std::int64_t period) {
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

// The report: the one not yet acknowledged, as it was; otherwise what is unreported now and what
// the leases do not need. Every ledger with something to say joins the call.
void StateSync::Impl::prepare_report(TenantShare& t, Plan& plan) {
  TenantShare::Book& b = *t.book;
  const std::array<Nanos, 2> limits{t.daily.load(), t.monthly.load()};
  const PeriodIds now = period_ids(owner.now_());
  const std::array<std::int64_t, 2> current{now.day, now.month};
  const auto listed = [&](int kind, std::int64_t period) {
    return std::any_of(plan.budgets.begin(), plan.budgets.end(),
                       [&](const BudgetWant& w) { return w.kind == kind && w.period == period; });
  };
  if (b.pending) {
    for (const auto& rep : b.budget_reports) {
      if (!listed(rep.kind, rep.period)) {
        plan.budgets.push_back({rep.kind, rep.period, 0, 0, false});
      }
    }
    return;
  }
  b.budget_reports.clear();
  for (int kind = 0; kind < 2; ++kind) {
    for (std::size_t s = 0; s < 4; ++s) {
      BudgetLease& l = t.budget[kind][s];
      const std::int64_t period = l.period();
      if (period < 0) {
        continue;
      }
      const bool live = period == current[kind] && limits[kind] >= 0;
      // A finished period (or a budget removed) gives all back; the current one what is beyond
      // twice its target (all of it when the budget is scarce).
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
}

// KEYS and ARGV of scripts::kTenant for `plan` and the pending report; `rate_kinds` lists the
// rate keys included, in order.
void StateSync::Impl::script_args(const TenantShare& t, const Plan& plan,
                                  std::vector<std::string>& keys, std::vector<std::string>& args,
                                  std::vector<int>& rate_kinds) const {
  const TenantShare::Book& b = *t.book;
  const std::array<Nanos, 2> limits{t.daily.load(), t.monthly.load()};
  const std::array<std::uint64_t, 2> rate_limits{t.rpm.load(), t.tpm.load()};
  // Budget keys live long enough for the longest period and a late report after it.
  const std::int64_t keep = 31 * 86400 + kKeepAfterPeriod;
  args = {replica,
          num(ttl_ms()),
          num(static_cast<std::int64_t>(b.pending_seq)),
          num(static_cast<std::int64_t>(plan.budgets.size())),
          "0",
          num(rate_window_s()),
          num(keep)};
  for (const BudgetWant& w : plan.budgets) {
    keys.push_back(tenant_key(
        t, w.kind == kDay ? "day:" + day_name(w.period) : "month:" + month_name(w.period)));
    const TenantShare::Book::BudgetReport rep = b.report(w.kind, w.period);
    args.push_back(num(std::max<Nanos>(0, limits[w.kind])));
    args.push_back(num(rep.spend));
    args.push_back(num(rep.release));
    args.push_back(num(w.min));
    args.push_back(num(w.max));
  }
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
  args[4] = num(static_cast<std::int64_t>(rate_kinds.size()));
}

// Per budget key: granted, this replica's lease, spent, leased, holders.
void StateSync::Impl::apply_budgets(TenantShare& t, const Plan& plan,
                                    const std::vector<redis::Reply>& e, std::int64_t sent_ms,
                                    Outcome& out) {
  TenantShare::Book& b = *t.book;
  const std::array<Nanos, 2> limits{t.daily.load(), t.monthly.load()};
  const PeriodIds now = period_ids(owner.now_());
  const std::array<std::int64_t, 2> current{now.day, now.month};
  std::size_t i = 1;
  for (std::size_t n = 0; n < plan.budgets.size(); ++n, i += 5) {
    const BudgetWant& w = plan.budgets[n];
    const Nanos granted = to_int(e[i]);
    const Nanos mine = to_int(e[i + 1]);
    const Nanos spent = to_int(e[i + 2]);
    const Nanos leased = to_int(e[i + 3]);
    const std::size_t slot = static_cast<std::size_t>(w.period % 4);
    BudgetLease& l = t.budget[w.kind][slot];
    const TenantShare::Book::BudgetReport rep = b.report(w.kind, w.period);
    Nanos& believed = b.believed[w.kind][slot];
    // What Redis holds against what this replica expected: a lost grant found again, or a lease
    // expired while Redis was out of reach, corrects the headroom.
    const Nanos correction = mine - (believed - rep.spend - rep.release + granted);
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
}

// Per rate key, after the budget keys: granted, grant second, counted in the window, oldest
// second counted.
void StateSync::Impl::apply_rates(TenantShare& t, const Plan& plan, const std::vector<int>& kinds,
                                  const std::vector<redis::Reply>& e, std::int64_t sent_ms,
                                  Outcome& out) {
  TenantShare::Book& b = *t.book;
  const std::array<std::uint64_t, 2> rate_limits{t.rpm.load(), t.tpm.load()};
  std::size_t i = 1 + plan.budgets.size() * 5;
  for (const int r : kinds) {
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
    const auto replaced =
        lease.replace(static_cast<std::uint64_t>(granted), sent_ms + horizon_ms());
    b.rate_reports[r] = {b.grant_second[r], replaced.first, 0};
    b.grant_second[r] = second;
  }
}

asio::awaitable<StateSync::Impl::Outcome> StateSync::Impl::call(TenantShare& t, Plan plan) {
  TenantShare::Book& b = *t.book;
  prepare_report(t, plan);
  Outcome out;
  out.granted.assign(plan.budgets.size(), 0);
  std::vector<std::string> keys;
  std::vector<std::string> args;
  std::vector<int> rate_kinds;
  script_args(t, plan, keys, args, rate_kinds);

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
  apply_budgets(t, plan, res.reply.elements, sent_ms, out);
  apply_rates(t, plan, rate_kinds, res.reply.elements, sent_ms, out);
  co_return out;
}

}  // namespace sb::gateway
