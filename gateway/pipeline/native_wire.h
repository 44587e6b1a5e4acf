#pragma once
// Native wires: the client's own request sent to a backend that speaks the client's dialect, and
// its answers and streams passed back as they come (usage read on the way). Today: Anthropic's
// Messages API to an Anthropic-format backend (the faithful lane, see messages.h).

#include <optional>
#include <string>
#include <string_view>

#include "adapters/anthropic_native.h"
#include "gateway/pipeline/upstream_wire.h"

namespace sb::gateway::chat {

/// A Messages request to an Anthropic backend, as the client sent it.
class AnthropicNativeWire final : public UpstreamWire {
 public:
  AnthropicNativeWire(const BackendRuntime& b, std::string_view request_id,
                      std::string_view client_body, std::string_view anthropic_version,
                      std::string_view anthropic_beta, std::string_view query)
      : b_(b),
        request_id_(request_id),
        client_body_(client_body),
        version_(anthropic_version),
        beta_(anthropic_beta),
        query_(query) {}

  bool request(const boost::json::object& body, std::string_view text, upstream::Request& up,
               adapters::TranslateError& error) override;
  bool streams(std::string_view content_type) const override;
  adapters::StreamTranslator& stream_translator() override;
  bool read_error_fails(unsigned) const override { return true; }
  WireAnswer answer(unsigned status, std::string_view content_type, std::string body,
                    const boost::beast::http::fields& headers) override;
  bool native() const override { return true; }

 private:
  const BackendRuntime& b_;
  std::string_view request_id_;
  std::string_view client_body_;
  std::string_view version_;
  std::string_view beta_;
  std::string_view query_;
  std::optional<adapters::AnthropicNativeStream> stream_translator_;
  std::string retry_after_;
};

}  // namespace sb::gateway::chat
