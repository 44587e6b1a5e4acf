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
  // Within the typed reading's memory budget (typed_heap_budget): a body of a hostile shape,
  // thousands of empty objects, is refused as too large rather than read at ~100x its size.
  Result<ChatRequest, ParseError> typed = parse_chat_request(raw, {}, false);
  if (!typed && typed.error().code == kOverBudget) {
    return TranslateError{413,
                          "The request holds too many small values for the gateway to translate "
                          "it for this backend: send fewer, larger messages or parts, or route it "
                          "to an OpenAI-compatible backend.",
                          kOverBudget};
  }
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
