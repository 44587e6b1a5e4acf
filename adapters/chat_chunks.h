#pragma once
// The reading half every inbound stream writer shares: relayed OpenAI chat.completion.chunk SSE
// bytes -> one parsed chunk at a time. The writers (AnthropicStreamWriter, ResponsesStreamWriter)
// turn the chunks into their own dialect's events through the hooks below.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/chat_chunk.h"
#include "adapters/sse.h"
#include "adapters/usage.h"

namespace sb::adapters {

/// Reads the OpenAI chat.completion.chunk SSE stream (bytes may be split anywhere): `[DONE]`
/// completes the answer and ends it (later bytes are ignored); an event that is not a JSON object,
/// one larger than the cap, or a body that ends before a finish_reason or [DONE] fails it with
/// the writer's generic error kind; a chunk with an `error` member (an object with type, code and
/// message, or a bare string) fails it with that message and the kind the writer maps its type
/// and code to. A chunk's usage is kept (usage()); every other chunk goes to on_chunk().
///
/// A writer derives from it publicly (its public members are the writer's), one per response; one
/// virtual call per event, none per byte. Not thread-safe.
class ChatChunkReader {
 public:
  /// Feeds relayed OpenAI SSE bytes; appends the writer's events to `out`. False once failed.
  bool feed(std::string_view bytes, std::string& out);
  /// One event's data, framed by a caller that reads the SSE itself (an OpenAI-wire upstream's
  /// bytes): as feed() reads each event. False once failed; true, reading nothing, once done.
  bool feed_event(std::string_view data, std::string& out) {
    if (failed_) {
      return false;
    }
    return done_ || on_event(data, out);
  }
  /// The relayed body ended: completes the answer when a finish_reason was seen (true), else
  /// fails it (false). Appends nothing and returns done() when already done or failed.
  bool finish(std::string& out);

  /// True after the answer was completed.
  bool done() const { return done_; }
  /// True after the failure was written.
  bool failed() const { return failed_; }
  /// The usage of the last chunk that carried one, as OpenAI counts (cache_write set from
  /// set_cache_write()).
  const std::optional<Usage>& usage() const { return usage_; }
  /// Prompt-cache writes the upstream reported that the OpenAI chunks cannot carry.
  void set_cache_write(std::int64_t n) { cache_write_ = n; }

 protected:
  /// `generic_error`: the writer's error kind for a broken or cut-short stream (a literal).
  explicit ChatChunkReader(std::string_view generic_error);
  ChatChunkReader(const ChatChunkReader&) = default;
  ChatChunkReader& operator=(const ChatChunkReader&) = default;
  ChatChunkReader(ChatChunkReader&&) = default;
  ChatChunkReader& operator=(ChatChunkReader&&) = default;
  virtual ~ChatChunkReader() = default;

  /// Writes the answer's closing events (write_complete) and marks it done.
  void complete(std::string& out);
  /// Writes the failure (write_failure) once and marks the stream failed.
  void fail(std::string_view kind, std::string_view message, std::string& out);

 private:
  /// A chunk without an `error` member, after its usage was read. Its views live until the call
  /// returns: keep copies, not views, of its strings.
  virtual void on_chunk(const ChatChunk& chunk, std::string& out) = 0;
  /// The writer's error kind for a chunk's `error` member, from its `type` and `code` (empty
  /// when absent); a literal or a view into `code`.
  virtual std::string_view error_kind(std::string_view type, std::string_view code) const = 0;
  /// Whether a chunk carried a finish_reason (the body may then end without [DONE]).
  virtual bool finish_reason_seen() const = 0;
  virtual void write_complete(std::string& out) = 0;
  virtual void write_failure(std::string_view kind, std::string_view message, std::string& out) = 0;

  /// One event's data: [DONE], or a chunk.
  bool on_event(std::string_view data, std::string& out);

  std::string_view generic_error_;
  SseParser parser_;
  ChatChunkParser chunks_;
  std::vector<SseEvent> events_;
  bool done_ = false;
  bool failed_ = false;
  std::optional<Usage> usage_;
  std::int64_t cache_write_ = 0;
};

}  // namespace sb::adapters
