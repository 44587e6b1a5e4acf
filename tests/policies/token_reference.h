#pragma once
// The ends rules::token_anchors (policies/detector_rules_internal.h) reports, found the plain way:
// the oracle of its test and of the detector fuzz target.

#include <cstddef>
#include <string_view>
#include <vector>

namespace sb::policies::testing {

// token_anchors' ends, found the plain way: each place one of the prefixes starts a token (not
// after a token character) whose body's letters and digits hold a digit within the first 86,
// reported where the token's own characters (at most 85 of them, prefix included) end.
inline std::vector<std::size_t> token_ends(std::string_view text) {
  struct Prefix {
    std::string_view text;
    bool dash_continues;  // `-` is one of the token's characters
  };
  constexpr Prefix kPrefixes[] = {
      {"npm_", false}, {"gsk_", false}, {"xai-", true}, {"pplx-", true}};
  constexpr std::size_t kMax = 85;
  const auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  const auto token = [&](char c) { return alnum(c) || c == '_' || c == '-'; };
  std::vector<std::size_t> out;
  for (std::size_t s = 0; s < text.size(); ++s) {
    if (s > 0 && token(text[s - 1])) {
      continue;
    }
    for (const Prefix& p : kPrefixes) {
      if (!text.substr(s).starts_with(p.text)) {
        continue;
      }
      const std::size_t b = s + p.text.size();
      bool digit = false;
      for (std::size_t i = b; i < text.size() && alnum(text[i]) && i - b <= kMax; ++i) {
        digit = digit || (text[i] >= '0' && text[i] <= '9');
      }
      if (digit) {
        std::size_t e = b;
        while (e < text.size() && e - s <= kMax &&
               (alnum(text[e]) || text[e] == '_' || (p.dash_continues && text[e] == '-'))) {
          ++e;
        }
        out.push_back(e);
      }
    }
  }
  return out;
}

}  // namespace sb::policies::testing
