// The upstream response parser (adapters/upstream/response_parser.h) against Beast's own
// response parser: the same bytes, fed in the same pieces (the body taken a few bytes per parse,
// room given again whenever it is spent), must give the same verdict, status, version, fields and
// body.
// Field order is compared grouped by name (stably): Beast's fields move a repeated name after the
// last field of that name, the ResponseHead keeps the order received.
//
// The head of the input picks the reader's options: its first byte's low bit marks a response to
// a HEAD request (no body whatever the header says).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "adapters/upstream/client.h"
#include "adapters/upstream/response_parser.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

namespace http = boost::beast::http;
using boost::system::error_code;
using Fields = std::vector<std::pair<std::string, std::string>>;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c + 32);
    }
  }
  return out;
}

Fields grouped(Fields f) {
  std::stable_sort(f.begin(), f.end(),
                   [](const auto& a, const auto& b) { return lower(a.first) < lower(b.first); });
  return f;
}

struct Verdict {
  bool ok = false;
  bool header_done = false;
  unsigned status = 0;
  int version = 0;
  Fields fields;
  std::string body;
  bool keep_alive = false;
};

constexpr std::size_t kHeaderLimit = 4096;
/// The same body limit on both (Beast's string body reserves what Content-Length announces; the
/// limit is checked by the base parser both share, before any body byte).
constexpr std::uint64_t kBodyLimit = 1 << 20;

/// Feeds `pieces` to `p`, as the connection does: what a call leaves unparsed stays for the next.
template <class Parser, class Lend, class Drain>
bool feed(Parser& p, const std::vector<std::string_view>& pieces, Lend lend, Drain drain) {
  std::string pending;
  for (const std::string_view piece : pieces) {
    pending.append(piece);
    for (;;) {
      lend();
      error_code ec;
      const std::size_t used = p.put(boost::asio::buffer(pending.data(), pending.size()), ec);
      drain();
      pending.erase(0, used);
      if (ec == http::error::need_buffer) {
        continue;  // the room is spent: checked, given again
      }
      if (ec == http::error::need_more) {
        break;
      }
      if (ec) {
        return false;
      }
      if (p.is_done() || used == 0) {
        break;
      }
    }
    if (p.is_done()) {
      break;
    }
  }
  if (!p.is_done() && p.got_some()) {
    error_code ec;
    p.put_eof(ec);
    drain();
    return !ec;
  }
  return p.is_done();
}

Verdict ours(const std::vector<std::string_view>& pieces, bool head_request) {
  sb::upstream::ResponseHead head;
  sb::upstream::ResponseParser p(head);
  p.header_limit(kHeaderLimit);
  p.body_limit(kBodyLimit);
  p.skip(head_request);
  Verdict v;
  // Room for 7 bytes per parse, as the connection gives 16 KiB per read: a body is taken piece
  // by piece and the parse stops whenever the room is spent.
  constexpr std::size_t kRoom = 7;
  std::size_t before = 0;
  v.ok = feed(
      p, pieces,
      [&] {
        before = v.body.size();
        p.body_sink(&v.body, kRoom);
      },
      [&] {
        if (v.body.size() - before != kRoom - p.body_room() || v.body.size() - before > kRoom) {
          __builtin_trap();  // the sink took other than what the room says
        }
      });
  v.header_done = p.is_header_done();
  if (v.header_done) {
    v.status = head.status();
    v.version = head.version();
    for (const auto f : head) {
      v.fields.emplace_back(f.name_string(), f.value());
    }
    v.keep_alive = p.keep_alive();
  }
  return v;
}

Verdict beasts(const std::vector<std::string_view>& pieces, bool head_request) {
  http::response_parser<http::string_body> p;
  p.header_limit(kHeaderLimit);
  p.body_limit(kBodyLimit);
  p.skip(head_request);
  Verdict v;
  v.ok = feed(
      p, pieces, [] {}, [] {});
  v.header_done = p.is_header_done();
  if (v.header_done) {
    v.status = p.get().result_int();
    v.version = p.get().version();
    for (const auto& f : p.get()) {
      v.fields.emplace_back(f.name_string(), f.value());
    }
    v.keep_alive = p.keep_alive();
  }
  if (v.ok) {
    v.body = p.get().body();
  }
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool head_request = (data[0] & 1) != 0;
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string_view> pieces = sb::fuzz::split(wire);
  const Verdict a = ours(pieces, head_request);
  const Verdict b = beasts(pieces, head_request);
  sb::fuzz::check(a.ok == b.ok);
  sb::fuzz::check(a.header_done == b.header_done);
  if (a.header_done) {
    sb::fuzz::check(a.status == b.status && a.version == b.version);
    sb::fuzz::check(grouped(a.fields) == grouped(b.fields));
    sb::fuzz::check(a.keep_alive == b.keep_alive);
  }
  if (a.ok) {
    sb::fuzz::check(a.body == b.body);
  }
  return 0;
}
