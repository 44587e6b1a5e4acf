// `audit verify`'s output (text and JSON) and its command line (see verify.h).
#include <boost/json.hpp>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "gateway/audit/verify.h"

namespace sb::gateway::audit {
namespace {

namespace json = boost::json;

std::string place(const LinePlace& at) {
  return at.file + " line " + std::to_string(at.line) +
         (at.seq != 0 ? " (seq " + std::to_string(at.seq) + ")" : "");
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) {
    s.append(width - s.size(), ' ');
  }
  return s;
}

json::object place_json(const LinePlace& at) {
  return {{"file", at.file}, {"line", at.line}, {"seq", at.seq}};
}

void append_levels(std::string& out, const VerifyReport& r) {
  out += "\nServed, per sensitivity level (attempts sent to each backend, per UTC day):\n";
  if (r.levels.empty()) {
    out += "  (no decisions or attempts)\n";
  }
  for (const auto& [level, l] : r.levels) {
    out += "  " + (level.empty() ? std::string("(none)") : level) + ": " +
           std::to_string(l.decisions) + " decisions, " + std::to_string(l.attempts) +
           " attempts\n";
    for (const auto& [backend, s] : l.backends) {
      out += "    " + pad(backend, 20) + " " + pad(s.hosting, 12) + " " +
             pad(std::to_string(s.total), 8);
      for (const auto& [day, n] : s.per_day) {
        out += "  " + day + ": " + std::to_string(n);
      }
      out += '\n';
    }
  }
}

}  // namespace

std::string to_text(const VerifyReport& r) {
  std::string out = "Audit trail " + r.dir + ": " + std::to_string(r.files) + " files, " +
                    std::to_string(r.lines) + " lines";
  if (r.lines > 0) {
    out += " (seq " + std::to_string(r.first_seq) + ".." + std::to_string(r.last_seq) + ")";
  }
  out += '\n';
  if (!r.error.empty()) {
    return out + "Error: " + r.error + '\n';
  }
  if (r.first_break) {
    out += "Chain: BROKEN at " + place(r.first_break->at) + ": " + r.first_break->kind + ": " +
           r.first_break->detail + "\n";
    if (r.breaks > 1) {
      out += "       (" + std::to_string(r.breaks - 1) + " more lines do not verify or chain)\n";
    }
  } else {
    out += "Chain: OK (every mac verifies, every line chains to the one before)\n";
  }
  for (const std::string& w : r.warnings) {
    out += "Warning: " + w + "\n";
  }
  out += "Configs recorded: " + std::to_string(r.configs) +
         "\nDecisions: " + std::to_string(r.decisions);
  std::string sep = " (";
  for (const auto& [outcome, n] : r.outcomes) {
    out += sep + outcome + " " + std::to_string(n);
    sep = ", ";
  }
  out += r.outcomes.empty() ? "\n" : ")\n";
  out += "Attempts: " + std::to_string(r.attempts) + "\n";
  append_levels(out, r);
  out += "\nViolations: " +
         (r.violations.empty() ? std::string("none") : std::to_string(r.violations.size())) + "\n";
  for (const Violation& v : r.violations) {
    out += "  " + place(v.at) + (v.request_id.empty() ? "" : " request " + v.request_id) + ": " +
           v.detail + "\n";
  }
  out += std::string("\nResult: ") + (r.clean() ? "CLEAN" : "FAILED") + "\n";
  return out;
}

std::string to_json(const VerifyReport& r) {
  json::object o;
  o["trail"] = r.dir;
  o["clean"] = r.clean();
  o["files"] = r.files;
  o["lines"] = r.lines;
  o["first_seq"] = r.first_seq;
  o["last_seq"] = r.last_seq;
  json::object chain{{"ok", r.chain_ok()}, {"breaks", r.breaks}};
  if (r.first_break) {
    chain["first_break"] = json::object{{"at", place_json(r.first_break->at)},
                                        {"kind", r.first_break->kind},
                                        {"detail", r.first_break->detail}};
  }
  if (!r.error.empty()) {
    chain["error"] = r.error;
  }
  o["chain"] = std::move(chain);
  json::array warnings;
  for (const std::string& w : r.warnings) {
    warnings.emplace_back(w);
  }
  o["warnings"] = std::move(warnings);
  o["configs"] = r.configs;
  o["decisions"] = r.decisions;
  o["attempts"] = r.attempts;
  o["dropped"] = r.dropped;
  json::object outcomes;
  for (const auto& [k, n] : r.outcomes) {
    outcomes[k] = n;
  }
  o["outcomes"] = std::move(outcomes);
  json::object levels;
  for (const auto& [level, l] : r.levels) {
    json::object backends;
    for (const auto& [backend, s] : l.backends) {
      json::object days;
      for (const auto& [day, n] : s.per_day) {
        days[day] = n;
      }
      backends[backend] =
          json::object{{"hosting", s.hosting}, {"total", s.total}, {"per_day", std::move(days)}};
    }
    levels[level] = json::object{
        {"decisions", l.decisions}, {"attempts", l.attempts}, {"backends", std::move(backends)}};
  }
  o["levels"] = std::move(levels);
  json::array violations;
  for (const Violation& v : r.violations) {
    violations.emplace_back(
        json::object{{"at", place_json(v.at)}, {"request_id", v.request_id}, {"detail", v.detail}});
  }
  o["violations"] = std::move(violations);
  return json::serialize(o) + "\n";
}

int run_verify_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  constexpr const char* kUsage =
      "usage: switchboard audit verify --trail DIR --key FILE [--json]\n";
  std::string trail, key_file;
  bool as_json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      as_json = true;
    } else if ((args[i] == "--trail" || args[i] == "--key") && i + 1 < args.size()) {
      (args[i] == "--trail" ? trail : key_file) = args[i + 1];
      ++i;
    } else {
      std::fprintf(err, "switchboard audit verify: unexpected argument '%s'\n%s", args[i].c_str(),
                   kUsage);
      return 2;
    }
  }
  if (trail.empty() || key_file.empty()) {
    std::fprintf(err, "%s", kUsage);
    return 2;
  }
  std::ifstream in(key_file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  std::string key = std::move(s).str();
  if (!in) {
    std::fprintf(err, "switchboard audit verify: cannot read key file '%s'\n", key_file.c_str());
    return 2;
  }
  if (!key.empty() && key.back() == '\n') {
    key.pop_back();
  }
  if (key.size() < 32) {
    std::fprintf(err, "switchboard audit verify: key file '%s' holds fewer than 32 bytes\n",
                 key_file.c_str());
    return 2;
  }
  const VerifyReport report = verify_trail(trail, key);
  std::fill(key.begin(), key.end(), '\0');
  const std::string text = as_json ? to_json(report) : to_text(report);
  std::fwrite(text.data(), 1, text.size(), out);
  if (!report.error.empty()) {
    std::fprintf(err, "switchboard audit verify: %s\n", report.error.c_str());
    return 2;
  }
  return report.clean() ? 0 : 1;
}

int run_audit_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (!args.empty() && args.front() == "verify") {
    return run_verify_command({args.begin() + 1, args.end()}, out, err);
  }
  std::fprintf(err, "usage: switchboard audit verify --trail DIR --key FILE [--json]\n");
  return 2;
}

}  // namespace sb::gateway::audit
