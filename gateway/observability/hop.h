#pragma once
// Running a coroutine on another thread's executor and resuming the caller on its own: how the
// data plane reaches the state that lives on a background thread (the response store, the shared
// state store) and how an admin request reaches the control thread.

#include <exception>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sb::gateway {

/// Runs `work` on `there` and resumes the awaiting coroutine on its own executor with the result
/// (or the exception `work` threw).
///
/// co_spawn(there, work, use_awaitable) does the same, but its frame on `there` keeps a
/// work-tracking copy of the caller's executor until after the caller has been resumed, and drops
/// it there: by then the caller may have finished and its io_context be gone (a worker shutting
/// down), and dropping the copy touches freed memory. Here `there` keeps only an untracked copy,
/// and the resumption is an ordinary operation posted to the caller's context (the caller's own
/// coroutine keeps that context's work counted while it waits).
template <class T, class Executor>
boost::asio::awaitable<T> hop_to(const Executor& there, boost::asio::awaitable<T> work) {
  namespace asio = boost::asio;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, T)>(
      [there](auto handler, asio::awaitable<T> w) {  // a copy: the call's argument may be gone
        asio::any_io_executor caller = asio::prefer(asio::get_associated_executor(handler),
                                                    asio::execution::outstanding_work.untracked);
        asio::co_spawn(there, std::move(w),
                       [handler = std::move(handler), caller = std::move(caller)](
                           std::exception_ptr e, T t) mutable {
                         asio::post(caller, [handler = std::move(handler), e = std::move(e),
                                             t = std::move(t)]() mutable {
                           std::move(handler)(std::move(e), std::move(t));
                         });
                       });
      },
      asio::use_awaitable, std::move(work));
}

}  // namespace sb::gateway
