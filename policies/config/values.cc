// Values of the config model: units, names and lookups (policies/config.h).
#include <algorithm>
#include <array>
#include <chrono>
#include <string>

#include "policies/config.h"
#include "policies/yaml_reader.h"

namespace sb::config {

using detail::parse_uint;

namespace {

// The index of the first non-digit of `text` at or after `from`.
std::size_t digits_end(std::string_view text, std::size_t from) {
  while (from < text.size() && text[from] >= '0' && text[from] <= '9') {
    ++from;
  }
  return from;
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// Units

std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t i = digits_end(text, 0);
  std::optional<std::uint64_t> whole = parse_uint(text.substr(0, i));
  if (!whole) {
    return std::nullopt;
  }
  std::uint64_t fraction = 0;
  std::uint64_t scale = 1;  // 10^(number of fraction digits)
  if (i < text.size() && text[i] == '.') {
    const std::size_t start = i + 1;
    i = digits_end(text, start);
    // At least one digit after the point; at most 9, which bounds the arithmetic below.
    if (i == start || i - start > 9) {
      return std::nullopt;
    }
    fraction = *parse_uint(text.substr(start, i - start));
    for (std::size_t k = start; k < i; ++k) {
      scale *= 10;
    }
  }
  std::string_view unit = text.substr(i);
  std::uint64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1'000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    return std::nullopt;
  }
  // Anything a timer can hold: the result must convert to nanoseconds without overflow.
  constexpr std::uint64_t kMaxMs =
      static_cast<std::uint64_t>(std::chrono::nanoseconds::max().count() / 1'000'000);
  // fraction < 10^9 and unit_ms < 2^22, so fraction * unit_ms cannot overflow.
  std::uint64_t fraction_units = fraction * unit_ms;
  if (fraction_units % scale != 0) {
    return std::nullopt;  // not a whole number of milliseconds (`0.5ms`)
  }
  std::uint64_t ms = 0;
  if (__builtin_mul_overflow(*whole, unit_ms, &ms) ||
      __builtin_add_overflow(ms, fraction_units / scale, &ms) || ms > kMaxMs) {
    return std::nullopt;
  }
  return Duration(static_cast<Duration::rep>(ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const std::size_t i = digits_end(text, 0);
  std::optional<std::uint64_t> n = parse_uint(text.substr(0, i));
  if (!n) {
    return std::nullopt;
  }
  struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
  };
  constexpr std::array<Unit, 10> kUnits{{
      {"", 1},
      {"B", 1},
      {"KB", 1'000},
      {"MB", 1'000'000},
      {"GB", 1'000'000'000},
      {"TB", 1'000'000'000'000},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
  }};
  std::string_view suffix = text.substr(i);
  auto unit =
      std::find_if(kUnits.begin(), kUnits.end(), [&](const Unit& u) { return u.suffix == suffix; });
  if (unit == kUnits.end()) {
    return std::nullopt;
  }
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(*n, unit->factor, &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

// -------------------------------------------------------------------------------------------------
// Values

std::string_view to_string(Hosting h) {
  return h == Hosting::self_hosted ? "self-hosted" : "closed";
}

const Backend* Config::find_backend(std::string_view name) const {
  auto it = std::find_if(backends.begin(), backends.end(),
                         [&](const Backend& b) { return b.name == name; });
  return it == backends.end() ? nullptr : &*it;
}

const ModelAlias* Config::find_model(std::string_view name) const {
  auto it = std::find_if(models.begin(), models.end(),
                         [&](const ModelAlias& m) { return m.name == name; });
  return it == models.end() ? nullptr : &*it;
}

const Tenant* Config::find_tenant(std::string_view name) const {
  auto it =
      std::find_if(tenants.begin(), tenants.end(), [&](const Tenant& t) { return t.name == name; });
  return it == tenants.end() ? nullptr : &*it;
}

int Scale::find(std::string_view name) const {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

const std::vector<std::string>& unscannable_kind_names() {
  static const std::vector<std::string> names{"token_ids", "audio", "files", "images"};
  return names;
}

bool FeatureCondition::empty() const {
  return !tools && !images && !json_schema && !prompt_tokens_above && !depth_above &&
         reasoning_effort.empty();
}

bool When::catch_all() const {
  return !sensitivity && !tier && tenants.empty() && models.empty() && !volume && !load &&
         !budget && features.empty() && headers.empty();
}

}  // namespace sb::config
