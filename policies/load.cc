// The load board: one seqlock-protected slot of atomics per endpoint. The scraper publishes a
// reading; the routing engine and the endpoint picker read it without locks. A reader that keeps
// meeting a write in progress gives up after a few tries and treats the endpoint as not read
// (never a torn reading).

#include "policies/load.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <limits>

namespace sb::policies {

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();
/// Reader retries before it gives up on a slot being written (a write is a few stores long).
constexpr int kReadTries = 16;

std::uint64_t bits(double v) {
  return std::bit_cast<std::uint64_t>(v);
}
double real(std::uint64_t v) {
  return std::bit_cast<double>(v);
}

struct Reading {
  double waiting = -1;
  double running = -1;
  double kv_cache = -1;
  double ttft_p50 = -1;
  std::int64_t at_ms = kNever;
};

}  // namespace

/// One endpoint. `seq` is even when the slot is stable, odd while a publish is in progress; the
/// fields are atomics too (relaxed), so a racing read is a retried read, never a data race.
struct LoadBoard::Slot {
  std::atomic<std::uint64_t> seq{0};
  std::atomic<std::uint64_t> waiting{bits(-1)};
  std::atomic<std::uint64_t> running{bits(-1)};
  std::atomic<std::uint64_t> kv_cache{bits(-1)};
  std::atomic<std::uint64_t> ttft_p50{bits(-1)};
  std::atomic<std::int64_t> at_ms{kNever};

  void write(const Reading& r) {
    // Writers exclude each other by taking the sequence from even to odd (one writer per backend
    // is the design; this keeps a second one correct, not fast).
    std::uint64_t s = seq.load(std::memory_order_relaxed);
    for (;;) {
      if ((s & 1) == 0 && seq.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                                    std::memory_order_relaxed)) {
        break;
      }
      s = seq.load(std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_release);
    waiting.store(bits(r.waiting), std::memory_order_relaxed);
    running.store(bits(r.running), std::memory_order_relaxed);
    kv_cache.store(bits(r.kv_cache), std::memory_order_relaxed);
    ttft_p50.store(bits(r.ttft_p50), std::memory_order_relaxed);
    at_ms.store(r.at_ms, std::memory_order_relaxed);
    seq.store(s + 2, std::memory_order_release);
  }

  /// False when every try met a write in progress.
  bool read(Reading& out) const {
    for (int i = 0; i < kReadTries; ++i) {
      const std::uint64_t s1 = seq.load(std::memory_order_acquire);
      if ((s1 & 1) != 0) {
        continue;
      }
      out.waiting = real(waiting.load(std::memory_order_relaxed));
      out.running = real(running.load(std::memory_order_relaxed));
      out.kv_cache = real(kv_cache.load(std::memory_order_relaxed));
      out.ttft_p50 = real(ttft_p50.load(std::memory_order_relaxed));
      out.at_ms = at_ms.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq.load(std::memory_order_relaxed) == s1) {
        return true;
      }
    }
    return false;
  }
};

std::string_view to_string(LoadSource s) {
  // In the order of the enumerators.
  static constexpr std::string_view kNames[] = {"none", "engine", "stale"};
  const auto i = static_cast<std::size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "none";
}

LoadBoard::LoadBoard(std::size_t endpoints)
    : slots_(std::make_unique<Slot[]>(endpoints)), n_(endpoints) {}

LoadBoard::~LoadBoard() = default;

std::size_t LoadBoard::endpoints() const {
  return n_;
}

void LoadBoard::publish(std::size_t i, double waiting, double running, double kv_cache,
                        double ttft_p50, std::int64_t now_ms) {
  if (i >= n_) {
    return;
  }
  // Anything negative or not a number is "not exported".
  const auto clean = [](double v) { return v >= 0 ? v : -1.0; };
  slots_[i].write(
      Reading{clean(waiting), clean(running), clean(kv_cache), clean(ttft_p50), now_ms});
}

EndpointLoad LoadBoard::endpoint(std::size_t i, std::int64_t now_ms,
                                 const config::LoadSettings& settings) const {
  EndpointLoad out;
  Reading r;
  if (i >= n_ || !slots_[i].read(r) || r.at_ms == kNever) {
    return out;
  }
  out.age_ms = std::max<std::int64_t>(now_ms - r.at_ms, 0);
  out.fresh = out.age_ms <= settings.stale_after.count();
  out.waiting = r.waiting;
  out.running = r.running;
  out.kv_cache = r.kv_cache;
  out.ttft_p50 = r.ttft_p50;
  return out;
}

namespace {

/// The smaller of a running minimum and a figure, -1 meaning "none yet" / "not exported".
double min_known(double acc, double v) {
  if (v < 0) {
    return acc;
  }
  return acc < 0 ? v : std::min(acc, v);
}

/// Below both headroom thresholds; a figure the engine does not export does not count against
/// the endpoint (an engine without a queue figure is judged by its KV cache alone, and the
/// reverse; one with neither has headroom while fresh).
bool has_headroom(const EndpointLoad& e, const config::LoadSettings& settings) {
  const bool queue_ok = e.waiting < 0 || e.waiting < settings.headroom_queue;
  const bool kv_ok = e.kv_cache < 0 || e.kv_cache < settings.headroom_kv_cache;
  return queue_ok && kv_ok;
}

}  // namespace

LoadSignals LoadBoard::pool(std::int64_t now_ms, const config::LoadSettings& settings) const {
  LoadSignals s;
  s.source = LoadSource::stale;
  s.endpoints = static_cast<unsigned>(n_);
  for (std::size_t i = 0; i < n_; ++i) {
    const EndpointLoad e = endpoint(i, now_ms, settings);
    if (e.age_ms >= 0 && (s.age_ms < 0 || e.age_ms < s.age_ms)) {
      s.age_ms = e.age_ms;
    }
    if (!e.fresh) {
      continue;
    }
    ++s.fresh;
    s.waiting += std::max(e.waiting, 0.0);
    s.running += std::max(e.running, 0.0);
    s.kv_cache = min_known(s.kv_cache, e.kv_cache);
    s.ttft_p50 = min_known(s.ttft_p50, e.ttft_p50);
    s.with_headroom += has_headroom(e, settings) ? 1 : 0;
  }
  if (s.fresh > 0) {
    s.source = LoadSource::engine;
  }
  return s;
}

std::int64_t load_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace sb::policies
