#pragma once
// A replica's local share of limits held in a shared store (Redis): the request path admits
// against these with single atomic operations; one background thread (gateway/state/state_sync.h)
// refills them from the store, reports what was spent and gives back what is not needed.
//
// BudgetLease: a share of one budget for one period (a UTC day or month), in nano-dollars.
//   headroom = lease granted by the store - reservations outstanding - spend not yet reported.
//   A reservation takes from the headroom; settling it gives back `reserved - actual` (negative
//   when the usage outran the reservation) and journals `actual` as unreported spend, which the
//   background thread reports. The headroom is usable only for its period and until the lease's
//   local validity ends (the store returns an unrenewed lease to the pool after its TTL).
//
// RateLease: a share of a per-minute allowance (requests or tokens), granted at some second
// and usable until a deadline. The word packs a grant sequence number with the amount left so
// that tokens given back after a request find the grant they came from, or are dropped (counted
// as used: never more than the limit) when a newer grant has replaced it.

#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

#include "policies/money.h"

namespace sb::policies {

class BudgetLease {
 public:
  // --- Request path: any thread, lock-free.

  /// True when the headroom may be used for `period` at `now_ms` (a steady-clock reading in
  /// milliseconds).
  bool usable(std::int64_t period, std::int64_t now_ms) const {
    return period_.load(std::memory_order_acquire) == period &&
           now_ms < valid_until_ms_.load(std::memory_order_acquire);
  }
  /// Takes as much as there is up to `max`, when that is at least `min`. nullopt otherwise
  /// (nothing taken). `min` is at least 1 unless `max` is 0.
  std::optional<Nanos> take(Nanos min, Nanos max);
  /// Counts what a request asks for, taken or not (the lease is sized from the rate of this).
  void note_demand(Nanos amount) {
    demand_.fetch_add(static_cast<std::uint64_t>(amount > 0 ? amount : 0),
                      std::memory_order_relaxed);
  }
  /// Gives back an amount taken and not used (a reservation refused elsewhere).
  void give_back(Nanos amount) {
    if (amount > 0) {
      headroom_.fetch_add(amount, std::memory_order_acq_rel);
    }
  }
  /// Settles a reservation of `reserved` taken from this lease of which `actual` was spent.
  void settle(Nanos reserved, Nanos actual) {
    headroom_.fetch_add(reserved - actual, std::memory_order_acq_rel);
    unreported_.fetch_add(actual, std::memory_order_acq_rel);
  }
  /// Journals spend that no reservation of this lease covered (admitted while the store was
  /// away, or settled after its lease was replaced). The lease pays for it (the headroom may go
  /// below zero) and it is reported like any other, so the store's total is what was served.
  void journal(Nanos actual) {
    headroom_.fetch_sub(actual, std::memory_order_acq_rel);
    unreported_.fetch_add(actual, std::memory_order_acq_rel);
  }

  Nanos headroom() const { return headroom_.load(std::memory_order_acquire); }
  Nanos unreported() const { return unreported_.load(std::memory_order_acquire); }
  std::int64_t period() const { return period_.load(std::memory_order_acquire); }
  /// Total ever asked for (taken or not): the background thread sizes the lease from its rate,
  /// so a replica whose requests find the lease short still shows the demand.
  std::uint64_t demand() const { return demand_.load(std::memory_order_relaxed); }

  // --- Background thread only.

  /// Starts the lease over for `period` with nothing granted (the ledger of an older period is
  /// reused: call only when that period's spend has been reported).
  void reset(std::int64_t period);
  Nanos take_unreported() { return unreported_.exchange(0, std::memory_order_acq_rel); }
  /// Takes up to `at_most` of the headroom to give back to the store; returns what was taken.
  Nanos take_for_release(Nanos at_most);
  /// Adds a grant or a correction (negative when the store holds less than was believed).
  void credit(Nanos delta) { headroom_.fetch_add(delta, std::memory_order_acq_rel); }
  void set_valid_until(std::int64_t ms) { valid_until_ms_.store(ms, std::memory_order_release); }
  std::int64_t valid_until() const { return valid_until_ms_.load(std::memory_order_acquire); }

 private:
  alignas(64) std::atomic<Nanos> headroom_{0};
  std::atomic<Nanos> unreported_{0};
  std::atomic<std::uint64_t> demand_{0};
  std::atomic<std::int64_t> period_{-1};
  std::atomic<std::int64_t> valid_until_ms_{0};
};

class RateLease {
 public:
  static constexpr std::uint64_t kAmountBits = 40;
  static constexpr std::uint64_t kMaxAmount = (std::uint64_t{1} << kAmountBits) - 1;

  /// What a request took: `amount`, from grant `grant` (for give_back).
  struct Taken {
    std::uint64_t amount = 0;
    std::uint32_t grant = 0;
  };

  // --- Request path: any thread, lock-free.

  /// Takes as much as there is up to `max`, when that is at least `min` and the grant is still
  /// valid at `now_ms`. nullopt otherwise (nothing taken).
  std::optional<Taken> take(std::uint64_t min, std::uint64_t max, std::int64_t now_ms);
  /// Counts what a request asks for, taken or not (the lease is sized from the rate of this).
  void note_demand(std::uint64_t amount) { demand_.fetch_add(amount, std::memory_order_relaxed); }
  /// Returns unused allowance to the grant it came from, if that grant is still the current one
  /// (otherwise it stays counted: a limit is never exceeded by a give-back).
  void give_back(std::uint32_t grant, std::uint64_t amount);
  /// Usage beyond what was taken (a response longer than its reservation): reported to the
  /// store, which counts it in the current second.
  void overrun(std::uint64_t amount) { overrun_.fetch_add(amount, std::memory_order_acq_rel); }

  std::uint64_t available() const { return amount_of(word_.load(std::memory_order_acquire)); }
  std::uint64_t demand() const { return demand_.load(std::memory_order_relaxed); }

  // --- Background thread only.

  /// Installs a new grant of `amount` usable until `valid_until_ms`; returns what was left of the
  /// previous grant (to give back to the store) and that grant's number.
  std::pair<std::uint64_t, std::uint32_t> replace(std::uint64_t amount,
                                                  std::int64_t valid_until_ms);
  /// Adds to the current grant (a top-up granted in the same second).
  void add(std::uint64_t amount);
  std::uint64_t take_overrun() { return overrun_.exchange(0, std::memory_order_acq_rel); }
  std::int64_t valid_until() const { return valid_until_ms_.load(std::memory_order_acquire); }

 private:
  static constexpr std::uint64_t amount_of(std::uint64_t w) { return w & kMaxAmount; }
  static constexpr std::uint32_t grant_of(std::uint64_t w) {
    return static_cast<std::uint32_t>(w >> kAmountBits);
  }
  static constexpr std::uint64_t pack(std::uint32_t grant, std::uint64_t amount) {
    return (static_cast<std::uint64_t>(grant & 0xFF'FFFFu) << kAmountBits) |
           (amount < kMaxAmount ? amount : kMaxAmount);
  }

  alignas(64) std::atomic<std::uint64_t> word_{0};
  std::atomic<std::uint64_t> overrun_{0};
  std::atomic<std::uint64_t> demand_{0};
  std::atomic<std::int64_t> valid_until_ms_{0};
};

}  // namespace sb::policies
