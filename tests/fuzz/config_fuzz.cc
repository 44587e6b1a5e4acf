// libFuzzer target: the config loader (policies/config load_string) on arbitrary YAML. Every
// `${NAME}` resolves to a fixed value, so references are accepted without touching the process
// environment. Oracle: a load either gives a config or at least one error, never both or neither,
// and every error renders.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policies/config.h"
#include "tests/fuzz/fuzz_split.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name.starts_with("UNSET")) {
      return std::nullopt;
    }
    return "value-of-" + name;
  };
  const sb::config::LoadResult r = sb::config::load_string(yaml, "fuzz.yaml", env);
  sb::fuzz::check(r.ok() == r.errors.empty());
  for (const auto& e : r.errors) {
    sb::fuzz::check(!e.to_string().empty());
  }
  return 0;
}
