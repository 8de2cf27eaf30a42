// checkpoint.json: what `fit --checkpoint` writes and `fit --resume` reads.
#pragma once

#include <string>

#include "steepest/steepest.hpp"

namespace steepest::cli {

/// The checkpoint file text (JSON) of \p s; \p data names the input for people reading it.
/// Every double is written so that reading it back gives the same bits (shortest
/// round-trip decimal; non-finite values as the strings "inf", "-inf", "nan").
std::string checkpoint_json(const TrainingState& s, const std::string& data);

/// Read and check a checkpoint file; InvalidArgument names the file and the bad key.
TrainingState read_checkpoint(const std::string& path);

}  // namespace steepest::cli
