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
// Sections may come in any order: names of levels, tiers, backends, aliases and tenants are
// resolved once the whole file is read. Beyond the shape of each value, loading checks the
// routing as a whole: every rule name is unique; no rule follows a catch-all (a rule whose
// `when` tests nothing); a non-empty `policies` list ends with a catch-all; a rule's explicit
// `to` is not one that every request it can match would find empty (clearance below the lowest
// sensitivity it can see, closed under `egress: none`, tier below its `when.tier` without
// `allow_lower_tier`, research-only license with only commercial tenants); `shed` has no `to`;
// `when.headers` names only `policy_headers`. Facts worth knowing that are not errors (closed
// backends turned off by `egress: none`, tenants no request can use, detectors placed at the
// highest level of a customised scale) go to Config::notices.
//
// The loader is in policies/config/: one file per section (server.cc, state.cc, sensitivity.cc,
// tiers.cc, backends.cc with backend_options.cc, models.cc, tenants.cc, policies.cc), each with
// its key table and parse functions; analysis.cc checks the config as a whole; load.cc reads the
// document. Providers are rows of policies/providers.h; URLs are split by policies/url.h.
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
#include <utility>
#include <vector>

#include "policies/secret_memory.h"

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
  /// host:port; port 0 picks a free one. When `server.listen` is not given (or is `auto`) it is
  /// chosen at load: 0.0.0.0:8080 when every request must authenticate (some tenant has
  /// api_keys and there is no auth.anonymous_tenant), 127.0.0.1:8080 otherwise, so an open
  /// gateway serving the operator's provider keys is reachable from this machine only.
  std::string listen = "127.0.0.1:8080";
  /// Why `listen` is what it is (`set in the config`, or the default's reason), for `check` and
  /// the startup log.
  std::string listen_reason;
  unsigned threads = 0;  ///< 0 = one per core ("auto")
  /// 32 MiB, as Anthropic's Messages API takes: coding agents resend their whole history, images
  /// included, on every turn, and a request the provider would take must not fail here.
  std::uint64_t max_body_bytes = 32ull << 20;
  std::uint64_t max_header_bytes = 64ull << 10;
  Duration header_timeout{10'000};  ///< whole request header must arrive within this
  Duration idle_timeout{60'000};    ///< keep-alive idle between requests
  Duration drain_timeout{30'000};   ///< SIGTERM: how long in-flight requests may finish
  /// A stream to a client that has written nothing for this long (its upstream silent: a
  /// reasoning model thinking, a queue) gets an SSE comment, `: keepalive`, which every SSE client
  /// ignores, so that a proxy or load balancer in between (nginx and AWS ALB cut idle connections
  /// at 60 s) does not cut it. The first one sends the response head: from then on the attempt is
  /// committed (no fallback). 0 = never.
  Duration stream_keepalive{15'000};
  /// Client connections on the data plane at once; beyond it a new connection is closed at
  /// once. 0 = derived at start from the file-descriptor limit (RLIMIT_NOFILE, raised to its
  /// hard limit), leaving a quarter for upstream connections and room for the admin plane.
  std::uint64_t max_connections = 0;
  /// Request body bytes held across all requests in flight; beyond it 503 with Retry-After.
  /// Defaults to 256 MiB, or max_body_bytes when that is larger; never below max_body_bytes.
  std::uint64_t max_buffered_body_bytes = 256ull << 20;
  std::optional<TlsListener> tls;
};

struct AdminSettings {
  std::string listen = "127.0.0.1:9090";
  /// Bearer token `/admin/reload` and `/admin/explain` require when not empty: `admin.token`
  /// (typically `${SWITCHBOARD_ADMIN_TOKEN}`) or the contents of `admin.token_file` (read once at
  /// load like `api_key_file`; refused when group or others may read it). At least 16 visible
  /// ASCII characters. Required whenever `listen` is not a loopback address.
  SecretString token;      ///< kept out of core dumps (see secret_memory.h)
  std::string token_file;  ///< resolved path; empty when the token was given inline or not at all
};

/// What a replica does while the shared store (Redis) cannot be reached (`state.on_unavailable`).
/// self_hosted_only, the default: leases already held keep serving (they were granted, so no
/// budget can be exceeded); beyond them closed backends drop out and self-hosted ones serve with
/// rates enforced per replica. local: every replica enforces every limit on its own (availability
/// first; a budget may be spent once per replica). reject: refuse requests that need a budget
/// or a rate limit, and /readyz reports not ready.
enum class StateUnavailable { self_hosted_only, local, reject };

/// `state:`: where budgets and rate limits live. `memory` (the default) is per process;
/// `redis` shares them across replicas through Redis >= 6 or Valkey, with leases so that the
/// request path makes no Redis call in steady state (see gateway/shared_state.h).
struct StateSettings {
  enum class Store { memory, redis };
  Store store = Store::memory;
  /// `redis://[user[:password]@]host[:port][/db]` or `rediss://...` (TLS). The parts below are
  /// filled from it; the explicit keys override the URL's parts. Kept as written but with the
  /// password replaced by `***` (see policies/redis_url.h), so it may be logged.
  std::string url;
  bool tls = false;  ///< rediss://
  std::string host;  ///< without brackets for IPv6
  std::uint16_t port = 6379;
  unsigned database = 0;  ///< `database:` or the URL's /N; SELECT after connecting when not 0
  std::string username;   ///< ACL user (`username:` or the URL's); empty = the default user
  /// `password:` (typically `${REDIS_PASSWORD}`), `password_file:` (read once at load, refused
  /// when group or others may read it), or the URL's. Kept out of core dumps.
  SecretString password;
  std::string password_file;  ///< resolved path; empty when not given
  std::string ca_file;        ///< `tls.ca_file`: PEM CAs to verify the server; empty = system store
  std::string server_name;    ///< `tls.server_name`: SNI and the name verified; default = host
  std::string prefix = "switchboard";  ///< key namespace: `{prefix}:...`
  Duration connect_timeout{1'000};     ///< TCP connect + TLS handshake + AUTH/SELECT
  Duration command_timeout{250};       ///< one command's reply
  Duration reconnect_min{100};         ///< backoff after a failure, doubling up to the max
  Duration reconnect_max{5'000};
  StateUnavailable on_unavailable = StateUnavailable::self_hosted_only;
  /// Leases: how long a replica's unused share stays reserved for it without renewal (a crashed
  /// replica's share comes back after this), and how far ahead of need a replica leases (its
  /// lease aims to cover `lease_horizon` of its own recent spending and traffic).
  Duration lease_ttl{10'000};
  Duration lease_horizon{2'000};
  Duration sync_interval{200};  ///< background refill / report period
};

/// `responses:`: the store behind the Responses API's `previous_response_id` (and
/// GET/DELETE /v1/responses/{id}). Each entry holds a response's conversation, the Response
/// object, its tenant and the conversation's sensitivity level; see gateway/state/response_store.h.
struct ResponsesSettings {
  /// memory: per process, bounded by max_entries and max_bytes (least recently used evicted).
  /// redis: the Redis of `state:` (same connection settings and key prefix), entries expiring by
  /// ttl in Redis. none: nothing is stored; requests that need a stored response are refused.
  enum class Store { memory, redis, none };
  /// Default: redis when `state.store` is redis, else memory.
  Store store = Store::memory;
  Duration ttl{24LL * 3600 * 1000};            ///< from when an entry is stored
  std::uint64_t max_entries = 100'000;         ///< memory store only
  std::uint64_t max_bytes = 256ull << 20;      ///< memory store only; all entries' bytes
  std::uint64_t max_entry_bytes = 8ull << 20;  ///< one entry; larger ones are not stored
};

/// `audit:`: the tamper-evident audit trail (see gateway/audit/trail.h). Absent = no trail.
struct AuditSettings {
  std::string path;                         ///< the trail's directory, resolved; empty = no trail
  std::string key_file;                     ///< resolved path of the HMAC key file
  SecretString key;                         ///< the HMAC key (>= 32 bytes), kept out of core dumps
  std::uint64_t rotate_size = 64ull << 20;  ///< a new file once the current one reaches this
  Duration rotate_age{24LL * 3600 * 1000};  ///< ... or is this old
  Duration flush_interval{50};              ///< the writer's batch period (the crash window)
  std::uint64_t queue = 65536;              ///< lines waiting for the writer; beyond: dropped
  bool fsync = true;                        ///< fdatasync after every batch
  bool enabled() const { return !path.empty(); }
};

/// `telemetry.traces`: OpenTelemetry traces exported over OTLP/HTTP (protobuf) by
/// gateway/observability/trace_exporter.h. Each value comes from the YAML, else from the standard
/// environment variable named beside it, else the default.
struct TraceSettings {
  /// An endpoint is known (YAML or environment) and OTEL_SDK_DISABLED is not `true`.
  bool enabled = false;
  /// The URL spans are posted to, always ending in `/v1/traces`: `endpoint:` or
  /// OTEL_EXPORTER_OTLP_ENDPOINT is a base (`/v1/traces` appended unless already there);
  /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is taken as it is. http only for now.
  std::string endpoint;
  std::string service_name = "switchboard";  ///< OTEL_SERVICE_NAME
  /// Root spans sampled with this probability (TraceIdRatioBased); a client's traceparent decides
  /// for its trace. OTEL_TRACES_SAMPLER_ARG.
  double sample_ratio = 1.0;
  /// Send `traceparent` to closed backends too (self-hosted ones always get it).
  bool propagate_to_closed = false;
  std::uint64_t queue = 2048;  ///< spans waiting for export; more are dropped (and counted)
  std::uint64_t batch = 512;   ///< spans per export request (at most `queue`)
  Duration interval{1'000};    ///< a partial batch is sent after this long
  Duration timeout{5'000};     ///< one export request, connect to answer
  /// Extra request headers for the collector (e.g. authorization); names as written.
  std::map<std::string, std::string> headers;
  /// Extra resource attributes: OTEL_RESOURCE_ATTRIBUTES (`k=v,k=v`, percent-decoded) overlaid
  /// by `resource:`. service.name is never taken from here (service_name decides it).
  std::map<std::string, std::string> resource;
};

/// `telemetry:`.
struct TelemetrySettings {
  TraceSettings traces;
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

/// The output bound assumed for a backend without `max_output_tokens`: the provider's documented
/// default (or the model family's documented maximum output) when a request sets no max_tokens.
std::uint64_t default_max_output_tokens(Provider p, std::string_view model);

enum class Hosting { self_hosted, closed };
std::string_view to_string(Hosting h);  ///< "self-hosted" | "closed"

struct BackendTimeouts {
  Duration connect{2'000};
  /// Until a streamed answer's response header arrives (with its first event). A complete
  /// answer's header comes only once all of it is written: `total` bounds that wait.
  Duration first_token{60'000};
  /// Between two reads of a streamed body. 5 minutes: a reasoning model on OpenAI's chat
  /// completions (and Gemini, Bedrock) streams nothing while it thinks, often past a minute.
  Duration idle{300'000};
  Duration total{600'000};       ///< whole exchange
};

struct Price {
  double input_per_mtok = 0;
  double output_per_mtok = 0;
  double cached_input_per_mtok = 0;
  /// Anthropic prompt-cache writes (`cache_creation_input_tokens`); 0 = not declared: billed at
  /// the input price.
  double cache_write_per_mtok = 0;
  double gpu_hour_usd = 0;
  double tokens_per_second = 0;
};

/// `health_check:` on a backend: the gateway probes it in the background and keeps it out of
/// rotation while the probe fails (through the same circuit that request failures open).
struct HealthCheck {
  Duration interval{10'000};  ///< between probes
  Duration timeout{2'000};    ///< for one probe
  /// GET path below the base URL's host; empty = the engine's own health endpoint (vLLM, TGI,
  /// SGLang, llama.cpp `/health`, Ollama `/api/version`), or `{base path}/models`.
  std::string path;
  unsigned unhealthy_threshold = 2;  ///< failed probes in a row that take the backend out
  unsigned healthy_threshold = 1;    ///< passed probes in a row that bring it back
};

/// `circuit_breaker:` on a backend (see gateway/circuit.h for the state machine).
struct CircuitBreaker {
  unsigned consecutive_failures = 5;  ///< failures in a row that open it; 0 = rule off
  double error_rate = 0.5;            ///< failure share over `window` that opens it
  unsigned min_requests = 20;         ///< requests in the window before the rate counts
  Duration window{10'000};
  Duration open_for{5'000};  ///< first open period; doubles after each failed probe
  Duration max_open_for{60'000};
};

/// What the routing engine assumes of a pool whose engine signals are stale (no endpoint read
/// within `stale_after`: the metrics endpoint is down, slow or malformed).
enum class OnStale {
  in_flight,  ///< judge headroom by the gateway's own in-flight counts, as with no signals
  full,       ///< no headroom: clean traffic spills, sensitive traffic waits
  idle,       ///< headroom: keep everything local
};

/// `load:` on a self-hosted backend: the engine's Prometheus endpoint, scraped in the background
/// (never on the request path), and the thresholds below which the backend has headroom.
/// Scraping is on when `load:` is declared or a `spill` rule or `when.load` names the backend
/// (with these defaults); `metrics: none` turns it off.
struct LoadSettings {
  /// Whose metric names to read: "vllm", "sglang", "tgi", "llamacpp" or "none". Default: the
  /// provider's (vllm, sglang, tgi, llamacpp); "none" for ollama and openai-compatible.
  std::string metrics;
  std::string path = "/metrics";  ///< GET path on each endpoint's host
  Duration interval{1'000};       ///< between scrapes of one endpoint
  Duration timeout{500};          ///< for one scrape
  Duration stale_after{5'000};    ///< a reading older than this is stale
  OnStale on_stale = OnStale::in_flight;
  /// `headroom: {queue, kv_cache, in_flight}`: an endpoint has headroom while its engine queue
  /// (waiting requests) is below `queue` and its KV-cache use below `kv_cache`; without fresh
  /// signals, while the gateway's in-flight count is below `in_flight` x max_in_flight (no
  /// max_in_flight: always). Clean traffic spills when no endpoint has headroom; sensitive
  /// traffic keeps the capacity above these thresholds (up to max_in_flight) to itself.
  double headroom_queue = 4;
  double headroom_kv_cache = 0.9;
  double headroom_in_flight = 0.8;
  bool declared = false;  ///< `load:` was written (else defaults, scraping only when used)
};

/// `affinity:` on a backend with several endpoints: requests whose conversations share their
/// first `prefix_tokens` (about 4 bytes each) go to the same replica, so its prefix cache is
/// reused, unless that replica's load exceeds `max_load_factor` x the pool's mean + 1 (bounded
/// load: one hot prefix cannot overload a replica). `affinity: none` turns it off.
struct Affinity {
  bool enabled = true;
  unsigned prefix_tokens = 256;
  double max_load_factor = 1.25;
};

/// How an Ollama backend is spoken to: its OpenAI-compatible `/v1` API, or its native `/api/chat`.
enum class WireApi { openai, native };

/// The most replicas one backend may list in `endpoints:` (the endpoint picker keeps its
/// candidates on the stack).
inline constexpr std::size_t kMaxEndpoints = 64;

struct Backend {
  std::string name;  ///< the key under `backends:`
  Provider provider = Provider::openai_compatible;
  Hosting hosting = Hosting::self_hosted;
  std::string base_url;  ///< http(s)://host[:port][/path], validated; no trailing slash
  /// `endpoints: [url, ...]` (self-hosted only, instead of base_url): replicas of one model,
  /// balanced by load; at most kMaxEndpoints. Always at least one: base_url alone when `endpoints`
  /// is not given; base_url is endpoints.front().
  std::vector<std::string> endpoints;
  std::string model;  ///< model name pinned upstream
  /// May be empty (no Authorization sent). With `api_key_file: PATH` it holds that file's
  /// contents, read once at load with one trailing newline (`\n` or `\r\n`) removed; the file
  /// must be readable, non-empty and free of control characters, and a non-empty `api_key` may
  /// not be given beside it. A reload reads the file again. Kept out of core dumps (see
  /// secret_memory.h), like the AWS secret and session token.
  SecretString api_key;
  /// The file `api_key` was read from, resolved like `tls.ca_file`; empty when the key was given
  /// inline (or not at all). Refused when group or others may read it (`chmod 600`).
  std::string api_key_file;
  /// `api_version: "2024-10-21"` (letters, digits, '.', '-', '_'). Required for azure-openai
  /// (sent as the `api-version` query parameter); optional for anthropic, where it overrides the
  /// `anthropic-version` header; an error for every other provider. Empty when not declared.
  std::string api_version;
  /// `aws: {region, access_key_id, secret_access_key, session_token}`: SigV4 credentials, only
  /// for (and required by) provider bedrock. Empty for every other provider. The region is
  /// `[a-z0-9-]+` (e.g. `us-east-1`); the key id and secret must not be empty; the session token
  /// is optional (empty = none, as `${AWS_SESSION_TOKEN:-}` gives when it is unset).
  std::string aws_region;
  std::string aws_access_key_id;
  SecretString aws_secret_access_key;
  SecretString aws_session_token;  ///< empty when none
  /// Capability tier, a name from `tiers.levels`. Not declared: "standard"; when `tiers.levels`
  /// is customised without a "standard", the backend must declare it (a load error otherwise).
  std::string tier = "standard";
  /// The most sensitive level this backend may receive, a name from `sensitivity.levels`. Not
  /// declared: "public"; when `sensitivity.levels` is customised without a "public", the backend
  /// must declare it (a load error otherwise: a clearance is never guessed).
  std::string clearance = "public";
  int tier_level = 1;          ///< `tier` as an index into Config::tiers.levels
  int clearance_level = 0;     ///< `clearance` as an index into Config::sensitivity.levels
  unsigned max_in_flight = 0;  ///< 0 = unlimited
  /// `max_output_tokens`: the most output tokens a request without max_tokens /
  /// max_completion_tokens may produce here: the worst case a budget or tpm reservation covers.
  /// Not declared: default_max_output_tokens(provider, model), resolved at load.
  std::uint64_t max_output_tokens = 0;
  /// Whether `max_output_tokens` was declared: then it is the model's own limit, and a request
  /// from an agent asking for more (Claude Code's max_tokens 32000) is clamped to it.
  bool max_output_tokens_declared = false;
  BackendTimeouts timeouts;
  std::string ca_file;     ///< extra PEM CA bundle for https upstreams; empty = system store
  bool tls_verify = true;  ///< `tls: {verify: false}` only for tests and labs
  /// `allow_insecure: true` lets a closed provider (openai, azure-openai, anthropic, gemini,
  /// bedrock) be reached over plain http:// or with `tls: {verify: false}` (labs and tests with
  /// stand-in providers); without it loading refuses both. Such providers also refuse
  /// `hosting: self-hosted`, which would let them past `egress: none`.
  bool allow_insecure = false;
  std::map<std::string, std::string> headers;  ///< extra headers sent upstream
  /// `forward_headers: [name, ...]`: client headers a closed backend receives beyond the
  /// allow-list (lower-case; valid names, none hop-by-hop or managed by the gateway). Self-hosted
  /// backends receive every forwardable client header anyway.
  std::vector<std::string> forward_headers;
  Price price;
  /// `license: {name: llama3.1-community, commercial: true}`; `commercial: false` marks
  /// research-only weights that a tenant with `use: commercial` never reaches.
  std::string license_name;  ///< empty when not declared
  bool license_commercial = true;
  unsigned weight = 1;  ///< for the `weighted` strategy; >= 1
  /// OpenAI only: `organization` and `project` sent as OpenAI-Organization / OpenAI-Project.
  std::string organization;
  std::string project;
  /// `api: native` (Ollama only): `/api/chat` with NDJSON streams instead of `/v1`.
  WireApi api = WireApi::openai;
  std::optional<HealthCheck> health_check;
  CircuitBreaker circuit_breaker;
  LoadSettings load;  ///< self-hosted only
  /// Whether the gateway scrapes this backend's engine: load declared (metrics not "none") or
  /// the backend named by a `spill` rule or `when.load`, with an engine that has metrics.
  bool scrape = false;
  Affinity affinity;
};

struct ModelAlias {
  std::string name;                     ///< what clients send in "model"
  std::vector<std::string> candidates;  ///< backend names, in order of preference
  std::string tier;                     ///< may be empty
  int tier_level = -1;                  ///< `tier` as an index into tiers.levels; -1 when empty
};

// ---------------------------------------------------------------------------------------------
// Routing: tenants, sensitivity, tiers, policies, cost. Level and tier names below are validated
// against `sensitivity.levels` / `tiers.levels`; they are stored as indexes into those lists
// (0 = lowest) so that comparisons on the request path are integer compares.

/// Ordered levels, lowest first. Used for sensitivity levels and capability tiers.
struct Scale {
  std::vector<std::string> names;
  /// Index of `name`, or -1.
  int find(std::string_view name) const;
  bool operator==(const Scale&) const = default;
};

/// One entry of a detector's `allow:` list: a value the detector finds that is not sensitive. A
/// match whose value is allowed does not count (no entity, no level). Exactly one member is set.
struct AllowEntry {
  /// An exact value, compared as the detector compares values (policies/detector_allow.h): Unicode
  /// folded as the scanned text is, ASCII case ignored except for keys and tokens, separators
  /// ignored in numbers.
  std::string value;
  /// A Hyperscan regex that must match the whole value as it appears in the (folded) text,
  /// case-insensitively except for keys and tokens.
  std::string pattern;
  bool operator==(const AllowEntry&) const = default;
};

/// A built-in entity's level: `off` disables the detector.
struct EntityLevel {
  std::string entity;             ///< one of builtin_entities()
  int level = -1;                 ///< index into sensitivity.levels; -1 = off
  std::vector<AllowEntry> allow;  ///< `sensitivity.detectors.ENTITY.allow`, in file order
  bool operator==(const EntityLevel&) const = default;
};

/// Built-in detector entity names, in a fixed order: credit_card, us_ssn, iban, email, phone,
/// ip_address, aws_access_key, github_token, openai_key, anthropic_key, slack_token, private_key,
/// jwt, google_api_key, stripe_key, gitlab_token, huggingface_token, openrouter_key,
/// deepseek_key, npm_token, groq_key, xai_key, perplexity_key, url_credentials, credential. In
/// YAML, `secret: LEVEL` sets the nineteen secret kinds at once (a per-kind key overrides it).
const std::vector<std::string>& builtin_entities();

struct CustomDetector {
  std::string name;     ///< entity name reported in explain/metrics; [a-z0-9_]+, not a built-in
  std::string pattern;  ///< Hyperscan/PCRE-subset regex; or
  std::vector<std::string> keywords;  ///< literal words (matched case-insensitively, whole words)
  int level = 0;
  std::vector<AllowEntry> allow;  ///< values of this detector that do not count
  bool operator==(const CustomDetector&) const = default;
};

/// Content the gateway cannot read, by kind (bits of UnscannableSettings::kinds).
enum UnscannableKind : unsigned {
  kUnscannableTokenIds = 1u << 0,  ///< prompts and inputs given as token ids
  kUnscannableAudio = 1u << 1,     ///< input audio
  kUnscannableFiles = 1u << 2,     ///< files and documents (and other base64 payloads)
  kUnscannableImages = 1u << 3,    ///< images
};
constexpr unsigned kUnscannableAll = 0xfu;

/// `sensitivity.unscannable: {level, kinds}`: a request carrying content of one of `kinds` is at
/// least `level` (its text is still scanned). Defaults: the highest level, every kind; removing
/// `images` from kinds lets images go by their text alone.
struct UnscannableSettings {
  int level = -1;  ///< index into sensitivity.levels; resolved at load (-1 only before)
  unsigned kinds = kUnscannableAll;
  bool operator==(const UnscannableSettings&) const = default;
};

/// Kind names as written in `kinds:` (token_ids, audio, files, images), in bit order.
const std::vector<std::string>& unscannable_kind_names();

struct SensitivitySettings {
  /// At least two unique names matching [a-z0-9_-]+ (`off` is reserved).
  Scale levels{{"public", "internal", "confidential", "restricted"}};
  /// Every built-in entity with its level, in builtin_entities() order (defaults: credit_card,
  /// us_ssn, iban and the secrets restricted; email and phone confidential; ip_address internal).
  /// When `levels` is customised and lacks a default's name, that entity defaults to the highest
  /// level (a detector never under-classifies) and a notice says so.
  std::vector<EntityLevel> entities;
  std::vector<CustomDetector> custom;
  UnscannableSettings unscannable;
  /// `allow_defaults`: the built-in allow-list (policies/detector_allow.h: RFC 2606/6761 reserved
  /// domains and the no-reply addresses coding agents write into their prompts) applies to
  /// `email` and to custom detectors on top of their own `allow:` entries.
  bool allow_defaults = true;
  /// Equal settings compile to the same detector (a reload may reuse it).
  bool operator==(const SensitivitySettings&) const = default;
};

/// Request features that policies and tier inference can test. Unset members match anything.
struct FeatureCondition {
  std::optional<bool> tools;                         ///< the request declares tools/functions
  std::optional<bool> images;                        ///< an image content part is present
  std::optional<bool> json_schema;                   ///< response_format.type == json_schema
  std::optional<std::uint64_t> prompt_tokens_above;  ///< estimated prompt tokens >
  std::optional<std::uint64_t> depth_above;          ///< number of messages >
  std::vector<std::string> reasoning_effort;         ///< any of these values (empty = any)
  bool empty() const;
};

struct TierInference {
  int tier = 0;
  FeatureCondition when;  ///< all set conditions must hold
};

struct TierSettings {
  Scale levels{{"small", "standard", "frontier"}};
  /// `default:`; when not given, "standard" if the scale has it, else the lowest tier.
  int default_tier = 1;
  std::vector<TierInference> infer;  ///< first match wins; none matching → default
};

enum class BudgetAction { reject, self_hosted_only };

struct Budget {
  std::optional<double> daily_usd;
  std::optional<double> monthly_usd;
  BudgetAction on_exhausted = BudgetAction::reject;
};

struct RateLimit {
  std::uint64_t rpm = 0;  ///< requests per minute; 0 = unlimited
  std::uint64_t tpm = 0;  ///< tokens per minute (estimated at admission); 0 = unlimited
};

enum class TenantUse { commercial, research };

struct Tenant {
  std::string name;
  /// SHA-256 of each API key, 32 raw bytes each (config: "sha256:<64 hex>").
  std::vector<std::string> key_hashes;
  int floor = 0;  ///< minimum sensitivity of this tenant's requests
  TenantUse use = TenantUse::commercial;
  Budget budget;
  RateLimit rate;
};

struct AuthSettings {
  /// Requests without an API key are served as this tenant; empty = they get 401. When the
  /// config has no `tenants:` section at all, an implicit open tenant named "default" exists and
  /// this is "default".
  std::string anonymous_tenant;
};

struct LevelRange {
  int at_least = -1;  ///< -1 = unbounded
  int at_most = -1;   ///< -1 = unbounded
  bool contains(int level) const {
    return (at_least < 0 || level >= at_least) && (at_most < 0 || level <= at_most);
  }
};

struct VolumeCondition {
  std::string backend;                    ///< required
  std::optional<double> in_flight_above;  ///< fraction of max_in_flight, 0..1 (needs a max)
  std::optional<double> rpm_above;        ///< backend requests in the last minute
  std::optional<double> tpm_above;        ///< backend tokens in the last minute
};

/// `when.load`: the engine's own load signals of a self-hosted backend (policies/load.h). All set
/// thresholds must hold; while the signals are stale none holds (the rule does not match).
struct LoadCondition {
  std::string backend;                ///< required; self-hosted
  std::optional<double> queue_above;  ///< requests waiting in the engine(s), summed over the pool
  std::optional<double> kv_cache_above;    ///< 0..1, the least-used replica's KV-cache use
  std::optional<Duration> ttft_p50_above;  ///< the best replica's median time to first token
};

enum class BudgetPeriod { any, daily, monthly };

struct BudgetCondition {
  double spent_fraction_above = 0;          ///< spent (and reserved) / limit >
  BudgetPeriod period = BudgetPeriod::any;  ///< any: the highest fraction of the two
};

struct When {
  std::optional<LevelRange> sensitivity;  ///< {at_least, at_most} or a single level name (==)
  std::optional<LevelRange> tier;
  std::vector<std::string> tenants;  ///< any of (empty = any)
  std::vector<std::string> models;   ///< any of these aliases (empty = any)
  std::optional<VolumeCondition> volume;
  std::optional<LoadCondition> load;
  std::optional<BudgetCondition> budget;
  FeatureCondition features;
  /// Header name (lower-case, must be in policy_headers) → accepted values.
  std::map<std::string, std::vector<std::string>> headers;
  /// True when nothing is tested (a catch-all rule).
  bool catch_all() const;
};

/// `spill`: self-hosted backends of the rule first while they have headroom (LoadSettings),
/// else the rule's closed backends, for requests cleared for them; requests cleared only for
/// self-hosted backends never spill and wait for local capacity in the rule's `queue`.
enum class Strategy { ordered, cheapest, least_loaded, weighted, spill };

/// `queue: {max, timeout}` on a `spill` rule: how many requests (across the gateway process)
/// may wait for a self-hosted backend at max_in_flight, and for how long, before 503.
struct SpillQueue {
  unsigned max = 64;
  Duration timeout{10'000};
};
enum class OnUnavailable { next_rule, reject };

struct Route {
  /// Backend names; empty = the requested model alias's candidates.
  std::vector<std::string> to;
  Strategy strategy = Strategy::ordered;
  OnUnavailable on_unavailable = OnUnavailable::next_rule;
  bool allow_lower_tier = false;  ///< backends below the request's tier stay eligible
  bool shed = false;              ///< answer 429 instead of routing (load shedding)
  SpillQueue queue;               ///< `spill` only
};

struct Policy {
  std::string name;  ///< unique
  When when;
  Route route;
  int line = 0;  ///< where it was declared, for explain and check messages
};

/// `retries:`: how a failed attempt is tried again before anything reached the client. Each
/// backend of a decision gets up to `attempts` tries (retryable failures only: connection errors,
/// resets, 429, 5xx and provider overload — never a timeout, never after the first byte), then the
/// next eligible backend takes over. The wait before a retry is full-jitter exponential backoff
/// (uniform in [0, min(max_backoff, backoff * 2^n)]) or the upstream's Retry-After when it asked
/// for one no longer than `max_retry_after`; a longer Retry-After moves on to the next backend.
struct RetrySettings {
  unsigned attempts = 1;  ///< tries per backend; 1 = no retry on the same backend
  Duration backoff{100};
  Duration max_backoff{2'000};
  Duration max_retry_after{5'000};
};

struct CostSettings {
  /// Output tokens assumed for the pre-dispatch estimate when a request sets no max_tokens.
  std::uint64_t default_output_tokens = 1024;
  /// The fewest output tokens worth serving: when a budget or tpm cannot cover a request's worst
  /// case, its output is capped to what they afford if that is at least this many (else refused,
  /// or kept self-hosted per on_exhausted). A request asking for fewer is never capped.
  std::uint64_t min_output_tokens = 256;
  /// Closed backend whose prices value the traffic served self-hosted (savings); empty = the
  /// first closed backend that has prices, if any.
  std::string savings_reference;
};

enum class Egress { all, none };

/// Key path → {line, column} (1-based) where it was written.
using KeyPositions = std::map<std::string, std::pair<int, int>, std::less<>>;

struct Config {
  std::string source;  ///< file the config came from
  std::string text;    ///< the YAML text it was loaded from, as read
  ServerSettings server;
  AdminSettings admin;
  StateSettings state;
  ResponsesSettings responses;
  AuditSettings audit;
  TelemetrySettings telemetry;
  std::vector<Backend> backends;   ///< in file order
  std::vector<ModelAlias> models;  ///< in file order

  Egress egress = Egress::all;  ///< `egress: none` turns every closed backend off
  AuthSettings auth;
  /// In file order. A config without a `tenants:` section gets one implicit tenant
  /// `{name: "default"}` (lowest floor, no keys, commercial, no budget, no rate limit) and
  /// `auth.anonymous_tenant = "default"`, so configs written before tenants existed stay open.
  /// An empty `tenants:` section is an error.
  std::vector<Tenant> tenants;
  SensitivitySettings sensitivity;
  TierSettings tiers;
  /// First match wins; empty = route by model candidates. When not empty the last rule is a
  /// catch-all and no rule follows a catch-all (both checked at load).
  std::vector<Policy> policies;
  std::vector<std::string> policy_headers;  ///< lower-case header names `when.headers` may test
  CostSettings cost;
  RetrySettings retries;
  /// Notes for `check` and the startup log (e.g. "egress: none: closed backends openai are
  /// off"). Not errors.
  std::vector<std::string> notices;
  /// Where the keys checked after loading were written, key path → {line, column} (1-based):
  /// `backends.NAME`, `backends.NAME.base_url`, `backends.NAME.tls`, `sensitivity`,
  /// `sensitivity.custom[NAME]`, ... The gateway's runtime and the detector compiler report
  /// problems as `key.path: message`; locate() places them here.
  KeyPositions positions;

  const Backend* find_backend(std::string_view name) const;
  const ModelAlias* find_model(std::string_view name) const;
  const Tenant* find_tenant(std::string_view name) const;
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

/// An error found after loading, worded `key.path: message` (as the detector compiler and the
/// gateway's runtime word theirs), as a ConfigError at the key it names: the longest prefix of
/// the path that `config.positions` knows gives the line and column (`backends.a.tls.ca_file`
/// falls back to `backends.a.tls`, then `backends.a`). FILE:0:0 with the whole text as the message
/// when no prefix is known.
ConfigError locate(const std::string& file, const KeyPositions& positions,
                   std::string_view message);
/// locate(config.source, config.positions, message).
ConfigError locate(const Config& config, std::string_view message);

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
/// `backends.*.tls.ca_file`, `backends.*.api_key_file`) are resolved against the directory of
/// `path` and stored resolved.
LoadResult load_file(const std::string& path, const EnvLookup& env = process_env);
/// Loads a config held in memory; `file_name` only names it in errors and in Config::source.
/// Relative file paths inside it are taken relative to the working directory. A YAML syntax error
/// gives one error, `FILE:LINE:COL: YAML syntax error: <parser message>`.
LoadResult load_string(std::string_view yaml, std::string_view file_name,
                       const EnvLookup& env = process_env);

}  // namespace sb::config
