// The NIST StRD linear least-squares problems (tests/data/nist-strd): their data, their
// certified estimates (read from the data's README.md, which copies them verbatim from
// NIST's files) and the digits a fit gets right.
#pragma once

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/csv.hpp"

namespace nist {

inline steepest::io::CsvDataset load(const std::string& name) {
  return steepest::io::read_csv(std::string(STEEPEST_TEST_DATA_DIR) + "/nist-strd/" + name + ".csv");
}

/// Log relative error: the significant digits of \p fit that agree with \p cert (16 when equal).
inline double lre(double fit, double cert) {
  const double rel = std::fabs(fit - cert) / std::fabs(cert);
  return rel == 0.0 ? 16.0 : -std::log10(rel);
}

/// NoInt1 and NoInt2 are fitted through the origin.
inline bool has_intercept(const std::string& name) { return name.rfind("NoInt", 0) != 0; }

/// The certified estimates B0, B1, ... of \p name (B1 alone for the no-intercept problems):
/// the rows "| Bk | estimate | sd |" of the README's section "### name".
inline std::vector<double> certified(const std::string& name) {
  std::ifstream in(std::string(STEEPEST_TEST_DATA_DIR) + "/nist-strd/README.md");
  std::string line;
  bool inside = false;
  std::vector<double> values;
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0) {
      if (inside) break;
      inside = line == "### " + name;
    } else if (inside && line.rfind("| B", 0) == 0) {
      const std::size_t bar = line.find('|', 2);
      values.push_back(std::strtod(line.c_str() + bar + 1, nullptr));
    }
  }
  if (values.empty()) throw std::runtime_error("no certified values for " + name + " in nist-strd/README.md");
  return values;
}

}  // namespace nist
