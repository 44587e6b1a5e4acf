#pragma once
// The configuration model and its YAML loader.
//
// Loading happens in two phases: YAML is parsed (yaml-cpp) and then validated into the immutable
// value types below. Every problem found is collected, not just the first one, and each carries
// the file, line, column and key path of the offending node so `switchboard check` can print
// `FILE:LINE:COL: key.path: message`.
//
// Every scalar value is expanded before it is converted: `${NAME}` (an error when NAME is unset),
// `${NAME:-default}` (default when NAME is unset or empty) and `$$` for a literal `$`. Keys are
// never expanded.
//
// Pure: no sockets, no Beast, no gateway includes. Thread-safety: the functions are reentrant; a
// loaded Config is an immutable value.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::config {

using Duration = std::chrono::milliseconds;

/// Parses `500ms`, `2s`, `5m`, `1h` (also `1.5s`). No bare numbers, no negative values, no
/// trailing junk. Returns nullopt on anything else, on a value that is not a whole number of
/// milliseconds (`0.5ms`), and on one too large to convert to std::chrono::nanoseconds (~292
/// years), so every parsed duration can be handed to a timer.
std::optional<Duration> parse_duration(std::string_view text);

/// Parses byte sizes: `512`, `64KiB`, `4MiB`, `1GiB`, `10KB`/`10MB`/`10GB` (powers of 1000),
/// `B` suffix allowed. Integers only, no negatives, no overflow, no trailing junk.
std::optional<std::uint64_t> parse_size(std::string_view text);

struct TlsListener {
  std::string cert_file;  ///< PEM certificate chain
  std::string key_file;   ///< PEM private key
};

struct ServerSettings {
  std::string listen = "0.0.0.0:8080";  ///< host:port; port 0 picks a free one
  unsigned threads = 0;                 ///< 0 = one per core ("auto")
  std::uint64_t max_body_bytes = 4ull << 20;
  std::uint64_t max_header_bytes = 64ull << 10;
  Duration header_timeout{10'000};  ///< whole request header must arrive within this
  Duration idle_timeout{60'000};    ///< keep-alive idle between requests
  Duration drain_timeout{30'000};   ///< SIGTERM: how long in-flight requests may finish
  std::optional<TlsListener> tls;
};

struct AdminSettings {
  std::string listen = "127.0.0.1:9090";
};

struct StateSettings {
  std::string store = "memory";  ///< memory | redis
  std::string url;               ///< for redis
};

enum class Provider {
  vllm,
  llamacpp,
  ollama,
  tgi,
  sglang,
  openai_compatible,
  openai,
  anthropic,
  gemini,
  azure_openai,
  bedrock,
};
std::string_view to_string(Provider p);

enum class Hosting { self_hosted, closed };
std::string_view to_string(Hosting h);  ///< "self-hosted" | "closed"

struct BackendTimeouts {
  Duration connect{2'000};
  Duration first_token{60'000};  ///< until the upstream's response header arrives
  Duration idle{60'000};         ///< between two reads of a streamed body
  Duration total{600'000};       ///< whole exchange
};

struct Price {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
  double cached_input_per_mtok = 0;
  double gpu_hour_usd = 0;
  double tokens_per_second = 0;
};

struct Backend {
  std::string name;  ///< the key under `backends:`
  Provider provider = Provider::openai_compatible;
  Hosting hosting = Hosting::self_hosted;
  std::string base_url;  ///< http(s)://host[:port][/path], validated; no trailing slash
  std::string model;     ///< model name pinned upstream
  std::string api_key;   ///< may be empty (no Authorization sent)
  std::string tier = "standard";
  std::string clearance = "public";
  unsigned max_in_flight = 0;  ///< 0 = unlimited
  BackendTimeouts timeouts;
  std::string ca_file;     ///< extra PEM CA bundle for https upstreams; empty = system store
  bool tls_verify = true;  ///< `tls: {verify: false}` only for tests and labs
  std::map<std::string, std::string> headers;  ///< extra headers sent upstream
  Price price;
};

struct ModelAlias {
  std::string name;                     ///< what clients send in "model"
  std::vector<std::string> candidates;  ///< backend names, in order of preference
  std::string tier;                     ///< may be empty
};

struct Config {
  std::string source;  ///< file the config came from
  ServerSettings server;
  AdminSettings admin;
  StateSettings state;
  std::vector<Backend> backends;   ///< in file order
  std::vector<ModelAlias> models;  ///< in file order

  const Backend* find_backend(std::string_view name) const;
  const ModelAlias* find_model(std::string_view name) const;
};

struct ConfigError {
  std::string file;
  int line = 0;      ///< 1-based; 0 when unknown
  int column = 0;    ///< 1-based; 0 when unknown
  std::string path;  ///< e.g. "backends.local.timeouts.connect", "models.default.candidates[1]"
  std::string message;
  /// `FILE:LINE:COL: path: message`; without a path (YAML syntax errors, an unreadable file,
  /// problems of the document as a whole) `FILE:LINE:COL: message`.
  std::string to_string() const;
};

struct LoadResult {
  std::optional<Config> config;     ///< set only when errors is empty
  std::vector<ConfigError> errors;  ///< in file order
  bool ok() const { return config.has_value(); }
};

/// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
/// The process environment.
std::optional<std::string> process_env(const std::string& name);

/// Loads a config file. When it cannot be read the result holds one error,
/// `PATH:0:0: cannot read file: <reason>`. Relative file paths inside the config (`server.tls`,
/// `backends.*.tls.ca_file`) are resolved against the directory of `path` and stored resolved.
LoadResult load_file(const std::string& path, const EnvLookup& env = process_env);
/// Loads a config held in memory; `file_name` only names it in errors and in Config::source.
/// Relative file paths inside it are taken relative to the working directory. A YAML syntax error
/// gives one error, `FILE:LINE:COL: YAML syntax error: <parser message>`.
LoadResult load_string(std::string_view yaml, std::string_view file_name,
                       const EnvLookup& env = process_env);

}  // namespace sb::config
