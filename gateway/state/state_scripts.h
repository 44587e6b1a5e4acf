#pragma once
// The Lua scripts the shared store runs in Redis (see gateway/state/state_sync.h for the model).

#include <string_view>

namespace sb::gateway::scripts {

/// One replica's call for one tenant. KEYS: the tenant's budget hashes (day, month; as many as
/// it has), then its rate hashes (requests, tokens).
/// ARGV: replica id, lease ttl (ms), report sequence, #budget keys, #rate keys, rate window (s),
/// budget key lifetime (s); then per budget key: limit, spend, release, want min, want max;
/// then per rate key: limit, release second, release amount, overrun, want min, want max.
/// Reply: now (ms, Redis clock); per budget key: granted, this replica's lease, spent, leased,
/// lease holders; per rate key: granted, grant second, counted in the window, oldest second.
/// Every amount is an integer string, so nano-dollars stay exact beyond 2^53.
extern const std::string_view kTenant;

/// Counts one replica's requests and tokens on a backend and returns every replica's over the
/// last 60 seconds. KEYS: the backend's hash. ARGV: requests, tokens.
extern const std::string_view kBackend;

}  // namespace sb::gateway::scripts
