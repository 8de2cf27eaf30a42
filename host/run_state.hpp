// Internal: what ties a TrainingState to its run (the options that shape the path and a
// fingerprint of the data), the check a resume makes, and the held-out split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "steepest/data.hpp"
#include "steepest/options.hpp"
#include "steepest/state.hpp"

namespace steepest::detail {

/// The options that change the sequence of parameters, as "name=value;" pairs (doubles
/// with 17 significant digits).  Not in it: epochs (a resume may extend a run), device and
/// threads (TrainingState::backend records the backend), the cross-check and callbacks.
std::string options_signature(const FitOptions& o);

/// FNV-1a over rows, cols and the float64 values of X, y (and the sample weights when
/// given) at up to 1024 evenly spaced rows, first and last included: catches another file,
/// another column choice or another dtype without a pass over the data.
std::uint64_t data_fingerprint(const MatrixView& X, const VectorView& y, const VectorView& weights);

/// Throws InvalidArgument when \p s cannot continue this run: another shape, data or
/// options (naming each option that differs), inconsistent sizes, or more epochs done than
/// \p o.epochs allows.
void check_resume(const TrainingState& s, const FitOptions& o, std::int64_t rows, std::int64_t cols,
                  std::uint64_t fingerprint);

/// Rows held out for FitOptions::validation_fraction: round(fraction n), at least 1 when the
/// fraction is > 0, and at most n - 1.
std::int64_t heldout_count(std::int64_t n, double fraction);

/// The split: out[0..n - held) are the training rows, out[n - held..n) the held-out ones,
/// each ascending (memory order for the gathers); drawn by a seeded permutation of its own.
void heldout_split(std::uint64_t seed, std::int64_t n, std::int64_t held, std::int64_t* out);

}  // namespace steepest::detail
