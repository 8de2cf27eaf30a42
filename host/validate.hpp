// Internal: argument checks shared by fit() and evaluate(); each throws InvalidArgument
// with a message that names the offending argument.
#pragma once

#include "steepest/data.hpp"
#include "steepest/options.hpp"

namespace steepest::detail {

void validate_data(const MatrixView& X, const VectorView& y);
void validate_options(const FitOptions& options, std::int64_t cols);

}  // namespace steepest::detail
