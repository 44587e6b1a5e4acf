#include "gateway/state/redis_protocol.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

namespace sb::gateway::redis {

std::string_view to_string(Error e) {
  // In Error's order.
  static constexpr std::array<std::string_view, 9> kNames{
      "none", "connect", "tls", "auth", "timeout", "io", "protocol", "too_large", "server"};
  const auto i = static_cast<std::size_t>(e);
  return i < kNames.size() ? kNames[i] : "unknown";
}

void append_command(std::string& out, std::span<const std::string> args, bool secret) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* command = nullptr;
  const int n =
      redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (n < 0 || command == nullptr) {
    throw std::bad_alloc();  // the formatter fails only when malloc does
  }
  out.append(command, static_cast<std::size_t>(n));
  if (secret) {
    explicit_bzero(command, static_cast<std::size_t>(n));
  }
  redisFreeCommand(command);
}

// The parser's state is the reader's privdata, which hiredis copies into every read task: our
// object functions build the Reply tree in place and enforce the limits as it grows.
struct ReplyParser::State {
  Limits limits;
  redisReader* reader = nullptr;
  std::size_t tree_bytes = 0;  // cost of the reply in progress built so far
  Error error = Error::none;
  std::string message;

  void fail(Error e, std::string m) {
    if (error == Error::none) {
      error = e;
      message = std::move(m);
    }
  }

  static State& of(const redisReadTask* task) { return *static_cast<State*>(task->privdata); }

  // Where a new value goes: a fresh root, or its slot in the parent array (sized when the
  // array was created, so slots never move).
  static Reply* slot(const redisReadTask* task) {
    if (task->parent == nullptr) {
      return new (std::nothrow) Reply();
    }
    auto* parent = static_cast<Reply*>(task->parent->obj);
    if (parent == nullptr || task->idx < 0 ||
        static_cast<std::size_t>(task->idx) >= parent->elements.size()) {
      return nullptr;
    }
    return &parent->elements[static_cast<std::size_t>(task->idx)];
  }

  bool pay(std::size_t cost) {
    if (cost > limits.max_reply_bytes || tree_bytes > limits.max_reply_bytes - cost) {
      fail(Error::too_large,
           "reply larger than " + std::to_string(limits.max_reply_bytes) + " bytes");
      return false;
    }
    tree_bytes += cost;
    return true;
  }

  // The slot of a new value that costs `cost` bytes of the reply's budget; nullptr when over
  // budget or when there is no slot for it.
  static Reply* paid_slot(const redisReadTask* task, std::size_t cost) {
    return of(task).pay(cost) ? slot(task) : nullptr;
  }

  static void* create_string(const redisReadTask* task, char* str, std::size_t len) {
    // Checked before the bytes are touched: the length is the server's claim.
    Reply* r = paid_slot(task, len > std::numeric_limits<std::size_t>::max() - kElementCost
                                   ? std::numeric_limits<std::size_t>::max()
                                   : len + kElementCost);
    if (r == nullptr) {
      return nullptr;
    }
    r->type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::error
              : task->type == REDIS_REPLY_STATUS ? Reply::Type::status
                                                 : Reply::Type::string;
    r->str.assign(str, len);
    return r;
  }

  static void* create_array(const redisReadTask* task, int elements) {
    State& s = of(task);
    int depth = 1;
    for (const redisReadTask* p = task->parent; p != nullptr; p = p->parent) {
      ++depth;
    }
    if (depth > s.limits.max_depth) {
      s.fail(Error::protocol,
             "reply nested deeper than " + std::to_string(s.limits.max_depth) + " arrays");
      return nullptr;
    }
    if (elements < 0) {
      s.fail(Error::protocol, "array with a negative length");
      return nullptr;
    }
    const auto n = static_cast<std::size_t>(elements);
    if (n > s.limits.max_array_elements) {
      s.fail(Error::too_large, "array of " + std::to_string(n) + " elements (at most " +
                                   std::to_string(s.limits.max_array_elements) + ")");
      return nullptr;
    }
    Reply* r = paid_slot(task, (n + 1) * kElementCost);
    if (r == nullptr) {
      return nullptr;
    }
    r->type = Reply::Type::array;
    r->elements.resize(n);
    return r;
  }

  static void* create_integer(const redisReadTask* task, long long value) {
    Reply* r = paid_slot(task, kElementCost);
    if (r != nullptr) {
      r->type = Reply::Type::integer;
      r->integer = value;
    }
    return r;
  }

  static void* create_nil(const redisReadTask* task) {
    Reply* r = paid_slot(task, kElementCost);
    if (r != nullptr) {
      r->type = Reply::Type::nil;
    }
    return r;
  }

  // hiredis frees only roots (a finished reply it hands back, or a partial one on error);
  // children live inside their parent.
  static void free_object(void* obj) { delete static_cast<Reply*>(obj); }

  static redisReplyObjectFunctions* functions() {
    static redisReplyObjectFunctions fns = {&create_string, &create_array, &create_integer,
                                            &create_nil, &free_object};
    return &fns;
  }
};

ReplyParser::ReplyParser() : ReplyParser(Limits{}) {}

ReplyParser::ReplyParser(Limits limits) : state_(std::make_unique<State>()) {
  state_->limits = limits;
  state_->reader = redisReaderCreateWithFunctions(State::functions());
  if (state_->reader == nullptr) {
    throw std::bad_alloc();
  }
  state_->reader->privdata = state_.get();
}

ReplyParser::~ReplyParser() {
  redisReaderFree(state_->reader);
}

void ReplyParser::feed(std::string_view bytes) {
  if (state_->error != Error::none || bytes.empty()) {
    return;
  }
  if (redisReaderFeed(state_->reader, bytes.data(), bytes.size()) != REDIS_OK) {
    state_->fail(Error::protocol, std::string("reply parser: ") + state_->reader->errstr);
  }
}

ReplyParser::Status ReplyParser::next(Reply& out) {
  State& s = *state_;
  if (s.error != Error::none) {
    return Status::failed;
  }
  void* obj = nullptr;
  if (redisReaderGetReply(s.reader, &obj) != REDIS_OK) {
    // Our own reason when one of our functions refused (hiredis then reports "Out of memory").
    s.fail(Error::protocol, std::string("malformed reply: ") + s.reader->errstr);
    return Status::failed;
  }
  if (obj == nullptr) {
    const std::size_t buffered = s.reader->len - s.reader->pos;
    // A reply in progress may not grow past the limit while its tail is still on the wire.
    if (buffered > s.limits.max_reply_bytes || s.tree_bytes > s.limits.max_reply_bytes - buffered) {
      s.fail(Error::too_large,
             "reply larger than " + std::to_string(s.limits.max_reply_bytes) + " bytes");
      return Status::failed;
    }
    return Status::need_more;
  }
  std::unique_ptr<Reply> reply(static_cast<Reply*>(obj));
  s.tree_bytes = 0;
  out = std::move(*reply);
  return Status::reply;
}

Error ReplyParser::error() const {
  return state_->error;
}
const std::string& ReplyParser::message() const {
  return state_->message;
}

}  // namespace sb::gateway::redis
