#pragma once
// The config loader's shared context: `ConfigBuilder` reads a YAML document into a `Config`, one
// section per file in this folder (server.cc, state.cc, backends.cc, ...), each owning its key
// table and its parse functions; analysis.cc holds the checks over the whole config. Private to
// the policies library: nothing outside policies/config*.cc includes it.
//
// Thread-safety: a builder is used by one thread, once.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policies/config.h"
#include "policies/yaml_reader.h"

namespace sb::config::detail {

// Whether a key of a mapping must be present.
inline constexpr bool kRequired = true;
inline constexpr bool kOptional = false;

// A key file holds one key; anything larger is the wrong file.
inline constexpr std::uint64_t kMaxKeyFileBytes = 64 * 1024;
// Turns a detector off where a level is expected.
inline constexpr std::string_view kOff = "off";

// ---------------------------------------------------------------------------------------------
// Small helpers shared by the sections (common.cc).

bool is_alnum(char c);  ///< ASCII letter or digit
std::string lowercase(std::string_view s);
std::string join(const std::vector<std::string>& items, std::string_view separator = ", ");
/// Editors and `echo` end files with a newline; one is not part of a key or token.
void strip_one_newline(std::string& s);
/// A secret file that users other than its owner may read, named with its mode; nullopt if fine.
std::optional<std::string> exposed_secret_file(const std::string& path);
/// Backend, tenant and rule names: letters, digits, '_', '.', '-'.
bool valid_backend_name(std::string_view name);
/// RFC 9110 token characters.
bool valid_header_name(std::string_view name);
/// No control characters but tab.
bool valid_header_value(std::string_view value);

template <class T, class U>
void assign(T& target, std::optional<U>&& value) {
  if (value) {
    target = static_cast<T>(*value);
  }
}

/// Overwrites a secret's bytes when it goes out of scope.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::optional<std::string>& s) : s_(s) {}
  ~WipeOnExit();
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::optional<std::string>& s_;
};

/// Moves a secret into secret memory and wipes the source.
void assign_secret(SecretString& target, std::optional<std::string>&& value);

// ---------------------------------------------------------------------------------------------

class ConfigBuilder {
 public:
  explicit ConfigBuilder(YamlReader& reader) : r_(reader) {}

  /// Reads every section of the document (load.cc).
  void read(const Located& root);
  Config take() { return std::move(config_); }

 private:
  enum class Kind { level, tier };
  enum class Reference { tenant, model };
  struct Sections;
  struct StateNodes;
  struct BackendNodes;

  // Where a rule's parts are, for the checks that look at the whole list.
  struct RuleNodes {
    Located node;
    std::optional<Located> name;
    std::optional<Located> to;
    bool when_ok = true;  // `when` read without errors: its emptiness means something
    bool to_ok = true;
  };

  // A field reader that only remembers where the value is, to be read later.
  static std::function<void(const Located&)> keep(std::optional<Located>& slot) {
    return [&slot](const Located& v) { slot = v; };
  }
  // A secret kept in a file: `noun` words `NOUN file is empty`; a non-empty `conflict` is
  // reported instead of reading it (another key already gave the secret).
  struct SecretFile {
    std::string_view noun;
    std::string_view conflict;
  };
  /// The secret in the file `v` names (api_key_file, admin.token_file, state.password_file): at
  /// most kMaxKeyFileBytes, readable by its owner only, one trailing newline removed, not empty,
  /// and accepted by `valid` (which reports why not). Stored in `target`, its resolved path in
  /// `path_out`. False after an error.
  bool read_secret_file(const Located& v, const SecretFile& kind,
                        const std::function<bool(const std::string&)>& valid, SecretString& target,
                        std::string& path_out);
  // Field readers for plain values: the value converted and stored, or the error reported.
  std::function<void(const Located&)> set_duration(Duration& target, bool allow_zero);
  std::function<void(const Located&)> set_size(std::uint64_t& target, bool allow_zero);
  std::function<void(const Located&)> set_bool(bool& target);
  std::function<void(const Located&)> set_number(double& target);  ///< >= 0
  // A key whose value is only remembered, to be read once the whole mapping is known.
  struct Kept {
    std::string_view key;
    std::optional<Located>* slot;
    bool required = false;
  };
  /// Reads a mapping of kept keys (unknown, duplicate and missing keys reported as read_map does).
  bool read_kept(const Located& map, std::span<const Kept> keys);
  /// Remembers where `path` was written, for errors found after loading (Config::positions).
  void mark(std::string path, const Located& where);

  // load.cc
  void read_sections(const Sections& s);

  // server.cc: server, admin.
  std::optional<std::string> listen(const Located& v);
  void read_server(const Located& section);
  void read_server_listen(const Located& v);
  void resolve_server_listen();
  void read_threads(const Located& v);
  void read_listener_tls(const Located& section);
  void read_admin(const Located& section);
  bool valid_admin_token(const Located& v, std::string_view token);
  bool read_admin_token_file(const Located& v, AdminSettings& a);

  // state.cc
  void read_state(const Located& section);
  bool read_state_keys(const Located& section, StateNodes& n);
  void read_state_credentials(const StateNodes& n, StateSettings& s);
  void read_state_options(const StateNodes& n, StateSettings& s);
  void read_state_url(const Located& v, StateSettings& s);
  void read_state_tls(const Located& section, StateSettings& s, bool check_scheme);
  void read_state_reconnect(const Located& section, StateSettings& s);
  void read_state_lease(const Located& section, StateSettings& s);
  void read_state_sync_interval(const Located& v, StateSettings& s);
  bool valid_redis_username(const Located& v, std::string_view name);
  bool valid_redis_password(const Located& v, std::string_view password);
  void read_redis_password_file(const Located& v, StateSettings& s);

  // responses.cc
  void read_responses(const std::optional<Located>& section);
  void read_response_entry_bytes(const std::optional<Located>& v, bool max_bytes_given);

  // audit.cc
  void read_audit(const Located& section);
  void read_audit_rotate(const Located& v, AuditSettings& a);
  // telemetry.cc
  struct TraceNodes;
  void read_telemetry(const std::optional<Located>& section);
  void read_traces(const TraceNodes& n, TraceSettings& t);
  void read_trace_endpoint(const TraceNodes& n, TraceSettings& t);
  void read_trace_env(const TraceNodes& n, TraceSettings& t);
  void read_trace_headers(const Located& v, std::map<std::string, std::string>& out);
  void read_trace_resource(const Located& v, std::map<std::string, std::string>& out);

  // scales.cc: sensitivity levels and capability tiers, and lists of names.
  const Scale& scale(Kind k) const;
  bool scale_ok(Kind k) const { return k == Kind::level ? levels_ok_ : tiers_ok_; }
  std::string unknown_name(Kind k, const std::string& name) const;
  std::optional<int> level_of(const Located& v, Kind k);
  bool read_scale(const Located& v, Kind k, Scale& out);
  std::optional<LevelRange> level_range(const Located& v, Kind k);
  template <class Accept>
  void read_name_list(const Located& v, std::vector<std::string>& out,
                      std::string_view expected_message, std::string_view empty_message,
                      std::string_view noun, Accept accept);
  void read_strings(const Located& v, std::vector<std::string>& out,
                    std::string_view expected_message);

  // sensitivity.cc
  using AllowLists = std::map<std::string, std::vector<AllowEntry>, std::less<>>;  // by entity
  void read_sensitivity(const std::optional<Located>& section);
  void resolve_entities(const std::map<std::string, int, std::less<>>& chosen,
                        std::optional<int> secret, AllowLists& allows);
  void read_unscannable(const Located& section, UnscannableSettings& u);
  void read_unscannable_kinds(const Located& v, UnscannableSettings& u);
  void read_detectors(const Located& section, std::map<std::string, int, std::less<>>& chosen,
                      std::optional<int>& secret, AllowLists& allows);
  void read_detector_map(const YamlReader::Entry& e,
                         std::map<std::string, int, std::less<>>& chosen, AllowLists& allows);
  void read_allow(const Located& v, std::vector<AllowEntry>& out);
  std::optional<int> detector_level(const Located& v);
  void read_custom_detectors(const Located& v);
  void check_detector_name(const Located& v, std::string_view name,
                           std::set<std::string, std::less<>>& names);
  void check_detector_pattern(const Located& v, const std::string& pattern);

  // tiers.cc
  void read_tiers(const Located& section);
  void read_infer(const Located& v);
  void read_features(const Located& v, FeatureCondition& f);

  // backends.cc: the backend mapping and its provider-specific keys.
  void read_backends(const Located& section);
  Backend read_backend(const std::string& name, const Located& section);
  std::vector<YamlReader::Field> backend_fields(Backend& b, BackendNodes& n);
  std::vector<YamlReader::Field> backend_option_fields(Backend& b, BackendNodes& n);
  void check_provider_keys(const Located& section, const BackendNodes& n, Backend& b);
  bool provider_key_allowed(const std::optional<Located>& v, unsigned key, const Backend& b);
  bool provider_key_present(const Located& section, const std::optional<Located>& v, unsigned key,
                            const Backend& b);
  void check_closed_provider(const BackendNodes& n, const Backend& b);
  void read_pool_keys(const BackendNodes& n, Backend& b);
  void read_endpoints(const Located& v, Backend& b);
  void read_api_key_file(const Located& v, Backend& b);
  void read_api_version(const Located& section, const std::optional<Located>& v, Backend& b);
  void read_aws(const Located& section, const std::optional<Located>& v, Backend& b);
  std::optional<std::string> aws_region(const Located& v);
  std::optional<std::string> aws_secret(const Located& v, bool required);
  void resolve_backend_level(const Located& section, const std::optional<Located>& value, Kind k,
                             std::string& name, int& index);
  std::optional<std::string> base_url(const Located& v);
  void read_openai_ids(const std::optional<Located>& organization,
                       const std::optional<Located>& project, Backend& b);
  void read_wire_api(const std::optional<Located>& v, Backend& b);

  // backend_options.cc: the keys every provider shares.
  void read_license(const Located& section, Backend& b);
  void read_retries(const Located& section);
  void read_circuit_breaker(const Located& section, CircuitBreaker& c);
  HealthCheck read_health_check(const Located& section);
  void read_timeouts(const Located& section, BackendTimeouts& t);
  void read_upstream_tls(const Located& section, Backend& b, std::optional<Located>& verify_node);
  void read_forward_headers(const Located& v, std::vector<std::string>& out);
  void read_headers(const Located& section, std::map<std::string, std::string>& headers);
  void read_price(const Located& section, Price& p);
  void read_load_settings(const Located& section, LoadSettings& l);
  void read_headroom(const Located& section, LoadSettings& l);
  void read_affinity(const Located& v, Affinity& a);

  // models.cc
  void read_models(const Located& section);
  void read_candidates(const Located& v, ModelAlias& alias);
  void resolve_models();

  // tenants.cc: tenants, auth, cost.
  void read_tenants(const std::optional<Located>& section);
  Tenant read_tenant(const std::string& name, const Located& section,
                     std::map<std::string, std::string>& owners);
  void read_key_hashes(const Located& v, Tenant& t, std::map<std::string, std::string>& owners);
  std::optional<double> amount(const Located& v);
  void read_budget(const Located& section, Budget& b);
  void read_rate(const Located& section, RateLimit& rate);
  void read_auth(const std::optional<Located>& section);
  void read_cost(const Located& section);

  // policies.cc: egress, policy_headers, policies.
  void read_egress(const Located& v);
  void read_policy_headers(const Located& v);
  void read_policies(const Located& section);
  void read_when(const Located& v, When& w);
  void read_references(const Located& v, std::vector<std::string>& out, Reference kind);
  /// The backend a `when` condition names at `v` (its name into `name`, known or not); nullptr
  /// when `v` is not a name or names no backend (after an error saying so).
  const Backend* condition_backend(const Located& v, std::string& name);
  std::optional<VolumeCondition> volume(const Located& v);
  std::optional<BudgetCondition> budget_condition(const Located& v);
  std::optional<LoadCondition> load_condition(const Located& v);
  void read_spill_queue(const Located& v, SpillQueue& q);
  void read_when_headers(const Located& v, std::map<std::string, std::vector<std::string>>& out);
  void read_route(const Located& v, Route& route, RuleNodes& nodes);
  void read_route_to(const Located& v, std::vector<std::string>& to);

  // analysis.cc: checks over the whole config, and notices.
  void check_policies(const Located& section, const std::vector<RuleNodes>& rules);
  void check_can_route(const Policy& p, const RuleNodes& nodes);
  std::string exclusion(const Backend& b, int min_sensitivity, int min_tier,
                        bool commercial_only) const;
  void add_notices();
  /// Backend::scrape, once backends and rules are known.
  void resolve_scrape();

  YamlReader& r_;
  Config config_;
  std::set<std::string, std::less<>> backend_names_;  // every declared name, valid or not
  std::vector<std::pair<Located, std::string>> candidate_refs_;
  bool models_given_ = false;
  bool levels_ok_ = true;  // sensitivity.levels absent or valid
  bool tiers_ok_ = true;   // tiers.levels absent or valid
  bool tenants_given_ = false;
  bool server_listen_given_ = false;  // server.listen set to an address (not absent, not `auto`)
  bool tenants_ok_ = true;            // the tenants section, if given, is a non-empty mapping
  // A backend's tier or clearance or a tenant's floor did not resolve: the values they were left
  // with say nothing, so checks built on them are skipped (the error is already reported).
  bool unresolved_ = false;
};

// A value or a list of values, none empty, no repeats. `accept(item, value)` may refuse an item
// (reporting why); `empty_message` and `noun` word the other errors.
template <class Accept>
void ConfigBuilder::read_name_list(const Located& v, std::vector<std::string>& out,
                                   std::string_view expected_message,
                                   std::string_view empty_message, std::string_view noun,
                                   Accept accept) {
  std::optional<std::vector<Located>> items = r_.scalar_or_sequence(v, expected_message);
  if (!items) {
    return;
  }
  if (items->empty()) {
    r_.error(v, std::string(empty_message));
    return;
  }
  for (const Located& item : *items) {
    std::optional<std::string> s = r_.non_empty_string(item);
    if (!s) {
      continue;
    }
    if (std::find(out.begin(), out.end(), *s) != out.end()) {
      r_.error(item, "duplicate " + std::string(noun) + " '" + *s + "'");
      continue;
    }
    if (accept(item, *s)) {
      out.push_back(std::move(*s));
    }
  }
}

}  // namespace sb::config::detail
