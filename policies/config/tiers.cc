// `tiers:`: capability levels, the default tier and its inference from request features.
#include <cstdint>
#include <string>

#include "policies/config/builder.h"

namespace sb::config::detail {

void ConfigBuilder::read_tiers(const Located& section) {
  std::optional<Located> levels;
  std::optional<Located> default_tier;
  std::optional<Located> infer;
  const Kept keys[] = {{"levels", &levels}, {"default", &default_tier}, {"infer", &infer}};
  read_kept(section, keys);
  TierSettings& t = config_.tiers;
  if (levels) {
    tiers_ok_ = read_scale(*levels, Kind::tier, t.levels);
  }
  if (default_tier) {
    assign(t.default_tier, level_of(*default_tier, Kind::tier));
  } else {
    int standard = t.levels.find("standard");
    t.default_tier = standard >= 0 ? standard : 0;
  }
  if (infer) {
    read_infer(*infer);
  }
}

void ConfigBuilder::read_infer(const Located& v) {
  std::optional<std::vector<Located>> items = r_.sequence(v, "expected a list of {tier, when}");
  if (!items) {
    return;
  }
  for (const Located& item : *items) {
    TierInference rule;
    r_.read_map(item, {
                          {"tier", kRequired,
                           [&](const Located& x) { assign(rule.tier, level_of(x, Kind::tier)); }},
                          {"when", kRequired,
                           [&](const Located& x) {
                             std::size_t before = r_.error_count();
                             read_features(x, rule.when);
                             if (r_.error_count() == before && rule.when.empty()) {
                               r_.error(x,
                                        "must test at least one feature (requests that match "
                                        "no rule get tiers.default)");
                             }
                           }},
                      });
    config_.tiers.infer.push_back(std::move(rule));
  }
}

void ConfigBuilder::read_features(const Located& v, FeatureCondition& f) {
  constexpr std::string_view kCount = "expected a non-negative integer";
  r_.read_map(
      v,
      {
          {"tools", kOptional, [&](const Located& x) { f.tools = r_.boolean(x); }},
          {"images", kOptional, [&](const Located& x) { f.images = r_.boolean(x); }},
          {"json_schema", kOptional, [&](const Located& x) { f.json_schema = r_.boolean(x); }},
          {"prompt_tokens_above", kOptional,
           [&](const Located& x) { f.prompt_tokens_above = r_.integer(x, 0, UINT64_MAX, kCount); }},
          {"depth_above", kOptional,
           [&](const Located& x) { f.depth_above = r_.integer(x, 0, UINT64_MAX, kCount); }},
          {"reasoning_effort", kOptional,
           [&](const Located& x) {
             read_strings(x, f.reasoning_effort, "expected a value or a list of values");
           }},
      });
}

}  // namespace sb::config::detail
