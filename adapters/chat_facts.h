#pragma once
// What a routing decision needs to know about an OpenAI chat-completions request, read from its
// parsed body: every text it carries (for sensitivity detection) and its shape (for capability
// tier and policies). Pure; views point into the parsed JSON and live as long as it does.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace boost::json {
class object;
}

namespace sb::adapters {

struct ChatFacts {
  /// Every text the request carries: message contents (strings and text parts), `name` fields,
  /// tool call arguments, tool results, function names and descriptions of declared tools, and
  /// legacy `functions` / `function_call` arguments.
  std::vector<std::string_view> texts;
  std::uint64_t text_bytes = 0;
  std::uint64_t estimated_prompt_tokens = 0;  ///< ~4 bytes per token + per-message overhead
  std::optional<std::uint64_t> max_tokens;    ///< max_completion_tokens, else max_tokens
  bool tools = false;                         ///< tools or functions declared
  bool images = false;       ///< an image part (image_url / input_image) is present
  bool json_schema = false;  ///< response_format.type == "json_schema"
  std::uint64_t depth = 0;   ///< number of messages
  std::string_view reasoning_effort;
};

/// Collects the facts of a chat-completions body (already validated as an object). `out` is
/// cleared first; its storage is reused.
void collect_chat_facts(const boost::json::object& body, ChatFacts& out);

/// The same for a legacy completions body: `prompt` (a string or an array of strings; token
/// arrays carry no text) and `suffix`; max_tokens as in chat.
void collect_completion_facts(const boost::json::object& body, ChatFacts& out);

/// The same for an embeddings body: `input` (a string or an array of strings; token arrays are
/// skipped). Embeddings produce no output tokens: max_tokens is 0.
void collect_embedding_facts(const boost::json::object& body, ChatFacts& out);

}  // namespace sb::adapters
