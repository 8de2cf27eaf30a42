// House rules checked on the sources themselves (docs/ARCHITECTURE.md, "House rules"):
//  - no function in host/ or kernels/ longer than kMaxLines lines unless a comment beginning
//    `long:` in its first lines says why;
//  - every source file under host/ and kernels/ sits in a room and is named in
//    docs/ARCHITECTURE.md, so the map and the tree cannot drift apart.
//  - every function named for prefetching is [[gnu::always_inline]].
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#ifndef STEEPEST_SOURCE_DIR
#error "STEEPEST_SOURCE_DIR must name the source tree"
#endif

namespace {

namespace fs = std::filesystem;

constexpr int kMaxLines = 80;
constexpr int kMarkerLines = 4;  // `long:` must appear within the body's first lines

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool is_source(const fs::path& p) {
  const auto e = p.extension().string();
  return e == ".cpp" || e == ".hpp" || e == ".cu" || e == ".cuh";
}

std::vector<fs::path> sources_under(const char* room) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(STEEPEST_SOURCE_DIR) / room))
    if (e.is_regular_file() && is_source(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

/// The code of a source with comments, string and character literals and preprocessor
/// lines blanked (newlines kept, so line numbers stay), and the lines on which a comment
/// begins with `long:`.
struct Stripped {
  std::string code;
  std::vector<int> long_marks;  // 1-based lines
};

Stripped strip(const std::string& src) {
  Stripped s;
  s.code.reserve(src.size());
  int line = 1;
  bool line_start = true;  // only blanks since the last newline
  auto put = [&](char c) {
    s.code += c == '\n' ? '\n' : ' ';
    if (c == '\n') {
      ++line;
      line_start = true;
    }
  };
  auto comment_text = [&](std::size_t from) {
    std::size_t k = from;
    while (k < src.size() && (src[k] == ' ' || src[k] == '\t')) ++k;
    if (src.compare(k, 5, "long:") == 0) s.long_marks.push_back(line);
  };
  for (std::size_t i = 0; i < src.size();) {
    const char c = src[i];
    if (c == '/' && i + 1 < src.size() && src[i + 1] == '/') {
      comment_text(i + 2);
      while (i < src.size() && src[i] != '\n') put(src[i++]);
    } else if (c == '/' && i + 1 < src.size() && src[i + 1] == '*') {
      comment_text(i + 2);
      put(src[i++]);
      put(src[i++]);
      while (i < src.size() && !(src[i] == '*' && i + 1 < src.size() && src[i + 1] == '/')) put(src[i++]);
      for (int k = 0; k < 2 && i < src.size(); ++k) put(src[i++]);
    } else if (c == '#' && line_start) {
      // A preprocessor line, with its continuations.
      while (i < src.size() && src[i] != '\n') {
        if (src[i] == '\\' && i + 1 < src.size() && src[i + 1] == '\n') put(src[i++]);
        put(src[i++]);
      }
    } else if (c == 'R' && i + 1 < src.size() && src[i + 1] == '"' &&
               (i == 0 || !(std::isalnum(static_cast<unsigned char>(src[i - 1])) || src[i - 1] == '_'))) {
      // Raw string R"delim( ... )delim".
      const std::size_t open = src.find('(', i);
      const std::string close = ")" + src.substr(i + 2, open - i - 2) + "\"";
      const std::size_t end = src.find(close, open);
      const std::size_t stop = end == std::string::npos ? src.size() : end + close.size();
      while (i < stop) put(src[i++]);
    } else if (c == '"' || (c == '\'' && !(i > 0 && std::isxdigit(static_cast<unsigned char>(src[i - 1])) &&
                                           i + 1 < src.size() && std::isxdigit(static_cast<unsigned char>(src[i + 1]))))) {
      // A string or character literal (not a digit separator such as 1'000).
      put(src[i++]);
      while (i < src.size() && src[i] != c && src[i] != '\n') {
        if (src[i] == '\\' && i + 1 < src.size()) put(src[i++]);
        put(src[i++]);
      }
      if (i < src.size()) put(src[i++]);
    } else {
      if (c == '\n') {
        ++line;
        line_start = true;
      } else if (c != ' ' && c != '\t') {
        line_start = false;
      }
      s.code += c;
      ++i;
    }
  }
  return s;
}

struct Function {
  std::string file;
  int head_line;   // where its declaration starts
  int open_line;   // the line of its `{`
  int close_line;  // the line of its `}`
  bool marked;     // a `long:` comment in its first lines
  std::string head;  // its declaration, comments blanked
  int lines() const { return close_line - open_line + 1; }
};

/// The first word of a declaration head, skipping `template <...>` and attributes.
std::string first_word(const std::string& head) {
  std::size_t i = 0;
  for (;;) {
    while (i < head.size() && std::isspace(static_cast<unsigned char>(head[i]))) ++i;
    if (head.compare(i, 8, "template") == 0) {
      i = head.find('<', i);
      int depth = 0;
      for (; i < head.size(); ++i) {
        if (head[i] == '<') ++depth;
        if (head[i] == '>' && --depth == 0) break;
      }
      ++i;
      continue;
    }
    if (head.compare(i, 2, "[[") == 0) {
      i = head.find("]]", i) + 2;
      continue;
    }
    break;
  }
  std::size_t j = i;
  while (j < head.size() && (std::isalnum(static_cast<unsigned char>(head[j])) || head[j] == '_')) ++j;
  return head.substr(i, j - i);
}

/// Every function body at namespace or class scope (lambdas and local classes are part of
/// the function around them).  Returns false when the braces do not balance.
bool functions_of(const std::string& file, const Stripped& s, std::vector<Function>& out) {
  enum class Kind { container, function, other };
  struct Open {
    Kind kind;
    int head_line;
    int open_line;
    std::string head;
  };
  std::vector<Open> stack;
  std::string head;  // the code since the last ; { } at the current level
  int head_line = 0, line = 1;
  for (const char c : s.code) {
    if (c == '\n') ++line;
    const bool in_container = stack.empty() || stack.back().kind == Kind::container;
    if (c == '{') {
      Kind kind = Kind::other;
      if (in_container) {
        const std::string w = first_word(head);
        if (w == "namespace" || w == "extern" || ((w == "class" || w == "struct" || w == "union") &&
                                                  head.find('(') == std::string::npos))
          kind = Kind::container;
        else if (w != "enum" && head.find('(') != std::string::npos)
          kind = Kind::function;
      }
      stack.push_back({kind, head_line ? head_line : line, line, kind == Kind::function ? head : std::string()});
      head.clear();
      head_line = 0;
    } else if (c == '}') {
      if (stack.empty()) return false;
      const Open o = stack.back();
      stack.pop_back();
      if (o.kind == Kind::function) {
        const bool marked = std::any_of(s.long_marks.begin(), s.long_marks.end(), [&](int m) {
          return m >= o.head_line && m < o.open_line + kMarkerLines;
        });
        out.push_back({file, o.head_line, o.open_line, line, marked, o.head});
      }
      head.clear();
      head_line = 0;
    } else if (c == ';') {
      if (stack.empty() || stack.back().kind == Kind::container) {
        head.clear();
        head_line = 0;
      }
    } else if (stack.empty() || stack.back().kind == Kind::container) {
      if (!std::isspace(static_cast<unsigned char>(c)) && head_line == 0) head_line = line;
      head += c;
    }
  }
  return stack.empty();
}

std::vector<Function> all_functions() {
  std::vector<Function> fns;
  for (const char* room : {"host", "kernels"}) {
    for (const auto& p : sources_under(room)) {
      const std::string rel = fs::relative(p, STEEPEST_SOURCE_DIR).string();
      const bool balanced = functions_of(rel, strip(read_all(p)), fns);
      EXPECT_TRUE(balanced) << rel << ": braces do not balance once comments, literals and "
                                      "preprocessor lines are removed; the house-rule scan cannot read it";
    }
  }
  return fns;
}

TEST(HouseRules, TheScannerFindsFunctionsAndTheirLength) {
  // The scan itself, on a known text: two functions at namespace scope (one inside a
  // class), a lambda and an if-block inside a function, a brace in a string and a comment,
  // and a `long:` marker.
  const std::string src =
      "#include <x>\n"                                 // 1
      "namespace a {\n"                                // 2
      "struct S {\n"                                   // 3
      "  int f(int x) const {\n"                       // 4
      "    auto g = [](int y) { return y; };\n"        // 5
      "    if (x) { return g(x); }\n"                  // 6
      "    return \"}\"[0] + '{';  // }\n"             // 7
      "  }\n"                                          // 8
      "};\n"                                           // 9
      "template <class T>\n"                           // 10
      "void h(T t)\n"                                  // 11
      "{\n"                                            // 12
      "  // long: a test of the marker\n"              // 13
      "  t();\n"                                       // 14
      "}\n"                                            // 15
      "constexpr int k[] = {1, 2};\n"                  // 16
      "}  // namespace a\n";                           // 17
  std::vector<Function> fns;
  ASSERT_TRUE(functions_of("t.cpp", strip(src), fns));
  ASSERT_EQ(fns.size(), 2u);
  EXPECT_EQ(fns[0].head_line, 4);
  EXPECT_EQ(fns[0].open_line, 4);
  EXPECT_EQ(fns[0].close_line, 8);
  EXPECT_FALSE(fns[0].marked);
  EXPECT_EQ(fns[1].head_line, 10);
  EXPECT_EQ(fns[1].open_line, 12);
  EXPECT_EQ(fns[1].lines(), 4);
  EXPECT_TRUE(fns[1].marked);
}

TEST(HouseRules, NoFunctionLongerThanTheLimitWithoutALongComment) {
  const std::vector<Function> fns = all_functions();
  ASSERT_GT(fns.size(), 100u) << "the scan found too few functions to be reading the sources";
  for (const Function& f : fns) {
    EXPECT_TRUE(f.lines() <= kMaxLines || f.marked)
        << f.file << ":" << f.head_line << ": a function of " << f.lines() << " lines (limit " << kMaxLines
        << "): split it into named phases, or say why it must stay whole in a comment beginning `long:` "
           "in its first lines";
  }
}

/// The name a function head declares: the identifier just before its parameter list.
std::string declared_name(const std::string& head) {
  std::size_t open = head.find('(');
  while (open > 0 && std::isspace(static_cast<unsigned char>(head[open - 1]))) --open;
  std::size_t start = open;
  while (start > 0 && (std::isalnum(static_cast<unsigned char>(head[start - 1])) || head[start - 1] == '_')) --start;
  return head.substr(start, open - start);
}

// A helper that only asks for memory is, to GCC, a function without effects: unless it is
// inlined first, its calls can be deleted, silently (the Gram tile's look-ahead and the
// weighted float32 kernels' gathered-row look-ahead were, until 2026-12-03).  So every
// function named for prefetching is [[gnu::always_inline]]; tests/check_prefetches.sh then
// checks the compiled kernels.
TEST(HouseRules, EveryPrefetchHelperIsAlwaysInlined) {
  int helpers = 0;
  for (const Function& f : all_functions()) {
    if (declared_name(f.head).find("prefetch") == std::string::npos) continue;
    ++helpers;
    EXPECT_NE(f.head.find("always_inline"), std::string::npos)
        << f.file << ":" << f.head_line << ": " << declared_name(f.head)
        << " asks for memory and nothing else: mark it [[gnu::always_inline]], or GCC may drop its calls";
  }
  EXPECT_GE(helpers, 6) << "the scan found too few prefetch helpers to be reading the sources";
}

TEST(HouseRules, EverySourceSitsInARoomNamedInTheArchitecture) {
  const std::string map = read_all(fs::path(STEEPEST_SOURCE_DIR) / "docs" / "ARCHITECTURE.md");
  ASSERT_FALSE(map.empty());
  for (const char* room : {"host", "kernels"}) {
    for (const auto& p : sources_under(room)) {
      const fs::path rel = fs::relative(p, STEEPEST_SOURCE_DIR);
      if (std::string(room) == "host") {
        EXPECT_GE(std::distance(rel.begin(), rel.end()), 3)
            << rel.string() << " lies loose in host/: put it in the room it belongs to";
      }
      // Named by its path within its room, or by its stem ("run_state.*").
      const std::string name = rel.filename().string();
      const std::string stem = rel.stem().string() + ".*";
      EXPECT_TRUE(map.find(name) != std::string::npos || map.find(stem) != std::string::npos)
          << rel.string() << " is not named in docs/ARCHITECTURE.md";
    }
  }
}

}  // namespace
