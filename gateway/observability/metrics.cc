#include "gateway/observability/metrics.h"

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include <prometheus/metric_family.h>

#include <prometheus/text_serializer.h>
#include "policies/money.h"

namespace sb::metrics {

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double v) noexcept {
  // Buckets are few (under 32): a branch-predictable linear scan beats a binary search.
  std::size_t i = 0;
  const std::size_t n = bounds_.size();
  while (i < n && v > bounds_[i]) {
    ++i;
  }
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = counts_[i].load(std::memory_order_relaxed);
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
}

std::vector<double> overhead_buckets() {
  return {5e-6, 10e-6,  25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
          1e-3, 2.5e-3, 5e-3,  10e-3, 25e-3,  100e-3};
}

Registry::Cell& Registry::cell(const std::string& name, const std::string& help, Type type,
                               const Labels& unsorted, bool money) {
  // Labels are kept sorted by name, so one series has one spelling whatever the caller's order.
  Labels labels = unsorted;
  std::sort(labels.begin(), labels.end());
  Family& family = families_[name];
  if (family.cells.empty() && family.help.empty()) {
    family.help = help;
    family.type = type;
    family.money = money;
  } else if (family.type != type || family.money != money) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  Cell& c = family.cells[labels];
  c.labels = labels;
  return c;
}

namespace {

// The cell's value of type T, made on first use.
template <class T, class... Args>
T& made(std::unique_ptr<T>& value, const Args&... args) {
  if (!value) {
    value = std::make_unique<T>(args...);
  }
  return *value;
}

// made() for a family whose cells are all integral or all non-integral: `other` is this cell's
// value of the other kind, which it must not hold (`registered_as` names that kind).
template <class T, class Other>
T& made_alone(std::unique_ptr<T>& value, const std::unique_ptr<Other>& other,
              const std::string& name, std::string_view registered_as) {
  if (other != nullptr) {
    throw std::logic_error("metric " + name + " registered as " + std::string(registered_as));
  }
  return made(value);
}

}  // namespace

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Cell& c = cell(name, help, Type::counter, labels);
  return made_alone(c.counter, c.double_counter, name, "a double counter");
}

DoubleCounter& Registry::double_counter(const std::string& name, const std::string& help,
                                        const Labels& labels) {
  std::lock_guard lock(mutex_);
  Cell& c = cell(name, help, Type::counter, labels);
  return made_alone(c.double_counter, c.counter, name, "an integer counter");
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return made(cell(name, help, Type::gauge, labels).gauge);
}

DoubleGauge& Registry::double_gauge(const std::string& name, const std::string& help,
                                    const Labels& labels) {
  std::lock_guard lock(mutex_);
  Cell& c = cell(name, help, Type::gauge, labels);
  return made_alone(c.double_gauge, c.gauge, name, "an integer gauge");
}

Money& Registry::money(const std::string& name, const std::string& help, Type type,
                       const Labels& labels) {
  std::lock_guard lock(mutex_);
  return made(cell(name, help, type, labels, true).money);
}

Money& Registry::money_counter(const std::string& name, const std::string& help,
                               const Labels& labels) {
  return money(name, help, Type::counter, labels);
}

Money& Registry::money_gauge(const std::string& name, const std::string& help,
                             const Labels& labels) {
  return money(name, help, Type::gauge, labels);
}

void Registry::set_collect_hook(std::function<void()> hook) {
  hook_ = std::move(hook);
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const Labels& labels, const std::vector<double>& bounds) {
  std::lock_guard lock(mutex_);
  return made(cell(name, help, Type::histogram, labels).histogram, bounds);
}

namespace {

// Text exposition format 0.0.4 escapes: `\` and newline in HELP, and `"` too in label values.
void append_escaped(std::string& out, std::string_view s, bool quotes) {
  for (const char ch : s) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (quotes && ch == '"') {
      out += "\\\"";
    } else {
      out += ch;
    }
  }
}

}  // namespace

// A money family written with exact decimal values (prometheus-cpp's serializer has doubles).
void Registry::append_money_family(std::string& text, const std::string& name,
                                   const Family& family) {
  text += "# HELP " + name + " ";
  append_escaped(text, family.help, false);
  text += "\n# TYPE " + name + (family.type == Type::counter ? " counter\n" : " gauge\n");
  for (const auto& [labels, c] : family.cells) {
    text += name;
    if (!labels.empty()) {
      text += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) {
          text += ',';
        }
        first = false;
        text += k + "=\"";
        append_escaped(text, v, true);
        text += '"';
      }
      text += '}';
    }
    text += ' ';
    sb::policies::append_usd(text, c.money ? c.money->nanos() : 0);
    text += '\n';
  }
}

// One cell as prometheus-cpp's serializer takes it.
prometheus::ClientMetric Registry::client_metric(const Labels& labels, const Cell& c) {
  prometheus::ClientMetric m;
  for (const auto& [k, v] : labels) {
    m.label.push_back({k, v});
  }
  if (c.counter) {
    m.counter.value = static_cast<double>(c.counter->value());
  } else if (c.double_counter) {
    m.counter.value = c.double_counter->value();
  } else if (c.gauge) {
    m.gauge.value = static_cast<double>(c.gauge->value());
  } else if (c.double_gauge) {
    m.gauge.value = c.double_gauge->value();
  } else if (c.histogram) {
    const auto counts = c.histogram->counts();
    const auto& bounds = c.histogram->bounds();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      prometheus::ClientMetric::Bucket b;
      b.cumulative_count = cumulative;
      b.upper_bound = i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(b);
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = c.histogram->sum();
  }
  return m;
}

std::string Registry::serialize() const {
  if (hook_) {
    hook_();
  }
  // Families in name order; runs of ordinary families go through prometheus-cpp's serializer,
  // money families are written here with exact decimal values.
  std::string text;
  std::vector<prometheus::MetricFamily> out;
  const auto flush = [&] {
    if (!out.empty()) {
      text += prometheus::TextSerializer().Serialize(out);
      out.clear();
    }
  };
  std::lock_guard lock(mutex_);
  out.reserve(families_.size());
  for (const auto& [name, family] : families_) {
    if (family.money) {
      flush();
      append_money_family(text, name, family);
      continue;
    }
    prometheus::MetricFamily mf;
    mf.name = name;
    mf.help = family.help;
    mf.type = family.type == Type::counter ? prometheus::MetricType::Counter
              : family.type == Type::gauge ? prometheus::MetricType::Gauge
                                           : prometheus::MetricType::Histogram;
    for (const auto& [labels, c] : family.cells) {
      mf.metric.push_back(client_metric(labels, c));
    }
    out.push_back(std::move(mf));
  }
  flush();
  return text;
}

}  // namespace sb::metrics
