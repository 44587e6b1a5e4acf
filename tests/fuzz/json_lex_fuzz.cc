// libFuzzer target: the fast JSON reader (adapters/json_lex.h) against Boost.JSON's basic_parser.
//
// Oracles: it never crashes (ASan, UBSan); whatever it takes on, basic_parser accepts (at the same
// depth limit, then only whitespace) and reports with the same events, strings joined from their
// parts and numbers compared bit for bit (tests/adapters/json_lex_trace.h); the places it gives a
// handler that asks are its tokens' (PlaceSax); json_lex::parse() builds the DOM
// boost::json::parse() builds.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/adapters/json_lex_trace.h"
#include "tests/fuzz/fuzz_split.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  bool taken = false;
  const std::string fast = sb::testing::lex_trace(text, taken);
  if (taken) {
    const std::string slow = sb::testing::boost_trace(text);
    sb::fuzz::check(!slow.empty());  // taken on, so basic_parser accepts it
    sb::fuzz::check(fast == slow);   // with the same events
    sb::fuzz::check(sb::testing::lex_places(text).empty());
    // And the DOM is boost::json::parse()'s (NaN, which Boost reads `0e400` as, by its text).
    boost::json::parse_options opts;
    opts.max_depth = 128;
    boost::system::error_code fast_ec;
    boost::system::error_code slow_ec;
    const boost::json::value dom = sb::adapters::json_lex::parse(text, fast_ec, {}, opts);
    const boost::json::value ref = boost::json::parse(text, slow_ec, {}, opts);
    sb::fuzz::check(!fast_ec && !slow_ec &&
                    (dom == ref || boost::json::serialize(dom) == boost::json::serialize(ref)));
  }
  return 0;
}
