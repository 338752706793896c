#include "lib/process/signals.h"

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace maya {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_stop_signal(bool (*tick)(void*), void* arg) {
  sigset_t set = stop_signals();
  for (;;) {
    timespec timeout{1, 0};  // bounded, so a lost signal never hangs us without re-checking
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) return sig;
    if (tick != nullptr && !tick(arg)) return 0;
  }
}

}  // namespace maya
