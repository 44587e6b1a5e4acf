#pragma once
// `switchboard audit verify`: walks a trail's files in chain order, checks every line's HMAC and
// its place in the chain (reporting the first break exactly), checks the clearance invariant on
// every decision and attempt against the config snapshot its `config` hash names, and builds the
// compliance report: per sensitivity level, where requests were sent (backend, hosting) per UTC
// day, refusals per outcome, violations.
//
// Control path (a command-line tool). Thread-safe: no shared state.

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::gateway::audit {

/// Where a line is: its file (name in DIR), 1-based line number in that file, and seq (0 when
/// the line could not be parsed).
struct LinePlace {
  std::string file;
  std::uint64_t line = 0;
  std::uint64_t seq = 0;
};

struct ChainBreak {
  LinePlace at;
  /// "bad mac", "prev mismatch", "seq gap", "unparseable line", "missing earlier lines".
  std::string kind;
  std::string detail;  ///< a sentence for people
};

struct Violation {
  LinePlace at;
  std::string request_id;
  std::string detail;
};

/// Attempts sent to one backend by one sensitivity level.
struct ServedCounts {
  std::string hosting;                           ///< "self-hosted" | "closed" | "" when unknown
  std::map<std::string, std::uint64_t> per_day;  ///< "YYYY-MM-DD" (UTC) → attempts
  std::uint64_t total = 0;
};

struct LevelReport {
  std::uint64_t decisions = 0;                   ///< decisions of this level (every outcome)
  std::map<std::string, ServedCounts> backends;  ///< by backend name
  std::uint64_t attempts = 0;
};

struct VerifyReport {
  std::string dir;
  std::uint64_t files = 0;
  std::uint64_t lines = 0;  ///< complete lines read
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t decisions = 0;
  std::uint64_t attempts = 0;
  std::uint64_t configs = 0;
  std::uint64_t dropped = 0;  ///< lines the writer reported lost (`dropped` lines' counts)
  std::optional<ChainBreak> first_break;
  std::uint64_t breaks = 0;                       ///< lines that did not verify or did not chain
  std::vector<std::string> warnings;              ///< torn tails, dropped lines
  std::map<std::string, LevelReport> levels;      ///< by level name
  std::map<std::string, std::uint64_t> outcomes;  ///< decisions per outcome
  std::vector<Violation> violations;
  std::string error;  ///< the trail could not be read at all (e.g. no such directory)

  bool chain_ok() const { return !first_break && error.empty(); }
  bool clean() const { return chain_ok() && violations.empty(); }
};

/// Verifies the trail in `dir` with HMAC key `key`.
VerifyReport verify_trail(const std::string& dir, std::string_view key);

/// A readable terminal report.
std::string to_text(const VerifyReport& report);
/// The report as JSON (one object).
std::string to_json(const VerifyReport& report);

/// `switchboard audit verify --trail DIR --key FILE [--json]`: `args` are the arguments after
/// `verify`. Prints the report on `out`, usage errors on `err`. Returns 0 when clean, 1 on a
/// violation or a chain break, 2 on a usage error (or an unreadable key file or trail).
int run_verify_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);
/// `switchboard audit SUBCOMMAND ...`: `args` are the arguments after `audit`. Only `verify` for
/// now; anything else is a usage error (2).
int run_audit_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace sb::gateway::audit
