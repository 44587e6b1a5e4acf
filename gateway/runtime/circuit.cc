#include "gateway/runtime/circuit.h"

#include <algorithm>

namespace sb::gateway {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// State word layout (64 bits), changed only by compare-and-swap:
//   bits  0-1   phase: 0 closed, 1 open, 2 half-open (probe granted)
//   bits  2-7   backoff exponent: the current opening lasts open_for * 2^backoff (capped)
//   bits  8-15  generation, bumped on every close, so a trip decided against an older closed
//               period cannot land on a newer one (ABA)
//   bits 16-63  a time in milliseconds since the clock's epoch, signed (about +-4400 years):
//               open -> when the open time ends; half-open -> when the probe was granted
constexpr std::uint64_t kPhaseClosed = 0;
constexpr std::uint64_t kPhaseOpen = 1;
constexpr std::uint64_t kPhaseHalfOpen = 2;
constexpr unsigned kMaxBackoff = 63;

std::uint64_t phase_of(std::uint64_t w) {
  return w & 0x3u;
}
unsigned backoff_of(std::uint64_t w) {
  return static_cast<unsigned>((w >> 2) & 0x3Fu);
}
std::uint64_t generation_of(std::uint64_t w) {
  return (w >> 8) & 0xFFu;
}
std::int64_t time_of(std::uint64_t w) {
  return static_cast<std::int64_t>(w) >> 16;
}

std::uint64_t make_word(std::uint64_t phase, unsigned backoff, std::uint64_t generation,
                        std::int64_t time_ms) {
  return phase | (static_cast<std::uint64_t>(backoff & 0x3Fu) << 2) | ((generation & 0xFFu) << 8) |
         (static_cast<std::uint64_t>(time_ms) << 16);
}

std::int64_t floor_ms(Circuit::TimePoint t) {
  return std::chrono::floor<milliseconds>(t.time_since_epoch()).count();
}

// Deadlines round up, so that comparing them with floor_ms(now) never ends a period early.
std::int64_t ceil_ms(Circuit::TimePoint t) {
  return std::chrono::ceil<milliseconds>(t.time_since_epoch()).count();
}

// Bucket word layout (64 bits):
//   bits  0-19  failures, saturating
//   bits 20-39  successes, saturating
//   bits 40-63  the bucket's index (time / bucket width) modulo 2^24. Only differences of a few
//               buckets are ever compared, so the wrap (194 days at one-second buckets) is
//               harmless unless a slot sits untouched for within kSkewBuckets of an exact
//               multiple of that period (then one event may be dropped).
constexpr std::uint64_t kCountMax = (1u << 20) - 1;
constexpr std::uint64_t kStampMask = (1u << 24) - 1;
// How far (in buckets) a slot's stamp may be ahead of the writer's `now` and still be taken as
// newer data rather than as a slot left untouched for a whole wrap of the stamp.
constexpr std::int64_t kSkewBuckets = 4 * Circuit::kBuckets;

std::uint64_t failures_of(std::uint64_t b) {
  return b & kCountMax;
}
std::uint64_t successes_of(std::uint64_t b) {
  return (b >> 20) & kCountMax;
}
std::uint64_t stamp_of(std::uint64_t b) {
  return b >> 40;
}

std::uint64_t make_bucket(std::uint64_t stamp, std::uint64_t successes, std::uint64_t failures) {
  return ((stamp & kStampMask) << 40) | (successes << 20) | failures;
}

// How many buckets `stamp` lies behind `current` (negative: ahead), from the 24-bit stamps.
std::int64_t stamp_distance(std::uint64_t current, std::uint64_t stamp) {
  constexpr auto kRange = static_cast<std::int64_t>(kStampMask + 1);
  const auto d = static_cast<std::int64_t>((current - stamp) & kStampMask);
  return d >= kRange / 2 ? d - kRange : d;
}

}  // namespace

Circuit::Circuit(const CircuitSettings& settings)
    : settings_(settings),
      bucket_width_(
          std::max<nanoseconds>(nanoseconds(settings.window) / kBuckets, milliseconds(1))) {
  for (auto& b : buckets_) {
    b.store(0, std::memory_order_relaxed);
  }
}

bool Circuit::allow(TimePoint now) {
  if (!healthy_.load(std::memory_order_relaxed)) {
    return false;
  }
  std::uint64_t w = state_word_.load(std::memory_order_acquire);
  const std::int64_t now_ms = floor_ms(now);
  const std::int64_t lease_ms = settings_.probe_timeout.count();
  for (;;) {
    const std::uint64_t phase = phase_of(w);
    if (phase == kPhaseClosed) {
      return true;
    }
    if (phase == kPhaseOpen && now_ms < time_of(w)) {
      return false;
    }
    if (phase == kPhaseHalfOpen && now_ms - time_of(w) < lease_ms) {
      return false;  // a probe is in flight
    }
    // The open time is over (or the last probe is presumed lost): whoever wins this CAS is the
    // one probe; losers reload and see half-open with a fresh grant.
    const std::uint64_t probe =
        make_word(kPhaseHalfOpen, backoff_of(w), generation_of(w), ceil_ms(now));
    if (state_word_.compare_exchange_strong(w, probe, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
      return true;
    }
  }
}

// A report: on a closed circuit `on_closed(word)` runs; a half-open one takes the word
// `settle(word)` returns (the probe's outcome), by compare-and-swap, retried while the word
// changes; an open circuit ignores it (a late report from before the circuit opened).
template <class OnClosed, class Settle>
void Circuit::report(OnClosed on_closed, Settle settle) {
  std::uint64_t w = state_word_.load(std::memory_order_acquire);
  for (;;) {
    switch (phase_of(w)) {
      case kPhaseClosed:
        on_closed(w);
        return;
      case kPhaseHalfOpen:
        if (state_word_.compare_exchange_weak(w, settle(w), std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
          return;
        }
        break;
      default:
        return;
    }
  }
}

void Circuit::success(TimePoint now) {
  report(
      [&](std::uint64_t) {
        // Skip the store when already zero: successes are the common case and a needless write
        // would bounce the cache line between workers.
        if (consecutive_.load(std::memory_order_relaxed) != 0) {
          consecutive_.store(0, std::memory_order_relaxed);
        }
        record(now, false);
      },
      [&](std::uint64_t w) {
        // Clear before publishing `closed` (release), so that no thread which sees the circuit
        // closed can trip it again on the counts that opened it.
        clear_counts();
        return make_word(kPhaseClosed, 0, generation_of(w) + 1, 0);
      });
}

void Circuit::failure(TimePoint now) {
  report(
      [&](std::uint64_t w) {
        record(now, true);
        const unsigned consecutive = consecutive_.fetch_add(1, std::memory_order_relaxed) + 1;
        trip_if_over(w, consecutive, now);
      },
      [&](std::uint64_t w) {
        const unsigned backoff = std::min(backoff_of(w) + 1, kMaxBackoff);
        return make_word(kPhaseOpen, backoff, generation_of(w), ceil_ms(now + open_time(backoff)));
      });
}

Circuit::State Circuit::state(TimePoint now) const {
  const std::uint64_t w = state_word_.load(std::memory_order_acquire);
  switch (phase_of(w)) {
    case kPhaseClosed:
      return State::closed;
    case kPhaseOpen:
      return floor_ms(now) < time_of(w) ? State::open : State::half_open;
    default:
      return State::half_open;
  }
}

Circuit::WindowCounts Circuit::window_counts(TimePoint now) const {
  const auto current = static_cast<std::uint64_t>(bucket_index(now)) & kStampMask;
  WindowCounts counts;
  for (const auto& bucket : buckets_) {
    const std::uint64_t b = bucket.load(std::memory_order_relaxed);
    const std::int64_t age = stamp_distance(current, stamp_of(b));
    // Buckets slightly ahead of `now` come from threads whose clock reading was a little later.
    if (age < static_cast<std::int64_t>(kBuckets) && age > -static_cast<std::int64_t>(kBuckets)) {
      counts.failures += failures_of(b);
      counts.requests += failures_of(b) + successes_of(b);
    }
  }
  return counts;
}

bool Circuit::trip_if_over(std::uint64_t word, unsigned consecutive, TimePoint now) {
  bool over = settings_.consecutive_failures != 0 && consecutive >= settings_.consecutive_failures;
  if (!over && settings_.error_rate > 0.0 && settings_.error_rate <= 1.0) {
    const WindowCounts counts = window_counts(now);
    const std::uint64_t min_requests = std::max(settings_.min_requests, 1u);
    // Dividing (rather than multiplying the rate) keeps e.g. 3 of 10 at a rate of 0.3 exact.
    over = counts.requests >= min_requests &&
           static_cast<double>(counts.failures) / static_cast<double>(counts.requests) >=
               settings_.error_rate;
  }
  if (!over) {
    return false;
  }
  // Expecting the exact closed word we accounted against: if another thread tripped first, or a
  // whole open/close cycle happened meanwhile (generation bumped), this does nothing.
  const std::uint64_t opened =
      make_word(kPhaseOpen, 0, generation_of(word), ceil_ms(now + open_time(0)));
  return state_word_.compare_exchange_strong(word, opened, std::memory_order_acq_rel,
                                             std::memory_order_relaxed);
}

void Circuit::record(TimePoint now, bool failed) {
  const std::int64_t index = bucket_index(now);
  const auto stamp = static_cast<std::uint64_t>(index) & kStampMask;
  auto& bucket = buckets_[static_cast<std::size_t>(((index % kBuckets) + kBuckets) % kBuckets)];
  std::uint64_t b = bucket.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    const std::int64_t behind = stamp_distance(stamp, stamp_of(b));
    const bool empty = successes_of(b) == 0 && failures_of(b) == 0;
    if (!empty && behind == 0) {
      successes = successes_of(b);
      failures = failures_of(b);
    } else if (!empty && behind < 0 && behind > -kSkewBuckets) {
      // The slot already holds a bucket a whole window newer than `now` (this thread read its
      // clock long before another): the event has left that window already, so drop it rather
      // than wipe newer counts. Anything further "ahead" is a slot untouched for about a wrap
      // of the stamp, so it is recycled.
      return;
    }
    if (failed) {
      failures = std::min(failures + 1, kCountMax);
    } else {
      successes = std::min(successes + 1, kCountMax);
    }
    if (bucket.compare_exchange_weak(b, make_bucket(stamp, successes, failures),
                                     std::memory_order_relaxed)) {
      return;
    }
  }
}

void Circuit::clear_counts() {
  consecutive_.store(0, std::memory_order_relaxed);
  for (auto& b : buckets_) {
    b.store(0, std::memory_order_relaxed);
  }
}

std::int64_t Circuit::bucket_index(TimePoint now) const {
  const nanoseconds since = now.time_since_epoch();
  std::int64_t index = since / bucket_width_;
  if (since.count() < 0 && since % bucket_width_ != nanoseconds::zero()) {
    --index;  // floor, not truncation, before the epoch
  }
  return index;
}

std::chrono::nanoseconds Circuit::open_time(unsigned backoff) const {
  const nanoseconds cap = std::max(settings_.max_open_for, settings_.open_for);
  nanoseconds t = settings_.open_for;
  for (unsigned i = 0; i < backoff && t < cap; ++i) {
    t = t > cap / 2 ? cap : t * 2;
  }
  return std::min(t, cap);
}

}  // namespace sb::gateway
