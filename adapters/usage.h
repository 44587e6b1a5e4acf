#pragma once
// Token usage as reported by an OpenAI-format response or stream chunk.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace boost::json {
class value;
}

namespace sb::adapters {

struct Usage {
  std::int64_t input = 0;         ///< prompt_tokens (cached ones included, as OpenAI counts)
  std::int64_t output = 0;        ///< completion_tokens (reasoning ones included)
  std::int64_t cached_input = 0;  ///< prompt_tokens_details.cached_tokens
  std::int64_t reasoning = 0;     ///< completion_tokens_details.reasoning_tokens
  /// Prompt tokens written to the provider's prompt cache (Anthropic's
  /// cache_creation_input_tokens, Bedrock's cacheWriteInputTokens), part of `input`. In OpenAI
  /// shapes a `cache_creation_input_tokens` member of `usage` (as LiteLLM writes it).
  std::int64_t cache_write = 0;
};

/// Reads `usage` from a parsed OpenAI response object or stream chunk. nullopt when absent, null,
/// or not an object with integer prompt_tokens/completion_tokens. Negative values are rejected.
/// The details objects (prompt_tokens_details, completion_tokens_details) and their counters may
/// be absent or null (read as 0); a counter present with a non-integer or negative value makes the
/// whole usage invalid rather than silently under-counted.
std::optional<Usage> usage_from_openai(const boost::json::value& response);

/// Reads the value of a `usage` member itself (`{"prompt_tokens": ...}`), under the same rules.
std::optional<Usage> usage_from_openai_usage(const boost::json::value& usage);

/// Same, from the raw JSON text of a response or chunk: its top-level `usage` member is found by
/// a scan and read by usage_from_openai_usage_text.
std::optional<Usage> usage_from_openai_text(std::string_view json_text);

/// usage_from_openai_usage on the text of a `usage` value, read in one pass of a SAX parser (no
/// DOM), with the same JSON acceptance and the same result (usage_text.cc).
std::optional<Usage> usage_from_openai_usage_text(std::string_view usage_text);

/// The same reading of the JSON value that starts at text[at] and ends anywhere before the
/// text's end (a member's value inside an answer): true when that is a whole JSON value, with
/// `at` moved past it and the whitespace after it, and `out` what usage_from_openai_usage_text
/// answers for it; false when the text there is not JSON (or ends inside the value).
bool read_usage_at(std::string_view text, std::size_t& at, std::optional<Usage>& out);

}  // namespace sb::adapters
