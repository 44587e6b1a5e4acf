#pragma once
// Header lookups by name, compared the way HTTP compares them (is_name: ASCII case-insensitively,
// the upstream client's own comparison), inline, for the lookups every request makes: a request
// carries a handful of fields, so a walk that rejects a name by its length first costs less than
// Beast's case-insensitive tree search.

#include <cstddef>
#include <string_view>

#include "adapters/upstream/field_name.h"

namespace sb::gateway {

using upstream::is_name;

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
