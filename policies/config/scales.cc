// Scales (sensitivity levels and capability tiers), level ranges and lists of names: the value
// grammars that several sections share.
#include <algorithm>
#include <string>

#include "policies/config/builder.h"

namespace sb::config::detail {
namespace {

// Sensitivity level and tier names: they appear in headers, metrics labels and explain output.
bool valid_level_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

const Scale& ConfigBuilder::scale(Kind k) const {
  return k == Kind::level ? config_.sensitivity.levels : config_.tiers.levels;
}

std::string ConfigBuilder::unknown_name(Kind k, const std::string& name) const {
  std::string names = join(scale(k).names);
  if (k == Kind::level) {
    return "unknown level '" + name + "' (levels: " + names + ")";
  }
  return "unknown tier '" + name + "' (expected one of: " + names + ")";
}

// A level or tier name → its index. Nothing is reported for an unknown name when the scale
// itself was invalid: that error is already there, and every name would look unknown.
std::optional<int> ConfigBuilder::level_of(const Located& v, Kind k) {
  std::optional<std::string> name = r_.non_empty_string(v);
  if (!name) {
    return std::nullopt;
  }
  int i = scale(k).find(*name);
  if (i >= 0) {
    return i;
  }
  if (scale_ok(k)) {
    r_.error(v, unknown_name(k, *name));
  }
  return std::nullopt;
}

// `levels: [...]`, lowest first. On any problem the default scale stays and false is returned.
bool ConfigBuilder::read_scale(const Located& v, Kind k, Scale& out) {
  std::string noun = k == Kind::level ? "level" : "tier";
  std::optional<std::vector<Located>> items =
      r_.sequence(v, "expected a list of " + noun + " names, lowest first");
  if (!items) {
    return false;
  }
  if (items->size() < 2) {
    r_.error(v, "at least two " + noun + "s are required");
    return false;
  }
  Scale result;
  bool ok = true;
  for (const Located& item : *items) {
    std::optional<std::string> name = r_.non_empty_string(item);
    if (!name) {
      ok = false;
    } else if (!valid_level_name(*name)) {
      r_.error(item, "invalid " + noun + " name '" + *name + "' (use a-z, 0-9, '_' and '-')");
      ok = false;
    } else if (k == Kind::level && *name == kOff) {
      r_.error(item, "'off' cannot be a level name (it turns a detector off)");
      ok = false;
    } else if (result.find(*name) >= 0) {
      r_.error(item, "duplicate " + noun + " '" + *name + "'");
      ok = false;
    } else {
      result.names.push_back(std::move(*name));
    }
  }
  if (ok) {
    out = std::move(result);
  }
  return ok;
}

// `confidential` (exactly that level) or `{at_least: internal, at_most: confidential}`.
std::optional<LevelRange> ConfigBuilder::level_range(const Located& v, Kind k) {
  std::string noun = k == Kind::level ? "level" : "tier";
  if (v.node.IsScalar()) {
    std::optional<int> level = level_of(v, k);
    if (!level) {
      return std::nullopt;
    }
    return LevelRange{*level, *level};
  }
  if (!v.node.IsMap()) {
    r_.error(v, "expected a " + noun + " name or {at_least, at_most}");
    return std::nullopt;
  }
  LevelRange range;
  std::size_t before = r_.error_count();
  r_.read_map(v, {
                     {"at_least", kOptional,
                      [&](const Located& x) { assign(range.at_least, level_of(x, k)); }},
                     {"at_most", kOptional,
                      [&](const Located& x) { assign(range.at_most, level_of(x, k)); }},
                 });
  if (r_.error_count() != before) {
    return std::nullopt;
  }
  if (range.at_least < 0 && range.at_most < 0) {
    r_.error(v, "expected at_least and/or at_most");
    return std::nullopt;
  }
  if (range.at_most >= 0 && range.at_least > range.at_most) {
    const std::vector<std::string>& names = scale(k).names;
    r_.error(v, "at_least '" + names[static_cast<std::size_t>(range.at_least)] +
                    "' is above at_most '" + names[static_cast<std::size_t>(range.at_most)] + "'");
    return std::nullopt;
  }
  return range;
}

void ConfigBuilder::read_strings(const Located& v, std::vector<std::string>& out,
                                 std::string_view expected_message) {
  read_name_list(v, out, expected_message, "must not be empty", "value",
                 [](const Located&, const std::string&) { return true; });
}

}  // namespace sb::config::detail
