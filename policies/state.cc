#include "policies/state.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace sb::policies {

// -------------------------------------------------------------------------------------------------
// Money

Micros to_micros(double usd) {
  if (!std::isfinite(usd)) {
    return usd > 0 ? std::numeric_limits<Micros>::max() : 0;
  }
  const double micros = std::round(usd * 1e6);
  // 2^63 is exactly representable as a double; anything at or above it would overflow llround.
  if (micros >= 9223372036854775807.0) {
    return std::numeric_limits<Micros>::max();
  }
  if (micros <= -9223372036854775807.0) {
    return std::numeric_limits<Micros>::min();
  }
  return static_cast<Micros>(micros);
}

double to_usd(Micros m) {
  return static_cast<double>(m) / 1e6;
}

namespace {

using std::chrono::days;
using std::chrono::seconds;

constexpr std::int64_t kWindowSeconds = 60;

// -------------------------------------------------------------------------------------------------
// Sliding one-minute windows.
//
// 60 one-second buckets; each counter is one 64-bit word holding (second stamp: 32 bits, count:
// 32 bits) so that "this bucket belongs to second s" and "its count" change together in one CAS:
// a writer that finds a stale stamp replaces the word with (s, v), one that finds its own second
// adds to it. No reset race is possible because there is nothing to reset separately. Counts
// saturate at 2^32-1 per second (4 billion tokens per second per tenant or backend).

constexpr std::uint64_t kCountMask = 0xFFFF'FFFFull;

constexpr std::uint32_t stamp_of(std::uint64_t word) {
  return static_cast<std::uint32_t>(word >> 32);
}
constexpr std::uint64_t count_of(std::uint64_t word) {
  return word & kCountMask;
}
constexpr std::uint64_t pack_count(std::uint32_t stamp, std::uint64_t count) {
  return (static_cast<std::uint64_t>(stamp) << 32) | std::min(count, kCountMask);
}
// Seconds from `stamp` to `now` in modular 32-bit arithmetic (negative: stamp is in the future).
constexpr std::int64_t age(std::uint32_t now, std::uint32_t stamp) {
  return static_cast<std::int32_t>(now - stamp);
}

struct WindowSum {
  std::uint64_t requests = 0;
  std::uint64_t tokens = 0;
};

class Window {
 public:
  /// Adds to the bucket of second `now`.
  void add(std::uint32_t now, std::uint64_t requests, std::uint64_t tokens) {
    Bucket& b = buckets_[now % kWindowSeconds];
    add_word(b.requests, now, requests);
    add_word(b.tokens, now, tokens);
  }

  /// Takes back what add(now, ...) added, if that second's bucket has not been reused since.
  void undo(std::uint32_t now, std::uint64_t requests, std::uint64_t tokens) {
    Bucket& b = buckets_[now % kWindowSeconds];
    sub_word(b.requests, now, requests);
    sub_word(b.tokens, now, tokens);
  }

  /// Totals over the seconds (now-60, now].
  WindowSum sum(std::uint32_t now) const {
    WindowSum s;
    for (const Bucket& b : buckets_) {
      s.requests += in_window(b.requests.load(std::memory_order_relaxed), now);
      s.tokens += in_window(b.tokens.load(std::memory_order_relaxed), now);
    }
    return s;
  }

  /// Seconds until enough of what is counted now leaves the window that `own` more fits under
  /// `limit` (at least 1). `tokens` selects the counter. When `own` alone exceeds the limit the
  /// request can never fit; the answer is then the whole window.
  std::int64_t retry_after(std::uint32_t now, bool tokens, std::uint64_t own,
                           std::uint64_t limit) const {
    if (own > limit) {
      return kWindowSeconds;
    }
    std::array<std::pair<std::int64_t, std::uint64_t>, kWindowSeconds> live{};  // (age, count)
    std::size_t n = 0;
    std::uint64_t total = 0;
    for (const Bucket& b : buckets_) {
      const std::uint64_t word = (tokens ? b.tokens : b.requests).load(std::memory_order_relaxed);
      const std::uint64_t c = in_window(word, now);
      if (c > 0) {
        live[n++] = {age(now, stamp_of(word)), c};
        total += c;
      }
    }
    if (total + own <= limit) {
      return 1;
    }
    const std::uint64_t need = total + own - limit;
    // Oldest first: the oldest counted second leaves the window first.
    std::sort(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(n),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    std::uint64_t freed = 0;
    for (std::size_t i = 0; i < n; ++i) {
      freed += live[i].second;
      if (freed >= need) {
        // A bucket of age a is counted until its age reaches 60.
        return std::max<std::int64_t>(1, kWindowSeconds - live[i].first);
      }
    }
    return kWindowSeconds;
  }

 private:
  struct Bucket {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> tokens{0};
  };

  static std::uint64_t in_window(std::uint64_t word, std::uint32_t now) {
    const std::int64_t a = age(now, stamp_of(word));
    return (a >= 0 && a < kWindowSeconds) ? count_of(word) : 0;
  }

  static void add_word(std::atomic<std::uint64_t>& w, std::uint32_t now, std::uint64_t v) {
    std::uint64_t cur = w.load(std::memory_order_relaxed);
    for (;;) {
      const std::int64_t a = age(now, stamp_of(cur));
      if (a < 0 && count_of(cur) != 0) {
        return;  // a later second already owns this bucket: ours has left that writer's window
      }
      const std::uint64_t next =
          a == 0 ? pack_count(now, count_of(cur) + std::min(v, kCountMask)) : pack_count(now, v);
      if (w.compare_exchange_weak(cur, next, std::memory_order_relaxed)) {
        return;
      }
    }
  }

  static void sub_word(std::atomic<std::uint64_t>& w, std::uint32_t now, std::uint64_t v) {
    std::uint64_t cur = w.load(std::memory_order_relaxed);
    for (;;) {
      if (stamp_of(cur) != now) {
        return;
      }
      const std::uint64_t c = count_of(cur);
      const std::uint64_t next = pack_count(now, c > v ? c - v : 0);
      if (w.compare_exchange_weak(cur, next, std::memory_order_relaxed)) {
        return;
      }
    }
  }

  std::array<Bucket, kWindowSeconds> buckets_;
};

// -------------------------------------------------------------------------------------------------
// Budgets.
//
// Each budget period is one 64-bit word: (period tag: 16 bits, spent + reserved: 48 bits of
// micro-USD). Admission, reconciliation and the period rollover are each a single CAS on it, so
// "reset when the period changed" and "reserve only if it fits" can never interleave badly: N
// concurrent admissions reserve at most the limit. Spent and reserved are kept as their sum
// because every reader (the admission check, budget_fraction, budget_remaining) needs only the
// sum, and reconcile's `reserved -= estimate; spent += actual` is `sum += actual - estimate`.
//
// The tag is the period id (UTC day number or month number since 1970) modulo 2^16, compared
// modularly; day numbers fit until 2149. 48 bits hold up to ~$281M per tenant and period;
// larger limits are clamped to that.

constexpr std::uint64_t kAmountMask = (1ull << 48) - 1;

constexpr std::uint16_t tag_of_word(std::uint64_t word) {
  return static_cast<std::uint16_t>(word >> 48);
}
constexpr std::uint64_t amount_of(std::uint64_t word) {
  return word & kAmountMask;
}
constexpr std::uint64_t pack_amount(std::int64_t period, std::uint64_t amount) {
  return (static_cast<std::uint64_t>(static_cast<std::uint16_t>(period)) << 48) |
         std::min(amount, kAmountMask);
}
// Period id of `word` given that `period` is the caller's current one (the word's tag is never
// more than 2^15 periods away from it).
constexpr std::int64_t period_of(std::uint64_t word, std::int64_t period) {
  return period + static_cast<std::int16_t>(tag_of_word(word) - static_cast<std::uint16_t>(period));
}

std::uint64_t clamp_amount(Micros m) {
  return m <= 0 ? 0 : std::min(static_cast<std::uint64_t>(m), kAmountMask);
}

/// Spent + reserved in period `period`, as seen from it (0 when the word is from an older one).
std::uint64_t committed_in(std::uint64_t word, std::int64_t period) {
  return period_of(word, period) >= period ? amount_of(word) : 0;
}

/// Reserves `amount` in `period` when it fits under `limit`. A newer period already started by
/// another thread (whose clock read came a moment later) is joined rather than rolled back.
/// Returns the period the reservation was made in, or -1 when it does not fit.
std::int64_t try_reserve(std::atomic<std::uint64_t>& w, std::int64_t period, std::uint64_t limit,
                         std::uint64_t amount) {
  std::uint64_t cur = w.load(std::memory_order_acquire);
  for (;;) {
    const std::int64_t stored = period_of(cur, period);
    const std::int64_t target = std::max(stored, period);
    const std::uint64_t committed = stored == target ? amount_of(cur) : 0;
    // An exhausted budget admits nothing, not even a request estimated at zero, so that admit()
    // and budget_exhausted() always agree.
    if (committed >= limit || amount > limit - committed) {
      return -1;
    }
    if (w.compare_exchange_weak(cur, pack_amount(target, committed + amount),
                                std::memory_order_acq_rel, std::memory_order_acquire)) {
      return target;
    }
  }
}

/// Takes back a reservation of `amount` made in `period`, unless that period has ended.
void unreserve(std::atomic<std::uint64_t>& w, std::int64_t period, std::uint64_t amount) {
  std::uint64_t cur = w.load(std::memory_order_acquire);
  for (;;) {
    if (period_of(cur, period) != period) {
      return;
    }
    const std::uint64_t a = amount_of(cur);
    if (w.compare_exchange_weak(cur, pack_amount(period, a > amount ? a - amount : 0),
                                std::memory_order_acq_rel, std::memory_order_acquire)) {
      return;
    }
  }
}

/// Replaces a reservation of `reserved` made in `reserved_period` (-1: none) by `actual`. When the
/// period has rolled over since, `actual` counts in the current one and its reservations stay.
void settle(std::atomic<std::uint64_t>& w, std::int64_t now_period, std::int64_t reserved_period,
            std::uint64_t reserved, std::uint64_t actual) {
  std::uint64_t cur = w.load(std::memory_order_acquire);
  for (;;) {
    const std::int64_t stored = period_of(cur, now_period);
    const std::int64_t target = std::max(stored, now_period);
    std::uint64_t committed = stored == target ? amount_of(cur) : 0;
    if (reserved_period == target) {
      committed = committed > reserved ? committed - reserved : 0;
    }
    committed = std::min(committed + actual, kAmountMask);
    if (w.compare_exchange_weak(cur, pack_amount(target, committed), std::memory_order_acq_rel,
                                std::memory_order_acquire)) {
      return;
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Calendar (UTC)

struct Periods {
  std::int64_t second = 0;  ///< whole seconds since the epoch
  std::int64_t day = 0;     ///< days since 1970-01-01
  std::int64_t month = 0;   ///< months since 1970-01
  std::int64_t seconds_to_day_end = 0;
  std::int64_t seconds_to_month_end = 0;
};

Periods periods_at(MemoryState::Clock::time_point now) {
  using namespace std::chrono;
  Periods p;
  const sys_seconds s = floor<seconds>(now);
  const sys_days d = floor<days>(now);
  const year_month_day ymd{d};
  const sys_days next_day = d + days{1};
  const sys_days next_month = sys_days{year_month_day{ymd.year(), ymd.month(), day{1}} + months{1}};
  p.second = s.time_since_epoch().count();
  p.day = d.time_since_epoch().count();
  p.month = (static_cast<int>(ymd.year()) - 1970) * 12 +
            static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
  // Whole seconds, rounded up, until the period ends; at least one.
  const auto until = [&](sys_days end) {
    return std::max<std::int64_t>(1, ceil<seconds>(end - now).count());
  };
  p.seconds_to_day_end = until(next_day);
  p.seconds_to_month_end = until(next_month);
  return p;
}

// -------------------------------------------------------------------------------------------------
// Slots: the counters of one backend / tenant. Shared between the states of consecutive configs
// (carry_over), hence reference-counted; each on its own cache lines.

struct alignas(64) BackendSlot {
  std::atomic<std::int64_t> in_flight{0};
  alignas(64) Window window;
};

struct alignas(64) TenantSlot {
  /// Starts both budgets as "nothing committed in the period before now", so that a period tag
  /// is only ever compared with one a few periods away (modular comparison stays exact).
  explicit TenantSlot(const Periods& p)
      : day(pack_amount(p.day - 1, 0)), month(pack_amount(p.month - 1, 0)) {}
  std::atomic<std::uint64_t> day;
  std::atomic<std::uint64_t> month;
  alignas(64) Window rate;
};

struct TenantLimits {
  std::string name;
  std::uint64_t rpm = 0;
  std::uint64_t tpm = 0;
  std::optional<std::uint64_t> daily;  ///< limit in micros
  std::optional<std::uint64_t> monthly;
};

std::optional<std::uint64_t> limit_micros(const std::optional<double>& usd) {
  if (!usd) {
    return std::nullopt;
  }
  return clamp_amount(to_micros(*usd));
}

double fraction(std::uint64_t committed, std::uint64_t limit) {
  if (limit == 0) {
    return 1.0;  // a zero budget is fully spent from the start
  }
  return static_cast<double>(committed) / static_cast<double>(limit);
}

}  // namespace

struct MemoryState::Impl {
  NowFn now;
  std::vector<std::string> backend_names;
  std::vector<std::shared_ptr<BackendSlot>> backends;
  std::vector<TenantLimits> tenants;
  std::vector<std::shared_ptr<TenantSlot>> tenant_slots;

  const BackendSlot* backend(std::size_t i) const {
    return i < backends.size() ? backends[i].get() : nullptr;
  }
  BackendSlot* backend(std::size_t i) { return i < backends.size() ? backends[i].get() : nullptr; }
};

MemoryState::MemoryState(const config::Config& config, NowFn now)
    : impl_(std::make_unique<Impl>()) {
  impl_->now = now != nullptr ? now : &Clock::now;
  for (const config::Backend& b : config.backends) {
    impl_->backend_names.push_back(b.name);
    impl_->backends.push_back(std::make_shared<BackendSlot>());
  }
  for (const config::Tenant& t : config.tenants) {
    impl_->tenants.push_back(TenantLimits{t.name, t.rate.rpm, t.rate.tpm,
                                          limit_micros(t.budget.daily_usd),
                                          limit_micros(t.budget.monthly_usd)});
  }
  if (impl_->tenants.empty()) {
    // The implicit open tenant (index 0) of a config without `tenants:`: no limits.
    TenantLimits open;
    open.name = "default";
    impl_->tenants.push_back(std::move(open));
  }
  const Periods p = periods_at(impl_->now());
  for (std::size_t i = 0; i < impl_->tenants.size(); ++i) {
    impl_->tenant_slots.push_back(std::make_shared<TenantSlot>(p));
  }
}

MemoryState::~MemoryState() = default;

void MemoryState::carry_over(const MemoryState& previous) {
  const Impl& prev = *previous.impl_;
  for (std::size_t i = 0; i < impl_->backend_names.size(); ++i) {
    for (std::size_t j = 0; j < prev.backend_names.size(); ++j) {
      if (prev.backend_names[j] == impl_->backend_names[i]) {
        impl_->backends[i] = prev.backends[j];
        break;
      }
    }
  }
  for (std::size_t i = 0; i < impl_->tenants.size(); ++i) {
    for (std::size_t j = 0; j < prev.tenants.size(); ++j) {
      if (prev.tenants[j].name == impl_->tenants[i].name) {
        impl_->tenant_slots[i] = prev.tenant_slots[j];
        break;
      }
    }
  }
}

std::int64_t MemoryState::backend_in_flight(std::size_t backend) const {
  const BackendSlot* s = impl_->backend(backend);
  return s != nullptr ? s->in_flight.load(std::memory_order_relaxed) : 0;
}

double MemoryState::backend_rpm(std::size_t backend) const {
  const BackendSlot* s = impl_->backend(backend);
  if (s == nullptr) {
    return 0;
  }
  const auto now = static_cast<std::uint32_t>(periods_at(impl_->now()).second);
  return static_cast<double>(s->window.sum(now).requests);
}

double MemoryState::backend_tpm(std::size_t backend) const {
  const BackendSlot* s = impl_->backend(backend);
  if (s == nullptr) {
    return 0;
  }
  const auto now = static_cast<std::uint32_t>(periods_at(impl_->now()).second);
  return static_cast<double>(s->window.sum(now).tokens);
}

double MemoryState::budget_fraction(std::size_t tenant, config::BudgetPeriod period) const {
  if (tenant >= impl_->tenants.size()) {
    return 0;
  }
  const TenantLimits& limits = impl_->tenants[tenant];
  if (!limits.daily && !limits.monthly) {
    return 0;
  }
  const TenantSlot& slot = *impl_->tenant_slots[tenant];
  const Periods p = periods_at(impl_->now());
  double daily = 0;
  double monthly = 0;
  if (limits.daily && period != config::BudgetPeriod::monthly) {
    daily = fraction(committed_in(slot.day.load(std::memory_order_acquire), p.day), *limits.daily);
  }
  if (limits.monthly && period != config::BudgetPeriod::daily) {
    monthly = fraction(committed_in(slot.month.load(std::memory_order_acquire), p.month),
                       *limits.monthly);
  }
  return std::max(daily, monthly);
}

bool MemoryState::budget_exhausted(std::size_t tenant) const {
  if (tenant >= impl_->tenants.size()) {
    return false;
  }
  const TenantLimits& limits = impl_->tenants[tenant];
  if (!limits.daily && !limits.monthly) {
    return false;
  }
  const TenantSlot& slot = *impl_->tenant_slots[tenant];
  const Periods p = periods_at(impl_->now());
  if (limits.daily &&
      committed_in(slot.day.load(std::memory_order_acquire), p.day) >= *limits.daily) {
    return true;
  }
  return limits.monthly &&
         committed_in(slot.month.load(std::memory_order_acquire), p.month) >= *limits.monthly;
}

AdmissionResult MemoryState::admit(std::size_t tenant, std::uint64_t estimated_tokens,
                                   Micros estimate, bool enforce_budget) {
  AdmissionResult result;
  result.reservation.tenant = tenant;
  if (tenant >= impl_->tenants.size()) {
    return result;  // no such tenant here: nothing to limit or reserve
  }
  const TenantLimits& limits = impl_->tenants[tenant];
  TenantSlot& slot = *impl_->tenant_slots[tenant];
  const Periods p = periods_at(impl_->now());
  const auto now = static_cast<std::uint32_t>(p.second);

  // Rates: count first, then check, and take the count back when over. Concurrent admissions at
  // the edge may therefore both be refused, but the limit is never exceeded.
  const bool rated = limits.rpm > 0 || limits.tpm > 0;
  if (rated) {
    slot.rate.add(now, 1, estimated_tokens);
    const WindowSum sum = slot.rate.sum(now);
    const bool over_requests = limits.rpm > 0 && sum.requests > limits.rpm;
    const bool over_tokens = !over_requests && limits.tpm > 0 && sum.tokens > limits.tpm;
    if (over_requests || over_tokens) {
      slot.rate.undo(now, 1, estimated_tokens);
      result.outcome =
          over_requests ? Admission::rate_limited_requests : Admission::rate_limited_tokens;
      result.retry_after =
          seconds{over_requests ? slot.rate.retry_after(now, false, 1, limits.rpm)
                                : slot.rate.retry_after(now, true, estimated_tokens, limits.tpm)};
      return result;
    }
  }

  if (!enforce_budget || (!limits.daily && !limits.monthly)) {
    return result;
  }
  const std::uint64_t amount = clamp_amount(estimate);
  std::int64_t day = -1;
  if (limits.daily) {
    day = try_reserve(slot.day, p.day, *limits.daily, amount);
    if (day < 0) {
      std::int64_t wait = p.seconds_to_day_end;
      if (limits.monthly) {
        const std::uint64_t m = committed_in(slot.month.load(std::memory_order_acquire), p.month);
        if (m >= *limits.monthly || amount > *limits.monthly - m) {
          wait = p.seconds_to_month_end;  // the month's budget frees up only later
        }
      }
      if (rated) {
        slot.rate.undo(now, 1, estimated_tokens);
      }
      result.outcome = Admission::budget_exhausted;
      result.retry_after = seconds{wait};
      return result;
    }
  }
  std::int64_t month = -1;
  if (limits.monthly) {
    month = try_reserve(slot.month, p.month, *limits.monthly, amount);
    if (month < 0) {
      if (day >= 0) {
        unreserve(slot.day, day, amount);
      }
      if (rated) {
        slot.rate.undo(now, 1, estimated_tokens);
      }
      result.outcome = Admission::budget_exhausted;
      result.retry_after = seconds{p.seconds_to_month_end};
      return result;
    }
  }
  result.reservation.amount = static_cast<Micros>(amount);
  result.reservation.day = day;
  result.reservation.month = month;
  return result;
}

void MemoryState::reconcile(const Reservation& r, Micros actual) {
  if (r.tenant >= impl_->tenants.size()) {
    return;
  }
  const TenantLimits& limits = impl_->tenants[r.tenant];
  TenantSlot& slot = *impl_->tenant_slots[r.tenant];
  const Periods p = periods_at(impl_->now());
  const std::uint64_t reserved = clamp_amount(r.amount);
  const std::uint64_t spent = clamp_amount(actual);
  // A budget added by a reload after admission has no reservation: the actual cost just counts.
  if (limits.daily) {
    settle(slot.day, p.day, r.day, r.day >= 0 ? reserved : 0, spent);
  }
  if (limits.monthly) {
    settle(slot.month, p.month, r.month, r.month >= 0 ? reserved : 0, spent);
  }
}

void MemoryState::record_backend(std::size_t backend, std::uint64_t tokens) {
  BackendSlot* s = impl_->backend(backend);
  if (s == nullptr) {
    return;
  }
  s->window.add(static_cast<std::uint32_t>(periods_at(impl_->now()).second), 1, tokens);
}

void MemoryState::add_in_flight(std::size_t backend, std::int64_t delta) {
  BackendSlot* s = impl_->backend(backend);
  if (s != nullptr) {
    s->in_flight.fetch_add(delta, std::memory_order_relaxed);
  }
}

std::optional<double> MemoryState::budget_remaining_usd(std::size_t tenant,
                                                        config::BudgetPeriod period) const {
  if (tenant >= impl_->tenants.size()) {
    return std::nullopt;
  }
  const TenantLimits& limits = impl_->tenants[tenant];
  const TenantSlot& slot = *impl_->tenant_slots[tenant];
  const Periods p = periods_at(impl_->now());
  std::optional<double> out;
  // Negative when actual costs outran their estimates: an honest figure for an alert.
  const auto remaining = [](std::uint64_t limit, std::uint64_t committed) {
    return to_usd(static_cast<Micros>(limit) - static_cast<Micros>(committed));
  };
  if (limits.daily && period != config::BudgetPeriod::monthly) {
    out = remaining(*limits.daily, committed_in(slot.day.load(std::memory_order_acquire), p.day));
  }
  if (limits.monthly && period != config::BudgetPeriod::daily) {
    const double m = remaining(*limits.monthly,
                               committed_in(slot.month.load(std::memory_order_acquire), p.month));
    out = out ? std::min(*out, m) : m;  // `any`: the binding one
  }
  return out;
}

}  // namespace sb::policies
