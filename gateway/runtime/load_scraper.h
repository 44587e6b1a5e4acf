#pragma once
// The background reader of self-hosted engines' load: one thread with its own io_context, one
// coroutine per scraped endpoint, each GETting the engine's Prometheus endpoint every
// `load.interval` and publishing what it read on the backend's LoadBoard (policies/load.h),
// which the routing engine and the endpoint picker read lock-free. Never on the request path.
//
// Owned by SharedState: boards and loops are shared by backend name across reloads; a reload
// that changes a backend's endpoints or load settings restarts its loops on a new board.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/observability/metrics.h"
#include "policies/config.h"
#include "policies/load.h"

namespace sb::gateway {

class LoadScraper {
 public:
  /// Starts the thread (idle until a backend is scraped).
  explicit LoadScraper(metrics::Registry& registry);
  /// Stops every loop and joins the thread.
  ~LoadScraper();
  LoadScraper(const LoadScraper&) = delete;
  LoadScraper& operator=(const LoadScraper&) = delete;

  /// The board of backend `b` (Backend::scrape set), its loops started on first use and
  /// restarted on a new board when its endpoints or scrape settings changed. nullptr when `b`
  /// is not scraped or names metrics this build cannot read. Control path; thread-safe.
  std::shared_ptr<const policies::LoadBoard> board(const config::Backend& b);
  /// Stops the loops of every backend not named in `scraped` (a reload removed or unscraped it).
  void keep_only(const std::vector<std::string>& scraped);
  /// Stops every loop and joins the thread. Idempotent.
  void stop();

  struct Loop;  ///< one backend's loops (load_scraper.cc)

 private:
  void stop_loop(Loop& loop);

  metrics::Registry& registry_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Loop>> loops_;
  bool stopped_ = false;
};

}  // namespace sb::gateway
