// libFuzzer target: request framing as a client session reads it. The bytes are one request as
// received: the header block is found (scan_header_block) and parsed by the gateway's own rules
// (Request::parse, which validates and parses in one pass) with the limits a session sets from
// the default config (max_header_bytes 64 KiB), and a chunked body goes through the gateway's
// ChunkedDecoder (capped chunk lines, extensions and trailers; max_body_bytes 4 MiB), as the
// session does. Anything thrown is a crash, since in the gateway it would leave the session's
// coroutine.
//
// Oracles: scanning the header bytes as they trickle in (fuzzer-chosen pieces) finds the same end
// of the header block, or the same rejection, as scanning them at once; a block the gateway
// accepts, Boost.Beast's request parser (a second, independent reading) accepts too and reads the
// same method, target, version, fields (names and trimmed values, in order), body framing and
// keep-alive; decoding a chunked body piece by piece gives the same status, body and consumed
// length as decoding it at once.

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/net/framing.h"
#include "gateway/net/request.h"
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

// The block again without the fields whose values Beast checks as token lists (Connection,
// Upgrade): Beast refuses a malformed one with a 400, the gateway (as nginx) reads the options it
// knows from it and ignores the rest.
std::string without_token_lists(const sb::gateway::Request& request, bool& dropped) {
  std::string out(request.method_string());
  out += ' ';
  out += request.target();
  out += request.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  for (std::size_t i = 0; i < request.field_count(); ++i) {
    if (sb::gateway::is_name(request.name(i), "connection") ||
        sb::gateway::is_name(request.name(i), "upgrade")) {
      dropped = true;
      continue;
    }
    out += request.name(i);
    out += ": ";
    out += request.value(i);
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

// The gateway's reading of an accepted block against Beast's.
void same_as_beast(std::string_view block, const sb::gateway::Request& request) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes + 1));
  parser.body_limit(kMaxBodyBytes);
  parser.eager(false);
  boost::system::error_code ec;
  while (block.starts_with("\r\n")) {
    block.remove_prefix(2);  // Beast's parser does not take the tolerated empty lines
  }
  const std::size_t used = parser.put(boost::asio::buffer(block.data(), block.size()), ec);
  if (ec && ec != http::error::need_more && ec != http::error::body_limit) {
    bool dropped = false;
    const std::string rest = without_token_lists(request, dropped);
    if (dropped) {
      sb::gateway::Request again;
      sb::fuzz::check(again.parse(rest).ok());
      same_as_beast(rest, again);
      return;
    }
  }
  // A Content-Length past the body limit stops Beast at the header's end (finish_header) before
  // it marks the header done: every field is read by then.
  const bool header_read = parser.is_header_done() || ec == http::error::body_limit;
  sb::fuzz::check((!ec || ec == http::error::need_more || ec == http::error::body_limit) &&
                  header_read && used == block.size());
  const auto& m = parser.get();
  sb::fuzz::check(std::string_view(m.method_string()) == request.method_string());
  sb::fuzz::check(m.method() == request.method());
  sb::fuzz::check(std::string_view(m.target()) == request.target());
  sb::fuzz::check(m.version() == request.version());
  // Beast places a repeated name after the last field of that name; the gateway keeps the order
  // received. Grouped by name (stable), the two lists are the same.
  using Field = std::pair<std::string, std::string>;
  const auto by_name = [](const Field& a, const Field& b) {
    return boost::beast::iless()(a.first, b.first);
  };
  std::vector<Field> theirs_fields;
  int connections = 0;
  for (const auto& f : m) {
    theirs_fields.emplace_back(f.name_string(), f.value());
    connections += f.name() == http::field::connection ? 1 : 0;
  }
  std::vector<Field> ours_fields;
  for (std::size_t i = 0; i < request.field_count(); ++i) {
    ours_fields.emplace_back(request.name(i), request.value(i));
  }
  std::stable_sort(theirs_fields.begin(), theirs_fields.end(), by_name);
  std::stable_sort(ours_fields.begin(), ours_fields.end(), by_name);
  sb::fuzz::check(theirs_fields == ours_fields);
  sb::fuzz::check(parser.chunked() == request.chunked());
  if (ec != http::error::body_limit) {
    const auto theirs = parser.content_length();
    const std::optional<std::uint64_t> length =
        theirs ? std::optional<std::uint64_t>(*theirs) : std::nullopt;
    sb::fuzz::check(length == request.content_length());
  }
  if (connections <= 1) {  // Beast reads the first Connection field only; the gateway, all
    // A `close` option ends the connection whatever the version (RFC 9112 §9.3), where Beast's
    // keep_alive() reads only `keep-alive` for HTTP/1.0: there the gateway must close.
    const auto connection = m.find(http::field::connection);
    const bool names_close =
        connection != m.end() && http::token_list{connection->value()}.exists("close");
    sb::fuzz::check(names_close ? !request.keep_alive() : m.keep_alive() == request.keep_alive());
  }
}

void decode_like_a_session(std::string_view bytes, const sb::gateway::Request& request,
                           std::size_t header_bytes) {
  if (!request.chunked()) {
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
  sb::gateway::Request request;
  const framing::Verdict verdict = request.parse(block);
  sb::fuzz::check(verdict.ok() == framing::validate_header_block(block).ok());
  if (!verdict.ok()) {
    sb::fuzz::check(request.field_count() == 0 && request.target().empty());
    return 0;
  }
  same_as_beast(block, request);
  decode_like_a_session(bytes, request, whole.header_bytes);
  return 0;
}
