#include "common/model/memory_meter.h"

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstring>

namespace bt {
namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};

// Each allocation carries a 64-byte header holding its size; the data after it keeps the 64-byte alignment the
// default allocator gives.
constexpr size_t kHeader = 64;

class CountingAllocator final : public c10::Allocator {
 public:
  explicit CountingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) const override {
    void* base = inner_->raw_allocate(n + kHeader);
    std::memcpy(base, &n, sizeof(n));
    void* data = static_cast<char*>(base) + kHeader;
    const int64_t now = g_current.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
    return {data, data, &Delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &Delete; }

 private:
  static void Delete(void* data) {
    if (data == nullptr) return;
    void* base = static_cast<char*>(data) - kHeader;
    size_t n = 0;
    std::memcpy(&n, base, sizeof(n));
    g_current.fetch_sub(static_cast<int64_t>(n));
    instance_inner_->raw_deallocate(base);
  }

 public:
  static c10::Allocator* instance_inner_;

 private:
  c10::Allocator* inner_;
};

c10::Allocator* CountingAllocator::instance_inner_ = nullptr;

}  // namespace

MemoryMeter& MemoryMeter::Install() {
  static MemoryMeter* meter = [] {
    c10::Allocator* inner = c10::GetCPUAllocator();
    CountingAllocator::instance_inner_ = inner;
    static CountingAllocator allocator(inner);  // static lifetime, as LibTorch requires
    c10::SetCPUAllocator(&allocator, /*priority=*/10);
    return new MemoryMeter();
  }();
  return *meter;
}

int64_t MemoryMeter::current_bytes() const { return g_current.load(); }
int64_t MemoryMeter::peak_bytes() const { return g_peak.load(); }
void MemoryMeter::ResetPeak() { g_peak.store(g_current.load()); }

}  // namespace bt
