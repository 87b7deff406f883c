#include "common/train/compute_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

namespace bt {

void UseOneComputeThread() {
  // ATen reads the process-wide thread count into a thread's OpenMP setting the first time that thread asks for it;
  // ask now, so that the setting below is not overwritten by it later.
  (void)at::get_num_threads();
  // omp_set_num_threads is per thread (at::set_num_threads would also change the process-wide count and the shared
  // pthreadpool). libgomp is loaded with LibTorch when LibTorch uses it, so look it up rather than link it.
  using SetNumThreads = void (*)(int);
  static const auto set = reinterpret_cast<SetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set != nullptr) set(1);
}

}  // namespace bt
