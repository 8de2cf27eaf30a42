#include "backend/reduction.hpp"

namespace steepest::detail {
namespace {

class LocalReduction final : public Reduction {
 public:
  void combine(const double* partials, std::int64_t chunks, std::size_t width, double* total) override {
    for (std::int64_t c = 0; c < chunks; ++c) {
      const double* part = partials + static_cast<std::size_t>(c) * width;
      for (std::size_t k = 0; k < width; ++k) total[k] += part[k];
    }
  }
};

}  // namespace

Reduction& local_reduction() noexcept {
  static LocalReduction local;
  return local;
}

}  // namespace steepest::detail
