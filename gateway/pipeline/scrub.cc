#include "gateway/pipeline/scrub.h"

#include <array>
#include <cctype>

namespace sb::gateway {
namespace {

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  if (what.size() < 4) {
    return;  // too short to be a real secret or host; replacing would mangle ordinary text
  }
  for (std::size_t at = s.find(what); at != std::string::npos;
       at = s.find(what, at + with.size())) {
    s.replace(at, what.size(), with);
  }
}

}  // namespace

std::string scrub_upstream_text(std::string_view text, std::string_view secret,
                                std::string_view host) {
  std::string out(text);
  replace_all(out, secret, "[redacted]");
  replace_all(out, host, "[upstream]");
  // Key-shaped tokens: a known prefix followed by at least 12 token characters.
  static constexpr std::array<std::string_view, 5> kPrefixes = {"sk-", "AKIA", "ASIA", "AIza",
                                                                "xox"};
  std::string result;
  result.reserve(out.size());
  std::size_t i = 0;
  while (i < out.size()) {
    bool replaced = false;
    const bool at_boundary = i == 0 || !token_char(out[i - 1]);
    if (at_boundary) {
      for (std::string_view p : kPrefixes) {
        if (out.compare(i, p.size(), p) != 0) {
          continue;
        }
        std::size_t end = i + p.size();
        while (end < out.size() && token_char(out[end])) {
          ++end;
        }
        if (end - i - p.size() >= 12) {
          result += p;
          result += "[redacted]";
          i = end;
          replaced = true;
        }
        break;
      }
      if (!replaced && out.compare(i, 7, "Bearer ") == 0) {
        std::size_t end = i + 7;
        while (end < out.size() && (token_char(out[end]) || out[end] == '.')) {
          ++end;
        }
        if (end > i + 7) {
          result += "Bearer [redacted]";
          i = end;
          replaced = true;
        }
      }
    }
    if (!replaced) {
      result.push_back(out[i]);
      ++i;
    }
  }
  return result;
}

}  // namespace sb::gateway
