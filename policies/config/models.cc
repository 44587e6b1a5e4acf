// `models:`: aliases clients send in "model", each a list of candidate backends.
#include <algorithm>
#include <string>

#include "policies/config/builder.h"

namespace sb::config::detail {
namespace {

// Clients send aliases verbatim in "model" (`gpt-4o`, `meta-llama/Llama-3.1-8B`).
bool valid_alias_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
  });
}

}  // namespace

void ConfigBuilder::read_models(const Located& section) {
  std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(section);
  if (!entries) {
    models_given_ = true;  // broken, but given: do not invent aliases on top of the error
    return;
  }
  models_given_ = !entries->empty();
  for (const YamlReader::Entry& e : *entries) {
    if (!valid_alias_name(e.key)) {
      r_.error(e.key_node, "invalid model alias '" + e.key + "' (no spaces or control characters)");
    }
    ModelAlias alias;
    alias.name = e.key;
    r_.read_map(e.value,
                {
                    {"candidates", kRequired, [&](const Located& v) { read_candidates(v, alias); }},
                    {"tier", kOptional,
                     [&](const Located& v) {
                       if (std::optional<int> t = level_of(v, Kind::tier)) {
                         alias.tier_level = *t;
                         alias.tier = config_.tiers.levels.names[static_cast<std::size_t>(*t)];
                       }
                     }},
                });
    config_.models.push_back(std::move(alias));
  }
}

void ConfigBuilder::read_candidates(const Located& v, ModelAlias& alias) {
  auto names = r_.names(v, "expected a list of backend names", true);
  if (!names) {
    return;
  }
  for (const auto& [item, name] : *names) {
    if (std::find(alias.candidates.begin(), alias.candidates.end(), name) !=
        alias.candidates.end()) {
      r_.error(item, "duplicate backend '" + name + "'");
      continue;
    }
    alias.candidates.push_back(name);
    candidate_refs_.emplace_back(item, name);
  }
}

// Runs after every section: candidates may name backends declared further down the file.
void ConfigBuilder::resolve_models() {
  for (const auto& [where, name] : candidate_refs_) {
    if (!backend_names_.contains(name)) {
      r_.error(where, "unknown backend '" + name + "'");
    }
  }
  if (!models_given_) {
    for (const Backend& b : config_.backends) {
      config_.models.push_back(ModelAlias{b.name, {b.name}, "", -1});
    }
  }
}

}  // namespace sb::config::detail
