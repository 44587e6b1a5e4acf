// The fake engine's capacity model and its vLLM metrics text (see fake_engine.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/support/fake_engine.h"

namespace sb::testing {
namespace {

/// A value as Python's prometheus_client prints a float: "3.0", "0.25", "1e-05".
void append_float(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    // Shortest form that reads back the same, as Python's repr.
    for (int precision = 1; precision <= 17; ++precision) {
      char shorter[32];
      std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
      if (std::strtod(shorter, nullptr) == v) {
        std::snprintf(buf, sizeof buf, "%s", shorter);
        break;
      }
    }
  }
  out += buf;
}

void append_header(std::string& out, std::string_view name, std::string_view help,
                   std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

/// One sample; vLLM's API server runs prometheus_client in multiprocess mode, which sorts the
/// labels by name: engine, le, model_name.
void append_sample(std::string& out, std::string_view name, std::string_view model,
                   const std::string* le, double value) {
  out += name;
  out += "{engine=\"0\",";
  if (le != nullptr) {
    out += "le=\"";
    out += *le;
    out += "\",";
  }
  out += "model_name=\"";
  for (char c : model) {
    if (c == '\\' || c == '"') {
      out += '\\';
    }
    out += c == '\n' ? 'n' : c;
  }
  out += "\"} ";
  append_float(out, value);
  out += '\n';
}

void append_gauge(std::string& out, std::string_view name, std::string_view help,
                  std::string_view model, double value, std::string_view type = "gauge") {
  append_header(out, name, help, type);
  append_sample(out, name, model, nullptr, value);
}

}  // namespace

const std::vector<double>& vllm_ttft_buckets() {
  static const std::vector<double> buckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                              0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                              20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
  return buckets;
}

EngineModel::EngineModel(EngineOptions options)
    : options_(std::move(options)), ttft_counts_(vllm_ttft_buckets().size() + 1, 0) {}

std::optional<EngineModel::Id> EngineModel::submit(double now, std::int64_t prompt_tokens,
                                                   std::int64_t output_tokens) {
  if (prompt_tokens < 0 || output_tokens < 0 || prompt_tokens > options_.kv_tokens) {
    return std::nullopt;
  }
  advance(now);
  Id id = next_id_++;
  Request r;
  r.prompt = prompt_tokens;
  r.target = output_tokens;
  r.arrived = now_;
  requests_.emplace(id, r);
  waiting_.push_back(id);
  admit();
  return id;
}

void EngineModel::advance(double now) {
  while (now_ < now) {
    double dt = std::min(max_step, now - now_);
    step(dt);
    now_ += dt;
    admit();
  }
}

std::int64_t EngineModel::kv_used() const {
  std::int64_t used = 0;
  for (Id id : running_) {
    const auto& r = requests_.at(id);
    used += r.prompt + static_cast<std::int64_t>(r.generated);
  }
  return used;
}

double EngineModel::kv_usage() const {
  if (options_.kv_tokens <= 0) {
    return 0;
  }
  return std::min(1.0, static_cast<double>(kv_used()) / static_cast<double>(options_.kv_tokens));
}

void EngineModel::admit() {
  std::int64_t used = kv_used();
  while (!waiting_.empty() && static_cast<std::int64_t>(running_.size()) < options_.max_batch) {
    auto& r = requests_.at(waiting_.front());
    if (used + r.prompt > options_.kv_tokens) {
      return;  // the head waits for KV; nobody overtakes it
    }
    used += r.prompt;
    r.running = true;
    r.prefill_left = options_.prefill_tokens_per_second > 0
                         ? static_cast<double>(r.prompt) / options_.prefill_tokens_per_second
                         : 0;
    running_.push_back(waiting_.front());
    waiting_.pop_front();
  }
}

void EngineModel::observe_ttft(double seconds) {
  const auto& bounds = vllm_ttft_buckets();
  auto at = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
  ++ttft_counts_[static_cast<std::size_t>(at)];
  ttft_sum_ += seconds;
  ++ttft_count_;
}

void EngineModel::step(double dt) {
  std::size_t decoding = 0;
  for (Id id : running_) {
    decoding += requests_.at(id).first_token ? 1 : 0;
  }
  double share = decoding == 0 ? 0 : options_.tokens_per_second / static_cast<double>(decoding);
  double rate = std::min(share, options_.stream_tokens_per_second);
  std::vector<Id> still;
  still.reserve(running_.size());
  for (Id id : running_) {
    auto& r = requests_.at(id);
    double left = dt;
    if (!r.first_token) {
      if (r.prefill_left > left) {
        r.prefill_left -= left;
        still.push_back(id);
        continue;
      }
      // Prefill ends inside this step: the first token is out (it counts as generated, as
      // vLLM's first sampled token does); the rest of the step decodes at the share measured
      // at the step's start.
      left -= r.prefill_left;
      r.prefill_left = 0;
      r.first_token = true;
      r.ttft = now_ + dt - left - r.arrived;
      observe_ttft(r.ttft);
      prompt_tokens_total_ += static_cast<std::uint64_t>(r.prompt);
      r.generated = std::min<double>(1, static_cast<double>(r.target));
      left = 0;  // newly decoding requests join the share from the next step
    }
    r.generated = std::min(static_cast<double>(r.target), r.generated + rate * left);
    if (static_cast<std::int64_t>(r.generated) >= r.target) {
      r.done = true;
      r.running = false;
      generation_tokens_total_ += static_cast<std::uint64_t>(r.target);
      continue;
    }
    still.push_back(id);
  }
  running_ = std::move(still);
}

EngineModel::Progress EngineModel::progress(Id id) const {
  Progress p;
  auto it = requests_.find(id);
  if (it == requests_.end()) {
    return p;
  }
  const auto& r = it->second;
  p.known = true;
  p.running = r.running;
  p.first_token = r.first_token;
  p.generated = static_cast<std::int64_t>(r.generated);
  p.target = r.target;
  p.done = r.done;
  p.ttft = r.ttft;
  return p;
}

void EngineModel::forget(Id id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) {
    return;
  }
  if (auto w = std::find(waiting_.begin(), waiting_.end(), id); w != waiting_.end()) {
    waiting_.erase(w);
  }
  if (auto r = std::find(running_.begin(), running_.end(), id); r != running_.end()) {
    running_.erase(r);
  }
  requests_.erase(it);
  admit();
}

std::string EngineModel::metrics_text() const {
  const std::string& model = options_.model;
  std::string out;
  out.reserve(4096);
  append_gauge(out, "vllm:num_requests_running", "Number of requests in model execution batches.",
               model, static_cast<double>(running_.size()));
  append_gauge(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.",
               model, static_cast<double>(waiting_.size()));
  append_gauge(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", model,
               kv_usage());
  append_gauge(out, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", model,
               static_cast<double>(prompt_tokens_total_), "counter");
  append_gauge(out, "vllm:generation_tokens_total", "Number of generation tokens processed.", model,
               static_cast<double>(generation_tokens_total_), "counter");
  std::string_view ttft = "vllm:time_to_first_token_seconds";
  append_header(out, ttft, "Histogram of time to first token in seconds.", "histogram");
  const auto& bounds = vllm_ttft_buckets();
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += ttft_counts_[i];
    le.clear();
    append_float(le, i < bounds.size() ? bounds[i] : HUGE_VAL);
    append_sample(out, "vllm:time_to_first_token_seconds_bucket", model, &le,
                  static_cast<double>(cumulative));
  }
  append_sample(out, "vllm:time_to_first_token_seconds_count", model, nullptr,
                static_cast<double>(ttft_count_));
  append_sample(out, "vllm:time_to_first_token_seconds_sum", model, nullptr, ttft_sum_);
  return out;
}

}  // namespace sb::testing
