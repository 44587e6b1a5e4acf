#include "tests/support/fake_upstream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace sb::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using HttpRequest = http::request<http::string_body>;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view kServiceTier = "default";
constexpr std::string_view kFingerprint = "fp_f4ce0b1e2d";
constexpr std::string_view kOwnedBy = "system";
constexpr std::uint32_t kHeaderLimit = 256 * 1024;
constexpr std::uint64_t kBodyLimit = std::uint64_t{64} << 20;
// Bounds on TLS work a peer could leave hanging; no test waits for them.
constexpr std::chrono::seconds kTlsHandshakeBound{30};
constexpr std::chrono::seconds kTlsShutdownBound{5};
constexpr std::int64_t kMaxLatencyMs = 10 * 60 * 1000;

// OpenAI's answer to a body that is not JSON, word for word.
constexpr std::string_view kInvalidJsonMessage =
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
    "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
    "help center at help.openai.com.)";

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// Maximal runs of non-whitespace: the fake's deterministic stand-in for a tokenizer.
std::size_t count_words(std::string_view s) {
  std::size_t words = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = is_space(c);
    if (!space && !in_word) {
      ++words;
    }
    in_word = !space;
  }
  return words;
}

/// Splits text the way OpenAI's tokenizer streams it: each word carries the whitespace before it
/// ("Hello", " from", " x"), so the pieces concatenate back to the text exactly.
std::vector<std::string> split_pieces(std::string_view s) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (is_space(s[i]) && !is_space(s[i - 1])) {
      pieces.emplace_back(s.substr(start, i - start));
      start = i;
    }
  }
  if (start < s.size()) {
    pieces.emplace_back(s.substr(start));
  }
  return pieces;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void append_int(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

void append_hex(std::string& out, std::size_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, 16);
  out.append(buf.data(), end);
}

/// The usage object on one line, as stream chunks carry it.
void append_usage_compact(std::string& out, const Usage& u) {
  out += "{\"prompt_tokens\":";
  append_int(out, u.prompt);
  out += ",\"completion_tokens\":";
  append_int(out, u.completion);
  out += ",\"total_tokens\":";
  append_int(out, u.prompt + u.completion);
  if (u.cached >= 0) {
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_int(out, u.cached);
    out += ",\"audio_tokens\":0}";
  }
  out +=
      ",\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
      "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
}

/// The usage object pretty-printed at the depth of a chat.completion's "usage" key.
void append_usage_pretty(std::string& out, const Usage& u) {
  out += "{\n    \"prompt_tokens\": ";
  append_int(out, u.prompt);
  out += ",\n    \"completion_tokens\": ";
  append_int(out, u.completion);
  out += ",\n    \"total_tokens\": ";
  append_int(out, u.prompt + u.completion);
  if (u.cached >= 0) {
    out += ",\n    \"prompt_tokens_details\": {\n      \"cached_tokens\": ";
    append_int(out, u.cached);
    out += ",\n      \"audio_tokens\": 0\n    }";
  }
  out +=
      ",\n    \"completion_tokens_details\": {\n"
      "      \"reasoning_tokens\": 0,\n"
      "      \"audio_tokens\": 0,\n"
      "      \"accepted_prediction_tokens\": 0,\n"
      "      \"rejected_prediction_tokens\": 0\n"
      "    }\n  }";
}

std::string completion_body(std::string_view model, std::string_view content, const Usage& usage,
                            std::string_view id, std::int64_t created) {
  std::string out;
  out.reserve(768 + content.size() + model.size());
  out += "{\n  \"id\": ";
  append_json_string(out, id);
  out += ",\n  \"object\": \"chat.completion\",\n  \"created\": ";
  append_int(out, created);
  out += ",\n  \"model\": ";
  append_json_string(out, model);
  out +=
      ",\n  \"choices\": [\n    {\n      \"index\": 0,\n      \"message\": {\n"
      "        \"role\": \"assistant\",\n        \"content\": ";
  append_json_string(out, content);
  out +=
      ",\n        \"refusal\": null,\n        \"annotations\": []\n      },\n"
      "      \"logprobs\": null,\n      \"finish_reason\": \"stop\"\n    }\n  ],\n  \"usage\": ";
  append_usage_pretty(out, usage);
  out += ",\n  \"service_tier\": ";
  append_json_string(out, kServiceTier);
  out += ",\n  \"system_fingerprint\": ";
  append_json_string(out, kFingerprint);
  out += "\n}\n";
  return out;
}

std::vector<std::string> stream_events(std::string_view model,
                                       const std::vector<std::string>& pieces, bool include_usage,
                                       const Usage& usage, std::string_view id,
                                       std::int64_t created) {
  std::string prefix = "data: {\"id\":";
  append_json_string(prefix, id);
  prefix += ",\"object\":\"chat.completion.chunk\",\"created\":";
  append_int(prefix, created);
  prefix += ",\"model\":";
  append_json_string(prefix, model);
  prefix += ",\"service_tier\":";
  append_json_string(prefix, kServiceTier);
  prefix += ",\"system_fingerprint\":";
  append_json_string(prefix, kFingerprint);
  prefix += ",\"choices\":";
  // OpenAI marks every non-usage chunk with "usage":null once include_usage is on.
  std::string_view suffix = include_usage ? ",\"usage\":null}\n\n" : "}\n\n";

  std::vector<std::string> events;
  events.reserve(pieces.size() + 4);
  auto choice_event = [&](std::string_view delta_json, std::string_view finish_reason) {
    std::string e = prefix;
    e += "[{\"index\":0,\"delta\":";
    e += delta_json;
    e += ",\"logprobs\":null,\"finish_reason\":";
    e += finish_reason;
    e += "}]";
    e += suffix;
    events.push_back(std::move(e));
  };
  choice_event("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", "null");
  std::string delta;
  for (const auto& piece : pieces) {
    delta.assign("{\"content\":");
    append_json_string(delta, piece);
    delta.push_back('}');
    choice_event(delta, "null");
  }
  choice_event("{}", "\"stop\"");
  if (include_usage) {
    std::string e = prefix;
    e += "[],\"usage\":";
    append_usage_compact(e, usage);
    e += "}\n\n";
    events.push_back(std::move(e));
  }
  events.emplace_back("data: [DONE]\n\n");
  return events;
}

std::string error_json(std::string_view message, std::string_view type, std::string_view code,
                       std::string_view param) {
  std::string out;
  out.reserve(128 + message.size());
  out += "{\n  \"error\": {\n    \"message\": ";
  append_json_string(out, message);
  out += ",\n    \"type\": ";
  append_json_string(out, type);
  out += ",\n    \"param\": ";
  if (param.empty()) {
    out += "null";
  } else {
    append_json_string(out, param);
  }
  out += ",\n    \"code\": ";
  if (code.empty()) {
    out += "null";
  } else {
    append_json_string(out, code);
  }
  out += "\n  }\n}\n";
  return out;
}

struct ErrorShape {
  std::string_view message;
  std::string_view type;
  std::string_view code;
};

/// The error OpenAI sends with each status, for `x-fake-status`.
ErrorShape error_for_status(unsigned status) {
  switch (status) {
    case 400:
      return {"Invalid request.", "invalid_request_error", ""};
    case 401:
      return {"Incorrect API key provided.", "invalid_request_error", "invalid_api_key"};
    case 403:
      return {"You are not allowed to sample from this model.", "invalid_request_error", ""};
    case 404:
      return {"The model does not exist or you do not have access to it.", "invalid_request_error",
              "model_not_found"};
    case 408:
      return {"Request timed out.", "invalid_request_error", ""};
    case 413:
      return {"Request too large.", "invalid_request_error", ""};
    case 429:
      return {"Rate limit reached for requests. Please try again in 1s.", "requests",
              "rate_limit_exceeded"};
    case 500:
      return {"The server had an error while processing your request. Sorry about that!",
              "server_error", ""};
    case 502:
      return {"Bad gateway.", "server_error", ""};
    case 503:
      return {"The engine is currently overloaded, please try again later.", "server_error", ""};
    case 504:
      return {"Gateway timeout.", "server_error", ""};
    default:
      if (status >= 500) {
        return {"The server had an error while processing your request.", "server_error", ""};
      }
      return {"Invalid request.", "invalid_request_error", ""};
  }
}

/// Text of a message's content: a string, or the concatenated "text" parts of an array.
std::string_view content_text(const json::value& content, std::string& scratch) {
  if (const auto* s = content.if_string()) {
    return *s;
  }
  scratch.clear();
  if (const auto* parts = content.if_array()) {
    for (const auto& part : *parts) {
      const auto* obj = part.if_object();
      if (obj == nullptr) {
        continue;
      }
      const auto* type = obj->if_contains("type");
      const auto* text = obj->if_contains("text");
      if (type != nullptr && type->is_string() && *type->if_string() == "text" && text != nullptr &&
          text->is_string()) {
        scratch += std::string_view(*text->if_string());
      }
    }
  }
  return scratch;
}

void append_status_line(std::string& out, unsigned status) {
  out += "HTTP/1.1 ";
  append_int(out, status);
  out.push_back(' ');
  auto reason = http::obsolete_reason(static_cast<http::status>(status));
  if (reason.empty() || reason.front() == '<') {
    out += "Unknown";
  } else {
    out.append(reason.data(), reason.size());
  }
  out += "\r\n";
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

/// One chunked-transfer frame around `data` (which must not be empty: that is the terminator).
void append_chunk_frame(std::string& out, std::string_view data) {
  append_hex(out, data.size());
  out += "\r\n";
  out += data;
  out += "\r\n";
}

constexpr std::string_view kLastChunk = "0\r\n\r\n";

// --- stream helpers: the same coroutines serve plain TCP and TLS ---

using PlainStream = beast::tcp_stream;
using TlsStream = ssl::stream<beast::tcp_stream>;

tcp::socket& socket_of(PlainStream& s) {
  return s.socket();
}
tcp::socket& socket_of(TlsStream& s) {
  return s.next_layer().socket();
}

/// Aborts the connection with a TCP RST: SO_LINGER {on, 0} makes close() discard and reset.
template <class Stream>
void reset_connection(Stream& s) {
  error_code ec;
  auto& sock = socket_of(s);
  sock.set_option(tcp::socket::linger(true, 0), ec);
  sock.close(ec);
}

asio::awaitable<void> close_gracefully(PlainStream& s) {
  error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  s.socket().close(ec);
  co_return;
}

asio::awaitable<void> close_gracefully(TlsStream& s) {
  // close_notify first so the client sees a clean end; bounded in case the peer never answers.
  beast::get_lowest_layer(s).expires_after(kTlsShutdownBound);
  [[maybe_unused]] auto [ec] = co_await s.async_shutdown(kTok);
  error_code ignored;
  socket_of(s).shutdown(tcp::socket::shutdown_both, ignored);
  socket_of(s).close(ignored);
}

/// Never answers: reads and discards until the peer goes away or the fake closes the socket.
template <class Stream>
asio::awaitable<void> stall(Stream& s) {
  std::array<char, 1024> sink;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(sink), kTok);
    if (ec) {
      co_return;
    }
  }
}

template <class Stream>
asio::awaitable<bool> write_bytes(Stream& s, std::string_view bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), kTok);
  co_return !ec;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  if (d.count() <= 0) {
    co_return;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  [[maybe_unused]] auto [ec] = co_await timer.async_wait(kTok);
}

/// What one request's connection wants after the answer.
struct Connection {
  bool keep_alive = true;
  bool http10 = false;
};

void append_connection_header(std::string& out, Connection conn) {
  if (!conn.keep_alive) {
    out += "Connection: close\r\n";
  } else if (conn.http10) {
    out += "Connection: keep-alive\r\n";
  }
}

/// What to do with the connection once a response has been handled.
enum class Flow {
  keep_going,  ///< read the next request
  close,       ///< close cleanly
  done,        ///< the connection is already gone (reset, stalled out, write failed)
};

/// The autonomous reply to a chat completion request, computed without any I/O.
struct ChatPlan {
  unsigned error_status = 0;  ///< non-zero: answer `error` with this status
  std::string error;
  std::string model;
  std::string content;
  Usage usage;
  bool stream = false;
  bool include_usage = false;
};

ChatPlan chat_error(std::string_view message, std::string_view code, std::string_view param) {
  ChatPlan plan;
  plan.error_status = 400;
  plan.error = error_json(message, "invalid_request_error", code, param);
  return plan;
}

std::string_view json_kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a decimal";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

ChatPlan plan_chat(std::string_view body, std::string_view name) {
  // Small requests parse without touching the heap.
  std::array<unsigned char, 16384> arena;
  json::monotonic_resource memory(arena.data(), arena.size());
  error_code ec;
  json::value doc = json::parse(body, ec, &memory);
  if (ec || !doc.is_object()) {
    return chat_error(kInvalidJsonMessage, "", "");
  }
  const auto& obj = doc.get_object();
  const auto* model = obj.if_contains("model");
  if (model == nullptr || !model->is_string()) {
    return chat_error("you must provide a model parameter", "", "");
  }
  const auto* messages = obj.if_contains("messages");
  if (messages == nullptr) {
    return chat_error("Missing required parameter: 'messages'.", "missing_required_parameter",
                      "messages");
  }
  if (!messages->is_array()) {
    return chat_error("Invalid type for 'messages': expected an array of objects, but got " +
                          std::string(json_kind(*messages)) + " instead.",
                      "invalid_type", "messages");
  }
  const auto& list = messages->get_array();
  if (list.empty()) {
    return chat_error("[] is too short - 'messages'", "empty_array", "messages");
  }

  ChatPlan plan;
  std::string scratch;
  std::string last_user;
  std::int64_t prompt = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto* message = list[i].if_object();
    if (message == nullptr) {
      std::string param = "messages[" + std::to_string(i) + "]";
      return chat_error("Invalid type for '" + param + "': expected an object, but got " +
                            std::string(json_kind(list[i])) + " instead.",
                        "invalid_type", param);
    }
    std::string_view text;
    if (const auto* content = message->if_contains("content")) {
      text = content_text(*content, scratch);
    }
    prompt += static_cast<std::int64_t>(count_words(text)) + 3;
    const auto* role = message->if_contains("role");
    if (role != nullptr && role->is_string() && *role->if_string() == "user") {
      last_user.assign(text);
    }
  }

  plan.model.assign(model->get_string());
  plan.content.reserve(13 + name.size() + last_user.size());
  plan.content += "Hello from ";
  plan.content += name;
  plan.content += ": ";
  plan.content += last_user;
  plan.usage.prompt = prompt;
  plan.usage.completion = static_cast<std::int64_t>(count_words(plan.content));
  plan.usage.cached = 0;
  if (const auto* stream = obj.if_contains("stream"); stream != nullptr && stream->is_bool()) {
    plan.stream = stream->get_bool();
  }
  if (const auto* so = obj.if_contains("stream_options"); so != nullptr && so->is_object()) {
    const auto* include = so->get_object().if_contains("include_usage");
    plan.include_usage = include != nullptr && include->is_bool() && include->get_bool();
  }
  return plan;
}

bool header_is(std::string_view name, std::string_view wanted) {
  return beast::iequals(name, wanted);
}

}  // namespace

// --- FakeUpstream::Impl ---

struct FakeUpstream::Impl {
  explicit Impl(FakeUpstreamOptions o) : options(std::move(o)) {}

  FakeUpstreamOptions options;
  // Declared before the io_context: coroutine frames holding TLS streams are destroyed with it.
  std::optional<ssl::context> tls;

  mutable std::mutex mu;
  mutable std::condition_variable arrived;
  std::deque<Response> script;            // guarded by mu
  std::atomic<std::size_t> scripted{0};   // script.size(), read without the lock on the hot path
  std::vector<RecordedRequest> recorded;  // guarded by mu
  std::size_t received = 0;               // guarded by mu
  std::atomic<std::size_t> accepted{0};

  // Owned by the io thread.
  std::uint64_t next_response = 0;
  std::uint64_t next_completion = 0;
  std::uint64_t next_connection = 0;
  std::unordered_map<std::uint64_t, tcp::socket*> live;
  std::string models_json;

  std::uint16_t bound_port = 0;
  std::string url;

  // Last: destroyed first, which destroys the frames of any coroutine still suspended.
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  /// Keeps a connection's socket reachable for drop_connections() while its session runs.
  struct Registration {
    Registration(Impl& impl, tcp::socket& socket) : owner(impl), id(impl.next_connection++) {
      owner.live.emplace(id, &socket);
    }
    ~Registration() { owner.live.erase(id); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    Impl& owner;
    std::uint64_t id;
  };

  void start() {
    if (options.tls) {
      tls.emplace(ssl::context::tls_server);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
      error_code ec;
      tls->use_certificate_chain_file(options.cert_file, ec);
      if (ec) {
        throw std::runtime_error("fake upstream: cannot load certificate chain '" +
                                 options.cert_file + "': " + ec.message());
      }
      tls->use_private_key_file(options.key_file, ssl::context::pem, ec);
      if (ec) {
        throw std::runtime_error("fake upstream: cannot load private key '" + options.key_file +
                                 "': " + ec.message());
      }
    }

    error_code ec;
    std::string host = options.host == "localhost" ? std::string("127.0.0.1") : options.host;
    auto address = asio::ip::make_address(host, ec);
    if (ec) {
      throw std::runtime_error("fake upstream: host must be an IP address or localhost, not '" +
                               options.host + "'");
    }
    tcp::endpoint endpoint(address, options.port);
    auto fail = [&](std::string_view what) {
      throw std::runtime_error("fake upstream: cannot " + std::string(what) + " " + host + ":" +
                               std::to_string(options.port) + ": " + ec.message());
    };
    if (acceptor.open(endpoint.protocol(), ec); ec) {
      fail("open a socket for");
    }
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor.bind(endpoint, ec); ec) {
      fail("bind");
    }
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
      fail("listen on");
    }
    bound_port = acceptor.local_endpoint().port();

    std::string url_host = address.is_v6() ? "[" + host + "]" : host;
    url = std::string(options.tls ? "https://" : "http://") + url_host + ":" +
          std::to_string(bound_port) + "/v1";

    models_json = "{\n  \"object\": \"list\",\n  \"data\": [\n    {\n      \"id\": ";
    append_json_string(models_json, options.name);
    models_json += ",\n      \"object\": \"model\",\n      \"created\": ";
    append_int(models_json, now_seconds());
    models_json += ",\n      \"owned_by\": ";
    append_json_string(models_json, kOwnedBy);
    models_json += "\n    }\n  ]\n}\n";

    asio::co_spawn(ioc, accept_loop(), asio::detached);
    thread = std::thread([this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (...) {
          // A handler threw (only allocation failure can); keep serving the others.
        }
      }
    });
  }

  void stop() {
    asio::post(ioc, [this] {
      error_code ec;
      acceptor.close(ec);
      close_all();
      ioc.stop();
    });
    if (thread.joinable()) {
      thread.join();
    }
  }

  void close_all() {
    for (auto& [id, socket] : live) {
      error_code ec;
      socket->shutdown(tcp::socket::shutdown_both, ec);
      socket->close(ec);
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTok);
      if (ec) {
        if (!acceptor.is_open()) {
          co_return;
        }
        // Out of descriptors or a transient failure: back off briefly rather than spin.
        co_await sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      accepted.fetch_add(1, std::memory_order_release);
      error_code ignored;
      // Small writes (one SSE event each) must leave at once, not wait for Nagle.
      socket.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    if (tls) {
      TlsStream stream(std::move(socket), *tls);
      Registration registration(*this, socket_of(stream));
      beast::get_lowest_layer(stream).expires_after(kTlsHandshakeBound);
      auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTok);
      if (ec) {
        co_return;
      }
      beast::get_lowest_layer(stream).expires_never();
      co_await serve(stream);
    } else {
      PlainStream stream(std::move(socket));
      Registration registration(*this, stream.socket());
      co_await serve(stream);
    }
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      auto [header_ec, header_n] = co_await http::async_read_header(stream, buffer, parser, kTok);
      if (header_ec) {
        co_await reject_malformed(stream, header_ec);
        co_return;
      }
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        if (!co_await write_bytes(stream, "HTTP/1.1 100 Continue\r\n\r\n")) {
          co_return;
        }
      }
      if (!parser.is_done()) {
        auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, kTok);
        if (body_ec) {
          co_await reject_malformed(stream, body_ec);
          co_return;
        }
      }
      HttpRequest request = parser.release();
      Connection conn{request.keep_alive(), request.version() < 11};
      record(request);

      Flow flow;
      if (auto scripted_response = pop_script()) {
        flow = co_await send_scripted(stream, std::move(*scripted_response), conn);
      } else {
        flow = co_await answer(stream, request, conn);
      }
      if (flow == Flow::keep_going) {
        continue;
      }
      if (flow == Flow::close) {
        co_await close_gracefully(stream);
      }
      co_return;
    }
  }

  /// Answers a request that could not be parsed with a status that says why, then closes.
  template <class Stream>
  asio::awaitable<void> reject_malformed(Stream& stream, error_code ec) {
    if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message) {
      co_return;  // the peer went away or the socket failed: nobody to answer
    }
    unsigned status = 400;
    if (ec == http::error::body_limit) {
      status = 413;
    } else if (ec == http::error::header_limit) {
      status = 431;
    }
    Flow flow = co_await send_json(stream, status,
                                   error_json(ec.message(), "invalid_request_error", "", ""),
                                   Connection{false, false});
    if (flow == Flow::close) {
      co_await close_gracefully(stream);
    }
  }

  void record(const HttpRequest& request) {
    if (options.record_requests) {
      RecordedRequest r;
      r.method.assign(request.method_string());
      r.target.assign(request.target());
      r.headers.reserve(8);
      for (const auto& field : request) {
        r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      r.body = request.body();
      std::lock_guard lock(mu);
      recorded.push_back(std::move(r));
      ++received;
    } else {
      std::lock_guard lock(mu);
      ++received;
    }
    arrived.notify_all();
  }

  std::optional<Response> pop_script() {
    if (scripted.load(std::memory_order_acquire) == 0) {
      return std::nullopt;
    }
    std::lock_guard lock(mu);
    if (script.empty()) {
      return std::nullopt;
    }
    Response r = std::move(script.front());
    script.pop_front();
    scripted.store(script.size(), std::memory_order_release);
    return r;
  }

  void append_request_id(std::string& out) {
    out += "x-request-id: req_";
    std::array<char, 17> hex{};
    auto [end, ec] = std::to_chars(hex.data(), hex.data() + hex.size(), ++next_response, 16);
    out.append(static_cast<std::size_t>(16 - (end - hex.data())), '0');
    out.append(hex.data(), end);
    out += "\r\n";
  }

  template <class Stream>
  asio::awaitable<Flow> send_json(Stream& stream, unsigned status, std::string_view body,
                                  Connection conn, std::string_view extra_headers = {}) {
    std::string out;
    out.reserve(192 + body.size());
    append_status_line(out, status);
    out += "Content-Type: application/json\r\n";
    append_request_id(out);
    out += extra_headers;
    out += "Content-Length: ";
    append_int(out, static_cast<std::int64_t>(body.size()));
    out += "\r\n";
    append_connection_header(out, conn);
    out += "\r\n";
    out += body;
    if (!co_await write_bytes(stream, out)) {
      co_return Flow::done;
    }
    co_return conn.keep_alive ? Flow::keep_going : Flow::close;
  }

  template <class Stream>
  asio::awaitable<Flow> send_scripted(Stream& stream, Response r, Connection conn) {
    co_await sleep_for(r.header_delay);
    switch (r.kind) {
      case Response::Kind::reset_on_read:
        reset_connection(stream);
        co_return Flow::done;
      case Response::Kind::close_on_read:
        co_await close_gracefully(stream);
        co_return Flow::done;
      case Response::Kind::stall:
        co_await stall(stream);
        co_return Flow::done;
      case Response::Kind::normal:
        break;
    }

    bool has_type = false;
    bool has_length = false;
    bool has_encoding = false;
    bool has_cache = false;
    bool asks_close = false;
    for (const auto& [name, value] : r.headers) {
      has_type = has_type || header_is(name, "content-type");
      has_length = has_length || header_is(name, "content-length");
      has_encoding = has_encoding || header_is(name, "transfer-encoding");
      has_cache = has_cache || header_is(name, "cache-control");
      if (header_is(name, "connection") && beast::iequals(value, "close")) {
        asks_close = true;
      }
    }
    if (asks_close) {
      conn.keep_alive = false;
    }
    const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;

    std::string head;
    head.reserve(256);
    append_status_line(head, r.status);
    for (const auto& [name, value] : r.headers) {
      append_header(head, name, value);
    }
    if (r.chunks.empty()) {
      if (!bodiless) {
        if (!has_type) {
          head += "Content-Type: application/json\r\n";
        }
        if (!has_length && !has_encoding) {
          head += "Content-Length: ";
          append_int(head, static_cast<std::int64_t>(r.body.size()));
          head += "\r\n";
        }
      }
      if (!asks_close) {
        append_connection_header(head, conn);
      }
      head += "\r\n";
      if (!bodiless) {
        head += r.body;
      }
      if (!co_await write_bytes(stream, head)) {
        co_return Flow::done;
      }
      co_return conn.keep_alive ? Flow::keep_going : Flow::close;
    }

    // A scripted Content-Length means the chunks are raw pieces of a fixed-length body;
    // otherwise each chunk is one chunked-transfer frame.
    const bool framed = !has_length;
    if (!has_type) {
      head += "Content-Type: text/event-stream\r\n";
    }
    if (!has_cache) {
      head += "Cache-Control: no-cache\r\n";
    }
    if (framed && !has_encoding) {
      head += "Transfer-Encoding: chunked\r\n";
    }
    if (!asks_close) {
      append_connection_header(head, conn);
    }
    head += "\r\n";
    if (!co_await write_bytes(stream, head)) {
      co_return Flow::done;
    }

    std::string frame;
    for (std::size_t i = 0; i <= r.chunks.size(); ++i) {
      if (r.reset_after_chunks && *r.reset_after_chunks == i) {
        reset_connection(stream);
        co_return Flow::done;
      }
      if (r.stall_after_chunks && *r.stall_after_chunks == i) {
        co_await stall(stream);
        co_return Flow::done;
      }
      if (i == r.chunks.size()) {
        break;
      }
      const Chunk& chunk = r.chunks[i];
      co_await sleep_for(chunk.delay);
      if (chunk.bytes.empty()) {
        continue;  // an empty frame would end the body early
      }
      std::string_view bytes = chunk.bytes;
      if (framed) {
        frame.clear();
        append_chunk_frame(frame, chunk.bytes);
        bytes = frame;
      }
      if (!co_await write_bytes(stream, bytes)) {
        co_return Flow::done;
      }
    }
    if (framed && !co_await write_bytes(stream, kLastChunk)) {
      co_return Flow::done;
    }
    co_return conn.keep_alive ? Flow::keep_going : Flow::close;
  }

  template <class Stream>
  asio::awaitable<Flow> answer(Stream& stream, const HttpRequest& request, Connection conn) {
    std::chrono::milliseconds latency = options.latency;
    if (auto it = request.find("x-fake-latency-ms"); it != request.end()) {
      std::int64_t ms = 0;
      auto v = it->value();
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
      if (ec == std::errc{} && ms >= 0) {
        latency = std::chrono::milliseconds(std::min(ms, kMaxLatencyMs));
      }
    }
    if (auto it = request.find("x-fake-status"); it != request.end()) {
      unsigned status = 0;
      auto v = it->value();
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), status);
      if (ec == std::errc{} && status >= 400 && status <= 599) {
        co_await sleep_for(latency);
        ErrorShape shape = error_for_status(status);
        co_return co_await send_json(stream, status,
                                     error_json(shape.message, shape.type, shape.code, ""), conn,
                                     status == 429 ? "retry-after: 1\r\n" : "");
      }
    }

    std::string_view target = request.target();
    std::string_view path = target.substr(0, target.find('?'));
    while (path.size() > 1 && path.back() == '/') {
      path.remove_suffix(1);
    }
    if (request.method() == http::verb::post && path.ends_with("/chat/completions")) {
      co_return co_await chat(stream, request, latency, conn);
    }
    if (request.method() == http::verb::get && path.ends_with("/models")) {
      co_await sleep_for(latency);
      co_return co_await send_json(stream, 200, models_json, conn);
    }
    std::string message = "Invalid URL (";
    message += request.method_string();
    message += ' ';
    message += path;
    message += ')';
    co_return co_await send_json(stream, 404, error_json(message, "invalid_request_error", "", ""),
                                 conn);
  }

  std::string next_completion_id() {
    std::string id = "chatcmpl-fake";
    std::array<char, 17> hex{};
    auto [end, ec] = std::to_chars(hex.data(), hex.data() + hex.size(), ++next_completion, 16);
    id.append(static_cast<std::size_t>(16 - (end - hex.data())), '0');
    id.append(hex.data(), end);
    return id;
  }

  template <class Stream>
  asio::awaitable<Flow> chat(Stream& stream, const HttpRequest& request,
                             std::chrono::milliseconds latency, Connection conn) {
    ChatPlan plan = plan_chat(request.body(), options.name);
    if (plan.error_status != 0) {
      co_return co_await send_json(stream, plan.error_status, plan.error, conn);
    }
    std::string id = next_completion_id();
    std::int64_t created = now_seconds();
    if (!plan.stream) {
      co_await sleep_for(latency);
      co_return co_await send_json(
          stream, 200, completion_body(plan.model, plan.content, plan.usage, id, created), conn);
    }

    std::vector<std::string> events = stream_events(plan.model, split_pieces(plan.content),
                                                    plan.include_usage, plan.usage, id, created);
    std::string out;
    std::size_t total = 0;
    for (const auto& e : events) {
      total += e.size() + 12;
    }
    out.reserve(256 + (latency.count() == 0 ? total : events.front().size() + 12));
    append_status_line(out, 200);
    out += "Content-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n";
    append_request_id(out);
    out += "Transfer-Encoding: chunked\r\n";
    append_connection_header(out, conn);
    out += "\r\n";
    if (latency.count() == 0) {
      // Nothing to wait for between events: the same bytes in one write.
      for (const auto& e : events) {
        append_chunk_frame(out, e);
      }
      out += kLastChunk;
      if (!co_await write_bytes(stream, out)) {
        co_return Flow::done;
      }
    } else {
      append_chunk_frame(out, events.front());
      if (!co_await write_bytes(stream, out)) {
        co_return Flow::done;
      }
      for (std::size_t i = 1; i < events.size(); ++i) {
        co_await sleep_for(latency);
        out.clear();
        append_chunk_frame(out, events[i]);
        if (i + 1 == events.size()) {
          out += kLastChunk;
        }
        if (!co_await write_bytes(stream, out)) {
          co_return Flow::done;
        }
      }
    }
    co_return conn.keep_alive ? Flow::keep_going : Flow::close;
  }
};

// --- public API ---

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

std::string chat_completion_body(std::string_view model, std::string_view content, Usage usage,
                                 std::string_view id) {
  return completion_body(model, content, usage, id, now_seconds());
}

std::vector<std::string> chat_stream_events(std::string_view model,
                                            const std::vector<std::string>& pieces,
                                            bool include_usage, Usage usage, std::string_view id) {
  return stream_events(model, pieces, include_usage, usage, id, now_seconds());
}

std::vector<std::string> stream_pieces(std::string_view text) {
  return split_pieces(text);
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  return error_json(message, type, code, "");
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code,
                       std::string_view param) {
  return error_json(message, type, code, param);
}

Response sse_response(const std::vector<std::string>& events, std::chrono::milliseconds gap) {
  Response r;
  r.headers = {{"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-cache"}};
  r.chunks.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    r.chunks.push_back(Chunk{events[i], i == 0 ? std::chrono::milliseconds{0} : gap});
  }
  return r;
}

FakeUpstream::FakeUpstream(FakeUpstreamOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->start();
}

FakeUpstream::~FakeUpstream() {
  impl_->stop();
}

std::uint16_t FakeUpstream::port() const {
  return impl_->bound_port;
}

std::string FakeUpstream::base_url() const {
  return impl_->url;
}

void FakeUpstream::push(Response response) {
  std::lock_guard lock(impl_->mu);
  impl_->script.push_back(std::move(response));
  impl_->scripted.store(impl_->script.size(), std::memory_order_release);
}

std::vector<RecordedRequest> FakeUpstream::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->recorded;
}

std::size_t FakeUpstream::request_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->received;
}

bool FakeUpstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->arrived.wait_for(lock, timeout, [&] { return impl_->received >= n; });
}

std::size_t FakeUpstream::connections() const {
  return impl_->accepted.load(std::memory_order_acquire);
}

void FakeUpstream::drop_connections() {
  if (impl_->ioc.get_executor().running_in_this_thread()) {
    impl_->close_all();
    return;
  }
  std::promise<void> closed;
  auto done = closed.get_future();
  asio::post(impl_->ioc, [&] {
    impl_->close_all();
    closed.set_value();
  });
  done.wait();
}

}  // namespace sb::testing
