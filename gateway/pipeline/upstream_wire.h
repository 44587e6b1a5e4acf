#pragma once
// How one attempt speaks to its backend: the parts in which the pass-through (the OpenAI-
// compatible family and Azure) and the translated providers differ. The attempt's skeleton
// (chat_attempt.cc) is shared: build the upstream request → exchange → judge the status → relay
// the stream or read and convert the answer.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>


#include "adapters/azure.h"
#include "adapters/openai_compatible.h"
#include "adapters/translator.h"
#include "adapters/upstream/client.h"
#include "gateway/net/forwarding.h"
#include "gateway/pipeline/request_facts.h"
#include "gateway/pipeline/wire_body.h"
#include "gateway/runtime/snapshot.h"

namespace sb::gateway::chat {

/// An upstream's complete answer, in OpenAI's shape (the client's dialect is applied after).
struct WireAnswer {
  unsigned status = 200;  ///< 200: an answer; else the client's status for an error
  std::string body;       ///< the OpenAI answer, or an OpenAI-shaped error body, scrubbed
  std::string_view content_type;
  std::optional<adapters::Usage> usage;
  bool failed = false;           ///< counts against the backend (its circuit, upstream_errors)
  bool retryable = false;        ///< another try may do better
  std::string_view retry_after;  ///< the provider's wait, read from its body (translated)
};

class UpstreamWire {
 public:
  virtual ~UpstreamWire() = default;
  /// Builds the upstream request into `up`; false (with `error`) when the provider cannot
  /// express the request.
  virtual bool request(WireBody& body, upstream::Request& up, adapters::TranslateError& error) = 0;
  /// Whether the request asked for a stream (known once request() succeeded).
  bool streaming() const { return stream_; }
  /// Whether a 200 answer with this Content-Type is relayed as a stream.
  virtual bool streams(std::string_view content_type) const = 0;
  /// The stream's translator (to OpenAI chunks), for one stream.
  virtual adapters::StreamTranslator& stream_translator() = 0;
  /// Whether an error reading a complete answer of this status fails the attempt.
  virtual bool read_error_fails(unsigned status) const = 0;
  /// A complete answer (any status) converted.
  virtual WireAnswer answer(unsigned status, std::string_view content_type, std::string body,
                            const upstream::ResponseHead& headers) = 0;
  /// Whether answers, errors and streams are already in the client's dialect (a native wire:
  /// the client's request sent as it came), not OpenAI's.
  virtual bool native() const { return false; }

 protected:
  bool stream_ = false;
};

/// The OpenAI wire as it is (OpenAI-compatible engines, Azure OpenAI): the client's bytes with
/// the model replaced and the engine's quirks applied.
class PassThroughWire final : public UpstreamWire {
 public:
  PassThroughWire(const BackendRuntime& b, Endpoint endpoint, std::string_view request_id,
                  std::span<const HeaderLine> forwardable)
      : b_(b), endpoint_(endpoint), request_id_(request_id), forwardable_(forwardable) {}

  bool request(WireBody& body, upstream::Request& up, adapters::TranslateError& error) override;
  bool streams(std::string_view content_type) const override;
  adapters::StreamTranslator& stream_translator() override;
  bool read_error_fails(unsigned status) const override { return status == 200; }
  WireAnswer answer(unsigned status, std::string_view content_type, std::string body,
                    const upstream::ResponseHead& headers) override;

 private:
  const BackendRuntime& b_;
  Endpoint endpoint_;
  std::string_view request_id_;
  std::span<const HeaderLine> forwardable_;
  bool client_wants_usage_ = false;
  // Made for a stream only, on the heap: the wire lives in the try's coroutine frame, which the
  // two translators inline (about 1,250 bytes) would put past what Asio recycles.
  std::unique_ptr<adapters::StreamTranslator> translator_;
};

/// Copies a translator's request into `up` with the headers every upstream request carries
/// (Accept-Encoding identity, x-request-id, the backend's configured headers).
void to_upstream_request(adapters::UpstreamRequest ureq, std::string_view request_id,
                         const BackendRuntime& b, upstream::Request& up);

/// A provider with its own wire format: its translator builds the request and converts answers
/// and streams.
class TranslatedWire final : public UpstreamWire {
 public:
  TranslatedWire(const BackendRuntime& b, std::string_view request_id, std::string_view alias);

  bool request(WireBody& body, upstream::Request& up, adapters::TranslateError& error) override;
  bool streams(std::string_view) const override { return stream_; }
  adapters::StreamTranslator& stream_translator() override;
  bool read_error_fails(unsigned) const override { return true; }
  WireAnswer answer(unsigned status, std::string_view content_type, std::string body,
                    const upstream::ResponseHead& headers) override;

 private:
  const BackendRuntime& b_;
  std::string_view request_id_;
  std::string_view alias_;
  std::unique_ptr<adapters::ChatTranslator> translator_;
  bool client_wants_usage_ = false;
  std::unique_ptr<adapters::StreamTranslator> stream_translator_;
  std::optional<std::string> retry_after_;
};

}  // namespace sb::gateway::chat
