// Settling a request: the answer priced, the budget reservation reconciled with what it cost,
// backend rates and savings recorded; and the audit line of its decision.

#include <string>

#include "adapters/usage.h"
#include "gateway/observability/access_log.h"
#include "gateway/observability/log.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway::chat {

void ChatHandler::write_audit(const policies::RequestFacts& facts) const {
  // One line per decision: the facts of the decision, never prompt text or entity values.
  const config::Config& c = snap_.config();
  std::string line;
  line.reserve(384);
  line += "{\"ts\":";
  log::append_timestamp(line);
  line += ",\"type\":\"audit\",\"request_id\":";
  log::append_json_string(line, ctx_.request_id);
  line += ",\"tenant\":";
  log::append_json_string(line, c.tenants[facts.tenant].name);
  line += ",\"model\":";
  log::append_json_string(line, o_.alias != nullptr ? o_.alias->name : std::string("none"));
  line += ",\"outcome\":";
  log::append_json_string(line, policies::to_string(decision_.outcome));
  line += ",\"rule\":";
  log::append_json_string(line, decision_.rule);
  line += ",\"sensitivity\":";
  log::append_json_string(line, c.sensitivity.levels.names[decision_.sensitivity]);
  line += ",\"tier\":";
  log::append_json_string(line, c.tiers.levels.names[decision_.tier]);
  line += ",\"entities\":{";
  bool first = true;
  for (const policies::EntityCount& e : decision_.detection.entities) {
    if (!first) {
      line.push_back(',');
    }
    first = false;
    log::append_json_string(line, engine_.detector().entity_names()[e.entity]);
    line.push_back(':');
    line += std::to_string(e.count);
  }
  line += "},\"backends\":[";
  for (std::size_t i = 0; i < decision_.backends.size(); ++i) {
    if (i > 0) {
      line.push_back(',');
    }
    log::append_json_string(line, c.backends[decision_.backends[i]].name);
  }
  line += "],\"estimated_cost_usd\":";
  policies::append_usd(line, decision_.estimated_cost);
  line += "}\n";
  ctx_.worker.access_log.write_line(line);
}

void ChatHandler::price() {
  if (priced_ || o_.backend == nullptr) {
    return;
  }
  priced_ = true;
  if (!o_.usage) {
    // No usage from the upstream: the prompt estimate, and the response's size at about four
    // bytes per token (an over-estimate, as the JSON or SSE framing is counted too).
    adapters::Usage u;
    u.input = static_cast<std::int64_t>(prompt_tokens_);
    u.output =
        endpoint_ == Endpoint::embeddings ? 0 : static_cast<std::int64_t>(response_bytes_ / 4);
    o_.usage = u;
    o_.usage_estimated = true;
  }
  const adapters::Usage& u = *o_.usage;
  o_.cost_nanos = engine_.cost(
      o_.backend->index, static_cast<std::uint64_t>(u.input), static_cast<std::uint64_t>(u.output),
      static_cast<std::uint64_t>(u.cached_input), static_cast<std::uint64_t>(u.cache_write));
}

// Actual cost priced, the budget and tpm reconciled, backend rates and savings recorded.
void ChatHandler::settle() {
  if (!reservation_) {
    return;
  }
  const policies::Reservation reservation = *reservation_;
  reservation_.reset();
  policies::Nanos actual = 0;
  std::uint64_t tokens = 0;
  if (o_.backend != nullptr && o_.status == 200) {
    price();
    const adapters::Usage& u = *o_.usage;
    const std::size_t b = o_.backend->index;
    actual = o_.cost_nanos;
    tokens = static_cast<std::uint64_t>(u.input) + static_cast<std::uint64_t>(u.output);
    snap_.state().record_backend(b, tokens);
    if (o_.backend->spec->hosting == config::Hosting::self_hosted) {
      if (const auto ref = engine_.reference_cost(static_cast<std::uint64_t>(u.input),
                                                  static_cast<std::uint64_t>(u.output),
                                                  static_cast<std::uint64_t>(u.cached_input),
                                                  static_cast<std::uint64_t>(u.cache_write))) {
        const TenantRuntime& t = snap_.tenant(o_.tenant);
        t.reference_cost->add(*ref);
        if (*ref > actual) {
          t.savings->add(*ref - actual);
        }
      }
    }
  } else {
    o_.cost_nanos = 0;
  }
  snap_.state().reconcile(reservation, tokens, actual);
}

}  // namespace sb::gateway::chat
