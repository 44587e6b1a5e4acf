#pragma once
// An upstream's in-stream error events (OpenAI-wire `data: {"error":...}`, and Anthropic, Gemini
// and Bedrock errors as the translators render them in that shape) reach the client scrubbed like
// error bodies: the backend key, key-shaped tokens, bearer credentials and the upstream host are
// replaced (scrub.h). Content events pass untouched: only an event whose name is `error` or whose
// data is an object with an `error` member is rewritten.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/json_edit.h"
#include "adapters/translator.h"

namespace sb::gateway {

/// One attempt's stream translator with its error events scrubbed. Translators emit whole
/// canonical events (`event: NAME\n`?, `data: ...\n` lines, a blank line), so events split on
/// "\n\n". Not thread-safe; one per attempt.
class ScrubbedStream final : public adapters::StreamTranslator {
 public:
  ScrubbedStream(adapters::StreamTranslator& inner, std::string_view secret, std::string_view host)
      : inner_(inner), secret_(secret), host_(host) {}

  bool feed(std::string_view bytes, std::string& out) override;
  bool finish(std::string& out) override;
  const std::optional<adapters::Usage>& usage() const override { return inner_.usage(); }
  const std::optional<adapters::TranslateError>& error() const override { return inner_.error(); }
  bool relays_openai_chunks() const override { return inner_.relays_openai_chunks(); }

  /// Whether one event's data is an object with a non-null `error` member.
  bool error_data(std::string_view data);
  /// `text` scrubbed of the backend's key and host and of credential-shaped tokens.
  std::string scrub(std::string_view text) const;

 private:
  bool is_error_event(std::string_view event);
  void scrub_errors(std::string& out, std::size_t from);

  adapters::StreamTranslator& inner_;
  std::string_view secret_;
  std::string_view host_;
  std::vector<adapters::JsonMember> members_;
};

}  // namespace sb::gateway
