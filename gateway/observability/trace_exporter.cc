// The OTLP/HTTP exporter's thread: batches from the lock-free queue, one POST per batch with a
// deadline, counters; and the Tracer facade over it.
#include "gateway/observability/trace_exporter.h"

#include <array>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/lockfree/queue.hpp>

#include "adapters/upstream/resolve.h"
#include "policies/url.h"

namespace sb::gateway::trace {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// An OTLP answer is an ExportTraceServiceResponse (a few bytes) or a short error.
constexpr std::uint64_t kMaxResponseBytes = 64 * 1024;

struct Target {
  std::string host;
  std::string port;
  std::string target;      // request-target (path)
  std::string host_field;  // Host header
};

Target parse_target(const std::string& endpoint) {
  static constexpr std::array<std::string_view, 1> kSchemes{"http"};
  config::Parsed<config::Url> p = config::parse_url(endpoint, kSchemes, false);
  if (!p.value) {
    throw std::invalid_argument("trace exporter: not an http:// URL: " + endpoint);
  }
  const config::Url& u = *p.value;
  Target t;
  t.host = std::string(u.host.host);
  t.port = u.port != 0 ? std::to_string(u.port) : "80";
  t.target = u.path.empty() ? "/" : std::string(u.path);
  t.host_field = u.host.ipv6 ? "[" + t.host + "]" : t.host;
  if (u.port != 0) {
    t.host_field += ":" + t.port;
  }
  return t;
}

}  // namespace

std::uint64_t unix_nano_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

struct TraceExporter::Impl {
  Impl(const config::TraceSettings& s, ResourceInfo r)
      : settings(s),
        resource(std::move(r)),
        target(parse_target(settings.endpoint)),
        queue(settings.queue + 1),
        timer(io) {
    settings.batch = std::max<std::uint64_t>(1, std::min(settings.batch, settings.queue));
    batch.reserve(settings.batch);
  }

  bool submit(Span&& span);
  asio::awaitable<void> run();
  asio::awaitable<std::size_t> export_batch(Clock::time_point deadline);
  asio::awaitable<bool> post(std::string body, Clock::time_point deadline);
  std::int64_t batch_size() const { return static_cast<std::int64_t>(settings.batch); }
  void wake() {
    asio::post(io, [this] {
      wake_posted.store(false, std::memory_order_relaxed);
      timer.cancel();
    });
  }

  config::TraceSettings settings;
  ResourceInfo resource;
  Target target;
  // Nodes for `queue` spans are allocated up front; bounded_push never allocates more.
  boost::lockfree::queue<Span*> queue;
  // Spans in the queue, roughly: a pop may run before its push's increment, so it can dip below 0.
  std::atomic<std::int64_t> queued{0};
  std::atomic<bool> wake_posted{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> closed{false};  // no more submits accepted
  std::atomic<std::uint64_t> exported{0}, dropped{0}, failed{0}, requests{0}, failed_requests{0};
  std::vector<Span*> batch;  // export thread only
  asio::io_context io;
  asio::steady_timer timer;
  std::thread thread;
};

bool TraceExporter::Impl::submit(Span&& span) {
  if (closed.load(std::memory_order_acquire)) {
    dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  auto* copy = new Span(std::move(span));
  if (!queue.bounded_push(copy)) {
    delete copy;
    dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // A full batch wakes the thread early: one post per batch, not per span.
  if (queued.fetch_add(1, std::memory_order_relaxed) + 1 >= batch_size() &&
      !wake_posted.exchange(true, std::memory_order_relaxed)) {
    wake();
  }
  return true;
}

asio::awaitable<void> TraceExporter::Impl::run() {
  while (!stopping.load(std::memory_order_acquire)) {
    if (queued.load(std::memory_order_relaxed) < batch_size()) {
      timer.expires_after(settings.interval);
      co_await timer.async_wait(use_tuple);  // cancelled by wake(): a batch is full or stopping
    }
    if (stopping.load(std::memory_order_acquire)) {
      break;
    }
    co_await export_batch(Clock::now() + settings.timeout);
  }
  // stop(): what is queued gets one export timeout in all; the rest is dropped.
  const Clock::time_point deadline = Clock::now() + settings.timeout;
  while (Clock::now() < deadline) {
    if (co_await export_batch(deadline) == 0) {
      break;
    }
  }
}

asio::awaitable<std::size_t> TraceExporter::Impl::export_batch(Clock::time_point deadline) {
  batch.clear();
  Span* s = nullptr;
  while (batch.size() < settings.batch && queue.pop(s)) {
    batch.push_back(s);
  }
  queued.fetch_sub(static_cast<std::int64_t>(batch.size()), std::memory_order_relaxed);
  if (batch.empty()) {
    co_return 0;
  }
  std::string body;
  encode_export_request(resource, std::span<const Span* const>(batch), body);
  const std::size_t n = batch.size();
  for (Span* span : batch) {
    delete span;
  }
  batch.clear();
  const bool ok = co_await post(std::move(body), deadline);
  (ok ? exported : failed).fetch_add(n, std::memory_order_relaxed);
  (ok ? requests : failed_requests).fetch_add(1, std::memory_order_relaxed);
  co_return n;
}

// One POST on a fresh connection (at most one per interval or per full batch).
asio::awaitable<bool> TraceExporter::Impl::post(std::string body, Clock::time_point deadline) {
  upstream::Resolved r =
      co_await upstream::resolve_until(io.get_executor(), target.host, target.port, deadline);
  if (r.timed_out || r.ec) {
    co_return false;
  }
  boost::beast::tcp_stream stream(io);
  stream.expires_at(deadline);
  auto [connect_ec, endpoint] = co_await stream.async_connect(r.results, use_tuple);
  if (connect_ec) {
    co_return false;
  }
  http::request<http::string_body> req{http::verb::post, target.target, 11};
  req.set(http::field::host, target.host_field);
  req.set(http::field::content_type, "application/x-protobuf");
  req.set(http::field::user_agent, "switchboard-otlp");
  for (const auto& [name, value] : settings.headers) {
    req.set(name, value);
  }
  req.body() = std::move(body);
  req.prepare_payload();
  auto [write_ec, written] = co_await http::async_write(stream, req, use_tuple);
  if (write_ec) {
    co_return false;
  }
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return !read_ec && parser.get().result_int() / 100 == 2;
}

TraceExporter::TraceExporter(const config::TraceSettings& settings, ResourceInfo resource)
    : impl_(std::make_unique<Impl>(settings, std::move(resource))) {
  asio::co_spawn(impl_->io, impl_->run(), asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

TraceExporter::~TraceExporter() {
  stop();
  Span* s = nullptr;
  while (impl_->queue.pop(s)) {  // submitted while stopping: counted as dropped
    delete s;
    impl_->dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

bool TraceExporter::submit(Span&& span) {
  return impl_->submit(std::move(span));
}

void TraceExporter::stop() {
  if (impl_->stopping.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  asio::post(impl_->io, [impl = impl_.get()] { impl->timer.cancel(); });
  impl_->thread.join();
  impl_->closed.store(true, std::memory_order_release);
  // What stop() had no time for; a submit racing with `closed` lands here or in ~TraceExporter.
  Span* s = nullptr;
  while (impl_->queue.pop(s)) {
    delete s;
    impl_->queued.fetch_sub(1, std::memory_order_relaxed);
    impl_->dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

TraceExporter::Counters TraceExporter::counters() const {
  return {impl_->exported.load(std::memory_order_relaxed),
          impl_->dropped.load(std::memory_order_relaxed),
          impl_->failed.load(std::memory_order_relaxed),
          impl_->requests.load(std::memory_order_relaxed),
          impl_->failed_requests.load(std::memory_order_relaxed)};
}

// ---------------------------------------------------------------------------------------------

Tracer::Tracer(const config::TraceSettings& settings, std::string version)
    : sampler_(settings.sample_ratio), propagate_to_closed_(settings.propagate_to_closed) {
  if (!settings.enabled) {
    return;
  }
  exporter_ = std::make_unique<TraceExporter>(
      settings, ResourceInfo{settings.service_name, std::move(version), settings.resource});
}

std::optional<Span> Tracer::start_server_span(std::string_view traceparent,
                                              std::string_view tracestate, std::string name,
                                              std::uint64_t start_unix_nano) const {
  if (!exporter_) {
    return std::nullopt;
  }
  std::optional<Span> span(std::in_place);
  Span& s = *span;
  const std::optional<TraceContext> parent =
      traceparent.empty() ? std::nullopt : parse_traceparent(traceparent);
  if (parent) {
    s.trace_id = parent->trace_id;
    s.parent_span_id = parent->span_id;
    s.parent_remote = true;
    if (keep_tracestate(tracestate)) {
      s.trace_state = std::string(tracestate);
    }
  } else {
    s.trace_id = new_trace_id();
  }
  s.span_id = new_span_id();
  s.flags = sampler_.should_sample(parent ? &*parent : nullptr, s.trace_id) ? kSampledFlag : 0;
  s.kind = SpanKind::server;
  s.name = std::move(name);
  s.start_unix_nano = start_unix_nano;
  return span;
}

Span Tracer::start_child(const Span& parent, SpanKind kind, std::string name,
                         std::uint64_t start_unix_nano) {
  Span s;
  s.trace_id = parent.trace_id;
  s.span_id = new_span_id();
  s.parent_span_id = parent.span_id;
  s.flags = parent.flags;
  s.trace_state = parent.trace_state;
  s.name = std::move(name);
  s.kind = kind;
  s.start_unix_nano = start_unix_nano;
  return s;
}

bool Tracer::submit(Span&& span, std::uint64_t end_unix_nano) {
  if (!exporter_ || !span.sampled()) {
    return false;
  }
  if (span.end_unix_nano == 0) {
    span.end_unix_nano = end_unix_nano != 0 ? end_unix_nano : unix_nano_now();
  }
  return exporter_->submit(std::move(span));
}

TraceExporter::Counters Tracer::counters() const {
  return exporter_ ? exporter_->counters() : TraceExporter::Counters{};
}

void Tracer::stop() {
  if (exporter_) {
    exporter_->stop();
  }
}

}  // namespace sb::gateway::trace
