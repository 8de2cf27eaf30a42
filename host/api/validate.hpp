// Internal: argument checks shared by fit() and evaluate(); each throws InvalidArgument
// with a message that names the offending argument.
#pragma once

#include "backend/team.hpp"
#include "steepest/data.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

/// A matrix view named \p name: data, rows >= 1, cols >= 1, known dtype and layout, a
/// stride that covers a row (column) and whose extent fits a 64-bit index.
void validate_matrix(const MatrixView& X, const char* name);
/// A vector view named \p name of \p size entries (the rows of \p of): data, known dtype,
/// stride >= 1, extent within a 64-bit index.
void validate_vector(const VectorView& v, std::int64_t size, const char* name, const char* of);
/// X and y of a fit or evaluate.
void validate_data(const MatrixView& X, const VectorView& y);
/// Thread counts (FitOptions::threads, EvaluateOptions::threads): 0 (the default) up to
/// max_threads(); \p what names the call.  OpenMP aborts the process when it cannot start
/// the threads asked for (100000 did), so absurd counts are refused up front.
void validate_threads(std::int32_t threads, const char* what);
/// 4 x std::thread::hardware_concurrency(), at least kThreadFloor (so that tests of thread
/// counts run on small machines) and at most kThreadCap.
constexpr std::int32_t kThreadFloor = 64;
constexpr std::int32_t kThreadCap = 1024;
std::int32_t max_threads();
void validate_options(const FitOptions& options, std::int64_t cols);
/// Sample weights (none when w.data is null): \p rows entries, finite, >= 0, not all zero
/// (that last only when \p check_total; messages number rows from \p first + 1).
void validate_sample_weight(const VectorView& w, std::int64_t rows, std::int64_t first = 0, bool check_total = true);

/// The arguments of fit() (\p options given) or evaluate() on \p team.  Alone, the checks
/// above in turn.  Across processes, each process's own first (its rows may be none),
/// agreed so that every process throws the same InvalidArgument; then what must hold
/// across them: the same feature count, weighted everywhere or nowhere, at least one row,
/// weights not all zero, and the same options.
void validate_on_team(const MatrixView& X, const VectorView& y, const VectorView& w, const FitOptions* options,
                      const Team& team);

}  // namespace steepest::detail
