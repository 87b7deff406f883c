#include "common/base/cancel.h"

#include <csignal>
#include <unistd.h>

namespace bt {
namespace {

CancelToken* g_signal_token = nullptr;  // Only touched by CancelOnSignals and the handler.
volatile std::sig_atomic_t g_signal_count = 0;

void HandleSignal(int) {
  if (++g_signal_count > 1) _exit(130);
  if (g_signal_token != nullptr) g_signal_token->Cancel();
}

}  // namespace

void CancelOnSignals(CancelToken* token) {
  g_signal_token = token;
  struct sigaction action = {};
  action.sa_handler = HandleSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace bt
