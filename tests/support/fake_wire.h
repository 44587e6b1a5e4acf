#pragma once
// Internals of the fake upstream shared by its per-provider wire formats (fake_openai.cc,
// fake_azure.cc, fake_anthropic.cc, fake_gemini.cc, fake_ollama.cc, fake_bedrock.cc): byte
// writers, the format-neutral reading of a conversation and the reply it earns, and the shape of
// an answer the server writes out. Pure: no sockets, no clocks except `now`. Not part of the
// public test API (see fake_upstream.h).

#include <boost/beast/http/fields.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/fake_upstream.h"

namespace sb::testing::wire {

// --- bytes ---

/// `s` as a JSON string literal. `go_html` also escapes <, > and & as \u003c, \u003e and \u0026,
/// as Go's encoding/json does (Ollama).
void append_json_string(std::string& out, std::string_view s, bool go_html = false);
void append_int(std::string& out, std::int64_t v);
/// `v` as `width` lower-case hex digits, zero-padded.
void append_hex_padded(std::string& out, std::uint64_t v, int width);

/// How a vendor lays out its JSON.
enum class JsonStyle {
  compact,  ///< {"a":1,"b":[2]} (OpenAI streams, Anthropic, Azure, Bedrock)
  go,       ///< compact with Go's HTML escaping (Ollama)
  spaced,   ///< {"a": 1,"b": [2]}: Google's streamed chunks
  pretty,   ///< two-space indent, "key": value (Google's whole responses)
};
/// Serializes `v` keeping the objects' insertion order (Boost.JSON keeps it).
void write_json(std::string& out, const boost::json::value& v, JsonStyle style);
std::string to_json(const boost::json::value& v, JsonStyle style);

/// Maximal runs of non-whitespace: the fake's deterministic stand-in for a tokenizer.
std::size_t count_words(std::string_view s);
/// Each word with the whitespace before it ("Hello", " from", ...): concatenates back to `s`.
std::vector<std::string> split_pieces(std::string_view s);
/// Splits a tool call's arguments JSON into the fragments streams carry (at least two).
std::vector<std::string> split_arguments(std::string_view arguments_json);

/// Percent-decodes a URL path segment ("%3A" → ":"); invalid escapes are kept as they are.
std::string url_decode(std::string_view s);
/// Value of `key` in a query string ("a=1&key=v"), raw; nullopt when absent.
std::optional<std::string_view> query_param(std::string_view query, std::string_view key);

/// CRC-32 (IEEE 802.3, reflected, as zlib's crc32), continuing from `crc`.
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

/// Seconds since the epoch; RFC 3339 UTC with nanoseconds trimmed as Go prints them.
std::int64_t now_seconds();
std::string rfc3339_nano_now();

// --- the conversation and the reply it earns, whatever the format ---

/// What a format's reader extracts from a request body.
struct Dialogue {
  std::string model;
  bool stream = false;
  /// Text of the last user message, or of the tool result when `last_is_tool_result`.
  std::string last_text;
  bool last_is_user = false;         ///< the last message is the user's own words
  bool last_is_tool_result = false;  ///< the last message returns a tool's result
  std::string first_tool;            ///< name of the first declared tool; empty: none
  std::int64_t prompt_tokens = 0;    ///< words + 3 per message, as OpenAI's fake counts
  std::optional<std::int64_t> max_tokens;
};

/// The autonomous answer to a Dialogue.
struct Turn {
  bool tool_call = false;
  std::string text;                 ///< text reply (cut to max_tokens words)
  std::vector<std::string> pieces;  ///< the text in streamed word pieces
  std::string tool_name;
  std::string query;           ///< the tool call's only argument
  std::string arguments_json;  ///< {"query":"..."} compact
  bool truncated = false;      ///< max_tokens cut the text
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

/// Tools declared and the user spoke last → one call of the first tool with {"query": text};
/// the last message is a tool result → "Tool said: <result>"; otherwise
/// "Hello from NAME: <last user text>", cut to max_tokens words.
Turn plan_turn(const Dialogue& dialogue, std::string_view name);

/// Text of a tool result given as a JSON value: a string as is, the "text" parts of an array
/// concatenated, an object's "content"/"result"/"output"/"text" string, else compact JSON.
std::string tool_result_text(const boost::json::value& v);

// --- the request and the answer, as the server sees them ---

/// One line of FakeUpstreamOptions::record_file, "\n" included: {"method","target","headers":
/// {lower-case name: value} in arrival order, a repeated header's values joined with ", ",
/// "body": the body as a JSON string}.
std::string record_line(std::string_view method, std::string_view target,
                        const boost::beast::http::fields& headers, std::string_view body);

struct WireRequest {
  boost::beast::http::verb method;
  std::string_view method_name;
  std::string_view path;   ///< without the query and trailing slashes
  std::string_view query;  ///< after '?', empty when none
  std::string_view body;
  const boost::beast::http::fields& headers;
  std::optional<std::string_view> header(std::string_view name) const;
};

struct WireContext {
  std::string_view name;         ///< FakeUpstreamOptions::name
  std::string_view azure_model;  ///< FakeUpstreamOptions::azure_model
  std::uint64_t serial = 0;      ///< unique per answer, for ids
  std::int64_t created = 0;      ///< seconds since the epoch
  std::chrono::milliseconds latency{0};
  std::int64_t report_prompt_tokens = -1;      ///< FakeUpstreamOptions::report_prompt_tokens
  std::int64_t report_completion_tokens = -1;  ///< FakeUpstreamOptions::report_completion_tokens
};

/// An answer to write: a whole body, or a stream of chunked-transfer frames `latency` apart.
struct WireReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string headers;  ///< extra header lines, each "Name: value\r\n"
  std::string body;     ///< when `events` is empty
  std::vector<std::string> events;
};

/// A whole-body JSON reply.
WireReply json_reply(unsigned status, std::string body, std::string headers = {});

/// An id of `prefix` + `width` characters of [0-9A-Za-z] derived from `serial`.
std::string vendor_id(std::string_view prefix, std::uint64_t serial, int width);
/// A version-4-shaped UUID derived from `serial` (AWS and Azure request ids).
std::string uuid_from(std::uint64_t serial);

// --- the formats: each answers its paths and its own errors ---

enum class Format { openai, azure, anthropic, gemini, ollama, bedrock, health };

/// The format a request path belongs to; nullopt when no format claims it (an OpenAI 404).
std::optional<Format> route(boost::beast::http::verb method, std::string_view path);

WireReply openai_answer(const WireRequest& r, const WireContext& c);
WireReply openai_status_error(unsigned status, const WireContext& c);
/// OpenAI's 404 for a path nobody serves.
WireReply openai_not_found(const WireRequest& r, const WireContext& c);
WireReply openai_models(std::string_view name, std::int64_t created, const WireContext& c);

/// OpenAI's Responses API (POST .../responses, fake_responses.cc); `reported_model` non-empty:
/// the model the answer names instead of the request's (Azure's deployments).
WireReply responses_answer(const WireRequest& r, const WireContext& c,
                           std::string_view reported_model = {});

WireReply azure_answer(const WireRequest& r, const WireContext& c);
WireReply azure_status_error(unsigned status, const WireContext& c);

WireReply anthropic_answer(const WireRequest& r, const WireContext& c);
WireReply anthropic_status_error(unsigned status, const WireContext& c);

WireReply gemini_answer(const WireRequest& r, const WireContext& c);
WireReply gemini_status_error(unsigned status, const WireContext& c);

WireReply ollama_answer(const WireRequest& r, const WireContext& c);
WireReply ollama_status_error(unsigned status, const WireContext& c);

WireReply bedrock_answer(const WireRequest& r, const WireContext& c);
WireReply bedrock_status_error(unsigned status, const WireContext& c);

WireReply health_answer(const WireRequest& r, const WireContext& c);

// --- OpenAI pieces Azure reuses ---

/// Reads an OpenAI chat request; on a bad request returns the OpenAI error body in `error`.
struct ChatRead {
  Dialogue dialogue;
  bool include_usage = false;
  unsigned error_status = 0;
  std::string error;
};
/// `model_required` false: a missing "model" reads as empty (Azure names the model in the path).
ChatRead read_openai_chat(std::string_view body, bool model_required = true);
std::string openai_error_json(std::string_view message, std::string_view type,
                              std::string_view code, std::string_view param);

}  // namespace sb::testing::wire
