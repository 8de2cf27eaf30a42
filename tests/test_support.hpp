// Helpers shared by the test files: the message of an expected InvalidArgument, a fixture
// that gives each test a fresh directory under /tmp, and views over a reference problem.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "reference.hpp"
#include "steepest/data.hpp"
#include "steepest/error.hpp"

namespace test_support {

/// The message of the InvalidArgument thrown by \p f; a test failure when it throws
/// nothing or something else.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const steepest::InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-InvalidArgument exception: " << e.what();
    return {};
  } catch (...) {
    ADD_FAILURE() << "threw a non-std exception";
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

/// A fresh directory (dir_) per test, removed with everything in it afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steepest-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

/// A reference problem with steepest's views over its (row-major, float64) storage.
struct ProblemViews {
  ref::Problem p;
  steepest::MatrixView X;
  steepest::VectorView y;
  explicit ProblemViews(ref::Problem prob) : p(std::move(prob)) {
    X = steepest::make_matrix_view(p.X.data(), p.n, p.d);
    y = steepest::make_vector_view(p.y.data(), p.n);
  }
};

/// A backend's results after a compute(): loss and gradient (reading them synchronises).
struct BackendOutputs {
  double loss = 0.0;
  std::vector<double> gw;
  double gb = 0.0;
};

inline BackendOutputs read_outputs(steepest::detail::Backend& be) {
  BackendOutputs o;
  o.loss = be.loss();
  o.gw.resize(static_cast<std::size_t>(be.cols()));
  be.gradient(o.gw.data(), &o.gb);
  return o;
}

}  // namespace test_support
