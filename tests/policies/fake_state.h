#pragma once
// A settable StateView and a request builder, for engine tests.

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "policies/engine.h"
#include "policies/state.h"

namespace sb::policies::testing {

/// Live state as plain values, set by the test.
class FakeState final : public StateView {
 public:
  explicit FakeState(std::size_t backends = 16)
      : in_flight(backends, 0), rpm(backends, 0), tpm(backends, 0), load(backends) {}

  std::int64_t backend_in_flight(std::size_t b) const override {
    return b < in_flight.size() ? in_flight[b] : 0;
  }
  double backend_rpm(std::size_t b) const override { return b < rpm.size() ? rpm[b] : 0; }
  double backend_tpm(std::size_t b) const override { return b < tpm.size() ? tpm[b] : 0; }
  double budget_fraction(std::size_t, config::BudgetPeriod period) const override {
    switch (period) {
      case config::BudgetPeriod::daily:
        return daily;
      case config::BudgetPeriod::monthly:
        return monthly;
      case config::BudgetPeriod::any:
        break;
    }
    return std::max(daily, monthly);
  }
  bool budget_exhausted(std::size_t) const override { return exhausted; }
  LoadSignals backend_load(std::size_t b) const override {
    return b < load.size() ? load[b] : LoadSignals{};
  }

  std::vector<std::int64_t> in_flight;
  std::vector<double> rpm;
  std::vector<double> tpm;
  std::vector<LoadSignals> load;  ///< source none by default
  double daily = 0;
  double monthly = 0;
  bool exhausted = false;
};

/// Owns what RequestFacts views.
struct Request {
  Request(std::size_t tenant, std::string_view model) {
    facts.tenant = tenant;
    facts.model = model;
  }
  Request& text(std::string_view t) {
    texts.push_back(t);
    return *this;
  }
  Request& header(std::string_view name, std::string_view value) {
    headers.emplace_back(name, value);
    return *this;
  }
  /// The facts, with the spans pointing at this object's vectors.
  const RequestFacts& get() {
    facts.texts = texts;
    facts.headers = headers;
    return facts;
  }

  RequestFacts facts;
  std::vector<std::string_view> texts;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};

}  // namespace sb::policies::testing
