// Loading: the document's sections read in dependency order, YAML errors, files; and placing
// errors found after loading at the key they name.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "policies/config/builder.h"

namespace sb::config {
namespace detail {

// Where each section is; read once the whole document is known.
struct ConfigBuilder::Sections {
  std::optional<Located> server, admin, state, responses, audit, backends, models, egress, auth,
      tenants, sensitivity, tiers, policy_headers, policies, cost, retries, telemetry;
};

// Sections are read in dependency order, not in file order: level and tier names can only be
// checked once `sensitivity.levels` and `tiers.levels` are known, and rules name backends,
// aliases and tenants declared anywhere in the file. Errors are sorted by position at the end.
void ConfigBuilder::read(const Located& root) {
  Sections s;
  const Kept sections[] = {
      {"server", &s.server},
      {"admin", &s.admin},
      {"state", &s.state},
      {"responses", &s.responses},
      {"audit", &s.audit},
      {"backends", &s.backends, kRequired},
      {"models", &s.models},
      {"egress", &s.egress},
      {"auth", &s.auth},
      {"tenants", &s.tenants},
      {"sensitivity", &s.sensitivity},
      {"tiers", &s.tiers},
      {"policy_headers", &s.policy_headers},
      {"policies", &s.policies},
      {"cost", &s.cost},
      {"retries", &s.retries},
      {"telemetry", &s.telemetry},
  };
  read_kept(root, sections);
  for (const Kept& section : sections) {
    if (*section.slot) {
      mark(std::string(section.key), **section.slot);
    }
  }
  read_sections(s);
  resolve_scrape();
  add_notices();
}

void ConfigBuilder::read_sections(const Sections& s) {
  const auto read_if = [this](const std::optional<Located>& section,
                              void (ConfigBuilder::*read_section)(const Located&)) {
    if (section) {
      (this->*read_section)(*section);
    }
  };
  read_if(s.retries, &ConfigBuilder::read_retries);
  read_if(s.server, &ConfigBuilder::read_server);
  read_if(s.admin, &ConfigBuilder::read_admin);
  read_if(s.state, &ConfigBuilder::read_state);
  read_responses(s.responses);
  read_if(s.audit, &ConfigBuilder::read_audit);
  read_telemetry(s.telemetry);
  read_sensitivity(s.sensitivity);
  read_if(s.tiers, &ConfigBuilder::read_tiers);
  read_if(s.backends, &ConfigBuilder::read_backends);
  read_if(s.models, &ConfigBuilder::read_models);
  resolve_models();
  read_if(s.egress, &ConfigBuilder::read_egress);
  read_if(s.policy_headers, &ConfigBuilder::read_policy_headers);
  read_tenants(s.tenants);
  read_auth(s.auth);
  resolve_server_listen();
  read_if(s.cost, &ConfigBuilder::read_cost);
  read_if(s.policies, &ConfigBuilder::read_policies);
}

}  // namespace detail

namespace {

using detail::ConfigBuilder;
using detail::YamlReader;

std::pair<int, int> position(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) {
    return {0, 0};
  }
  return {mark.line + 1, mark.column + 1};
}

// yaml-cpp 0.7 never returns (it allocates until the process dies) on a line that starts with a
// flow entry ',' where no block is open: at the start of a document ("," alone, "a: 1\n---\n,")
// or left of the document's top-level indentation (" a: 1\n,"). Such a line is never part of a
// valid config, so it is refused here, before yaml-cpp sees it. Returns the 1-based line and
// column of that ',', or {0, 0} when there is none.
std::pair<int, int> stray_flow_entry(std::string_view yaml) {
  std::size_t top_indent = std::string_view::npos;  // npos: no content yet in this document
  int line = 0;
  std::size_t pos = 0;
  while (pos <= yaml.size()) {
    const std::size_t end = std::min(yaml.find('\n', pos), yaml.size());
    std::string_view text = yaml.substr(pos, end - pos);
    ++line;
    pos = end + 1;
    std::size_t col = text.find_first_not_of(" \t\r");
    if (text.starts_with("---") || text.starts_with("...")) {
      top_indent = std::string_view::npos;
      col = text.find_first_not_of(" \t\r", 3);  // content may follow the marker
      if (col == std::string_view::npos || text[col] == '#') {
        continue;
      }
    }
    if (col == std::string_view::npos || text[col] == '#' ||
        (top_indent == std::string_view::npos && text[col] == '%')) {
      continue;
    }
    if (text[col] == ',' && (top_indent == std::string_view::npos || col < top_indent)) {
      return {line, static_cast<int>(col) + 1};
    }
    if (top_indent == std::string_view::npos) {
      top_indent = col;
    }
  }
  return {0, 0};
}

LoadResult load(std::string_view yaml, const std::string& file, std::string base_dir,
                const EnvLookup& env) {
  LoadResult result;
  if (auto [line, column] = stray_flow_entry(yaml); line > 0) {
    result.errors.push_back(ConfigError{
        file, line, column, "", "YAML syntax error: unexpected ',' outside any collection"});
    return result;
  }
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    auto [line, column] = position(e.mark);
    result.errors.push_back(ConfigError{file, line, column, "", "YAML syntax error: " + e.msg});
    return result;
  }
  YamlReader reader(file, env);
  reader.set_base_dir(std::move(base_dir));
  if (documents.size() > 1) {
    auto [line, column] = position(documents[1].Mark());
    reader.error(line, column, "",
                 "expected a single YAML document, found " + std::to_string(documents.size()));
  }
  ConfigBuilder builder(reader);
  builder.read(reader.root(documents.empty() ? YAML::Node() : documents.front()));
  result.errors = reader.take_errors();
  if (result.errors.empty()) {
    result.config = builder.take();
    result.config->source = file;
    result.config->text = std::string(yaml);
  }
  return result;
}

bool read_whole_file(const std::string& path, std::string& out, std::string& problem) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    problem = std::strerror(errno);
    return false;
  }
  char buffer[16384];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    out.append(buffer, n);
  }
  bool failed = std::ferror(f) != 0;
  int saved = errno;
  std::fclose(f);
  if (failed) {
    problem = std::strerror(saved);
    return false;
  }
  return true;
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!path.empty()) {
    out += path;
    out += ": ";
  }
  out += message;
  return out;
}

ConfigError locate(const Config& config, std::string_view message) {
  return locate(config.source, config.positions, message);
}

ConfigError locate(const std::string& file, const KeyPositions& positions,
                   std::string_view message) {
  ConfigError out{file, 0, 0, "", std::string(message)};
  const std::size_t colon = message.find(": ");
  if (colon == std::string_view::npos) {
    return out;
  }
  // `backends.a.tls.ca_file` → `backends.a.tls` → `backends.a` → `backends`.
  for (std::string_view path = message.substr(0, colon); !path.empty();) {
    if (auto it = positions.find(path); it != positions.end()) {
      out.line = it->second.first;
      out.column = it->second.second;
      out.path = std::string(message.substr(0, colon));
      out.message = std::string(message.substr(colon + 2));
      return out;
    }
    const std::size_t cut = path.find_last_of(".[");
    path = path.substr(0, cut == std::string_view::npos ? 0 : cut);
  }
  return out;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

// -------------------------------------------------------------------------------------------------
// Loading

LoadResult load_string(std::string_view yaml, std::string_view file_name, const EnvLookup& env) {
  return load(yaml, std::string(file_name), "", env);
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
  std::string text;
  std::string problem;
  if (!read_whole_file(path, text, problem)) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, 0, 0, "", "cannot read file: " + problem});
    return result;
  }
  // Files the config names (certificates, CA bundles) are found next to it.
  return load(text, path, std::filesystem::path(path).parent_path().string(), env);
}

}  // namespace sb::config
