// `steepest info`: what this build can run on.
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/ranks.hpp"

namespace steepest::cli {
namespace {

int run_info() {
  if (Ranks::rank() != 0) return kOk;  // one report for the job
  const BuildInfo b = build_info();
  std::printf("steepest %s\n", b.version.c_str());
  std::printf("cuda backend   %s%s\n", b.cuda_compiled ? "compiled" : "not compiled",
              b.cuda_compiled ? (" (architectures " + b.cuda_architectures + ")").c_str() : "");
  std::printf("openmp         %s, %d threads\n", b.openmp ? "yes" : "no", b.cpu_threads);
  std::printf("cpu kernels    %s\n", b.cpu_kernels.c_str());
  if (b.cpu_prefetch_bytes > 0) {
    std::printf("cpu prefetch   rows in order, %lld bytes ahead\n", static_cast<long long>(b.cpu_prefetch_bytes));
  } else {
    std::printf("cpu prefetch   off (the hardware prefetcher alone)\n");
  }
  std::printf("mpi            %s\n", Ranks::describe().c_str());
  const auto devices = cuda_devices();
  if (devices.empty()) {
    std::printf("cuda devices   none (%s)\n", cuda_unavailable_reason().c_str());
  } else {
    for (const auto& d : devices)
      std::printf("cuda device %d  %s, %.1f GiB (%.1f GiB free), %d SMs, compute capability %d.%d\n",
                  d.index, d.name.c_str(), static_cast<double>(d.total_memory) / (1 << 30),
                  static_cast<double>(d.free_memory) / (1 << 30), d.multiprocessors, d.compute_major,
                  d.compute_minor);
  }
  std::printf("device auto    %s\n", devices.empty() ? "cpu" : "cuda");
  return kOk;
}

}  // namespace

void add_info_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("info", "Build features and CUDA devices");
  cmd->callback([&action] { action = run_info; });
}

}  // namespace steepest::cli
