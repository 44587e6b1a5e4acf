#pragma once
// What the fuzz targets of the inbound dialects share: reading JSON back, feeding a stream writer
// its pieces, and reading back what it wrote as checked SSE.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include "adapters/sse.h"
#include "tests/fuzz/fuzz_split.h"

namespace sb::fuzz {

/// `text` parsed: structure only unless `strict` (bytes that are not UTF-8 reach messages as they
/// came), nesting up to 1024 (a translation nests a client's schema a level or two deeper).
inline std::optional<boost::json::value> parse_json(std::string_view text, bool strict = false) {
  boost::json::parse_options opts;
  opts.allow_invalid_utf8 = !strict;
  opts.max_depth = 1024;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, {}, opts);
  if (ec) {
    return std::nullopt;
  }
  return v;
}

/// Feeds `pieces` to `writer` (feed() each, then finish() when every feed succeeded), appending
/// what it writes to `out`: whether every feed succeeded, and what finish() returned.
template <class Writer>
std::pair<bool, bool> feed_stream(Writer& writer, const std::vector<std::string_view>& pieces,
                                  std::string& out) {
  for (const std::string_view piece : pieces) {
    if (!writer.feed(piece, out)) {
      return {false, false};
    }
  }
  return {true, writer.finish(out)};
}

/// The events of `out`, checked: it ends at an event boundary and every event's data is a JSON
/// object (structure only: bytes that are not UTF-8 may pass through from the upstream).
inline std::vector<sb::adapters::SseEvent> checked_events(std::string_view out) {
  sb::adapters::SseParser parser;
  std::vector<sb::adapters::SseEvent> events;
  parser.feed(out, events);
  check(parser.at_boundary());
  for (const sb::adapters::SseEvent& ev : events) {
    const std::optional<boost::json::value> v = parse_json(ev.data);
    check(v && v->is_object());
  }
  return events;
}

}  // namespace sb::fuzz
