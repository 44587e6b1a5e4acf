#include "adapters/sse.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/text_find.h"

namespace sb::adapters {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

/// Offset just past the line ending that starts at `pos` (CRLF counts as one).
std::size_t skip_line_end(std::string_view s, std::size_t pos) {
  if (s[pos] == '\r' && pos + 1 < s.size() && s[pos + 1] == '\n') {
    return pos + 2;
  }
  return pos + 1;
}

}  // namespace

bool SseParser::overflows(std::size_t more) {
  const std::size_t held = line_.size() + current_.data.size() + current_.event.size();
  if (held + more > max_event_bytes_) {
    failed_ = true;
    line_.clear();
    line_.shrink_to_fit();
    current_ = SseEvent{};
  }
  return failed_;
}

bool SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed_) {
    return false;
  }
  if (!bom_done_) {
    // The spec strips one U+FEFF at the very start of the stream; it may arrive split.
    while (!bytes.empty() && bom_matched_ < kBom.size() && bytes.front() == kBom[bom_matched_]) {
      ++bom_matched_;
      bytes.remove_prefix(1);
    }
    if (bom_matched_ == kBom.size()) {
      bom_done_ = true;
    } else if (!bytes.empty()) {
      // Not a BOM after all: the bytes taken so far belong to the first line.
      bom_done_ = true;
      line_.append(kBom.substr(0, bom_matched_));
    } else {
      return true;
    }
  }
  if (pending_cr_ && !bytes.empty()) {
    // The previous feed ended in CR; an LF now completes the same CRLF line ending.
    pending_cr_ = false;
    if (bytes.front() == '\n') {
      bytes.remove_prefix(1);
    }
  }

  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    const std::size_t eol = find_line_end(bytes, i);
    if (eol == std::string_view::npos) {
      if (overflows(n - i)) {
        return false;
      }
      line_.append(bytes.data() + i, n - i);
      break;
    }
    if (overflows(eol - i)) {
      return false;
    }
    if (line_.empty()) {
      on_line(bytes.substr(i, eol - i), out);
    } else {
      line_.append(bytes.data() + i, eol - i);
      on_line(line_, out);
      line_.clear();
    }
    if (bytes[eol] == '\r' && eol + 1 == n) {
      pending_cr_ = true;
      i = n;
    } else {
      i = skip_line_end(bytes, eol);
    }
  }
  event_bytes_ = current_.data.size() + current_.event.size();
  return true;
}

std::optional<std::string_view> SseParser::canonical_event(std::string_view bytes,
                                                           std::size_t& size) {
  constexpr std::string_view kData = "data: ";
  if (failed_ || pending_cr_ || !line_.empty() || has_fields_ ||
      (!bom_done_ && bom_matched_ != 0) || !bytes.starts_with(kData)) {
    return std::nullopt;  // (the start of a byte order mark is held: feed() decides)
  }
  bom_done_ = true;  // the stream's first bytes start with `d`: not a byte order mark
  const std::size_t eol = find_line_end(bytes, kData.size());
  if (eol == std::string_view::npos || eol + 1 >= bytes.size() || bytes[eol] != '\n' ||
      bytes[eol + 1] != '\n' || eol > max_event_bytes_) {
    return std::nullopt;  // CR endings, more lines, an event not whole yet, or over the limit
  }
  size = eol + 2;
  return bytes.substr(kData.size(), eol - kData.size());
}

void SseParser::on_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    // Blank line: dispatch. The last event id persists across events, as the spec says.
    if (has_data_ || !current_.event.empty()) {
      out.push_back(SseEvent{std::move(current_.event), std::move(current_.data), current_.id});
    }
    current_.event.clear();
    current_.data.clear();
    has_data_ = false;
    has_fields_ = false;
    return;
  }
  if (line.front() == ':') {
    return;  // comment (often a keep-alive)
  }
  std::string_view field = line;
  std::string_view value;
  if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
  }
  has_fields_ = true;
  if (field == "data") {
    if (has_data_) {
      current_.data.push_back('\n');
    }
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      current_.id.assign(value);
    }
  }
  // "retry" and unknown fields are ignored: a relay has no reconnection to schedule.
}

std::size_t SseEventRelay::next_boundary(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\n' && prev_cr_) {
      // The LF of a CRLF: the line already ended at the CR.
      prev_cr_ = false;
      if (blank_cr_) {
        blank_cr_ = false;
        return i + 1;  // the rest of a blank line whose CR ended the previous segment
      }
      continue;
    }
    prev_cr_ = false;
    blank_cr_ = false;
    if (c != '\n' && c != '\r') {
      ++line_len_;
      continue;
    }
    const bool blank = line_len_ == 0;
    line_len_ = 0;
    if (c == '\r') {
      if (i + 1 < bytes.size() && bytes[i + 1] == '\n') {
        ++i;  // CRLF together
      } else {
        prev_cr_ = true;
        blank_cr_ = blank;
      }
    }
    if (blank) {
      return i + 1;  // a blank line ends an event
    }
  }
  return std::string_view::npos;
}

bool SseEventRelay::relay_segment(std::string_view& bytes, std::string& out) {
  const std::size_t boundary = next_boundary(bytes);
  const std::string_view segment = bytes.substr(0, boundary);
  bytes.remove_prefix(segment.size());
  events_.clear();
  const bool within_limit = parser_.feed(segment, events_);
  if (!within_limit) {
    held_.clear();  // an event over the limit never goes out, whole or in part
    return false;
  }
  if (boundary == std::string_view::npos) {
    held_.append(segment);
  } else {
    out += held_;
    out.append(segment);
    held_.clear();
  }
  return within_limit;
}

void SseEventRelay::after_stop(std::string_view bytes, std::string& out) {
  if (bytes.empty()) {
    return;
  }
  if (blank_cr_ && bytes.front() == '\n') {
    out += '\n';
  }
  blank_cr_ = prev_cr_ = false;
}

void append_sse(std::string& out, std::string_view data, std::string_view event) {
  out.reserve(out.size() + data.size() + event.size() + 16);
  if (!event.empty()) {
    // A line break inside the name would forge extra fields; keep only its first line.
    const std::size_t eol = find_line_end(event, 0);
    out.append("event: ");
    out.append(event.substr(0, eol));
    out.push_back('\n');
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t eol = find_line_end(data, start);
    out.append("data: ");
    if (eol == std::string_view::npos) {
      out.append(data.substr(start));
      out.push_back('\n');
      break;
    }
    out.append(data.substr(start, eol - start));
    out.push_back('\n');
    start = skip_line_end(data, eol);
  }
  out.push_back('\n');
}

}  // namespace sb::adapters
