// The replay report (terminal text and JSON) and the `switchboard replay` command.

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <memory>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/audit/replay.h"

namespace sb::gateway::replay {

namespace json = boost::json;

namespace {

using policies::Nanos;

constexpr const char* kHelp =
    R"(Usage: switchboard replay --trail DIR --config NEW.yaml [--since T] [--until T] [--json]
                          [--seed N]

Re-decides every decision recorded in the audit trail DIR under the config NEW.yaml and prints
what would change: requests by old -> new destination, requests now refused or newly allowed,
per tenant and per (new) rule, and the cost difference at the recorded usage.

  --trail DIR     the audit trail: every *.jsonl file of DIR, in name order. Integrity is not
                  checked here (seq, prev and mac are ignored): run 'switchboard audit verify'.
  --config FILE   the config to replay under (never contacted: nothing is sent anywhere)
  --since T       only decisions at or after T (RFC 3339, or YYYY-MM-DD for its midnight UTC)
  --until T       only decisions before T (RFC 3339; YYYY-MM-DD includes that whole day)
  --json          the report as one JSON object
  --seed N        seed of the weighted strategy (default 1): a replay is reproducible, but a
                  weighted pick may differ from the one made live, by chance

Replay uses only the recorded facts (entity types and counts, headers, features, and the live
state the old decision read); state the old decision did not read is taken as 0. A backend that
failed for a request is taken to fail again. A new destination that breaks the clearance
invariant cannot happen (the engine filters every backend through it); one is reported as a
CLEARANCE BREAK and the exit status is 1.
Exit status: 0 done, 1 clearance break or unreadable config or trail, 2 usage error.
)";

std::string money(Nanos n, bool sign = false) {
  const bool negative = n < 0;
  const std::uint64_t a =
      negative ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09" PRIu64, a % 1'000'000'000);
  std::string f(frac);
  while (f.size() > 2 && f.back() == '0') {
    f.pop_back();
  }
  return std::string(negative        ? "-"
                     : sign && n > 0 ? "+"
                                     : "") +
         "$" + std::to_string(a / 1'000'000'000) + "." + f;
}

/// Aligned columns: the first left-aligned, the others right-aligned, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - row[i].size(), ' ');
      line += i == 0 ? row[i] + pad : "  " + pad + row[i];
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

std::string counts_table(std::string_view title, const std::map<std::string, Counts>& by) {
  std::vector<std::vector<std::string>> rows = {{std::string(title), "decisions", "unchanged",
                                                 "move", "newly refused", "newly allowed",
                                                 "cost change"}};
  for (const auto& [name, c] : by) {
    rows.push_back({name, std::to_string(c.decisions), std::to_string(c.unchanged),
                    std::to_string(c.moved), std::to_string(c.newly_refused),
                    std::to_string(c.newly_allowed), money(c.new_cost - c.old_cost, true)});
  }
  return table(rows);
}

std::string by_count(const std::map<std::string, std::uint64_t>& m) {
  std::string out;
  for (const auto& [name, n] : m) {
    out += (out.empty() ? "" : ", ") + name + " " + std::to_string(n);
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

std::string summary(const Report& r) {
  const Counts& t = r.total;
  return std::to_string(t.decisions) + " decisions replayed: " + std::to_string(t.unchanged) +
         " unchanged, " + std::to_string(t.moved) + " move, " + std::to_string(t.newly_refused) +
         " newly refused, " + std::to_string(t.newly_allowed) + " newly allowed; cost " +
         money(t.new_cost - t.old_cost, true) +
         (r.breaks.empty() ? "" : "; " + std::to_string(r.breaks.size()) + " CLEARANCE BREAK") +
         "\n";
}

std::string cost_text(const Report& r) {
  const Counts& t = r.total;
  std::string out = "Cost at the recorded usage (" + std::to_string(r.with_usage) +
                    " served requests): old " + money(t.old_cost) + ", new " + money(t.new_cost) +
                    ", change " + money(t.new_cost - t.old_cost, true) + "\n";
  if (r.reference) {
    out += "Savings vs the reference '" + *r.reference + "' (" + money(r.reference_cost) +
           " at its prices): old " + money(r.reference_cost - t.old_cost) + ", new " +
           money(r.reference_cost - t.new_cost) + "\n";
  } else {
    out += "Savings: the new config has no savings reference (no closed backend with prices)\n";
  }
  return out;
}

std::string notes_text(const Report& r, const Trail& trail) {
  std::string out = "Notes:\n";
  if (r.breaks.empty()) {
    out += "  - clearance: every new destination is cleared (as the engine guarantees)\n";
  }
  out += "  - weighted picks are seeded (seed " + std::to_string(r.seed) +
         "); they may differ from the live ones by chance\n";
  if (!r.unknown_entities.empty()) {
    out += "  - entities the new config does not know, ignored: " + by_count(r.unknown_entities) +
           "\n";
  }
  if (!r.unknown_backends.empty()) {
    out += "  - recorded state of backends the new config lacks, ignored: " +
           by_count(r.unknown_backends) + "\n";
  }
  if (r.unknown_tenants > 0) {
    out += "  - decisions of tenants the new config lacks (refused as an unknown tenant): " +
           std::to_string(r.unknown_tenants) + "\n";
  }
  if (r.unrecorded_reads > 0) {
    out += "  - decisions that read live state the old decision did not (taken as 0): " +
           std::to_string(r.unrecorded_reads) + "\n";
  }
  out += "  - trail: " + std::to_string(trail.files) + " files, " + std::to_string(trail.lines) +
         " lines; skipped (unparseable or incomplete) " + std::to_string(trail.skipped) +
         "; decisions outside --since/--until " + std::to_string(trail.out_of_range) +
         "; attempts of no replayed decision " + std::to_string(trail.unjoined) +
         "; lines the writer dropped " + std::to_string(trail.dropped) + "\n";
  const auto per_second = [](double n, double seconds) { return seconds > 0 ? n / seconds : 0; };
  char timing[160];
  std::snprintf(timing, sizeof timing,
                "  - read %zu lines in %.1f ms (%.0f lines/s); re-decided in %.1f ms "
                "(%.0f decisions/s)\n",
                trail.lines, trail.seconds * 1000,
                per_second(static_cast<double>(trail.lines), trail.seconds), r.seconds * 1000,
                per_second(static_cast<double>(r.total.decisions), r.seconds));
  return out + timing;
}

}  // namespace

std::string format_text(const Report& r, const Trail& trail) {
  std::string out = summary(r);
  for (const ClearanceBreak& b : r.breaks) {
    out += "CLEARANCE BREAK: request " + b.request_id + " (tenant " + b.tenant + ", " +
           b.sensitivity + ") would go to " + b.backend + "\n";
  }
  std::vector<std::vector<std::string>> moves = {{"old -> new destination", "requests", ""}};
  for (const auto& [from_to, n] : r.moves) {
    moves.push_back({from_to.first + " -> " + from_to.second, std::to_string(n),
                     from_to.first == from_to.second ? "unchanged" : ""});
  }
  out += "\n" + table(moves);
  if (!r.newly_refused.empty()) {
    out += "\nNewly refused, by outcome: " + by_count(r.newly_refused) + " (e.g. " +
           join(r.examples_refused) + ")\n";
  }
  if (!r.newly_allowed.empty()) {
    out += "\nNewly allowed, by backend: " + by_count(r.newly_allowed) + " (e.g. " +
           join(r.examples_allowed) + ")\n";
  }
  if (!r.examples_moved.empty()) {
    out += "\nMoved, e.g.: " + join(r.examples_moved) + "\n";
  }
  out += "\n" + counts_table("tenant", r.tenants) + "\n" + counts_table("rule (new)", r.rules);
  out += "\n" + cost_text(r) + "\n" + notes_text(r, trail);
  return out;
}

namespace {

json::object counts_json(const Counts& c) {
  return json::object{{"decisions", c.decisions},
                      {"unchanged", c.unchanged},
                      {"moved", c.moved},
                      {"newly_refused", c.newly_refused},
                      {"newly_allowed", c.newly_allowed},
                      {"old_cost_nanos", c.old_cost},
                      {"new_cost_nanos", c.new_cost},
                      {"cost_change_nanos", c.new_cost - c.old_cost}};
}

template <class T>
json::object map_json(const std::map<std::string, T>& m) {
  json::object out;
  for (const auto& [k, v] : m) {
    if constexpr (std::is_same_v<T, Counts>) {
      out[k] = counts_json(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

json::array strings(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) {
    out.emplace_back(s);
  }
  return out;
}

}  // namespace

json::object to_json(const Report& r, const Trail& trail) {
  json::object out = counts_json(r.total);
  json::array moves;
  for (const auto& [from_to, n] : r.moves) {
    moves.push_back(json::object{{"from", from_to.first}, {"to", from_to.second}, {"count", n}});
  }
  out["moves"] = std::move(moves);
  out["newly_refused_by_outcome"] = map_json(r.newly_refused);
  out["newly_allowed_by_backend"] = map_json(r.newly_allowed);
  out["tenants"] = map_json(r.tenants);
  out["rules"] = map_json(r.rules);
  out["with_usage"] = r.with_usage;
  if (r.reference) {
    out["savings"] = json::object{{"reference", *r.reference},
                                  {"reference_cost_nanos", r.reference_cost},
                                  {"old_nanos", r.reference_cost - r.total.old_cost},
                                  {"new_nanos", r.reference_cost - r.total.new_cost}};
  } else {
    out["savings"] = nullptr;
  }
  json::array breaks;
  for (const ClearanceBreak& b : r.breaks) {
    breaks.push_back(json::object{{"request_id", b.request_id},
                                  {"tenant", b.tenant},
                                  {"sensitivity", b.sensitivity},
                                  {"backend", b.backend}});
  }
  out["clearance_breaks"] = std::move(breaks);
  out["unknown_entities"] = map_json(r.unknown_entities);
  out["unknown_backends"] = map_json(r.unknown_backends);
  out["unknown_tenants"] = r.unknown_tenants;
  out["unrecorded_state_reads"] = r.unrecorded_reads;
  out["examples"] = json::object{{"newly_refused", strings(r.examples_refused)},
                                 {"newly_allowed", strings(r.examples_allowed)},
                                 {"moved", strings(r.examples_moved)}};
  out["trail"] = json::object{{"files", trail.files},       {"lines", trail.lines},
                              {"skipped", trail.skipped},   {"out_of_range", trail.out_of_range},
                              {"unjoined", trail.unjoined}, {"dropped", trail.dropped}};
  out["seed"] = r.seed;
  out["seconds"] = json::object{{"read", trail.seconds}, {"replay", r.seconds}};
  return out;
}

namespace {

struct Args {
  std::string trail;
  std::string config;
  std::optional<std::int64_t> since;
  std::optional<std::int64_t> until;
  bool json = false;
  bool help = false;
  std::uint64_t seed = 1;
};

/// False with `error` set on a usage error.
bool parse_args(std::span<const std::string_view> args, Args& a, std::string& error) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      a.help = true;
      return true;
    }
    if (arg == "--json") {
      a.json = true;
      continue;
    }
    if (arg != "--trail" && arg != "--config" && arg != "--since" && arg != "--until" &&
        arg != "--seed") {
      error = "unknown argument '" + std::string(arg) + "'";
      return false;
    }
    if (i + 1 >= args.size()) {
      error = std::string(arg) + " needs a value";
      return false;
    }
    const std::string_view value = args[++i];
    if (arg == "--trail") {
      a.trail = value;
    } else if (arg == "--config") {
      a.config = value;
    } else if (arg == "--seed") {
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), a.seed);
      if (ec != std::errc() || end != value.data() + value.size()) {
        error = "--seed takes a non-negative integer";
        return false;
      }
    } else {
      auto& bound = arg == "--since" ? a.since : a.until;
      bound = parse_time(value, arg == "--until");
      if (!bound) {
        error = std::string(arg) + " takes an RFC 3339 time or YYYY-MM-DD, not '" +
                std::string(value) + "'";
        return false;
      }
    }
  }
  if (a.trail.empty() || a.config.empty()) {
    error = "replay needs --trail DIR and --config FILE";
    return false;
  }
  return true;
}

/// The new config's engine; nullptr with every error printed to `err`.
std::unique_ptr<const policies::Engine> load_engine(const std::string& path, std::FILE* err) {
  // Replay never contacts a backend: a secret the environment does not hold is not needed. The
  // OpenTelemetry SDK's OTEL_* variables are read by the loader itself and must stay unset.
  const config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    auto v = config::process_env(name);
    return v || name.starts_with("OTEL_") ? v : std::optional<std::string>("unset-during-replay");
  };
  config::LoadResult loaded = config::load_file(path, env);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::fprintf(err, "%s\n", e.to_string().c_str());
    }
    return nullptr;
  }
  std::string error;
  auto engine = policies::Engine::build(
      std::make_shared<const config::Config>(std::move(*loaded.config)), error);
  if (engine == nullptr) {
    std::fprintf(err, "%s: %s\n", path.c_str(), error.c_str());
  }
  return engine;
}

}  // namespace

int run_replay_command(std::span<const std::string_view> args, std::FILE* out, std::FILE* err) {
  Args a;
  std::string error;
  if (!parse_args(args, a, error)) {
    std::fprintf(err, "switchboard: %s\n\n%s", error.c_str(), kHelp);
    return 2;
  }
  if (a.help) {
    std::fputs(kHelp, out);
    return 0;
  }
  auto engine = load_engine(a.config, err);
  if (engine == nullptr) {
    return 1;
  }
  Trail trail;
  if (!read_trail(a.trail, a.since, a.until, trail, error)) {
    std::fprintf(err, "switchboard: %s\n", error.c_str());
    return 1;
  }
  const Report report = replay(*engine, trail.records, a.seed);
  if (a.json) {
    const std::string text = json::serialize(to_json(report, trail));
    std::fprintf(out, "%s\n", text.c_str());
  } else {
    std::fputs(format_text(report, trail).c_str(), out);
  }
  for (const ClearanceBreak& b : report.breaks) {
    std::fprintf(err, "switchboard: CLEARANCE BREAK: request %s would go to %s\n",
                 b.request_id.c_str(), b.backend.c_str());
  }
  return report.breaks.empty() ? 0 : 1;
}

}  // namespace sb::gateway::replay
