#pragma once
// The audit trail's line bodies (the schema: gateway/audit/trail.h): one per routing decision and
// one per completed attempt, each with everything a later re-decision (`switchboard replay`) or a
// clearance check (`switchboard audit verify`) needs, and nothing of the request's content — names,
// levels, counts, sizes and the state the engine read, never text or entity values.
//
// A body is a JSON object's text without its closing brace: the trail appends the chain fields
// (seq, prev, mac) and closes it; without a trail, close_line() closes it for the access log.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "adapters/usage.h"
#include "policies/engine.h"
#include "policies/state_record.h"

namespace sb::gateway::audit_line {

/// What a decision line records beside the Decision itself.
struct DecisionFacts {
  std::string_view request_id;
  std::string_view endpoint;  ///< "chat", "completions", "embeddings", "messages", "responses"
  std::string_view config_hash;
  std::string_view model;  ///< as asked (an unknown alias too)
  const policies::RequestFacts* facts = nullptr;
  std::span<const policies::StateRecorder::Read> reads;  ///< what the engine read of the state
};

std::string decision(const policies::Engine& engine, const policies::Decision& d,
                     const DecisionFacts& f);

/// One try that sent a request to a backend, as it ended.
struct AttemptFacts {
  std::string_view request_id;
  std::string_view config_hash;
  std::string_view tenant;
  std::string_view model;
  std::string_view sensitivity;
  unsigned n = 0;  ///< 1-based try number
  std::size_t backend = 0;
  unsigned status = 0;      ///< the upstream's HTTP status, 0 when none
  std::string_view result;  ///< "ok" or an error kind
  bool stream = false;
  double upstream_ms = 0;
  const adapters::Usage* usage = nullptr;  ///< nullptr when none was known
  bool usage_estimated = false;
  std::int64_t cost_nanos = 0;
};

std::string attempt(const policies::Engine& engine, const AttemptFacts& f);

/// Closes a body into a complete line ("}\n"), for the access log when no trail is configured.
inline void close_line(std::string& body) {
  body += "}\n";
}

}  // namespace sb::gateway::audit_line
