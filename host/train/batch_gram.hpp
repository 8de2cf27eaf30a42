// Internal: mini-batch Gram mode (FitOptions::solver gram with batches).  A mini-batch step
// needs the data only through its batch's Gram sums (backend/gram.hpp): from them the
// batch's loss and gradient at any parameters cost O(d^2) (gram_loss_gradient).  So the
// batches of an epoch are summed first, many at once and in parallel (the data backend's
// batch_gram_sums: no step waits on a pass), and the steps then walk the batches in order,
// each in O(d^2), with every optimizer and penalty the residual path has (the step rule is
// the same code, HostStateBackend::step).
//
// The same iterates as the residual path up to rounding (tests/test_batch_gram.cpp: 1e-12
// relative on well-conditioned problems).  The batch losses (the running-average history)
// come from the sums and share the full-batch Gram mode's cancellation when the MSE is tiny
// against the variance of y; final_mse is one exact residual pass, as there.
//
// When the row order does not change between epochs (no shuffling), the sums of every batch
// are kept (up to kBatchSumsBytes), so the data is read once for the whole fit and every
// later epoch costs O(batches d^2).  A shuffled epoch sums its batches in windows that fill
// kBatchSumsBytes.
//
// Batches of whole --shuffle-block runs (every row trained on, one process) change between
// epochs only in which runs they take: the sums of every run are kept instead (formed once,
// each run's rows in row order, when they fit the same budget), and a batch's sums are its
// runs' added in position order, then the rows after the last whole run.  So a shuffled fit
// also reads the data once, and an epoch costs O(runs width + batches d^2); its bits differ
// from summing each batch's rows directly (a different rounding, not a different order of
// batches), and are the same for any thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.hpp"
#include "train/gram_backend.hpp"

namespace steepest::detail {

/// The memory the batch sums of one window may take: 64 MiB (every batch of 1e7 rows of 16
/// features at batch size 1024 is 13 MiB), or an eighth of X's bytes when that is more (the
/// trainer's choice: 1e7 x 64 float32 keeps its 173 MB of sums beside 2.6 GB of data).
inline constexpr std::int64_t kBatchSumsBytes = std::int64_t{64} << 20;

/// The batch sums' budget of a fit over \p x_bytes of X: kBatchSumsBytes, or an eighth of X.
constexpr std::int64_t batch_sums_budget(std::int64_t x_bytes) noexcept {
  return x_bytes / 8 > kBatchSumsBytes ? x_bytes / 8 : kBatchSumsBytes;
}

/// Whether the sums of every run of \p run rows among \p n_train (and of the rows after the
/// last whole run) fit \p budget bytes.
bool run_sums_fit(std::int64_t n_train, std::int64_t d, std::int64_t run, std::int64_t budget) noexcept;

/// The backend of a mini-batch Gram fit over \p data (which keeps the rows and the row
/// order; set_row_order() goes to it): compute() takes a batch, positions [k batch,
/// min(n_train, (k + 1) batch)), or the training, held-out or all rows (their moments,
/// formed once, as in full-batch Gram mode).  \p shift is the Gram sums' (d + 1 values);
/// \p window_bytes bounds the batch sums kept at once (at least one batch's).  \p run > 1
/// (batch a multiple of it; run_sums_fit): the backend takes orders in runs of \p run rows
/// (RowOrder::run), keeps the sums of every run (\p run_sums, run_gram_sums' rows; empty:
/// it calls run_gram_sums now) and forms each batch's from them; such an order is not
/// passed on to \p data, whose passes must then be in row order only.
std::unique_ptr<Backend> make_batch_gram_backend(Backend& data, std::int64_t n_train, std::int64_t batch,
                                                 std::vector<double> shift, GramMoments train, GramMoments heldout,
                                                 GramMoments all, std::int64_t window_bytes = kBatchSumsBytes,
                                                 std::int64_t run = 1, std::vector<double> run_sums = {});

/// The Gram sums (shifted by \p shift) of every run of \p run rows among [0, n_train) of
/// \p data, rows in row order (data.batch_gram_sums), then of the rows after the last whole
/// run (zeros when there are none): n_train / run + 1 rows of gram_width(d) values.
std::vector<double> run_gram_sums(Backend& data, std::int64_t n_train, std::int64_t run, const double* shift);

/// \p total = the sum of \p count rows of \p width values at \p parts, as a fixed tree:
/// halves (the first count / 2 rows, then the rest) summed alike and added, up to 8 rows in
/// order.  Rounding grows with log2(count), not count.
void pairwise_total(const double* parts, std::int64_t count, std::size_t width, double* total);

/// Runs a whole epoch of \p rule on \p backend (made by make_batch_gram_backend; its batches
/// taken \p ordered) as one affine map (train/affine_epoch.hpp), when it can: an affine rule
/// and every batch's sums kept at once.  The map is composed once and reused while the
/// batches and the rule stay the same.  Leaves the loss, gradient and running sums as they
/// were.  False, and nothing done, when it cannot.
bool run_affine_epoch(Backend& backend, const StepRule& rule, bool ordered);

}  // namespace steepest::detail
