// switchboard: an OpenAI-compatible gateway that routes each request to a self-hosted or a closed
// model backend by policy. This file is the composition root: it parses the command line, loads
// the configuration and builds the server; nothing else knows how things are put together.

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/audit/replay.h"
#include "gateway/audit/verify.h"
#include "gateway/control/server.h"
#include "gateway/observability/log.h"
#include "gateway/observability/metrics.h"
#include "gateway/pipeline/explain.h"
#include "gateway/runtime/snapshot.h"
#include "gateway/state/shared_store.h"
#include "gateway/state/state_sync.h"
#include "policies/config.h"

namespace {

// Provider keys, AWS secrets and the admin token live in this process's memory. A core dump (a
// crash, or `kill -ABRT`) would write them to disk, where they outlive the process and reach
// whoever collects crash reports; a dumpable process can also be attached with ptrace, and its
// /proc/PID/mem and environ read, by any other process of the same user. So before any key is
// loaded the core size limit goes to 0 (no core file) and the process becomes non-dumpable (no
// core even through a core_pattern pipe, no same-user ptrace, /proc/PID files owned by root).
// Both are inherited by nothing we exec (we exec nothing) and survive for the process's life.
// Failures are reported, not fatal: a seccomp filter (systemd's ~@resources) may refuse
// setrlimit, and the unit then sets LimitCORE=0 itself.
void harden_process() {
  const rlimit no_core{0, 0};
  rlimit current{};
  const bool already = getrlimit(RLIMIT_CORE, &current) == 0 && current.rlim_max == 0;
  if (!already && setrlimit(RLIMIT_CORE, &no_core) != 0) {
    std::fprintf(stderr, "switchboard: warning: cannot set RLIMIT_CORE to 0: %s\n",
                 std::strerror(errno));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::fprintf(stderr, "switchboard: warning: cannot make the process non-dumpable: %s\n",
                 std::strerror(errno));
  }
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

constexpr const char* kUsage =
    R"(switchboard )" SWITCHBOARD_VERSION R"( - an OpenAI-compatible LLM gateway

Usage:
  switchboard run   --config FILE   Serve the data plane and the admin plane (SIGHUP reloads,
                                    SIGTERM drains and exits)
  switchboard check --config FILE   Validate FILE; print every error as FILE:LINE:COL: key: message
  switchboard explain --config FILE --request REQUEST.json [--header 'K: V']... [--api-key KEY]
                                    Print the routing decision for a chat request as JSON;
                                    nothing is sent anywhere
  switchboard replay --trail DIR --config NEW.yaml [--since T] [--until T] [--json]
                                    Re-decide an audit trail's decisions under NEW.yaml and
                                    print what would change (replay --help for more)
  switchboard hash-key [KEY]        Print the sha256:... form of an API key for tenants.api_keys
                                    (reads the key from stdin when not given)
  switchboard audit verify --trail DIR --key FILE [--json]
                                    Check an audit trail's chain and clearance; print the report
  switchboard --config FILE         Same as 'run'
  switchboard --version
  switchboard --help

Data plane (server.listen; by default 127.0.0.1:8080, or 0.0.0.0:8080 once every request needs
an API key: tenants with api_keys and no auth.anonymous_tenant):
  POST /v1/chat/completions   GET /v1/models   GET /v1/models/{alias}
Admin plane (admin.listen, default 127.0.0.1:9090):
  GET /healthz   GET /readyz   GET /metrics   POST /admin/reload   POST /admin/explain
  (the last two need 'Authorization: Bearer TOKEN' when admin.token is set, which it must be
  beyond loopback)

Logs: operational events as JSON lines on stderr; one access-log JSON line per request on stdout.
)";

struct Args {
  std::string command;
  std::string config;
  std::string request;
  std::string api_key;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::vector<std::string> positional;
  std::string error;
};

// `--header 'Name: value'`: the name lower-cased, the value without its leading spaces. False,
// with the error set, for a line without a name.
bool add_header(const std::string& line, Args& a) {
  const auto colon = line.find(':');
  if (colon == std::string::npos || colon == 0) {
    a.error = "--header takes 'Name: value'";
    return false;
  }
  std::string name = line.substr(0, colon);
  for (char& ch : name) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  std::string v = line.substr(colon + 1);
  v.erase(0, std::min(v.find_first_not_of(' '), v.size()));
  a.headers.emplace_back(std::move(name), std::move(v));
  return true;
}

Args parse_args(int argc, char** argv) {
  Args a;
  std::vector<std::string_view> rest(argv + 1, argv + argc);
  std::size_t i = 0;
  if (i < rest.size() && !rest[i].starts_with("-")) {
    a.command = rest[i++];
  }
  for (; i < rest.size(); ++i) {
    const std::string_view arg = rest[i];
    if (arg == "--help" || arg == "-h") {
      a.command = "help";
      return a;
    }
    if (arg == "--version") {
      a.command = "version";
      return a;
    }
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= rest.size()) {
        a.error = "--config needs a file";
        return a;
      }
      a.config = rest[++i];
    } else if (arg.starts_with("--config=")) {
      a.config = arg.substr(9);
    } else if ((arg == "--request" || arg == "--api-key" || arg == "--header") &&
               i + 1 < rest.size()) {
      const std::string value(rest[++i]);
      if (arg == "--request") {
        a.request = value;
      } else if (arg == "--api-key") {
        a.api_key = value;
      } else if (!add_header(value, a)) {
        return a;
      }
    } else if (!arg.starts_with("-")) {
      a.positional.emplace_back(arg);
    } else {
      a.error = "unknown argument '" + std::string(arg) + "'";
      return a;
    }
  }
  if (a.command.empty()) {
    a.command = a.config.empty() ? "help" : "run";
  }
  if ((a.command == "run" || a.command == "check" || a.command == "explain") && a.config.empty()) {
    a.error = "'" + a.command + "' needs --config FILE";
  } else if (a.command == "explain" && a.request.empty()) {
    a.error = "'explain' needs --request FILE (a chat-completions JSON body)";
  }
  return a;
}

// Loads and builds a snapshot; prints every error to stderr. nullptr on failure.
std::shared_ptr<const sb::gateway::Snapshot> load(const std::string& path,
                                                  sb::gateway::SharedState& shared) {
  sb::config::LoadResult loaded = sb::config::load_file(path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    }
    return nullptr;
  }
  // Problems found while building the runtime (TLS contexts, the detector) name a key path:
  // they are placed at that key as loading's own errors are.
  const sb::config::KeyPositions positions = loaded.config->positions;
  std::vector<std::string> errors;
  auto snap = sb::gateway::Snapshot::build(std::move(*loaded.config), shared, nullptr, errors);
  for (const auto& e : errors) {
    std::fprintf(stderr, "%s\n", sb::config::locate(path, positions, e).to_string().c_str());
  }
  return snap;
}

// `explain`: the decision for one request file, as JSON; 0 when it would be served.
int explain_command(const Args& args, const sb::gateway::Snapshot& snap) {
  std::ifstream in(args.request, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "switchboard: cannot read %s\n", args.request.c_str());
    return 1;
  }
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  for (const auto& [k, v] : args.headers) {
    headers.emplace_back(k, v);
  }
  const auto r = sb::gateway::explain_request(snap, body, headers, args.api_key);
  std::printf("%s\n", r.json.c_str());
  return r.status == 200 ? 0 : 1;
}

// `check`: the config loaded and compiled; what it will do said in a few lines.
int check_command(const Args& args, const sb::gateway::Snapshot& snap) {
  const auto& cfg = snap.config();
  for (const std::string& notice : cfg.notices) {
    std::printf("%s: note: %s\n", args.config.c_str(), notice.c_str());
  }
  std::printf("%s: data plane listens on %s: %s\n", args.config.c_str(), cfg.server.listen.c_str(),
              cfg.server.listen_reason.c_str());
  std::printf("%s: admin plane listens on %s: %s\n", args.config.c_str(), cfg.admin.listen.c_str(),
              cfg.admin.token.empty()
                  ? "no admin token (loopback only): /admin/reload and /admin/explain are open"
                  : "/admin/reload and /admin/explain need the admin token");
  if (cfg.state.store == sb::config::StateSettings::Store::redis) {
    const char* mode = cfg.state.on_unavailable == sb::config::StateUnavailable::self_hosted_only
                           ? "self-hosted-only"
                       : cfg.state.on_unavailable == sb::config::StateUnavailable::local ? "local"
                                                                                         : "reject";
    std::printf(
        "%s: budgets and rate limits shared through %s (prefix %s, lease ttl %lldms, "
        "on_unavailable %s); not contacted by check\n",
        args.config.c_str(), cfg.state.url.c_str(), cfg.state.prefix.c_str(),
        static_cast<long long>(cfg.state.lease_ttl.count()), mode);
  } else {
    std::printf("%s: budgets and rate limits kept in this process (state.store: memory)\n",
                args.config.c_str());
  }
  std::printf("%s: OK (%zu backends, %zu models)\n", args.config.c_str(), cfg.backends.size(),
              cfg.models.size());
  return 0;
}

// `help`, `version`, `hash-key`: nullopt for the commands that load a config.
std::optional<int> config_free_command(const Args& args) {
  if (args.command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.command == "version") {
    std::puts("switchboard " SWITCHBOARD_VERSION);
    return 0;
  }
  if (args.command == "hash-key") {
    std::string key;
    if (!args.positional.empty()) {
      key = args.positional.front();
    } else if (!std::getline(std::cin, key)) {
      std::fputs("switchboard: hash-key needs a key (argument or stdin)\n", stderr);
      return 2;
    }
    std::printf("sha256:%s\n", hex(sb::gateway::sha256(key)).c_str());
    return 0;
  }
  if (args.command != "run" && args.command != "check" && args.command != "explain") {
    std::fprintf(stderr, "switchboard: unknown command '%s'\n\n%s", args.command.c_str(), kUsage);
    return 2;
  }
  return std::nullopt;
}

// A shared state store whose credentials or certificate are wrong will not fix itself: false
// after saying so. Redis merely not up yet is a warning: on_unavailable applies until it is.
bool state_store_usable(const sb::gateway::Snapshot& snap) {
  sb::gateway::SharedStore* store = snap.shared_store();
  if (store == nullptr) {
    return true;
  }
  bool fatal = false;
  const std::string why = store->sync().check(fatal);
  if (fatal) {
    std::fprintf(stderr, "switchboard: state store %s:%u: %s\n", snap.config().state.host.c_str(),
                 snap.config().state.port, why.c_str());
    return false;
  }
  if (!why.empty()) {
    sb::gateway::log::warn("state store not reachable at start",
                           {{"host", snap.config().state.host}, {"reason", why}});
  }
  return true;
}

// Where the data plane listens and why, and how the process guards its keys.
void log_start(const sb::config::Config& cfg) {
  sb::gateway::log::info("data plane address",
                         {{"address", cfg.server.listen}, {"why", cfg.server.listen_reason}});
  // Key material sits in its own mappings, excluded from core dumps (policies/secret_memory.h);
  // the first one's address lets an operator (or a test) find it in /proc/PID/smaps.
  const sb::config::SecretMemoryStats secrets = sb::config::secret_memory_stats();
  char first[32];
  std::snprintf(first, sizeof first, "%#jx", static_cast<std::uintmax_t>(secrets.first));
  sb::gateway::log::info("process hardening",
                         {{"pid", std::to_string(::getpid())},
                          {"dumpable", std::to_string(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))},
                          {"secret_mappings", std::to_string(secrets.mappings)},
                          {"secret_mappings_locked", std::to_string(secrets.locked)},
                          {"first_secret_mapping", first},
                          {"admin_token", cfg.admin.token.empty() ? "none" : "required"}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "audit") {
    return sb::gateway::audit::run_audit_command({argv + 2, argv + argc}, stdout, stderr);
  }
  if (argc > 1 && std::string_view(argv[1]) == "replay") {
    const std::vector<std::string_view> words(argv + 2, argv + argc);
    return sb::gateway::replay::run_replay_command(words, stdout, stderr);
  }
  const Args args = parse_args(argc, argv);
  if (!args.error.empty()) {
    std::fprintf(stderr, "switchboard: %s\n\n%s", args.error.c_str(), kUsage);
    return 2;
  }
  if (std::optional<int> code = config_free_command(args)) {
    return *code;
  }
  // Before the config (and so any key) is read.
  harden_process();
  auto registry = std::make_unique<sb::metrics::Registry>();
  auto shared = std::make_unique<sb::gateway::SharedState>(*registry);
  if (args.command != "run") {
    shared->set_offline();  // check and explain send nothing anywhere
  }
  auto snap = load(args.config, *shared);
  if (!snap) {
    return 1;
  }
  if (args.command == "explain") {
    return explain_command(args, *snap);
  }
  if (args.command == "check") {
    return check_command(args, *snap);
  }
  if (!state_store_usable(*snap)) {
    return 1;
  }
  // Writes to a client that has gone away must surface as errors, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  log_start(snap->config());
  sb::gateway::Server server(args.config, std::move(snap), std::move(registry), std::move(shared));
  return server.run();
}
