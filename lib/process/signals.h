// SIGINT/SIGTERM taken synchronously by one thread (sigtimedwait), for processes that serve
// until told to stop: block them before any thread starts, then wait.
#pragma once

namespace maya {

// Blocks SIGINT and SIGTERM in the calling thread (threads started later inherit the mask).
void block_stop_signals();
// Waits for SIGINT or SIGTERM (blocked beforehand) and returns it. Wakes every second to call
// `tick` if given; a tick returning false ends the wait with 0.
int wait_for_stop_signal(bool (*tick)(void*) = nullptr, void* arg = nullptr);

}  // namespace maya
