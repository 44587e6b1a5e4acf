#include "policies/yaml_reader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <tuple>
#include <unordered_set>

namespace sb::config::detail {
namespace {

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

// yaml-cpp marks are 0-based and -1 when unknown; errors are 1-based and 0 when unknown.
std::pair<int, int> position(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) {
    return {0, 0};
  }
  return {mark.line + 1, mark.column + 1};
}

Located locate(const YAML::Node& node, std::string path) {
  auto [line, column] = position(node.Mark());
  return Located{node, std::move(path), line, column};
}

std::string list(std::span<const std::string_view> items) {
  std::string out;
  for (std::string_view item : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

bool expand(std::string_view text, const EnvLookup& env, int depth, std::string& out,
            std::string& error);

// The offset of the `}` closing a `${` whose contents start at `start` (braces of nested `${`
// counted, `$$` skipped whole), or text.size() when there is none.
std::size_t closing_brace(std::string_view text, std::size_t start) {
  std::size_t end = start;
  int braces = 1;
  while (end < text.size()) {
    if (text[end] == '$' && end + 1 < text.size() &&
        (text[end + 1] == '$' || text[end + 1] == '{')) {
      braces += text[end + 1] == '{' ? 1 : 0;  // `$$` is skipped whole, `${` nests
      end += 2;
      continue;
    }
    if (text[end] == '}' && --braces == 0) {
      break;
    }
    ++end;
  }
  return end;
}

// One reference's contents, `NAME` or `NAME:-default`: the variable's value, or its default
// (expanded in turn) when it is unset or empty.
bool expand_reference(std::string_view inner, const EnvLookup& env, int depth, std::string& out,
                      std::string& error) {
  const std::size_t sep = inner.find(":-");
  const std::string_view name = inner.substr(0, sep);
  const bool valid = !name.empty() && is_name_start(name.front()) &&
                     std::all_of(name.begin(), name.end(), is_name_char);
  if (!valid) {
    error = "invalid environment variable reference '${" + std::string(inner) + "}'";
    return false;
  }
  const std::optional<std::string> value = env(std::string(name));
  if (sep == std::string_view::npos) {
    if (!value) {
      error = "environment variable '" + std::string(name) + "' is not set";
      return false;
    }
    out += *value;
    return true;
  }
  if (value && !value->empty()) {
    out += *value;
    return true;
  }
  return expand(inner.substr(sep + 2), env, depth + 1, out, error);
}

// Expands `text` into `out`: `${NAME}`, `${NAME:-default}` and `$$` for a dollar. `depth` bounds
// nested defaults.
bool expand(std::string_view text, const EnvLookup& env, int depth, std::string& out,
            std::string& error) {
  if (depth > 8) {
    error = "environment defaults nested too deeply";
    return false;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (c != '$' || (next != '$' && next != '{')) {
      out += c;
      ++i;
      continue;
    }
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }
    // `${...}`: find the matching brace, so a default may hold references of its own.
    const std::size_t end = closing_brace(text, i + 2);
    if (end >= text.size()) {
      error = "unterminated '${' (missing '}')";
      return false;
    }
    if (!expand_reference(text.substr(i + 2, end - i - 2), env, depth, out, error)) {
      return false;
    }
    i = end + 1;
  }
  return true;
}

}  // namespace

std::optional<std::uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return value;
}

Substitution substitute_env(std::string_view text, const EnvLookup& env) {
  Substitution result;
  std::string out;
  out.reserve(text.size());
  if (expand(text, env, 0, out, result.error)) {
    result.value = std::move(out);
  }
  return result;
}

std::string join_path(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) {
    out += '.';
  }
  out += key;
  return out;
}

std::string index_path(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

YamlReader::YamlReader(std::string file, const EnvLookup& env)
    : file_(std::move(file)), env_(env) {}

Located YamlReader::root(const YAML::Node& node) const {
  Located out = locate(node, "");
  if (out.line == 0) {
    out.line = 1;  // an empty document: point at its start
    out.column = 1;
  }
  return out;
}

void YamlReader::error(const Located& at, std::string message) {
  error(at.line, at.column, at.path, std::move(message));
}

void YamlReader::error(int line, int column, std::string path, std::string message) {
  errors_.push_back(ConfigError{file_, line, column, std::move(path), std::move(message)});
}

std::optional<std::vector<YamlReader::Entry>> YamlReader::entries(const Located& map) {
  std::vector<Entry> out;
  if (map.node.IsNull()) {
    return out;
  }
  if (!map.node.IsMap()) {
    error(map, "expected a mapping");
    return std::nullopt;
  }
  std::unordered_set<std::string> seen;
  for (auto it = map.node.begin(); it != map.node.end(); ++it) {
    Located key = locate(it->first, map.path);
    if (!it->first.IsScalar()) {
      error(key, "expected a string key");
      continue;
    }
    const std::string& name = it->first.Scalar();
    if (!seen.insert(name).second) {
      error(key, "duplicate key '" + name + "'");
      continue;
    }
    Located value = locate(it->second, join_path(map.path, name));
    if (it->second.IsNull()) {
      // An empty value sits at the next token in yaml-cpp; the key is where the reader looks.
      value.line = key.line;
      value.column = key.column;
    }
    out.push_back(Entry{name, std::move(key), std::move(value)});
  }
  return out;
}

bool YamlReader::read_map(const Located& map, std::initializer_list<Field> fields) {
  return read_map(map, std::span<const Field>(fields.begin(), fields.size()));
}

bool YamlReader::read_map(const Located& map, std::span<const Field> fields) {
  std::optional<std::vector<Entry>> items = entries(map);
  if (!items) {
    return false;
  }
  std::vector<bool> present(fields.size(), false);
  for (const Entry& item : *items) {
    auto field = std::find_if(fields.begin(), fields.end(),
                              [&](const Field& f) { return f.key == item.key; });
    if (field == fields.end()) {
      std::string expected;
      for (const Field& f : fields) {
        expected += expected.empty() ? "" : ", ";
        expected += f.key;
      }
      error(item.key_node, "unknown key '" + item.key + "' (expected one of: " + expected + ")");
      continue;
    }
    present[static_cast<std::size_t>(field - fields.begin())] = true;
    field->read(item.value);
  }
  std::size_t i = 0;
  for (const Field& f : fields) {
    if (f.required && !present[i]) {
      error(map, "missing required key '" + std::string(f.key) + "'");
    }
    ++i;
  }
  return true;
}

std::optional<std::vector<Located>> YamlReader::sequence(const Located& seq,
                                                         std::string_view expected_message) {
  if (!seq.node.IsSequence()) {
    error(seq, std::string(expected_message));
    return std::nullopt;
  }
  std::vector<Located> out;
  out.reserve(seq.node.size());
  std::size_t i = 0;
  for (const YAML::Node& element : seq.node) {
    Located item = locate(element, index_path(seq.path, i++));
    if (element.IsNull() && item.line == 0) {
      item.line = seq.line;
      item.column = seq.column;
    }
    out.push_back(std::move(item));
  }
  return out;
}

std::optional<std::vector<Located>> YamlReader::scalar_or_sequence(
    const Located& v, std::string_view expected_message) {
  if (v.node.IsScalar()) {
    return std::vector<Located>{v};
  }
  return sequence(v, expected_message);
}

std::optional<std::string> YamlReader::text(const Located& v, std::string_view expected_message) {
  if (!v.node.IsScalar()) {
    error(v, std::string(expected_message));
    return std::nullopt;
  }
  Substitution s = substitute_env(v.node.Scalar(), env_);
  if (!s.value) {
    error(v, std::move(s.error));
    return std::nullopt;
  }
  return s.value;
}

std::optional<std::string> YamlReader::string(const Located& v) {
  return text(v, "expected a string");
}

std::optional<std::string> YamlReader::non_empty_string(const Located& v) {
  std::optional<std::string> s = string(v);
  if (s && s->empty()) {
    error(v, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> YamlReader::boolean(const Located& v) {
  constexpr std::string_view kExpected = "expected true or false";
  std::optional<std::string> s = text(v, kExpected);
  if (!s) {
    return std::nullopt;
  }
  if (*s == "true" || *s == "True" || *s == "TRUE") {
    return true;
  }
  if (*s == "false" || *s == "False" || *s == "FALSE") {
    return false;
  }
  error(v, std::string(kExpected));
  return std::nullopt;
}

std::optional<std::uint64_t> YamlReader::integer(const Located& v, std::uint64_t min,
                                                 std::uint64_t max,
                                                 std::string_view expected_message) {
  std::optional<std::string> s = text(v, expected_message);
  if (!s) {
    return std::nullopt;
  }
  std::optional<std::uint64_t> n = parse_uint(*s);
  if (!n || *n < min || *n > max) {
    error(v, std::string(expected_message));
    return std::nullopt;
  }
  return n;
}

std::optional<double> YamlReader::number(const Located& v, std::string_view expected_message) {
  std::optional<std::string> s = text(v, expected_message);
  if (!s) {
    return std::nullopt;
  }
  double value = 0;
  const char* begin = s->data();
  const char* end = s->data() + s->size();
  auto [ptr, ec] = std::from_chars(begin, end, value, std::chars_format::general);
  // from_chars takes no '+' and no spaces, but it does take "inf" and "nan".
  if (s->empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    error(v, std::string(expected_message));
    return std::nullopt;
  }
  return value;
}

std::optional<double> YamlReader::non_negative_number(const Located& v) {
  constexpr std::string_view kExpected = "expected a non-negative number";
  std::optional<double> value = number(v, kExpected);
  if (value && (*value < 0 || std::signbit(*value))) {
    error(v, std::string(kExpected));
    return std::nullopt;
  }
  return value;
}

std::optional<double> YamlReader::fraction(const Located& v, bool allow_zero) {
  const std::string_view expected =
      allow_zero ? "expected a fraction in [0, 1]" : "expected a fraction in (0, 1]";
  std::optional<double> f = number(v, expected);
  if (f && (*f < 0 || *f > 1 || (!allow_zero && *f == 0))) {
    error(v, std::string(expected));
    return std::nullopt;
  }
  return f;
}

std::optional<std::vector<Located>> YamlReader::non_empty_sequence(
    const Located& seq, std::string_view expected_message) {
  std::optional<std::vector<Located>> items = sequence(seq, expected_message);
  if (items && items->empty()) {
    error(seq, "must not be empty");
    return std::nullopt;
  }
  return items;
}

std::optional<std::vector<std::pair<Located, std::string>>> YamlReader::names(
    const Located& seq, std::string_view expected_message, bool non_empty) {
  std::optional<std::vector<Located>> items =
      non_empty ? non_empty_sequence(seq, expected_message) : sequence(seq, expected_message);
  if (!items) {
    return std::nullopt;
  }
  std::vector<std::pair<Located, std::string>> out;
  out.reserve(items->size());
  for (Located& item : *items) {
    if (std::optional<std::string> name = non_empty_string(item)) {
      out.emplace_back(std::move(item), std::move(*name));
    }
  }
  return out;
}

std::optional<Duration> YamlReader::duration(const Located& v, bool allow_zero) {
  std::optional<std::string> s = text(v, "expected a duration (e.g. 500ms, 2s, 1.5s, 5m, 1h)");
  if (!s) {
    return std::nullopt;
  }
  std::optional<Duration> d = parse_duration(*s);
  if (!d) {
    error(v, "invalid duration '" + *s + "' (expected e.g. 500ms, 2s, 1.5s, 5m, 1h)");
    return std::nullopt;
  }
  if (!allow_zero && d->count() == 0) {
    error(v, "must be greater than zero");
    return std::nullopt;
  }
  return d;
}

std::optional<Duration> YamlReader::duration_at_most(const Located& v, Duration max,
                                                     std::string_view too_long_message) {
  std::optional<Duration> d = duration(v, false);
  if (d && *d > max) {
    error(v, std::string(too_long_message));
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> YamlReader::size(const Located& v, bool allow_zero) {
  std::optional<std::string> s = text(v, "expected a size (e.g. 512, 64KiB, 4MiB, 10MB)");
  if (!s) {
    return std::nullopt;
  }
  std::optional<std::uint64_t> n = parse_size(*s);
  if (!n) {
    error(v, "invalid size '" + *s + "' (expected e.g. 512, 64KiB, 4MiB, 10MB)");
    return std::nullopt;
  }
  if (!allow_zero && *n == 0) {
    error(v, "must be greater than zero");
    return std::nullopt;
  }
  return n;
}

std::optional<std::string> YamlReader::one_of(const Located& v, std::string_view noun,
                                              std::span<const std::string_view> choices) {
  std::optional<std::string> s = text(v, "expected one of: " + list(choices));
  if (!s) {
    return std::nullopt;
  }
  if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
    error(v, "unknown " + std::string(noun) + " '" + *s + "' (expected one of: " + list(choices) +
                 ")");
    return std::nullopt;
  }
  return s;
}

std::string YamlReader::resolve(std::string_view p) const {
  std::filesystem::path path(p);
  if (path.is_relative() && !base_dir_.empty()) {
    path = std::filesystem::path(base_dir_) / path;
  }
  return path.string();
}

std::optional<std::string> YamlReader::readable_file(const Located& v) {
  std::optional<std::string> s = non_empty_string(v);
  if (!s) {
    return std::nullopt;
  }
  std::filesystem::path path(*s);
  if (path.is_relative() && !base_dir_.empty()) {
    path = std::filesystem::path(base_dir_) / path;
  }
  std::string resolved = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error(v, "cannot read file '" + resolved + "': " + std::strerror(EISDIR));
    return std::nullopt;
  }
  std::FILE* f = std::fopen(resolved.c_str(), "rb");
  if (f == nullptr) {
    error(v, "cannot read file '" + resolved + "': " + std::strerror(errno));
    return std::nullopt;
  }
  std::fclose(f);
  return resolved;
}

std::optional<std::string> YamlReader::file_contents(const Located& v, std::uint64_t max_bytes,
                                                     std::string* resolved_path) {
  std::optional<std::string> resolved = readable_file(v);
  if (!resolved) {
    return std::nullopt;
  }
  // A FIFO or a device could block the load or never end; secrets are plain (or symlinked) files.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*resolved, ec)) {
    error(v, "cannot read file '" + *resolved + "': not a regular file");
    return std::nullopt;
  }
  std::FILE* f = std::fopen(resolved->c_str(), "rb");
  if (f == nullptr) {
    error(v, "cannot read file '" + *resolved + "': " + std::strerror(errno));
    return std::nullopt;
  }
  std::string contents;
  char buffer[4096];
  bool too_large = false;
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    if (contents.size() + n > max_bytes) {
      too_large = true;
      break;
    }
    contents.append(buffer, n);
  }
  bool failed = std::ferror(f) != 0;
  int read_errno = errno;
  std::fclose(f);
  if (too_large) {
    error(v, "file '" + *resolved + "' is larger than " + std::to_string(max_bytes) + " bytes");
    return std::nullopt;
  }
  if (failed) {
    error(v, "cannot read file '" + *resolved + "': " + std::strerror(read_errno));
    return std::nullopt;
  }
  if (resolved_path != nullptr) {
    *resolved_path = *resolved;
  }
  return contents;
}

std::vector<ConfigError> YamlReader::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return std::exchange(errors_, {});
}

}  // namespace sb::config::detail
