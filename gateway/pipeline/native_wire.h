#pragma once
// Native wires: the client's own request sent to a backend that speaks the client's dialect, and
// its answers and streams passed back as they come (usage read on the way): Anthropic's Messages
// API to an Anthropic-format backend (the faithful lane, see messages.h), and OpenAI's Responses
// API to OpenAI and Azure OpenAI (see responses.h).

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "adapters/anthropic_native.h"
#include "adapters/responses_native.h"
#include "gateway/pipeline/upstream_wire.h"

namespace sb::gateway::chat {

/// What both native wires share: the client's body, sent on; the answer in the client's dialect
/// (never converted); a stream relayed by `Stream` (an adapters::NativeEventStream).
template <class Stream>
class NativeWire : public UpstreamWire {
 public:
  bool streams(std::string_view content_type) const override {
    return stream_ && content_type.substr(0, 17) == "text/event-stream";
  }
  adapters::StreamTranslator& stream_translator() override { return stream_translator_.emplace(); }
  bool read_error_fails(unsigned) const override { return true; }
  bool native() const override { return true; }

 protected:
  NativeWire(const BackendRuntime& b, std::string_view request_id, std::string_view client_body)
      : b_(b), request_id_(request_id), client_body_(client_body) {}

  const BackendRuntime& b_;
  std::string_view request_id_;
  std::string_view client_body_;
  std::optional<Stream> stream_translator_;
};

/// A Messages request to an Anthropic backend, as the client sent it.
class AnthropicNativeWire final : public NativeWire<adapters::AnthropicNativeStream> {
 public:
  AnthropicNativeWire(const BackendRuntime& b, std::string_view request_id,
                      std::string_view client_body, std::string_view anthropic_version,
                      std::string_view anthropic_beta, std::string_view query)
      : NativeWire(b, request_id, client_body),
        version_(anthropic_version),
        beta_(anthropic_beta),
        query_(query) {}

  bool request(WireBody& body, upstream::Request& up, adapters::TranslateError& error) override;
  WireAnswer answer(unsigned status, std::string_view content_type, std::string body,
                    const upstream::ResponseHead& headers) override;

 private:
  std::string_view version_;
  std::string_view beta_;
  std::string_view query_;
  std::string retry_after_;
};

/// A Responses request to an OpenAI or Azure OpenAI backend, as the client sent it (only `model`
/// and an over-cap `max_output_tokens` changed, adapters/responses_native.h). Credentials as the
/// chat lane sends them (PassThroughWire), the client's headers by the forward_headers rules.
/// Answers, 4xx errors and streams go back as they came; a 5xx becomes an OpenAI-shaped 502.
class ResponsesNativeWire final : public NativeWire<adapters::ResponsesNativeStream> {
 public:
  /// `keep_response`: keep the final Response object's text (final_response()) for the store.
  ResponsesNativeWire(const BackendRuntime& b, std::string_view request_id,
                      std::string_view client_body, std::span<const HeaderLine> forwardable,
                      bool keep_response)
      : NativeWire(b, request_id, client_body),
        forwardable_(forwardable),
        keep_response_(keep_response) {}

  bool request(WireBody& body, upstream::Request& up, adapters::TranslateError& error) override;
  WireAnswer answer(unsigned status, std::string_view content_type, std::string body,
                    const upstream::ResponseHead& headers) override;

  /// The Response object of a complete answer or stream ("" when none, or not kept).
  const std::string& final_response() const;
  /// The stream's relay, once stream_translator() made it (nullptr before).
  const adapters::ResponsesNativeStream* stream() const {
    return stream_translator_ ? &*stream_translator_ : nullptr;
  }

 private:
  std::span<const HeaderLine> forwardable_;
  bool keep_response_;
  std::string response_;  ///< a non-stream answer's body, when kept
};

}  // namespace sb::gateway::chat
