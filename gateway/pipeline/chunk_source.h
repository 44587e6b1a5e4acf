#pragma once
// The OpenAI chunks a client's stream writer reads from one attempt (adapters::ChatChunkReader:
// the Messages and Responses writers), in one of two ways:
//
// - relayed: the attempt's stream translator (a provider's stream translated to OpenAI chunks,
//   its error events scrubbed) writes canonical SSE, which the writer reads;
// - direct: when that translator only relays an OpenAI-wire upstream's chunks (vLLM, llama.cpp,
//   SGLang, OpenAI: StreamTranslator::relays_openai_chunks), its copy would be read once more by
//   the writer, so the writer reads the upstream's own events, framed once here, and the relay's
//   rules are kept here: an error event (named `error`, or data with a non-null `error` member)
//   fails the stream with the relay's error, its data scrubbed before the writer reads it; an
//   event over 1 MiB fails it with the relay's error event; no `[DONE]` by the end is a cut. The
//   usage is the relay's: the last one an event carried, the events after `[DONE]` included.
//
// Either way the writer's output is the same bytes (tests/gateway/chunk_source_test.cc holds the
// direct reading to the relayed one).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/chat_chunks.h"
#include "adapters/sse.h"
#include "adapters/translator.h"

namespace sb::gateway {

class ScrubbedStream;

/// Not thread-safe; one per attempt, beside its writer.
class ChunkSource {
 public:
  /// `attempt`: the attempt's stream translator, scrubbed; `writer`: the reader of its chunks.
  ChunkSource(ScrubbedStream& attempt, adapters::ChatChunkReader& writer);

  /// Upstream bytes in, the writer's events appended to `out`. False once the stream failed.
  bool feed(std::string_view bytes, std::string& out);
  /// The upstream's body ended: what the writer still owes. False when the stream was cut short
  /// or had failed.
  bool finish(std::string& out);

  /// Whether the writer reads the upstream's own events.
  bool direct() const { return direct_; }
  const std::optional<adapters::Usage>& usage() const;
  const std::optional<adapters::TranslateError>& error() const;

 private:
  /// One upstream event (its `event:` name and data), as the relay would pass it on.
  bool read(std::string_view name, std::string_view data, std::string& out);
  /// The usage of an event the writer does not read (after `[DONE]`, or an error event).
  void unread_usage(std::string_view data);

  ScrubbedStream& attempt_;
  adapters::ChatChunkReader& writer_;
  bool direct_;
  bool saw_done_ = false;
  adapters::SseParser parser_;  // direct: the upstream's events (the relay's 1 MiB bound)
  std::vector<adapters::SseEvent> events_;
  std::string scratch_;  // relayed: the translator's events; direct: an error's, scrubbed
  std::optional<adapters::Usage> unread_usage_;
  std::optional<adapters::TranslateError> error_;
};

}  // namespace sb::gateway
