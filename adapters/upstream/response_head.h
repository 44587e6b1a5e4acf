#pragma once
// An upstream response's status and header fields, as the response parser (connection.h) read
// them: the names and values, in the order received, back to back in one block this object
// owns, found by offsets. A connection keeps one and refills it for each response, so reading a
// response's head allocates nothing once the connection has read one as large (where a
// Beast message allocates a node per field and frees them all again).
//
// Lookups compare names ASCII case-insensitively and answer the first field of that name, as
// Beast's `fields[name]` does; values are as Beast's parser hands them (surrounding whitespace
// removed, obsolete line folds joined).

#include <cstddef>
#include <cstdint>
#include <ostream>  // before Beast's field names: its string_view needs it whole
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/field.hpp>

namespace sb::upstream {

class ResponseHead {
  struct Entry {
    std::uint32_t name_at;
    std::uint32_t name_size;
    std::uint32_t value_at;
    std::uint32_t value_size;
  };

 public:
  /// One field, read as Beast's fields are (name_string(), value()).
  class Field {
   public:
    std::string_view name_string() const { return {block_ + e_->name_at, e_->name_size}; }
    std::string_view value() const { return {block_ + e_->value_at, e_->value_size}; }

   private:
    friend class ResponseHead;
    Field(const char* block, const Entry* e) : block_(block), e_(e) {}
    const char* block_;
    const Entry* e_;
  };
  class iterator {
   public:
    Field operator*() const { return {block_, e_}; }
    iterator& operator++() {
      ++e_;
      return *this;
    }
    bool operator==(const iterator& o) const { return e_ == o.e_; }

   private:
    friend class ResponseHead;
    iterator(const char* block, const Entry* e) : block_(block), e_(e) {}
    const char* block_;
    const Entry* e_;
  };

  unsigned status() const { return status_; }
  /// 10 for HTTP/1.0, 11 for HTTP/1.1.
  int version() const { return version_; }
  std::size_t size() const { return entries_.size(); }
  iterator begin() const { return {block_.data(), entries_.data()}; }
  iterator end() const { return {block_.data(), entries_.data() + entries_.size()}; }

  /// The value of the first field named `name` (any case); empty when there is none.
  std::string_view operator[](std::string_view name) const;
  std::string_view operator[](boost::beast::http::field name) const {
    return (*this)[std::string_view(boost::beast::http::to_string(name))];
  }

  // Filled by the parser.
  /// Starts a new response: no fields, the storage kept.
  void reset(unsigned status, int version) {
    status_ = status;
    version_ = version;
    block_.clear();
    entries_.clear();
  }
  void add(std::string_view name, std::string_view value);

 private:
  unsigned status_ = 0;
  int version_ = 11;
  std::string block_;
  std::vector<Entry> entries_;
};

}  // namespace sb::upstream
