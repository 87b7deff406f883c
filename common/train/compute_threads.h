// Which threads of a process run tensor work in parallel. LibTorch's intra-op parallelism is OpenMP here (libgomp,
// and OpenBLAS built on it), and OpenMP keeps a team of worker threads for every thread that runs a parallel
// region. Once a process holds more OpenMP threads than the machine has cores, libgomp stops its workers spinning
// between regions: they sleep and are woken for every one, and a training step of many small operations pays that
// each time. That made the edge daemon train the same plan 1.33-1.45× slower than bt-bench in-process: its sample
// intake (the simulated camera) and its cloud link run tensor work on threads of their own beside the window's
// (`bt-bench-decoder-train --batch 8 --helper-thread parallel|serial` measures it). Torch-free header.
#pragma once

namespace bt {

// Tensor work on the calling thread runs on that thread alone from now on: no OpenMP team of its own. For the
// daemons' helper threads (intake, cloud link); the thread that trains keeps its intra-op threads. Safe to call more
// than once; a no-op when LibTorch is not built on OpenMP.
void UseOneComputeThread();

}  // namespace bt
