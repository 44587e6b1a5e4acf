#pragma once
// RESP2 for the Redis client (gateway/state/redis_client.h): the reply value, the command encoder
// and an incremental reply parser with hard limits. hiredis does the byte-level work (its command
// formatter and its reader, with our own object functions building `Reply`s); its headers stay
// in the .cc.
//
// Thread-safety: a ReplyParser is used by one thread at a time. Encoding is a pure function.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb::gateway::redis {

/// One RESP2 reply.
struct Reply {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  std::int64_t integer = 0;
  std::string str;              ///< string, status, error
  std::vector<Reply> elements;  ///< array
};

/// What went wrong with a command (see Result in redis_client.h).
enum class Error { none, connect, tls, auth, timeout, io, protocol, too_large, server };
std::string_view to_string(Error e);

/// Appends `args` as one RESP command (an array of bulk strings) to `out`. `args` must not be
/// empty. With `secret` (AUTH), the formatter's scratch copy is wiped before it is freed.
void append_command(std::string& out, std::span<const std::string> args, bool secret = false);

/// Incremental RESP2 parser. Feed bytes as they arrive, then take complete replies in order.
/// It fails closed, for good, on malformed input or when a reply breaks a limit; the connection
/// that fed it must then be closed (nothing after the failure can be matched to a command).
class ReplyParser {
 public:
  struct Limits {
    /// One reply's size: its string bytes plus kElementCost per element (arrays count their
    /// declared length up front, so a declared array is paid for before it is allocated).
    std::size_t max_reply_bytes = 1 << 20;
    std::size_t max_array_elements = 1024;  ///< per array
    int max_depth = 4;                      ///< an array inside 3 others is the deepest allowed
  };
  static constexpr std::size_t kElementCost = 16;

  enum class Status { reply, need_more, failed };

  ReplyParser();
  explicit ReplyParser(Limits limits);
  ~ReplyParser();
  ReplyParser(const ReplyParser&) = delete;
  ReplyParser& operator=(const ReplyParser&) = delete;

  /// Appends bytes; ignored once failed.
  void feed(std::string_view bytes);
  /// The next complete reply into `out` (Status::reply), or need_more, or failed (then `error()`
  /// is protocol or too_large and `message()` says why). Also fails when the bytes buffered for
  /// the reply in progress already exceed the size limit, so memory stays bounded however the
  /// server streams.
  Status next(Reply& out);

  Error error() const;
  const std::string& message() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sb::gateway::redis
