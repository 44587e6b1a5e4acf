#include "adapters/upstream/field_lines.h"

#include <cstring>

#include "adapters/upstream/field_name.h"

namespace sb::upstream {

void FieldLines::put(std::size_t index, std::size_t at, std::string_view name,
                     std::string_view value) {
  const Entry e{static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(name.size()),
                static_cast<std::uint32_t>(value.size())};
  name_sizes_ |= 1u << (name.size() % 32);
  const std::size_t old_size = block_.size();
  if (entries_.capacity() == 0) {
    block_.reserve(512);  // a usual request's fields in one allocation each
    entries_.reserve(16);
  }
  block_.resize(old_size + e.line_size());
  char* p = block_.data() + at;
  if (at != old_size) {
    // Into the middle: what follows moves up by the line.
    std::memmove(p + e.line_size(), p, old_size - at);
    for (std::size_t i = index; i < entries_.size(); ++i) {
      entries_[i].at += e.line_size();
    }
  }
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  if (!value.empty()) {
    std::memcpy(p, value.data(), value.size());
  }
  p += value.size();
  *p++ = '\r';
  *p = '\n';
  if (index == entries_.size()) {
    entries_.push_back(e);
  } else {
    entries_.insert(entries_.begin() + static_cast<std::ptrdiff_t>(index), e);
  }
}

void FieldLines::insert(std::string_view name, std::string_view value) {
  for (std::size_t i = entries_.size(); i-- > 0;) {
    if (same_field_name(name_at(entries_[i]), name)) {
      put(i + 1, entries_[i].at + entries_[i].line_size(), name, value);
      return;
    }
  }
  put(entries_.size(), block_.size(), name, value);
}

void FieldLines::erase(std::string_view name) {
  if ((name_sizes_ & (1u << (name.size() % 32))) == 0) {
    return;  // no field has a name of that size
  }
  std::size_t kept = 0;
  std::uint32_t removed = 0;  // bytes of the lines removed so far
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry e = entries_[i];
    if (same_field_name(name_at(e), name)) {
      removed += e.line_size();
      continue;
    }
    if (removed != 0) {
      // Moved down over what was removed before it.
      std::memmove(block_.data() + e.at - removed, block_.data() + e.at, e.line_size());
      e.at -= removed;
    }
    entries_[kept++] = e;
  }
  if (removed != 0) {
    entries_.resize(kept);
    block_.erase(block_.size() - removed);  // not resize(): GCC 12 warns of its inlined growth
  }
}

std::string_view FieldLines::operator[](std::string_view name) const {
  const iterator it = find(name);
  return it == end() ? std::string_view() : (*it).value();
}

FieldLines::iterator FieldLines::find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (same_field_name(name_at(e), name)) {
      return {block_.data(), &e};
    }
  }
  return end();
}

}  // namespace sb::upstream
