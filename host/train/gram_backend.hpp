// Internal: Gram mode (FitOptions::solver).  One pass of the data backend forms the shifted
// Gram sums (backend/gram.hpp) of the training rows and of the held-out rows; a GramBackend
// then stands in for the data backend through every epoch: the same Backend interface, but
// each full-batch loss and gradient comes from the sums in O(d^2), on the host, with no pass
// over the data and no device traffic.  The trainer keeps the data backend for the exact
// residual pass that gives final_mse.
//
// From the sums of a set of rows with total weight W: the means xbar, ybar (shift + S1 / W)
// and the centred co-moment sums C = S2 - S1 S1^T / W of z = (x, y).  At (w, b), with
// a = (w, -1) and the mean residual rbar = xbar . w + b - ybar:
//     sum w r^2 = a^T C a + W rbar^2,      MSE = a^T C a / W + rbar^2,
//     grad_w = (2/W) (C a)_x + 2 rbar xbar,  grad_b = 2 rbar
// (the same values as a residual pass, up to rounding).  a^T C a cancels when the MSE is
// tiny against the spread of y: the loss is clamped at 0 and final_mse never comes from
// here.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.hpp"

namespace steepest::detail {

/// The mean and co-moments of one set of rows, from its Gram sums (gram_width(d) values)
/// taken with \p shift (d + 1 values).
struct GramMoments {
  double weight = 0.0;        // W: sum of the weights, or the rows unweighted
  std::vector<double> mean;   // d + 1: xbar, then ybar
  std::vector<double> C;      // (d + 1) x (d + 1), row-major, symmetric
};
GramMoments gram_moments(const double* sums, const double* shift, std::int64_t d);
/// The same into \p out, reusing its storage (a mini-batch Gram fit makes one a batch).
void gram_moments(const double* sums, const double* shift, std::int64_t d, GramMoments& out);

/// The loss and gradient of a set of rows at (w, b) from its moments: gw (d values), gb;
/// the MSE is returned.  W = 0 gives 0 and a zero gradient.  \p scratch holds d + 1 values.
/// C a and the mean residual are summed in long double: near the optimum their terms
/// cancel, and the wider sums keep the fit's last digits (Longley: 11.2 digits at worst
/// against 10.9 in float64; the residual path reaches 11.4).
double gram_loss_gradient(const GramMoments& g, const double* w, double b, double* gw, double* gb,
                          std::vector<double>& scratch);

/// The backend of the epochs of a Gram fit: rows [0, n_train) of the row order train,
/// [n_train, n) are held out.  compute() takes the training rows (0, n_train), the held-out
/// rows (n_train, n) or all rows (0, n); any other range is a logic error (Gram mode is
/// full batch).  name() and device_name() are the data backend's, where the sums were made.
std::unique_ptr<Backend> make_gram_backend(const Backend& data, std::int64_t n_train, GramMoments train,
                                           GramMoments heldout, GramMoments all);

}  // namespace steepest::detail
