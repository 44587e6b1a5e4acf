#pragma once
// The Responses inbound's request side, shared by responses_inbound_request.cc (input items) and
// responses_inbound_tools.cc (tools, tool_choice, options, echo). Internal to
// adapters/responses_inbound*.

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "adapters/member_path.h"
#include "adapters/responses_inbound.h"
#include "adapters/translate_common.h"

namespace sb::adapters::responses_detail {

/// A member's path as OpenAI's errors name it ("input[2].content[0].text"): see
/// adapters/member_path.h. Roots are made with Path::Index::bracketed.
using Path = MemberPath;

/// Reports a request that cannot be served: sets the message and the param, returns false.
struct Reject {
  std::string& message;
  std::string& param;

  bool operator()(std::string p, std::string m) const {
    param = std::move(p);
    message = std::move(m);
    return false;
  }
  /// A path (not a literal: that is the param as it is).
  template <class P>
  requires std::same_as<P, Path>
  bool operator()(const P& p, std::string m) const { return (*this)(p.str(), std::move(m)); }
};

/// "Missing required parameter: '<p>'.", for the param `p`.
inline bool missing(const Reject& reject, const Path& p) {
  std::string param = p.str();
  std::string message = "Missing required parameter: '" + param + "'.";
  return reject(std::move(param), std::move(message));
}

/// OpenAI's wording: "Invalid type for '<param>': expected <expected>, but got <kind> instead."
std::string invalid_type(std::string_view param, std::string_view expected,
                         const boost::json::value& got);

/// The chat function name of a namespace member: "<namespace>__<name>".
std::string flat_name(std::string_view ns, std::string_view name);

/// Every member but `model`, `input` and `instructions` into `out` (tools, tool_choice,
/// parallel_tool_calls, text, reasoning, max_output_tokens, user, stream), `temperature` and
/// `top_p` into `sampling`; fills turn.stream, store, previous_response_id, echo, tool_aliases.
/// The tools are written as JSON text into `tools_text` (their parameters straight from `body`,
/// not copied into `out`; given `tools_room` bytes up front when there are some), and
/// `out["tools"]` holds their place as null.
bool convert_options(const boost::json::object& body, boost::json::object& out,
                     std::string& tools_text, std::size_t tools_room, SamplingText& sampling,
                     ResponsesTurn& turn, const Reject& reject);

}  // namespace sb::adapters::responses_detail
