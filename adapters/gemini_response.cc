// Gemini generateContent responses, stream events and google.rpc errors → OpenAI chat
// completions (GeminiTranslator::response and ::stream).
#include "adapters/gemini.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/gemini_internal.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using gemini_detail::lower;

/// Upstream bytes a stream may hold for one event (SseParser's limit). Gemini events are one JSON
/// object each; generated images (inlineData) make the largest ones, well under this.
constexpr std::size_t kMaxEventBytes = 16 * 1024 * 1024;

// ---- responses --------------------------------------------------------------------------------

/// usageMetadata → Usage. https://ai.google.dev/api/generate-content#UsageMetadata
/// Thinking tokens are billed as output and tool-use prompt tokens as input, as OpenAI counts.
std::optional<Usage> usage_of(const json::value* meta) {
  const json::object* m = object_of(meta);
  if (m == nullptr) {
    return std::nullopt;
  }
  Usage u;
  u.input = count_of(m->if_contains("promptTokenCount")) +
            count_of(m->if_contains("toolUsePromptTokenCount"));
  u.reasoning = count_of(m->if_contains("thoughtsTokenCount"));
  u.output = count_of(m->if_contains("candidatesTokenCount")) + u.reasoning;
  u.cached_input = std::min(count_of(m->if_contains("cachedContentTokenCount")), u.input);
  return u;
}

/// Gemini finishReason → OpenAI finish_reason.
/// https://ai.google.dev/api/generate-content#FinishReason
std::string_view finish_reason_of(std::string_view reason, bool tool_calls) {
  // STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ...: OpenAI has no closer reason than stop.
  const std::string_view r = openai_finish_reason(reason);
  return tool_calls && r == "stop" ? "tool_calls" : r;
}

/// HTTP status for a google.rpc status name, for errors that arrive inside a 200 stream.
/// https://cloud.google.com/apis/design/errors#handling_errors
unsigned status_for_rpc(std::string_view rpc) {
  struct Row {
    std::string_view rpc;
    unsigned status;
  };
  static constexpr Row kStatuses[] = {
      {"INVALID_ARGUMENT", 400},   {"FAILED_PRECONDITION", 400}, {"OUT_OF_RANGE", 400},
      {"UNAUTHENTICATED", 401},    {"PERMISSION_DENIED", 403},   {"NOT_FOUND", 404},
      {"RESOURCE_EXHAUSTED", 429}, {"UNAVAILABLE", 503},         {"DEADLINE_EXCEEDED", 504},
  };
  for (const Row& r : kStatuses) {
    if (r.rpc == rpc) {
      return r.status;
    }
  }
  return 500;
}

/// "22s" / "1.5s" (google.protobuf.Duration in JSON) → whole seconds, rounded up.
std::optional<std::string> retry_after_of(std::string_view delay) {
  if (delay.size() < 2 || delay.back() != 's') {
    return std::nullopt;
  }
  delay.remove_suffix(1);
  std::uint64_t seconds = 0;
  std::size_t i = 0;
  for (; i < delay.size() && std::isdigit(static_cast<unsigned char>(delay[i])) != 0; ++i) {
    if (seconds > 1'000'000'000) {
      return std::nullopt;
    }
    seconds = seconds * 10 + static_cast<unsigned>(delay[i] - '0');
  }
  if (i == 0) {
    return std::nullopt;
  }
  if (i < delay.size()) {
    if (delay[i] != '.') {
      return std::nullopt;
    }
    bool fraction = false;
    for (++i; i < delay.size(); ++i) {
      if (std::isdigit(static_cast<unsigned char>(delay[i])) == 0) {
        return std::nullopt;
      }
      fraction = fraction || delay[i] != '0';
    }
    seconds += fraction ? 1 : 0;
  }
  return std::to_string(seconds);
}

/// The google.rpc.Status object of a Google error body: `{"error":{...}}`, or the same wrapped
/// in an array (what streamGenerateContent without alt=sse answers).
const json::object* google_error_of(const json::value& v) {
  if (const json::array* a = v.if_array(); a != nullptr && !a->empty()) {
    return google_error_of(a->front());
  }
  return object_of(member_of(v.if_object(), "error"));
}

/// A Google error translated to an OpenAI error with the given HTTP status (0: from the error's
/// own code or status name). https://ai.google.dev/gemini-api/docs/troubleshooting
TranslatedResponse google_error(unsigned status, const json::object* err) {
  const std::string_view rpc = string_of(member_of(err, "status"));
  if (status == 0) {
    const std::int64_t code = count_of(member_of(err, "code"));
    status = (code >= 400 && code <= 599) ? static_cast<unsigned>(code) : status_for_rpc(rpc);
  }
  TranslatedResponse r;
  r.status = status;
  r.retryable = retryable_status(status);
  std::string message(string_of(member_of(err, "message")));
  if (message.empty()) {
    message = "Gemini returned HTTP " + std::to_string(status);
  }
  if (const json::array* details = array_of(member_of(err, "details"))) {
    for (const json::value& d : *details) {
      const json::object* dobj = d.if_object();
      const std::string_view type = string_of(member_of(dobj, "@type"));
      if (type.ends_with("google.rpc.RetryInfo")) {
        r.retry_after = retry_after_of(string_of(member_of(dobj, "retryDelay")));
      }
    }
  }
  r.body = error_body(message, error_type_for(status), lower(rpc));
  return r;
}

/// What one candidate's parts say.
struct CandidateParts {
  std::string text;
  bool has_text = false;
  json::array tool_calls;  ///< OpenAI tool_calls (with ids and full arguments)
};

/// Reads a candidate's parts; thought parts are skipped. `next_call` numbers the tool calls of
/// the whole response, so ids stay unique across candidates and stream events.
void read_parts(const json::object* candidate, std::string_view call_prefix, std::size_t& next_call,
                CandidateParts& out) {
  const json::array* parts =
      array_of(member_of(object_of(member_of(candidate, "content")), "parts"));
  if (parts == nullptr) {
    return;
  }
  for (const json::value& pv : *parts) {
    const json::object* p = pv.if_object();
    if (p == nullptr) {
      continue;
    }
    if (const json::value* t = p->if_contains("text"); t != nullptr && t->is_string()) {
      const json::value* thought = p->if_contains("thought");
      if (thought != nullptr && thought->is_bool() && thought->get_bool()) {
        continue;
      }
      out.text += t->get_string();
      out.has_text = true;
    } else if (const json::object* fc = object_of(p->if_contains("functionCall"))) {
      std::string id(string_of(fc->if_contains("id")));
      if (id.empty()) {
        id = std::string(call_prefix) + std::to_string(next_call);
      }
      ++next_call;
      const json::value* args = fc->if_contains("args");
      out.tool_calls.push_back(tool_call_object(
          id, string_of(fc->if_contains("name")),
          args != nullptr && !args->is_null() ? json::serialize(*args) : std::string("{}")));
    }
  }
}

std::size_t candidate_index(const json::object* c, std::size_t fallback) {
  const json::value* v = member_of(c, "index");
  if (v != nullptr && (v->is_int64() || v->is_uint64())) {
    const std::int64_t i = count_of(v);
    return static_cast<std::size_t>(std::min<std::int64_t>(i, 1024));
  }
  return fallback;
}

std::string_view model_of(const json::object* resp, std::string_view alias) {
  const std::string_view v = string_of(member_of(resp, "modelVersion"));
  return v.empty() ? alias : v;
}

/// A prompt Gemini refused to answer at all. Azure OpenAI answers a filtered prompt with a 400
/// whose code is "content_filter"; clients handle that shape already.
TranslatedResponse prompt_blocked(std::string_view reason, std::optional<Usage> usage) {
  TranslatedResponse r;
  r.status = 400;
  r.usage = usage;
  r.body =
      error_body("The prompt was blocked by Gemini's content policy (" + std::string(reason) + ").",
                 "invalid_request_error", "content_filter");
  return r;
}

// ---- stream -----------------------------------------------------------------------------------

class GeminiStream final : public IdentifiedStream {
 public:
  GeminiStream(std::int64_t created, std::string id, bool include_usage, std::string_view alias)
      : IdentifiedStream(created, std::move(id), include_usage, alias) {
    chunks_.identify(id_, created_, model_);
  }

  bool feed(std::string_view bytes, std::string& out) override {
    if (error_ || finished_) {
      return !error_;
    }
    events_.clear();
    parser_.feed(bytes, events_);
    for (const SseEvent& ev : events_) {
      if (!on_event(ev, out)) {
        return false;
      }
    }
    if (parser_.failed()) {
      return fail(502, "Gemini stream event exceeds the size limit", out);
    }
    return true;
  }

  bool finish(std::string& out) override {
    if (error_) {
      return false;
    }
    if (finished_) {
      return true;
    }
    // Gemini sends no terminator: a finishReason on every choice is the only sign the answer is
    // whole, and an event cut before its blank line means the connection dropped mid-event.
    const bool complete = parser_.at_boundary() && !choices_.empty() &&
                          std::all_of(choices_.begin(), choices_.end(),
                                      [](const Choice& c) { return !c.seen || c.finished; });
    if (!complete) {
      error_ = TranslateError{502, "Gemini stream ended before a finishReason"};
      return false;
    }
    finished_ = true;
    if (chunks_.include_usage() && usage_) {
      chunks_.usage(out, *usage_);
    }
    ChunkWriter::done(out);
    return true;
  }

 private:
  struct Choice {
    bool seen = false;
    bool finished = false;
    std::size_t tool_calls = 0;
  };

  Choice& choice_at(std::size_t index, std::string& out) {
    if (index >= choices_.size()) {
      choices_.resize(index + 1);
    }
    Choice& c = choices_[index];
    if (!c.seen) {
      c.seen = true;
      chunks_.choice(out, index, kRoleDelta);
    }
    return c;
  }

  bool on_event(const SseEvent& ev, std::string& out) {
    if (ev.data.empty() || ev.data == "[DONE]") {
      return true;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(ev.data, ec);
    if (ec) {
      return fail(502, "Gemini sent a stream event that is not JSON", out);
    }
    if (const json::object* err = google_error_of(v)) {
      const TranslatedResponse r = google_error(0, err);
      const std::string message(string_of(member_of(err, "message")));
      append_sse(out, r.body);
      error_ = TranslateError{r.status, message.empty() ? "Gemini stream error" : message};
      return false;
    }
    const json::object* resp = v.if_object();
    if (resp == nullptr) {
      return fail(502, "Gemini sent a stream event that is not an object", out);
    }
    if (const std::string_view model = model_of(resp, model_); model != model_) {
      model_ = std::string(model);
      chunks_.identify(id_, created_, model_);
    }
    if (auto u = usage_of(resp->if_contains("usageMetadata"))) {
      usage_ = u;  // cumulative on every event; the last one is the total
    }
    const json::array* candidates = array_of(resp->if_contains("candidates"));
    if (candidates == nullptr || candidates->empty()) {
      on_prompt_feedback(*resp, out);
      return true;
    }
    for (std::size_t k = 0; k < candidates->size(); ++k) {
      if (const json::object* cand = (*candidates)[k].if_object()) {
        on_candidate(*cand, candidate_index(cand, k), out);
      }
    }
    return true;
  }

  /// An event without candidates: a blocked prompt finishes choice 0 with content_filter (the
  /// 200 head is gone, so this is the stream form of prompt_blocked()).
  void on_prompt_feedback(const json::object& resp, std::string& out) {
    const std::string_view block =
        string_of(member_of(object_of(resp.if_contains("promptFeedback")), "blockReason"));
    if (block.empty()) {
      return;
    }
    Choice& c = choice_at(0, out);
    if (!c.finished) {
      c.finished = true;
      chunks_.choice(out, 0, "{}", "content_filter");
    }
  }

  /// One candidate's text, whole tool calls and finish.
  void on_candidate(const json::object& cand, std::size_t index, std::string& out) {
    Choice& c = choice_at(index, out);
    if (c.finished) {
      return;
    }
    CandidateParts parts;
    read_parts(&cand, call_prefix_, next_call_, parts);
    if (!parts.text.empty()) {
      chunks_.choice(out, index, content_delta(parts.text));
    }
    for (json::value& call : parts.tool_calls) {
      // Gemini sends each call whole: one delta with id, name and all arguments.
      chunks_.choice(out, index, whole_tool_call_delta(c.tool_calls++, call.as_object()));
    }
    const std::string_view reason = string_of(cand.if_contains("finishReason"));
    if (!reason.empty() && reason != "FINISH_REASON_UNSPECIFIED") {
      c.finished = true;
      chunks_.choice(out, index, "{}", finish_reason_of(reason, c.tool_calls > 0));
    }
  }

  SseParser parser_{kMaxEventBytes};
  std::vector<SseEvent> events_;
  std::vector<Choice> choices_;
  bool finished_ = false;
};

/// A non-2xx answer: the Google error it carries, else the status alone (e.g. an HTML page from
/// a proxy).
TranslatedResponse error_response(unsigned status, const json::value* v) {
  const json::object* err = v != nullptr ? google_error_of(*v) : nullptr;
  if (err != nullptr) {
    return google_error(status, err);
  }
  TranslatedResponse r;
  r.status = status;
  r.retryable = retryable_status(status);
  r.body = error_body("Gemini returned HTTP " + std::to_string(status), error_type_for(status), {});
  return r;
}

/// The candidates as chat.completion choices; nullopt when one is not an object.
std::optional<json::array> completion_choices(const json::array& candidates,
                                              std::string_view completion_id) {
  const std::string call_prefix = tool_call_id_prefix(completion_id);
  std::size_t next_call = 0;
  json::array choices;
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    const json::object* cand = candidates[k].if_object();
    if (cand == nullptr) {
      return std::nullopt;
    }
    CandidateParts parts;
    read_parts(cand, call_prefix, next_call, parts);
    const bool tools = !parts.tool_calls.empty();
    json::object message =
        assistant_message(parts.has_text ? json::value(parts.text) : json::value(nullptr),
                          std::move(parts.tool_calls));
    choices.push_back(
        completion_choice(candidate_index(cand, k), std::move(message),
                          finish_reason_of(string_of(cand->if_contains("finishReason")), tools)));
  }
  return choices;
}

}  // namespace

template <>
TranslatedResponse GeminiTranslator::response(unsigned status, std::string_view /*content_type*/,
                                              std::string_view body,
                                              std::string_view model_alias) const {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (status < 200 || status >= 300) {
    return error_response(status, ec ? nullptr : &v);
  }
  const json::object* resp = ec ? nullptr : v.if_object();
  if (resp == nullptr) {
    return bad_upstream("Gemini returned a response that is not a JSON object");
  }
  if (const json::object* err = google_error_of(v)) {
    return google_error(0, err);
  }
  const std::optional<Usage> usage = usage_of(resp->if_contains("usageMetadata"));
  const json::array* candidates = array_of(resp->if_contains("candidates"));
  if (candidates == nullptr || candidates->empty()) {
    const std::string_view block =
        string_of(member_of(object_of(resp->if_contains("promptFeedback")), "blockReason"));
    if (!block.empty()) {
      return prompt_blocked(block, usage);
    }
    return bad_upstream("Gemini returned no candidates");
  }
  std::optional<json::array> choices = completion_choices(*candidates, id_);
  if (!choices) {
    return bad_upstream("Gemini returned a candidate that is not an object");
  }
  return completion_response(
      completion_object(id_, created_, model_of(resp, model_alias), std::move(*choices)), usage);
}

template <>
std::unique_ptr<StreamTranslator> GeminiTranslator::stream(bool include_usage,
                                                           std::string_view model_alias) const {
  return std::make_unique<GeminiStream>(created_, id_, include_usage, model_alias);
}

}  // namespace sb::adapters