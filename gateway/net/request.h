#pragma once
// A client's request as a session read it: one copy of its header block, the request line and
// fields as offsets into that copy (parsed once, by the framing rules, in one pass), and the body.
// Reading a request's head allocates at most once (the copy) for the usual few fields.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>  // boost/beast/http/verb.hpp uses it without including it (1.81)
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>

#include "gateway/net/framing.h"
#include "gateway/net/header_name.h"

namespace sb::gateway {

class Request {
 public:
  /// An empty request (no method, target or fields; HTTP/1.1), to be filled with insert() when
  /// built in code.
  Request() = default;

  /// Takes a complete header block as scan_header_block found it (tolerated leading empty lines
  /// included): validated and parsed by validate_header_block. Keeps a copy of the block; the
  /// body is left empty. When the verdict is not ok, the request is empty again.
  framing::Verdict parse(std::string_view block);

  boost::beast::http::verb method() const { return verb_; }
  std::string_view method_string() const { return head_.method.of(block_); }
  std::string_view target() const { return head_.target.of(block_); }
  unsigned version() const { return head_.http10 ? 10 : 11; }
  /// HTTP/1.1: unless a Connection field names `close`; HTTP/1.0: when one names `keep-alive`
  /// and none names `close`.
  bool keep_alive() const {
    return !head_.connection_close && (!head_.http10 || head_.connection_keep_alive);
  }
  bool chunked() const { return head_.chunked; }
  std::optional<std::uint64_t> content_length() const { return head_.content_length; }
  /// Whether a Content-Encoding field names a coding other than `identity` (framing::Head).
  bool content_coded() const { return head_.content_coded; }

  /// The header fields, in the order received (names as sent, values without surrounding
  /// whitespace).
  std::size_t field_count() const { return fields_.size(); }
  std::string_view name(std::size_t i) const { return fields_[i].name.of(block_); }
  std::string_view value(std::size_t i) const { return fields_[i].value.of(block_); }
  /// The value of the first field named `lower` (given in lower case; names compare ASCII
  /// case-insensitively); empty when there is none.
  std::string_view field(std::string_view lower) const {
    for (const framing::FieldAt& f : fields_) {
      if (is_name(f.name.of(block_), lower)) {
        return f.value.of(block_);
      }
    }
    return {};
  }
  /// Appends a field (requests built in code).
  void insert(std::string_view name, std::string_view value);

  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

 private:
  std::string block_;
  framing::Head head_;
  boost::beast::http::verb verb_ = boost::beast::http::verb::unknown;
  boost::container::small_vector<framing::FieldAt, 16> fields_;
  std::string body_;
};

/// field_value's answer for a request (`api_key_in` and the other lookups take either).
inline std::string_view field_value(const Request& request, std::string_view lower) {
  return request.field(lower);
}

}  // namespace sb::gateway
