#include "gateway/net/request.h"

namespace sb::gateway {

framing::Verdict Request::parse(std::string_view block) {
  block_.assign(block);
  const framing::Verdict v = framing::validate_header_block(block_, head_, fields_);
  if (!v.ok()) {
    *this = Request();
    return v;
  }
  verb_ = boost::beast::http::string_to_verb(method_string());
  return v;
}

void Request::insert(std::string_view name, std::string_view value) {
  const auto at = [this] { return static_cast<std::uint32_t>(block_.size()); };
  framing::FieldAt& f = fields_.emplace_back();
  f.name = {at(), static_cast<std::uint32_t>(name.size())};
  block_ += name;
  block_ += ": ";
  f.value = {at(), static_cast<std::uint32_t>(value.size())};
  block_ += value;
  block_ += "\r\n";
}

}  // namespace sb::gateway
