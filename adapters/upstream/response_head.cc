#include "adapters/upstream/response_head.h"

namespace sb::upstream {

namespace {

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view ResponseHead::operator[](std::string_view name) const {
  for (const Entry& e : entries_) {
    if (same_name({block_.data() + e.name_at, e.name_size}, name)) {
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
