#pragma once
// The live state a decision read, written down (StateRecorder) and played back (RecordedState).
//
// The audit trail records exactly what Engine::decide() read from the live state, so that replay
// can decide the same request again under another config without the state of the past. Both are
// per decision and single-threaded: build one per decide() (or clear() and reuse it); no heap for
// up to 32 distinct reads (a backend's engine load is 9 of them).
//
// Pure: no gateway includes.

#include <cstdint>
#include <span>

#include <boost/container/small_vector.hpp>

#include "policies/config.h"
#include "policies/state.h"

namespace sb::policies {

/// One distinct fact read from a StateView.
struct StateRead {
  /// The load_* kinds are the members of one StateView::backend_load read (LoadSignals), one
  /// fact each: load_source holds static_cast<double>(LoadSource) and is always written first.
  enum class Kind : std::uint8_t {
    in_flight,
    rpm,
    tpm,
    budget,
    exhausted,
    load_source,
    load_waiting,
    load_running,
    load_kv_cache,
    load_ttft_p50,
    load_age_ms,
    load_endpoints,
    load_fresh,
    load_with_headroom,
  };
  Kind kind = Kind::in_flight;
  /// The backend index (in_flight, rpm, tpm, load_*); static_cast<std::size_t>(
  /// config::BudgetPeriod) (budget); 0 (exhausted).
  std::size_t index = 0;
  /// What was read: in_flight as a double (exact below 2^53), exhausted as 0 or 1.
  double value = 0;
};

/// The first and last load_* kinds.
inline constexpr StateRead::Kind kFirstLoadKind = StateRead::Kind::load_source;
inline constexpr StateRead::Kind kLastLoadKind = StateRead::Kind::load_with_headroom;

/// A StateView read as facts (StateRead): backend_in_flight, backend_rpm and backend_tpm are the
/// in_flight, rpm and tpm facts of the backend, budget_fraction the budget fact of the period,
/// budget_exhausted the exhausted fact (index 0; 1 or 0). `Facts` answers each with
/// `double fact(kind, index, tenant) const` (the tenant of budget reads is not part of a fact: one
/// decision is for one tenant), and reads backend_load itself.
template <class Facts>
class FactView : public StateView {
 public:
  using Read = StateRead;

  std::int64_t backend_in_flight(std::size_t backend) const final {
    return static_cast<std::int64_t>(facts().fact(Read::Kind::in_flight, backend, 0));
  }
  double backend_rpm(std::size_t backend) const final {
    return facts().fact(Read::Kind::rpm, backend, 0);
  }
  double backend_tpm(std::size_t backend) const final {
    return facts().fact(Read::Kind::tpm, backend, 0);
  }
  double budget_fraction(std::size_t tenant, config::BudgetPeriod period) const final {
    return facts().fact(Read::Kind::budget, static_cast<std::size_t>(period), tenant);
  }
  bool budget_exhausted(std::size_t tenant) const final {
    return facts().fact(Read::Kind::exhausted, 0, tenant) != 0;
  }

 private:
  const Facts& facts() const { return static_cast<const Facts&>(*this); }
};

/// Wraps a live StateView: forwards every call and writes down each distinct (kind, index) read
/// with the value it first returned. `live` must outlive the recorder.
class StateRecorder final : public FactView<StateRecorder> {
 public:
  explicit StateRecorder(const StateView& live) : live_(live) {}

  /// The live value of a fact (not of a load_* one: backend_load reads those), written down.
  double fact(Read::Kind kind, std::size_t index, std::size_t tenant) const;
  LoadSignals backend_load(std::size_t backend) const override;

  /// Every distinct read so far, in the order first made.
  std::span<const Read> reads() const { return {reads_.data(), reads_.size()}; }
  /// Forgets the reads (for the next decision).
  void clear() { reads_.clear(); }

 private:
  void note(Read::Kind kind, std::size_t index, double value) const;

  const StateView& live_;
  mutable boost::container::small_vector<Read, 32> reads_;
};

/// A StateView that answers from recorded facts (replay). A read of a fact that was not recorded
/// answers 0 (false for exhausted) and is counted, so a caller can say which decisions read facts
/// the recorded decision did not. Setting a fact twice keeps the last value.
class RecordedState final : public FactView<RecordedState> {
 public:
  void set_in_flight(std::size_t backend, std::int64_t n);
  void set_rpm(std::size_t backend, double rpm);
  void set_tpm(std::size_t backend, double tpm);
  void set_budget(config::BudgetPeriod period, double fraction);
  void set_exhausted(bool exhausted);
  /// Sets every load_* fact of a backend.
  void set_load(std::size_t backend, const LoadSignals& load);
  /// Sets one fact as StateRecorder wrote it down.
  void set(const Read& read);

  /// The recorded value of a fact; 0 (counted) when it was not recorded.
  double fact(Read::Kind kind, std::size_t index, std::size_t tenant) const;
  /// Source none (counted as unknown) when no load_source fact was recorded for the backend;
  /// members without a fact take LoadSignals' defaults.
  LoadSignals backend_load(std::size_t backend) const override;

  /// Reads answered without a recorded fact since construction or clear().
  std::uint64_t unknown_reads() const { return unknown_; }
  /// Forgets the facts and the count.
  void clear() {
    facts_.clear();
    unknown_ = 0;
  }

 private:
  boost::container::small_vector<Read, 32> facts_;
  mutable std::uint64_t unknown_ = 0;
};

}  // namespace sb::policies
