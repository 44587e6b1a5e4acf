// `sensitivity:`: levels, built-in detectors, custom detectors and unscannable content.
#include <algorithm>
#include <array>
#include <string>

#include "policies/config/builder.h"
#include "policies/detector.h"

namespace sb::config {
namespace detail {
namespace {

// Built-in detector entities, in the order builtin_entities() promises, with their default level
// names in the default scale.
struct EntityDefault {
  std::string_view entity;
  std::string_view level;
  bool secret;  // one of the kinds `secret:` sets at once
};
constexpr std::array<EntityDefault, 25> kEntities{{
    {"credit_card", "restricted", false},
    {"us_ssn", "restricted", false},
    {"iban", "restricted", false},
    {"email", "confidential", false},
    {"phone", "confidential", false},
    {"ip_address", "internal", false},
    {"aws_access_key", "restricted", true},
    {"github_token", "restricted", true},
    {"openai_key", "restricted", true},
    {"anthropic_key", "restricted", true},
    {"slack_token", "restricted", true},
    {"private_key", "restricted", true},
    {"jwt", "restricted", true},
    {"google_api_key", "restricted", true},
    {"stripe_key", "restricted", true},
    {"gitlab_token", "restricted", true},
    {"huggingface_token", "restricted", true},
    {"openrouter_key", "restricted", true},
    {"deepseek_key", "restricted", true},
    {"npm_token", "restricted", true},
    {"groq_key", "restricted", true},
    {"xai_key", "restricted", true},
    {"perplexity_key", "restricted", true},
    {"url_credentials", "restricted", true},
    {"credential", "restricted", true},
}};
constexpr std::string_view kSecretGroup = "secret";

bool builtin_entity(std::string_view name) {
  return std::any_of(kEntities.begin(), kEntities.end(),
                     [&](const EntityDefault& d) { return d.entity == name; });
}

// Custom detector names are entity names next to the built-in ones (`credit_card`).
bool valid_detector_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

void ConfigBuilder::read_sensitivity(const std::optional<Located>& section) {
  std::optional<Located> levels;
  std::optional<Located> detectors;
  std::optional<Located> unscannable;
  std::optional<Located> allow_defaults;
  if (section) {
    const Kept keys[] = {{"levels", &levels},
                         {"detectors", &detectors},
                         {"unscannable", &unscannable},
                         {"allow_defaults", &allow_defaults}};
    read_kept(*section, keys);
  }
  SensitivitySettings& s = config_.sensitivity;
  if (allow_defaults) {
    assign(s.allow_defaults, r_.boolean(*allow_defaults));
  }
  if (levels) {
    levels_ok_ = read_scale(*levels, Kind::level, s.levels);
  }
  s.unscannable.level = static_cast<int>(s.levels.names.size()) - 1;
  if (unscannable) {
    read_unscannable(*unscannable, s.unscannable);
  }
  std::map<std::string, int, std::less<>> chosen;  // entity → level (-1 = off)
  std::optional<int> secret;
  AllowLists allows;
  if (detectors) {
    mark(detectors->path, *detectors);
    read_detectors(*detectors, chosen, secret, allows);
  }
  resolve_entities(chosen, secret, allows);
}

// Every built-in entity's level. A per-kind key wins over `secret:` whatever their order in the
// file.
void ConfigBuilder::resolve_entities(const std::map<std::string, int, std::less<>>& chosen,
                                     std::optional<int> secret, AllowLists& allows) {
  SensitivitySettings& s = config_.sensitivity;
  std::vector<std::string> highest;
  for (const EntityDefault& d : kEntities) {
    int level = 0;
    if (auto it = chosen.find(d.entity); it != chosen.end()) {
      level = it->second;
    } else if (d.secret && secret) {
      level = *secret;
    } else {
      level = s.levels.find(d.level);
      if (level < 0) {
        // A customised scale without the default's name: never under-classify.
        level = static_cast<int>(s.levels.names.size()) - 1;
        highest.emplace_back(d.entity);
      }
    }
    EntityLevel entity{std::string(d.entity), level, {}};
    if (auto it = allows.find(d.entity); it != allows.end()) {
      entity.allow = std::move(it->second);
    }
    s.entities.push_back(std::move(entity));
  }
  if (!highest.empty() && levels_ok_) {
    config_.notices.push_back("sensitivity.levels is customised: detectors " + join(highest) +
                              " take the highest level '" + s.levels.names.back() +
                              "' (set their levels under sensitivity.detectors)");
  }
}

// `unscannable: {level: restricted, kinds: [token_ids, audio, files, images]}`.
void ConfigBuilder::read_unscannable(const Located& section, UnscannableSettings& u) {
  r_.read_map(section,
              {
                  {"level", kOptional,
                   [&](const Located& v) { assign(u.level, level_of(v, Kind::level)); }},
                  {"kinds", kOptional, [&](const Located& v) { read_unscannable_kinds(v, u); }},
              });
}

void ConfigBuilder::read_unscannable_kinds(const Located& v, UnscannableSettings& u) {
  auto given = r_.names(v, "expected a list of kinds (token_ids, audio, files, images)");
  if (!given) {
    return;
  }
  u.kinds = 0;
  const std::vector<std::string>& names = unscannable_kind_names();
  for (const auto& [item, n] : *given) {
    auto it = std::find(names.begin(), names.end(), n);
    if (it == names.end()) {
      r_.error(item, "unknown kind '" + n + "' (expected one of: token_ids, audio, files, images)");
      continue;
    }
    const unsigned bit = 1u << (it - names.begin());
    if ((u.kinds & bit) != 0) {
      r_.error(item, "duplicate kind '" + n + "'");
    }
    u.kinds |= bit;
  }
}

// `email: confidential`, `secret: restricted`, `ip_address: off`, `custom: [...]`,
// `email: {level: confidential, allow: [...]}`.
void ConfigBuilder::read_detectors(const Located& section,
                                   std::map<std::string, int, std::less<>>& chosen,
                                   std::optional<int>& secret, AllowLists& allows) {
  std::optional<std::vector<YamlReader::Entry>> entries = r_.entries(section);
  if (!entries) {
    return;
  }
  for (const YamlReader::Entry& e : *entries) {
    if (e.key == "custom") {
      read_custom_detectors(e.value);
      continue;
    }
    bool is_group = e.key == kSecretGroup;
    bool is_entity = builtin_entity(e.key);
    if (!is_group && !is_entity) {
      std::string expected;
      for (const EntityDefault& d : kEntities) {
        expected += std::string(d.entity) + ", ";
      }
      expected += std::string(kSecretGroup) + ", custom";
      r_.error(e.key_node, "unknown key '" + e.key + "' (expected one of: " + expected + ")");
      continue;
    }
    mark(e.value.path, e.value);
    if (e.value.node.IsMap()) {
      if (is_group) {
        r_.error(e.value, "'secret' takes a level name; set allow: on each of its kinds");
        continue;
      }
      read_detector_map(e, chosen, allows);
      continue;
    }
    std::optional<int> level = detector_level(e.value);
    if (!level) {
      continue;
    }
    if (is_group) {
      secret = *level;
    } else {
      chosen[e.key] = *level;
    }
  }
}

// `email: {level: confidential, allow: [...]}`; without `level`, the detector keeps its default
// (or the `secret:` group's) level.
void ConfigBuilder::read_detector_map(const YamlReader::Entry& e,
                                      std::map<std::string, int, std::less<>>& chosen,
                                      AllowLists& allows) {
  r_.read_map(e.value,
              {
                  {"level", kOptional,
                   [&](const Located& v) {
                     if (std::optional<int> level = detector_level(v)) {
                       chosen[e.key] = *level;
                     }
                   }},
                  {"allow", kOptional, [&](const Located& v) { read_allow(v, allows[e.key]); }},
              });
}

// `allow: [value, {pattern: REGEX}, ...]` (a single value may stand alone).
void ConfigBuilder::read_allow(const Located& v, std::vector<AllowEntry>& out) {
  std::optional<std::vector<Located>> items =
      r_.scalar_or_sequence(v, "expected a list of values and {pattern: REGEX} entries");
  if (!items) {
    return;
  }
  for (const Located& item : *items) {
    if (item.node.IsMap()) {
      AllowEntry a;
      r_.read_map(item, {{"pattern", kRequired, [&](const Located& x) {
                            std::optional<std::string> p = r_.non_empty_string(x);
                            std::string message;
                            if (p && !policies::allow_pattern_compiles(*p, message)) {
                              r_.error(x, "pattern does not compile: " + message);
                            } else if (p) {
                              a.pattern = std::move(*p);
                            }
                          }}});
      if (!a.pattern.empty()) {
        out.push_back(std::move(a));
      }
    } else if (!item.node.IsScalar() && !item.node.IsNull()) {
      r_.error(item, "expected a value or {pattern: REGEX}");
    } else if (std::optional<std::string> value = r_.non_empty_string(item)) {
      if (value->find_first_of("\r\n") != std::string::npos) {
        r_.error(item, "an allowed value cannot span lines (no detected value does)");
        continue;
      }
      out.push_back(AllowEntry{std::move(*value), {}});
    }
  }
}

// A level name, or `off` (-1).
std::optional<int> ConfigBuilder::detector_level(const Located& v) {
  std::optional<std::string> name = r_.non_empty_string(v);
  if (!name) {
    return std::nullopt;
  }
  if (*name == kOff) {
    return -1;
  }
  int i = config_.sensitivity.levels.find(*name);
  if (i >= 0) {
    return i;
  }
  if (levels_ok_) {
    r_.error(v, "unknown level '" + *name + "' (levels: " + join(config_.sensitivity.levels.names) +
                    ", or off)");
  }
  return std::nullopt;
}

void ConfigBuilder::read_custom_detectors(const Located& v) {
  std::optional<std::vector<Located>> items =
      r_.sequence(v, "expected a list of detectors ({name, pattern or keywords, level})");
  if (!items) {
    return;
  }
  std::set<std::string, std::less<>> names;
  for (const Located& item : *items) {
    CustomDetector d;
    std::optional<Located> name;
    std::optional<Located> pattern;
    std::optional<Located> keywords;
    std::optional<Located> allow;
    bool ok = r_.read_map(
        item, {
                  {"name", kRequired, keep(name)},
                  {"pattern", kOptional,
                   [&](const Located& x) {
                     pattern = x;
                     assign(d.pattern, r_.non_empty_string(x));
                     check_detector_pattern(x, d.pattern);
                   }},
                  {"keywords", kOptional,
                   [&](const Located& x) {
                     keywords = x;
                     read_strings(x, d.keywords, "expected a list of keywords");
                   }},
                  {"level", kRequired,
                   [&](const Located& x) { assign(d.level, level_of(x, Kind::level)); }},
                  {"allow", kOptional,
                   [&](const Located& x) {
                     allow = x;
                     read_allow(x, d.allow);
                   }},
              });
    if (!ok) {
      continue;
    }
    if (std::optional<std::string> n = name ? r_.non_empty_string(*name) : std::nullopt) {
      check_detector_name(*name, *n, names);
      // The detector compiler names a custom detector `sensitivity.custom[NAME]`.
      mark("sensitivity.custom[" + *n + "]", pattern ? *pattern : item);
      d.name = std::move(*n);
    }
    if (pattern.has_value() == keywords.has_value()) {
      r_.error(item, "expected exactly one of 'pattern' or 'keywords'");
    }
    std::string message;
    if (allow && !d.pattern.empty() && policies::custom_pattern_compiles(d.pattern, message) &&
        !policies::custom_pattern_has_start(d.pattern)) {
      r_.error(*allow,
               "allow cannot apply: Hyperscan cannot tell where this detector's matches start, "
               "so their values are unknown (simplify the pattern)");
    }
    config_.sensitivity.custom.push_back(std::move(d));
  }
}

void ConfigBuilder::check_detector_name(const Located& v, std::string_view name,
                                        std::set<std::string, std::less<>>& names) {
  const std::string n(name);
  if (!valid_detector_name(n)) {
    r_.error(v, "invalid detector name '" + n + "' (use a-z, 0-9 and '_')");
  } else if (builtin_entity(n)) {
    r_.error(v, "'" + n + "' is a built-in detector (set its level under sensitivity.detectors)");
  } else if (n == kSecretGroup || n == "custom") {
    r_.error(v, "'" + n + "' is reserved");
  } else if (!names.insert(n).second) {
    r_.error(v, "duplicate detector '" + n + "'");
  }
}

// Patterns are compiled at load, so one Hyperscan refuses is reported at its line and column
// rather than when the gateway builds its detector.
void ConfigBuilder::check_detector_pattern(const Located& v, const std::string& pattern) {
  std::string message;
  if (!pattern.empty() && !policies::custom_pattern_compiles(pattern, message)) {
    r_.error(v, "pattern does not compile: " + message);
  }
}

}  // namespace detail

const std::vector<std::string>& builtin_entities() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const detail::EntityDefault& d : detail::kEntities) {
      out.emplace_back(d.entity);
    }
    return out;
  }();
  return names;
}

}  // namespace sb::config
