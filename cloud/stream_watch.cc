#include "cloud/stream_watch.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace bt {

void StreamWatch::Slot::Done() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  context_ = nullptr;
}

StreamWatch::StreamWatch(std::chrono::milliseconds idle, size_t max_streams)
    : idle_(idle), max_streams_(max_streams), watcher_([this] { Run(); }) {}

StreamWatch::~StreamWatch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  watcher_.join();
}

std::shared_ptr<StreamWatch::Slot> StreamWatch::Open(grpc::CallbackServerContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  // Finished calls leave on the way.
  slots_.erase(std::remove_if(slots_.begin(), slots_.end(),
                              [](const std::shared_ptr<Slot>& s) {
                                std::lock_guard<std::recursive_mutex> l(s->mu_);
                                return s->context_ == nullptr;
                              }),
               slots_.end());
  if (slots_.size() >= max_streams_) return nullptr;
  slots_.push_back(std::make_shared<Slot>(context));
  return slots_.back();
}

size_t StreamWatch::open_streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& s : slots_) {
    std::lock_guard<std::recursive_mutex> l(s->mu_);
    n += s->context_ != nullptr;
  }
  return n;
}

void StreamWatch::Run() {
  const auto period = std::max(std::chrono::milliseconds(10), std::min(idle_ / 4, std::chrono::milliseconds(1000)));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, period);
    if (stopping_) break;
    std::vector<std::shared_ptr<Slot>> slots = slots_;  // the slots stay alive while we look at them
    lock.unlock();
    const int64_t now = Slot::Now();
    const int64_t idle_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(idle_).count();
    for (const auto& s : slots) {
      std::lock_guard<std::recursive_mutex> l(s->mu_);
      if (s->context_ == nullptr || s->cancelled_ || now - s->last_ns_.load() < idle_ns) continue;
      s->cancelled_ = true;
      spdlog::warn("cancelling a stream from {}: no progress for {} ms", s->context_->peer(), idle_.count());
      s->context_->TryCancel();
    }
    lock.lock();
  }
}

}  // namespace bt
