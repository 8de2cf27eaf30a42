// Internal: argument checks shared by fit() and evaluate(); each throws InvalidArgument
// with a message that names the offending argument.
#pragma once

#include "steepest/data.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

void validate_data(const MatrixView& X, const VectorView& y);
void validate_options(const FitOptions& options, std::int64_t cols);
/// Sample weights (none when w.data is null): \p rows entries, finite, >= 0, not all zero.
void validate_sample_weight(const VectorView& w, std::int64_t rows);

}  // namespace steepest::detail
