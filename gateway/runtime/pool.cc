#include "gateway/runtime/pool.h"

#include <algorithm>
#include <array>

namespace sb::gateway::pool {
namespace {

// splitmix64's finaliser: spreads (prefix, index) pairs evenly over 64 bits.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Lower load wins; on equal load the lower known KV use.
bool lighter(const Candidate& a, const Candidate& b) {
  if (a.load != b.load) {
    return a.load < b.load;
  }
  return a.kv_cache >= 0 && b.kv_cache >= 0 && a.kv_cache < b.kv_cache;
}

std::optional<std::size_t> affine(std::span<const Candidate> c, std::span<const std::size_t> ok,
                                  const PickOptions& o) {
  double sum = 0;
  for (const std::size_t i : ok) {
    sum += c[i].load;
  }
  const double bound = o.max_load_factor * (sum / static_cast<double>(ok.size())) + 1;
  // Visit in descending score: a pool is small (a handful of replicas), so repeated scans of the
  // admitting set cost less than sorting a copy.
  std::uint64_t last = ~std::uint64_t{0};
  bool first = true;
  for (std::size_t round = 0; round < ok.size(); ++round) {
    std::optional<std::size_t> best;
    std::uint64_t best_score = 0;
    for (const std::size_t i : ok) {
      const std::uint64_t s = rendezvous_score(*o.prefix, i);
      if ((first || s < last) && (!best || s > best_score)) {
        best = i;
        best_score = s;
      }
    }
    if (!best) {
      break;
    }
    if (c[*best].load <= bound) {
      return best;
    }
    last = best_score;
    first = false;
  }
  // Unreachable in exact arithmetic (the lightest is within the bound); kept for NaN loads.
  return ok.front();
}

}  // namespace

std::optional<std::size_t> pick(std::span<const Candidate> candidates, const PickOptions& options) {
  // The admitting candidates' indices, on the stack: a pick allocates nothing.
  std::array<std::size_t, kMaxCandidates> slots;
  std::size_t n = 0;
  const std::size_t count = std::min(candidates.size(), kMaxCandidates);
  for (std::size_t i = 0; i < count; ++i) {
    if (candidates[i].admits && (!options.avoid || *options.avoid != i)) {
      slots[n++] = i;
    }
  }
  if (n == 0 && options.avoid && *options.avoid < count && candidates[*options.avoid].admits) {
    slots[n++] = *options.avoid;  // the only one left: a retry may go back to it
  }
  if (n == 0) {
    return std::nullopt;
  }
  const std::span<const std::size_t> ok(slots.data(), n);
  if (n == 1) {
    return ok.front();
  }
  if (options.prefix) {
    return affine(candidates, ok, options);
  }
  const std::uint64_t r = mix(options.random);
  const std::size_t a = static_cast<std::size_t>(r % n);
  // The second draw among the other n - 1, so the two are distinct.
  std::size_t b = static_cast<std::size_t>((r >> 32) % (n - 1));
  if (b >= a) {
    ++b;
  }
  return lighter(candidates[ok[b]], candidates[ok[a]]) ? ok[b] : ok[a];
}

std::uint64_t prefix_hash(std::span<const std::string_view> texts, std::size_t max_bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  std::size_t left = max_bytes;
  for (const std::string_view t : texts) {
    const std::size_t n = t.size() < left ? t.size() : left;
    for (std::size_t i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(t[i]);
      h *= 0x100000001b3ULL;
    }
    left -= n;
    if (left == 0) {
      break;
    }
  }
  return h;
}

std::uint64_t rendezvous_score(std::uint64_t prefix, std::size_t index) {
  return mix(prefix ^ mix(static_cast<std::uint64_t>(index) + 1));
}

}  // namespace sb::gateway::pool
