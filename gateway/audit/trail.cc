// The audit trail's writer thread, files and rotation (see trail.h).
#include "gateway/audit/trail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/observability/log.h"

namespace sb::gateway::audit {
namespace {

namespace fs = std::filesystem;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool make_dir(const std::string& path, std::string& error) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    error = "cannot create directory '" + path + "': " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = "'" + path + "' is not a directory";
    return false;
  }
  return true;
}

// The file number of `audit-<time>-<NNNNNN>.jsonl`.
std::uint64_t file_number(const std::string& name) {
  const std::size_t dash = name.rfind('-');
  const std::size_t dot = name.rfind(".jsonl");
  if (dash == std::string::npos || dot == std::string::npos || dot <= dash + 1) {
    return 0;
  }
  return std::strtoull(name.substr(dash + 1, dot - dash - 1).c_str(), nullptr, 10);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  out = std::move(s).str();
  return true;
}

/// The UTC calendar time of a Unix time in milliseconds.
std::tm utc(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return tm;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
  const std::tm tm = utc(unix_ms);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string trail_file_name(std::int64_t unix_ms, std::uint64_t n) {
  const std::tm tm = utc(unix_ms);
  char buf[128];
  std::snprintf(buf, sizeof buf, "audit-%04d%02d%02dT%02d%02d%02dZ-%06llu.jsonl", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned long long>(n));
  return buf;
}

std::vector<std::string> trail_files(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && name.starts_with("audit-") && name.ends_with(".jsonl")) {
      names.push_back(name);
    }
  }
  // Name order is chain order while the file number has its six digits; beyond, by number.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    const std::uint64_t na = file_number(a);
    const std::uint64_t nb = file_number(b);
    return na != nb ? na < nb : a < b;
  });
  return names;
}

Trail::Trail(const config::AuditSettings& settings)
    : dir_(settings.path), settings_(settings), hmac_(settings_.key), queue_(settings.queue) {}

Trail::~Trail() {
  stop();
  std::string* late = nullptr;
  while (queue_.pop(late)) {  // submitted while stop() ran, after its last drain
    delete late;
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::unique_ptr<Trail> Trail::open(const config::AuditSettings& settings, std::string& error) {
  std::unique_ptr<Trail> t(new Trail(settings));
  if (!make_dir(t->dir_, error) || !make_dir(t->dir_ + "/configs", error) || !t->resume(error)) {
    return nullptr;
  }
  if (!t->start_file()) {
    error = "cannot create a trail file in '" + t->dir_ + "': " + std::strerror(errno);
    return nullptr;
  }
  t->writer_ = std::thread([p = t.get()] { p->run(); });
  return t;
}

// The newest file's last complete line carries the chain on; an empty newest file (started, then
// nothing written) defers to the one before it.
bool Trail::resume(std::string& error) {
  const std::vector<std::string> files = trail_files(dir_);
  if (!files.empty()) {
    file_number_ = file_number(files.back());
  }
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    std::string text;
    if (!read_file(dir_ + "/" + *it, text)) {
      error = "cannot read '" + dir_ + "/" + *it + "'";
      return false;
    }
    const std::size_t end = text.rfind('\n');
    if (end == std::string::npos) {
      continue;  // empty, or only a torn first line
    }
    const std::string_view complete = std::string_view(text).substr(0, end);
    const std::size_t start = complete.rfind('\n');
    const std::string_view line =
        start == std::string_view::npos ? complete : complete.substr(start + 1);
    const CheckedLine c = check_line(hmac_, line);
    if (c.status != CheckedLine::Status::ok) {
      error = "the last line of '" + dir_ + "/" + *it +
              "' does not verify with this key (wrong key_file, or a damaged trail: run "
              "`switchboard audit verify`)";
      return false;
    }
    chain_.seq = c.seq;
    chain_.mac = std::string(c.mac);
    return true;
  }
  return true;
}

bool Trail::start_file() {
  const std::int64_t now = now_ms();
  const std::string path = dir_ + "/" + trail_file_name(now, file_number_ + 1);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  if (settings_.fsync) {
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);  // the new name survives a machine crash
      ::close(dfd);
    }
  }
  if (fd_ >= 0) {
    ::close(fd_);
    counters_.rotations.fetch_add(1, std::memory_order_relaxed);
  }
  fd_ = fd;
  ++file_number_;
  file_bytes_ = 0;
  file_opened_ms_ = now;
  return true;
}

void Trail::submit(std::string body) {
  if (stopped_.load(std::memory_order_relaxed) ||
      queued_.fetch_add(1, std::memory_order_relaxed) >= settings_.queue) {
    if (!stopped_.load(std::memory_order_relaxed)) {
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    dropped_since_.fetch_add(1, std::memory_order_relaxed);
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto* line = new std::string(std::move(body));
  // The queue's nodes were reserved for settings.queue lines: bounded_push never allocates.
  if (!queue_.bounded_push(line)) {
    delete line;
    queued_.fetch_sub(1, std::memory_order_relaxed);
    dropped_since_.fetch_add(1, std::memory_order_relaxed);
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

void Trail::record_config(std::string_view snapshot_text, std::string_view hash,
                          std::string_view event) {
  const std::string name = std::string(hash) + ".yaml";
  const std::string path = dir_ + "/configs/" + name;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const bool ok =
        fd >= 0 && write_all(fd, snapshot_text) && (!settings_.fsync || ::fsync(fd) == 0);
    if (fd >= 0) {
      ::close(fd);
    }
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
      counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
      log::error("audit: cannot write the config snapshot",
                 {{"path", path}, {"error", std::strerror(errno)}});
      ::unlink(tmp.c_str());
    }
  }
  std::string body = "{\"v\":1,\"type\":\"config\",\"ts\":\"" + rfc3339_ms(now_ms()) +
                     "\",\"config\":\"" + std::string(hash) + "\",\"event\":";
  log::append_json_string(body, event);
  body += ",\"snapshot\":\"configs/" + name + "\"";
  {
    std::lock_guard lock(mutex_);
    config_lines_.push_back(std::move(body));
    config_hash_ = std::string(hash);
  }
}

void Trail::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
  }
  stopped_.store(true, std::memory_order_relaxed);
  flush();  // lines submitted while the writer was finishing
}

ChainState Trail::chain() const {
  return chain_;
}

void Trail::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, settings_.flush_interval, [this] { return stopping_; });
    lock.unlock();
    flush();
    lock.lock();
  }
}

std::string Trail::dropped_body(std::uint64_t count) {
  std::string hash;
  {
    std::lock_guard lock(mutex_);
    hash = config_hash_;
  }
  return "{\"v\":1,\"type\":\"dropped\",\"ts\":\"" + rfc3339_ms(now_ms()) + "\",\"config\":\"" +
         hash + "\",\"count\":" + std::to_string(count);
}

void Trail::seal_line(std::string_view body) {
  if (!pending_.empty() && file_bytes_ + pending_.size() >= settings_.rotate_size) {
    // The current file is full: what is sealed goes to it, the rest to a new file.
    write_pending();
  }
  seal(hmac_, body, chain_, pending_);
}

// Writer thread: config lines first (so no line under a new config precedes its `config` line),
// then a `dropped` line when the queue overflowed, then the queue in order.
void Trail::flush() {
  std::vector<std::string> configs;
  {
    std::lock_guard lock(mutex_);
    configs.swap(config_lines_);
  }
  write_pending();  // a retry after a write error
  for (const std::string& c : configs) {
    seal_line(c);
  }
  std::string* line = nullptr;
  while (queue_.pop(line)) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    const std::unique_ptr<std::string> owned(line);
    if (pending_.size() >= kBatchBytes) {
      write_pending();
    }
    if (pending_.size() > kMaxPendingBytes) {
      dropped_since_.fetch_add(1, std::memory_order_relaxed);
      counters_.dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (const std::uint64_t d = dropped_since_.exchange(0, std::memory_order_relaxed); d > 0) {
      seal_line(dropped_body(d));
    }
    seal_line(*owned);
  }
  if (pending_.size() <= kMaxPendingBytes) {
    if (const std::uint64_t d = dropped_since_.exchange(0, std::memory_order_relaxed); d > 0) {
      seal_line(dropped_body(d));
    }
  }
  write_pending();
}

// One write() of everything sealed; on failure the bytes stay for the next interval.
bool Trail::write_pending() {
  if (pending_.empty()) {
    return true;
  }
  maybe_rotate();  // files are started when there is something to write in them
  if (fd_ < 0 && !start_file()) {
    counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const std::size_t lines =
      static_cast<std::size_t>(std::count(pending_.begin(), pending_.end(), '\n'));
  ssize_t n = 0;
  do {
    n = ::write(fd_, pending_.data(), pending_.size());
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    file_bytes_ += static_cast<std::uint64_t>(n);
    counters_.bytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    const std::size_t written_lines =
        static_cast<std::size_t>(std::count(pending_.begin(), pending_.begin() + n, '\n'));
    counters_.lines.fetch_add(written_lines, std::memory_order_relaxed);
    mid_line_ = pending_[static_cast<std::size_t>(n) - 1] != '\n';
    pending_.erase(0, static_cast<std::size_t>(n));
  }
  const bool ok = pending_.empty() && (!settings_.fsync || ::fdatasync(fd_) == 0);
  if (!ok) {
    counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
    if (!failing_) {
      log::error("audit: write failed; retrying every flush interval",
                 {{"dir", dir_},
                  {"error", std::strerror(errno)},
                  {"lines_waiting", std::to_string(lines)}});
    }
    failing_ = true;
    return false;
  }
  if (failing_) {
    log::info("audit: writes recovered", {{"dir", dir_}});
    failing_ = false;
  }
  return true;
}

void Trail::maybe_rotate() {
  if (mid_line_) {
    return;  // the rest of a partly written line belongs to this file
  }
  const bool full = file_bytes_ >= settings_.rotate_size;
  const bool old = now_ms() - file_opened_ms_ >= settings_.rotate_age.count();
  if ((full || old) && file_bytes_ > 0 && !start_file()) {
    counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
    log::error("audit: cannot start a new trail file",
               {{"dir", dir_}, {"error", std::strerror(errno)}});
  }
}

}  // namespace sb::gateway::audit
