// switchboard: an OpenAI-compatible gateway that routes each request to a self-hosted or a closed
// model backend by policy. This file is the composition root: it parses the command line, loads
// the configuration and builds the server; nothing else knows how things are put together.

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "gateway/snapshot.h"
#include "policies/config.h"

namespace {

constexpr const char* kUsage =
    R"(switchboard )" SWITCHBOARD_VERSION R"( - an OpenAI-compatible LLM gateway

Usage:
  switchboard run   --config FILE   Serve the data plane and the admin plane (SIGHUP reloads,
                                    SIGTERM drains and exits)
  switchboard check --config FILE   Validate FILE; print every error as FILE:LINE:COL: key: message
  switchboard --config FILE         Same as 'run'
  switchboard --version
  switchboard --help

Data plane (server.listen, default 0.0.0.0:8080):
  POST /v1/chat/completions   GET /v1/models   GET /v1/models/{alias}
Admin plane (admin.listen, default 127.0.0.1:9090):
  GET /healthz   GET /readyz   GET /metrics   POST /admin/reload

Logs: operational events as JSON lines on stderr; one access-log JSON line per request on stdout.
)";

struct Args {
  std::string command;
  std::string config;
  std::string error;
};

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
    } else {
      a.error = "unknown argument '" + std::string(arg) + "'";
      return a;
    }
  }
  if (a.command.empty()) {
    a.command = a.config.empty() ? "help" : "run";
  }
  if ((a.command == "run" || a.command == "check") && a.config.empty()) {
    a.error = "'" + a.command + "' needs --config FILE";
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
  std::vector<std::string> errors;
  auto snap = sb::gateway::Snapshot::build(std::move(*loaded.config), shared, errors);
  for (const auto& e : errors) {
    std::fprintf(stderr, "%s:0:0: %s\n", path.c_str(), e.c_str());
  }
  return snap;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  if (!args.error.empty()) {
    std::fprintf(stderr, "switchboard: %s\n\n%s", args.error.c_str(), kUsage);
    return 2;
  }
  if (args.command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.command == "version") {
    std::puts("switchboard " SWITCHBOARD_VERSION);
    return 0;
  }
  if (args.command != "run" && args.command != "check") {
    std::fprintf(stderr, "switchboard: unknown command '%s'\n\n%s", args.command.c_str(), kUsage);
    return 2;
  }

  auto registry = std::make_unique<sb::metrics::Registry>();
  auto shared = std::make_unique<sb::gateway::SharedState>(*registry);
  auto snap = load(args.config, *shared);
  if (!snap) {
    return 1;
  }
  if (args.command == "check") {
    const auto& cfg = snap->config();
    std::printf("%s: OK (%zu backends, %zu models)\n", args.config.c_str(), cfg.backends.size(),
                cfg.models.size());
    return 0;
  }
  // Writes to a client that has gone away must surface as errors, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  sb::gateway::Server server(args.config, std::move(snap), std::move(registry), std::move(shared));
  return server.run();
}
