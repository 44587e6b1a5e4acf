#pragma once
// A strict parser of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for reading inference engines'
// /metrics endpoints (engine_signals.h). Pure: it reads a string, calls back once per sample with
// views into that string and allocates nothing per sample.
//
// Accepted, as Prometheus' own text parser (github.com/prometheus/common/expfmt) accepts it:
// - `# HELP name text` (escapes \\ and \n only) and `# TYPE name type` (type one of counter,
//   gauge, histogram, summary, untyped, lower case as the format spells them); any other line
//   starting with '#' is a comment. Neither order nor repetition of HELP/TYPE lines is checked.
// - samples `name{label="value",...} value [timestamp]`: metric names [a-zA-Z_:][a-zA-Z0-9_:]*,
//   label names [a-zA-Z_][a-zA-Z0-9_]* (not `__name__`), no label name twice in one sample, label
//   values UTF-8 with the escapes \\ \" \n only, a trailing comma before '}' allowed, spaces or
//   tabs around tokens. Values as Go's strconv.ParseFloat reads them (decimal with optional
//   exponent, hexadecimal with a 'p' exponent, Inf/Infinity with an optional sign and NaN, any
//   case; out of range is an error, underflow is 0); timestamps are optional signed 64-bit
//   integers (milliseconds).
// - blank lines anywhere; the final newline is optional.
// Rejected: CR characters anywhere ("\r\n" line ends are not part of the format and Prometheus
// fails on them too), NUL bytes, and anything over the limits below: the
// parser stops at the first error, so no input costs more than one pass over its bytes.
//
// Errors name the line: "line 12: unterminated label value".

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sb::adapters::prometheus {

/// Bounds on what one parse may cost. Over any of them the parse fails.
struct Limits {
  std::size_t max_bytes = 4 * 1024 * 1024;  ///< the whole text
  std::size_t max_line = 64 * 1024;         ///< one line, without its '\n'
  std::size_t max_labels = 64;              ///< labels in one sample
  std::size_t max_samples = 200'000;        ///< sample lines in the text
};

/// One sample line. The views point into the parsed text and live as long as it does.
struct Sample {
  std::string_view name;    ///< metric name as written, e.g. `vllm:num_requests_waiting`
  std::string_view labels;  ///< what is between '{' and '}' (validated; empty when none)
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
  std::size_t line = 0;  ///< 1-based line number
};

/// Called once per sample in text order. Returning false stops the parse; the parse then fails
/// with "line N: " followed by whatever the callback put in `why`.
using SampleHandler = std::function<bool(const Sample& sample, std::string& why)>;

/// Parses `text`, calling `on_sample` for each sample. false with `error` set ("line N: ...", or
/// a message naming the limit) when the text is malformed, over a limit or refused by the
/// callback. Samples before the faulty line have already been delivered.
bool parse_text(std::string_view text, const SampleHandler& on_sample, std::string& error,
                const Limits& limits = {});

/// Reads a sample value (or an `le`/`quantile` label value) as Go's strconv.ParseFloat does in
/// this format; nullopt when it is not a number.
std::optional<double> parse_value(std::string_view token);

/// The raw (still escaped) value of label `name` in a validated Sample::labels; nullopt when the
/// sample has no such label. Allocates nothing.
std::optional<std::string_view> find_label(std::string_view labels, std::string_view name);

/// The unescaped value of label `name` in a validated Sample::labels; nullopt when absent.
std::optional<std::string> label_value(std::string_view labels, std::string_view name);

/// Undoes the label value escapes (\\ \" \n) of a raw value returned by find_label.
std::string unescape_label_value(std::string_view raw);

}  // namespace sb::adapters::prometheus
