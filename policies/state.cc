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
// A budget is a ring of two slots, the period with id p (UTC day or month number since 1970) in
// slot p % 2, so that a request admitted just before a boundary still settles in the period it
// was admitted in while the next one runs. A slot is two words:
//   `period`: the full id of the period the slot holds, only ever raised (claimed by CAS);
//   `word`:   (lap: 4 bits, committed: 60 bits of nano-USD), lap = (period / 2) mod 16.
// Spent and reserved are kept as their sum, because every reader needs only the sum and
// reconcile's `reserved -= r; spent += actual` is `sum += actual - r`. Reserving, settling and
// resetting are each one CAS on `word`, so "reserve only if it fits" can never interleave
// badly: N concurrent admissions reserve at most the limit. 60 bits hold about $1.15 billion
// exactly per tenant and period.
//
// Claiming a slot for period p: help finish the previous claim (its word reset to its lap),
// CAS `period` up, then reset the word to (lap(p), 0) unless a writer of p already did. A word
// whose lap differs from its slot's period's lap is stale and reads as 0; consecutive claims of
// a slot never share a lap (a jump of a multiple of 16 laps goes through p - 2 first), so a stale
// word is always recognised. A writer holding an old view only ever CASes a word it read, so it
// can corrupt a newer period only if the word came back to the same bits meanwhile: 16 claims of
// the slot (32 periods) during one CAS loop, the same kind of bound as the rate windows' stamps.

constexpr std::uint64_t kAmountBits = 60;
constexpr std::uint64_t kAmountMask = (1ull << kAmountBits) - 1;

constexpr std::uint64_t lap_of(std::int64_t period) {
  return static_cast<std::uint64_t>(period >> 1) & 0xF;
}
constexpr std::uint64_t word_lap(std::uint64_t word) {
  return word >> kAmountBits;
}
constexpr std::uint64_t amount_of(std::uint64_t word) {
  return word & kAmountMask;
}
constexpr std::uint64_t pack_amount(std::int64_t period, std::uint64_t amount) {
  return (lap_of(period) << kAmountBits) | std::min(amount, kAmountMask);
}

std::uint64_t clamp_amount(Nanos m) {
  return m <= 0 ? 0 : std::min(static_cast<std::uint64_t>(m), kAmountMask);
}

constexpr std::int64_t kNoPeriod = -2;

struct BudgetSlot {
  std::atomic<std::int64_t> period{kNoPeriod};
  std::atomic<std::uint64_t> word{pack_amount(kNoPeriod, 0)};
};

class Budget {
 public:
  /// Committed (spent + reserved) in period `p` (0 when the slot holds another period).
  std::uint64_t committed(std::int64_t p) const {
    const BudgetSlot& s = slot(p);
    const std::uint64_t w = s.word.load(std::memory_order_acquire);
    if (s.period.load(std::memory_order_acquire) != p || word_lap(w) != lap_of(p)) {
      return 0;
    }
    return amount_of(w);
  }

  /// Reserves as much of [min, max] as fits under `limit` in period `p`. Returns the amount
  /// reserved, or nullopt when not even `min` fits (an exhausted budget admits nothing, not even
  /// a request estimated at zero, so that admit() and budget_exhausted() always agree).
  std::optional<std::uint64_t> reserve(std::int64_t p, std::uint64_t limit, std::uint64_t min,
                                       std::uint64_t max) {
    BudgetSlot& s = claim(p);
    std::uint64_t cur = s.word.load(std::memory_order_acquire);
    for (;;) {
      if (s.period.load(std::memory_order_acquire) != p) {
        return std::nullopt;  // the caller's clock is two periods behind: refuse, never guess
      }
      const std::uint64_t c = word_lap(cur) == lap_of(p) ? amount_of(cur) : 0;
      if (c >= limit) {
        return std::nullopt;
      }
      const std::uint64_t grant = std::min(max, limit - c);
      if (grant < min) {
        return std::nullopt;
      }
      if (s.word.compare_exchange_weak(cur, pack_amount(p, c + grant), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return grant;
      }
    }
  }

  /// Replaces `reserved` made in period `p` by `actual` in that period, if the slot still holds
  /// it (a period two or more behind is gone: nothing to correct).
  void settle(std::int64_t p, std::uint64_t reserved, std::uint64_t actual) {
    BudgetSlot& s = claim(p);
    std::uint64_t cur = s.word.load(std::memory_order_acquire);
    for (;;) {
      if (s.period.load(std::memory_order_acquire) != p) {
        return;
      }
      std::uint64_t c = word_lap(cur) == lap_of(p) ? amount_of(cur) : 0;
      c = c > reserved ? c - reserved : 0;
      c = std::min(c + actual, kAmountMask);
      if (s.word.compare_exchange_weak(cur, pack_amount(p, c), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return;
      }
    }
  }

 private:
  BudgetSlot& slot(std::int64_t p) { return slots_[static_cast<std::uint64_t>(p) & 1]; }
  const BudgetSlot& slot(std::int64_t p) const { return slots_[static_cast<std::uint64_t>(p) & 1]; }

  /// Makes sure the slot of `p` holds p or a later period; returns it.
  BudgetSlot& claim(std::int64_t p) {
    BudgetSlot& s = slot(p);
    std::int64_t q = s.period.load(std::memory_order_acquire);
    while (q < p) {
      reset(s, q);  // the previous claim's word first, so that laps never alias
      const std::int64_t target = lap_of(q) == lap_of(p) && p - 2 > q ? p - 2 : p;
      if (s.period.compare_exchange_strong(q, target, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
        reset(s, target);
        q = target;
      }
    }
    return s;
  }

  /// Brings the word to (lap(t), 0) when it is stale, while the slot holds period t.
  static void reset(BudgetSlot& s, std::int64_t t) {
    std::uint64_t cur = s.word.load(std::memory_order_acquire);
    while (s.period.load(std::memory_order_acquire) == t && word_lap(cur) != lap_of(t)) {
      if (s.word.compare_exchange_weak(cur, pack_amount(t, 0), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return;
      }
    }
  }

  std::array<BudgetSlot, 2> slots_;
};

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
  Budget day;
  Budget month;
  alignas(64) Window rate;
};

struct TenantLimits {
  std::string name;
  std::uint64_t rpm = 0;
  std::uint64_t tpm = 0;
  std::optional<std::uint64_t> daily;  ///< limit in nanos
  std::optional<std::uint64_t> monthly;
};

std::optional<std::uint64_t> limit_nanos(const std::optional<double>& usd) {
  if (!usd) {
    return std::nullopt;
  }
  return clamp_amount(usd_to_nanos(*usd));
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
  // Engine load: each backend's settings, and its board once attached (null: source none).
  std::vector<config::LoadSettings> load_settings;
  std::vector<std::shared_ptr<const LoadBoard>> boards;

  const BackendSlot* backend(std::size_t i) const {
    return i < backends.size() ? backends[i].get() : nullptr;
  }
  BackendSlot* backend(std::size_t i) { return i < backends.size() ? backends[i].get() : nullptr; }

  // A backend's requests and tokens over the last 60 seconds (none for an unknown backend).
  WindowSum backend_window(std::size_t i) const {
    const BackendSlot* s = backend(i);
    return s != nullptr ? s->window.sum(static_cast<std::uint32_t>(periods_at(now()).second))
                        : WindowSum{};
  }
};

MemoryState::MemoryState(const config::Config& config, NowFn now)
    : impl_(std::make_unique<Impl>()) {
  impl_->now = now != nullptr ? now : &Clock::now;
  for (const config::Backend& b : config.backends) {
    impl_->backend_names.push_back(b.name);
    impl_->backends.push_back(std::make_shared<BackendSlot>());
    impl_->load_settings.push_back(b.load);
  }
  impl_->boards.resize(config.backends.size());
  for (const config::Tenant& t : config.tenants) {
    impl_->tenants.push_back(TenantLimits{t.name, t.rate.rpm, t.rate.tpm,
                                          limit_nanos(t.budget.daily_usd),
                                          limit_nanos(t.budget.monthly_usd)});
  }
  if (impl_->tenants.empty()) {
    // The implicit open tenant (index 0) of a config without `tenants:`: no limits.
    TenantLimits open;
    open.name = "default";
    impl_->tenants.push_back(std::move(open));
  }
  for (std::size_t i = 0; i < impl_->tenants.size(); ++i) {
    impl_->tenant_slots.push_back(std::make_shared<TenantSlot>());
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

void MemoryState::attach_load(std::size_t backend, std::shared_ptr<const LoadBoard> board) {
  if (backend < impl_->boards.size()) {
    impl_->boards[backend] = std::move(board);
  }
}

LoadSignals MemoryState::backend_load(std::size_t backend) const {
  if (backend >= impl_->boards.size() || impl_->boards[backend] == nullptr) {
    return {};
  }
  return impl_->boards[backend]->pool(load_clock_ms(), impl_->load_settings[backend]);
}

std::int64_t MemoryState::backend_in_flight(std::size_t backend) const {
  const BackendSlot* s = impl_->backend(backend);
  return s != nullptr ? s->in_flight.load(std::memory_order_relaxed) : 0;
}

double MemoryState::backend_rpm(std::size_t backend) const {
  return static_cast<double>(impl_->backend_window(backend).requests);
}

double MemoryState::backend_tpm(std::size_t backend) const {
  return static_cast<double>(impl_->backend_window(backend).tokens);
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
    daily = fraction(slot.day.committed(p.day), *limits.daily);
  }
  if (limits.monthly && period != config::BudgetPeriod::daily) {
    monthly = fraction(slot.month.committed(p.month), *limits.monthly);
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
  if (limits.daily && slot.day.committed(p.day) >= *limits.daily) {
    return true;
  }
  return limits.monthly && slot.month.committed(p.month) >= *limits.monthly;
}

namespace {

/// Counts the request against the tenant's rates: count first (the worst case of the tokens),
/// then check, and take back what is over: the request when rpm is, the tokens above tpm when the
/// rest still covers min_tokens (`tokens` is cut then), else everything. Concurrent admissions at
/// the edge may therefore both be cut or refused, but a limit is never exceeded. False, with the
/// refusal in `result`, when a rate refuses the request.
bool admit_rates(const TenantLimits& limits, TenantSlot& slot, std::uint32_t now, const Ask& ask,
                 std::uint64_t& tokens, AdmissionResult& result) {
  slot.rate.add(now, 1, tokens);
  const WindowSum sum = slot.rate.sum(now);
  const bool over_requests = limits.rpm > 0 && sum.requests > limits.rpm;
  bool over_tokens = false;
  if (!over_requests && limits.tpm > 0 && sum.tokens > limits.tpm) {
    const std::uint64_t excess = sum.tokens - limits.tpm;
    const std::uint64_t floor = std::max<std::uint64_t>(ask.min_tokens, tokens > 0 ? 1 : 0);
    if (excess < tokens && tokens - excess >= floor) {
      slot.rate.undo(now, 0, excess);
      tokens -= excess;
    } else {
      over_tokens = true;
    }
  }
  if (!over_requests && !over_tokens) {
    return true;
  }
  slot.rate.undo(now, 1, tokens);
  result.outcome =
      over_requests ? Admission::rate_limited_requests : Admission::rate_limited_tokens;
  result.retry_after = seconds{
      over_requests ? slot.rate.retry_after(now, false, 1, limits.rpm)
                    : slot.rate.retry_after(now, true, std::max<std::uint64_t>(ask.min_tokens, 1),
                                            limits.tpm)};
  return false;
}

/// Reserves the request's cost (between ask.min_cost and ask.cost) from the day's and the month's
/// budgets, into `r`. The wait until a budget frees up when one cannot grant even the minimum
/// (nothing is then held), nullopt when reserved.
std::optional<std::int64_t> reserve_budget(const TenantLimits& limits, TenantSlot& slot,
                                           const Periods& p, const Ask& ask, Reservation& r) {
  const std::uint64_t max = clamp_amount(ask.cost);
  const std::uint64_t min = std::min(clamp_amount(ask.min_cost), max);
  std::uint64_t amount = max;
  std::int64_t day = -1;
  if (limits.daily) {
    const std::optional<std::uint64_t> got = slot.day.reserve(p.day, *limits.daily, min, amount);
    if (!got) {
      if (limits.monthly) {
        const std::uint64_t m = slot.month.committed(p.month);
        if (m >= *limits.monthly || min > *limits.monthly - m) {
          return p.seconds_to_month_end;  // the month's budget frees up only later
        }
      }
      return p.seconds_to_day_end;
    }
    amount = *got;
    day = p.day;
  }
  std::int64_t month = -1;
  if (limits.monthly) {
    const std::optional<std::uint64_t> got =
        slot.month.reserve(p.month, *limits.monthly, min, amount);
    if (!got) {
      if (day >= 0) {
        slot.day.settle(day, amount, 0);
      }
      return p.seconds_to_month_end;
    }
    if (day >= 0 && *got < amount) {
      slot.day.settle(day, amount, *got);  // the month granted less: the day keeps as much
    }
    amount = *got;
    month = p.month;
  }
  r.amount = static_cast<Nanos>(amount);
  r.day = day;
  r.month = month;
  return std::nullopt;
}

}  // namespace

AdmissionResult MemoryState::admit(std::size_t tenant, const Ask& ask) {
  AdmissionResult result;
  result.reservation.tenant = tenant;
  if (tenant >= impl_->tenants.size()) {
    return result;  // no such tenant here: nothing to limit or reserve
  }
  const TenantLimits& limits = impl_->tenants[tenant];
  TenantSlot& slot = *impl_->tenant_slots[tenant];
  const Periods p = periods_at(impl_->now());
  const auto now = static_cast<std::uint32_t>(p.second);
  const bool rated = limits.rpm > 0 || limits.tpm > 0;
  std::uint64_t tokens = ask.tokens;
  if (rated) {
    if (!admit_rates(limits, slot, now, ask, tokens, result)) {
      return result;
    }
    result.reservation.second = p.second;
    result.reservation.tokens = tokens;
  }
  if (!ask.enforce_budget || (!limits.daily && !limits.monthly)) {
    return result;
  }
  if (const std::optional<std::int64_t> wait =
          reserve_budget(limits, slot, p, ask, result.reservation)) {
    if (rated) {
      slot.rate.undo(now, 1, tokens);  // a refused request takes nothing from the rates either
    }
    result.reservation = Reservation{};
    result.reservation.tenant = tenant;
    result.outcome = Admission::budget_exhausted;
    result.retry_after = seconds{*wait};
  }
  return result;
}

void MemoryState::reconcile(const Reservation& r, std::uint64_t actual_tokens, Nanos actual_cost) {
  if (r.tenant >= impl_->tenants.size()) {
    return;
  }
  const TenantLimits& limits = impl_->tenants[r.tenant];
  TenantSlot& slot = *impl_->tenant_slots[r.tenant];
  const Periods p = periods_at(impl_->now());
  if (r.second >= 0) {
    // Tokens: what was reserved beyond the actual comes back (while its second is still in the
    // window); what the upstream used beyond the reservation counts now.
    if (actual_tokens < r.tokens) {
      slot.rate.undo(static_cast<std::uint32_t>(r.second), 0, r.tokens - actual_tokens);
    } else if (actual_tokens > r.tokens) {
      slot.rate.add(static_cast<std::uint32_t>(p.second), 0, actual_tokens - r.tokens);
    }
  }
  const std::uint64_t reserved = clamp_amount(r.amount);
  const std::uint64_t spent = clamp_amount(actual_cost);
  // The cost counts in the periods the reservation was made in; a budget without a reservation
  // (added by a reload after admission, or not enforced) counts it in the current period.
  if (limits.daily) {
    r.day >= 0 ? slot.day.settle(r.day, reserved, spent) : slot.day.settle(p.day, 0, spent);
  }
  if (limits.monthly) {
    r.month >= 0 ? slot.month.settle(r.month, reserved, spent)
                 : slot.month.settle(p.month, 0, spent);
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

std::optional<Nanos> MemoryState::budget_remaining(std::size_t tenant,
                                                   config::BudgetPeriod period) const {
  if (tenant >= impl_->tenants.size()) {
    return std::nullopt;
  }
  const TenantLimits& limits = impl_->tenants[tenant];
  const TenantSlot& slot = *impl_->tenant_slots[tenant];
  const Periods p = periods_at(impl_->now());
  std::optional<Nanos> out;
  // Negative when actual costs outran their reservations: an honest figure for an alert.
  const auto remaining = [](std::uint64_t limit, std::uint64_t committed) {
    return static_cast<Nanos>(limit) - static_cast<Nanos>(committed);
  };
  if (limits.daily && period != config::BudgetPeriod::monthly) {
    out = remaining(*limits.daily, slot.day.committed(p.day));
  }
  if (limits.monthly && period != config::BudgetPeriod::daily) {
    const Nanos m = remaining(*limits.monthly, slot.month.committed(p.month));
    out = out ? std::min(*out, m) : m;  // `any`: the binding one
  }
  return out;
}

}  // namespace sb::policies
