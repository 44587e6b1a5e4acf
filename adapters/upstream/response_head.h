#pragma once
// An upstream response's status and header fields, as the response parser (response_parser.h)
// read them: the fields in the order received, kept as lines in one block (FieldLines). A
// connection keeps one and refills it for each response, so reading a response's head allocates
// nothing once the connection has read one as large.
//
// Lookups compare names ASCII case-insensitively and answer the first field of that name, as
// Beast's `fields[name]` does; values are as Beast's parser hands them (surrounding whitespace
// removed, obsolete line folds joined).

#include <cstddef>
#include <string_view>

#include "adapters/upstream/field_lines.h"
#include "adapters/upstream/field_name.h"

namespace sb::upstream {

class ResponseHead {
 public:
  using iterator = FieldLines::iterator;

  unsigned status() const { return status_; }
  /// 10 for HTTP/1.0, 11 for HTTP/1.1.
  int version() const { return version_; }
  std::size_t size() const { return fields_.size(); }
  iterator begin() const { return fields_.begin(); }
  iterator end() const { return fields_.end(); }

  /// The value of the first field named `name` (any case); empty when there is none.
  std::string_view operator[](std::string_view name) const { return fields_[name]; }
  std::string_view operator[](boost::beast::http::field name) const {
    return fields_[field_name(name)];
  }

  // Filled by the parser.
  /// Starts a new response: no fields, the storage kept.
  void reset(unsigned status, int version) {
    status_ = status;
    version_ = version;
    fields_.clear();
  }
  void add(std::string_view name, std::string_view value) { fields_.add(name, value); }

 private:
  unsigned status_ = 0;
  int version_ = 11;
  FieldLines fields_;
};

}  // namespace sb::upstream
