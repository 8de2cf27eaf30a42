/* \file
 * \brief STEEPEST_API: what the shared library libsteepest.so exports.  It is built with
 * hidden visibility, so only the C API (steepest_*) and the public C++ API marked with
 * this macro are visible; the internals (steepest::detail) stay inside.  Usable from C. */
#ifndef STEEPEST_EXPORT_H
#define STEEPEST_EXPORT_H

#if defined(_WIN32)
#define STEEPEST_API
#elif defined(__GNUC__) || defined(__clang__)
#define STEEPEST_API __attribute__((visibility("default")))
#else
#define STEEPEST_API
#endif

#endif /* STEEPEST_EXPORT_H */
