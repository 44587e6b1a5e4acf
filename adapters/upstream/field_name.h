#pragma once
// Header field names compared as HTTP compares them: ASCII case-insensitively. Also for the other
// case-insensitive tokens of a header (`chunked`, the `Bearer` scheme).

#include <cstddef>
#include <ostream>  // before Beast's field names: its string_view needs it whole
#include <string_view>

#include <boost/beast/http/field.hpp>

namespace sb::upstream {

constexpr char fold_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

/// Whether `name` is `lower` (given in lower case): the lookups every request makes, where a walk
/// that rejects a name by its length first costs less than a case-insensitive tree.
constexpr bool is_name(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (fold_ascii(name[i]) != lower[i]) {
      return false;
    }
  }
  return true;
}

/// Whether two names in any case are the same.
constexpr bool same_field_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold_ascii(a[i]) != fold_ascii(b[i])) {
      return false;
    }
  }
  return true;
}

/// Beast's canonical spelling of a known field name ("Content-Type").
inline std::string_view field_name(boost::beast::http::field f) {
  const auto s = boost::beast::http::to_string(f);
  return {s.data(), s.size()};
}

}  // namespace sb::upstream
