#include "gateway/pipeline/request_facts.h"

#include <algorithm>

#include <boost/beast/core/string.hpp>

namespace sb::gateway {

std::string_view upstream_path(Endpoint e) {
  // In the order of the enumerators.
  static constexpr std::string_view kNames[] = {"/chat/completions", "/completions", "/embeddings"};
  const auto i = static_cast<std::size_t>(e);
  return i < std::size(kNames) ? kNames[i] : "/chat/completions";
}

namespace {

unsigned unscannable_bits(const adapters::ChatFacts& f) {
  return (f.token_ids ? config::kUnscannableTokenIds : 0u) |
         (f.audio ? config::kUnscannableAudio : 0u) | (f.files ? config::kUnscannableFiles : 0u) |
         (f.images ? config::kUnscannableImages : 0u);
}

// The first value of header `name` (lower-case), empty when absent.
std::string_view first(std::span<const HeaderLine> headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (boost::beast::iequals(k, name)) {
      return v;
    }
  }
  return {};
}

void collect_endpoint_facts(Endpoint endpoint, const boost::json::object& body,
                            adapters::ChatFacts& chat) {
  switch (endpoint) {
    case Endpoint::chat:
      adapters::collect_chat_facts(body, chat);
      break;
    case Endpoint::completions:
      adapters::collect_completion_facts(body, chat);
      break;
    case Endpoint::embeddings:
      adapters::collect_embedding_facts(body, chat);
      break;
  }
}

// Everything any backend may receive: the body, the body it was translated from, the query string
// and the forwardable headers (names and values), appended to the body's text so that the detector
// scans one buffer without joining copies. Returns the unscannable bits of both bodies.
unsigned gather_scanned_text(std::span<const HeaderLine> headers, FactsStorage& storage,
                             const adapters::ChatFacts* original) {
  unsigned unscannable = unscannable_bits(storage.chat);
  std::string& all = storage.chat.text;
  const auto add = [&all](std::string_view line) {
    if (!line.empty()) {
      all += all.empty() ? "" : "\n";
      all += line;
    }
  };
  if (original != nullptr) {
    add(original->text);
    unscannable |= unscannable_bits(*original);
  }
  if (const adapters::ChatFacts* repeated = storage.repeated.get()) {
    add(repeated->text);
    unscannable |= unscannable_bits(*repeated);
    // The bound covers what is sent: every value of a repeated key.
    storage.chat.prompt_tokens_bound =
        std::max(storage.chat.prompt_tokens_bound, repeated->prompt_tokens_bound);
  }
  add(storage.query);
  forwardable_headers(headers, storage.forwardable);
  for (const auto& [name, value] : storage.forwardable) {
    add(name);
    add(value);
  }
  storage.chat.texts.clear();
  if (!all.empty()) {
    storage.chat.texts.emplace_back(all);
  }
  return unscannable;
}

// Every x-data-classification line counts: one value, or all of them comma-joined.
std::string_view classification_of(std::span<const HeaderLine> headers, std::string& joined) {
  std::string_view classification;
  std::size_t occurrences = 0;
  joined.clear();
  for (const auto& [name, value] : headers) {
    if (!value.empty() && boost::beast::iequals(name, "x-data-classification")) {
      if (occurrences++ > 0) {
        joined.push_back(',');
      }
      joined += value;
      classification = value;
    }
  }
  return occurrences > 1 ? std::string_view(joined) : classification;
}

}  // namespace

void scan_repeated_keys(std::string_view body, FactsStorage& storage) {
  storage.repeated = std::make_unique<adapters::ChatFacts>();
  adapters::collect_raw_facts(body, *storage.repeated);
}

void collect_original_facts(const boost::json::object& dom, std::string_view text, bool repeated,
                            adapters::ChatFacts& out) {
  if (repeated) {
    adapters::collect_raw_facts(text, out);
  } else {
    adapters::collect_body_facts(dom, out);
  }
}

policies::RequestFacts request_facts(Endpoint endpoint, const boost::json::object& body,
                                     std::string_view model, std::size_t tenant,
                                     const config::Config& config,
                                     std::span<const HeaderLine> headers, FactsStorage& storage,
                                     const adapters::ChatFacts* original,
                                     std::string_view floor_level) {
  collect_endpoint_facts(endpoint, body, storage.chat);
  return collected_request_facts(model, tenant, config, headers, storage, original, floor_level);
}

policies::RequestFacts collected_request_facts(std::string_view model, std::size_t tenant,
                                               const config::Config& config,
                                               std::span<const HeaderLine> headers,
                                               FactsStorage& storage,
                                               const adapters::ChatFacts* original,
                                               std::string_view floor_level) {
  const unsigned unscannable = gather_scanned_text(headers, storage, original);
  std::string_view classification = classification_of(headers, storage.classification);
  if (!floor_level.empty()) {
    // A floor counts as a classification the client sent: the highest level named wins.
    std::string joined(classification);
    if (!joined.empty()) {
      joined += ',';
    }
    joined += floor_level;
    storage.classification = std::move(joined);
    classification = storage.classification;
  }
  storage.headers.clear();
  for (const std::string& name : config.policy_headers) {
    if (const std::string_view v = first(headers, name); !v.empty()) {
      storage.headers.emplace_back(name, v);
    }
  }
  const adapters::ChatFacts& chat = storage.chat;
  policies::RequestFacts facts;
  facts.tenant = tenant;
  facts.model = model;
  facts.texts = storage.chat.texts;
  facts.classification_header = classification;
  facts.tier_header = first(headers, "x-capability-tier");
  facts.estimated_prompt_tokens = chat.estimated_prompt_tokens;
  facts.max_tokens = chat.max_tokens;
  facts.choices = chat.choices;
  facts.tools = chat.tools;
  facts.images = chat.images;
  facts.json_schema = chat.json_schema;
  facts.unscannable = unscannable;
  facts.depth = chat.depth;
  facts.reasoning_effort = chat.reasoning_effort;
  facts.headers = storage.headers;
  return facts;
}

}  // namespace sb::gateway
