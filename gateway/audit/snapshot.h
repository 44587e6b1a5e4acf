#pragma once
// Config snapshots for the audit trail: the loaded YAML as it was in force, with every secret
// value redacted, so a past decision can be checked against the config that made it.
//
// The snapshot expands `${NAME}` references with the environment the config was loaded under
// (so `base_url: ${VLLM_URL:-...}` records the address used), then:
// - replaces secret values with "REDACTED": backends' api_key and aws credentials, state.password,
//   the password inside state.url (redis://user:REDACTED@host), admin.token (a longer
//   placeholder, as tokens must have 16 characters);
// - turns secret FILE keys (api_key_file, admin.token_file, state.password_file) into their
//   inline counterparts set to the placeholder;
// - removes what names files of this host: server.tls, backends.*.tls.ca_file, state.tls.ca_file;
// - replaces tenants' api_keys entries by digests that reveal nothing (one per entry, unique);
// - writes literal '$' as "$$" so the snapshot expands to the same values.
// The result loads with `sb::config::load_string(text, name, lenient_env)` on any machine.
// Comments and formatting are not kept.
//
// Pure: control path only. Thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "policies/config.h"

namespace sb::gateway::audit {

/// The redacted snapshot of `raw_yaml` (see above). Empty when the YAML does not parse.
std::string snapshot_text(std::string_view raw_yaml,
                          const config::EnvLookup& env = config::process_env);
/// Lowercase hex SHA-256 of `text`: the name snapshots are kept under (configs/<hash>.yaml).
std::string snapshot_hash(std::string_view text);
/// The environment snapshots are loaded under: "REDACTED" for every name but the OpenTelemetry
/// SDK's `OTEL_*` variables, which the loader reads on its own and which are unset here.
std::optional<std::string> lenient_env(const std::string& name);

/// The placeholder secret values are replaced by.
inline constexpr std::string_view kRedacted = "REDACTED";

}  // namespace sb::gateway::audit
