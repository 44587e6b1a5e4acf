#pragma once
// Anthropic's Messages API as an INBOUND protocol (https://docs.anthropic.com/en/api/messages):
// clients using an Anthropic SDK send `POST /v1/messages`; the gateway routes the request like any
// chat request, in OpenAI chat-completions form, and answers in Anthropic's form. This is the
// reverse of adapters/anthropic.h (which speaks to Anthropic as an upstream).
//
// Pure and per request: no sockets, no clock, no config types.
//
// Request (Anthropic -> OpenAI chat completions), see anthropic_to_openai_request():
// - `model` is kept as sent (the gateway's alias); `max_tokens` (required, as Anthropic requires
//   it) -> `max_tokens`; `stop_sequences` -> `stop`; temperature and top_p pass through with the
//   client's number text; `metadata.user_id` -> `user`; `stream: true` -> `stream` plus
//   `stream_options: {include_usage: true}` (the usage chunk is how the gateway learns the true
//   token counts; OpenAI rejects stream_options on a non-stream request, so it is only sent with
//   `stream`);
// - `system` (a string or text blocks) -> one leading system message;
// - messages: text blocks -> a plain string (one block) or text parts (several); image blocks
//   (https://docs.anthropic.com/en/docs/build-with-claude/vision) -> image_url parts (base64
//   sources as `data:` URLs); assistant `tool_use` blocks -> `tool_calls` (arguments = the input
//   serialized); user `tool_result` blocks -> `tool` messages placed before the rest of their turn
//   (OpenAI wants tool messages right after the assistant message that called the tools);
//   assistant thinking and redacted_thinking blocks are dropped (OpenAI has no way to send them
//   back); `cache_control` is ignored (prompt caching is the upstream's business);
// - tools `[{name, description, input_schema}]` -> function tools; tool_choice auto | any | tool
//   | none -> "auto" | "required" | {function} | "none"; `disable_parallel_tool_use: true` ->
//   `parallel_tool_calls: false` (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/
//   implement-tool-use);
// - rejected (HTTP 400, invalid_request_error): a missing or non-string model, missing or
//   non-positive max_tokens, messages that are not a non-empty array of user/assistant turns,
//   unknown or misplaced block types (document, server tools, tool_use in a user turn,
//   tool_result in an assistant turn, images in a tool_result or an assistant turn), image
//   sources other than base64 and url, non-object tool inputs, tools other than client (custom)
//   tools. Members with no OpenAI equivalent that only tune the answer (top_k, thinking,
//   service_tier, container, ...) are ignored: the answer is still a valid Messages answer.
//
// Response and stream: see openai_to_anthropic_response() and AnthropicStreamWriter.
//
// Usage mapping (both paths): Anthropic's input_tokens excludes cache reads while OpenAI's
// prompt_tokens includes them, so input_tokens = prompt_tokens - cached_tokens and
// cache_read_input_tokens = cached_tokens; output_tokens = completion_tokens;
// cache_creation_input_tokens = 0 (OpenAI-format backends do not report cache writes).
//
// Stop reasons: stop -> end_turn, length -> max_tokens, tool_calls (and the legacy
// function_call) -> tool_use, content_filter -> refusal, anything else -> end_turn. OpenAI does
// not say whether a stop sequence ended the answer, so stop_reason is never "stop_sequence" and
// stop_sequence is always null.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sse.h"
#include "adapters/usage.h"

namespace boost::json {
class object;
}

namespace sb::adapters {

/// Translates a client's Anthropic Messages request body into an OpenAI chat-completions request
/// body (JSON text). On an invalid shape returns nullopt and sets `error` to a message naming the
/// member (e.g. "messages[1].content[0]: unknown block type 'document'"); the caller answers 400
/// with openai_error_to_anthropic-style invalid_request_error. Thread-safe (pure).
std::optional<std::string> anthropic_to_openai_request(const boost::json::object& anthropic_body,
                                                       std::string& error);

/// Translates an OpenAI chat.completion (a 200 answer) into an Anthropic Message:
/// `{id, type:"message", role:"assistant", model, content, stop_reason, stop_sequence:null,
/// usage}`. `id` is "msg_" + the OpenAI id without its "chatcmpl-" prefix; `model` is the alias
/// the client asked for. Content: the answer's text (and refusal text) as one text block when not
/// empty, then one tool_use block per tool call (input = the parsed arguments; arguments that are
/// not a JSON object, which a model can produce, become `{}` because Anthropic requires an object).
/// Only the first choice is read. Reasoning text some backends add (reasoning_content) is dropped:
/// Anthropic thinking blocks need a signature the gateway cannot produce.
///
/// When the input is not a chat.completion object (no choices[0].message), returns an Anthropic
/// error body (`"type":"error"`, api_error); use try_openai_to_anthropic_response to tell the
/// cases apart.
std::string openai_to_anthropic_response(std::string_view openai_chat_completion_json,
                                         std::string_view model);

/// Same as openai_to_anthropic_response, but returns nullopt (and sets `error`) when the input
/// cannot be read as a chat.completion, so the caller can answer 502. `cache_write`: prompt-cache
/// writes the upstream reported that the OpenAI shape cannot carry (an Anthropic or Bedrock
/// upstream's), for `cache_creation_input_tokens`; 0 keeps what the body says.
std::optional<std::string> try_openai_to_anthropic_response(
    std::string_view openai_chat_completion_json, std::string_view model, std::string& error,
    std::int64_t cache_write = 0);

/// The Anthropic error `type` for an HTTP status (https://docs.anthropic.com/en/api/errors):
/// 400 and other 4xx -> invalid_request_error, 401 authentication_error, 403 permission_error,
/// 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 503 and 529
/// overloaded_error (the gateway's 503 means no backend can take the request now, which Anthropic
/// SDKs should treat as they treat 529), 504 timeout_error, other statuses api_error.
std::string_view anthropic_error_type(unsigned status);

/// An OpenAI error body (`{"error":{"message",...}}`) as Anthropic's
/// `{"type":"error","error":{"type","message"}}`, the type chosen by `status`
/// (anthropic_error_type). The message is kept; when the body has none, it says "HTTP <status>".
/// The HTTP status itself is the caller's (it is sent unchanged).
std::string openai_error_to_anthropic(unsigned status, std::string_view openai_error_body);

/// Turns the OpenAI chat.completion.chunk SSE stream the gateway relays (`data: {chunk}\n\n` ...
/// `data: [DONE]\n\n`) into Anthropic's streaming events
/// (https://docs.anthropic.com/en/docs/build-with-claude/streaming), each written as
/// `event: NAME\ndata: {...}\n\n`:
///
/// - `message_start` when the first chunk arrives. Anthropic reports input tokens at the start,
///   but an OpenAI stream reports usage only at its end, so message_start carries
///   `input_tokens` = the estimate given to the constructor (0 by default) unless that first chunk
///   already carries usage; the true counts (input_tokens, cache_read_input_tokens,
///   output_tokens) come in `message_delta`, whose usage Anthropic SDKs take as final;
/// - one content block per text or tool-call segment, numbered 0, 1, ... in order:
///   `content_block_start` (text: `{"type":"text","text":""}`; tool call: `{"type":"tool_use",
///   "id","name","input":{}}`), `content_block_delta` (`text_delta`, or `input_json_delta` with
///   the tool call's argument fragments as `partial_json`), and `content_block_stop` when the next
///   segment starts or the message ends. Refusal deltas are text. Tool calls are expected one after
///   another, as OpenAI streams them; an argument fragment for a call whose block is already
///   stopped is dropped (Anthropic's protocol cannot reopen a block);
/// - at `data: [DONE]`: `message_delta` (stop_reason, stop_sequence null, usage) and
///   `message_stop`. Anything after [DONE] is ignored;
/// - an OpenAI error event (`data: {"error":{...}}`) -> `event: error` with
///   `{"type":"error","error":{"type","message"}}` (the type from the OpenAI error's type/code:
///   rate limits -> rate_limit_error, overload -> overloaded_error, else api_error), and the
///   stream is over (feed() returns false). Data that is not JSON does the same with api_error.
///
/// Bytes may be split anywhere (SseParser). Not thread-safe; one per response.
class AnthropicStreamWriter {
 public:
  /// `model`: the alias the client asked for. `estimated_input_tokens`: the gateway's pre-dispatch
  /// prompt estimate for message_start (0 when unknown).
  explicit AnthropicStreamWriter(std::string_view model, std::int64_t estimated_input_tokens = 0);

  /// Feeds relayed OpenAI SSE bytes; appends Anthropic SSE bytes to `out`. Returns false once the
  /// stream failed (an error event was appended); later calls append nothing and return false.
  bool feed(std::string_view bytes, std::string& out);

  /// Called when the relayed body ended. If [DONE] was seen, appends nothing and returns true. If
  /// the upstream had already sent a finish_reason (some servers omit [DONE]), completes the
  /// message as [DONE] would and returns true. Otherwise the answer is cut short: appends an
  /// `error` event (api_error) and returns false.
  bool finish(std::string& out);

  /// True after message_stop was written.
  bool done() const { return done_; }
  /// True after an error event was written.
  bool failed() const { return failed_; }
  /// The usage of the last chunk that carried one (the include_usage chunk), as OpenAI counts.
  const std::optional<Usage>& usage() const { return usage_; }
  /// Prompt-cache writes the upstream reported that the OpenAI chunks cannot carry, for
  /// `cache_creation_input_tokens` (call before feeding the usage chunk).
  void set_cache_write(std::int64_t n) { cache_write_ = n; }

 private:
  enum class BlockKind { none, text, tool };

  bool on_event(const SseEvent& ev, std::string& out);
  void start_message(std::string_view openai_id, std::string& out);
  void on_text(std::string_view text, std::string& out);
  void on_tool_delta(const boost::json::object& call, std::string& out);
  void close_block(std::string& out);
  void complete(std::string& out);
  void fail(std::string_view type, std::string_view message, std::string& out);

  std::string model_;
  std::int64_t estimated_input_;
  SseParser parser_;
  std::vector<SseEvent> events_;
  std::string message_id_;
  std::string scratch_;
  bool started_ = false;
  bool done_ = false;
  bool failed_ = false;
  BlockKind open_ = BlockKind::none;
  std::int64_t next_block_ = 0;           ///< index of the next content block
  std::int64_t open_tool_ = -1;           ///< OpenAI tool-call index of the open tool block
  std::vector<std::int64_t> seen_tools_;  ///< OpenAI tool-call indexes already given a block
  std::string_view stop_reason_;          ///< points at a literal; empty until a finish_reason
  std::optional<Usage> usage_;
  std::int64_t cache_write_ = 0;
};

}  // namespace sb::adapters
