// Internal: what ties a TrainingState to its run (the options that shape the path and a
// fingerprint of the data), the check a resume makes, and the held-out split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/index_vector.hpp"
#include "backend/team.hpp"
#include "steepest/data.hpp"
#include "steepest/options.hpp"
#include "steepest/state.hpp"

namespace steepest::detail {

/// The options that change the sequence of parameters, as "name=value;" pairs (doubles
/// with 17 significant digits).  Not in it: epochs (a resume may extend a run), device and
/// threads (TrainingState::backend records the backend), the cross-check and callbacks.
std::string options_signature(const FitOptions& o);

/// A 64-bit hash of every row: the shape, the storage types of X, y and the weights, and
/// each value read as float64 (value_at), in row order: X's row, y, the weight (when
/// given).  The identity is the values, not the layout: a column-major or padded view of
/// the same numbers hashes alike, while a float32 copy of float64 data (other values) or
/// other sample weights do not.  One parallel pass (the chunks of the data plan hashed by
/// 64-bit word mixing, combined in chunk order), the same value for any thread count, and
/// for any number of processes holding whole chunks (X: rows share.first.. of share.total).
std::uint64_t data_fingerprint(const MatrixView& X, const VectorView& y, const VectorView& weights,
                               const RowShare& share = {}, const Team& team = Team());

/// Throws InvalidArgument naming the field (by its checkpoint key) when \p s is not a state
/// any fit can have written, whatever the data: negative counts, vector lengths other than
/// cols or 2 (cols + 1), histories not epoch + 1 long, non-finite or negative values,
/// an unknown backend.
void validate_state(const TrainingState& s);

/// Throws InvalidArgument when \p s cannot continue this run: validate_state, then another
/// shape, data or options (naming each option that differs), a batch position past the
/// end of an epoch, steps that do not match epoch and batch, more epochs done than
/// \p o.epochs allows.
void check_resume(const TrainingState& s, const FitOptions& o, std::int64_t rows, std::int64_t cols,
                  std::uint64_t fingerprint);

/// FitOptions::validation_fraction with sample weights: InvalidArgument naming the fraction
/// and the side when the weights of the training rows or of the held-out rows sum to zero.
/// \p train and \p heldout list this process's rows of each side (rows of the fit: w follows
/// this process's rows, rows first.. of the fit; other rows are skipped); n and held count
/// the fit's.
void check_split_weights(const VectorView& w, const std::int64_t* train, std::int64_t train_count,
                         const std::int64_t* heldout, std::int64_t heldout_count, std::int64_t n, std::int64_t held,
                         double fraction, std::int64_t first = 0, const Team& team = Team());

/// Rows held out for FitOptions::validation_fraction: round(fraction n), at least 1 when the
/// fraction is > 0, and at most n - 1.
std::int64_t heldout_count(std::int64_t n, double fraction);

/// The split: out[0..n - held) are the training rows, out[n - held..n) the held-out ones,
/// each ascending (memory order for the gathers); drawn by a seeded permutation of its own.
void heldout_split(std::uint64_t seed, std::int64_t n, std::int64_t held, std::int64_t* out);

/// The same split of a process's rows [first, first + m) of the fit alone, without the split
/// of all n (train/local_order.hpp): its training rows and its held-out rows, each ascending.
/// Collective over \p team (its processes' rows ascending with the rank).
void local_heldout_split(const Team& team, std::uint64_t seed, std::int64_t n, std::int64_t held, std::int64_t first, std::int64_t m,
                         std::int32_t threads, IndexVector& train, IndexVector& heldout);

}  // namespace steepest::detail
