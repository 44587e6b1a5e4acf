#include "tests/integration/gateway_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sb::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads "\"listen\":\"127.0.0.1:PORT\"" style fields from the startup log line.
std::uint16_t port_of(const std::string& log, std::string_view key) {
  std::string needle = "\"";
  needle += key;
  needle += "\":\"";
  const auto at = log.find(needle);
  if (at == std::string::npos) {
    return 0;
  }
  const auto end = log.find('"', at + needle.size());
  const std::string addr = log.substr(at + needle.size(), end - at - needle.size());
  const auto colon = addr.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(addr.substr(colon + 1)));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

GatewayProcess::GatewayProcess(const std::string& yaml) {
  char tmpl[] = "/tmp/switchboard-it-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  dir_ = tmpl;
  config_path_ = dir_ + "/switchboard.yaml";
  write_config(yaml);
  const std::string out = dir_ + "/stdout.log";
  const std::string err = dir_ + "/stderr.log";
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // The gateway dies with the test, even one that crashed before its destructor ran.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);  // the test was gone before the line above took effect
    }
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    execl(SB_SWITCHBOARD_BIN, SB_SWITCHBOARD_BIN, "run", "--config", config_path_.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string log = read_file(err);
    if (log.find("\"msg\":\"listening\"") != std::string::npos) {
      port_ = port_of(log, "listen");
      admin_port_ = port_of(log, "admin");
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  const std::string cmd = "rm -rf '" + dir_ + "'";
  [[maybe_unused]] int rc = std::system(cmd.c_str());
}

void GatewayProcess::write_config(const std::string& yaml) const {
  const std::string tmp = config_path_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << yaml;
  }
  std::rename(tmp.c_str(), config_path_.c_str());
}

void GatewayProcess::send_signal(int sig) const {
  if (pid_ > 0 && !exited_) {
    kill(pid_, sig);
  }
}

std::optional<int> GatewayProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
      }
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

bool GatewayProcess::alive() const {
  if (pid_ <= 0 || exited_) {
    return false;
  }
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return false;
  }
  return info.si_pid == 0;  // nothing to report: still running
}

std::uint64_t GatewayProcess::memory_kib(std::string_view field) const {
  const std::string status = read_file("/proc/" + std::to_string(pid_) + "/status");
  std::string needle = "\n";
  needle += field;
  needle += ':';
  const auto at = status.find(needle);
  if (at == std::string::npos) {
    return 0;
  }
  return std::strtoull(status.c_str() + at + needle.size(), nullptr, 10);
}

std::string GatewayProcess::stderr_text() const {
  return read_file(dir_ + "/stderr.log");
}
std::string GatewayProcess::stdout_text() const {
  return read_file(dir_ + "/stdout.log");
}

bool GatewayProcess::wait_for_log(std::string_view needle,
                                  std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (stderr_text().find(needle) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string GatewayProcess::access_line(std::string_view request_id,
                                        std::chrono::milliseconds timeout) const {
  const std::string key = R"("type":"access","request_id":")" + std::string(request_id) + '"';
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string log = stdout_text();
    const std::size_t at = log.find(key);
    const std::size_t end = at == std::string::npos ? at : log.find('\n', at);
    if (end != std::string::npos) {
      return log.substr(at, end - at);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) {
      return v;
    }
  }
  return {};
}

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Client::~Client() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void Client::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool Client::fill() {
  char tmp[16384];
  const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    return false;
  }
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

std::optional<HttpResponse> Client::read_head() {
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) {
      return std::nullopt;
    }
  }
  HttpResponse r;
  const std::string head = buf_.substr(0, end + 2);
  buf_.erase(0, end + 4);
  std::size_t pos = head.find("\r\n");
  const std::string status_line = head.substr(0, pos);
  if (status_line.size() < 12) {
    return std::nullopt;
  }
  r.status = static_cast<unsigned>(std::stoi(status_line.substr(9, 3)));
  pos += 2;
  while (pos < head.size()) {
    const auto eol = head.find("\r\n", pos);
    const std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const auto colon = line.find(':');
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.erase(0, 1);
    }
    r.headers.emplace_back(line.substr(0, colon), value);
  }
  return r;
}

std::optional<std::string> Client::read_chunk() {
  std::size_t eol;
  while ((eol = buf_.find("\r\n")) == std::string::npos) {
    if (!fill()) {
      return std::nullopt;
    }
  }
  const std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
  while (buf_.size() < eol + 2 + size + 2) {
    if (!fill()) {
      return std::nullopt;
    }
  }
  std::string data = buf_.substr(eol + 2, size);
  buf_.erase(0, eol + 2 + size + 2);
  if (size == 0) {
    return std::nullopt;
  }
  return data;
}

std::optional<HttpResponse> Client::read_response() {
  auto r = read_head();
  if (!r) {
    return std::nullopt;
  }
  if (r->status == 100) {
    return read_response();
  }
  if (iequals(r->header("Transfer-Encoding"), "chunked")) {
    for (;;) {
      std::size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos) {
        if (!fill()) {
          return std::nullopt;
        }
      }
      const std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
      while (buf_.size() < eol + 2 + size + 2) {
        if (!fill()) {
          return std::nullopt;
        }
      }
      r->body += buf_.substr(eol + 2, size);
      buf_.erase(0, eol + 2 + size + 2);
      if (size == 0) {
        break;
      }
    }
  } else if (const std::string cl = r->header("Content-Length"); !cl.empty()) {
    const std::size_t n = std::stoul(cl);
    while (buf_.size() < n) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    r->body = buf_.substr(0, n);
    buf_.erase(0, n);
  } else {
    while (fill()) {
    }
    r->body = std::move(buf_);
    buf_.clear();
    r->closed = true;
  }
  if (iequals(r->header("Connection"), "close")) {
    r->closed = wait_closed();
  }
  return r;
}

std::string Client::read_until_close() {
  while (fill()) {
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

bool Client::wait_closed() {
  char tmp[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n == 0) {
      return true;
    }
    if (n < 0) {
      return errno == ECONNRESET;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

std::optional<HttpResponse> request(
    std::uint16_t port, std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  Client c(port);
  if (!c.connected()) {
    return std::nullopt;
  }
  std::string req;
  req += method;
  req += ' ';
  req += target;
  req += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    has_type = has_type || iequals(k, "content-type");
  }
  if (!body.empty() || method == "POST") {
    if (!has_type) {
      req += "Content-Type: application/json\r\n";
    }
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  c.send_raw(req);
  return c.read_response();
}

std::string wait_for_metrics(std::uint16_t admin_port, const std::vector<std::string>& needles,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string body;
  for (;;) {
    auto r = request(admin_port, "GET", "/metrics");
    body = r ? r->body : std::string();
    bool all = true;
    for (const auto& n : needles) {
      all = all && body.find(n) != std::string::npos;
    }
    if (all || std::chrono::steady_clock::now() >= deadline) {
      return body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string chat_body(std::string_view model, std::string_view user_text, bool stream,
                      std::string_view extra) {
  std::string b = "{\"model\":\"";
  b += model;
  b += "\",\"messages\":[{\"role\":\"user\",\"content\":\"";
  b += user_text;
  b += "\"}]";
  if (stream) {
    b += ",\"stream\":true";
  }
  b += extra;
  b += "}";
  return b;
}

std::vector<std::string> sse_data(std::string_view body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    if (eol == std::string_view::npos) {
      eol = body.size();
    }
    std::string_view line = body.substr(pos, eol - pos);
    if (line.starts_with("data: ")) {
      out.emplace_back(line.substr(6));
    }
    pos = eol + 1;
  }
  return out;
}

}  // namespace sb::testing
