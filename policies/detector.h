#pragma once
// Content-based sensitivity detection: every built-in entity and custom pattern compiled into one
// Hyperscan database, scanned once over all the text a request carries, with validators (Luhn,
// SSN rules, IBAN mod-97, ...) applied to each candidate match.
//
// Pure: no sockets, no gateway includes. Linear time in the input, whatever the input (Hyperscan
// guarantees it for the scan; normalisation is a few linear passes; validators look only at the
// bytes of one match and a bounded context around it).
// Thread-safety: a compiled Detector is immutable; scan() may run on many threads at once (each
// thread keeps its own Hyperscan scratch).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"

namespace sb::policies {

struct EntityCount {
  std::uint16_t entity = 0;  ///< index into Detector::entity_names()
  std::uint32_t count = 0;   ///< validated occurrences
};

/// Values an allow-list entry let through (they count for nothing).
struct AllowedCount {
  std::uint16_t entity = 0;  ///< index into Detector::entity_names()
  std::uint32_t entry = 0;   ///< index into Detector::allow_entries()
  std::uint32_t count = 0;   ///< allowed occurrences
};

struct Detection {
  int level = -1;  ///< highest level found; -1 = nothing found
  /// Entities found, each once, highest level first (then by name).
  std::vector<EntityCount> entities;
  /// Allowed values by entity and entry (in entity, then entry order); empty when none.
  std::vector<AllowedCount> allowed;
};

/// An allow-list entry as explain names it, never by its value: a default's name
/// (`defaults.noreply_anthropic`, `defaults.reserved_domains`) or the configured entry's key path
/// (`sensitivity.detectors.email.allow[0]`, `sensitivity.detectors.custom[NAME].allow[1]`).
struct AllowEntryName {
  std::string name;
  bool from_defaults = false;
};

/// Whether a custom detector's `pattern` compiles the way Detector::compile compiles it (with a
/// start of match, else single-match); the Hyperscan message otherwise. The config loader checks
/// each pattern with it, so the error points at the pattern's line and column.
bool custom_pattern_compiles(const std::string& pattern, std::string& message);
/// Whether Hyperscan can tell where a (compiling) custom pattern's matches start. Without a start
/// the matched value is unknown and an allow-list cannot apply to it.
bool custom_pattern_has_start(const std::string& pattern);
/// Whether an `allow:` entry's `pattern` compiles the way Detector::compile compiles it (with a
/// start of match); the Hyperscan message otherwise.
bool allow_pattern_compiles(const std::string& pattern, std::string& message);

class Detector {
 public:
  /// Compiles the settings' built-in and custom detectors. nullptr with `error` set when a custom
  /// pattern does not compile (the message names the detector).
  ///
  /// A built-in entity missing from `settings.entities`, or at level -1, is off and costs nothing
  /// at scan time. Custom patterns see `^`/`$` at every line (so every text) boundary; keywords
  /// are literal, case-insensitive and whole-word. The formats each built-in entity accepts are
  /// documented in policies/detector_rules.h. Each detector's `allow:` entries and, unless
  /// `settings.allow_defaults` is false, the default allow-list are compiled with it
  /// (policies/detector_allow.h); a value an entry allows counts for nothing and is reported in
  /// Detection::allowed instead.
  static std::unique_ptr<Detector> compile(const config::SensitivitySettings& settings,
                                           std::string& error);
  ~Detector();

  /// Scans `texts` as one document (joined by a newline, so a value split across message parts
  /// is still seen). A text that is not pure ASCII is normalised first (policies/normalize.h:
  /// compatibility folding, Unicode dashes and spaces, invisible characters removed, invalid
  /// UTF-8 read as separators); pure ASCII is scanned as it is. Never throws; on a Hyperscan or
  /// ICU failure returns the highest configured level so that a failure can never let sensitive
  /// data out (fail closed).
  Detection scan(std::span<const std::string_view> texts) const;

  /// Built-in entity names (config::builtin_entities()) followed by custom detector names.
  const std::vector<std::string>& entity_names() const { return names_; }
  /// Level of entity `i` (-1 when disabled).
  int level_of(std::size_t i) const { return levels_[i]; }
  /// Every allow-list entry, defaults first (empty when no detector has an allow-list).
  const std::vector<AllowEntryName>& allow_entries() const { return allow_entries_; }

 private:
  Detector() = default;
  struct Impl;
  struct Compiling;  // the Hyperscan expressions compile() gathers
  // The steps of compile().
  void set_levels(const config::SensitivitySettings& settings);
  void add_builtin_rules(Compiling& out);
  bool add_custom(const config::CustomDetector& c, std::uint32_t entity, Compiling& out,
                  std::string& error);
  bool add_allow_lists(const config::SensitivitySettings& settings, std::string& error);
  bool compile_database(Compiling& in, std::string& error);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> names_;
  std::vector<int> levels_;
  std::vector<AllowEntryName> allow_entries_;
};

}  // namespace sb::policies
