#include "adapters/upstream/request.h"

#include <charconv>
#include <cstring>

#include "adapters/upstream/field_name.h"

namespace sb::upstream {

void Request::put(std::size_t index, std::size_t at, std::string_view name,
                  std::string_view value) {
  const Entry e{static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(name.size()),
                static_cast<std::uint32_t>(value.size())};
  name_sizes_ |= 1u << (name.size() % 32);
  const std::size_t old_size = block_.size();
  if (block_.capacity() == 0) {
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

void Request::set(std::string_view name, std::string_view value) {
  erase(name);
  put(entries_.size(), block_.size(), name, value);
}

void Request::insert(std::string_view name, std::string_view value) {
  for (std::size_t i = entries_.size(); i-- > 0;) {
    if (same_field_name(name_at(entries_[i]), name)) {
      put(i + 1, entries_[i].at + entries_[i].line_size(), name, value);
      return;
    }
  }
  put(entries_.size(), block_.size(), name, value);
}

void Request::erase(std::string_view name) {
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
    block_.resize(block_.size() - removed);
  }
}

std::string_view Request::operator[](std::string_view name) const {
  const iterator it = find(name);
  return it == end() ? std::string_view() : (*it).value();
}

Request::iterator Request::find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (same_field_name(name_at(e), name)) {
      return {block_.data(), &e};
    }
  }
  return end();
}

void Request::prepare_payload() {
  erase(field::transfer_encoding);
  if (!body_.empty() || method_ == verb::post || method_ == verb::put || method_ == verb::options) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, body_.size());
    set(field::content_length, std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
  }
}

std::string Request::head() const {
  const std::string_view method = method_string();
  std::string out;
  out.reserve(method.size() + target_.size() + block_.size() + 14);
  out.append(method);
  out.push_back(' ');
  out.append(target_);
  out.append(version_ == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  out.append(block_);
  out.append("\r\n");
  return out;
}

}  // namespace sb::upstream
