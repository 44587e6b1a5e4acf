#pragma once
// A scriptable fake upstream that speaks the OpenAI wire format byte for byte: a stand-in for a
// self-hosted engine (vLLM, llama.cpp, ...) and for a closed provider in tests and in the README's
// "try it" path. Links no production code.
//
// It runs its own io_context on its own thread, listens on 127.0.0.1 (port 0 by default), and
// answers each request with the next scripted Response from its queue, or, when the queue is
// empty, autonomously like OpenAI: POST .../chat/completions → a chat.completion (or an SSE
// stream of chat.completion.chunk events when "stream": true, with the usage chunk only when
// stream_options.include_usage is true, ending in `data: [DONE]`); GET .../models → a model list.
// Every request that arrives is recorded.
//
// In autonomous mode two request headers steer it, for manual testing: `x-fake-status: N`
// (400..599) answers N with an OpenAI error body (429 adds `retry-after: 1`), and
// `x-fake-latency-ms: N` overrides options.latency for that request.

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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::testing
