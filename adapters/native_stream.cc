#include "adapters/native_stream.h"

namespace sb::adapters {

bool NativeEventStream::feed(std::string_view bytes, std::string& out) {
  // Whole events only, and nothing after the terminal event (see SseEventRelay).
  const bool within_limit = relay_.feed(bytes, out, [this](const SseEvent& ev) {
    on_event(ev);
    return !failed_ && !done_;
  });
  if (!within_limit) {
    fail(502, "upstream sent a stream event larger than " + std::to_string(max_event_bytes_ >> 20) +
                  " MiB");
    return false;
  }
  return !failed_;
}

bool NativeEventStream::finish(std::string& /*out*/) {
  if (done_) {
    return true;
  }
  if (!failed_) {
    fail(502, "upstream stream ended before " + std::string(terminal_));
  }
  relay_.stop();
  return false;
}

void NativeEventStream::fail(unsigned status, std::string message) {
  failed_ = true;
  error_ = TranslateError{status, std::move(message)};
}

}  // namespace sb::adapters
