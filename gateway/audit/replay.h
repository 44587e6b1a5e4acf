#pragma once
// `switchboard replay`: re-decides every decision recorded in an audit trail under another config
// and reports what would change (the "plan" before a policy change).
//
// Replay reads the recorded facts of each decision (tenant and model names, the entity types and
// counts found, the classification and tier headers, the request features and policy headers,
// and exactly the live-state facts the decision read), never any content, and asks the new
// config's Engine. It does not check the trail's integrity (seq, prev and mac are ignored):
// that is `switchboard audit verify`'s job.
//
// Line schema: the audit trail schema v1 (decision and attempt lines; see gateway/audit/).
// Thread-safety: none needed; one replay runs on one thread.

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "gateway/audit/line_reader.h"
#include "policies/config.h"
#include "policies/engine.h"
#include "policies/money.h"
#include "policies/state_record.h"

namespace sb::gateway::replay {

/// One live-state fact a recorded decision read, by name.
struct StateFact {
  policies::StateRead::Kind kind = policies::StateRead::Kind::in_flight;
  std::string backend;                                      ///< in_flight, rpm, tpm
  config::BudgetPeriod period = config::BudgetPeriod::any;  ///< budget
  double value = 0;
};

struct Usage {
  std::uint64_t input = 0;  ///< every prompt token (cached reads and cache writes included)
  std::uint64_t output = 0;
  std::uint64_t cached = 0;
  std::uint64_t cache_write = 0;
};

/// A decision line with what its attempt lines added.
struct Record {
  std::string request_id;
  std::int64_t ts_ms = 0;  ///< milliseconds since the epoch
  std::string tenant;
  std::string model;
  std::string outcome;  ///< policies::to_string(Outcome)
  std::string rule;
  std::string classification;  ///< why.classification
  std::string tier_header;     ///< why.tier_header
  unsigned unscannable_bits = 0;
  std::vector<std::pair<std::string, std::uint32_t>> entities;  ///< why.entities
  std::uint64_t prompt_tokens = 0;
  std::optional<std::uint64_t> max_tokens;
  std::uint64_t choices = 1;  ///< `features.choices`, absent when one answer was asked for
  bool tools = false;
  bool images = false;
  bool json_schema = false;
  std::uint64_t depth = 0;
  std::string reasoning_effort;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<StateFact> state;
  std::vector<std::string> backends;  ///< in try order
  // From the attempt lines of the same request_id.
  std::string served;               ///< backend of the attempt with result "ok"; "" none
  std::vector<std::string> failed;  ///< backends with a failed attempt (not client_closed)
  std::optional<Usage> usage;       ///< of the served attempt
  policies::Nanos cost = 0;         ///< cost_nanos of the served attempt
};

/// What reading a trail found.
struct Trail {
  std::vector<Record> records;  ///< decisions in [since, until), in trail order
  std::size_t files = 0;
  std::size_t lines = 0;
  std::size_t skipped = 0;       ///< unparseable lines or decision/attempt lines missing fields
  std::size_t out_of_range = 0;  ///< decisions outside [since, until)
  std::size_t unjoined = 0;      ///< attempt lines of no replayed decision
  std::uint64_t dropped = 0;     ///< lines the writer reported lost ("dropped" lines)
  double seconds = 0;            ///< time spent reading and parsing
};

/// The longest trail line replay reads; a longer one is counted in Trail::skipped and its bytes
/// are not held.
using audit::kMaxTrailLine;

/// Reads every `*.jsonl` file of `dir` in name order. Decisions whose `ts` is outside
/// [since_ms, until_ms) are left out. False with `error` set when `dir` cannot be listed or a file
/// cannot be read.
bool read_trail(const std::string& dir, std::optional<std::int64_t> since_ms,
                std::optional<std::int64_t> until_ms, Trail& trail, std::string& error);

/// Parses one trail line into `trail` (a decision appended to trail.records and indexed in
/// `ids`, an attempt joined with its decision). Counts a bad line in trail.skipped.
void parse_line(std::string_view line, std::optional<std::int64_t> since_ms,
                std::optional<std::int64_t> until_ms,
                std::map<std::string, std::size_t, std::less<>>& ids, Trail& trail);

/// RFC 3339 (`2026-12-02T15:04:05.123Z`, `...+01:00`) or a date (`2026-12-02`, midnight UTC; with
/// `end_of_day`, the midnight after it) as milliseconds since the epoch; nullopt when malformed.
std::optional<std::int64_t> parse_time(std::string_view text, bool end_of_day = false);

/// Decisions that changed, by kind.
struct Counts {
  std::uint64_t decisions = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t moved = 0;  ///< another backend, or another refusal
  std::uint64_t newly_refused = 0;
  std::uint64_t newly_allowed = 0;
  policies::Nanos old_cost = 0;  ///< recorded cost_nanos, over decisions with recorded usage
  policies::Nanos new_cost = 0;  ///< the new destination's cost at the recorded usage
};

struct ClearanceBreak {
  std::string request_id;
  std::string backend;
  std::string sensitivity;
  std::string tenant;
};

struct Report {
  std::uint64_t seed = 0;
  Counts total;
  /// (old destination, new destination) → count. A destination is a backend name, or the
  /// refusal in parentheses ("(forbidden)").
  std::map<std::pair<std::string, std::string>, std::uint64_t> moves;
  std::map<std::string, std::uint64_t> newly_refused;  ///< by new outcome
  std::map<std::string, std::uint64_t> newly_allowed;  ///< by new backend
  std::map<std::string, Counts> tenants;
  std::map<std::string, Counts> rules;  ///< by the new decision's rule ("(none)")
  /// Savings vs the new config's savings reference, over decisions with recorded usage.
  std::optional<std::string> reference;  ///< the reference backend; nullopt without one
  policies::Nanos reference_cost = 0;
  std::uint64_t with_usage = 0;
  std::vector<ClearanceBreak> breaks;  ///< expected empty: the engine cannot produce one
  std::map<std::string, std::uint64_t> unknown_entities;  ///< recorded names the config lacks
  std::map<std::string, std::uint64_t> unknown_backends;  ///< in recorded state facts
  std::uint64_t unknown_tenants = 0;          ///< decisions whose tenant the new config lacks
  std::uint64_t unrecorded_reads = 0;         ///< decisions that read state the old one had not
  std::vector<std::string> examples_refused;  ///< a few request ids
  std::vector<std::string> examples_allowed;
  std::vector<std::string> examples_moved;
  double seconds = 0;  ///< time spent re-deciding
};

/// Re-decides every record under `engine`. The weighted strategy is seeded per record from `seed`
/// and the request id, so a replay is reproducible; a weighted pick may still differ from the one
/// made live, by chance.
Report replay(const policies::Engine& engine, const std::vector<Record>& records,
              std::uint64_t seed);

/// The terminal report: a one-line summary first, then aligned tables.
std::string format_text(const Report& report, const Trail& trail);
boost::json::object to_json(const Report& report, const Trail& trail);

/// `switchboard replay --trail DIR --config NEW.yaml [--since T] [--until T] [--json]
/// [--seed N]` with `args` the words after "replay". Prints to `out` (the report) and `err`
/// (errors). Returns 0, 1 on a clearance break or when the config or trail cannot be read, 2 on
/// a usage error.
int run_replay_command(std::span<const std::string_view> args, std::FILE* out, std::FILE* err);

}  // namespace sb::gateway::replay
