#include "adapters/chat_chunks.h"

#include <cstddef>
#include <optional>

#include "adapters/translator.h"

namespace sb::adapters {

ChatChunkReader::ChatChunkReader(std::string_view generic_error)
    : generic_error_(generic_error),
      // The bytes fed here are the OpenAI-wire relay of any provider, whose events are already
      // capped upstream (Gemini's at 16 MiB, the largest): the same cap here drops nothing.
      parser_(16 * 1024 * 1024) {}

bool ChatChunkReader::feed(std::string_view bytes, std::string& out) {
  // The relay writes whole events in the canonical form: each is read where it stands, not
  // copied into an SseEvent first. Anything after [DONE] is not part of the answer.
  std::size_t size = 0;
  while (!failed_ && !done_) {
    const std::optional<std::string_view> data = parser_.canonical_event(bytes, size);
    if (!data) {
      break;
    }
    bytes.remove_prefix(size);
    if (!on_event(*data, out)) {
      return false;
    }
  }
  return feed_frames(
      parser_, bytes, events_, failed_, done_,
      [&](const SseEvent& ev) { return on_event(ev.data, out); },
      [&] {
        fail(generic_error_, "upstream sent an event larger than the gateway accepts", out);
        return false;
      });
}

bool ChatChunkReader::finish(std::string& out) {
  if (done_) {
    return true;
  }
  if (failed_) {
    return false;
  }
  if (finish_reason_seen()) {
    complete(out);
    return true;
  }
  fail(generic_error_, "upstream stream ended before the answer was complete", out);
  return false;
}

bool ChatChunkReader::on_event(std::string_view data, std::string& out) {
  if (data == "[DONE]") {
    complete(out);
    return true;
  }
  ChatChunk chunk;
  if (!chunks_.parse(data, chunk)) {
    fail(generic_error_, "upstream sent an event that is not a JSON object", out);
    return false;
  }
  if (chunk.has_error) {
    // An object with type, code and message, or a bare string (the message).
    fail(error_kind(chunk.error_type, chunk.error_code),
         chunk.error_message.empty() ? "upstream stream error" : chunk.error_message, out);
    return false;
  }
  if (chunk.usage) {
    usage_ = chunk.usage;
    if (cache_write_ > 0) {
      usage_->cache_write = cache_write_;
    }
  }
  on_chunk(chunk, out);
  return true;
}

void ChatChunkReader::complete(std::string& out) {
  write_complete(out);
  done_ = true;
}

void ChatChunkReader::fail(std::string_view kind, std::string_view message, std::string& out) {
  if (failed_) {
    return;
  }
  write_failure(kind, message, out);
  failed_ = true;
}

}  // namespace sb::adapters
