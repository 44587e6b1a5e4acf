#include "gateway/pipeline/attempt_result.h"

#include <algorithm>
#include <charconv>
#include <random>

namespace sb::gateway::chat {

std::optional<Clock::duration> asked_wait(std::string_view ms, std::string_view retry_after) {
  double value = 0;
  const std::string_view text = !ms.empty() ? ms : retry_after;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size() && value >= 0 &&
      value < 1e7) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms.empty() ? value * 1000 : value));
  }
  return std::nullopt;
}

std::optional<Clock::duration> retry_delay(const config::RetrySettings& r,
                                           std::optional<Clock::duration> asked, unsigned n) {
  if (asked) {
    if (*asked > r.max_retry_after) {
      return std::nullopt;
    }
    return *asked;
  }
  const auto cap =
      std::min<std::int64_t>(r.max_backoff.count(), r.backoff.count() << std::min(n - 1, 20u));
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(0, cap) * 1000);
  return std::chrono::microseconds(jitter(rng));
}

}  // namespace sb::gateway::chat
