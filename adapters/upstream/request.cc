#include "adapters/upstream/request.h"

#include <charconv>

namespace sb::upstream {

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
  out.reserve(method.size() + target_.size() + fields_.lines().size() + 14);
  out.append(method);
  out.push_back(' ');
  out.append(target_);
  out.append(version_ == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  out.append(fields_.lines());
  out.append("\r\n");
  return out;
}

}  // namespace sb::upstream
