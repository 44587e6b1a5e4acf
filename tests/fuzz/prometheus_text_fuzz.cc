// libFuzzer target: the Prometheus text parser (adapters/prometheus_text) and the engine load
// signals read from it (adapters/engine_signals) on arbitrary bytes. Oracles: an accepted sample,
// written back as `name{labels} value`, parses to the same name, labels and value; the label
// helpers agree with each other; no parse delivers more samples than its limit; an accepted
// engine reading holds counts (finite, >= 0), a KV fraction in [0, 1] and a cumulative histogram
// ending at +Inf, whose window quantile (if any) lies within its finite bounds.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/engine_signals.h"
#include "adapters/prometheus_text.h"
#include "tests/fuzz/fuzz_split.h"  // check()

namespace {

namespace prom = sb::adapters::prometheus;
using sb::fuzz::check;

std::string format_value(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

/// A sample written back on its own line parses to itself.
void check_round_trip(const prom::Sample& s) {
  const std::string line =
      std::string(s.name) + "{" + std::string(s.labels) + "} " + format_value(s.value);
  int seen = 0;
  std::string error;
  const bool ok = prom::parse_text(
      line,
      [&](const prom::Sample& again, std::string&) {
        ++seen;
        check(again.name == s.name && again.labels == s.labels && same_value(again.value, s.value));
        return true;
      },
      error);
  check(ok && seen == 1);
  for (std::string_view name : {"le", "model_name", "engine", "a"}) {
    const std::optional<std::string_view> raw = prom::find_label(s.labels, name);
    const std::optional<std::string> value = prom::label_value(s.labels, name);
    check(raw.has_value() == value.has_value());
    check(!raw || prom::unescape_label_value(*raw) == *value);
  }
}

void check_parse(std::string_view text) {
  prom::Limits limits;
  limits.max_samples = 64;
  limits.max_labels = 8;
  limits.max_line = 512;
  std::size_t samples = 0;
  std::string error;
  const bool ok = prom::parse_text(
      text,
      [&](const prom::Sample& s, std::string&) {
        ++samples;
        check(!s.name.empty() && s.line >= 1);
        check_round_trip(s);
        return true;
      },
      error, limits);
  check(samples <= limits.max_samples);
  check(ok == error.empty());
}

void check_reading(sb::adapters::EngineMetrics kind, std::string_view text) {
  sb::adapters::EngineReading r;
  std::string error;
  if (!sb::adapters::read_engine_signals(kind, text, r, error)) {
    check(!error.empty() && !r.waiting && !r.running && !r.kv_cache && r.ttft.empty());
    return;
  }
  check(r.waiting || r.running);
  for (const std::optional<double>& count : {r.waiting, r.running}) {
    check(!count || (std::isfinite(*count) && *count >= 0));
  }
  check(!r.kv_cache || (*r.kv_cache >= 0 && *r.kv_cache <= 1));
  const auto& b = r.ttft.buckets;
  if (b.empty()) {
    return;
  }
  check(b.back().first == std::numeric_limits<double>::infinity());
  for (std::size_t i = 1; i < b.size(); ++i) {
    check(b[i - 1].first < b[i].first && b[i - 1].second <= b[i].second);
  }
  sb::adapters::HistogramBuckets start = r.ttft;
  for (auto& bucket : start.buckets) {
    bucket.second = 0;
  }
  const std::optional<double> p50 = sb::adapters::window_quantile(start, r.ttft, 0.5);
  check(!p50 || b.size() >= 2);
  if (p50 && b.front().first > 0) {
    check(*p50 >= 0 && *p50 <= b[b.size() - 2].first);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_parse(text);
  for (auto kind : {sb::adapters::EngineMetrics::vllm, sb::adapters::EngineMetrics::sglang,
                    sb::adapters::EngineMetrics::tgi, sb::adapters::EngineMetrics::llamacpp}) {
    check_reading(kind, text);
  }
  return 0;
}
