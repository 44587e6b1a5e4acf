// `audit verify`: the chain walk and the clearance check (see verify.h).
#include "gateway/audit/verify.h"

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "gateway/audit/chain.h"
#include "gateway/audit/line_reader.h"
#include "gateway/audit/snapshot.h"
#include "gateway/audit/trail.h"
#include "policies/config.h"
#include "policies/engine.h"

namespace sb::gateway::audit {
namespace {

namespace json = boost::json;

// A config snapshot is a YAML file of a few KiB; a larger one is not read.
constexpr std::uintmax_t kMaxSnapshotBytes = std::uintmax_t{16} << 20;

std::string_view str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// A config snapshot, loaded once per hash.
struct ConfigView {
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<const policies::Engine> engine;
  std::string error;  ///< why it cannot be used
};

class Walker {
 public:
  Walker(const std::string& dir, std::string_view key, VerifyReport& r)
      : dir_(dir), hmac_(key), r_(r) {}
  void file(const std::string& name);

 private:
  void line(std::string_view text, const LinePlace& at);
  void chain_break(const LinePlace& at, std::string kind, std::string detail);
  void content(std::string_view text, const LinePlace& at);
  void decision(const json::object& o, const LinePlace& at);
  void attempt(const json::object& o, const LinePlace& at);
  const ConfigView& view(std::string_view hash);
  void check(const json::object& o, std::string_view backend, const LinePlace& at);

  const std::string& dir_;
  Hmac hmac_;
  VerifyReport& r_;
  bool started_ = false;
  bool resync_ = false;  ///< the line before was not read: take this one's chain as it is
  ChainState expect_;
  std::map<std::string, ConfigView, std::less<>> views_;
};

void Walker::file(const std::string& name) {
  std::ifstream in(dir_ + "/" + name, std::ios::binary);
  if (!in) {
    chain_break({name, 0, 0}, "unreadable file", "cannot read the file");
    return;
  }
  ++r_.files;
  // One line at a time, each at most kMaxTrailLine bytes: memory stays flat whatever the file.
  TrailLine l;
  std::uint64_t number = 0;
  while (next_trail_line(in, l)) {
    ++number;
    if (l.torn) {
      r_.warnings.push_back(name + " line " + std::to_string(number) + ": torn last line (" +
                            std::to_string(l.bytes) +
                            " bytes without a newline): a batch lost in a crash");
      break;
    }
    ++r_.lines;
    if (l.too_long) {
      // No line the gateway writes is that long; its mac is past what is held. The next line
      // starts the chain again, so that one overlong line is one break.
      chain_break({name, number, 0}, "overlong line",
                  "the line is " + std::to_string(l.bytes) + " bytes, over the " +
                      std::to_string(kMaxTrailLine) + "-byte limit: not read");
      resync_ = true;
      continue;
    }
    line(l.text, {name, number, 0});
  }
  if (in.bad()) {
    chain_break({name, number + 1, 0}, "unreadable file", "a read failed inside the file");
  }
}

void Walker::chain_break(const LinePlace& at, std::string kind, std::string detail) {
  ++r_.breaks;
  if (!r_.first_break) {
    r_.first_break = ChainBreak{at, std::move(kind), std::move(detail)};
  }
}

void Walker::line(std::string_view text, const LinePlace& place) {
  const CheckedLine c = check_line(hmac_, text);
  LinePlace at = place;
  at.seq = c.seq;
  if (c.status == CheckedLine::Status::unparseable) {
    chain_break(at, "unparseable line", "the line does not end in seq, prev and mac");
    return;
  }
  if (c.status == CheckedLine::Status::bad_mac) {
    chain_break(at, "bad mac", "the mac does not match the line: altered, forged, or another key");
    expect_ = {c.seq, std::string(c.mac)};  // resynchronise to count later breaks only once
    started_ = true;
    return;
  }
  if (resync_) {
    resync_ = false;  // after an overlong line: this one's prev cannot be checked
    if (!started_) {
      r_.first_seq = c.seq;
    }
  } else if (!started_) {
    r_.first_seq = c.seq;
    if (c.seq != 1 || c.prev != kZeroMac) {
      chain_break(at, "missing earlier lines",
                  "the first line has seq " + std::to_string(c.seq) +
                      " and a predecessor: earlier lines (or files) are missing");
    }
  } else if (c.prev != expect_.mac) {
    chain_break(at, "prev mismatch",
                "prev is not the mac of the line before (seq " + std::to_string(expect_.seq) +
                    "): a line was removed, reordered or inserted here");
  } else if (c.seq != expect_.seq + 1) {
    chain_break(
        at, "seq gap",
        "expected seq " + std::to_string(expect_.seq + 1) + ", found " + std::to_string(c.seq));
  }
  started_ = true;
  expect_ = {c.seq, std::string(c.mac)};
  r_.last_seq = c.seq;
  content(text, at);
}

void Walker::content(std::string_view text, const LinePlace& at) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    r_.violations.push_back({at, "", "the line is not a JSON object"});
    return;
  }
  const json::object& o = v.get_object();
  const std::string_view type = str(o, "type");
  if (type == "decision") {
    decision(o, at);
  } else if (type == "attempt") {
    attempt(o, at);
  } else if (type == "config") {
    ++r_.configs;
  } else if (type == "dropped") {
    const json::value* n = o.if_contains("count");
    const std::uint64_t count = n != nullptr && n->is_int64() ? n->get_int64() : 0;
    r_.dropped += count;
    r_.warnings.push_back(at.file + " line " + std::to_string(at.line) + ": the writer dropped " +
                          std::to_string(count) + " lines (queue full)");
  }
}

void Walker::decision(const json::object& o, const LinePlace& at) {
  ++r_.decisions;
  ++r_.outcomes[std::string(str(o, "outcome"))];
  ++r_.levels[std::string(str(o, "sensitivity"))].decisions;
  const json::value* backends = o.if_contains("backends");
  if (backends == nullptr || !backends->is_array()) {
    return;
  }
  for (const json::value& b : backends->get_array()) {
    check(o, b.is_string() ? std::string_view(b.get_string()) : std::string_view(), at);
  }
}

void Walker::attempt(const json::object& o, const LinePlace& at) {
  ++r_.attempts;
  const std::string_view backend = str(o, "backend");
  LevelReport& level = r_.levels[std::string(str(o, "sensitivity"))];
  ++level.attempts;
  ServedCounts& served = level.backends[std::string(backend)];
  const ConfigView& v = view(str(o, "config"));
  const config::Backend* spec = v.config ? v.config->find_backend(backend) : nullptr;
  served.hosting = spec != nullptr ? std::string(config::to_string(spec->hosting))
                                   : std::string(str(o, "hosting"));
  ++served.per_day[std::string(str(o, "ts").substr(0, 10))];
  ++served.total;
  check(o, backend, at);
}

const ConfigView& Walker::view(std::string_view hash) {
  if (auto it = views_.find(hash); it != views_.end()) {
    return it->second;
  }
  ConfigView& v = views_[std::string(hash)];
  const std::string name = "configs/" + std::string(hash) + ".yaml";
  std::string text;
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    v.error = "the line names no valid config hash";
  } else if (std::error_code ec;
             std::filesystem::file_size(dir_ + "/" + name, ec) > kMaxSnapshotBytes && !ec) {
    v.error = "its config snapshot " + name + " is larger than " +
              std::to_string(kMaxSnapshotBytes >> 20) + " MiB: not read";
  } else if (!read_file(dir_ + "/" + name, text)) {
    v.error = "its config snapshot " + name + " is missing";
  } else if (snapshot_hash(text) != hash) {
    v.error = "its config snapshot " + name + " does not match its hash (altered)";
  } else if (config::LoadResult loaded = config::load_string(text, name, lenient_env);
             !loaded.ok()) {
    v.error = "its config snapshot does not load: " + loaded.errors.front().to_string();
  } else {
    v.config = std::make_shared<const config::Config>(std::move(*loaded.config));
    v.engine = policies::Engine::build(v.config, v.error);
    if (!v.engine) {
      v.error = "its config snapshot does not build: " + v.error;
    }
  }
  return v;
}

// The clearance invariant for one backend a line names, under the line's own config.
void Walker::check(const json::object& o, std::string_view backend, const LinePlace& at) {
  const std::string request(str(o, "request_id"));
  const ConfigView& v = view(str(o, "config"));
  if (!v.engine) {
    r_.violations.push_back({at, request, "cannot check clearance: " + v.error});
    return;
  }
  const config::Config& cfg = *v.config;
  const std::string_view level_name = str(o, "sensitivity");
  const std::string_view tenant_name = str(o, "tenant");
  const int level = cfg.sensitivity.levels.find(level_name);
  const config::Tenant* tenant = cfg.find_tenant(tenant_name);
  const config::Backend* b = cfg.find_backend(backend);
  std::string problem;
  if (level < 0) {
    problem = "unknown sensitivity level '" + std::string(level_name) + "'";
  } else if (tenant == nullptr) {
    problem = "unknown tenant '" + std::string(tenant_name) + "'";
  } else if (b == nullptr) {
    problem = "unknown backend '" + std::string(backend) + "'";
  } else if (!v.engine->cleared(static_cast<std::size_t>(b - cfg.backends.data()), level,
                                static_cast<std::size_t>(tenant - cfg.tenants.data()))) {
    problem = std::string(level_name) + " request of tenant '" + std::string(tenant_name) +
              "' on backend '" + std::string(backend) + "' (" +
              std::string(config::to_string(b->hosting)) + "), which is not cleared for it";
  }
  if (!problem.empty()) {
    r_.violations.push_back({at, request, std::move(problem)});
  }
}

}  // namespace

VerifyReport verify_trail(const std::string& dir, std::string_view key) {
  VerifyReport r;
  r.dir = dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    r.error = "'" + dir + "' is not a directory";
    return r;
  }
  const std::vector<std::string> files = trail_files(dir);
  if (files.empty()) {
    r.error = "'" + dir + "' holds no trail files (audit-*.jsonl)";
    return r;
  }
  Walker walker(dir, key, r);
  for (const std::string& f : files) {
    walker.file(f);
  }
  return r;
}

}  // namespace sb::gateway::audit
