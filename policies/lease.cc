#include "policies/lease.h"

#include <algorithm>

namespace sb::policies {

std::optional<Nanos> BudgetLease::take(Nanos min, Nanos max) {
  if (max <= 0) {
    return Nanos{0};
  }
  min = std::clamp<Nanos>(min, 1, max);
  Nanos cur = headroom_.load(std::memory_order_acquire);
  for (;;) {
    if (cur < min) {
      return std::nullopt;
    }
    const Nanos amount = std::min(cur, max);
    if (headroom_.compare_exchange_weak(cur, cur - amount, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      return amount;
    }
  }
}

void BudgetLease::reset(std::int64_t period) {
  // Unusable first, so no request takes from a headroom being cleared.
  valid_until_ms_.store(0, std::memory_order_release);
  period_.store(-1, std::memory_order_release);
  headroom_.store(0, std::memory_order_release);
  period_.store(period, std::memory_order_release);
}

Nanos BudgetLease::take_for_release(Nanos at_most) {
  Nanos cur = headroom_.load(std::memory_order_acquire);
  for (;;) {
    const Nanos amount = std::min(cur, at_most);
    if (amount <= 0) {
      return 0;
    }
    if (headroom_.compare_exchange_weak(cur, cur - amount, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      return amount;
    }
  }
}

std::optional<RateLease::Taken> RateLease::take(std::uint64_t min, std::uint64_t max,
                                                std::int64_t now_ms) {
  if (max == 0) {
    return Taken{};
  }
  min = std::clamp<std::uint64_t>(min, 1, max);
  std::uint64_t cur = word_.load(std::memory_order_acquire);
  for (;;) {
    // Read after the word: a request that sees a new grant's word may still see the old
    // deadline for a moment; the store's window covers that (see gateway/state/state_sync.cc).
    if (now_ms >= valid_until_ms_.load(std::memory_order_acquire)) {
      return std::nullopt;
    }
    const std::uint64_t have = amount_of(cur);
    if (have < min) {
      return std::nullopt;
    }
    const std::uint64_t amount = std::min(have, max);
    if (word_.compare_exchange_weak(cur, pack(grant_of(cur), have - amount),
                                    std::memory_order_acq_rel, std::memory_order_acquire)) {
      return Taken{amount, grant_of(cur)};
    }
  }
}

void RateLease::give_back(std::uint32_t grant, std::uint64_t amount) {
  std::uint64_t cur = word_.load(std::memory_order_acquire);
  for (;;) {
    if (amount == 0 || grant_of(cur) != (grant & 0xFF'FFFFu)) {
      return;
    }
    if (word_.compare_exchange_weak(cur, pack(grant, amount_of(cur) + amount),
                                    std::memory_order_acq_rel, std::memory_order_acquire)) {
      return;
    }
  }
}

std::pair<std::uint64_t, std::uint32_t> RateLease::replace(std::uint64_t amount,
                                                           std::int64_t valid_until_ms) {
  std::uint64_t cur = word_.load(std::memory_order_acquire);
  for (;;) {
    const std::uint64_t next = pack(grant_of(cur) + 1, amount);
    if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      valid_until_ms_.store(valid_until_ms, std::memory_order_release);
      return {amount_of(cur), grant_of(cur)};
    }
  }
}

void RateLease::add(std::uint64_t amount) {
  std::uint64_t cur = word_.load(std::memory_order_acquire);
  for (;;) {
    if (word_.compare_exchange_weak(cur, pack(grant_of(cur), amount_of(cur) + amount),
                                    std::memory_order_acq_rel, std::memory_order_acquire)) {
      return;
    }
  }
}

}  // namespace sb::policies
