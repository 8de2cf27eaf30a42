// Text from input files, made safe to show: in messages (escaped and truncated, so that a
// 20 MB cell or a terminal escape sequence from a file cannot flood or drive the terminal,
// and a NUL byte does not cut the message) and in JSON (valid UTF-8).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace steepest::io {

namespace text_detail {

/// Length of the valid UTF-8 sequence at s[i] (2 to 4 bytes, no overlong forms, no
/// surrogates, at most U+10FFFF), or 0 when the bytes there are not one.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}

inline void append_hex(std::string& out, unsigned char c) {
  static const char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[c >> 4];
  out += kDigits[c & 15];
}

}  // namespace text_detail

/// \p s for a message: printable ASCII and valid UTF-8 as they are; control bytes (NUL,
/// ESC, DEL, the C1 controls U+0080..U+009F) and invalid UTF-8 as \xNN, a backslash as \\,
/// \p quote (when not 0) as \ and the quote.  At most \p max bytes of \p s are shown; "..."
/// marks the cut.
inline std::string printable(std::string_view s, std::size_t max = 40, char quote = 0) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size() && i < max) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\' || (quote != 0 && c == static_cast<unsigned char>(quote))) out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t n = c >= 0x80 ? text_detail::utf8_sequence(s, i) : 0;
    const bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
    if (n == 0 || c1) {
      text_detail::append_hex(out, c);
      ++i;
    } else {
      if (i + n > max) break;  // never split a character at the cut
      out.append(s.substr(i, n));
      i += n;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

/// printable() in single quotes: 'like this'.
inline std::string quoted(std::string_view s, std::size_t max = 40) {
  return "'" + printable(s, max, '\'') + "'";
}

/// \p s as valid UTF-8 for a JSON file: valid sequences kept, every other byte written as
/// the four characters \xNN.  The same function maps a data file's header names when they
/// are compared with the names a model file holds.
inline std::string utf8_safe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : text_detail::utf8_sequence(s, i);
    if (n == 0) {
      text_detail::append_hex(out, c);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace steepest::io
