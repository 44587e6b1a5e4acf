#include "adapters/chat_chunks.h"

#include <cstddef>
#include <optional>
#include <system_error>

#include <boost/json.hpp>

#include "adapters/openai_shapes.h"

namespace sb::adapters {

namespace json = boost::json;

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
  // The chunk's DOM lives in this frame's buffer, a monotonic resource: no allocation per node
  // (none at all for a chunk of the usual few hundred bytes), all of it released at once here.
  // The writers keep nothing of it past on_chunk.
  alignas(std::max_align_t) unsigned char buffer[4096];
  json::monotonic_resource memory(buffer, sizeof buffer);
  boost::system::error_code ec;
  const json::value v = json::parse(data, ec, &memory);
  if (ec || !v.is_object()) {
    fail(generic_error_, "upstream sent an event that is not a JSON object", out);
    return false;
  }
  const json::object& chunk = v.get_object();
  if (const json::value* e = member(chunk, "error")) {
    // An object with type, code and message, or a bare string (the message).
    const json::object* eo = e->if_object();
    const std::string_view message = eo != nullptr ? string_member(*eo, "message") : string_of(e);
    fail(error_kind(string_of(member_of(eo, "type")), string_of(member_of(eo, "code"))),
         message.empty() ? "upstream stream error" : message, out);
    return false;
  }
  if (std::optional<Usage> u = usage_from_openai(v)) {
    usage_ = u;
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
