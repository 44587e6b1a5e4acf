#include "adapters/translator.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/canonical.h"

namespace sb::adapters {

Result<UpstreamRequest, TranslateError> ChatTranslator::request(std::string_view raw,
                                                                const BackendSpec& spec) const {
  if (std::optional<TranslateError> e = unconfigured(spec)) {
    return std::move(*e);
  }
  Result<ChatRequest, ParseError> typed = parse_chat_request(raw, SIZE_MAX, false);
  if (!typed) {
    return TranslateError{400, typed.error().message, typed.error().code, typed.error().param};
  }
  return build_request(*typed, spec);
}

Result<UpstreamRequest, TranslateError> ChatTranslator::request_from(
    const ChatRequest& r, const BackendSpec& spec) const {
  if (std::optional<TranslateError> e = unconfigured(spec)) {
    return std::move(*e);
  }
  return build_request(r, spec);
}

std::optional<TranslateError> IdentifiedTranslator::unconfigured(const BackendSpec& spec) const {
  if (spec.model.empty()) {
    return TranslateError{500,
                          "the " + std::string(provider_) + " backend has no model configured"};
  }
  return std::nullopt;
}

}  // namespace sb::adapters
