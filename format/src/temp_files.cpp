#include "temp_files.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace ingot::format::detail {

namespace {

constexpr int kSlots = 64;
constexpr size_t kMaxPath = 4096;

struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 live
  char path[kMaxPath];
};

Slot g_slots[kSlots];
std::atomic<bool> g_interrupted{false};
struct sigaction g_previous[2];
constexpr int kSignals[2] = {SIGINT, SIGTERM};

void on_signal(int sig) {
  for (Slot& s : g_slots) {
    if (s.state.load(std::memory_order_acquire) == 2) unlink(s.path);
  }
  g_interrupted.store(true);
  for (int i = 0; i < 2; ++i) {
    if (kSignals[i] != sig) continue;
    const struct sigaction& prev = g_previous[i];
    if (prev.sa_flags & SA_SIGINFO) {
      // A previous three-argument handler cannot be called faithfully without its siginfo; fall
      // back to the default action, which for SIGINT/SIGTERM is what such handlers end in anyway.
      break;
    }
    if (prev.sa_handler == SIG_IGN) return;
    if (prev.sa_handler != SIG_DFL) {
      prev.sa_handler(sig);
      return;
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int i = 0; i < 2; ++i) {
      // A signal the process ignores stays ignored: it interrupts nothing.
      sigaction(kSignals[i], nullptr, &g_previous[i]);
      if (!(g_previous[i].sa_flags & SA_SIGINFO) && g_previous[i].sa_handler == SIG_IGN) continue;
      struct sigaction sa {};
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      sigaction(kSignals[i], &sa, &g_previous[i]);
    }
  });
}

}  // namespace

int register_temp_file(const char* path) {
  install_handlers();
  if (std::strlen(path) >= kMaxPath) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::strcpy(g_slots[i].path, path);
      g_slots[i].state.store(2, std::memory_order_release);
      return i;
    }
  }
  return -1;
}

void unregister_temp_file(int slot) {
  if (slot >= 0 && slot < kSlots) g_slots[slot].state.store(0, std::memory_order_release);
}

bool interrupted() { return g_interrupted.load(); }

}  // namespace ingot::format::detail
