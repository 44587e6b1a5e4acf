#pragma once
// A JSON DOM written as text, byte for byte what boost::json::serialize writes, faster: the runs
// of a string that need no escape (nearly all of any prompt) are found sixteen bytes at a time
// and copied whole, where Boost's serializer looks each byte up in a table. Every request body a
// translator builds as a DOM is written here (the /v1/messages translation, the Anthropic, Gemini,
// Bedrock and Ollama upstream bodies), so the text a detector scanned goes out as Boost would
// have written it.

#include <cstddef>
#include <string>
#include <string_view>

namespace boost::json {
class value;
class object;
class array;
}  // namespace boost::json

namespace sb::adapters {

/// Appends `v` as JSON text to `out` (identical to boost::json::serialize(v)).
void append_json(std::string& out, const boost::json::value& v);
void append_json(std::string& out, const boost::json::object& o);
void append_json(std::string& out, const boost::json::array& a);

/// Appends `s` as a JSON string literal (escaped as Boost escapes: \" \\ \b \t \n \f \r, and
/// \u00xx in lowercase hex for the other control bytes; DEL and non-ASCII bytes as they are).
void append_json_string(std::string& out, std::string_view s);

/// Appends `o`'s JSON text as a JSON string literal: identical to
/// append_json_string(out, to_json(o)), in one pass (an Anthropic tool_use input as a chat tool
/// call's arguments).
void append_json_text_string(std::string& out, const boost::json::object& o);

/// `o` as JSON text (identical to boost::json::serialize(o)), in a string with room for `expected`
/// bytes from the start (a caller that knows about how long the text is spares its regrowth).
std::string to_json(const boost::json::object& o, std::size_t expected = 256);

}  // namespace sb::adapters
