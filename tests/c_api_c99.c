/* The C API from plain C99 (compiled -std=c99 -pedantic-errors -Werror against
 * libsteepest.so): a fit of y = 2 x - 1 on a column-major array, the error path of a null
 * pointer, and the result read back.  Exit status 0 only when all of it holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "steepest/steepest.h"

static int fail(const char* what) {
  fprintf(stderr, "c_api_c99: %s (%s)\n", what, steepest_last_error());
  return 1;
}

int main(void) {
  enum { n = 200 };
  double x[n], y[n], w = 0.0, b = 0.0;
  const char* reason = NULL;
  int i;
  steepest_matrix X;
  steepest_vector Y;
  steepest_options* options = NULL;
  steepest_result* result = NULL;
  for (i = 0; i < n; ++i) {
    x[i] = (double)i / n;
    y[i] = 2.0 * x[i] - 1.0;
  }
  X.data = x; X.rows = n; X.cols = 1; X.stride = 0; X.dtype = STEEPEST_FLOAT64; X.layout = STEEPEST_COL_MAJOR;
  Y.data = y; Y.size = n; Y.stride = 1; Y.dtype = STEEPEST_FLOAT64;
  if (steepest_fit(NULL, &Y, NULL, NULL, &result) != STEEPEST_ERROR_INVALID_ARGUMENT || result != NULL ||
      strstr(steepest_last_error(), "X") == NULL)
    return fail("a null X was not refused with a message");
  if (steepest_options_create(&options) != STEEPEST_OK) return fail("options_create");
  if (steepest_options_set_text(options, "learning_rate", "auto") != STEEPEST_OK ||
      steepest_options_set_int(options, "epochs", 5000) != STEEPEST_OK ||
      steepest_options_set_real(options, "tol", 1e-12) != STEEPEST_OK)
    return fail("setting options");
  if (steepest_fit(&X, &Y, NULL, options, &result) != STEEPEST_OK) return fail("fit");
  if (steepest_result_weights(result, &w, 1) != STEEPEST_OK || steepest_result_real(result, "bias", &b) != STEEPEST_OK ||
      steepest_result_text(result, "stop_reason", &reason) != STEEPEST_OK)
    return fail("reading the result");
  printf("c_api_c99: w = %.12f, b = %.12f, stop reason %s, library %s\n", w, b, reason, steepest_version());
  steepest_result_destroy(result);
  steepest_options_destroy(options);
  return fabs(w - 2.0) < 1e-6 && fabs(b + 1.0) < 1e-6 ? 0 : fail("the fit missed y = 2 x - 1");
}
