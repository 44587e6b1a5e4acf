#include "adapters/upstream/response_head.h"

#include "adapters/upstream/field_name.h"

namespace sb::upstream {

std::string_view ResponseHead::operator[](std::string_view name) const {
  for (const Entry& e : entries_) {
    if (same_field_name({block_.data() + e.name_at, e.name_size}, name)) {
      return {block_.data() + e.value_at, e.value_size};
    }
  }
  return {};
}

void ResponseHead::add(std::string_view name, std::string_view value) {
  // Sizes fit: the parser's header limit (at most kMaxResponseHeaderBytes) bounds the block.
  Entry e{};
  e.name_at = static_cast<std::uint32_t>(block_.size());
  e.name_size = static_cast<std::uint32_t>(name.size());
  e.value_at = e.name_at + e.name_size;
  e.value_size = static_cast<std::uint32_t>(value.size());
  block_.append(name);
  block_.append(value);
  entries_.push_back(e);
}

}  // namespace sb::upstream
