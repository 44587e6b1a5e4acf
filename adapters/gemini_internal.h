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

/// A JSON schema reduced to the OpenAPI subset Gemini accepts (unknown keywords dropped), for
/// function parameters and response_format json_schema.
boost::json::value gemini_schema(const boost::json::value& v);

/// tools / legacy functions → `tools[{functionDeclarations}]`, plus `toolConfig` from tool_choice
/// (or legacy function_call). https://ai.google.dev/api/caching#Tool
bool translate_tools(const ChatRequest& r, boost::json::object& out, const RequestFailure& fail);

}  // namespace sb::adapters::gemini_detail
