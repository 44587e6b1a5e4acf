// libFuzzer target: request framing as a client session reads it. The bytes are one request as
// received: the header block is found and validated by gateway/framing (scan_header_block,
// validate_header_block), then Boost.Beast's request_parser reads it with the limits a session
// sets from the default config (max_header_bytes 64 KiB, max_body_bytes 4 MiB): header first
// (eager off), then the body, chunked bodies with extensions and trailers included (eager on, as
// http::async_read does). Anything Beast throws is a crash, since in the gateway it would leave
// the session's coroutine.
//
// Oracle: scanning the bytes as they trickle in (fuzzer-chosen pieces) finds the same end of the
// header block, or the same rejection, as scanning them at once.

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/framing.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

namespace framing = sb::gateway::framing;
namespace http = boost::beast::http;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;  // ServerSettings defaults
constexpr std::size_t kMaxBodyBytes = 4 * 1024 * 1024;

void parse_with_beast(std::string_view bytes, std::size_t header_bytes) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes + 1));
  parser.body_limit(kMaxBodyBytes);
  parser.eager(false);
  boost::system::error_code ec;
  const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), header_bytes), ec);
  if ((ec && ec != http::error::need_more) || !parser.is_header_done()) {
    return;
  }
  const std::string_view body = bytes.substr(used);
  parser.eager(true);
  // Piecewise, as a socket delivers it: Beast keeps what it did not consume.
  std::string held;
  for (std::string_view piece : sb::fuzz::split(body)) {
    held.append(piece);
    while (!parser.is_done() && !held.empty()) {
      const std::size_t n = parser.put(boost::asio::buffer(held.data(), held.size()), ec);
      held.erase(0, n);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) {
        return;
      }
      if (n == 0) {
        break;
      }
    }
    if (parser.is_done()) {
      return;
    }
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  framing::ScanState at_once;
  const framing::ScanResult whole = framing::scan_header_block(bytes, at_once);

  framing::ScanState trickle;
  framing::ScanResult last;
  std::size_t arrived = 0;
  for (std::string_view piece : sb::fuzz::split(bytes)) {
    arrived += piece.size();
    last = framing::scan_header_block(bytes.substr(0, arrived), trickle);
    if (last.state != framing::Scan::need_more) {
      break;
    }
  }
  if (size == 0) {
    last = framing::scan_header_block(bytes, trickle);
  }
  sb::fuzz::check(last.state == whole.state);
  if (whole.state == framing::Scan::complete) {
    sb::fuzz::check(last.header_bytes == whole.header_bytes);
    sb::fuzz::check(whole.header_bytes <= size);
  }

  if (whole.state != framing::Scan::complete || whole.header_bytes > kMaxHeaderBytes) {
    return 0;
  }
  const std::string_view block = bytes.substr(0, whole.header_bytes);
  if (!framing::validate_header_block(block).ok()) {
    return 0;
  }
  parse_with_beast(bytes, whole.header_bytes);
  return 0;
}
