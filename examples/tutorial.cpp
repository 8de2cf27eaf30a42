// The tutorial's two points, fitted through the installed library.
#include <cstdio>
#include <steepest/steepest.hpp>

int main() {
  const double x[] = {1.0, 2.0};
  const double y[] = {3.0, 5.0};
  steepest::FitOptions opt;
  opt.learning_rate = 0.1;
  opt.epochs = 1000;
  opt.init_weights = {-1.0};
  opt.init_bias = 5.0;
  const auto r = steepest::fit(steepest::make_matrix_view(x, 2, 1),
                               steepest::make_vector_view(y, 2), opt);
  std::printf("m = %.12f, b = %.12f after %lld epochs on %s (mse %.3g)\n", r.weights[0], r.bias,
              static_cast<long long>(r.epochs_run), r.backend.c_str(), r.final_mse);
  return r.stop_reason == steepest::StopReason::max_epochs ? 0 : 1;
}
