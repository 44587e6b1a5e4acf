#include "gateway/pipeline/chunk_source.h"

#include "adapters/json_edit.h"
#include "adapters/openai_compatible.h"
#include "adapters/text_find.h"
#include "adapters/usage.h"
#include "gateway/pipeline/scrubbed_stream.h"

namespace sb::gateway {

using adapters::OpenAIStreamTranslator;
using adapters::TranslateError;

ChunkSource::ChunkSource(ScrubbedStream& attempt, adapters::ChatChunkReader& writer)
    : attempt_(attempt), writer_(writer), direct_(attempt.relays_openai_chunks()) {}

const std::optional<adapters::Usage>& ChunkSource::usage() const {
  if (!direct_) {
    return attempt_.usage();
  }
  // What the writer did not read came after all it read: the last report.
  return unread_usage_ ? unread_usage_ : writer_.usage();
}

const std::optional<TranslateError>& ChunkSource::error() const {
  return direct_ ? error_ : attempt_.error();
}

bool ChunkSource::feed(std::string_view bytes, std::string& out) {
  if (!direct_) {
    scratch_.clear();
    const bool ok = attempt_.feed(bytes, scratch_);
    if (attempt_.usage() && attempt_.usage()->cache_write > 0) {
      writer_.set_cache_write(attempt_.usage()->cache_write);  // not in the OpenAI usage chunk
    }
    const bool written = writer_.feed(scratch_, out);
    return ok && written;
  }
  if (error_) {
    return false;
  }
  // Whole canonical events (`data: {...}\n\n`, as the engines send them) are read where they
  // stand; the rest goes through the parser.
  std::size_t size = 0;
  while (const std::optional<std::string_view> data = parser_.canonical_event(bytes, size)) {
    bytes.remove_prefix(size);
    if (!read({}, *data, out)) {
      return false;
    }
  }
  events_.clear();
  const bool within_limit = parser_.feed(bytes, events_);
  for (const adapters::SseEvent& ev : events_) {
    if (!read(ev.event, ev.data, out)) {
      return false;
    }
  }
  if (!within_limit) {
    scratch_.clear();
    error_ = adapters::oversized_stream_event(scratch_);
    writer_.feed(scratch_, out);
    return false;
  }
  return true;
}

bool ChunkSource::read(std::string_view name, std::string_view data, std::string& out) {
  if (data == "[DONE]") {  // whatever the event's name, as the relay reads it
    if (saw_done_) {
      return true;
    }
    saw_done_ = true;
    return writer_.feed_event(data, out);
  }
  // The relay reads an event's members when it may hold an `error` (a `\u` escape may spell
  // one): most chunks hold neither.
  const bool maybe_error = adapters::find_text(data, "error") != std::string_view::npos ||
                           data.find("\\u") != std::string_view::npos;
  if (name == "error" || (maybe_error && attempt_.error_data(data))) {
    // The upstream ended its answer with an error: the writer reads it scrubbed, and fails.
    unread_usage(data);
    scratch_ = attempt_.scrub(data);
    writer_.feed_event(scratch_, out);
    error_ = TranslateError{502, std::string(OpenAIStreamTranslator::kErrorEvent)};
    return false;
  }
  if (saw_done_) {
    unread_usage(data);  // the writer is done; the relay still counts what comes
    return true;
  }
  return writer_.feed_event(data, out);
}

void ChunkSource::unread_usage(std::string_view data) {
  // Its last top-level `usage`, read as the relay reads one: from a scan of the whole object (not
  // usage_from_openai_text, which trusts an answer's end without reading what comes before).
  std::vector<adapters::JsonMember> members;
  if (const std::optional<std::string_view> usage =
          adapters::last_member_value(data, "usage", members)) {
    if (std::optional<adapters::Usage> u = adapters::usage_from_openai_usage_text(*usage)) {
      unread_usage_ = std::move(u);
    }
  }
}

bool ChunkSource::finish(std::string& out) {
  if (!direct_) {
    scratch_.clear();
    const bool ok = attempt_.finish(scratch_);
    if (attempt_.usage() && attempt_.usage()->cache_write > 0) {
      writer_.set_cache_write(attempt_.usage()->cache_write);
    }
    if (!writer_.feed(scratch_, out)) {
      return false;
    }
    // A cut stream is the gateway's to report; a complete one closes the answer.
    return ok && writer_.finish(out);
  }
  if (error_) {
    return false;
  }
  if (!saw_done_) {
    error_ = TranslateError{502, std::string(OpenAIStreamTranslator::kCutShort)};
    return false;
  }
  return writer_.finish(out);
}

}  // namespace sb::gateway
