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

}  // namespace

// ---- StateRecorder

void StateRecorder::note(Read::Kind kind, std::size_t index, double value) const {
  if (find_read(reads_, kind, index) == reads_.end()) {
    reads_.push_back(Read{kind, index, value});
  }
}

std::int64_t StateRecorder::backend_in_flight(std::size_t backend) const {
  const std::int64_t n = live_.backend_in_flight(backend);
  note(Read::Kind::in_flight, backend, static_cast<double>(n));
  return n;
}

double StateRecorder::backend_rpm(std::size_t backend) const {
  const double v = live_.backend_rpm(backend);
  note(Read::Kind::rpm, backend, v);
  return v;
}

double StateRecorder::backend_tpm(std::size_t backend) const {
  const double v = live_.backend_tpm(backend);
  note(Read::Kind::tpm, backend, v);
  return v;
}

double StateRecorder::budget_fraction(std::size_t tenant, config::BudgetPeriod period) const {
  const double v = live_.budget_fraction(tenant, period);
  note(Read::Kind::budget, period_index(period), v);
  return v;
}

bool StateRecorder::budget_exhausted(std::size_t tenant) const {
  const bool v = live_.budget_exhausted(tenant);
  note(Read::Kind::exhausted, 0, v ? 1.0 : 0.0);
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

double RecordedState::get(Read::Kind kind, std::size_t index) const {
  auto it = find_read(facts_, kind, index);
  if (it == facts_.end()) {
    ++unknown_;
    return 0;
  }
  return it->value;
}

std::int64_t RecordedState::backend_in_flight(std::size_t backend) const {
  return static_cast<std::int64_t>(get(Read::Kind::in_flight, backend));
}
double RecordedState::backend_rpm(std::size_t backend) const {
  return get(Read::Kind::rpm, backend);
}
double RecordedState::backend_tpm(std::size_t backend) const {
  return get(Read::Kind::tpm, backend);
}
double RecordedState::budget_fraction(std::size_t, config::BudgetPeriod period) const {
  return get(Read::Kind::budget, period_index(period));
}
bool RecordedState::budget_exhausted(std::size_t) const {
  return get(Read::Kind::exhausted, 0) != 0;
}

}  // namespace sb::policies
