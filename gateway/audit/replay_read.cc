// Reading an audit trail for replay: files in name order, one JSON object per line, decision
// lines joined with their attempt lines by request_id. seq, prev and mac are not looked at.

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <system_error>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "gateway/audit/replay.h"

namespace sb::gateway::replay {

namespace json = boost::json;

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

/// A non-negative integer member (JSON integers, or doubles holding one); nullopt otherwise.
std::optional<std::uint64_t> uint(const json::value* v) {
  if (v == nullptr) {
    return std::nullopt;
  }
  if (v->is_uint64()) {
    return v->get_uint64();
  }
  if (v->is_int64() && v->get_int64() >= 0) {
    return static_cast<std::uint64_t>(v->get_int64());
  }
  if (v->is_double() && v->get_double() >= 0 && v->get_double() < 1.8e19) {
    return static_cast<std::uint64_t>(v->get_double());
  }
  return std::nullopt;
}

std::uint64_t uint_or(const json::object& o, std::string_view key, std::uint64_t fallback = 0) {
  return uint(o.if_contains(key)).value_or(fallback);
}

std::optional<double> number(const json::value& v) {
  if (v.is_double()) {
    return v.get_double();
  }
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return std::nullopt;
}

bool flag(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

const json::object* obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

/// `in_flight`, `rpm` or `tpm`: {backend: number}.
void read_backend_facts(const json::object* facts, policies::StateRead::Kind kind,
                        std::vector<StateFact>& out) {
  if (facts == nullptr) {
    return;
  }
  for (const auto& kv : *facts) {
    if (auto n = number(kv.value())) {
      out.push_back(StateFact{kind, std::string(kv.key()), config::BudgetPeriod::any, *n});
    }
  }
}

/// `load`: {backend: {source: "engine"|"stale"|"none", waiting: number, ...}}, as
/// audit_line.cc writes it: one load_* fact per member, source first.
void read_load_facts(const json::object* load, std::vector<StateFact>& out) {
  using Kind = policies::StateRead::Kind;
  static constexpr std::pair<std::string_view, Kind> kMembers[] = {
      {"waiting", Kind::load_waiting},   {"running", Kind::load_running},
      {"kv_cache", Kind::load_kv_cache}, {"ttft_p50", Kind::load_ttft_p50},
      {"age_ms", Kind::load_age_ms},     {"endpoints", Kind::load_endpoints},
      {"fresh", Kind::load_fresh},       {"with_headroom", Kind::load_with_headroom},
  };
  if (load == nullptr) {
    return;
  }
  for (const auto& kv : *load) {
    if (!kv.value().is_object()) {
      continue;
    }
    const json::object& b = kv.value().get_object();
    const std::string_view source = str(b, "source");
    const double code = source == "engine" ? 1 : source == "stale" ? 2 : 0;
    out.push_back(
        StateFact{Kind::load_source, std::string(kv.key()), config::BudgetPeriod::any, code});
    for (const auto& [name, kind] : kMembers) {
      if (const json::value* v = b.if_contains(name)) {
        if (auto n = number(*v)) {
          out.push_back(StateFact{kind, std::string(kv.key()), config::BudgetPeriod::any, *n});
        }
      }
    }
  }
}

void read_state(const json::object& state, std::vector<StateFact>& out) {
  using Kind = policies::StateRead::Kind;
  read_backend_facts(obj(state, "in_flight"), Kind::in_flight, out);
  read_backend_facts(obj(state, "rpm"), Kind::rpm, out);
  read_backend_facts(obj(state, "tpm"), Kind::tpm, out);
  if (const json::object* budget = obj(state, "budget")) {
    for (const auto& kv : *budget) {
      const std::string_view k = kv.key();
      const auto n = number(kv.value());
      if (!n || (k != "day" && k != "month" && k != "any")) {
        continue;
      }
      const auto period = k == "day"     ? config::BudgetPeriod::daily
                          : k == "month" ? config::BudgetPeriod::monthly
                                         : config::BudgetPeriod::any;
      out.push_back(StateFact{Kind::budget, {}, period, *n});
    }
  }
  if (const json::value* e = state.if_contains("exhausted"); e != nullptr && e->is_bool()) {
    out.push_back(
        StateFact{Kind::exhausted, {}, config::BudgetPeriod::any, e->get_bool() ? 1.0 : 0.0});
  }
  read_load_facts(obj(state, "load"), out);
}

void read_why(const json::object& why, Record& r) {
  r.classification = str(why, "classification");
  r.tier_header = str(why, "tier_header");
  r.unscannable_bits = static_cast<unsigned>(uint_or(why, "unscannable_bits"));
  if (const json::object* entities = obj(why, "entities")) {
    for (const auto& kv : *entities) {
      const auto n = uint(&kv.value());
      if (n && *n > 0) {
        r.entities.emplace_back(
            std::string(kv.key()),
            static_cast<std::uint32_t>(std::min<std::uint64_t>(*n, UINT32_MAX)));
      }
    }
  }
}

void read_features(const json::object& f, Record& r) {
  r.prompt_tokens = uint_or(f, "prompt_tokens");
  r.max_tokens = uint(f.if_contains("max_tokens"));
  r.choices = uint(f.if_contains("choices")).value_or(1);
  r.tools = flag(f, "tools");
  r.images = flag(f, "images");
  r.json_schema = flag(f, "json_schema");
  r.depth = uint_or(f, "depth");
  r.reasoning_effort = str(f, "reasoning_effort");
  if (const json::object* headers = obj(f, "headers")) {
    for (const auto& kv : *headers) {
      if (kv.value().is_string()) {
        r.headers.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
      }
    }
  }
}

/// A decision line; false when a required member is missing.
bool read_decision(const json::object& line, Record& r) {
  const json::value* backends = line.if_contains("backends");
  r.request_id = str(line, "request_id");
  r.tenant = str(line, "tenant");
  r.model = str(line, "model");
  r.outcome = str(line, "outcome");
  if (r.request_id.empty() || r.outcome.empty() || !line.contains("tenant") ||
      !line.contains("model") || backends == nullptr || !backends->is_array()) {
    return false;
  }
  r.rule = str(line, "rule");
  for (const json::value& b : backends->get_array()) {
    if (b.is_string()) {
      r.backends.emplace_back(b.get_string());
    }
  }
  if (const json::object* why = obj(line, "why")) {
    read_why(*why, r);
  }
  if (const json::object* features = obj(line, "features")) {
    read_features(*features, r);
  }
  if (const json::object* state = obj(line, "state")) {
    read_state(*state, r.state);
  }
  return true;
}

/// An attempt line joined with its decision.
void read_attempt(const json::object& line, Record& r) {
  const std::string_view backend = str(line, "backend");
  const std::string_view result = str(line, "result");
  if (result == "ok") {
    r.served = backend;
    r.cost = static_cast<policies::Nanos>(uint_or(line, "cost_nanos"));
    if (const json::object* u = obj(line, "usage")) {
      r.usage = Usage{uint_or(*u, "input"), uint_or(*u, "output"), uint_or(*u, "cached"),
                      uint_or(*u, "cache_write")};
    }
  } else if (result != "client_closed" &&
             std::find(r.failed.begin(), r.failed.end(), backend) == r.failed.end()) {
    r.failed.emplace_back(backend);
  }
}

bool in_range(std::int64_t ts, std::optional<std::int64_t> since,
              std::optional<std::int64_t> until) {
  return ts >= since.value_or(std::numeric_limits<std::int64_t>::min()) &&
         ts < until.value_or(std::numeric_limits<std::int64_t>::max());
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// `n` decimal digits at `pos`; -1 when any is not a digit.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) {
    return -1;
  }
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view s, bool end_of_day) {
  const int year = digits(s, 0, 4);
  const int month = digits(s, 5, 2);
  const int day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || s[4] != '-' || s[7] != '-') {
    return std::nullopt;
  }
  const std::int64_t midnight = days_from_civil(year, month, day) * 86'400'000;
  if (s.size() == 10) {
    return end_of_day ? midnight + 86'400'000 : midnight;
  }
  const int hour = digits(s, 11, 2);
  const int minute = digits(s, 14, 2);
  const int second = digits(s, 17, 2);
  if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60 || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  std::int64_t ms = midnight + ((hour * 60 + minute) * 60 + second) * 1000;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    std::int64_t scale = 100;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) {
      ms += (s[i] - '0') * scale;
    }
  }
  if (i + 1 == s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    return ms;
  }
  const int oh = digits(s, i + 1, 2);
  const int om = digits(s, i + 4, 2);
  if (i + 6 != s.size() || (s[i] != '+' && s[i] != '-') || oh < 0 || om < 0 || s[i + 3] != ':') {
    return std::nullopt;
  }
  const std::int64_t offset = (oh * 60 + om) * 60'000;
  return s[i] == '+' ? ms - offset : ms + offset;
}

void parse_line(std::string_view line, std::optional<std::int64_t> since_ms,
                std::optional<std::int64_t> until_ms,
                std::map<std::string, std::size_t, std::less<>>& ids, Trail& trail) {
  // Every value of the line lives in this buffer (and the heap beyond it): one line at a time.
  std::array<unsigned char, 8192> buffer;
  json::monotonic_resource arena(buffer.data(), buffer.size());
  std::error_code ec;
  const json::value v = json::parse(line, ec, &arena);
  if (ec || !v.is_object()) {
    ++trail.skipped;
    return;
  }
  const json::object& o = v.get_object();
  const std::string_view type = str(o, "type");
  if (type == "decision") {
    const auto ts = parse_time(str(o, "ts"));
    Record r;
    if (!ts || !read_decision(o, r)) {
      ++trail.skipped;
      return;
    }
    if (!in_range(*ts, since_ms, until_ms)) {
      ++trail.out_of_range;
      return;
    }
    r.ts_ms = *ts;
    ids.insert_or_assign(r.request_id, trail.records.size());
    trail.records.push_back(std::move(r));
  } else if (type == "attempt") {
    auto it = ids.find(str(o, "request_id"));
    if (it == ids.end()) {
      ++trail.unjoined;
      return;
    }
    read_attempt(o, trail.records[it->second]);
  } else if (type == "dropped") {
    trail.dropped += uint_or(o, "count");
  } else if (type != "config") {
    ++trail.skipped;
  }
}

bool read_trail(const std::string& dir, std::optional<std::int64_t> since_ms,
                std::optional<std::int64_t> until_ms, Trail& trail, std::string& error) {
  namespace fs = std::filesystem;
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".jsonl" && it->is_regular_file(ec)) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    error = "cannot read the trail directory " + dir + ": " + ec.message();
    return false;
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  std::map<std::string, std::size_t, std::less<>> ids;
  audit::TrailLine line;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      error = "cannot read " + file.string();
      return false;
    }
    ++trail.files;
    // One line at a time (a torn last line, without its newline, too), each at most
    // kMaxTrailLine bytes: memory stays flat whatever the files hold.
    while (audit::next_trail_line(in, line)) {
      if (line.too_long) {
        ++trail.lines;
        ++trail.skipped;  // no line the gateway writes is that long
        continue;
      }
      if (line.text.find_first_not_of(" \t\r") == std::string::npos) {
        continue;
      }
      ++trail.lines;
      parse_line(line.text, since_ms, until_ms, ids, trail);
    }
    if (in.bad()) {
      error = "cannot read " + file.string();
      return false;
    }
  }
  trail.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

}  // namespace sb::gateway::replay
