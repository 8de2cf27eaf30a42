#include "io/npy.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/text.hpp"
#include "steepest/error.hpp"

namespace steepest::io {
namespace {

constexpr bool kHostBigEndian = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr std::size_t kAlign = 64;  // NumPy's ARRAY_ALIGN: data start at a multiple of this

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw InvalidArgument(name + ": " + what);
}

// --- dtype ---------------------------------------------------------------------------------

enum class Kind { floating, signed_int, unsigned_int, boolean };

struct Descr {
  std::string text;
  Kind kind = Kind::floating;
  int size = 8;       // bytes per element in the file
  bool swap = false;  // stored in the other byte order than the host's
};

/// Interprets a simple dtype string such as "<f8" or "|u1"; refuses everything this
/// library cannot turn into float32/float64 numbers, saying why.
Descr parse_descr(const std::string& s, const std::string& name) {
  const std::string quoted = io::quoted(s);  // from the file: escaped and cut
  if (s.find('O') != std::string::npos)
    fail(name, "dtype " + quoted + " is an object array; not supported (it would need unpickling)");
  std::size_t p = 0;
  char order = '=';
  if (p < s.size() && (s[p] == '<' || s[p] == '>' || s[p] == '=' || s[p] == '|')) order = s[p++];
  if (p >= s.size()) fail(name, "dtype " + quoted + " is malformed");
  const char kind = s[p++];
  int size = 0;
  const std::size_t digits = p;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9' && p - digits < 4) size = size * 10 + (s[p++] - '0');
  const bool sized = p > digits && p == s.size();
  switch (kind) {
    case 'c': fail(name, "dtype " + quoted + " is complex; not supported");
    case 'S': case 'U': case 'a':
      fail(name, "dtype " + quoted + " is a string type; not supported");
    case 'V': fail(name, "dtype " + quoted + " is a void/structured type; not supported");
    case 'M': case 'm':
      fail(name, "dtype " + quoted + " is a datetime/timedelta type; not supported");
    default: break;
  }
  if (!sized) fail(name, "dtype " + quoted + " is malformed or not supported");
  Descr d;
  d.text = s;
  d.size = size;
  if (kind == 'f') {
    if (size == 2)
      fail(name, "dtype " + quoted + " is float16; not supported, convert it to float32 first "
                 "(numpy: a.astype(np.float32))");
    if (size != 4 && size != 8) fail(name, "dtype " + quoted + " is not supported (floats must be f4 or f8)");
    d.kind = Kind::floating;
  } else if (kind == 'i' || kind == 'u') {
    if (size != 1 && size != 2 && size != 4 && size != 8)
      fail(name, "dtype " + quoted + " is not supported (integers must have 1, 2, 4 or 8 bytes)");
    d.kind = kind == 'i' ? Kind::signed_int : Kind::unsigned_int;
  } else if (kind == 'b') {
    if (size != 1) fail(name, "dtype " + quoted + " is not supported (bool must be b1)");
    d.kind = Kind::boolean;
  } else {
    fail(name, "dtype " + quoted + " is not supported");
  }
  if (order == '|' && size != 1)
    fail(name, "dtype " + quoted + ": byte order '|' is only valid for one-byte types");
  d.swap = size > 1 && ((order == '>' && !kHostBigEndian) || (order == '<' && kHostBigEndian));
  return d;
}

// --- header dictionary ---------------------------------------------------------------------

struct Header {
  Descr descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;
};

/// A strict parser of the Python dict literal NumPy writes, e.g.
///   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
/// Exactly the three keys, in any order, single or double quotes, optional trailing commas,
/// whitespace between tokens.  Anything else is refused; nothing is evaluated.
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  Header parse() {
    Header h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    if (p_ >= s_.size() || s_[p_] != '{') bad("the header is not a dict (it must start with '{')");
    ++p_;
    skip_space();
    while (peek() != '}') {
      const std::string key = string_literal("a key");
      skip_space();
      expect(':', "expected ':' after key " + quoted(key));
      skip_space();
      if (key == "descr") {
        if (have_descr) bad("duplicate key 'descr'");
        if (peek() == '[') fail(name_, "structured dtypes (descr is a list) are not supported");
        h.descr = parse_descr(string_literal("the value of 'descr'"), name_);
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) bad("duplicate key 'fortran_order'");
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) bad("duplicate key 'shape'");
        h.shape = tuple();
        have_shape = true;
      } else {
        bad("unexpected key " + quoted(key));
      }
      skip_space();
      if (peek() == ',') {
        ++p_;
        skip_space();
      } else if (peek() != '}') {
        bad("expected ',' or '}' after the value of " + quoted(key));
      }
    }
    ++p_;
    skip_space();
    if (p_ != s_.size()) bad("unexpected text after the closing '}'");
    if (!have_descr) bad("missing key 'descr'");
    if (!have_order) bad("missing key 'fortran_order'");
    if (!have_shape) bad("missing key 'shape'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const { fail(name_, "malformed header: " + what); }
  char peek() const {
    if (p_ >= s_.size()) bad("it ends early");
    return s_[p_];
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) bad(what);
    ++p_;
  }
  void skip_space() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  std::string string_literal(const std::string& what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string for " + what);
    const std::size_t start = ++p_;
    while (peek() != quote) {
      if (s_[p_] == '\\' || s_[p_] == '\n') bad("unsupported character in a string");
      ++p_;
    }
    return std::string(s_.substr(start, p_++ - start));
  }
  bool boolean() {
    if (s_.substr(p_, 4) == "True") {
      p_ += 4;
      return true;
    }
    if (s_.substr(p_, 5) == "False") {
      p_ += 5;
      return false;
    }
    bad("'fortran_order' must be True or False");
  }
  std::int64_t integer() {
    bool negative = false;
    if (peek() == '-') {
      negative = true;
      ++p_;
      skip_space();
    }
    if (peek() < '0' || peek() > '9') bad("'shape' must be a tuple of integers");
    std::int64_t v = 0;
    bool overflow = false;
    while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') {
      const int digit = s_[p_++] - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) overflow = true;
      else v = v * 10 + digit;
    }
    if (p_ < s_.size() && s_[p_] == 'L') ++p_;  // Python 2 long, e.g. (3L, 4L)
    if (p_ < s_.size() && std::string_view(" \t\r\n,)").find(s_[p_]) == std::string_view::npos)
      bad("'shape' must be a tuple of integers");
    if (negative) fail(name_, "negative dimension in 'shape'");
    if (overflow) fail(name_, "a dimension in 'shape' does not fit in 64 bits");
    return v;
  }
  std::vector<std::int64_t> tuple() {
    expect('(', "'shape' must be a tuple");
    std::vector<std::int64_t> dims;
    skip_space();
    while (peek() != ')') {
      dims.push_back(integer());
      skip_space();
      if (peek() == ',') {
        ++p_;
        skip_space();
      } else if (peek() != ')') {
        bad("expected ',' or ')' in 'shape'");
      } else if (dims.size() == 1) {
        bad("'shape' must be a tuple: write (n,) for one dimension");
      }
    }
    ++p_;
    return dims;
  }

  std::string_view s_;
  std::size_t p_ = 0;
  const std::string& name_;
};

std::uint64_t read_le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// Checks the preamble, parses the header and validates the shape against \p size.
Header parse_header(const unsigned char* bytes, std::size_t size, const std::string& name) {
  if (size < kMagicLen + 2)
    fail(name, "too short for a .npy file (" + std::to_string(size) + " bytes, no magic and version)");
  if (std::memcmp(bytes, kMagic, kMagicLen) != 0)
    fail(name, "not a .npy file (bad magic; expected \\x93NUMPY)");
  const int major = bytes[6], minor = bytes[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    fail(name, "unsupported .npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  const int len_bytes = major == 1 ? 2 : 4;
  const std::size_t header_start = kMagicLen + 2 + static_cast<std::size_t>(len_bytes);
  if (size < header_start) fail(name, "too short for a .npy file (the header length is cut off)");
  const std::uint64_t header_len = read_le(bytes + kMagicLen + 2, len_bytes);
  if (header_len > size - header_start)
    fail(name, "header length " + std::to_string(header_len) + " is larger than the file (" +
                   std::to_string(size - header_start) + " bytes after the preamble)");
  const std::string_view text(reinterpret_cast<const char*>(bytes + header_start),
                              static_cast<std::size_t>(header_len));
  Header h = DictParser(text, name).parse();
  h.data_offset = header_start + static_cast<std::size_t>(header_len);

  std::string shape_text = "(";
  for (std::size_t i = 0; i < h.shape.size(); ++i)
    shape_text += (i ? ", " : "") + std::to_string(h.shape[i]);
  shape_text += h.shape.size() == 1 ? ",)" : ")";
  shape_text = printable(shape_text, 80);  // a header may list thousands of dimensions
  if (h.shape.empty()) fail(name, "shape () is a scalar; need a 1-D or 2-D array");
  if (h.shape.size() > 2)
    fail(name, "shape " + shape_text + " has " + std::to_string(h.shape.size()) +
                   " dimensions; need a 1-D or 2-D array");
  for (std::size_t i = 0; i < h.shape.size(); ++i)
    if (h.shape[i] == 0)
      fail(name, "shape " + shape_text + " has 0 " + (i == 0 ? "rows" : "columns") + "; nothing to read");
  std::int64_t count = h.shape[0], bytes_needed = 0;
  if ((h.shape.size() == 2 && __builtin_mul_overflow(count, h.shape[1], &count)) ||
      __builtin_mul_overflow(count, static_cast<std::int64_t>(h.descr.size), &bytes_needed))
    fail(name, "shape " + shape_text + " of " + quoted(h.descr.text) + " overflows a 64-bit byte count");
  const std::size_t present = size - h.data_offset;
  if (static_cast<std::uint64_t>(bytes_needed) > present)
    fail(name, "truncated data: shape " + shape_text + " of " + quoted(h.descr.text) + " needs " +
                   std::to_string(bytes_needed) + " bytes, the file has " + std::to_string(present) +
                   " after the header");
  return h;
}

// --- conversion ----------------------------------------------------------------------------

template <typename T>
T load(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(T)];
  if (swap)
    for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = p[sizeof(T) - 1 - i];
  else
    std::memcpy(b, p, sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

template <typename Src, typename Dst>
void convert(const unsigned char* src, std::int64_t n, bool swap, Dst* dst) {
  // Two loops so the common unswapped case is a plain vectorisable conversion.
  if (swap)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(load<Src>(src + i * sizeof(Src), true));
  else
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(load<Src>(src + i * sizeof(Src), false));
}

/// A heap copy of the \p n elements at \p src as float32 (f4) or float64 (everything else).
std::unique_ptr<unsigned char[]> converted(const unsigned char* src, std::int64_t n, const Descr& d) {
  const std::size_t out_size = d.kind == Kind::floating && d.size == 4 ? 4 : 8;
  std::unique_ptr<unsigned char[]> out(new unsigned char[static_cast<std::size_t>(n) * out_size]);
  auto* f64 = reinterpret_cast<double*>(out.get());  // new[] storage is suitably aligned
  switch (d.kind) {
    case Kind::floating:
      if (d.size == 4) convert<float>(src, n, d.swap, reinterpret_cast<float*>(out.get()));
      else convert<double>(src, n, d.swap, f64);
      break;
    case Kind::boolean:
      for (std::int64_t i = 0; i < n; ++i) f64[i] = src[i] != 0 ? 1.0 : 0.0;
      break;
    case Kind::signed_int:
      switch (d.size) {
        case 1: convert<std::int8_t>(src, n, d.swap, f64); break;
        case 2: convert<std::int16_t>(src, n, d.swap, f64); break;
        case 4: convert<std::int32_t>(src, n, d.swap, f64); break;
        default: convert<std::int64_t>(src, n, d.swap, f64); break;
      }
      break;
    case Kind::unsigned_int:
      switch (d.size) {
        case 1: convert<std::uint8_t>(src, n, d.swap, f64); break;
        case 2: convert<std::uint16_t>(src, n, d.swap, f64); break;
        case 4: convert<std::uint32_t>(src, n, d.swap, f64); break;
        default: convert<std::uint64_t>(src, n, d.swap, f64); break;
      }
      break;
  }
  return out;
}

/// Index of the first NaN or infinity among the \p n floats (of \p Bits width) at \p p,
/// or -1.  Tests the exponent bits block by block so the common case is a vectorised OR.
template <typename Bits>
std::int64_t first_non_finite(const unsigned char* p, std::int64_t n) {
  constexpr Bits kExp = sizeof(Bits) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  constexpr std::int64_t kBlock = 4096;
  for (std::int64_t b = 0; b < n; b += kBlock) {
    const std::int64_t e = std::min(n, b + kBlock);
    unsigned any = 0;
    for (std::int64_t i = b; i < e; ++i) {
      Bits v;
      std::memcpy(&v, p + i * static_cast<std::int64_t>(sizeof(Bits)), sizeof(Bits));
      any |= (v & kExp) == kExp ? 1u : 0u;
    }
    if (any == 0) continue;
    for (std::int64_t i = b; i < e; ++i) {
      Bits v;
      std::memcpy(&v, p + i * static_cast<std::int64_t>(sizeof(Bits)), sizeof(Bits));
      if ((v & kExp) == kExp) return i;
    }
  }
  return -1;
}

template <typename T>
std::string value_text(const void* data, std::int64_t index) {
  T v;
  std::memcpy(&v, static_cast<const unsigned char*>(data) + index * static_cast<std::int64_t>(sizeof(T)),
              sizeof(T));
  return v != v ? "nan" : (v > 0 ? "inf" : "-inf");
}

// --- the file ------------------------------------------------------------------------------

/// Unmaps on scope exit unless released.
struct Mapping {
  void* base = nullptr;
  std::size_t size = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (base != nullptr) ::munmap(base, size);
  }
};

// --- writing -------------------------------------------------------------------------------

}  // namespace

std::string npy_header(DType dtype, bool fortran, const std::vector<std::int64_t>& shape) {
  const char order = kHostBigEndian ? '>' : '<';
  std::string shape_text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) shape_text += (i ? ", " : "") + std::to_string(shape[i]);
  shape_text += shape.size() == 1 ? ",)" : ")";
  std::string dict = std::string("{'descr': '") + order + (dtype == DType::float32 ? "f4" : "f8") +
                     "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape_text +
                     ", }";
  // NumPy leaves room so the growth axis (the first in C order, the last in Fortran order)
  // can reach 21 digits when a file is appended to in place.
  const std::string growth = std::to_string(fortran ? shape.back() : shape.front());
  dict.append(21 - std::min<std::size_t>(21, growth.size()), ' ');
  const std::size_t hlen = dict.size() + 1;  // + '\n'
  for (const int major : {1, 2}) {
    const std::size_t prefix = kMagicLen + 2 + (major == 1 ? 2u : 4u);
    const std::size_t pad = kAlign - (prefix + hlen) % kAlign;  // NumPy pads a full 64 when even
    const std::size_t total = hlen + pad;
    if (major == 1 && total > 0xffff) continue;
    std::string out(kMagic, kMagicLen);
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < prefix - kMagicLen - 2; ++i) out += static_cast<char>((total >> (8 * i)) & 0xff);
    out += dict;
    out.append(pad, ' ');
    out += '\n';
    return out;
  }
  throw InvalidArgument("npy header too large");  // unreachable for 1-D and 2-D shapes
}

// --- NpyArray ------------------------------------------------------------------------------

NpyArray::NpyArray(NpyArray&& other) noexcept { *this = std::move(other); }

NpyArray& NpyArray::operator=(NpyArray&& other) noexcept {
  if (this == &other) return *this;
  release();
  name_ = std::move(other.name_);
  descr_ = std::move(other.descr_);
  dtype_ = other.dtype_;
  shape_ = std::move(other.shape_);
  fortran_order_ = other.fortran_order_;
  data_ = std::exchange(other.data_, nullptr);
  map_ = std::exchange(other.map_, nullptr);
  map_size_ = std::exchange(other.map_size_, 0);
  owned_ = std::move(other.owned_);
  packed_ = std::move(other.packed_);
  packed_target_ = std::exchange(other.packed_target_, -1);
  selected_ = std::move(other.selected_);
  other.shape_.clear();
  return *this;
}

NpyArray::~NpyArray() { release(); }

void NpyArray::release() noexcept {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
  data_ = nullptr;
  owned_.reset();
  packed_.reset();
  packed_target_ = -1;
  selected_.reset();
}

NpyArray NpyArray::load(const unsigned char* bytes, std::size_t size, const std::string& name,
                        bool borrow) {
  const Header h = parse_header(bytes, size, name);
  NpyArray a;
  a.name_ = name;
  a.descr_ = h.descr.text;
  a.shape_ = h.shape;
  a.fortran_order_ = h.shape.size() == 2 && h.fortran_order;
  const bool f32 = h.descr.kind == Kind::floating && h.descr.size == 4;
  a.dtype_ = f32 ? DType::float32 : DType::float64;
  const std::int64_t n = a.rows() * a.cols();
  const unsigned char* src = bytes + h.data_offset;
  const bool in_place = borrow && h.descr.kind == Kind::floating && !h.descr.swap &&
                        reinterpret_cast<std::uintptr_t>(src) % static_cast<std::uintptr_t>(h.descr.size) == 0;
  if (in_place) {
    a.data_ = src;
  } else {
    a.owned_ = converted(src, n, h.descr);
    a.data_ = a.owned_.get();
  }
  if (h.descr.kind == Kind::floating) {
    const auto* p = static_cast<const unsigned char*>(a.data_);
    const std::int64_t bad = f32 ? first_non_finite<std::uint32_t>(p, n) : first_non_finite<std::uint64_t>(p, n);
    if (bad >= 0) {
      const std::int64_t row = a.fortran_order_ ? bad % a.rows() : bad / a.cols();
      const std::int64_t col = a.fortran_order_ ? bad / a.rows() : bad % a.cols();
      const std::string where = h.shape.size() == 1 ? "at row " + std::to_string(row)
                                                    : "at row " + std::to_string(row) + ", column " + std::to_string(col);
      fail(name, "non-finite value (" + (f32 ? value_text<float>(a.data_, bad) : value_text<double>(a.data_, bad)) +
                     ") " + where + " (0-based)");
    }
  }
  return a;
}

MatrixView NpyArray::matrix() const {
  if (fortran_order_) return {data_, rows(), cols(), rows(), dtype_, Layout::col_major};
  return {data_, rows(), cols(), cols(), dtype_, Layout::row_major};
}

VectorView NpyArray::vector() const {
  if (shape_.size() == 2 && rows() != 1 && cols() != 1)
    fail(name_, "is a " + std::to_string(rows()) + " x " + std::to_string(cols()) +
                    " matrix, not a vector (need a 1-D array or a single row or column)");
  return {data_, rows() * cols(), 1, dtype_};
}

std::int64_t NpyArray::resolve_column(std::int64_t j) const {
  const std::int64_t c = cols();
  const std::int64_t k = j < 0 ? j + c : j;
  if (k < 0 || k >= c)
    fail(name_, "column index " + std::to_string(j) + " is out of range (the array has " + std::to_string(c) +
                    " column" + (c == 1 ? "" : "s") + ", indices 0.." + std::to_string(c - 1) + ")");
  return k;
}

VectorView NpyArray::column(std::int64_t j) const {
  const std::int64_t k = resolve_column(j);
  const std::int64_t esize = dtype_size(dtype_);
  const auto* base = static_cast<const unsigned char*>(data_);
  if (fortran_order_) return {base + k * rows() * esize, rows(), 1, dtype_};
  return {base + k * esize, rows(), cols(), dtype_};
}

MatrixView NpyArray::columns_except(std::int64_t target) {
  const std::int64_t k = resolve_column(target);
  const std::int64_t n = rows(), c = cols(), esize = dtype_size(dtype_);
  if (c < 2) fail(name_, "has a single column; no feature columns remain besides the target");
  const auto* base = static_cast<const unsigned char*>(data_);
  const bool edge = k == 0 || k == c - 1;
  if (fortran_order_) {
    if (edge) return {base + (k == 0 ? n * esize : 0), n, c - 1, n, dtype_, Layout::col_major};
  } else if (edge) {
    return {base + (k == 0 ? esize : 0), n, c - 1, c, dtype_, Layout::row_major};
  }
  // A middle column: no single view skips it, so pack the others once.
  const Layout layout = fortran_order_ ? Layout::col_major : Layout::row_major;
  const std::int64_t packed_stride = fortran_order_ ? n : c - 1;
  if (packed_ == nullptr || packed_target_ != k) {
    packed_.reset();
    packed_target_ = -1;
    std::unique_ptr<unsigned char[]> out(new unsigned char[static_cast<std::size_t>(n * (c - 1) * esize)]);
    if (fortran_order_) {
      // Columns before the target are one block, the columns after it another.
      std::memcpy(out.get(), base, static_cast<std::size_t>(k * n * esize));
      std::memcpy(out.get() + k * n * esize, base + (k + 1) * n * esize,
                  static_cast<std::size_t>((c - 1 - k) * n * esize));
    } else {
      const auto left = static_cast<std::size_t>(k * esize);
      const auto right = static_cast<std::size_t>((c - 1 - k) * esize);
      for (std::int64_t i = 0; i < n; ++i) {
        const unsigned char* row = base + i * c * esize;
        unsigned char* dst = out.get() + i * (c - 1) * esize;
        std::memcpy(dst, row, left);
        std::memcpy(dst + left, row + (k + 1) * esize, right);
      }
    }
    packed_ = std::move(out);
    packed_target_ = k;
  }
  return {packed_.get(), n, c - 1, packed_stride, dtype_, layout};
}

MatrixView NpyArray::select(const std::vector<std::int64_t>& columns) {
  const std::int64_t n = rows(), c = cols(), esize = dtype_size(dtype_);
  const auto k = static_cast<std::int64_t>(columns.size());
  if (k == 0) fail(name_, "no columns selected");
  std::vector<bool> seen(static_cast<std::size_t>(c), false);
  for (const std::int64_t j : columns) {
    if (j < 0 || j >= c)
      fail(name_, "column index " + std::to_string(j) + " is out of range (the array has " + std::to_string(c) +
                      " column" + (c == 1 ? "" : "s") + ", indices 0.." + std::to_string(c - 1) + ")");
    if (seen[static_cast<std::size_t>(j)]) fail(name_, "column " + std::to_string(j) + " selected twice");
    seen[static_cast<std::size_t>(j)] = true;
  }
  const bool ascending = std::is_sorted(columns.begin(), columns.end());
  if (ascending && k == c) return matrix();
  if (ascending && k == c - 1) {
    std::int64_t missing = 0;
    while (missing < c && seen[static_cast<std::size_t>(missing)]) ++missing;
    return columns_except(missing);
  }
  const auto* base = static_cast<const unsigned char*>(data_);
  selected_.reset(new unsigned char[static_cast<std::size_t>(n * k * esize)]);
  unsigned char* out = selected_.get();
  if (fortran_order_) {
    for (std::int64_t q = 0; q < k; ++q)
      std::memcpy(out + q * n * esize, base + columns[static_cast<std::size_t>(q)] * n * esize,
                  static_cast<std::size_t>(n * esize));
    return {out, n, k, n, dtype_, Layout::col_major};
  }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t q = 0; q < k; ++q)
      std::memcpy(out + (i * k + q) * esize, base + (i * c + columns[static_cast<std::size_t>(q)]) * esize,
                  static_cast<std::size_t>(esize));
  return {out, n, k, k, dtype_, Layout::row_major};
}

// --- reading -------------------------------------------------------------------------------

NpyArray parse_npy(const void* bytes, std::size_t size, const std::string& name) {
  if (bytes == nullptr && size != 0) fail(name, "no data");
  static const unsigned char kEmpty = 0;
  return NpyArray::load(bytes != nullptr ? static_cast<const unsigned char*>(bytes) : &kEmpty, size, name,
                        /*borrow=*/false);
}

NpyArray read_npy(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open the file (") + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    fail(path, dir ? "is a directory, not a .npy file" : "not a regular file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    fail(path, "the file is empty (too short for a .npy file)");
  }
  // One private read-only mapping: float data in the host byte order are used in place, the
  // rest is converted from it in one pass.  The scan for non-finite values reads it in order.
  Mapping map;
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (base == MAP_FAILED) fail(path, std::string("cannot map the file (") + std::strerror(map_errno) + ")");
  map.base = base;
  map.size = size;
  ::madvise(base, size, MADV_SEQUENTIAL);
  NpyArray a = NpyArray::load(static_cast<const unsigned char*>(base), size, path, /*borrow=*/true);
  if (a.owned_ == nullptr) {  // used in place: the array keeps the mapping
    a.map_ = std::exchange(map.base, nullptr);
    a.map_size_ = size;
  }
  return a;
}

// --- writing -------------------------------------------------------------------------------

void write_npy(const std::string& path, const MatrixView& m) {
  const std::string what = "cannot write '" + path + "'";
  if (m.data == nullptr) throw InvalidArgument(what + ": the matrix view has no data");
  if (m.rows <= 0 || m.cols <= 0)
    throw InvalidArgument(what + ": the matrix is empty (" + std::to_string(m.rows) + " x " +
                          std::to_string(m.cols) + ")");
  const bool col_major = m.layout == Layout::col_major;
  const std::int64_t lines = col_major ? m.cols : m.rows;  // contiguous runs in memory
  const std::int64_t run = col_major ? m.rows : m.cols;    // elements per run
  const std::int64_t stride = m.stride == 0 ? run : m.stride;
  if (stride < run)
    throw InvalidArgument(what + ": stride " + std::to_string(m.stride) + " is smaller than the " +
                          (col_major ? "rows " : "columns ") + std::to_string(run));
  const std::int64_t esize = dtype_size(m.dtype);
  AtomicFile out(path);  // streamed: the data is never copied into a buffer first
  out.write(npy_header(m.dtype, col_major, {m.rows, m.cols}));
  const auto* src = static_cast<const char*>(m.data);
  if (stride == run)
    out.write(src, static_cast<std::size_t>(lines * run * esize));
  else
    for (std::int64_t l = 0; l < lines; ++l) out.write(src + l * stride * esize, static_cast<std::size_t>(run * esize));
  out.commit();
}

void write_npy(const std::string& path, const VectorView& v) {
  const std::string what = "cannot write '" + path + "'";
  if (v.data == nullptr) throw InvalidArgument(what + ": the vector view has no data");
  if (v.size <= 0) throw InvalidArgument(what + ": the vector is empty");
  if (v.stride < 1) throw InvalidArgument(what + ": stride " + std::to_string(v.stride) + " is not positive");
  const std::int64_t esize = dtype_size(v.dtype);
  AtomicFile out(path);
  out.write(npy_header(v.dtype, false, {v.size}));
  const auto* src = static_cast<const char*>(v.data);
  if (v.stride == 1) {
    out.write(src, static_cast<std::size_t>(v.size * esize));
  } else {
    std::vector<char> packed(static_cast<std::size_t>(v.size * esize));
    for (std::int64_t i = 0; i < v.size; ++i)
      std::memcpy(packed.data() + i * esize, src + i * v.stride * esize, static_cast<std::size_t>(esize));
    out.write(packed.data(), packed.size());
  }
  out.commit();
}

}  // namespace steepest::io
