#pragma once
// A fake self-hosted inference engine with a capacity model, for capacity planning and spill
// tests: it answers OpenAI chat completions as vLLM does (non-stream and SSE with the usage in
// the last chunk), and its GET /metrics reports vLLM's load signals for the model's live state.
// Links no production code (tests/layering.sh).
//
// The model (EngineModel) is a continuous-batching engine reduced to its capacity:
//   - a FIFO waiting queue; the head request joins the running batch when the batch has a free
//     slot (max_batch) and its prompt fits in what is left of the KV budget (kv_tokens, counting
//     the prompt and generated tokens of every running request); the queue never skips its head;
//   - a running request first spends prompt_tokens / prefill_tokens_per_second in prefill, then
//     its first token is out (time to first token = queue wait + prefill);
//   - decoding requests share tokens_per_second: each gets tokens_per_second / decoding, at most
//     stream_tokens_per_second (one sequence cannot use the whole GPU);
//   - a request finishes after its output tokens (its max_tokens, else output_tokens) and frees
//     its KV at once.
// Time is simulated seconds, passed in by the caller; the server maps wall time to it with
// time_scale (simulated seconds per wall second), so a day of load can run in minutes.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sb::testing {

struct EngineOptions {
  std::string model = "fake-engine";         ///< model id served and the model_name label
  double tokens_per_second = 2500;           ///< decode throughput of the replica
  double stream_tokens_per_second = 100;     ///< decode ceiling of one request
  double prefill_tokens_per_second = 20000;  ///< prompt tokens processed per second
  std::int64_t max_batch = 64;               ///< running requests at most
  std::int64_t kv_tokens = 100000;           ///< KV budget in tokens
  std::int64_t output_tokens = 128;          ///< output when the request sets no max_tokens
  double time_scale = 1;                     ///< simulated seconds per wall-clock second
};

/// vLLM's buckets of vllm:time_to_first_token_seconds (vllm/v1/metrics/loggers.py).
const std::vector<double>& vllm_ttft_buckets();

class EngineModel {
 public:
  using Id = std::uint64_t;

  /// What a request has seen so far.
  struct Progress {
    bool known = false;        ///< false: never submitted, or finished and forgotten
    bool running = false;      ///< admitted to the batch
    bool first_token = false;  ///< prefill done: the first token is out
    std::int64_t generated = 0;
    std::int64_t target = 0;  ///< output tokens it will generate
    bool done = false;
    double ttft = 0;  ///< simulated seconds, once first_token
  };

  explicit EngineModel(EngineOptions options);

  /// Queues a request arriving at `now` (simulated seconds, never decreasing). nullopt when its
  /// prompt alone exceeds the KV budget (vLLM answers 400), or prompt or output is negative.
  std::optional<Id> submit(double now, std::int64_t prompt_tokens, std::int64_t output_tokens);
  /// Runs the model up to `now` in steps of at most max_step seconds. Earlier times do nothing.
  void advance(double now);
  Progress progress(Id id) const;
  /// Drops a request wherever it is (finished and read, or its client went away).
  void forget(Id id);

  std::size_t waiting() const { return waiting_.size(); }
  std::size_t running() const { return running_.size(); }
  std::int64_t kv_used() const;
  /// kv_used / kv_tokens, at most 1.
  double kv_usage() const;
  double now() const { return now_; }

  /// GET /metrics: vLLM's exposition text (format 0.0.4) for the state at now().
  std::string metrics_text() const;

  const EngineOptions& options() const { return options_; }

  static constexpr double max_step = 0.01;

 private:
  struct Request {
    std::int64_t prompt = 0;
    std::int64_t target = 0;
    double arrived = 0;
    double prefill_left = 0;  ///< seconds
    double generated = 0;     ///< fractional while decoding
    bool running = false;
    bool first_token = false;
    bool done = false;
    double ttft = 0;
  };

  void step(double dt);
  void admit();
  void observe_ttft(double seconds);

  EngineOptions options_;
  double now_ = 0;
  Id next_id_ = 1;
  std::unordered_map<Id, Request> requests_;
  std::deque<Id> waiting_;
  std::vector<Id> running_;
  std::vector<std::uint64_t> ttft_counts_;  ///< per bucket, not cumulative; last is +Inf
  double ttft_sum_ = 0;
  std::uint64_t ttft_count_ = 0;
  std::uint64_t prompt_tokens_total_ = 0;
  std::uint64_t generation_tokens_total_ = 0;
};

/// The model served over HTTP on its own thread, like FakeUpstream: POST /v1/chat/completions,
/// GET /v1/models, GET /health, GET /metrics.
class FakeEngine {
 public:
  /// Listens on host:port (0: any free port). Throws std::runtime_error when it cannot.
  FakeEngine(EngineOptions options, std::string host = "127.0.0.1", std::uint16_t port = 0);
  ~FakeEngine();
  FakeEngine(const FakeEngine&) = delete;
  FakeEngine& operator=(const FakeEngine&) = delete;

  std::uint16_t port() const;
  /// "http://HOST:PORT/v1"
  std::string base_url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::testing
