#pragma once
// A scriptable fake upstream that speaks every provider's wire format byte for byte: a stand-in
// for a self-hosted engine (vLLM, llama.cpp, Ollama, TGI, SGLang) and for a closed provider
// (OpenAI, Azure OpenAI, Anthropic, Gemini, Bedrock) in tests and in the README's "try it" path.
// Links no production code: it is an independent implementation of each wire format, so tests
// catch a translator's mistakes.
//
// It runs its own io_context on its own thread, listens on 127.0.0.1 (port 0 by default), and
// answers each request with the next scripted Response from its queue, or, when the queue is
// empty, autonomously in the format the request path belongs to:
//
//   POST .../chat/completions, .../completions, .../embeddings; GET .../models   OpenAI
//   POST .../responses (stream and non-stream)                             OpenAI Responses
//   POST /openai/deployments/{deployment}/{chat/completions,completions,embeddings}?api-version=
//   POST /openai/v1/responses, /openai/responses?api-version=              Azure OpenAI
//   POST .../messages, .../messages/count_tokens                           Anthropic Messages
//   POST .../models/{model}:generateContent, :streamGenerateContent?alt=sse Gemini
//   POST /api/chat; GET /api/tags, /api/version, /                         Ollama (NDJSON)
//   POST /model/{modelId}/converse, /converse-stream                       Bedrock Converse
//   GET /health                                                            llama.cpp, vLLM, TGI
//
// The reply text is "Hello from <name>: <last user message text>", streamed one word piece per
// event, in each format's own stream framing (OpenAI SSE ending in `data: [DONE]`, Anthropic's
// named events, Gemini's `data: ...\r\n\r\n`, Ollama's NDJSON, Bedrock's binary event stream).
// When the request declares tools and the user spoke last, the answer is one call of the first
// tool with arguments {"query": "<last user text>"}; when the last message is a tool result it is
// "Tool said: <result text>". A max-tokens limit below the reply's word count cuts the reply and
// reports the format's "length" stop reason (Responses: status "incomplete"). Anthropic requests
// with `thinking` enabled or adaptive get a signed thinking block "Thinking about: <last user
// text>" first; count_tokens answers the input_tokens the same request would report. The
// Responses fake keeps no state: any previous_response_id gets OpenAI's 400
// previous_response_not_found. Vendors' authentication is checked for presence only:
// Anthropic needs x-api-key (or authorization) and anthropic-version, Gemini x-goog-api-key or
// ?key=, Azure api-key (or authorization) and ?api-version=, Bedrock a SigV4 authorization header
// (not verified). Every request that arrives is recorded.
//
// In autonomous mode two request headers steer it, for manual testing: `x-fake-status: N`
// (400..599) answers N with the error body of the path's format (429 adds `retry-after: 1`; 529
// is Anthropic's overloaded_error), and `x-fake-latency-ms: N` overrides options.latency for that
// request.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct RecordedRequest {
  std::string method;
  std::string target;
  Headers headers;  ///< as received, in order
  std::string body;
  /// Value of the first header named `name` (case-insensitive); nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

/// One piece of a scripted response body, sent after `delay`.
struct Chunk {
  std::string bytes;
  std::chrono::milliseconds delay{0};
};

/// A scripted response.
struct Response {
  enum class Kind {
    normal,         ///< status line, headers, body or chunks
    reset_on_read,  ///< read the request, then reset the connection (RST) without answering
    close_on_read,  ///< read the request, then close cleanly (FIN) without answering
    stall,          ///< read the request and never answer (until the fake stops)
    /// A hostile upstream: `body` is written as is (status line, headers and framing included,
    /// nothing added), then each chunk as is after its delay, then `repeat` again and again
    /// until `repeat_bytes` have gone or the peer stops reading; then the connection closes.
    /// Endless header lines, endless SSE lines and events, huge trailers, CL+TE, 1xx floods.
    raw,
  };
  Kind kind = Kind::normal;
  unsigned status = 200;
  Headers headers;   ///< Content-Type defaults to application/json or text/event-stream
  std::string body;  ///< used when `chunks` is empty
  /// Non-empty: a streamed body, one write per chunk. Each chunk becomes one chunked-transfer
  /// frame (Transfer-Encoding: chunked) unless `headers` has a Content-Length, in which case the
  /// chunks are sent raw as pieces of that fixed-length body. Empty chunks are skipped.
  std::vector<Chunk> chunks;
  /// Before the status line (with reset_on_read / close_on_read: before the reset or close).
  std::chrono::milliseconds header_delay{0};
  /// With chunks: after sending this many chunks, reset the connection (mid-stream cut).
  std::optional<std::size_t> reset_after_chunks;
  /// With chunks: after sending this many chunks, stop sending but keep the connection open.
  std::optional<std::size_t> stall_after_chunks;
  /// raw: bytes written over and over after the body and chunks, up to repeat_bytes in all.
  std::string repeat;
  std::size_t repeat_bytes = 0;
};

struct Usage {
  std::int64_t prompt = 0;
  std::int64_t completion = 0;
  std::int64_t cached = -1;  ///< >= 0 adds prompt_tokens_details.cached_tokens
};

// --- OpenAI wire-format builders (exact bytes as api.openai.com sends them) ---

/// A complete `chat.completion` JSON body.
std::string chat_completion_body(std::string_view model, std::string_view content, Usage usage,
                                 std::string_view id = "chatcmpl-fake0001");
/// A full SSE stream: role chunk, one chunk per piece, finish chunk, optional usage chunk, [DONE].
/// Each element is one SSE event's bytes ("data: ...\n\n").
std::vector<std::string> chat_stream_events(std::string_view model,
                                            const std::vector<std::string>& pieces,
                                            bool include_usage, Usage usage,
                                            std::string_view id = "chatcmpl-fake0001");
/// An OpenAI error body {"error":{"message","type","param","code"}}; param is null, and so is
/// code when empty.
std::string error_body(std::string_view message, std::string_view type, std::string_view code);
/// Same, with "param" set (e.g. "messages"); an empty param or code is written as null.
std::string error_body(std::string_view message, std::string_view type, std::string_view code,
                       std::string_view param);
/// Splits a reply into the pieces autonomous mode streams: one per word, each carrying the
/// whitespace before it ("Hello", " from", ...), so they concatenate back to `text`.
std::vector<std::string> stream_pieces(std::string_view text);
/// A streamed response (SSE headers) from events, each sent `gap` after the previous.
Response sse_response(const std::vector<std::string>& events,
                      std::chrono::milliseconds gap = std::chrono::milliseconds{0});

// --- Anthropic Messages builders (https://docs.anthropic.com/en/api/messages) ---

/// A non-stream `message` body with one text block; usage.prompt is input_tokens, usage.completion
/// output_tokens, and usage.cached >= 0 adds cache_creation_input_tokens (0) and
/// cache_read_input_tokens.
std::string anthropic_message_body(std::string_view model, std::string_view text, Usage usage,
                                   std::string_view stop_reason = "end_turn",
                                   std::string_view id = "msg_fake0001");
/// A full text stream as `event: NAME\ndata: JSON\n\n` events: message_start, content_block_start,
/// ping, one content_block_delta per piece, content_block_stop, message_delta (stop_reason and
/// the output_tokens total), message_stop.
std::vector<std::string> anthropic_stream_events(std::string_view model,
                                                 const std::vector<std::string>& pieces,
                                                 Usage usage,
                                                 std::string_view stop_reason = "end_turn",
                                                 std::string_view id = "msg_fake0001");
/// {"type":"error","error":{"type":TYPE,"message":MESSAGE}}, e.g. ("overloaded_error", ...).
std::string anthropic_error_body(std::string_view type, std::string_view message);

// --- Gemini builders (https://ai.google.dev/api/generate-content) ---

/// A pretty-printed GenerateContentResponse with one text candidate; usage.prompt is
/// promptTokenCount, usage.completion candidatesTokenCount.
std::string gemini_response_body(std::string_view model, std::string_view text, Usage usage,
                                 std::string_view finish_reason = "STOP");
/// A streamGenerateContent?alt=sse stream: one `data: {...}\r\n\r\n` event per piece, the last
/// with finishReason and the full usageMetadata. Gemini sends no [DONE].
std::vector<std::string> gemini_stream_events(std::string_view model,
                                              const std::vector<std::string>& pieces, Usage usage,
                                              std::string_view finish_reason = "STOP");
/// {"error":{"code":N,"message":...,"status":...}} with Google's status name for `code`
/// (400 INVALID_ARGUMENT, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED, ...).
std::string gemini_error_body(unsigned code, std::string_view message);

// --- Ollama builders (https://github.com/ollama/ollama/blob/main/docs/api.md) ---

/// The NDJSON lines of a streamed /api/chat answer, each ending in "\n": one
/// {"model","created_at","message":{"role","content"},"done":false} per piece, then the final
/// done:true line with done_reason and the timing and count fields.
std::vector<std::string> ollama_ndjson_lines(std::string_view model,
                                             const std::vector<std::string>& pieces, Usage usage,
                                             std::string_view done_reason = "stop");
/// A non-stream ("stream": false) /api/chat answer.
std::string ollama_chat_body(std::string_view model, std::string_view text, Usage usage,
                             std::string_view done_reason = "stop");
/// Ollama's error body, {"error":MESSAGE}.
std::string ollama_error_body(std::string_view message);

// --- Bedrock Converse builders (https://docs.aws.amazon.com/bedrock/latest/APIReference/) ---

/// One binary `application/vnd.amazon.eventstream` message: prelude (total length, headers
/// length, prelude CRC32), the headers `:event-type` EVENT_TYPE, `:content-type`
/// application/json and `:message-type` event, the payload, then the message CRC32.
std::string bedrock_event(std::string_view event_type, std::string_view json_payload);
/// An exception message of the stream (`:message-type` exception, `:exception-type` TYPE), as
/// Bedrock sends a throttlingException or modelStreamErrorException mid-stream.
std::string bedrock_exception_event(std::string_view exception_type, std::string_view message);
/// A non-stream Converse answer with one text block.
std::string bedrock_converse_body(std::string_view text, Usage usage,
                                  std::string_view stop_reason = "end_turn",
                                  std::int64_t latency_ms = 1);
/// A full ConverseStream: messageStart, one contentBlockDelta per piece, contentBlockStop,
/// messageStop, metadata; each element one binary message.
std::vector<std::string> bedrock_stream_events(const std::vector<std::string>& pieces, Usage usage,
                                               std::string_view stop_reason = "end_turn",
                                               std::int64_t latency_ms = 1);
/// A streamed response (Content-Type application/vnd.amazon.eventstream) from binary events.
Response eventstream_response(const std::vector<std::string>& events,
                              std::chrono::milliseconds gap = std::chrono::milliseconds{0});

// --- Azure OpenAI builders (https://learn.microsoft.com/azure/ai-services/openai/reference) ---

/// A chat.completion as Azure sends it: keys in Azure's order, content_filter_results on the
/// choice and prompt_filter_results beside it; `model` is the deployment's underlying model.
std::string azure_chat_completion_body(std::string_view model, std::string_view content,
                                       Usage usage, std::string_view id = "chatcmpl-fake0001");
/// An Azure stream: the `"choices":[]` prompt_filter_results chunk first, then the role, piece
/// and finish chunks with content_filter_results, the usage chunk when asked for, `[DONE]`.
std::vector<std::string> azure_stream_events(std::string_view model,
                                             const std::vector<std::string>& pieces,
                                             bool include_usage, Usage usage,
                                             std::string_view id = "chatcmpl-fake0001");

struct FakeUpstreamOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  bool tls = false;
  std::string cert_file;  ///< PEM server chain (tls)
  std::string key_file;   ///< PEM key (tls)
  /// Autonomous mode: the reply text ("Hello from <name>: <echo of the last user message>").
  std::string name = "fake-upstream";
  /// Autonomous mode: delay between streamed chunks and before non-stream replies.
  std::chrono::milliseconds latency{0};
  /// Keep every request for requests(). Off for long-running use (benchmarks), where only the
  /// count is kept so memory stays flat.
  bool record_requests = true;
  /// Non-empty: append one JSON line per request received to this file, flushed at once:
  /// {"method":"POST","target":"/v1/messages?beta=true","headers":{"content-type":"...",...},
  /// "body":"<the body as a JSON string>"}. Header names lower-cased, in arrival order; a
  /// repeated header's values joined with ", ". Kept whatever record_requests says.
  std::string record_file;
  /// Azure OpenAI: the model behind every deployment, reported in Azure's answers.
  std::string azure_model = "gpt-4o-2024-08-06";
  /// Autonomous mode, OpenAI chat completions and Responses: when >= 0, the usage reports this
  /// many prompt tokens, and this many completion tokens or the request's max_completion_tokens /
  /// max_tokens / max_output_tokens when smaller (a model that writes until its limit); the text
  /// is unchanged.
  std::int64_t report_prompt_tokens = -1;
  std::int64_t report_completion_tokens = -1;
  /// Set: `GET /metrics` answers 200 with this Prometheus text (text/plain; version=0.0.4), as
  /// an engine's metrics endpoint, outside the script and not recorded (see set_metrics and
  /// metrics_requests). Unset: /metrics is an ordinary request.
  std::optional<std::string> metrics;
};

class FakeUpstream {
 public:
  explicit FakeUpstream(FakeUpstreamOptions options = {});
  ~FakeUpstream();  ///< stops the server and joins its thread
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  std::uint16_t port() const;
  /// "http(s)://127.0.0.1:PORT/v1"
  std::string base_url() const;

  /// Queues a scripted response for the next request (FIFO). Thread-safe.
  void push(Response response);
  /// Every request received so far, in arrival order. Thread-safe.
  std::vector<RecordedRequest> requests() const;
  /// Requests received so far (counted even when record_requests is off). Thread-safe.
  std::size_t request_count() const;
  /// Waits until at least `n` requests have arrived; false on timeout.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  /// TCP connections accepted so far (keep-alive reuse shows as fewer connections).
  std::size_t connections() const;
  /// Closes every open connection (simulates an upstream restart); keeps listening.
  void drop_connections();
  /// Replaces the /metrics text (options.metrics); nullopt makes /metrics answer 503 (the
  /// metrics endpoint down) while everything else keeps working. Thread-safe.
  void set_metrics(std::optional<std::string> text);
  /// `GET /metrics` requests answered from options.metrics so far. Thread-safe.
  std::size_t metrics_requests() const;
  /// Stalled answers (Response::Kind::stall, stall_after_chunks) whose client closed or reset
  /// the connection: the requests a client gave up on, as an inference server sees them.
  /// Thread-safe.
  std::size_t abandoned() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::testing
