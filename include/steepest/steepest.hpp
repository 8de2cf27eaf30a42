/// \file
/// \brief Everything in the steepest C++ API.
#pragma once

#include "steepest/communicator.hpp"
#include "steepest/data.hpp"
#include "steepest/device.hpp"
#include "steepest/error.hpp"
#include "steepest/fit.hpp"
#include "steepest/options.hpp"
#include "steepest/result.hpp"
#include "steepest/state.hpp"
#include "steepest/version.hpp"
