// Digits per certified parameter of every NIST StRD linear problem: `bench_nist [EPOCHS]`
// fits each on standardised features with the optimizer chosen from the Hessian's spectrum
// (--optimizer auto), once with each solver, and prints a Markdown table: certified value,
// steepest's, the log relative error (significant digits), epochs, seconds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nist_support.hpp"
#include "steepest/steepest.hpp"

int main(int argc, char** argv) {
  const std::int64_t epochs = argc > 1 ? std::atoll(argv[1]) : 100000;
  const char* problems[] = {"Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley",
                            "Wampler1", "Wampler2", "Wampler3", "Wampler4", "Wampler5"};
  std::printf("Every problem standardised, optimizer auto, at most %lld epochs, float64, CPU.\n\n",
              static_cast<long long>(epochs));
  for (steepest::Solver solver : {steepest::Solver::gram, steepest::Solver::residual}) {
    std::printf("### solver %s\n\n", solver == steepest::Solver::gram ? "gram" : "residual");
    std::printf("| problem | kappa | parameter | certified | steepest | digits | epochs | seconds | stop |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    for (const char* name : problems) {
      const auto ds = nist::load(name);
      const std::vector<double> cert = nist::certified(name);
      steepest::FitOptions o;
      o.standardize = true;
      o.optimizer = steepest::Optimizer::automatic;
      o.fit_intercept = nist::has_intercept(name);
      o.epochs = epochs;
      o.solver = solver;
      o.device = steepest::Device::cpu;
      const auto t0 = std::chrono::steady_clock::now();
      const steepest::FitResult r = steepest::fit(ds.x_view(), ds.y_view(), o);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const std::size_t first = o.fit_intercept ? 0 : 1;
      for (std::size_t k = 0; k < cert.size(); ++k) {
        const double value = o.fit_intercept && k == 0 ? r.bias : r.weights[k - (o.fit_intercept ? 1 : 0)];
        std::printf("| %s | %.3g | B%zu | %.15g | %.15g | %.1f | %lld | %.3f | %s |\n", k == 0 ? name : "",
                    r.condition_number, k + first, cert[k], value, nist::lre(value, cert[k]),
                    static_cast<long long>(r.epochs_run), seconds, steepest::to_string(r.stop_reason));
      }
    }
    std::printf("\n");
  }
}
