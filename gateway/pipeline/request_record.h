#pragma once
// The request's record, RAII: one object per data-plane request whose finish() — guaranteed by
// its destructor — settles the request's budget (its Settlement, when one was attached) and then
// records its metrics and access-log line, exactly once, on every exit path (early returns, a
// client gone, an exception unwinding the coroutine).

#include "gateway/pipeline/exchange.h"

namespace sb::gateway {

/// What settles a request's budget (the chat pipeline's reservation) before it is recorded.
/// Settling twice must be harmless.
class Settlement {
 public:
  virtual void settle() = 0;

 protected:
  ~Settlement() = default;
};

class RequestRecord {
 public:
  /// Where the record goes: `sink(target, outcome)`.
  using Sink = void (*)(void* target, Outcome& o);

  /// Records to `ctx`'s metrics and access log (record()).
  explicit RequestRecord(RequestContext& ctx)
      : RequestRecord(&ctx,
                      [](void* c, Outcome& o) { record(*static_cast<RequestContext*>(c), o); }) {}
  /// Records to a sink of one's own (tests).
  RequestRecord(void* target, Sink sink) : target_(target), sink_(sink) {}
  RequestRecord(const RequestRecord&) = delete;
  RequestRecord& operator=(const RequestRecord&) = delete;
  ~RequestRecord() { finish(); }

  /// The facts gathered along the way (what finish() records).
  Outcome& outcome() { return o_; }
  const Outcome& outcome() const { return o_; }

  /// Attaches (or with nullptr detaches) the budget settlement run before the record. It must
  /// outlive this record or be detached first.
  void attach(Settlement* s) { settlement_ = s; }

  /// Settles and records, once; later calls do nothing.
  void finish() {
    if (finished_) {
      return;
    }
    finished_ = true;
    if (settlement_ != nullptr) {
      settlement_->settle();
      settlement_ = nullptr;
    }
    sink_(target_, o_);
  }
  bool finished() const { return finished_; }

 private:
  void* target_;
  Sink sink_;
  Outcome o_;
  Settlement* settlement_ = nullptr;
  bool finished_ = false;
};

}  // namespace sb::gateway
