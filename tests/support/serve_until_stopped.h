#pragma once
// The main loop the fake servers' executables share: block the stop signals before the server's
// threads start (they inherit the mask), build the server, print "listening <base_url>" for the
// scripts that wait for it, then wait for SIGINT or SIGTERM on this thread.

#include <pthread.h>

#include <csignal>
#include <exception>
#include <iostream>

namespace sb::testing {

/// `make()` returns a (smart) pointer to a started server with base_url(). Returns main's exit
/// code: 0 once stopped by a signal, 1 when the server could not start.
template <class Make>
int serve_until_stopped(Make make) {
  // Dispositions reset first: a shell starts background jobs with SIGINT ignored, and an ignored
  // signal is discarded even while blocked.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    auto server = make();
    std::cout << "listening " << server->base_url() << std::endl;
    int received = 0;
    while (sigwait(&stop_signals, &received) != 0) {
    }
  } catch (const std::exception& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace sb::testing
