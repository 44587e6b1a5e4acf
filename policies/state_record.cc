#include "policies/state_record.h"

#include <algorithm>

namespace sb::policies {

namespace {

constexpr std::size_t period_index(config::BudgetPeriod p) {
  return static_cast<std::size_t>(p);
}

template <class Vector>
auto find_read(Vector& v, StateRead::Kind kind, std::size_t index) {
  return std::find_if(v.begin(), v.end(),
                      [&](const StateRead& r) { return r.kind == kind && r.index == index; });
}

using Kind = StateRead::Kind;

/// The load_* facts of one LoadSignals, source first.
template <class Emit>
void load_facts(const LoadSignals& s, const Emit& emit) {
  emit(Kind::load_source, static_cast<double>(s.source));
  emit(Kind::load_waiting, s.waiting);
  emit(Kind::load_running, s.running);
  emit(Kind::load_kv_cache, s.kv_cache);
  emit(Kind::load_ttft_p50, s.ttft_p50);
  emit(Kind::load_age_ms, static_cast<double>(s.age_ms));
  emit(Kind::load_endpoints, s.endpoints);
  emit(Kind::load_fresh, s.fresh);
  emit(Kind::load_with_headroom, s.with_headroom);
}

}  // namespace

// ---- StateRecorder

void StateRecorder::note(Read::Kind kind, std::size_t index, double value) const {
  if (find_read(reads_, kind, index) == reads_.end()) {
    reads_.push_back(Read{kind, index, value});
  }
}

double StateRecorder::fact(Read::Kind kind, std::size_t index, std::size_t tenant) const {
  double v = 0;
  switch (kind) {
    case Kind::in_flight:
      v = static_cast<double>(live_.backend_in_flight(index));
      break;
    case Kind::rpm:
      v = live_.backend_rpm(index);
      break;
    case Kind::tpm:
      v = live_.backend_tpm(index);
      break;
    case Kind::budget:
      v = live_.budget_fraction(tenant, static_cast<config::BudgetPeriod>(index));
      break;
    case Kind::exhausted:
      v = live_.budget_exhausted(tenant) ? 1.0 : 0.0;
      break;
    default:
      return 0;  // load_*: backend_load reads and writes down all of them at once
  }
  note(kind, index, v);
  return v;
}

LoadSignals StateRecorder::backend_load(std::size_t backend) const {
  const LoadSignals v = live_.backend_load(backend);
  if (find_read(reads_, Kind::load_source, backend) == reads_.end()) {
    load_facts(v, [&](Kind kind, double value) { reads_.push_back(Read{kind, backend, value}); });
  }
  return v;
}

// ---- RecordedState

void RecordedState::set(const Read& read) {
  auto it = find_read(facts_, read.kind, read.index);
  if (it != facts_.end()) {
    it->value = read.value;
  } else {
    facts_.push_back(read);
  }
}

void RecordedState::set_in_flight(std::size_t backend, std::int64_t n) {
  set(Read{Read::Kind::in_flight, backend, static_cast<double>(n)});
}
void RecordedState::set_rpm(std::size_t backend, double rpm) {
  set(Read{Read::Kind::rpm, backend, rpm});
}
void RecordedState::set_tpm(std::size_t backend, double tpm) {
  set(Read{Read::Kind::tpm, backend, tpm});
}
void RecordedState::set_budget(config::BudgetPeriod period, double fraction) {
  set(Read{Read::Kind::budget, period_index(period), fraction});
}
void RecordedState::set_exhausted(bool exhausted) {
  set(Read{Read::Kind::exhausted, 0, exhausted ? 1.0 : 0.0});
}

void RecordedState::set_load(std::size_t backend, const LoadSignals& load) {
  load_facts(load, [&](Kind kind, double value) { set(Read{kind, backend, value}); });
}

LoadSignals RecordedState::backend_load(std::size_t backend) const {
  LoadSignals s;
  auto source = find_read(facts_, Kind::load_source, backend);
  if (source == facts_.end()) {
    ++unknown_;
    return s;
  }
  const double v = source->value;
  s.source = v == 1 ? LoadSource::engine : v == 2 ? LoadSource::stale : LoadSource::none;
  const auto fact = [&](Kind kind, double fallback) {
    auto it = find_read(facts_, kind, backend);
    return it != facts_.end() ? it->value : fallback;
  };
  const auto count = [&](Kind kind) {
    const double n = fact(kind, 0);
    return n >= 0 && n < 1e9 ? static_cast<unsigned>(n) : 0u;
  };
  s.waiting = fact(Kind::load_waiting, s.waiting);
  s.running = fact(Kind::load_running, s.running);
  s.kv_cache = fact(Kind::load_kv_cache, s.kv_cache);
  s.ttft_p50 = fact(Kind::load_ttft_p50, s.ttft_p50);
  const double age = fact(Kind::load_age_ms, -1);
  s.age_ms = age >= 0 && age < 9e15 ? static_cast<std::int64_t>(age) : -1;
  s.endpoints = count(Kind::load_endpoints);
  s.fresh = count(Kind::load_fresh);
  s.with_headroom = count(Kind::load_with_headroom);
  return s;
}

double RecordedState::fact(Read::Kind kind, std::size_t index, std::size_t) const {
  auto it = find_read(facts_, kind, index);
  if (it == facts_.end()) {
    ++unknown_;
    return 0;
  }
  return it->value;
}

}  // namespace sb::policies
