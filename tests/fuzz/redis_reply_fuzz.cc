// libFuzzer target: the RESP reply parser (gateway/redis_protocol, hiredis's reader with our
// object functions and limits) on arbitrary bytes, whole and split. Oracles: the replies and the
// end state do not depend on how the bytes were split; every reply respects the limits; a reply
// encoded back to RESP parses to itself. Run with the default limits and with tiny ones, so the
// limit paths are reached within libFuzzer's input sizes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/state/redis_protocol.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

using sb::gateway::redis::Reply;
using sb::gateway::redis::ReplyParser;

struct Outcome {
  std::vector<Reply> replies;
  ReplyParser::Status last = ReplyParser::Status::need_more;
};

bool same(const Reply& a, const Reply& b) {
  if (a.type != b.type || a.integer != b.integer || a.str != b.str ||
      a.elements.size() != b.elements.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!same(a.elements[i], b.elements[i])) {
      return false;
    }
  }
  return true;
}

bool same(const std::vector<Reply>& a, const std::vector<Reply>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

// Returns the cost the parser charges (see ReplyParser::Limits) and checks shape limits.
std::size_t check_limits(const Reply& r, const ReplyParser::Limits& limits, int depth) {
  std::size_t cost = ReplyParser::kElementCost + r.str.size();
  if (r.type == Reply::Type::array) {
    sb::fuzz::check(depth <= limits.max_depth);
    sb::fuzz::check(r.elements.size() <= limits.max_array_elements);
    for (const Reply& e : r.elements) {
      cost += check_limits(e, limits, depth + 1);
    }
  } else {
    sb::fuzz::check(r.elements.empty());
  }
  return cost;
}

void encode(const Reply& r, std::string& out) {
  switch (r.type) {
    case Reply::Type::nil:
      out += "$-1\r\n";
      break;
    case Reply::Type::integer:
      out += ":" + std::to_string(r.integer) + "\r\n";
      break;
    case Reply::Type::string:
      out += "$" + std::to_string(r.str.size()) + "\r\n" + r.str + "\r\n";
      break;
    case Reply::Type::status:
      out += "+" + r.str + "\r\n";
      break;
    case Reply::Type::error:
      out += "-" + r.str + "\r\n";
      break;
    case Reply::Type::array:
      out += "*" + std::to_string(r.elements.size()) + "\r\n";
      for (const Reply& e : r.elements) {
        encode(e, out);
      }
      break;
  }
}

Outcome parse(const std::vector<std::string_view>& pieces, const ReplyParser::Limits& limits) {
  ReplyParser p(limits);
  Outcome o;
  for (std::string_view piece : pieces) {
    p.feed(piece);
    Reply r;
    while ((o.last = p.next(r)) == ReplyParser::Status::reply) {
      o.replies.push_back(std::move(r));
      r = Reply{};
    }
    if (o.last == ReplyParser::Status::failed) {
      break;
    }
  }
  return o;
}

void run(std::string_view bytes, const ReplyParser::Limits& limits) {
  const Outcome whole = parse({bytes}, limits);
  const Outcome split = parse(sb::fuzz::split(bytes), limits);
  // A failure may be seen earlier in pieces (the size check runs on what is buffered), but the
  // replies before it are the same ones, in order.
  if (whole.last != ReplyParser::Status::failed && split.last != ReplyParser::Status::failed) {
    sb::fuzz::check(same(whole.replies, split.replies));
  } else {
    const std::size_t n = std::min(whole.replies.size(), split.replies.size());
    sb::fuzz::check(same(std::vector<Reply>(whole.replies.begin(), whole.replies.begin() + n),
                         std::vector<Reply>(split.replies.begin(), split.replies.begin() + n)));
  }
  for (const Reply& r : whole.replies) {
    sb::fuzz::check(check_limits(r, limits, 1) <= limits.max_reply_bytes);
    // Status and error lines cannot hold CRLF once parsed; anything else re-encodes exactly.
    std::string again;
    encode(r, again);
    const Outcome back = parse({again}, limits);
    sb::fuzz::check(back.replies.size() == 1 && same(back.replies[0], r));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  run(bytes, ReplyParser::Limits{});
  run(bytes, ReplyParser::Limits{.max_reply_bytes = 200, .max_array_elements = 6, .max_depth = 2});
  return 0;
}
