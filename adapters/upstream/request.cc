#include "adapters/upstream/request.h"

#include <charconv>
#include <utility>

namespace sb::upstream {

void Request::prepare_payload() {
  erase(field::transfer_encoding);
  if (body_size() != 0 || method_ == verb::post || method_ == verb::put ||
      method_ == verb::options) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, body_size());
    set(field::content_length, std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
  }
}

std::string Request::head() const {
  std::string out;
  head(out);
  return out;
}

void Request::head(std::string& out) const {
  const std::string_view method = method_string();
  out.clear();
  out.reserve(method.size() + target_.size() + fields_.lines().size() + 14);
  out.append(method);
  out.push_back(' ');
  out.append(target_);
  out.append(version_ == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  out.append(fields_.lines());
  out.append("\r\n");
}

void Request::body(Splice splice, std::string_view original) {
  body_ = std::move(splice);
  original_ = original;
  spliced_ = true;
}

}  // namespace sb::upstream
