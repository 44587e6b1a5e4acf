#pragma once
// Shared by the audit tests: a temporary trail directory, settings, and line bodies written by
// hand per the schema (the pipeline's own bodies come later).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/snapshot.h"
#include "gateway/audit/trail.h"
#include "policies/config.h"

namespace sb::gateway::audit::testing {

inline const std::string kKey(40, 'K');

/// Two backends: `local` (self-hosted, cleared for restricted) and `cloud` (closed, cleared for
/// internal at most), `study` (self-hosted, research-only license); tenants `acme` (commercial)
/// and `lab` (research).
inline constexpr std::string_view kConfig = R"(backends:
  local: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m, clearance: restricted}
  cloud: {provider: openai, base_url: "https://api.openai.com/v1", api_key: "${OPENAI_API_KEY}", model: gpt-4o, clearance: internal}
  study: {provider: vllm, base_url: "http://127.0.0.1:8001/v1", model: r, clearance: restricted, license: {name: research-only, commercial: false}}
models:
  default: {candidates: [local, cloud]}
tenants:
  acme: {}
  lab: {use: research}
)";

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

inline void write_all(const std::string& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

/// The lines of a file (without their '\n'); a torn tail is not included.
inline std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  const std::string text = read_all(path);
  std::size_t pos = 0;
  for (std::size_t end; (end = text.find('\n', pos)) != std::string::npos; pos = end + 1) {
    out.push_back(text.substr(pos, end - pos));
  }
  return out;
}

inline void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) {
    text += l + "\n";
  }
  write_all(path, text);
}

class TrailDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sb-audit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/trail";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  config::AuditSettings settings() const {
    config::AuditSettings s;
    s.path = dir_;
    s.key.assign(kKey.data(), kKey.size());
    s.flush_interval = std::chrono::milliseconds(5);
    s.fsync = false;
    return s;
  }
  std::unique_ptr<Trail> open(const config::AuditSettings& s) {
    std::string error;
    std::unique_ptr<Trail> t = Trail::open(s, error);
    EXPECT_NE(t, nullptr) << error;
    return t;
  }
  /// Records kConfig's snapshot with `trail`; returns its hash.
  std::string record(Trail& trail, std::string_view event = "start") {
    const std::string text = snapshot_text(kConfig, [](const std::string&) {
      return std::optional<std::string>("sk-secret-value-0123456789");
    });
    const std::string hash = snapshot_hash(text);
    trail.record_config(text, hash, event);
    return hash;
  }
  std::string file(std::size_t i) const { return dir_ + "/" + trail_files(dir_).at(i); }

  std::string root_;
  std::string dir_;
};

inline std::string decision(std::string_view hash, std::string_view id, std::string_view level,
                            std::string_view tenant, std::string_view outcome,
                            std::vector<std::string> backends,
                            std::string_view ts = "2026-12-01T10:00:00.000Z") {
  std::string b = "[";
  for (std::size_t i = 0; i < backends.size(); ++i) {
    b += (i ? ",\"" : "\"") + backends[i] + "\"";
  }
  b += "]";
  return "{\"v\":1,\"type\":\"decision\",\"ts\":\"" + std::string(ts) + "\",\"config\":\"" +
         std::string(hash) + "\",\"request_id\":\"" + std::string(id) +
         "\",\"endpoint\":\"chat\",\"tenant\":\"" + std::string(tenant) +
         "\",\"model\":\"default\",\"outcome\":\"" + std::string(outcome) +
         "\",\"rule\":\"\",\"sensitivity\":\"" + std::string(level) +
         "\",\"tier\":\"standard\",\"why\":{\"detected\":null,\"entities\":{}},\"backends\":" + b +
         ",\"estimated_tokens\":10,\"estimated_cost_nanos\":0";
}

inline std::string attempt(std::string_view hash, std::string_view id, std::string_view level,
                           std::string_view tenant, std::string_view backend,
                           std::string_view ts = "2026-12-01T10:00:00.100Z") {
  return "{\"v\":1,\"type\":\"attempt\",\"ts\":\"" + std::string(ts) + "\",\"config\":\"" +
         std::string(hash) + "\",\"request_id\":\"" + std::string(id) + "\",\"tenant\":\"" +
         std::string(tenant) + "\",\"model\":\"default\",\"sensitivity\":\"" + std::string(level) +
         "\",\"n\":1,\"backend\":\"" + std::string(backend) +
         "\",\"hosting\":\"self_hosted\",\"provider\":\"vllm\",\"status\":200,\"result\":\"ok\","
         "\"stream\":false,\"upstream_ms\":12.5,\"usage\":null,\"usage_estimated\":false,"
         "\"cost_nanos\":0";
}

}  // namespace sb::gateway::audit::testing
