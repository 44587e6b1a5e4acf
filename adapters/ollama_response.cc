// Ollama native /api/chat answers, NDJSON streams and errors → OpenAI chat completions
// (OllamaTranslator::response and ::stream), and parse_rfc3339 for its timestamps. The request
// side is in ollama_request.cc.
#include "adapters/ollama.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

/// Bytes one NDJSON line may hold before it is complete. Ollama's lines are one token each (the
/// final one adds timings); only a broken upstream comes near this.
constexpr std::size_t kMaxLineBytes = 1024 * 1024;

// ---- responses --------------------------------------------------------------------------------

/// OpenAI error `type` for an Ollama error status: the gateway's, but a 404 (an unknown model) is
/// an invalid_request_error, as OpenAI answers an unknown model.
std::string_view ollama_error_type(unsigned status) {
  return status == 404 ? "invalid_request_error" : error_type_for(status);
}

/// OpenAI error `code` for an Ollama error status.
std::string_view error_code_for(unsigned status) {
  static constexpr StatusMapping kCodes[] = {{404, "model_not_found"},
                                             {429, "rate_limit_exceeded"}};
  return map_status(kCodes, status, status >= 500 ? "upstream_error" : std::string_view{});
}

/// Ollama answers errors as `{"error": "<message>"}` with a true status:
/// https://github.com/ollama/ollama/blob/main/docs/api.md (StatusError in api/types.go).
TranslatedResponse ollama_error(unsigned status, std::string_view body) {
  TranslatedResponse r;
  r.status = status;
  r.retryable = retryable_status(status);
  std::string message;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec) {
    message = std::string(string_of(member_of(v.if_object(), "error")));
  }
  if (message.empty()) {
    message = "Ollama returned HTTP " + std::to_string(status);
  }
  r.body = error_body(message, ollama_error_type(status), error_code_for(status));
  return r;
}

/// prompt_eval_count / eval_count of a final (`done`) object. Ollama omits a zero count (a
/// prompt served wholly from its cache reports no prompt_eval_count), so absent reads as 0.
Usage usage_of(const json::object& resp) {
  Usage u;
  u.input = count_of(resp.if_contains("prompt_eval_count"));
  u.output = count_of(resp.if_contains("eval_count"));
  return u;
}

/// done_reason → finish_reason. Ollama says "stop", "length", or "load"/"unload" for a request
/// without messages; a tool call answer still says "stop".
std::string_view finish_reason_of(std::string_view done_reason, bool tool_calls) {
  if (tool_calls) {
    return "tool_calls";
  }
  return openai_finish_reason(done_reason);
}

/// Ollama's tool calls (arguments an object; an `id` only on newer versions) → OpenAI's
/// (arguments a JSON string, an id always). `next_call` numbers the calls of the whole response.
json::array tool_calls_of(const json::object* message, std::string_view call_prefix,
                          std::size_t& next_call) {
  json::array out;
  const json::array* calls = array_of(member_of(message, "tool_calls"));
  if (calls == nullptr) {
    return out;
  }
  for (const json::value& c : *calls) {
    const json::object* co = c.if_object();
    const json::object* fn = object_of(member_of(co, "function"));
    if (fn == nullptr) {
      continue;
    }
    std::string id(string_of(co->if_contains("id")));
    if (id.empty()) {
      id = std::string(call_prefix) + std::to_string(next_call);
    }
    ++next_call;
    const json::value* args = fn->if_contains("arguments");
    std::string arguments;
    if (args == nullptr || args->is_null()) {
      arguments = "{}";
    } else if (const json::string* s = args->if_string()) {
      arguments.assign(s->data(), s->size());  // already a JSON text
    } else {
      arguments = json::serialize(*args);
    }
    out.push_back(tool_call_object(id, string_of(fn->if_contains("name")), std::move(arguments)));
  }
  return out;
}

std::int64_t created_of(const json::object& resp, std::int64_t fallback) {
  const std::optional<std::int64_t> t = parse_rfc3339(string_of(resp.if_contains("created_at")));
  return t ? *t : fallback;
}

std::string_view model_of(const json::object& resp, std::string_view alias) {
  const std::string_view m = string_of(resp.if_contains("model"));
  return m.empty() ? alias : m;
}

// ---- stream -----------------------------------------------------------------------------------

class OllamaStream final : public IdentifiedStream {
 public:
  OllamaStream(std::int64_t created, std::string id, bool include_usage, std::string_view alias)
      : IdentifiedStream(created, std::move(id), include_usage, alias) {}

  bool feed(std::string_view bytes, std::string& out) override {
    if (error_ || done_) {
      return !error_;  // anything after the final line is not part of the answer
    }
    while (!bytes.empty()) {
      const std::size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos) {
        if (line_.size() + bytes.size() > kMaxLineBytes) {
          return fail(502, "Ollama stream line exceeds 1 MiB", out);
        }
        line_.append(bytes);
        return true;
      }
      std::string_view line = bytes.substr(0, nl);
      bytes.remove_prefix(nl + 1);
      if (!line_.empty()) {
        if (line_.size() + line.size() > kMaxLineBytes) {
          return fail(502, "Ollama stream line exceeds 1 MiB", out);
        }
        line_.append(line);
        const std::string whole = std::move(line_);
        line_.clear();
        if (!on_line(whole, out)) {
          return false;
        }
      } else if (!on_line(line, out)) {
        return false;
      }
      if (done_) {
        return true;
      }
    }
    return true;
  }

  bool finish(std::string& out) override {
    if (error_) {
      return false;
    }
    if (!done_ && !line_.empty()) {
      // A final line without its newline is still a whole JSON object if it parses; one cut
      // mid-way is a truncated stream, which the caller reports (nothing is appended here).
      const std::string last = std::move(line_);
      line_.clear();
      boost::system::error_code ec;
      const json::value v = json::parse(last, ec);
      if (!ec && v.is_object() && !on_line(last, out)) {
        return false;
      }
    }
    if (!done_) {
      error_ = TranslateError{502, "Ollama stream ended before \"done\": true"};
      return false;
    }
    return true;
  }

 private:
  bool on_line(std::string_view line, std::string& out) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      return true;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(line, ec);
    const json::object* obj = ec ? nullptr : v.if_object();
    if (obj == nullptr) {
      return fail(502, "Ollama sent a stream line that is not a JSON object", out);
    }
    if (const json::value* err = obj->if_contains("error"); err != nullptr && !err->is_null()) {
      // An error after the 200 head (e.g. the runner crashed mid-generation).
      std::string message(string_of(err));
      if (message.empty()) {
        message = "Ollama stream error";
      }
      return fail(500, std::move(message), out);
    }
    if (!started_) {
      started_ = true;
      created_ = created_of(*obj, created_);
      model_ = std::string(model_of(*obj, model_));
      chunks_.identify(id_, created_, model_);
      chunks_.choice(out, 0, kRoleDelta);
    }
    const json::object* message = object_of(obj->if_contains("message"));
    if (const std::string_view text = string_of(member_of(message, "content")); !text.empty()) {
      chunks_.choice(out, 0, content_delta(text));
    }
    // Ollama sends each tool call whole, in one line: one delta with id, name and arguments.
    json::array calls = tool_calls_of(message, call_prefix_, next_call_);
    for (json::value& call : calls) {
      chunks_.choice(out, 0, whole_tool_call_delta(tool_calls_++, call.as_object()));
    }
    if (is_true(obj->if_contains("done"))) {
      done_ = true;
      usage_ = usage_of(*obj);
      chunks_.choice(out, 0, "{}",
                     finish_reason_of(string_of(obj->if_contains("done_reason")), tool_calls_ > 0));
      if (chunks_.include_usage()) {
        chunks_.usage(out, *usage_);
      }
      ChunkWriter::done(out);
    }
    return true;
  }

  std::string line_;  // the incomplete line held between feeds
  bool started_ = false;
  bool done_ = false;
  std::size_t tool_calls_ = 0;
};

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// A cursor over an RFC 3339 timestamp, for parse_rfc3339.
struct Rfc3339Reader {
  std::string_view s;
  std::size_t pos = 0;

  /// Exactly `n` decimal digits.
  std::optional<unsigned> digits(std::size_t n) {
    if (pos + n > s.size()) {
      return std::nullopt;
    }
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') {
        return std::nullopt;
      }
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos += n;
    return v;
  }
  /// The separator `c` ('T' also matches 't' and ' ').
  bool expect(char c) {
    if (pos < s.size() && (s[pos] == c || (c == 'T' && (s[pos] == 't' || s[pos] == ' ')))) {
      ++pos;
      return true;
    }
    return false;
  }
  /// `n` digits followed by `separator`.
  std::optional<unsigned> field(std::size_t n, char separator) {
    const std::optional<unsigned> v = digits(n);
    return v && expect(separator) ? v : std::nullopt;
  }
  /// An optional fraction of a second (`.` and at least one digit), skipped.
  bool fraction() {
    if (pos >= s.size() || s[pos] != '.') {
      return true;
    }
    const std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ++pos;
    }
    return pos != start;
  }
  /// `Z` or `±hh:mm`, in seconds east of UTC.
  std::optional<std::int64_t> offset() {
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
      ++pos;
      return 0;
    }
    if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) {
      return std::nullopt;
    }
    const bool negative = s[pos++] == '-';
    const auto oh = field(2, ':');
    const auto om = oh ? digits(2) : std::nullopt;
    if (!om || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    const std::int64_t seconds = (static_cast<std::int64_t>(*oh) * 60 + *om) * 60;
    return negative ? -seconds : seconds;
  }
};

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  Rfc3339Reader r{s};
  const auto year = r.field(4, '-');
  const auto month = year ? r.field(2, '-') : std::nullopt;
  const auto day = month ? r.field(2, 'T') : std::nullopt;
  const auto hour = day ? r.field(2, ':') : std::nullopt;
  const auto minute = hour ? r.field(2, ':') : std::nullopt;
  const auto second = minute ? r.digits(2) : std::nullopt;
  if (!second || *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60 || !r.fraction()) {
    return std::nullopt;
  }
  const std::optional<std::int64_t> offset = r.offset();
  if (!offset || r.pos != s.size()) {
    return std::nullopt;
  }
  const std::int64_t days = days_from_civil(*year, *month, *day);
  return days * 86400 + static_cast<std::int64_t>(*hour) * 3600 +
         static_cast<std::int64_t>(*minute) * 60 + *second - *offset;
}

template <>
TranslatedResponse OllamaTranslator::response(unsigned status, std::string_view /*content_type*/,
                                              std::string_view body,
                                              std::string_view model_alias) const {
  if (status < 200 || status >= 300) {
    return ollama_error(status, body);
  }
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  const json::object* resp = ec ? nullptr : v.if_object();
  if (resp == nullptr) {
    return bad_upstream("Ollama returned a response that is not a JSON object");
  }
  if (const json::value* err = resp->if_contains("error"); err != nullptr && !err->is_null()) {
    TranslatedResponse r = ollama_error(500, body);
    return r;
  }
  const json::object* message = object_of(resp->if_contains("message"));
  if (message == nullptr) {
    return bad_upstream("Ollama returned a response without a message");
  }
  const std::string call_prefix = tool_call_id_prefix(id_);
  std::size_t next_call = 0;
  json::array calls = tool_calls_of(message, call_prefix, next_call);
  const bool tools = !calls.empty();
  const std::string_view text = string_of(message->if_contains("content"));

  // OpenAI sends null content beside tool calls when the model wrote no text.
  json::object msg = assistant_message(
      (tools && text.empty()) ? json::value(nullptr) : json::value(text), std::move(calls));
  json::object choice = completion_choice(
      0, std::move(msg), finish_reason_of(string_of(resp->if_contains("done_reason")), tools));

  return completion_response(
      completion_object(id_, created_of(*resp, created_), model_of(*resp, model_alias),
                        json::array{std::move(choice)}),
      usage_of(*resp));
}

template <>
std::unique_ptr<StreamTranslator> OllamaTranslator::stream(bool include_usage,
                                                           std::string_view model_alias) const {
  return std::make_unique<OllamaStream>(created_, id_, include_usage, model_alias);
}

}  // namespace sb::adapters