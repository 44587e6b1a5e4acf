// libFuzzer target: request framing as a client session reads it. The bytes are one request as
// received: the header block is found and validated by gateway/framing (scan_header_block,
// validate_header_block), then Boost.Beast's request_parser reads the header with the limits a
// session sets from the default config (max_header_bytes 64 KiB), and a chunked body goes through
// the gateway's own ChunkedDecoder (capped chunk lines, extensions and trailers; max_body_bytes
// 4 MiB), as the session does. Anything thrown is a crash, since in the gateway it would leave the
// session's coroutine.
//
// Oracles: scanning the header bytes as they trickle in (fuzzer-chosen pieces) finds the same end
// of the header block, or the same rejection, as scanning them at once; decoding a chunked body
// piece by piece gives the same status, body and consumed length as decoding it at once.

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/net/framing.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

namespace framing = sb::gateway::framing;
namespace http = boost::beast::http;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;  // ServerSettings defaults
constexpr std::size_t kMaxBodyBytes = 4 * 1024 * 1024;

struct Decoded {
  framing::ChunkedDecoder::Status status = framing::ChunkedDecoder::Status::need_more;
  std::string body;
  std::size_t consumed = 0;
};

// Feeds `pieces` of the body to a fresh decoder, keeping what it did not consume, as the session
// keeps it in its buffer.
template <class Pieces>
Decoded decode(const Pieces& pieces) {
  framing::ChunkedDecoder decoder(kMaxBodyBytes);
  Decoded d;
  std::string held;
  for (std::string_view piece : pieces) {
    held.append(piece);
    std::size_t used = 0;
    d.status = decoder.feed(held, d.body, used);
    d.consumed += used;
    held.erase(0, used);
    if (d.status != framing::ChunkedDecoder::Status::need_more) {
      break;
    }
  }
  return d;
}

void parse_like_a_session(std::string_view bytes, std::size_t header_bytes) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes + 1));
  parser.body_limit(kMaxBodyBytes);
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(bytes.data(), header_bytes), ec);
  if ((ec && ec != http::error::need_more) || !parser.is_header_done() || !parser.chunked()) {
    return;
  }
  const std::string_view body = bytes.substr(header_bytes);
  const Decoded whole = decode(std::array<std::string_view, 1>{body});
  const Decoded split = decode(sb::fuzz::split(body));
  sb::fuzz::check(whole.status == split.status);
  sb::fuzz::check(whole.body.size() <= kMaxBodyBytes);
  if (whole.status == framing::ChunkedDecoder::Status::done) {
    sb::fuzz::check(whole.body == split.body);
    sb::fuzz::check(whole.consumed == split.consumed);
    sb::fuzz::check(whole.consumed <= body.size());
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
  parse_like_a_session(bytes, whole.header_bytes);
  return 0;
}
