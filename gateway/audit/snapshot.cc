// Redacted config snapshots (see snapshot.h).
#include "gateway/audit/snapshot.h"

#include <yaml-cpp/yaml.h>

#include <array>

#include "gateway/audit/chain.h"
#include "policies/yaml_reader.h"

namespace sb::gateway::audit {
namespace {

// Admin tokens must be at least 16 visible characters.
constexpr std::string_view kRedactedToken = "REDACTED-REDACTED";

std::string escape_dollars(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '$') {
      out += '$';
    }
  }
  return out;
}

// Every scalar expanded with `env` and re-escaped; keys are never expanded (as the loader does).
// A reference that does not expand is left as written (the config could not have loaded).
void expand(YAML::Node node, const config::EnvLookup& env) {
  if (node.IsScalar()) {
    config::detail::Substitution s = config::detail::substitute_env(node.Scalar(), env);
    if (s.value) {
      node = escape_dollars(*s.value);
    }
    return;
  }
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      expand(node[i], env);
    }
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      expand(it->second, env);
    }
  }
}

bool has(const YAML::Node& map, const char* key) {
  return map.IsMap() && map[key];
}

// `key_file` (if present) becomes `key: placeholder`; an inline `key` gets the placeholder.
void redact(YAML::Node map, const char* key, const char* file_key, std::string_view value) {
  if (!map.IsMap()) {
    return;
  }
  if (file_key != nullptr && map[file_key]) {
    map.remove(file_key);
    map[key] = std::string(value);
  } else if (map[key] && map[key].IsScalar() && !map[key].Scalar().empty()) {
    map[key] = std::string(value);
  }
}

void remove_ca_file(YAML::Node map) {
  if (has(map, "tls") && map["tls"].IsMap()) {
    map["tls"].remove("ca_file");
  }
}

// redis://user:password@host → redis://user:REDACTED@host.
void redact_url_password(YAML::Node map) {
  if (!has(map, "url") || !map["url"].IsScalar()) {
    return;
  }
  std::string url = map["url"].Scalar();
  const std::size_t scheme = url.find("://");
  const std::size_t at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) {
    return;
  }
  const std::size_t colon = url.find(':', scheme + 3);
  if (colon != std::string::npos && colon < at) {
    url.replace(colon + 1, at - colon - 1, kRedacted);
    map["url"] = url;
  }
}

void redact_backends(YAML::Node backends) {
  if (!backends.IsMap()) {
    return;
  }
  for (auto it = backends.begin(); it != backends.end(); ++it) {
    YAML::Node b = it->second;
    redact(b, "api_key", "api_key_file", kRedacted);
    remove_ca_file(b);
    if (has(b, "aws")) {
      for (const char* k : {"access_key_id", "secret_access_key", "session_token"}) {
        redact(b["aws"], k, nullptr, kRedacted);
      }
    }
  }
}

void redact_tenants(YAML::Node tenants) {
  if (!tenants.IsMap()) {
    return;
  }
  for (auto it = tenants.begin(); it != tenants.end(); ++it) {
    YAML::Node keys = has(it->second, "api_keys") ? it->second["api_keys"] : YAML::Node();
    if (!keys.IsSequence()) {
      continue;
    }
    const std::string tenant = it->first.Scalar();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      keys[i] = "sha256:" + sha256_hex("redacted:" + tenant + ":" + std::to_string(i));
    }
  }
}

}  // namespace

std::optional<std::string> lenient_env(const std::string& name) {
  // The loader reads the OpenTelemetry SDK's variables by itself (no `${}` in the YAML); a
  // placeholder there is not a URL and would fail every snapshot's load.
  if (std::string_view(name).starts_with("OTEL_")) {
    return std::nullopt;
  }
  return std::string(kRedacted);
}

std::string snapshot_text(std::string_view raw_yaml, const config::EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(raw_yaml));
  } catch (const YAML::Exception&) {
    return {};
  }
  if (!root.IsMap()) {
    return {};
  }
  expand(root, env);
  if (has(root, "server") && root["server"].IsMap()) {
    root["server"].remove("tls");
  }
  if (has(root, "admin")) {
    redact(root["admin"], "token", "token_file", kRedactedToken);
  }
  if (has(root, "state")) {
    redact(root["state"], "password", "password_file", kRedacted);
    redact_url_password(root["state"]);
    remove_ca_file(root["state"]);
  }
  if (has(root, "audit") && root["audit"].IsMap()) {
    root.remove("audit");  // the trail's own key file: not part of what routes
  }
  if (has(root, "backends")) {
    redact_backends(root["backends"]);
  }
  if (has(root, "tenants")) {
    redact_tenants(root["tenants"]);
  }
  YAML::Emitter out;
  out << root;
  std::string text = out.c_str();
  text += '\n';
  return text;
}

std::string snapshot_hash(std::string_view text) {
  return sha256_hex(text);
}

}  // namespace sb::gateway::audit
