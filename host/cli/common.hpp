// Pieces shared by the subcommands: option groups, data loading, progress, model files.
#pragma once

#include <CLI/CLI.hpp>
#include <csignal>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/csv.hpp"
#include "io/hdf5.hpp"
#include "io/npy.hpp"
#include "backend/team.hpp"
#include "steepest/steepest.hpp"

namespace steepest::cli {

/// What a subcommand does once the command line is parsed; returns the exit code.
using Action = std::function<int()>;

/// Set by SIGINT/SIGTERM while a fit runs; the fit stops after the current epoch.
extern volatile std::sig_atomic_t g_signal;

/// How to read data: a CSV file, one .npy matrix with a target column, or --x/--y files.
struct DataArgs {
  std::string path;       ///< DATA: .csv (or any text) or .npy
  std::string x_path;     ///< --x X.npy
  std::string y_path;     ///< --y y.npy
  std::string target;
  std::string features;
  std::string delimiter = ",";
  std::string dtype = "float64";
  std::string weight_column;  ///< --weight-column: a CSV column of sample weights
  std::string weight_file;    ///< --weight-file: sample weights, one per row (.npy or text)
  std::string dataset;        ///< --dataset: the HDF5 dataset of the features (and target)
  std::string y_dataset;      ///< --y-dataset: the HDF5 dataset of the targets
  bool header = false;
  bool no_header = false;
};

/// Register DATA (optional when --x is allowed) and the data options on \p cmd; with
/// \p allow_weights also --weight-column and --weight-file.
void add_data_options(CLI::App& cmd, DataArgs& a, bool allow_xy_files, bool allow_weights = false);

/// Data in memory with views over it; owns whatever storage the views point into.
struct Loaded {
  MatrixView X;
  VectorView y;  ///< y.data is null when the input has no target
  VectorView weights;  ///< sample weights; data is null when none were given
  std::vector<std::string> feature_names;  ///< valid UTF-8 (io::utf8_safe), as a model records them
  std::string target_name;
  std::string weight_name;  ///< the weight column or file, when given
  std::string source;  ///< what to call it in messages and model files
  /// Where the target and features sat in DATA (a CSV file or one .npy matrix), for the
  /// model file; unset for --x/--y.
  std::optional<io::ColumnLayout> columns;
  io::CsvDataset csv, weight_csv;
  io::NpyArray x_npy, y_npy, w_npy;
  io::H5Rows h5_x, h5_y;  ///< HDF5 input: the features and the target, packed
};

/// What the caller knows about the columns (predict/evaluate pass the model's).
struct Expect {
  bool target = true;                      ///< the input must hold a target column
  bool target_optional = false;            ///< a target may be present (predict)
  std::int64_t features = -1;              ///< required feature count, -1 = any
  std::vector<std::string> feature_names;  ///< from a model: used to pick CSV columns by name
  std::string target_name;                 ///< from a model: used to find the target by name
  /// From a model: the columns of the file it was fitted on.  With it, a CSV header must
  /// hold the model's names (when the model's file had one); headerless data and .npy are
  /// read by the recorded indices.  --target and --features, when given, replace it.
  /// Without it (older model files) the columns are found as before: by name when the
  /// header holds every feature name, else by position.
  std::optional<io::ColumnLayout> columns;
};

Loaded load_data(const DataArgs& a, const Expect& expect);

/// load_data() for a run across the processes of \p team: each takes the rows
/// detail::rank_rows() gives it (whole shards of the data plan, so the fit has the bits of
/// one process) and reads no others: a .npy is mapped and only its rows touched; a CSV file
/// is cut into byte ranges, each process counts the rows of its own range, and then parses
/// exactly its rows.  A failure on any process is every process's error (the lowest
/// rank's message).  Alone, load_data().
Loaded load_own_rows(const DataArgs& a, const Expect& expect, const detail::Team& team);

/// Whether \p s ends with \p suffix.
bool ends_with(const std::string& s, const std::string& suffix);

/// Whether \p path starts with the .npy magic (\x93NUMPY): input files are told apart by
/// their content, not their name (D.NPY is a .npy file, a CSV named x.npy is CSV).
bool is_npy_file(const std::string& path);

/// Comma-separated list (empty items dropped).
std::vector<std::string> split_list(const std::string& text);
/// Comma-separated numbers; \p option names the option in messages.
std::vector<double> parse_numbers(const std::string& text, const std::string& option);

/// Progress on stderr when it is a terminal and not --quiet: done/total, rate, ETA.
class Progress {
 public:
  Progress(bool enabled, const char* unit);
  ~Progress();
  void update(std::int64_t done, std::int64_t total, const std::string& extra = {});

 private:
  bool enabled_;
  bool shown_ = false;
  const char* unit_;
  double start_;
  double last_ = -1.0;
};

}  // namespace steepest::cli
