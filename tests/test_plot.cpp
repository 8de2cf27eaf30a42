// `steepest plot` and `steepest bench --plot`: the SVG is read back with a real XML parser
// (tests/svg_dump.py, Python's xml.etree.ElementTree), the axis transform inverted from the
// ticks, and every plotted point compared with the CSV (or JSON) values it came from, within
// the resolution of the file's two-decimal pixel coordinates.  Bad input: exit 2, a message
// naming the problem, and no output written (an existing one left as it was).
#include <cmath>
#include <sstream>

#include "cli_support.hpp"

#ifndef STEEPEST_PYTHON
#error "STEEPEST_PYTHON must name a python3 interpreter"
#endif

namespace {

using cli_test::Cli;
using cli_test::contains;
using cli_test::quote;
using cli_test::read_all;
using cli_test::Result;
namespace fs = std::filesystem;

using Rows = std::vector<std::vector<std::string>>;

/// The items svg_dump.py prints for \p svg (tab-separated fields); fails the test when the
/// file does not parse.
Rows dump(const std::string& svg, const std::string& dir) {
  const std::string out = dir + "/dump.txt", err = dir + "/dump.err";
  const std::string cmd = quote(STEEPEST_PYTHON) + " " + quote(cli_test::test_source_dir() + "/svg_dump.py") + " " +
                          quote(svg) + " >" + quote(out) + " 2>" + quote(err);
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(status, 0) << "svg_dump.py could not read " << svg << ":\n" << read_all(err);
  Rows rows;
  std::istringstream in(read_all(out));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells(1);
    for (const char c : line) {
      if (c == '\t') cells.emplace_back();
      else cells.back() += c;
    }
    rows.push_back(cells);
  }
  return rows;
}

/// The rows of kind \p kind whose field \p at equals \p value (any when \p at is 0).
Rows select(const Rows& rows, const std::string& kind, std::size_t at = 0, const std::string& value = "") {
  Rows out;
  for (const auto& r : rows)
    if (r[0] == kind && (at == 0 || (r.size() > at && r[at] == value))) out.push_back(r);
  return out;
}

double num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

/// A numeric CSV file with a header, by column name.
std::map<std::string, std::vector<double>> read_csv(const std::string& path) {
  std::istringstream in(read_all(path));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  std::stringstream head(line);
  for (std::string n; std::getline(head, n, ',');) names.push_back(n);
  std::map<std::string, std::vector<double>> cols;
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::size_t k = 0;
    for (std::string c; std::getline(cells, c, ',') && k < names.size(); ++k) cols[names[k]].push_back(num(c));
  }
  return cols;
}

/// Points of a polyline against (xs, ys): same count, each within the file's resolution.
void expect_points(const Rows& points, const std::vector<double>& xs, const std::vector<double>& ys) {
  ASSERT_EQ(points.size(), xs.size());
  for (std::size_t k = 0; k < points.size(); ++k) {
    const auto& p = points[k];  // point FRAME CLASS LABEL INDEX X Y XTOL YTOL
    EXPECT_NEAR(num(p[5]), xs[k], num(p[7])) << "point " << k;
    EXPECT_NEAR(num(p[6]), ys[k], num(p[8])) << "point " << k;
  }
}

class Plot : public Cli {
 protected:
  /// The tutorial's points, fitted from m = -1, b = 5 at lr 0.1: history and trace files.
  void fit_tutorial(const std::string& epochs, const std::vector<std::string>& extra = {}) {
    data_ = tutorial();
    std::vector<std::string> args = {"fit", data_, "--init-weights", "-1", "--init-bias", "5", "--lr", "0.1",
                                     "--epochs", epochs, "--history", dir_ + "/h.csv", "--trace", dir_ + "/t.csv",
                                     "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Result r = run(args);
    ASSERT_EQ(r.code, 0) << r;
  }

  /// A refused plot: exit 2, \p message in stderr, and out_ as it was (no output, no
  /// temporary file; an existing output unchanged).
  void expect_refused(std::vector<std::string> args, const std::string& message) {
    const std::string kept = out_ + "/kept.svg";
    cli_test::write_all(kept, "previous picture");
    args.insert(args.begin(), "plot");
    args.push_back("-o");
    args.push_back(kept);
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(contains(r.err, message)) << r;
    EXPECT_EQ(read_all(kept), "previous picture");
    EXPECT_EQ(out_entries(), std::set<std::string>{"kept.svg"}) << r;
  }

  std::string data_;
};

TEST_F(Plot, HistoryPointsMapBackToTheCsvOnALogAxis) {
  fit_tutorial("40");
  // A second run with held-out rows: generated data, 20% held out.
  const std::string gen = dir_ + "/g.csv", h2 = dir_ + "/h2.csv";
  ASSERT_EQ(run({"gen", "-o", gen, "--rows", "200", "--features", "2", "--noise", "0.1"}).code, 0);
  ASSERT_EQ(run({"fit", gen, "--epochs", "30", "--lr", "0.1", "--validation-fraction", "0.2", "--history", h2,
                 "--quiet"}).code, 0);
  const std::string svg = out_ + "/loss.svg";
  const Result r = run({"plot", dir_ + "/h.csv", "--label", "tutorial <lr 0.1> & \"m=-1\"", h2, "-o", svg});
  ASSERT_EQ(r.code, 0) << r;
  const Rows d = dump(svg, dir_);
  ASSERT_EQ(select(d, "size").at(0), (std::vector<std::string>{"size", "800", "600"}));
  const auto t1 = read_csv(dir_ + "/h.csv"), t2 = read_csv(h2);
  ASSERT_EQ(t2.count("heldout_mse"), 1u);
  // The label went through XML escaping and comes back as given; the second file is named.
  const std::string label = "tutorial <lr 0.1> & \"m=-1\"";
  expect_points(select(d, "point", 3, label), t1.at("epoch"), t1.at("mse"));
  expect_points(select(d, "point", 3, "h2.csv"), t2.at("epoch"), t2.at("mse"));
  expect_points(select(d, "point", 3, "h2.csv (held-out)"), t2.at("epoch"), t2.at("heldout_mse"));
  EXPECT_EQ(select(d, "point", 2, "series heldout_mse").size(), t2.at("epoch").size());
  EXPECT_EQ(select(d, "legend", 1, label).size(), 1u);
  EXPECT_EQ(select(d, "legend", 1, "h2.csv (held-out)").size(), 1u);
  ASSERT_EQ(select(d, "title").size(), 1u);
  EXPECT_TRUE(contains(select(d, "title")[0][1], label));
  EXPECT_TRUE(contains(read_all(svg), "data-yscale=\"log\""));
}

TEST_F(Plot, TracePathStartEndAndOptimumOverContoursOfTheMse) {
  fit_tutorial("200");
  const std::string svg = out_ + "/path.svg";
  const Result r = run({"plot", dir_ + "/t.csv", "--data", data_, "--grid", "21", "-o", svg});
  ASSERT_EQ(r.code, 0) << r;
  const Rows d = dump(svg, dir_);
  const auto t = read_csv(dir_ + "/t.csv");
  ASSERT_EQ(t.at("epoch").size(), 201u);
  expect_points(select(d, "point", 2, "path"), t.at("w1"), t.at("bias"));  // m across, b up
  for (const auto& [kind, m, b] : {std::tuple<std::string, double, double>{"start", -1.0, 5.0},
                                   {"end", t.at("w1").back(), t.at("bias").back()},
                                   {"optimum", 2.0, 1.0}}) {  // the line through (1,3), (2,5)
    const Rows mk = select(d, "marker", 2, kind);
    ASSERT_EQ(mk.size(), 1u) << kind;
    EXPECT_NEAR(num(mk[0][3]), m, num(mk[0][5])) << kind;
    EXPECT_NEAR(num(mk[0][4]), b, num(mk[0][6])) << kind;
  }
  // Every contour vertex lies on its level: the MSE there, ((m + b - 3)^2 + (2m + b - 5)^2) / 2,
  // is the level up to linear interpolation along a cell edge of a quadratic (at most
  // f'' h^2 / 8: f_mm = 5, f_bb = 2) and the vertex's pixel rounding (|grad| x tolerance).
  const Rows frame = select(d, "frame", 1, "path");
  ASSERT_EQ(frame.size(), 1u);
  const double hm = (num(frame[0][3]) - num(frame[0][2])) / 20, hb = (num(frame[0][5]) - num(frame[0][4])) / 20;
  const Rows vertices = select(d, "contour");
  ASSERT_GT(vertices.size(), 100u);
  std::set<std::string> levels;
  for (const auto& v : vertices) {
    const double level = num(v[2]), m = num(v[3]), b = num(v[4]);
    const double r1 = m + b - 3, r2 = 2 * m + b - 5;
    const double mse = (r1 * r1 + r2 * r2) / 2, gm = r1 + 2 * r2, gb = r1 + r2;
    const double bound = std::max(5 * hm * hm, 2 * hb * hb) / 8 + std::abs(gm) * num(v[5]) + std::abs(gb) * num(v[6]);
    EXPECT_NEAR(mse, level, bound * (1 + 1e-9)) << "vertex (" << m << ", " << b << ")";
    levels.insert(v[2]);
  }
  EXPECT_GE(levels.size(), 8u);
}

TEST_F(Plot, ParamsChooseTwoOfSeveralWeightsAndAreRequiredBeyondOneFeature) {
  const std::string gen = dir_ + "/g.csv", trace = dir_ + "/t3.csv";
  ASSERT_EQ(run({"gen", "-o", gen, "--rows", "100", "--features", "3", "--noise", "0.1"}).code, 0);
  ASSERT_EQ(run({"fit", gen, "--epochs", "25", "--lr", "0.1", "--trace", trace, "--quiet"}).code, 0);
  const std::string svg = out_ + "/p.svg";
  const Result r = run({"plot", trace, "--data", gen, "--params", "w3,w1", "--grid", "11", "-o", svg});
  ASSERT_EQ(r.code, 0) << r;
  const Rows d = dump(svg, dir_);
  const auto t = read_csv(trace);
  expect_points(select(d, "point", 2, "path"), t.at("w3"), t.at("w1"));
  EXPECT_TRUE(contains(select(d, "subtitle").at(0)[1], "the other parameters at their final values"));
  // A feature name of the data stands for its weight.
  ASSERT_EQ(run({"plot", trace, "--data", gen, "--params", "x2,bias", "--grid", "5", "-o", out_ + "/q.svg"}).code, 0);
  expect_points(select(dump(out_ + "/q.svg", dir_), "point", 2, "path"), t.at("w2"), t.at("bias"));
  fs::remove(svg);
  fs::remove(out_ + "/q.svg");
  expect_refused({trace, "--data", gen}, "choose the two parameters to draw with --params");
  expect_refused({trace, "--data", gen, "--params", "w1,w9"}, "unknown parameter 'w9'");
  expect_refused({trace, "--data", gen, "--params", "w1,zz"}, "unknown parameter 'zz'");
  expect_refused({trace, "--data", gen, "--params", "w1"}, "--params takes two parameters");
  expect_refused({trace, "--data", gen, "--params", "w2,x2"}, "twice");
}

TEST_F(Plot, StepTracesDrawEpochEndsOrEveryStep) {
  fit_tutorial("4", {"--batch-size", "1", "--no-shuffle", "--trace-steps"});
  const auto t = read_csv(dir_ + "/t.csv");
  ASSERT_EQ(t.at("step").size(), 9u);  // the start, then 2 steps in each of 4 epochs
  const std::string svg = out_ + "/s.svg";
  ASSERT_EQ(run({"plot", dir_ + "/t.csv", "--data", data_, "--trace-steps", "--grid", "9", "-o", svg}).code, 0);
  expect_points(select(dump(svg, dir_), "point", 2, "path"), t.at("w1"), t.at("bias"));
  ASSERT_EQ(run({"plot", dir_ + "/t.csv", "--data", data_, "--grid", "9", "-o", svg}).code, 0);
  std::vector<double> m, b;  // the start and the last step of each epoch: rows 0, 2, 4, 6, 8
  for (std::size_t k = 0; k < 9; k += 2) {
    m.push_back(t.at("w1")[k]);
    b.push_back(t.at("bias")[k]);
  }
  expect_points(select(dump(svg, dir_), "point", 2, "path"), m, b);
  fs::remove(svg);
  fit_tutorial("4");  // an epoch trace has no steps to draw
  expect_refused({dir_ + "/t.csv", "--data", data_, "--trace-steps"}, "has no step column");
}

TEST_F(Plot, AWeightedFitsTraceTakesItsWeightsAndHasNoOptimumMarker) {
  const std::string data = csv("w.csv", "x,w,y\n1,1,3\n2,3,5\n3,0.5,6\n"), trace = dir_ + "/tw.csv";
  ASSERT_EQ(run({"fit", data, "--weight-column", "w", "--lr", "0.05", "--epochs", "30", "--trace", trace, "--quiet"}).code, 0);
  const std::string svg = out_ + "/w.svg";
  const Result r = run({"plot", trace, "--data", data, "--weight-column", "w", "--grid", "9", "-o", svg});
  ASSERT_EQ(r.code, 0) << r;
  const Rows d = dump(svg, dir_);
  const auto t = read_csv(trace);
  expect_points(select(d, "point", 2, "path"), t.at("w1"), t.at("bias"));
  EXPECT_EQ(select(d, "marker", 2, "optimum").size(), 0u);
  EXPECT_EQ(select(d, "marker", 2, "end").size(), 1u);
  // The start's MSE (evaluate() on the data with its weights, in the marker's title, 6
  // digits) is the weighted MSE the fit recorded, 102/4.5 = 22.67 (unweighted: 70/3 = 23.33).
  const Rows start = select(d, "marker", 2, "start");
  ASSERT_EQ(start.size(), 1u);
  ASSERT_EQ(start[0][7].rfind("start: MSE ", 0), 0u) << start[0][7];
  EXPECT_NEAR(num(start[0][7].substr(11)), t.at("mse")[0], 5e-6 * t.at("mse")[0]);
  fs::remove(svg);
  // Without it the weight column is a second feature, and the trace has one weight.
  expect_refused({trace, "--data", data}, "has 2 feature columns, the trace");
}

TEST_F(Plot, BadInputIsRefusedAndWritesNothing) {
  fit_tutorial("5");
  expect_refused({dir_ + "/missing.csv"}, "cannot open");
  expect_refused({csv("empty.csv", "epoch,mse\n")}, "no data rows");
  expect_refused({csv("nothing.csv", "")}, "the file is empty");
  expect_refused({csv("bad.csv", "epoch,mse\n0,2.5\n1,x\n")}, "bad.csv:3");
  expect_refused({csv("other.csv", "a,b\n1,2\n")}, "not a history");
  expect_refused({dir_ + "/t.csv"}, "give --data");
  expect_refused({dir_ + "/h.csv", dir_ + "/t.csv"}, "not a mix");
  expect_refused({dir_ + "/t.csv", "--data", dir_ + "/missing.csv"}, "missing.csv");
  expect_refused({dir_ + "/h.csv", "--data", data_}, "for a trace file");
  expect_refused({dir_ + "/h.csv", "--label", "a", "--label", "b"}, "--label given 2 times for 1 files");
  expect_refused({csv("zero.csv", "epoch,mse\n0,0\n1,0\n")}, "give --linear");
  // The output may not be an input.
  const Result r = run({"plot", dir_ + "/h.csv", "-o", dir_ + "/h.csv"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_EQ(read_csv(dir_ + "/h.csv").at("epoch").size(), 6u);
}

TEST_F(Plot, BenchBarsAreTheMeasuredTimesAndSayWhenTheGpuIsMissing) {
  const std::string svg = out_ + "/bench.svg", json = out_ + "/bench.json";
  const Result r = run({"bench", "--rows", "5000", "--features", "4", "--epochs", "2", "--tts-epochs", "0",
                        "--solver-epochs", "0", "--quiet", "--plot", svg, "--json", json});
  ASSERT_EQ(r.code, 0) << r;
  const Rows d = dump(svg, dir_);
  const std::string j = read_all(json);
  bool found = false;
  auto value = [&](const std::string& key) {  // the first result's: the CPU's
    const double v = cli_test::json_number(j, key, &found);
    EXPECT_TRUE(found) << key;
    return v;
  };
  const double full_ms = 1e3 * value("full_epoch_seconds"), mini_ms = 1e3 * value("minibatch_epoch_seconds");
  const double percent = std::min(100.0, 100.0 * value("gb_per_s") / value("ceiling_gb_per_s"));
  const Rows cpu = select(d, "bar", 3, "cpu");
  ASSERT_EQ(cpu.size(), 3u);
  EXPECT_EQ(cpu[0][2], "full-batch epoch");
  EXPECT_NEAR(num(cpu[0][4]), full_ms, num(cpu[0][5]));
  EXPECT_NEAR(num(cpu[1][4]), mini_ms, num(cpu[1][5]));
  EXPECT_EQ(cpu[2][1], "ceiling");
  EXPECT_NEAR(num(cpu[2][4]), percent, num(cpu[2][5]));
  std::size_t backends = 0;
  for (std::size_t at = j.find("\"backend\""); at != std::string::npos; at = j.find("\"backend\"", at + 1)) ++backends;
  const Rows notes = select(d, "note");
  ASSERT_EQ(notes.size(), 1u);
  if (backends == 1) {  // no usable GPU: the CPU's bars alone, and the picture says so
    EXPECT_EQ(select(d, "bar").size(), 3u);
    EXPECT_TRUE(contains(notes[0][1], "no usable GPU on this machine: CPU bars only"));
  } else {
    EXPECT_EQ(select(d, "bar", 3, "cuda").size(), 3u);
    EXPECT_FALSE(contains(notes[0][1], "CPU bars only"));
  }
}

TEST_F(Plot, EscapesFileNamesInTheTitle) {
  fit_tutorial("3");
  const std::string odd = dir_ + "/a&b<c>'\".csv";
  fs::copy_file(dir_ + "/h.csv", odd);
  const std::string svg = out_ + "/odd.svg";
  ASSERT_EQ(run({"plot", odd, "-o", svg}).code, 0);
  const Rows d = dump(svg, dir_);
  ASSERT_EQ(select(d, "title").size(), 1u);
  EXPECT_EQ(select(d, "title")[0][1], "Loss per epoch: a&b<c>'\".csv");
  EXPECT_EQ(select(d, "point", 3, "a&b<c>'\".csv").size(), 4u);
}

}  // namespace

// --- the pieces: ticks, labels, escaping, marching squares (host/cli/svg.*, contour.*) ---

#include "cli/contour.hpp"
#include "cli/svg.hpp"

namespace {

namespace svg = steepest::cli::svg;

TEST(PlotPieces, NiceTicksAreEvenOneTwoOrFiveStepsInsideTheRange) {
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{
           {0, 1}, {-1.3, 2.3}, {0.59, 5.51}, {0, 150}, {1e-9, 3e-9}, {-7e6, -2e6}, {0.1, 0.3}, {99.5, 100.5}}) {
    const std::vector<double> t = svg::nice_ticks(lo, hi);
    ASSERT_GE(t.size(), 3u) << lo << ".." << hi;
    EXPECT_LE(t.size(), 11u) << lo << ".." << hi;
    const double step = t[1] - t[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
    EXPECT_TRUE(std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 || std::abs(mantissa - 5) < 1e-9)
        << "step " << step;
    for (std::size_t k = 0; k < t.size(); ++k) {
      EXPECT_GE(t[k], lo - 1e-12 * (hi - lo));
      EXPECT_LE(t[k], hi + 1e-12 * (hi - lo));
      if (k > 0) {
        EXPECT_NEAR(t[k] - t[k - 1], step, 1e-9 * step);
      }
      EXPECT_NEAR(t[k] / step, std::round(t[k] / step), 1e-9) << "a tick off the step's multiples";
    }
  }
  EXPECT_EQ(svg::nice_ticks(0.1, 0.3, 3), (std::vector<double>{0.1, 0.2, 0.3}));  // 0.3, not 0.30000000000000004
}

TEST(PlotPieces, LogTicksArePowersOfTenWithTwoAndFiveOverFewDecades) {
  EXPECT_EQ(svg::log_ticks(0.05, 3), (std::vector<double>{0.05, 0.1, 0.2, 0.5, 1, 2}));
  EXPECT_EQ(svg::log_ticks(0.06, 3), (std::vector<double>{0.1, 0.2, 0.5, 1, 2}));
  const std::vector<double> many = svg::log_ticks(1e-12, 10);
  ASSERT_GE(many.size(), 4u);
  for (const double v : many) EXPECT_NEAR(std::log10(v), std::round(std::log10(v)), 1e-12) << v;
}

TEST(PlotPieces, LabelsAreShortAndExact) {
  EXPECT_EQ(svg::label(60), "60");
  EXPECT_EQ(svg::label(20000), "20000");
  EXPECT_EQ(svg::label(0.1), "0.1");
  EXPECT_EQ(svg::label(-0.0), "0");
  EXPECT_EQ(svg::label(1e-5), "1e-05");
  EXPECT_EQ(svg::label(2.5), "2.5");
}

TEST(PlotPieces, EscapeMakesTextSafeForXml) {
  EXPECT_EQ(svg::escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(svg::escape(std::string("x\x01y\x1bz", 5)), "xyz");  // no control bytes in XML 1.0
  EXPECT_EQ(svg::escape("\xff"), "\\xff");                        // invalid UTF-8 spelled out
}

TEST(PlotPieces, MarchingSquaresIsExactOnAPlaneAndClosedAroundABowl) {
  steepest::cli::Grid g;
  for (int k = 0; k <= 10; ++k) {
    g.xs.push_back(-1 + 0.2 * k);
    g.ys.push_back(-1 + 0.2 * k);
  }
  for (const double y : g.ys)
    for (const double x : g.xs) g.v.push_back(2 * x - y);
  // A plane is linear along every edge: every vertex lies on the level exactly (to rounding).
  const auto plane = steepest::cli::contour_segments(g, 0.3);
  ASSERT_GE(plane.size(), 10u);
  for (const auto& s : plane) {
    EXPECT_NEAR(2 * s.x0 - s.y0, 0.3, 1e-12);
    EXPECT_NEAR(2 * s.x1 - s.y1, 0.3, 1e-12);
  }
  // A bowl x^2 + y^2: the level set is a closed ring, every endpoint shared by two segments.
  g.v.clear();
  for (const double y : g.ys)
    for (const double x : g.xs) g.v.push_back(x * x + y * y);
  const auto ring = steepest::cli::contour_segments(g, 0.5);
  std::map<std::pair<long, long>, int> ends;
  for (const auto& s : ring) {
    ++ends[{std::lround(s.x0 * 1e9), std::lround(s.y0 * 1e9)}];
    ++ends[{std::lround(s.x1 * 1e9), std::lround(s.y1 * 1e9)}];
    EXPECT_NEAR(std::hypot(s.x0, s.y0), std::sqrt(0.5), 0.02);  // interpolation of a parabola, h = 0.2
  }
  ASSERT_GE(ring.size(), 8u);
  for (const auto& [at, count] : ends) EXPECT_EQ(count, 2) << at.first << ", " << at.second;
  EXPECT_EQ(steepest::cli::contour_levels(0, 9, 2), (std::vector<double>{1, 4}));
}

}  // namespace
