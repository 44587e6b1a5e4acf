#pragma once
// Building blocks for validating YAML into value types, shared by every config section.
//
// A `YamlReader` walks a yaml-cpp tree and collects `ConfigError`s instead of throwing: each
// conversion reports what is wrong with the node (file, line, column, key path) and returns
// nullopt so the caller simply skips the field and goes on. Mappings are read through a table of
// `Field`s, so unknown keys, duplicate keys and missing required keys are found in one place and
// adding a key or a section is one more row.
//
// Every scalar value goes through `${ENV}` substitution before it is converted (see
// `substitute_env`). Keys are names and are never substituted.
//
// Internal to the loader (not a stable API). Thread-safety: a reader is used by one thread.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "policies/config.h"

namespace sb::config::detail {

/// Result of `substitute_env`: the substituted text, or an error message.
struct Substitution {
  std::optional<std::string> value;  ///< set on success
  std::string error;                 ///< set on failure
};

/// Expands environment references in one scalar:
/// - `${NAME}`: the variable's value; an error when it is unset (an empty value is kept);
/// - `${NAME:-default}`: the value, or `default` when the variable is unset or empty; the default
///   may itself contain references (`${A:-${B:-x}}`);
/// - `$$`: a literal `$`;
/// - a `$` followed by anything else stays as it is.
/// NAME is `[A-Za-z_][A-Za-z0-9_]*`. Substituted text is not scanned again.
Substitution substitute_env(std::string_view text, const EnvLookup& env);

/// A node together with where it is: its key path and its 1-based position. For an empty value
/// (`key:` with nothing after it) the position is the key's, since yaml-cpp places such a node
/// at the next token.
struct Located {
  YAML::Node node;
  std::string path;
  int line = 0;
  int column = 0;
};

/// Joins a key path: `join_path("server", "listen")` == "server.listen", `join_path("", "server")`
/// == "server".
std::string join_path(std::string_view path, std::string_view key);
/// `index_path("models.a.candidates", 1)` == "models.a.candidates[1]".
std::string index_path(std::string_view path, std::size_t i);

/// A strict decimal integer: ASCII digits only (no sign, no spaces), within uint64_t.
std::optional<std::uint64_t> parse_uint(std::string_view text);

class YamlReader {
 public:
  /// One key of a mapping read by `read_map`. `read` is called with the value when present.
  struct Field {
    std::string_view key;
    bool required = false;
    std::function<void(const Located& value)> read;
  };

  /// One key/value pair of a mapping whose keys are user-chosen names (backends, models).
  struct Entry {
    std::string key;
    Located key_node;  ///< where the key is written
    Located value;     ///< path is `join_path(map path, key)`
  };

  /// `file` names the source in every error. `env` must outlive the reader.
  YamlReader(std::string file, const EnvLookup& env);

  /// Wraps the document root (path "").
  Located root(const YAML::Node& node) const;

  /// Records an error at `at`'s position and path.
  void error(const Located& at, std::string message);
  /// Records an error at an explicit position (1-based; 0 when unknown).
  void error(int line, int column, std::string path, std::string message);

  /// Reads a mapping: each key must be one of `fields` (`unknown key 'k' (expected one of: ...)`),
  /// none may repeat (`duplicate key 'k'`), required ones must be present (`missing required key
  /// 'k'`, reported at the mapping). A null node counts as an empty mapping. Returns false (after
  /// reporting `expected a mapping`) when the node is not a mapping.
  bool read_map(const Located& map, std::initializer_list<Field> fields);
  /// The same over a table built at run time (a section whose keys come from several parts).
  bool read_map(const Located& map, std::span<const Field> fields);

  /// The entries of a mapping with user-chosen keys, in file order, duplicates reported and
  /// dropped. A null node gives no entries. nullopt (after an error) when it is not a mapping.
  std::optional<std::vector<Entry>> entries(const Located& map);

  /// The elements of a sequence, in order, with paths `path[i]`. nullopt (after reporting
  /// `expected_message`) when the node is not a sequence.
  std::optional<std::vector<Located>> sequence(const Located& seq,
                                               std::string_view expected_message);
  /// Like `sequence`, and an empty list is an error ("must not be empty").
  std::optional<std::vector<Located>> non_empty_sequence(const Located& seq,
                                                         std::string_view expected_message);

  /// A sequence of non-empty strings: each element with its text. An element that is not one is
  /// reported and left out; nullopt (after reporting) when the node is not a sequence, or, with
  /// `non_empty`, an empty one.
  std::optional<std::vector<std::pair<Located, std::string>>> names(
      const Located& seq, std::string_view expected_message, bool non_empty = false);

  /// Like `sequence`, but a scalar counts as a list of one (`tenant: payments` is
  /// `tenant: [payments]`); the element then keeps the scalar's own path.
  std::optional<std::vector<Located>> scalar_or_sequence(const Located& v,
                                                         std::string_view expected_message);

  // Scalar conversions. Each substitutes `${ENV}` first, and on failure records one error and
  // returns nullopt.

  /// Any scalar, as text (may be empty).
  std::optional<std::string> string(const Located& v);
  /// A scalar that is not empty after substitution (`must not be empty`).
  std::optional<std::string> non_empty_string(const Located& v);
  /// `true` or `false` (also `True`, `TRUE`, `False`, `FALSE`).
  std::optional<bool> boolean(const Located& v);
  /// A decimal integer in [min, max]; `expected_message` is reported otherwise.
  std::optional<std::uint64_t> integer(const Located& v, std::uint64_t min, std::uint64_t max,
                                       std::string_view expected_message);
  /// A finite decimal number (`-1`, `2.5`, `1e-3`); `expected_message` is reported otherwise.
  std::optional<double> number(const Located& v, std::string_view expected_message);
  /// A finite decimal number >= 0 (`1`, `2.5`, `1e-3`).
  std::optional<double> non_negative_number(const Located& v);
  /// A fraction in (0, 1], or in [0, 1] when `allow_zero`.
  std::optional<double> fraction(const Located& v, bool allow_zero);
  /// A duration (`parse_duration`); zero is rejected unless `allow_zero`.
  std::optional<Duration> duration(const Located& v, bool allow_zero);
  /// A duration above zero and at most `max`; `too_long_message` is reported when it is longer.
  std::optional<Duration> duration_at_most(const Located& v, Duration max,
                                           std::string_view too_long_message);
  /// A byte size (`parse_size`); zero is rejected unless `allow_zero`.
  std::optional<std::uint64_t> size(const Located& v, bool allow_zero);
  /// One of `choices`, reported as `unknown NOUN 'x' (expected one of: a, b, c)`.
  std::optional<std::string> one_of(const Located& v, std::string_view noun,
                                    std::span<const std::string_view> choices);
  /// A path to a file that must be readable (`cannot read file 'p': reason`). Relative paths are
  /// resolved against the base directory (see `set_base_dir`).
  std::optional<std::string> readable_file(const Located& v);
  /// The contents of the file a scalar names (a secret kept out of the config). The path is
  /// resolved like `readable_file`'s; it must name a regular file of at most `max_bytes`
  /// (`cannot read file 'p': reason`, `file 'p' is larger than N bytes`). On success the resolved
  /// path is stored in `*resolved_path` when given.
  std::optional<std::string> file_contents(const Located& v, std::uint64_t max_bytes,
                                           std::string* resolved_path = nullptr);

  /// Relative file paths in the config are taken relative to `dir` (empty: the working
  /// directory).
  void set_base_dir(std::string dir) { base_dir_ = std::move(dir); }
  /// `path` resolved as file paths in the config are (against the base directory when relative).
  std::string resolve(std::string_view path) const;

  /// A scalar's substituted text, for values with a grammar of their own; `expected_message`
  /// is reported when the node is not a scalar.
  std::optional<std::string> text(const Located& v, std::string_view expected_message);

  /// The environment scalars are substituted from (sections with standard variables read it).
  const EnvLookup& env() const { return env_; }

  bool has_errors() const { return !errors_.empty(); }
  /// How many errors were recorded so far; compare two counts to learn whether reading a node
  /// failed somewhere below it.
  std::size_t error_count() const { return errors_.size(); }
  /// The errors collected so far, in file order (by line, then column; stable).
  std::vector<ConfigError> take_errors();

 private:
  std::string file_;
  const EnvLookup& env_;
  std::string base_dir_;
  std::vector<ConfigError> errors_;
};

}  // namespace sb::config::detail
