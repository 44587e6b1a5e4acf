#include "adapters/engine_signals.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "adapters/prometheus_text.h"

namespace sb::adapters {
namespace {

/// The metric names one engine exports its load under.
struct EngineNames {
  std::string_view engine;       ///< for messages
  std::string_view waiting;      ///< gauge: requests queued in the engine
  std::string_view running;      ///< gauge: requests being decoded
  std::string_view kv;           ///< gauge 0..1; empty when the engine has none
  std::string_view kv_fallback;  ///< an older name of `kv`, read only when `kv` is absent
  std::string_view ttft;         ///< histogram (seconds); empty when the engine has none
};

// vLLM: vllm/engine/metrics.py (v0) and vllm/v1/metrics/loggers.py (v1). Labels model_name
// (v0, v1) and engine (v1, one per data-parallel engine core). vllm:gpu_cache_usage_perc is the
// v0 name, kept deprecated beside vllm:kv_cache_usage_perc by v1 releases, then dropped.
constexpr EngineNames kVllm{"vLLM",
                            "vllm:num_requests_waiting",
                            "vllm:num_requests_running",
                            "vllm:kv_cache_usage_perc",
                            "vllm:gpu_cache_usage_perc",
                            "vllm:time_to_first_token_seconds"};
// SGLang: python/sglang/srt/metrics/collector.py (TokenizerMetricsCollector and
// SchedulerMetricsCollector); sglang:token_usage is the fraction of the KV pool's tokens in use.
constexpr EngineNames kSglang{"SGLang",
                              "sglang:num_queue_reqs",
                              "sglang:num_running_reqs",
                              "sglang:token_usage",
                              "",
                              "sglang:time_to_first_token_seconds"};
// TGI: router/src (https://huggingface.co/docs/text-generation-inference/reference/metrics). It
// exports no KV-cache fraction and no time-to-first-token histogram (tgi_request_queue_duration
// is time in TGI's queue, not TTFT).
constexpr EngineNames kTgi{"TGI", "tgi_queue_size", "tgi_batch_current_size", "", "", ""};
// llama.cpp server with --metrics: tools/server/server.cpp (examples/server before). Builds
// before the 2025 KV-cache rework also export llamacpp:kv_cache_usage_ratio; later ones do not.
constexpr EngineNames kLlamacpp{"llama.cpp",
                                "llamacpp:requests_deferred",
                                "llamacpp:requests_processing",
                                "llamacpp:kv_cache_usage_ratio",
                                "",
                                ""};

const EngineNames* names_for(EngineMetrics kind) {
  switch (kind) {
    case EngineMetrics::vllm:
      return &kVllm;
    case EngineMetrics::sglang:
      return &kSglang;
    case EngineMetrics::tgi:
      return &kTgi;
    case EngineMetrics::llamacpp:
      return &kLlamacpp;
    case EngineMetrics::none:
      return nullptr;
  }
  return nullptr;
}

/// What one pass over the samples gathers.
struct Gathered {
  double waiting = 0, running = 0;
  bool has_waiting = false, has_running = false;
  std::optional<double> kv, kv_fallback;
  std::vector<std::pair<double, double>>& buckets;
};

/// A number for a message: "-1", "1.5", "nan", "inf".
std::string number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

/// A queue gauge: a finite count, never negative.
bool add_count(const prometheus::Sample& s, double& sum, bool& seen, std::string& why) {
  if (!std::isfinite(s.value) || s.value < 0) {
    why = std::string(s.name) + " is " + number(s.value) + ", not a count";
    return false;
  }
  sum += s.value;
  seen = true;
  if (!std::isfinite(sum)) {
    why = std::string(s.name) + " summed over its label sets is not finite";
    return false;
  }
  return true;
}

/// A KV-cache fraction: 0..1. Over several label sets (data-parallel engines, several models)
/// the fullest one counts, so the reading stays a fraction.
bool take_fraction(const prometheus::Sample& s, std::optional<double>& out, std::string& why) {
  if (!(s.value >= 0 && s.value <= 1)) {
    why = std::string(s.name) + " is " + number(s.value) + ", not a fraction between 0 and 1";
    return false;
  }
  out = std::max(out.value_or(0.0), s.value);
  return true;
}

/// One `<ttft>_bucket{le="..."}` sample, summed into the bucket of the same bound.
bool add_bucket(const prometheus::Sample& s, std::vector<std::pair<double, double>>& buckets,
                std::string& why) {
  const std::optional<std::string_view> le = prometheus::find_label(s.labels, "le");
  const std::optional<double> bound = le ? prometheus::parse_value(*le) : std::nullopt;
  if (!bound || std::isnan(*bound)) {
    why = std::string(s.name) + (le ? " has an invalid le label" : " has no le label");
    return false;
  }
  if (!std::isfinite(s.value) || s.value < 0) {
    why = std::string(s.name) + " is " + number(s.value) + ", not a count";
    return false;
  }
  for (auto& [upper, count] : buckets) {
    if (upper == *bound) {
      count += s.value;
      if (!std::isfinite(count)) {
        why = std::string(s.name) + " summed over its label sets is not finite";
        return false;
      }
      return true;
    }
  }
  buckets.emplace_back(*bound, s.value);
  return true;
}

bool is_bucket_of(std::string_view name, std::string_view histogram) {
  constexpr std::string_view kSuffix = "_bucket";
  return !histogram.empty() && name.size() == histogram.size() + kSuffix.size() &&
         name.starts_with(histogram) && name.ends_with(kSuffix);
}

bool gather(const EngineNames& n, const prometheus::Sample& s, Gathered& g, std::string& why) {
  if (s.name == n.waiting) {
    return add_count(s, g.waiting, g.has_waiting, why);
  }
  if (s.name == n.running) {
    return add_count(s, g.running, g.has_running, why);
  }
  if (!n.kv.empty() && s.name == n.kv) {
    return take_fraction(s, g.kv, why);
  }
  if (!n.kv_fallback.empty() && s.name == n.kv_fallback) {
    return take_fraction(s, g.kv_fallback, why);
  }
  if (is_bucket_of(s.name, n.ttft)) {
    return add_bucket(s, g.buckets, why);
  }
  return true;
}

/// Sorts the summed buckets and checks they form a cumulative histogram ending at +Inf.
bool finish_histogram(const EngineNames& n, std::vector<std::pair<double, double>>& buckets,
                      std::string& error) {
  if (buckets.empty()) {
    return true;
  }
  std::sort(buckets.begin(), buckets.end());
  if (buckets.back().first != std::numeric_limits<double>::infinity()) {
    error = std::string(n.ttft) + " has no le=\"+Inf\" bucket";
    return false;
  }
  for (std::size_t i = 1; i < buckets.size(); ++i) {
    if (buckets[i].second < buckets[i - 1].second) {
      error = std::string(n.ttft) +
              " bucket counts are not cumulative (le=" + number(buckets[i].first) +
              " holds fewer than the bucket below)";
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(EngineMetrics kind) {
  // In the order of the enumerators.
  static constexpr std::string_view kNames[] = {"none", "vllm", "sglang", "tgi", "llamacpp"};
  const auto i = static_cast<std::size_t>(kind);
  return i < std::size(kNames) ? kNames[i] : "none";
}

std::optional<EngineMetrics> engine_metrics_from_name(std::string_view name) {
  for (EngineMetrics kind : {EngineMetrics::none, EngineMetrics::vllm, EngineMetrics::sglang,
                             EngineMetrics::tgi, EngineMetrics::llamacpp}) {
    if (name == to_string(kind)) {
      return kind;
    }
  }
  return std::nullopt;
}

bool read_engine_signals(EngineMetrics kind, std::string_view text, EngineReading& out,
                         std::string& error) {
  out = EngineReading{};
  const EngineNames* names = names_for(kind);
  if (names == nullptr) {
    error = "engine metrics 'none' have no signals to read";
    return false;
  }
  Gathered g{.buckets = out.ttft.buckets};
  const prometheus::SampleHandler handler = [&](const prometheus::Sample& s, std::string& why) {
    return gather(*names, s, g, why);
  };
  if (!prometheus::parse_text(text, handler, error) ||
      !finish_histogram(*names, out.ttft.buckets, error)) {
    out = EngineReading{};
    return false;
  }
  if (!g.has_waiting && !g.has_running) {
    error = "no " + std::string(names->waiting) + " or " + std::string(names->running) +
            " sample: not a " + std::string(names->engine) + " metrics endpoint";
    out = EngineReading{};
    return false;
  }
  if (g.has_waiting) {
    out.waiting = g.waiting;
  }
  if (g.has_running) {
    out.running = g.running;
  }
  out.kv_cache = g.kv ? g.kv : g.kv_fallback;
  return true;
}

namespace {

/// Prometheus' bucketQuantile (promql/quantile.go) on cumulative (bound, count) buckets whose
/// last bound is +Inf: linear interpolation inside the bucket holding the rank, the lower bound
/// of the first bucket taken as 0 (when its upper bound is positive), and the highest finite
/// bound when the rank falls in the +Inf bucket.
std::optional<double> bucket_quantile(std::vector<std::pair<double, double>>& b, double q) {
  if (b.size() < 2) {
    return std::nullopt;
  }
  for (std::size_t i = 1; i < b.size(); ++i) {  // ensureMonotonic, as Prometheus does
    b[i].second = std::max(b[i].second, b[i - 1].second);
  }
  const double observations = b.back().second;
  if (!(observations > 0)) {
    return std::nullopt;
  }
  double rank = q * observations;
  std::size_t i = 0;
  while (b[i].second < rank) {
    ++i;
  }
  if (i == b.size() - 1) {
    return b[b.size() - 2].first;
  }
  if (i == 0 && b[0].first <= 0) {
    return b[0].first;
  }
  double start = 0;
  double count = b[i].second;
  if (i > 0) {
    start = b[i - 1].first;
    count -= b[i - 1].second;
    rank -= b[i - 1].second;
  }
  return start + (b[i].first - start) * (rank / count);
}

}  // namespace

std::optional<double> window_quantile(const HistogramBuckets& earlier,
                                      const HistogramBuckets& later, double q) {
  if (!(q > 0 && q < 1) || later.buckets.size() != earlier.buckets.size() ||
      later.buckets.empty() ||
      later.buckets.back().first != std::numeric_limits<double>::infinity()) {
    return std::nullopt;
  }
  std::vector<std::pair<double, double>> delta = later.buckets;
  bool restarted = false;
  for (std::size_t i = 0; i < delta.size(); ++i) {
    if (earlier.buckets[i].first != delta[i].first || !std::isfinite(delta[i].second) ||
        !std::isfinite(earlier.buckets[i].second)) {
      return std::nullopt;
    }
    restarted = restarted || delta[i].second < earlier.buckets[i].second;
  }
  if (!restarted) {
    for (std::size_t i = 0; i < delta.size(); ++i) {
      delta[i].second -= earlier.buckets[i].second;
    }
  }
  return bucket_quantile(delta, q);
}

}  // namespace sb::adapters
