#pragma once
// Engine load signals: what a self-hosted inference engine says of its own load on its Prometheus
// endpoint (vLLM, SGLang, TGI, llama.cpp server), read from the text exposition format by the
// strict parser in prometheus_text.h. The gateway scrapes in the background and never on the
// request path; this file only reads text.
//
// Pure: no sockets, no gateway includes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::adapters {

/// Whose metric names to read. `none`: the engine exposes nothing usable (Ollama, generic
/// OpenAI-compatible servers); the gateway then relies on its own in-flight counts.
enum class EngineMetrics : std::uint8_t { none, vllm, sglang, tgi, llamacpp };

/// "none", "vllm", "sglang", "tgi", "llamacpp".
std::string_view to_string(EngineMetrics kind);
/// The inverse of to_string; nullopt for any other name.
std::optional<EngineMetrics> engine_metrics_from_name(std::string_view name);

/// A cumulative histogram (Prometheus `_bucket{le=...}` series summed over every other label),
/// buckets sorted by upper bound, the last one +Inf.
struct HistogramBuckets {
  std::vector<std::pair<double, double>> buckets;  ///< (upper bound `le`, cumulative count)
  bool empty() const { return buckets.empty(); }
};

/// One scrape's signals, summed over the engine's label sets (one engine can serve several
/// models). Absent members are signals this engine (or version) does not export.
struct EngineReading {
  std::optional<double> waiting;   ///< requests queued inside the engine
  std::optional<double> running;   ///< requests being decoded
  std::optional<double> kv_cache;  ///< fraction 0..1 of the KV cache in use (the fullest label set)
  HistogramBuckets ttft;           ///< time to first token, seconds; empty when not exported
};

/// Reads `kind`'s signals from `text` (Prometheus text exposition format 0.0.4). false with
/// `error` set ("line N: ...") when the text is malformed or over the parser's limits, or when
/// it holds none of the kind's queue signals (a scrape of the wrong engine or a wrong path).
/// Malformed too: a queue gauge that is not a finite count >= 0, a KV fraction outside [0, 1]
/// (NaN included), a TTFT bucket without a numeric `le`, without a +Inf bucket or with counts
/// that are not cumulative. `out` is left empty on failure. Kind `none` always fails.
bool read_engine_signals(EngineMetrics kind, std::string_view text, EngineReading& out,
                         std::string& error);

/// The q-quantile (0 < q < 1) of the observations made between two readings of one histogram
/// (`later` minus `earlier`, bucket by bucket), interpolated linearly inside its bucket as
/// Prometheus' histogram_quantile() does (a rank in the +Inf bucket answers the highest finite
/// bound). nullopt when nothing was observed in between or when the bucket bounds differ (the
/// engine restarted with other buckets, or `earlier` is empty). When a count went down the engine
/// restarted in between: `later` alone is then used.
std::optional<double> window_quantile(const HistogramBuckets& earlier,
                                      const HistogramBuckets& later, double q);

}  // namespace sb::adapters
