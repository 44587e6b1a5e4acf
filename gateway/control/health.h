#pragma once
// Active health checks: every backend with `health_check:` is probed in the background with a GET
// of its engine's health endpoint (vLLM, TGI, SGLang and llama.cpp `/health`, Ollama `/`; see
// adapters/engines.h) or of a configured path. After `unhealthy_threshold` failed probes in a row
// the backend's circuit refuses requests (the next eligible backend takes them) and
// switchboard_backend_up reads 0; after `healthy_threshold` passed probes it serves again.
// Probes run on one worker's thread, through that worker's upstream pool; probe state is kept by
// backend name, so it survives reloads.

#include <boost/asio/awaitable.hpp>

namespace sb::gateway {

struct Worker;

/// Runs until the worker stops or drains.
boost::asio::awaitable<void> health_loop(Worker& worker);

}  // namespace sb::gateway
