#pragma once
// Runs the real `switchboard` binary as a child process for integration tests, and talks to it
// over loopback with plain blocking sockets (raw bytes when a test needs exact framing).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::testing {

// AddressSanitizer's shadow memory, redzones and quarantine multiply what a process holds; memory
// bounds asserted on the gateway scale by this in a sanitizer build (still far below what the
// unbounded cases grew to: hundreds of MiB in a release build, GiBs under ASan).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr long kMemoryScale = 4;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr long kMemoryScale = 4;
#else
inline constexpr long kMemoryScale = 1;
#endif
#else
inline constexpr long kMemoryScale = 1;
#endif

class GatewayProcess {
 public:
  /// Writes `yaml` to a temporary config file and starts `switchboard run` on it. The config
  /// should listen on 127.0.0.1:0 for both planes; the ports are read from the startup log.
  explicit GatewayProcess(const std::string& yaml);
  ~GatewayProcess();  ///< SIGKILL if still running
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  bool started() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  const std::string& config_path() const { return config_path_; }
  pid_t pid() const { return pid_; }
  /// True while the process has not exited (it is not reaped here).
  bool alive() const;
  /// A memory figure of the process from /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); 0 when
  /// unreadable.
  std::uint64_t memory_kib(std::string_view field) const;

  /// Replaces the config file's content (for reload tests).
  void write_config(const std::string& yaml) const;
  void send_signal(int sig) const;
  /// Waits for the process to exit; its exit code, or nullopt on timeout / killed by a signal.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  /// Everything the process wrote to stderr (operational log) / stdout (access log) so far.
  std::string stderr_text() const;
  std::string stdout_text() const;
  /// Waits until stderr contains `needle`; false on timeout.
  bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) const;
  /// Waits for the access-log line of request `request_id` (x-request-id) on stdout; the whole
  /// line without its newline, or "" on timeout.
  std::string access_line(std::string_view request_id, std::chrono::milliseconds timeout =
                                                           std::chrono::milliseconds(5000)) const;

 private:
  std::string dir_;
  std::string config_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

struct HttpResponse {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;     ///< de-chunked
  bool closed = false;  ///< the server closed the connection after the response
  std::string header(std::string_view name) const;  ///< "" when absent
};

/// A blocking client connection to 127.0.0.1:port with a receive timeout.
class Client {
 public:
  explicit Client(std::uint16_t port,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  void send_raw(std::string_view bytes);
  /// Reads one HTTP/1.1 response (Content-Length, chunked, or until close). nullopt on timeout or
  /// when the connection closes before a complete response.
  std::optional<HttpResponse> read_response();
  /// Reads one chunk of a chunked body as it arrives (the chunk's data); nullopt at the last
  /// chunk, on close or timeout. Call after read_head().
  std::optional<std::string> read_chunk();
  /// Reads only the status line and headers.
  std::optional<HttpResponse> read_head();
  /// Reads until the server closes; returns what arrived (also on timeout).
  std::string read_until_close();
  /// True when the server has closed the connection (reads EOF or reset within the timeout).
  bool wait_closed();

 private:
  bool fill();
  int fd_ = -1;
  std::string buf_;
};

/// One request on a fresh connection.
std::optional<HttpResponse> request(
    std::uint16_t port, std::string_view method, std::string_view target,
    std::string_view body = {},
    const std::vector<std::pair<std::string, std::string>>& headers = {});

/// Polls GET /metrics on `admin_port` until it contains every one of `needles` (metrics are
/// recorded just after a response is written, so a scrape right after a reply may precede them).
/// Returns the last body scraped.
std::string wait_for_metrics(std::uint16_t admin_port, const std::vector<std::string>& needles,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

/// A minimal chat-completions body.
std::string chat_body(std::string_view model, std::string_view user_text, bool stream,
                      std::string_view extra = {});

/// The `data:` payloads of an SSE body, in order.
std::vector<std::string> sse_data(std::string_view body);

}  // namespace sb::testing
