#include "cli/commands.hpp"

#include <iostream>

namespace steepest::cli {

int run(int argc, char** argv) {
  CLI::App app{"steepest: linear regression by gradient descent on the mean squared error, "
               "on the CPU or an NVIDIA GPU.\nObjective: MSE = (1/n) sum_i (x_i . w + b - y_i)^2.",
               "steepest"};
  app.set_version_flag("--version", std::string("steepest ") + STEEPEST_VERSION_STRING);
  app.require_subcommand(1);
  Action action;
  add_fit_command(app, action);
  add_demo_command(app, action);
  add_gen_command(app, action);
  add_predict_command(app, action);
  add_evaluate_command(app, action);
  add_info_command(app, action);
  add_bench_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kBadInput;
  }
  if (!action) return kFailure;
  try {
    return action();
  } catch (const InvalidArgument& e) {
    std::cerr << "steepest: error: " << e.what() << "\n";
    return kBadInput;
  } catch (const DeviceUnavailable& e) {
    std::cerr << "steepest: error: " << e.what() << "\n";
    return kBadInput;
  } catch (const std::exception& e) {
    std::cerr << "steepest: error: " << e.what() << "\n";
    return kFailure;
  }
}

}  // namespace steepest::cli
