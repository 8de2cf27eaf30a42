// The Fortran module (fortran/steepest.f90): tests/fortran_fit.f90 fits a column-major
// array in place through it; the C++ API on the same data (the same column-major layout)
// must give the same bits.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "steepest/steepest.hpp"

namespace {

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  EXPECT_EQ(pclose(pipe), 0) << command << ":\n" << out;
  return out;
}

double from_bits(const std::string& hex) {
  const std::uint64_t bits = std::stoull(hex, nullptr, 16);
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

TEST(Fortran, AColumnMajorArrayFittedInPlaceEqualsTheCppApi) {
  constexpr int n = 500, d = 3;
  std::vector<double> x(n * d), y(n), w(n);  // x(i, j) at (j - 1) * n + (i - 1)
  for (int j = 1; j <= d; ++j)
    for (int i = 1; i <= n; ++i) x[(j - 1) * n + (i - 1)] = static_cast<double>((i * 37 + j * 101) % 211) / 211.0 - 0.5;
  for (int i = 1; i <= n; ++i) {
    const double* xi = &x[i - 1];
    y[i - 1] = xi[0] + xi[n] - xi[2 * n] + static_cast<double>((i * 53) % 97) / 9700.0;
    w[i - 1] = static_cast<double>(1 + i % 4);
  }
  steepest::FitOptions o;
  o.optimizer = steepest::Optimizer::momentum;
  o.auto_learning_rate = true;
  o.epochs = 300;
  o.batch_size = 64;
  o.seed = 5;
  const steepest::FitResult r = steepest::fit(
      steepest::MatrixView{x.data(), n, d, n, steepest::DType::float64, steepest::Layout::col_major},
      steepest::VectorView{y.data(), n, 1, steepest::DType::float64},
      steepest::VectorView{w.data(), n, 1, steepest::DType::float64}, o);

  std::istringstream out(run(STEEPEST_FORTRAN_FIT));
  std::string tag;
  out >> tag;
  ASSERT_EQ(tag, "bits");
  std::vector<double> got(d + 3);
  for (double& v : got) {
    std::string hex;
    out >> hex;
    v = from_bits(hex);
  }
  const std::vector<double> want = {r.weights[0], r.weights[1], r.weights[2], r.bias, r.final_mse,
                                    r.loss_history.back()};
  for (std::size_t k = 0; k < want.size(); ++k)
    EXPECT_EQ(std::memcmp(&got[k], &want[k], sizeof(double)), 0) << "value " << k << ": " << got[k] << " vs " << want[k];
  std::string reason;
  std::int64_t epochs = -1;
  std::size_t history = 0;
  out >> tag >> epochs >> reason >> history;
  EXPECT_EQ(tag, "epochs");
  EXPECT_EQ(epochs, r.epochs_run);
  EXPECT_EQ(reason, steepest::to_string(r.stop_reason));
  EXPECT_EQ(history, r.loss_history.size());
  EXPECT_LT(r.final_mse, r.loss_history.front() / 100);  // a real fit, not a first step
}

}  // namespace
