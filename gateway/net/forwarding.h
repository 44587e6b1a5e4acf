#pragma once
// Which client headers travel upstream. Never: hop-by-hop headers (RFC 9110 §7.6.1) and those
// the client names in Connection, the client's credentials (the backend's own key replaces
// them), the headers the gateway sets or consumes itself, and the client addresses proxies add
// (Forwarded, X-Forwarded-*, X-Real-IP). Of the rest, the first
// kMaxForwardedHeaders within kMaxForwardedBytes (names and values) are forwardable; extras are
// dropped. A self-hosted backend receives every forwardable header but another provider's
// protocol headers (anthropic-*, which Claude Code sends, reach only Anthropic-format backends
// and those naming them in `forward_headers`); a closed one only those on
// its allow-list: user-agent and accept-language, its provider's own protocol headers
// (openai-beta for OpenAI and Azure OpenAI; anthropic-version and anthropic-beta for Anthropic)
// and the backend's `forward_headers`. SDK telemetry (x-stainless-*) is not on it: providers do
// not need it and it describes the client's machine.
//
// Every forwardable header's name and value is scanned with the request (request_facts), so
// what any backend receives has been seen by the detector.

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/upstream/client.h"
#include "gateway/net/handler.h"
#include "policies/config.h"

namespace sb::gateway {

using HeaderLine = std::pair<std::string_view, std::string_view>;

constexpr std::size_t kMaxForwardedHeaders = 64;
constexpr std::size_t kMaxForwardedBytes = 16 * 1024;

/// Every header line of `in`, in order (views into `in`), into a vector or a small vector (the
/// data plane's, so that the usual request's lines take no allocation).
template <class Lines>
void header_lines(const Request& in, Lines& out) {
  out.clear();
  out.reserve(in.field_count());
  for (std::size_t i = 0; i < in.field_count(); ++i) {
    out.emplace_back(in.name(i), in.value(i));
  }
}

/// The forwardable headers among `lines` (bounded, in order); `out` is cleared first.
void forwardable_headers(std::span<const HeaderLine> lines, std::vector<HeaderLine>& out);

/// Copies into `out` those of `forwardable` (what forwardable_headers() chose, and the detector
/// scanned) that `backend` may receive: all of them for a self-hosted backend; for a closed one,
/// its provider's allow-list and its `forward_headers`.
void forward_headers(std::span<const HeaderLine> forwardable, const config::Backend& backend,
                     upstream::Request& out);

}  // namespace sb::gateway
