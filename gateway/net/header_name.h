#pragma once
// Header names compared the way HTTP compares them (ASCII case-insensitively), inline, for the
// lookups every request makes: a request carries a handful of fields, so a walk that rejects a
// name by its length first costs less than Beast's case-insensitive tree search.

#include <cstddef>
#include <string_view>

namespace sb::gateway {

/// Whether header name `name` is `lower` (given in lower case), ASCII case-insensitively. Also
/// for the other case-insensitive tokens of a header (`chunked`, the `Bearer` scheme).
constexpr bool is_name(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c) != lower[i]) {
      return false;
    }
  }
  return true;
}

/// The value of the first field of `fields` (Beast's basic_fields or a message) named `lower`
/// (given in lower case); empty when there is none. The same answer as `fields[lower]`.
template <class Fields>
std::string_view field_value(const Fields& fields, std::string_view lower) {
  for (const auto& f : fields) {
    if (is_name(f.name_string(), lower)) {
      return f.value();
    }
  }
  return {};
}

}  // namespace sb::gateway
