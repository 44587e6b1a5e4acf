#pragma once
// Lock-free metric cells for the request path, exported in Prometheus text format.
//
// prometheus-cpp's Histogram takes a mutex on every Observe and its Family::Add does a locked
// lookup, so the request path uses the cells below instead: relaxed atomics only. Cells are
// created on the control path (config load) and live as long as the Registry, so the request path
// holds plain references (Envoy's "stats resolved once"). At scrape time the Registry builds
// prometheus::MetricFamily values and prometheus-cpp's TextSerializer writes them.
//
// Thread-safety: cell updates are wait-free and may happen on any thread; family creation and
// serialization take the registry's mutex (control path only).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace prometheus {
struct ClientMetric;
}

namespace sb::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

/// The number every cell below holds, updated with relaxed atomics. Each cell makes public only
/// the operations that suit it.
template <class T>
class RelaxedValue {
 protected:
  void add(T d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  void set(T v) noexcept { value_.store(v, std::memory_order_relaxed); }
  T value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<T> value_{0};
};

class Counter : RelaxedValue<std::uint64_t> {
 public:
  void inc(std::uint64_t n = 1) noexcept { add(n); }
  using RelaxedValue::value;
};

/// A counter of non-integral amounts (e.g. US dollars).
class DoubleCounter : RelaxedValue<double> {
 public:
  using RelaxedValue::add;
  using RelaxedValue::value;
};

/// An amount of money held exactly, in integer nano-dollars, and exported in US dollars as exact
/// decimal text (`0.011400000`): a sum of many small costs never drifts as a double's would.
/// A counter (add) or a gauge (set), per the family it was registered in.
class Money : RelaxedValue<std::int64_t> {
 public:
  using RelaxedValue::add;
  using RelaxedValue::set;
  std::int64_t nanos() const noexcept { return value(); }
};

class Gauge : RelaxedValue<std::int64_t> {
 public:
  using RelaxedValue::add;
  using RelaxedValue::set;
  using RelaxedValue::value;
};

/// A gauge of non-integral values (e.g. remaining US dollars).
class DoubleGauge : RelaxedValue<double> {
 public:
  using RelaxedValue::set;
  using RelaxedValue::value;
};

class Histogram {
 public:
  /// `bounds` are the buckets' upper bounds, ascending, without +Inf.
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double v) noexcept;
  const std::vector<double>& bounds() const { return bounds_; }
  /// Per-bucket counts (not cumulative), the last one for +Inf.
  std::vector<std::uint64_t> counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

/// Bucket layouts.
std::vector<double> latency_buckets();   ///< 10 ms .. 10 min, for durations and TTFT
std::vector<double> overhead_buckets();  ///< 5 µs .. 100 ms, for time spent in the gateway

enum class Type { counter, gauge, histogram };

/// A metric family: its name and help text, as the stats catalogue (observability/stats.h)
/// declares it.
struct Family {
  const char* name;
  const char* help;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Returns the cell for `name{labels}`, creating the family and the cell on first use.
  /// Control path only (locks). The same name must always be used with the same type.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels);
  DoubleCounter& double_counter(const std::string& name, const std::string& help,
                                const Labels& labels);
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels);
  DoubleGauge& double_gauge(const std::string& name, const std::string& help, const Labels& labels);
  /// Money cells: a counter family (money_counter) or a gauge family (money_gauge) whose every
  /// cell is Money, serialized as exact decimal dollars.
  Money& money_counter(const std::string& name, const std::string& help, const Labels& labels);
  Money& money_gauge(const std::string& name, const std::string& help, const Labels& labels);
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels,
                       const std::vector<double>& bounds);

  /// The same, for a family of the stats catalogue.
  Counter& counter(const Family& f, const Labels& labels) {
    return counter(f.name, f.help, labels);
  }
  Gauge& gauge(const Family& f, const Labels& labels) { return gauge(f.name, f.help, labels); }
  DoubleGauge& double_gauge(const Family& f, const Labels& labels) {
    return double_gauge(f.name, f.help, labels);
  }
  Money& money_counter(const Family& f, const Labels& labels) {
    return money_counter(f.name, f.help, labels);
  }
  Money& money_gauge(const Family& f, const Labels& labels) {
    return money_gauge(f.name, f.help, labels);
  }
  Histogram& histogram(const Family& f, const Labels& labels, const std::vector<double>& bounds) {
    return histogram(f.name, f.help, labels, bounds);
  }

  /// Runs before every serialization (outside the registry's lock), to refresh gauges that are
  /// read from live state rather than updated on the request path. Control path only.
  void set_collect_hook(std::function<void()> hook);

  /// The whole registry in Prometheus text exposition format 0.0.4.
  std::string serialize() const;

 private:
  struct Cell {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<DoubleCounter> double_counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<DoubleGauge> double_gauge;
    std::unique_ptr<Money> money;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string help;
    Type type = Type::counter;
    bool money = false;  ///< every cell is Money
    std::map<Labels, Cell> cells;
  };
  Cell& cell(const std::string& name, const std::string& help, Type type, const Labels& labels,
             bool money = false);
  Money& money(const std::string& name, const std::string& help, Type type, const Labels& labels);
  static void append_money_family(std::string& text, const std::string& name, const Family& family);
  static prometheus::ClientMetric client_metric(const Labels& labels, const Cell& c);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::function<void()> hook_;  // set once at startup, before serving
};

}  // namespace sb::metrics
