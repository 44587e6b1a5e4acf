#pragma once
// Picking one endpoint (replica) of a pooled backend for one try: power of two choices on load,
// or prefix affinity bounded by load (`affinity:` on the backend).
//
// Pure: values in, an index out; no clock, no atomics, no randomness of its own (the caller
// passes a random word), so tests drive every branch with invented loads.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sb::gateway::pool {

/// The most candidates pick() considers (config::kMaxEndpoints; checked where both are seen).
inline constexpr std::size_t kMaxCandidates = 64;

/// One endpoint as the picker sees it.
struct Candidate {
  bool admits = true;  ///< its circuit lets a request through (closed or half-open) and healthy
  /// Engine waiting + running when its signals are fresh, else the gateway's in-flight count.
  double load = 0;
  double kv_cache = -1;  ///< 0..1 when known (fresh), else negative; breaks ties of load
};

/// What a pick may use beyond the candidates.
struct PickOptions {
  /// The request's prefix hash (prefix_hash()): affinity on; nullopt: plain power of two choices.
  std::optional<std::uint64_t> prefix;
  /// Bounded load: the affine endpoint is skipped while its load exceeds factor x mean + 1.
  double max_load_factor = 1.25;
  /// An endpoint to avoid when another admits (the one a failed try of this request used).
  std::optional<std::size_t> avoid;
  std::uint64_t random = 0;  ///< a random word (two choices are drawn from it)
};

/// The endpoint to send to, or nullopt when no candidate admits.
///   - affinity (prefix set): endpoints in rendezvous-hash order of (prefix, index); the first
///     whose load <= max_load_factor x mean load (over admitting candidates) + 1;
///   - else two distinct admitting candidates drawn from `random`, the lower load wins (lower
///     KV use on a tie, then the first drawn).
/// `avoid` is left out when any other candidate admits. Candidates past kMaxCandidates are not
/// considered.
std::optional<std::size_t> pick(std::span<const Candidate> candidates, const PickOptions& options);

/// FNV-1a (64-bit) over the first `max_bytes` bytes of `texts` taken in order as one string.
std::uint64_t prefix_hash(std::span<const std::string_view> texts, std::size_t max_bytes);

/// The rendezvous (highest random weight) score of endpoint `index` for `prefix`.
std::uint64_t rendezvous_score(std::uint64_t prefix, std::size_t index);

}  // namespace sb::gateway::pool
