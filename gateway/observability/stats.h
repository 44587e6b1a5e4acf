#pragma once
// The stats catalogue: every metric family the gateway exports, declared once, with its help
// text. Cells are registered from these (metrics::Registry takes a Family) on the control path;
// the request path only increments cells resolved beforehand.
// deploy/prometheus/ and the Grafana dashboards read these names.

#include "gateway/observability/metrics.h"

namespace sb::gateway::stats {

// Requests, by route (pipeline/, runtime/request_stats.h)
inline constexpr metrics::Family kRequestsTotal{
    "switchboard_requests_total", "Requests answered, by tenant, model, backend, rule, status."};
inline constexpr metrics::Family kRequestDurationSeconds{
    "switchboard_request_duration_seconds", "Time from request received to last byte sent."};
inline constexpr metrics::Family kTimeToFirstTokenSeconds{
    "switchboard_time_to_first_token_seconds",
    "Time from request received to the first content byte sent."};
inline constexpr metrics::Family kOverheadSeconds{
    "switchboard_overhead_seconds",
    "Time spent inside the gateway per request, upstream and client I/O waits excluded."};
inline constexpr metrics::Family kFallbacksTotal{
    "switchboard_fallbacks_total",
    "Requests handed to the next eligible backend before anything reached the client."};
inline constexpr metrics::Family kTokensTotal{
    "switchboard_tokens_total",
    "Tokens processed: reported by the upstream, or estimated when it reported none."};
inline constexpr metrics::Family kCostUsdTotal{
    "switchboard_cost_usd_total",
    "Cost of served traffic in US dollars, from reported (or, when none, estimated) usage."};

// Routing decisions and sensitivity (runtime/snapshot.h)
inline constexpr metrics::Family kDecisionsTotal{"switchboard_decisions_total",
                                                 "Routing decisions, by rule and outcome."};
inline constexpr metrics::Family kSensitiveRequestsTotal{
    "switchboard_sensitive_requests_total",
    "Requests by final sensitivity level and detected entity type."};
inline constexpr metrics::Family kRequestsBySensitivityTotal{
    "switchboard_requests_by_sensitivity_total",
    "Requests by final sensitivity level and the backend that served them."};

// Backends (runtime/snapshot.h)
inline constexpr metrics::Family kBackendInfo{"switchboard_backend_info",
                                              "Configured backends (always 1)."};
inline constexpr metrics::Family kBackendGpuCost{
    "switchboard_backend_gpu_cost_usd_per_hour",
    "What a self-hosted backend's GPUs cost per hour, busy or idle: price.gpu_hour_usd per "
    "endpoint times its endpoints."};
inline constexpr metrics::Family kBackendUp{
    "switchboard_backend_up", "1 when the backend's circuit is closed, 0.5 half-open, 0 open."};
inline constexpr metrics::Family kBackendInFlight{"switchboard_backend_in_flight",
                                                  "Requests in flight to a backend."};
inline constexpr metrics::Family kUpstreamErrorsTotal{
    "switchboard_upstream_errors_total", "Failed upstream exchanges, by backend and kind."};
inline constexpr metrics::Family kRetriesTotal{
    "switchboard_retries_total", "Tries repeated on the same backend after a retryable failure."};

// Engine load, pools, spill and the wait queue (runtime/load_scraper.h, runtime/pool.h)
inline constexpr metrics::Family kLoadScrapesTotal{
    "switchboard_load_scrapes_total",
    "Scrapes of self-hosted engines' metrics endpoints, by backend and result (ok, error, "
    "malformed)."};
inline constexpr metrics::Family kBackendQueueDepth{
    "switchboard_backend_queue_depth",
    "Requests waiting inside the engine of a self-hosted endpoint, as it last reported (-1 "
    "unknown or stale)."};
inline constexpr metrics::Family kBackendKvCacheUsage{
    "switchboard_backend_kv_cache_usage",
    "Fraction of a self-hosted endpoint's KV cache in use, as its engine last reported (-1 "
    "unknown or stale)."};
inline constexpr metrics::Family kBackendRunning{
    "switchboard_backend_running",
    "Requests being decoded by the engine of a self-hosted endpoint, as it last reported (-1 "
    "unknown or stale)."};
inline constexpr metrics::Family kBackendSignalsFresh{
    "switchboard_backend_signals_fresh",
    "Endpoints of a scraped backend whose engine signals are fresh (within stale_after)."};
inline constexpr metrics::Family kEndpointRequestsTotal{
    "switchboard_endpoint_requests_total", "Tries sent to each endpoint of a pooled backend."};
inline constexpr metrics::Family kSpillsTotal{
    "switchboard_spills_total",
    "Answers served past a spill rule's self-hosted backends, by the backend passed over, the "
    "backend that served, and why (queue, kv_cache, in_flight, stale)."};
inline constexpr metrics::Family kSpillCostUsdTotal{"switchboard_spill_cost_usd_total",
                                                    "Cost of the answers served by spilling."};
inline constexpr metrics::Family kQueueWaitSeconds{
    "switchboard_queue_wait_seconds",
    "Time requests waited in a spill rule's queue for a self-hosted backend at max_in_flight."};
inline constexpr metrics::Family kQueueWaiting{"switchboard_queue_waiting",
                                               "Requests waiting now for a self-hosted backend."};
inline constexpr metrics::Family kQueueTimeoutsTotal{
    "switchboard_queue_timeouts_total",
    "Requests refused by a spill rule's queue: full, or waited past its timeout."};

// Tenants: savings, limits and budgets (runtime/snapshot.h)
inline constexpr metrics::Family kSavingsUsdTotal{
    "switchboard_savings_usd_total",
    "Closed-reference price of traffic served self-hosted, minus its cost (per request, when "
    "positive)."};
inline constexpr metrics::Family kReferenceCostUsdTotal{
    "switchboard_reference_cost_usd_total",
    "What the closed savings reference would have charged for traffic served self-hosted."};
inline constexpr metrics::Family kRateLimitedTotal{"switchboard_rate_limited_total",
                                                   "Requests refused by a tenant limit."};
inline constexpr metrics::Family kBudgetLimitUsd{"switchboard_budget_limit_usd",
                                                 "Budget of the period, from the config."};
inline constexpr metrics::Family kBudgetRemainingUsd{"switchboard_budget_remaining_usd",
                                                     "Budget left in the current period."};

// The shared state store (state/state_sync.h)
inline constexpr metrics::Family kStateStoreUp{
    "switchboard_state_store_up",
    "1 while the shared state store (Redis) answers, 0 while it does not."};
inline constexpr metrics::Family kStateStoreCallsTotal{
    "switchboard_state_store_calls_total", "Calls to the shared state store, by result."};
inline constexpr metrics::Family kStateStoreTopUpsTotal{
    "switchboard_state_store_top_ups_total",
    "Requests that waited for one call to the shared state store because this replica's leases "
    "could not cover them."};
inline constexpr metrics::Family kStateUnreportedNanodollars{
    "switchboard_state_unreported_nanodollars",
    "Spend served by this replica and not yet recorded in the shared store (the journal)."};
inline constexpr metrics::Family kStateLeaseHeadroomNanodollars{
    "switchboard_state_lease_headroom_nanodollars",
    "Budget leased by this replica and not reserved by any request."};

// The process (control/server.h, observability/internal_errors.h)
inline constexpr metrics::Family kBuildInfo{"switchboard_build_info",
                                            "Build information; always 1."};
inline constexpr metrics::Family kConfigReloadTotal{"switchboard_config_reload_total",
                                                    "Configuration reloads, by result."};
inline constexpr metrics::Family kClientConnections{"switchboard_client_connections",
                                                    "Open client connections on the data plane."};
inline constexpr metrics::Family kBufferedBodyBytes{
    "switchboard_buffered_body_bytes",
    "Request body bytes held by requests in flight (buffers reserved)."};
// The Responses API's store (state/response_store.h), refreshed at each scrape.
inline constexpr metrics::Family kResponseStoreEntries{
    "switchboard_response_store_entries", "Stored responses held in memory (memory store)."};
inline constexpr metrics::Family kResponseStoreBytes{
    "switchboard_response_store_bytes", "Bytes of the stored responses held in memory."};
inline constexpr metrics::Family kResponseStoreEventsTotal{
    "switchboard_response_store_events_total",
    "What the response store did, by event: stored, refused (too large), put_failed and "
    "unavailable (Redis), evicted (memory bounds), expired (ttl)."};
// The audit trail's writer (audit/trail.h), refreshed at each scrape.
inline constexpr metrics::Family kAuditLinesTotal{"switchboard_audit_lines_total",
                                                  "Lines written to the audit trail."};
inline constexpr metrics::Family kAuditDroppedTotal{
    "switchboard_audit_dropped_total", "Audit lines lost because the writer's queue was full."};
inline constexpr metrics::Family kAuditWriteErrorsTotal{
    "switchboard_audit_write_errors_total",
    "Failed writes to the audit trail (retried at the next flush)."};
// The trace exporter (observability/trace_exporter.h), refreshed at each scrape.
inline constexpr metrics::Family kTraceSpansTotal{
    "switchboard_trace_spans_total",
    "Spans by what became of them: exported, dropped (queue full or shutdown) or failed (the "
    "export request failed)."};
inline constexpr metrics::Family kOverloadRejectionsTotal{
    "switchboard_overload_rejections_total",
    "Requests and connections refused because a server-wide limit was reached, by limit."};
inline constexpr metrics::Family kClientProtocolErrorsTotal{
    "switchboard_client_protocol_errors_total",
    "Requests ended by the connection layer before any handler saw them, by plane and reason "
    "(malformed, header_too_large, version, header_timeout)."};
inline constexpr metrics::Family kInternalErrorsTotal{
    "switchboard_internal_errors_total",
    "Exceptions caught by a last-resort handler (the connection concerned was closed), by where "
    "they escaped."};

}  // namespace sb::gateway::stats
