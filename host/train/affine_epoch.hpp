// Internal: a mini-batch epoch as one affine map (mini-batch Gram mode, train/batch_gram.hpp).
//
// For the rules that are affine in the parameters — gd, momentum and nesterov, with any L2
// penalty and sample weights, at a rate fixed within the epoch (not adam, not l1) — a step on
// batch b maps the state to A_b state + c_b, and A_b, c_b follow from the batch's moments
// alone.  An epoch is the ordered product of its batches' maps.  It is composed by a tree of
// fixed shape: blocks of kAffineBlock consecutive batches composed in order, then the block
// maps pairwise, level by level (threads only share out the blocks and pairs), so the result
// does not depend on the thread count; and it is the same as stepping batch by batch up to
// rounding (tests/test_gram.cpp: within 1e-12 of the parameters' size).  This is the host
// twin of the GPU's one-launch epoch; on the host it pays when the batches do not change
// between epochs: the map is composed once and every epoch is then one matrix-vector product.
//
// The state is u = (w_1..w_d, beta) with beta = b + s . w, s the Gram sums' shift of x (near
// the mean of x, so the maps do not carry the cancellation of an intercept that offsets large
// means), then, with momentum and nesterov, the velocity (v_w, v_b) of (w, b).  A step is
// apply_step_rule (train/step_rule.hpp), the residual path's own code, on the gradient of the
// moments: the rule is linear in (w, g, v), so its map's columns are the step of the unit
// states with the gradient's linear part, and c the step of the zero state with its constant.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "train/gram_backend.hpp"
#include "train/step_rule.hpp"

namespace steepest::detail {

/// Batches composed in order before the tree takes their product pairwise.
inline constexpr std::int64_t kAffineBlock = 64;

/// Whether \p rule's step is affine in the state (gd, momentum, nesterov; l1 == 0).
bool affine_rule(const StepRule& rule) noexcept;
/// The state's length: d + 1, and twice that with a velocity (momentum, nesterov).
std::int64_t affine_state_size(const StepRule& rule, std::int64_t d) noexcept;

/// state -> A state + c, A n x n row-major.
struct AffineMap {
  std::int64_t n = 0;
  std::vector<double> A, c;
  bool keeps_bias = false;  ///< no step moves b (StepRule::update_bias off): apply_map leaves it
};

/// The map of one step of \p rule on the batch with moments \p g (d features), in the
/// coordinates above with shift \p shift (d + 1 values; the last, y's, is not used).
void step_map(const GramMoments& g, const double* shift, const StepRule& rule, AffineMap& out);
/// out = later o earlier (earlier first): A = A_later A_earlier, c = A_later c_earlier + c_later.
void compose(const AffineMap& later, const AffineMap& earlier, AffineMap& out);
/// The product of the maps of batches 0..batches-1 (batch 0 first) by the tree above;
/// \p map_of(k, out) writes batch k's map (called from several threads at once).
AffineMap epoch_map(std::int64_t batches, const std::function<void(std::int64_t, AffineMap&)>& map_of,
                    std::int32_t threads);

/// Applies \p m to the parameters (w, b) and the velocity (s1: d + 1 values, w then b).
void apply_map(const AffineMap& m, const double* shift, std::vector<double>& w, double& b, std::vector<double>& s1);

}  // namespace steepest::detail
