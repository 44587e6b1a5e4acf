// `responses:`: the store behind the Responses API's `previous_response_id` (memory, the Redis of
// `state:`, or none), its entries' lifetime and its bounds.
#include <array>
#include <string>

#include "policies/config/builder.h"

namespace sb::config::detail {
namespace {

constexpr std::array<std::string_view, 3> kResponseStores{"memory", "redis", "none"};
// Far enough for any retention policy, near enough that now + ttl never overflows a clock.
constexpr Duration kMaxResponseTtl{365LL * 24 * 3600 * 1000};
// Redis refuses strings above 512 MiB; the memory store keeps the same ceiling.
constexpr std::uint64_t kMaxResponseEntryBytes = 512ull << 20;
constexpr std::uint64_t kMaxResponseEntries = 1'000'000'000;

}  // namespace

// `responses:` (all keys optional). The store defaults to the state's: redis when `state.store`
// is redis, so replicas behind one load balancer see each other's responses. Reads after `state:`.
void ConfigBuilder::read_responses(const std::optional<Located>& section) {
  ResponsesSettings& s = config_.responses;
  const bool state_redis = config_.state.store == StateSettings::Store::redis;
  s.store = state_redis ? ResponsesSettings::Store::redis : ResponsesSettings::Store::memory;
  if (!section) {
    return;
  }
  std::optional<Located> store, ttl, max_entries, max_bytes, max_entry_bytes;
  const Kept keys[] = {
      {"store", &store},
      {"ttl", &ttl},
      {"max_entries", &max_entries},
      {"max_bytes", &max_bytes},
      {"max_entry_bytes", &max_entry_bytes},
  };
  if (!read_kept(*section, keys)) {
    return;
  }
  if (store) {
    if (std::optional<std::string> m = r_.one_of(*store, "store", kResponseStores)) {
      if (*m == "redis" && !state_redis) {
        r_.error(*store,
                 "store 'redis' needs state.store: redis (its url, credentials and "
                 "prefix are used)");
      }
      s.store = *m == "redis"  ? ResponsesSettings::Store::redis
                : *m == "none" ? ResponsesSettings::Store::none
                               : ResponsesSettings::Store::memory;
    }
  }
  if (ttl) {
    assign(s.ttl, r_.duration_at_most(*ttl, kMaxResponseTtl, "must be at most 8760h (one year)"));
  }
  if (max_entries) {
    assign(s.max_entries, r_.integer(*max_entries, 1, kMaxResponseEntries,
                                     "expected a positive integer up to 1000000000"));
  }
  if (max_bytes) {
    assign(s.max_bytes, r_.size(*max_bytes, false));
  }
  read_response_entry_bytes(max_entry_bytes, max_bytes.has_value());
  std::vector<std::string> unused;
  if (s.store != ResponsesSettings::Store::memory) {
    for (const Kept& k : keys) {
      if (*k.slot && (k.key == "max_entries" || k.key == "max_bytes")) {
        unused.emplace_back(k.key);
      }
    }
  }
  if (!unused.empty()) {
    config_.notices.push_back("responses: " + join(unused) +
                              " unused: they bound store 'memory' only (Redis entries are bounded "
                              "by ttl, max_entry_bytes and the server's maxmemory)");
  }
}

// `responses.max_entry_bytes`: at most 512 MiB, and for the memory store at most max_bytes (an
// entry larger than the whole store could never be kept).
void ConfigBuilder::read_response_entry_bytes(const std::optional<Located>& v,
                                              bool max_bytes_given) {
  ResponsesSettings& s = config_.responses;
  const bool memory = s.store == ResponsesSettings::Store::memory;
  if (!v) {
    if (memory && s.max_entry_bytes > s.max_bytes) {
      s.max_entry_bytes = s.max_bytes;  // only max_bytes was lowered: entries follow it
    }
    return;
  }
  std::optional<std::uint64_t> n = r_.size(*v, false);
  if (!n) {
    return;
  }
  if (*n > kMaxResponseEntryBytes) {
    r_.error(*v, "must be at most 512MiB");
  } else if (memory && *n > s.max_bytes) {
    r_.error(*v, "must not be more than max_bytes (" + std::to_string(s.max_bytes) +
                     (max_bytes_given ? ")" : ", the default)"));
  } else {
    s.max_entry_bytes = *n;
  }
}

}  // namespace sb::config::detail
