#pragma once
// The routing decision: from a request's facts and the live state to an ordered list of backends
// that may serve it, by first-match policies over sensitivity, tier, tenant, model, volume,
// budget, features and headers.
//
// The clearance invariant lives here, in one function (Engine::cleared): every backend in a
// Decision — chosen or fallback — has clearance >= the request's sensitivity, is allowed by the
// tenant's license use, and is not a closed backend under `egress: none`. No policy, strategy or
// fallback can produce a backend that fails it; the gateway checks it again before every send.
//
// Pure: no sockets, no gateway includes. An Engine is immutable and shared by all threads.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policies/config.h"
#include "policies/detector.h"
#include "policies/state.h"

namespace sb::policies {

/// What the gateway knows about a request before routing it. Views into the request; valid for
/// the duration of decide().
struct RequestFacts {
  std::size_t tenant = 0;  ///< index into Config::tenants (the implicit tenant is index 0)
  std::string_view model;  ///< the alias the client asked for
  std::span<const std::string_view> texts;  ///< every text the request carries
  /// Every x-data-classification value, comma-separated (each may be a comma-separated list);
  /// the highest level named counts. Empty when absent.
  std::string_view classification_header;
  std::string_view tier_header;  ///< x-capability-tier, empty when absent
  std::uint64_t estimated_prompt_tokens = 0;
  std::optional<std::uint64_t> max_tokens;  ///< max_tokens / max_completion_tokens
  /// Answers asked for (`n`, and `best_of` on completions): the expected output is this many
  /// times max_tokens (or the default). 0 reads as 1.
  std::uint64_t choices = 1;
  bool tools = false;
  bool images = false;
  bool json_schema = false;
  /// Content the gateway cannot read (config::UnscannableKind bits): it takes
  /// `sensitivity.unscannable.level` when its kind is in `sensitivity.unscannable.kinds`.
  unsigned unscannable = 0;
  std::uint64_t depth = 0;            ///< number of messages
  std::string_view reasoning_effort;  ///< empty when absent
  /// Allow-listed request headers (names lower-case), for when.headers.
  std::span<const std::pair<std::string_view, std::string_view>> headers;
  /// When set, decide() takes these entity counts as what the detectors found instead of
  /// scanning `texts` (replay of a recorded decision). Entity indexes are this engine's
  /// detector's (Detector::entity_names()); an index out of range or a count of 0 is ignored.
  /// The detection's level is the highest Detector::level_of over the counted entities (-1 when
  /// none). Must outlive decide().
  const std::vector<EntityCount>* detected = nullptr;
};

enum class Outcome {
  route,          ///< backends non-empty
  forbidden,      ///< 403: no backend is cleared for this data (or license/egress)
  unavailable,    ///< 503: cleared backends exist but none can take the request now
  shed,           ///< 429: a rule sheds this load
  bad_request,    ///< 400: e.g. an x-data-classification or x-capability-tier value not configured
  unknown_model,  ///< 404: the requested model is not a configured alias
};
std::string_view to_string(Outcome o);

/// Where a Decision's tier came from (Decision::tier_source).
enum class TierSource : std::uint8_t { default_tier, header, alias, inferred };
/// "default", "header", "alias" or "infer" (the audit trail writes "infer[N]" with tier_rule).
std::string_view to_string(TierSource s);

/// Why a `spill` rule sent a request past its self-hosted backends.
enum class SpillReason : std::uint8_t {
  none,
  queue,      ///< engine queue at or above headroom.queue on every fresh endpoint
  kv_cache,   ///< KV cache at or above headroom.kv_cache
  in_flight,  ///< gateway in-flight at or above headroom.in_flight x max_in_flight
  stale,      ///< signals stale and on_stale: full
};
std::string_view to_string(SpillReason r);  ///< "none", "queue", "kv_cache", "in_flight", "stale"

/// The load of one backend as a decision saw it (explain and the audit trail).
struct LoadSeen {
  std::size_t backend = 0;
  LoadSignals signals;
  std::int64_t in_flight = 0;
  bool headroom = false;
};

/// Why a backend was left out.
struct Exclusion {
  std::size_t backend = 0;
  std::string reason;  ///< e.g. "clearance internal < sensitivity confidential"
};

/// One rule as evaluated, for explain.
struct RuleTrace {
  std::string_view rule;
  bool matched = false;
  std::string
      failed;  ///< the first condition that did not hold ("sensitivity: ..."); empty if matched
  std::vector<Exclusion> excluded;  ///< when matched: backends of the rule that were left out
};

struct Decision {
  Outcome outcome = Outcome::route;
  std::string_view rule;  ///< the matched rule ("" when none)
  int sensitivity = 0;    ///< final level (index into sensitivity.levels)
  int tier = 0;           ///< final tier (index into tiers.levels)
  Detection detection;    ///< what the detectors found
  /// Eligible, cleared backends in the order to try (indexes into Config::backends).
  std::vector<std::size_t> backends;
  Nanos estimated_cost = 0;            ///< for backends.front(); 0 when none
  std::uint64_t estimated_tokens = 0;  ///< prompt estimate + expected output
  std::string message;  ///< for non-route outcomes: the client-facing reason (never values)

  // Why facts (indexes only: the audit trail records them, replay compares them). Filled by every
  // decide() that got past the tenant, model and header checks; before that, floor_level once the
  // tenant is known and the defaults otherwise.
  int floor_level = 0;         ///< the tenant's floor (index into sensitivity.levels)
  int header_level = -1;       ///< from x-data-classification; -1 when absent
  int unscannable_level = -1;  ///< the level unscannable content took; -1 when none counted
  unsigned unscannable = 0;    ///< the unscannable kinds present that the config counts
  TierSource tier_source = TierSource::default_tier;
  int tier_rule = -1;  ///< the tiers.infer index when tier_source is inferred; else -1

  // Spill (strategy `spill`): filled when the matched rule spills.
  SpillReason spill = SpillReason::none;  ///< none when the request stayed on self-hosted
  std::size_t spill_from = 0;  ///< the first self-hosted backend passed over (when spill != none)
  /// The request may wait in the rule's queue for backends.front() (self-hosted, at its
  /// max_in_flight) instead of being refused: set for requests kept local under a spill rule.
  const config::SpillQueue* wait = nullptr;
  std::vector<LoadSeen> load;  ///< every load-aware backend the rule's strategy read

  // Explain details, filled only when decide(..., explain = true).
  std::string sensitivity_why;  ///< e.g. "detected confidential (email x2); tenant floor internal"
  std::string tier_why;
  std::vector<RuleTrace> trace;
};

class Engine {
 public:
  /// Builds an engine for `config` (compiles the detectors, resolves names to indexes). The
  /// engine shares ownership of the config. nullptr with `error` set on failure.
  static std::unique_ptr<const Engine> build(std::shared_ptr<const config::Config> config,
                                             std::string& error);
  /// As above, but reuses `detector` instead of compiling one (Hyperscan compilation dominates
  /// build time; a reload whose `sensitivity:` section is unchanged can pass the running engine's
  /// shared_detector()). Precondition: `detector` was compiled from settings equal to
  /// `config->sensitivity`; its entity names and levels are checked against them (nullptr with
  /// `error` set on a mismatch).
  static std::unique_ptr<const Engine> build(std::shared_ptr<const config::Config> config,
                                             std::shared_ptr<const Detector> detector,
                                             std::string& error);
  ~Engine();

  /// Decides where a request goes. `explain` fills the explain details (slower; for explain and
  /// the admin endpoint only).
  Decision decide(const RequestFacts& facts, const StateView& state, bool explain = false) const;

  /// The clearance invariant: may `backend` receive a request of `sensitivity` from `tenant`?
  bool cleared(std::size_t backend, int sensitivity, std::size_t tenant) const;

  /// Cost of `input`/`output` tokens on `backend`, exact: `input` counts every prompt token as
  /// OpenAI does (cached reads and cache writes included); `cached_input` of them are billed at
  /// the cached price, `cache_write` at the cache-write price, the rest at the input price, and
  /// the output (reasoning included) at the output price. Prices are integer pico-dollars per
  /// token; the sum is rounded once, to the nearest nano-dollar, and saturates.
  Nanos cost(std::size_t backend, std::uint64_t input, std::uint64_t output,
             std::uint64_t cached_input = 0, std::uint64_t cache_write = 0) const;
  /// What the savings reference would have charged for the same tokens; nullopt without one.
  std::optional<Nanos> reference_cost(std::uint64_t input, std::uint64_t output,
                                      std::uint64_t cached_input = 0,
                                      std::uint64_t cache_write = 0) const;
  /// The most `input` prompt tokens and `output` tokens can cost on `backend`: every prompt
  /// token at the dearest of its input, cached and cache-write prices.
  Nanos worst_case_cost(std::size_t backend, std::uint64_t input, std::uint64_t output) const;
  /// The most output tokens `n` with worst_case_cost(backend, input, n) <= `amount`
  /// (UINT64_MAX when output is free there; 0 when even the input does not fit).
  std::uint64_t affordable_output(std::size_t backend, std::uint64_t input, Nanos amount) const;
  /// A backend's prices in pico-dollars per token (USD per million tokens x 1e6).
  struct Prices {
    std::int64_t input = 0;
    std::int64_t output = 0;
    std::int64_t cached = 0;
    std::int64_t cache_write = 0;
  };
  Prices prices(std::size_t backend) const;

  /// The decision as JSON (tenant, sensitivity and why, tier and why, rules tried, eligible and
  /// excluded backends, cost estimate), with names, never request text or entity values.
  std::string explain_json(const Decision& d, const RequestFacts& facts) const;

  /// Seeds the calling thread's generator behind the `weighted` strategy (each thread has its
  /// own, seeded from the OS on first use). For tests and reproducible explain runs.
  static void seed_random(std::uint64_t seed);

  /// Backends dropped from a Decision by decide()'s final clearance check, process-wide. The
  /// candidates are already filtered through cleared(), so anything but 0 is a bug; the check
  /// runs in every build and drops (never routes) such a backend.
  static std::uint64_t invariant_violations();

  const config::Config& config() const { return *config_; }
  const Detector& detector() const { return *detector_; }
  std::shared_ptr<const Detector> shared_detector() const { return detector_; }

 private:
  Engine() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const Detector> detector_;
};

}  // namespace sb::policies
