#pragma once
// Private to the Gemini translator (gemini_request.cc, gemini_tools.cc, gemini_response.cc).

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "adapters/canonical.h"
#include "adapters/openai_shapes.h"

namespace sb::adapters::gemini_detail {

/// `s` in ASCII lower case.
std::string lower(std::string_view s);

// A repeated key counts by its last occurrence, as in Boost.JSON's DOM. The typed reading keeps a
// content part's `text` and `refusal` in one member, and fills a nested object's members where
// they are: when a tool, a tool call or a part repeats the key of its nested object (`function`,
// `image_url`, `input_audio`, `file`), the members of both occurrences mix. The parse's token
// tape tells which members an element has; the rare element with such a repeated key is read
// from its own bytes.

/// Member `key` of the object whose `{` is at offset `begin` of `r.body`, from the token tape.
struct MemberSeen {
  bool read = false;      ///< the tape holds that object
  std::size_t count = 0;  ///< how often the object has the member
  std::string_view text;  ///< the last one's string (empty when not a string)
};
MemberSeen member_seen(const ChatRequest& r, std::size_t begin, std::string_view key);

/// Whether the element (tool, tool call, part) whose `{` is at `begin` repeats member `key`.
bool repeats(const ChatRequest& r, std::size_t begin, std::string_view key);

/// The JSON value of the body's bytes [begin, end): one element alone.
boost::json::value element_json(const ChatRequest& r, std::size_t begin, std::size_t end);

/// A JSON schema reduced to the OpenAPI subset Gemini accepts (unknown keywords dropped), for
/// function parameters and response_format json_schema.
boost::json::value gemini_schema(const boost::json::value& v);

/// tools / legacy functions → `tools[{functionDeclarations}]`, plus `toolConfig` from tool_choice
/// (or legacy function_call). https://ai.google.dev/api/caching#Tool
bool translate_tools(const ChatRequest& r, boost::json::object& out, const RequestFailure& fail);

}  // namespace sb::adapters::gemini_detail
