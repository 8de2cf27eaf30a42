// Shared declarations of the steepest._core extension.
#pragma once

#include <nanobind/nanobind.h>

namespace steepest::python {

/// Registers FitOptions and FitResult (options.cpp).
void bind_options(nanobind::module_& m);

}  // namespace steepest::python
