/* \file
 * \brief The C API of steepest (C99; usable from C, C++ and Fortran's iso_c_binding).
 *
 * Conventions:
 *  - Every function that can fail returns a steepest_status; on failure
 *    steepest_last_error() holds the message (per thread).  No C++ exception and no abort
 *    ever leaves a function of this header: null pointers, bad dtypes, mismatched lengths
 *    and unknown names are all STEEPEST_ERROR_INVALID_ARGUMENT.
 *  - Data are caller-owned views (steepest_matrix, steepest_vector), never copied or
 *    modified: a Fortran array is a column-major matrix used in place.
 *  - Options are an opaque handle set by name (steepest_options_set_real/_int/_text), with
 *    the names of the C++ FitOptions fields: new options never change the layout of
 *    anything the caller compiled against.  Results are an opaque handle read by name.
 *  - Handles are created by the library and released by their _destroy function
 *    (which accepts NULL).
 *
 * \code
 *   steepest_matrix X = {x, n, d, 0, STEEPEST_FLOAT64, STEEPEST_ROW_MAJOR};
 *   steepest_vector y = {yv, n, 1, STEEPEST_FLOAT64};
 *   steepest_options* opt = NULL;
 *   steepest_result* res = NULL;
 *   steepest_options_create(&opt);
 *   steepest_options_set_text(opt, "learning_rate", "auto");
 *   if (steepest_fit(&X, &y, NULL, opt, &res) != STEEPEST_OK)
 *     fprintf(stderr, "%s\n", steepest_last_error());
 * \endcode
 */
#ifndef STEEPEST_STEEPEST_H
#define STEEPEST_STEEPEST_H

#include <stddef.h>
#include <stdint.h>

#include "steepest/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and messages ------------------------------------------------------------ */

typedef enum steepest_status {
  STEEPEST_OK = 0,
  STEEPEST_ERROR_INVALID_ARGUMENT = 1,   /* a bad value, view, length, name or state */
  STEEPEST_ERROR_DEVICE_UNAVAILABLE = 2, /* device "cuda" asked for, none usable */
  STEEPEST_ERROR_CUDA = 3,               /* a CUDA call failed */
  STEEPEST_ERROR_OUT_OF_MEMORY = 4,
  STEEPEST_ERROR_BUFFER_TOO_SMALL = 5,   /* an output array shorter than the answer */
  STEEPEST_ERROR_INTERNAL = 6            /* anything else (a bug: please report it) */
} steepest_status;

/* The message of the last failure on this thread ("" when none); valid until the next
 * call on this thread. */
STEEPEST_API const char* steepest_last_error(void);
/* The library's version, e.g. "0.1.0". */
STEEPEST_API const char* steepest_version(void);

/* ---- data views ---------------------------------------------------------------------- */

enum { STEEPEST_FLOAT32 = 0, STEEPEST_FLOAT64 = 1 };       /* dtype */
enum { STEEPEST_ROW_MAJOR = 0, STEEPEST_COL_MAJOR = 1 };   /* layout */

/* An n x d matrix: element (i, j) at data[i * stride + j] (row-major) or
 * data[j * stride + i] (column-major); stride counts elements, 0 = packed (d or n). */
typedef struct steepest_matrix {
  const void* data;
  int64_t rows;
  int64_t cols;
  int64_t stride;
  int32_t dtype;
  int32_t layout;
} steepest_matrix;

/* A vector of size elements, stride elements apart (a column of a row-major table). */
typedef struct steepest_vector {
  const void* data;
  int64_t size;
  int64_t stride;
  int32_t dtype;
} steepest_vector;

/* ---- options ------------------------------------------------------------------------- */

typedef struct steepest_options steepest_options;

/* Options with every default of FitOptions (as the CLI's). */
STEEPEST_API steepest_status steepest_options_create(steepest_options** out);
STEEPEST_API void steepest_options_destroy(steepest_options* options);

/* Real options: learning_rate, momentum, beta1, beta2, epsilon, l2, l1, power_t, decay,
 * tol, validation_fraction, init_bias, validate_tolerance. */
STEEPEST_API steepest_status steepest_options_set_real(steepest_options* options, const char* name, double value);
/* Integer options: epochs, batch_size, shuffle_block, seed (>= 0), step_epochs, n_iter_no_change, threads,
 * cuda_device (-1 or a device index), validate_every, checkpoint_every; and the switches 0/1: standardize, shuffle,
 * fit_intercept, auto_learning_rate, auto_momentum, estimate_condition. */
STEEPEST_API steepest_status steepest_options_set_int(steepest_options* options, const char* name, int64_t value);
/* Named choices: optimizer (gd, momentum, nesterov, adam, auto), schedule (constant,
 * invscaling, exponential, step, adaptive), device (auto, cpu, cuda), solver (auto,
 * residual, gram), history (exact, running); and learning_rate or momentum "auto". */
STEEPEST_API steepest_status steepest_options_set_text(steepest_options* options, const char* name,
                                                       const char* value);
/* The warm start: d initial weights (copied). */
STEEPEST_API steepest_status steepest_options_set_init_weights(steepest_options* options, const double* weights,
                                                               int64_t count);

/* Progress after every epoch; return 0 to stop the fit (stop reason "cancelled"). */
typedef struct steepest_epoch_report {
  int64_t epoch;          /* epochs done, 1-based */
  int64_t max_epochs;
  double loss;            /* the epoch's training objective */
  double heldout_loss;    /* NaN without held-out rows */
  double learning_rate;
  double bias;
  const double* weights;  /* valid during the call */
  int64_t n_weights;
} steepest_epoch_report;
typedef int (*steepest_epoch_callback)(const steepest_epoch_report* report, void* user);
STEEPEST_API steepest_status steepest_options_on_epoch(steepest_options* options, steepest_epoch_callback callback,
                                                       void* user);

/* Once before the first epoch (also when resuming): what the fit decided. */
typedef struct steepest_start_report {
  const char* optimizer;  /* the rule that runs ("gd", "momentum", ...; never "auto") */
  double learning_rate;
  double momentum;        /* 0 unless momentum or nesterov */
  double curvature;       /* the Hessian's extreme eigenvalues and their ratio when */
  double min_curvature;   /* estimated, else 0 */
  double condition_number;
  int64_t expected_epochs; /* 0 when unknown */
  int64_t max_epochs;
} steepest_start_report;
typedef void (*steepest_start_callback)(const steepest_start_report* report, void* user);
STEEPEST_API steepest_status steepest_options_on_start(steepest_options* options, steepest_start_callback callback,
                                                       void* user);

/* After every optimizer step (reads the parameters back: for small runs and pictures). */
typedef struct steepest_step_report {
  int64_t epoch;          /* the epoch in progress, 1-based */
  int64_t step;           /* steps taken in it, 1-based */
  double batch_loss;      /* MSE of the step's rows before the step */
  double learning_rate;
  double bias;
  const double* weights;  /* after the step; valid during the call */
  int64_t n_weights;
} steepest_step_report;
typedef void (*steepest_step_callback)(const steepest_step_report* report, void* user);
STEEPEST_API steepest_status steepest_options_on_step(steepest_options* options, steepest_step_callback callback,
                                                      void* user);

/* Callbacks are called on the fitting thread (with MPI: on every process) and must return
 * normally (no longjmp, no C++ exception through the library). */

/* A stop request, shared with a signal handler or another thread: after
 * steepest_stop_flag_raise the fit ends after its current step (stop reason
 * "interrupted") and hands its state to the checkpoint callback. */
typedef struct steepest_stop_flag steepest_stop_flag;
STEEPEST_API steepest_status steepest_stop_flag_create(steepest_stop_flag** out);
STEEPEST_API void steepest_stop_flag_destroy(steepest_stop_flag* flag);
/* Async-signal-safe. */
STEEPEST_API void steepest_stop_flag_raise(steepest_stop_flag* flag);
STEEPEST_API void steepest_stop_flag_clear(steepest_stop_flag* flag);
/* The flag must outlive every fit that uses these options. */
STEEPEST_API steepest_status steepest_options_set_stop_flag(steepest_options* options, steepest_stop_flag* flag);

/* Checkpoints as bytes: every `every` epochs (0: only at a stop and at the end), the fit's
 * state serialised (a versioned binary format of this library); `bytes` is valid during
 * the call.  steepest_options_set_resume continues from such bytes (copied, checked). */
typedef void (*steepest_checkpoint_callback)(const void* bytes, size_t size, int64_t epoch, void* user);
STEEPEST_API steepest_status steepest_options_on_checkpoint(steepest_options* options, int64_t every,
                                                            steepest_checkpoint_callback callback, void* user);
STEEPEST_API steepest_status steepest_options_set_resume(steepest_options* options, const void* bytes, size_t size);

/* ---- fit and its result -------------------------------------------------------------- */

typedef struct steepest_result steepest_result;

/* Fit (w, b) on X (rows x d) and y (rows); sample_weight may be NULL, options NULL for the
 * defaults.  On success *result is a new handle. */
STEEPEST_API steepest_status steepest_fit(const steepest_matrix* X, const steepest_vector* y,
                                          const steepest_vector* sample_weight, const steepest_options* options,
                                          steepest_result** result);
STEEPEST_API void steepest_result_destroy(steepest_result* result);

/* The d fitted weights into out[0..capacity). */
STEEPEST_API steepest_status steepest_result_weights(const steepest_result* result, double* out, int64_t capacity);
/* Reals: bias, final_mse, heldout_mse, learning_rate, final_learning_rate, curvature,
 * min_curvature, condition_number, momentum, wall_seconds, setup_seconds, gram_seconds. */
STEEPEST_API steepest_status steepest_result_real(const steepest_result* result, const char* name, double* out);
/* Integers: n_weights, epochs_run, steps_into_epoch, heldout_rows, expected_epochs,
 * validation_passed. */
STEEPEST_API steepest_status steepest_result_int(const steepest_result* result, const char* name, int64_t* out);
/* Texts (valid while the result lives): stop_reason, message, backend, device_name,
 * solver, optimizer. */
STEEPEST_API steepest_status steepest_result_text(const steepest_result* result, const char* name,
                                                  const char** out);
/* Histories "loss" (epochs_run + 1 values) and "heldout_loss": *length gets the full
 * length; out[0..min(capacity, length)) the values (out may be NULL with capacity 0). */
STEEPEST_API steepest_status steepest_result_history(const steepest_result* result, const char* name, double* out,
                                                     int64_t capacity, int64_t* length);

/* ---- evaluate, predict, score ------------------------------------------------------- */

/* The MSE (weighted when sample_weight is not NULL) and its gradient at (weights, bias);
 * grad_weights (n_weights values) and grad_bias may be NULL.  options: device, threads. */
STEEPEST_API steepest_status steepest_evaluate(const steepest_matrix* X, const steepest_vector* y,
                                               const steepest_vector* sample_weight, const double* weights,
                                               int64_t n_weights, double bias, const steepest_options* options,
                                               double* mse, double* grad_weights, double* grad_bias);
/* out[i] = x_i . w + b for the X.rows rows (out_size >= X.rows). */
STEEPEST_API steepest_status steepest_predict(const steepest_matrix* X, const double* weights, int64_t n_weights,
                                              double bias, double* out, int64_t out_size);

typedef struct steepest_metrics {
  double mse, rmse, mae, r2;
} steepest_metrics;
STEEPEST_API steepest_status steepest_score(const steepest_matrix* X, const steepest_vector* y,
                                            const steepest_vector* sample_weight, const double* weights,
                                            int64_t n_weights, double bias, steepest_metrics* out);

#ifdef __cplusplus
}
#endif

#endif /* STEEPEST_STEEPEST_H */
