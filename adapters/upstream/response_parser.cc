#include "adapters/upstream/response_parser.h"

#include <algorithm>

#include <boost/beast/http/error.hpp>

#include "adapters/upstream/client.h"

namespace sb::upstream {
namespace http = boost::beast::http;

void ResponseParser::on_response_impl(int code, string_view, int version, error_code& ec) {
  head_.reset(static_cast<unsigned>(code), version);
  ec = {};
}

void ResponseParser::on_field_impl(http::field, string_view name, string_view value,
                                   error_code& ec) {
  head_.add({name.data(), name.size()}, {value.data(), value.size()});
  ec = {};
}

void ResponseParser::on_chunk_header_impl(std::uint64_t, string_view extensions, error_code& ec) {
  extension_bytes_ += extensions.size();
  if (extension_bytes_ > kMaxChunkExtensionBytes) {
    ec = http::error::bad_chunk_extension;
  }
}

// As Beast's buffer_body reads a body: take what fits, and ask for more room when it is full.
std::size_t ResponseParser::take(string_view body, error_code& ec) {
  if (sink_ == nullptr) {
    ec = http::error::need_buffer;
    return 0;
  }
  const std::size_t n = std::min(body.size(), room_);
  sink_->append(body.data(), n);
  room_ -= n;
  if (n == body.size()) {
    ec = {};
  } else {
    ec = http::error::need_buffer;
  }
  return n;
}

}  // namespace sb::upstream
