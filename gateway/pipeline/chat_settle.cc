// Settling a request: the answer priced, the budget reservation reconciled with what it cost,
// backend rates and savings recorded; and the audit line of its decision.

#include <string>

#include "adapters/usage.h"
#include "gateway/audit/trail.h"
#include "gateway/observability/access_log.h"
#include "gateway/observability/log.h"
#include "gateway/pipeline/audit_line.h"
#include "gateway/pipeline/chat_handler.h"
#include "gateway/pipeline/tracing.h"
#include "gateway/runtime/worker.h"

namespace sb::gateway::chat {

namespace {

std::string_view endpoint_name(Endpoint e, Dialect d) {
  if (d == Dialect::anthropic) {
    return "messages";
  }
  if (d == Dialect::responses) {
    return "responses";
  }
  return e == Endpoint::chat ? "chat" : e == Endpoint::completions ? "completions" : "embeddings";
}

}  // namespace

// To the audit trail when one is configured, else as a line of the access log.
void ChatHandler::submit_audit(std::string body) const {
  if (audit::Trail* trail = ctx_.worker.audit) {
    trail->submit(std::move(body));
    return;
  }
  audit_line::close_line(body);
  ctx_.worker.access_log.write_line(body);
}

void ChatHandler::write_audit(const policies::RequestFacts& facts,
                              std::span<const policies::StateRecorder::Read> reads) const {
  audit_line::DecisionFacts f;
  f.request_id = ctx_.request_id;
  f.endpoint = endpoint_name(endpoint_, ctx_.dialect);
  f.config_hash = snap_.config_hash();
  f.model = facts.model;
  f.facts = &facts;
  f.reads = reads;
  submit_audit(audit_line::decision(engine_, decision_, f));
}

// A try that sent its request, as it ended: its status and result; the usage and the cost when it
// served the answer. To the audit trail and, when tracing, as its client span.
void ChatHandler::finish_attempt(const BackendRuntime& b, const AttemptResult& r,
                                 Clock::time_point started, std::unique_ptr<trace::Span>& span) {
  if (ctx_.worker.audit == nullptr && !span) {
    return;
  }
  audit_line::AttemptFacts f;
  f.request_id = ctx_.request_id;
  f.config_hash = snap_.config_hash();
  f.tenant = snap_.config().tenants[o_.tenant].name;
  f.model = o_.alias != nullptr ? std::string_view(o_.alias->name) : std::string_view();
  f.sensitivity = o_.sensitivity;
  f.n = o_.attempts;
  f.backend = b.index;
  f.stream = o_.stream;
  f.upstream_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  const bool served = r.outcome != Attempt::next && o_.status == 200 && o_.backend == &b;
  if (served) {
    price();
    f.status = 200;
    // A stream cut after its head still served (and is billed for) what it sent.
    f.result = r.error != upstream::ErrorKind::none ? upstream::to_string(r.error)
               : !r.upstream_failed                 ? std::string_view("ok")
               : o_.error.empty()                   ? std::string_view("stream_cut")
                                                    : o_.error;
    f.usage = o_.usage ? &*o_.usage : nullptr;
    f.usage_estimated = o_.usage_estimated;
    f.cost_nanos = o_.cost_nanos;
  } else {
    f.status = r.answer ? r.answer->status : o_.backend == &b ? o_.status : 0;
    f.result = r.error != upstream::ErrorKind::none ? upstream::to_string(r.error)
               : r.outcome == Attempt::closed       ? std::string_view("client_closed")
               : f.status != 0                      ? std::string_view("upstream_status")
                                                    : std::string_view("not_sent");
  }
  if (ctx_.worker.audit != nullptr) {
    // Without a trail the access-log line already says who served, with what status, tokens and
    // cost: the attempt line is the trail's alone.
    ctx_.worker.audit->submit(audit_line::attempt(engine_, f));
  }
  if (span) {
    tracing::AttemptEnd end;
    end.status = f.status;
    end.error = f.result != "ok" ? f.result : std::string_view();
    end.usage = f.usage;
    end.cost_nanos = f.cost_nanos;
    end.stream = f.stream;
    end.response_model = answer_facts_.model;
    end.finish_reasons = answer_facts_.finish_reasons;
    if (served && o_.first_byte && *o_.first_byte >= started) {
      end.ttft_ms = std::chrono::duration<double, std::milli>(*o_.first_byte - started).count();
    }
    tracing::end_attempt(ctx_, span, end);
    answer_facts_ = {};  // the next attempt's answer is its own
  }
}

// An answer served past a spill rule's self-hosted backends: counted from the backend passed
// over to the one that served, with its cost.
void ChatHandler::count_spill(std::size_t served, policies::Nanos cost) const {
  const std::vector<GlobalStats::SpillCells>& cells = snap_.stats().spills;
  if (decision_.spill == policies::SpillReason::none || cells.empty()) {
    return;
  }
  const std::size_t i = decision_.spill_from * snap_.config().backends.size() + served;
  if (i >= cells.size() || cells[i].cost == nullptr) {
    return;
  }
  if (metrics::Counter* c = cells[i].reasons[static_cast<std::size_t>(decision_.spill)]) {
    c->inc();
  }
  cells[i].cost->add(cost);
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
  // A request whose client left during the exchange (499) was sent: its prompt is priced (an
  // estimate, unless the upstream reported usage), as a provider bills it.
  if (o_.backend != nullptr && (o_.status == 200 || o_.status == 499)) {
    price();
    const adapters::Usage& u = *o_.usage;
    const std::size_t b = o_.backend->index;
    actual = o_.cost_nanos;
    tokens = static_cast<std::uint64_t>(u.input) + static_cast<std::uint64_t>(u.output);
    snap_.state().record_backend(b, tokens);
    count_spill(b, actual);
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
