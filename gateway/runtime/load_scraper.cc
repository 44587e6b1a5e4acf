#include "gateway/runtime/load_scraper.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include "adapters/engine_signals.h"
#include "adapters/upstream/client.h"
#include "adapters/upstream/endpoint.h"
#include "gateway/observability/io_thread.h"
#include "gateway/observability/log.h"
#include "gateway/observability/stats.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr std::size_t kMaxMetricsBody = 4u << 20;

}  // namespace

/// One backend's scraping: its board, what it was started with, and a stop flag its
/// coroutines check after every wait.
struct LoadScraper::Loop {
  std::string backend;
  std::vector<std::string> endpoints;
  config::LoadSettings settings;
  std::string ca_file;
  bool tls_verify = true;
  adapters::EngineMetrics kind = adapters::EngineMetrics::none;
  std::shared_ptr<policies::LoadBoard> board;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<std::atomic<bool>> stopped = std::make_shared<std::atomic<bool>>(false);
  // switchboard_load_scrapes_total{backend,result}: ok, error, malformed.
  metrics::Counter* ok = nullptr;
  metrics::Counter* error = nullptr;
  metrics::Counter* malformed = nullptr;

  bool same(const config::Backend& b) const {
    return endpoints == b.endpoints && settings.metrics == b.load.metrics &&
           settings.path == b.load.path && settings.interval == b.load.interval &&
           settings.timeout == b.load.timeout && ca_file == b.ca_file && tls_verify == b.tls_verify;
  }
};

namespace {

struct Target {
  upstream::Endpoint endpoint;
  std::size_t index = 0;
};

enum class Result { ok, error, malformed };

// One scrape: GET the metrics path, read the signals, publish them. `previous` is the last
// TTFT histogram read (the window of the median), replaced by this one; `why` says what failed.
asio::awaitable<Result> scrape_once(upstream::Pool& pool,
                                    const std::shared_ptr<LoadScraper::Loop>& loop,
                                    const Target& target, adapters::HistogramBuckets& previous,
                                    std::string& why) {
  upstream::Request req{http::verb::get, loop->settings.path, 11};
  req.set(http::field::accept, "text/plain");
  req.set(http::field::accept_encoding, "identity");
  upstream::Timeouts t;
  t.connect = t.first_byte = t.idle = t.total = loop->settings.timeout;
  upstream::Error err;
  auto ex = co_await pool.send(target.endpoint, loop->tls.get(), std::move(req), t, err);
  std::string body;
  if (!ex) {
    why = upstream::to_string(err.kind);
    co_return Result::error;
  }
  if (ex->status() != 200) {
    why = "HTTP " + std::to_string(ex->status());
    co_return Result::error;
  }
  if (!co_await ex->read_all(body, kMaxMetricsBody, err)) {
    why = upstream::to_string(err.kind);
    co_return Result::error;
  }
  adapters::EngineReading r;
  if (!adapters::read_engine_signals(loop->kind, body, r, why)) {
    co_return Result::malformed;
  }
  double ttft = -1;
  if (!r.ttft.empty()) {
    if (const std::optional<double> q = adapters::window_quantile(previous, r.ttft, 0.5)) {
      ttft = *q;
    }
    previous = std::move(r.ttft);
  }
  loop->board->publish(target.index, r.waiting.value_or(-1), r.running.value_or(-1),
                       r.kv_cache.value_or(-1), ttft, policies::load_clock_ms());
  co_return Result::ok;
}

asio::awaitable<void> scrape_loop(std::shared_ptr<LoadScraper::Loop> loop, Target target,
                                  asio::io_context::executor_type executor) {
  // The pool lives in this frame: whatever ends the loop (stop, or the io_context destroyed at
  // exit with the frame still suspended) destroys its exchange before the pool.
  upstream::Pool pool(executor);
  adapters::HistogramBuckets previous;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  Result last = Result::ok;
  while (!loop->stopped->load()) {
    const auto started = std::chrono::steady_clock::now();
    std::string why;
    Result result = Result::error;
    try {
      result = co_await scrape_once(pool, loop, target, previous, why);
    } catch (const std::exception& e) {
      why = e.what();
    }
    (result == Result::ok      ? loop->ok
     : result == Result::error ? loop->error
                               : loop->malformed)
        ->inc();
    // Logged when the endpoint's state changes, not at every interval.
    if (result != last) {
      const std::string& url = loop->endpoints[target.index];
      if (result == Result::ok) {
        log::info("load scrape: signals read again",
                  {{"backend", loop->backend}, {"endpoint", url}});
      } else {
        log::warn(result == Result::error ? "load scrape failed" : "load scrape: malformed metrics",
                  {{"backend", loop->backend}, {"endpoint", url}, {"error", why}});
      }
      last = result;
    }
    if (loop->stopped->load()) {
      break;
    }
    timer.expires_at(started + loop->settings.interval);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

LoadScraper::LoadScraper(metrics::Registry& registry)
    : registry_(registry), guard_(asio::make_work_guard(ioc_)) {
  thread_ = std::thread([this] { run_logging_escapes(ioc_, "load scraper"); });
}

LoadScraper::~LoadScraper() {
  stop();
}

void LoadScraper::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    for (auto& [name, loop] : loops_) {
      loop->stopped->store(true);
    }
  }
  guard_.reset();
  ioc_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
  // The loops' suspended frames (their pools and sockets) are destroyed with the io_context,
  // after the thread is gone.
}

void LoadScraper::stop_loop(Loop& loop) {
  loop.stopped->store(true);
}

std::shared_ptr<const policies::LoadBoard> LoadScraper::board(const config::Backend& b) {
  if (!b.scrape) {
    return nullptr;
  }
  const std::optional<adapters::EngineMetrics> kind =
      adapters::engine_metrics_from_name(b.load.metrics);
  if (!kind || *kind == adapters::EngineMetrics::none || b.endpoints.empty()) {
    return nullptr;
  }
  std::lock_guard lock(mutex_);
  if (stopped_) {
    return nullptr;
  }
  std::shared_ptr<Loop>& slot = loops_[b.name];
  if (slot && slot->same(b)) {
    return slot->board;
  }
  if (slot) {
    stop_loop(*slot);
  }
  auto loop = std::make_shared<Loop>();
  loop->backend = b.name;
  loop->endpoints = b.endpoints;
  loop->settings = b.load;
  loop->ca_file = b.ca_file;
  loop->tls_verify = b.tls_verify;
  loop->kind = *kind;
  loop->board = std::make_shared<policies::LoadBoard>(b.endpoints.size());
  loop->ok = &registry_.counter(stats::kLoadScrapesTotal, {{"backend", b.name}, {"result", "ok"}});
  loop->error =
      &registry_.counter(stats::kLoadScrapesTotal, {{"backend", b.name}, {"result", "error"}});
  loop->malformed =
      &registry_.counter(stats::kLoadScrapesTotal, {{"backend", b.name}, {"result", "malformed"}});
  std::vector<Target> targets;
  for (std::size_t i = 0; i < b.endpoints.size(); ++i) {
    std::optional<upstream::Endpoint> ep = upstream::Endpoint::parse(b.endpoints[i]);
    if (!ep) {
      continue;  // the loader validated every URL
    }
    if (ep->tls && !loop->tls) {
      std::string error;
      loop->tls = upstream::make_client_tls_context(b.ca_file, b.tls_verify, error);
      if (!loop->tls) {
        log::warn("load scrape: no TLS context", {{"backend", b.name}, {"error", error}});
        continue;
      }
    }
    targets.push_back({std::move(*ep), i});
  }
  for (Target& t : targets) {
    asio::co_spawn(ioc_, scrape_loop(loop, std::move(t), ioc_.get_executor()), asio::detached);
  }
  slot = loop;
  return slot->board;
}

void LoadScraper::keep_only(const std::vector<std::string>& scraped) {
  std::lock_guard lock(mutex_);
  for (auto it = loops_.begin(); it != loops_.end();) {
    if (std::find(scraped.begin(), scraped.end(), it->first) == scraped.end()) {
      stop_loop(*it->second);
      it = loops_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace sb::gateway
