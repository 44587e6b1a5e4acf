// libFuzzer target: the readers of audit trail lines, `audit verify`'s check_line and `replay`'s
// parse_line, on arbitrary bytes (a trail is the operator's file, but it may be damaged, torn or
// forged). Oracles: what check_line points at lies inside the line, any body sealed with the key
// checks out and splits back to itself, and parse_line adds at most one decision per line, never
// both a decision and a skipped line.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/audit/chain.h"
#include "gateway/audit/replay.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace audit = sb::gateway::audit;
  namespace replay = sb::gateway::replay;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  static const audit::Hmac mac("fuzz-key-0123456789abcdef0123456789abcdef");

  const audit::CheckedLine c = audit::check_line(mac, line);
  sb::fuzz::check(inside(c.prev, line) && inside(c.mac, line) && inside(c.body, line));
  sb::fuzz::check(c.status == audit::CheckedLine::Status::unparseable || c.seq > 0);

  // Any one-line body sealed with the key checks out, and check_line gives the body back.
  if (line.starts_with("{") && line.find('\n') == std::string_view::npos && size < 4096) {
    audit::ChainState state;
    std::string sealed;
    audit::seal(mac, line, state, sealed);
    sealed.pop_back();  // the '\n'
    const audit::CheckedLine again = audit::check_line(mac, sealed);
    sb::fuzz::check(again.status == audit::CheckedLine::Status::ok && again.seq == 1 &&
                    again.body == line && again.prev == audit::kZeroMac);
  }

  replay::Trail trail;
  std::map<std::string, std::size_t, std::less<>> ids;
  replay::parse_line(line, std::nullopt, std::nullopt, ids, trail);
  sb::fuzz::check(trail.records.size() <= 1 && trail.skipped <= 1 && trail.unjoined <= 1);
  sb::fuzz::check(trail.records.empty() || trail.skipped == 0);
  return 0;
}
