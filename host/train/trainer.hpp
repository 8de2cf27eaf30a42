// Internal: the trainer — the only code that knows what an epoch is.  It owns the algorithm
// (row split and order, passes and steps, history, stopping rules, checkpoints); a backend
// only runs the named steps of backend/backend.hpp, a GradientSource gives the full-batch
// losses, and the backend's Reduction combines the partial sums of each pass.
//
//   r = X w + b - y,  MSE = (1/m) sum r^2,  grad_w = (2/m) X^T r,  grad_b = (2/m) sum r
//   step:  w <- w - lr * grad_w,  b <- b - lr * grad_b      (m = rows of the batch)
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/index_vector.hpp"
#include "backend/team.hpp"
#include "steepest/data.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"
#include "steepest/state.hpp"
#include "train/gradient_source.hpp"
#include "train/gram_backend.hpp"
#include "train/local_order.hpp"
#include "train/spectrum.hpp"
#include "train/step_rule.hpp"
#include "train/validator.hpp"

namespace steepest::detail {

struct ColumnScaling;

/// One fit on the data as given (FitOptions::standardize is handled around it, in
/// train/standardize.cpp).  The arguments are validated by fit(); run() once.  Across
/// processes (\p team), X holds this process's rows and everything else (row orders,
/// positions, n) counts the rows of the whole fit; every process runs the same steps.
class Trainer {
 public:
  /// \p gram_scaling (a Gram fit under FitOptions::standardize, train/standardize.hpp): the
  /// trainer fills it from the Gram sums of X (weighted: from one unweighted pass of the
  /// column moments, train/standardize.hpp), runs the epochs on the standardised moments
  /// (parameters, warm start, checkpoints and reports in standardised units) and makes its
  /// exact passes on X at the parameters mapped back; throws GramScalingUnusable when the
  /// sums cannot give the scaling.  Null: the fit of X as given.
  Trainer(const MatrixView& X, const VectorView& y, const VectorView& sample_weight, const FitOptions& options,
          Team& team, ColumnScaling* gram_scaling = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  FitResult run();

 private:
  // Set-up: everything before the first epoch.
  void set_up();
  void split_rows();
  void split_local_rows();
  OrderShape order_shape() const;
  void start_fresh();
  double auto_learning_rate();
  void take_spectrum();
  void tune_from_spectrum();
  void report_start();
  void restore(const TrainingState& s);
  void first_passes();
  bool use_gram() const;
  bool whole_run_batches() const;
  bool keeps_run_sums() const;
  bool takes_affine_epochs(const StepRule& rule) const;
  void form_gram();
  std::vector<double> gram_shift() const;
  void standardize_gram(const std::vector<double>& all, const std::vector<double>& shift, GramMoments& train,
                        GramMoments& held, GramMoments& whole);
  void set_data_parameters(const std::vector<double>& w, double b);
  // One epoch, in the order run() calls them.
  void set_epoch_rate(std::int64_t epoch);
  bool train_epoch(std::int64_t epoch);
  void full_batch_epoch(std::int64_t epoch);
  bool mini_batch_epoch(std::int64_t epoch);
  bool affine_epoch();
  bool record_epoch(std::int64_t epoch);
  void report_divergence(std::int64_t epoch, bool exploding);
  bool stopping_rule_met(std::int64_t epoch);
  bool stalled_out();
  bool checkpoint_due(std::int64_t epoch) const;
  FitResult finish();
  // Pieces.
  void set_epoch_order(std::int64_t epoch);
  void restore_split_order();
  void step();
  void report_step(std::int64_t epoch, std::int64_t step_in_epoch, double batch_loss);
  void checkpoint(std::int64_t epochs_done, std::int64_t batch);
  void cross_check();
  double penalty(const std::vector<double>& w) const;
  bool stop_requested();

  // The run: data, options and the shape of the split (fixed at construction).
  const MatrixView& X_;
  const VectorView& y_;
  const VectorView& sample_weight_;
  // The options as given (a checkpoint's signature, a resume's check) and as run: opt_
  // has the optimizer, rate and momentum that the spectrum chose (FitOptions::auto_momentum).
  const FitOptions& given_;
  FitOptions opt_;
  Team& team_;
  RowShare share_;  // this process's rows among the fit's
  const TrainingState* resume_;
  std::chrono::steady_clock::time_point start_;
  std::int64_t n_, held_, n_train_;  // rows [0, n_train) of the row order train, the rest are held out
  bool full_batch_, shuffle_, ordered_;
  bool local_;  // across processes with a row order: only this process's rows of it (local_order.hpp)
  std::size_t d_;

  // What runs the passes: backend_ runs the epochs; in Gram mode it is the GramBackend and
  // data_ the backend holding the data (for the Gram pass and the final exact pass).
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Backend> data_;
  bool gram_ = false;
  bool affine_epochs_ = false;  // mini-batch Gram mode: each epoch one affine map
  ColumnScaling* gram_scaling_;  // standardised from the Gram sums (data_ holds X itself)
  Spectrum spectrum_;             // estimated when something needs it (kappa = 0: not)
  std::string refusal_;           // why no epoch runs (ill-conditioned for the spectrum's parameters)
  std::int64_t stop_polls_ = 0;
  std::unique_ptr<GradientSource> source_;
  std::unique_ptr<Validator> validator_;
  std::uint64_t fingerprint_ = 0;
  IndexVector order_, split_;                          // split_: shuffled with rows held out
  std::vector<std::int64_t> sort_scratch_, sort_counts_;
  IndexVector shuffle_scratch_;  // epoch_shuffle's, kept across epochs
  IndexVector block_scratch_;    // epoch_block_shuffle's runs (FitOptions::shuffle_block)
  bool runs_ = false;            // the epoch's order handed over as its runs (split_rows)
  bool epoch_order_set_ = false;  // the backend holds an epoch's order, not the split's
  LocalRows local_rows_;  // local_: this process's rows of the split, and the orders below
  LocalOrder local_order_, local_split_;
  StepRule rule_;

  // The state that moves: rates, stopping rules, the latest losses, the result so far.
  double lr0_ = 0.0, rate_ = 0.0, best_ = 0.0;
  std::int64_t stalled_ = 0, steps_ = 0, first_epoch_ = 1, first_batch_ = 0;
  double loss_ = 0.0, heldout_ = 0.0, data_loss_ = 0.0;  // objective, held-out MSE, MSE of the last pass
  std::vector<double> w_, step_w_;
  double b_ = 0.0;
  bool mid_epoch_stop_ = false;
  FitResult res_;
};

/// Whether a fit of \p n rows (all processes') and \p d features runs the Gram solver: solver
/// gram on a full batch of at most kGramMaxFeatures features (otherwise the trainer refuses
/// it), or automatic choosing it (and the sums turning out finite).
bool runs_gram(const FitOptions& o, std::int64_t n, std::int64_t d);

/// Trainer(X, y, sample_weight, options, team).run().
FitResult fit_unscaled(const MatrixView& X, const VectorView& y, const VectorView& sample_weight,
                       const FitOptions& options, Team& team);

}  // namespace steepest::detail
