#include "gateway/pipeline/scrubbed_stream.h"

#include "adapters/text_find.h"
#include "gateway/pipeline/scrub.h"

namespace sb::gateway {

bool ScrubbedStream::feed(std::string_view bytes, std::string& out) {
  const std::size_t from = out.size();
  const bool ok = inner_.feed(bytes, out);
  if (ok && inner_.relays_openai_chunks()) {
    // The relay fails on each error event it passes, as this file defines one, and passes
    // nothing after it: bytes it accepted hold none.
    return true;
  }
  scrub_errors(out, from);
  return ok;
}

bool ScrubbedStream::finish(std::string& out) {
  const std::size_t from = out.size();
  const bool ok = inner_.finish(out);
  scrub_errors(out, from);
  return ok;
}

bool ScrubbedStream::error_data(std::string_view data) {
  if (!adapters::scan_object(data, members_)) {
    return false;
  }
  for (const adapters::JsonMember& m : members_) {
    if (m.key == "error" && adapters::raw_value(data, m) != "null") {
      return true;
    }
  }
  return false;
}

std::string ScrubbedStream::scrub(std::string_view text) const {
  return scrub_upstream_text(text, secret_, host_);
}

bool ScrubbedStream::is_error_event(std::string_view event) {
  if (event.starts_with("event: error\n")) {
    return true;
  }
  for (std::size_t at = event.find("data: "); at != std::string_view::npos;
       at = event.find("\ndata: ", at)) {
    if (event[at] == '\n') {
      ++at;
    }
    at += 6;
    const std::size_t eol = event.find('\n', at);
    if (error_data(event.substr(at, eol == std::string_view::npos ? eol : eol - at))) {
      return true;
    }
    if (eol == std::string_view::npos) {
      break;
    }
    at = eol;
  }
  return false;
}

void ScrubbedStream::scrub_errors(std::string& out, std::size_t from) {
  if (adapters::find_text(out, "error", from) == std::string::npos) {
    return;  // the usual case: no event in this piece can be an error
  }
  std::string rebuilt;
  std::size_t copied = from;  // rebuilt replaces out[from, copied)
  std::size_t at = from;
  while (at < out.size()) {
    std::size_t end = out.find("\n\n", at);
    end = end == std::string::npos ? out.size() : end + 2;
    const std::string_view event(out.data() + at, end - at);
    if (event.find("error") != std::string_view::npos && is_error_event(event)) {
      rebuilt.append(out, copied, at - copied);
      rebuilt += scrub(event);
      copied = end;
    }
    at = end;
  }
  if (copied != from) {
    rebuilt.append(out, copied, std::string::npos);
    out.replace(from, std::string::npos, rebuilt);
  }
}

}  // namespace sb::gateway
