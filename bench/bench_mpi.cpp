// bench_mpi: a fit across MPI ranks, timed (see bench/README.md, "MPI scaling").
//
//   mpirun -np P build/bench/bench_mpi [--rows N] [--features D] [--weak] [--epochs E]
//                                      [--batch B] [--threads T]
//
// Each rank makes its own rows (whole shards of the data plan, as the CLI splits a file)
// with a counter-based generator, so no rank holds or reads another's.  Strong scaling: N
// rows in all; --weak: N rows per rank.  Rank 0 prints one JSON line: the time per
// full-batch epoch, per mini-batch epoch and per batch, and the latency of the reduction
// every pass ends with (the gather of the partial sums in rank order, alone, timed over
// many calls) for a batch's partials (one group per rank) and a full pass's; and the time to
// make a rank's part of an epoch's order, shared between the ranks and replayed alone.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backend/chunk_plan.hpp"
#include "backend/team.hpp"
#include "train/local_order.hpp"
#include "train/permutation.hpp"
#include "steepest/mpi.hpp"
#include "steepest/steepest.hpp"

namespace {

/// A uniform number in [-1, 1) from a 64-bit counter (SplitMix64's finaliser).
float uniform(std::uint64_t i) {
  std::uint64_t z = i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0);
}

double seconds_of(const std::function<void()>& f, int repeats) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < repeats; ++k) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::int64_t rows = 2000000, d = 16, epochs = 5, batch = 1024, threads = 1;
  bool weak = false;
  for (int a = 1; a < argc; ++a) {
    const std::string k = argv[a];
    auto next = [&] { return a + 1 < argc ? std::atoll(argv[++a]) : 0LL; };
    if (k == "--rows") rows = next();
    else if (k == "--features") d = next();
    else if (k == "--epochs") epochs = next();
    else if (k == "--batch") batch = next();
    else if (k == "--threads") threads = next();
    else if (k == "--weak") weak = true;
  }
  {
    const auto comm = steepest::mpi_communicator(MPI_COMM_WORLD);
    const std::int64_t n = weak ? rows * size : rows;
    const auto [lo, hi] = steepest::detail::rank_rows(n, d, size, rank);
    std::vector<float> X(static_cast<std::size_t>((hi - lo) * d)), y(static_cast<std::size_t>(hi - lo));
    for (std::int64_t i = lo; i < hi; ++i) {
      double t = 0.5;
      for (std::int64_t k = 0; k < d; ++k) {
        const float v = uniform(static_cast<std::uint64_t>(i * d + k));
        X[static_cast<std::size_t>((i - lo) * d + k)] = v;
        t += v * (1.0 + 0.1 * static_cast<double>(k));
      }
      y[static_cast<std::size_t>(i - lo)] = static_cast<float>(t + 0.1 * uniform(~static_cast<std::uint64_t>(i)));
    }
    const auto Xv = steepest::make_matrix_view(X.data(), hi - lo, d);
    const auto yv = steepest::make_vector_view(y.data(), hi - lo);

    steepest::FitOptions o;
    o.device = steepest::Device::cpu;
    o.threads = static_cast<std::int32_t>(threads);
    o.learning_rate = 0.05;
    o.epochs = epochs;
    o.communicator = comm;
    const steepest::FitResult full = steepest::fit(Xv, yv, o);
    o.batch_size = batch;
    o.epochs = 1;
    o.history = steepest::HistoryMode::running_average;
    const steepest::FitResult mini = steepest::fit(Xv, yv, o);
    const double full_epoch = (full.wall_seconds - full.setup_seconds) / static_cast<double>(epochs);
    const double mini_epoch = mini.wall_seconds - mini.setup_seconds;
    const std::int64_t batches = (n + batch - 1) / batch;

    // The reduction alone: the gather every pass ends with, for one group per rank (a
    // batch of rows from few shards per rank) and for a full pass's chunks.
    steepest::detail::Team team(comm);
    const std::size_t width = static_cast<std::size_t>(d) + 3;
    const std::int64_t chunks = steepest::detail::plan_chunks(n, d).chunks;
    const std::int64_t my_chunks = (chunks * (rank + 1)) / size - (chunks * rank) / size;
    std::vector<double> part(static_cast<std::size_t>(std::max<std::int64_t>(1, my_chunks)) * width, 1.0), total(width);
    auto reduce = [&](std::int64_t groups) {
      std::fill(total.begin(), total.end(), 0.0);
      team.reduction().combine(part.data(), groups, width, total.data());
    };
    reduce(1);  // warm up
    MPI_Barrier(MPI_COMM_WORLD);
    const double batch_reduce = seconds_of([&] { reduce(1); }, 2000);
    MPI_Barrier(MPI_COMM_WORLD);
    const double pass_reduce = seconds_of([&] { reduce(my_chunks); }, 500);

    // An epoch's order (train/shuffle_across.cpp): this rank's part of the shuffle of all n
    // rows made with the work shared between the ranks, against the same part replayed
    // from the whole shuffle on every rank (O(n) a rank); the slowest rank's time.
    const auto m = static_cast<std::size_t>(hi - lo);
    std::vector<std::int64_t> pos(m), at(m);
    steepest::detail::ShuffleScratch scratch;
    std::int64_t epoch = 0;
    auto slowest = [&](const std::function<void()>& f) {
      f();  // warm up (first touch of the buffers)
      MPI_Barrier(MPI_COMM_WORLD);
      double t = seconds_of(f, 3);
      MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      return t;
    };
    const auto t32 = static_cast<std::int32_t>(threads);
    const double order_shared = slowest(
        [&] { steepest::detail::shared_shuffle_part(team, 7, epoch++, n, lo, hi, pos.data(), at.data(), t32, scratch); });
    const double order_replayed =
        slowest([&] { steepest::detail::shuffle_part(7, epoch++, n, lo, hi, pos.data(), at.data(), t32); });
    if (rank == 0)
      std::printf("{\"ranks\": %d, \"scaling\": \"%s\", \"rows\": %lld, \"features\": %lld, \"threads_per_rank\": %lld, "
                  "\"full_epoch_s\": %.6g, \"batch\": %lld, \"minibatch_epoch_s\": %.6g, \"per_batch_us\": %.4g, "
                  "\"reduce_batch_us\": %.4g, \"reduce_pass_us\": %.4g, \"pass_groups\": %lld, \"final_mse\": %.10g, "
                  "\"order_shared_s\": %.4g, \"order_replayed_s\": %.4g, \"library\": \"%s\"}\n",
                  size, weak ? "weak" : "strong", static_cast<long long>(n), static_cast<long long>(d),
                  static_cast<long long>(threads), full_epoch, static_cast<long long>(batch), mini_epoch,
                  1e6 * mini_epoch / static_cast<double>(batches), 1e6 * batch_reduce, 1e6 * pass_reduce,
                  static_cast<long long>(chunks), full.final_mse, order_shared, order_replayed, comm->library().c_str());
  }
  MPI_Finalize();
  return 0;
}
