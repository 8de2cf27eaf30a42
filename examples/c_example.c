/* steepest from C: fit y = 3 x1 - 2 x2 + 1 on a row-major table, then predict.
 *   cc -std=c99 c_example.c $(pkg-config --cflags --libs steepest) -o c_example
 * (with the library outside the loader's path: LD_LIBRARY_PATH=$(pkg-config
 * --variable=libdir steepest) ./c_example) */
#include <stdio.h>

#include "steepest/steepest.h"

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != STEEPEST_OK) {                                      \
      fprintf(stderr, "%s: %s\n", #call, steepest_last_error());      \
      return 1;                                                       \
    }                                                                 \
  } while (0)

static int progress(const steepest_epoch_report* r, void* user) {
  (void)user;
  if (r->epoch % 100 == 0) printf("epoch %4lld  mse %.3e\n", (long long)r->epoch, r->loss);
  return 1; /* 0 would stop the fit */
}

int main(void) {
  enum { n = 1000, d = 2 };
  static double table[n][d], y[n];
  double w[d], b, prediction;
  const double query[d] = {0.5, 0.25};
  const char* reason;
  steepest_options* options = NULL;
  steepest_result* result = NULL;
  steepest_matrix X = {NULL, n, d, 0, STEEPEST_FLOAT64, STEEPEST_ROW_MAJOR};
  steepest_matrix Q = {NULL, 1, d, 0, STEEPEST_FLOAT64, STEEPEST_ROW_MAJOR};
  steepest_vector Y = {NULL, n, 1, STEEPEST_FLOAT64};
  int i;
  for (i = 0; i < n; ++i) {
    table[i][0] = (double)(i % 37) / 37.0;
    table[i][1] = (double)(i % 11) / 11.0;
    y[i] = 3.0 * table[i][0] - 2.0 * table[i][1] + 1.0;
  }
  X.data = table;
  Y.data = y;
  Q.data = query;

  CHECK(steepest_options_create(&options));
  CHECK(steepest_options_set_text(options, "optimizer", "auto")); /* from the spectrum */
  CHECK(steepest_options_set_int(options, "epochs", 500));
  CHECK(steepest_options_on_epoch(options, progress, NULL));
  CHECK(steepest_fit(&X, &Y, NULL, options, &result));
  CHECK(steepest_result_weights(result, w, d));
  CHECK(steepest_result_real(result, "bias", &b));
  CHECK(steepest_result_text(result, "stop_reason", &reason));
  printf("w = (%.6f, %.6f), b = %.6f (%s)\n", w[0], w[1], b, reason);
  CHECK(steepest_predict(&Q, w, d, b, &prediction, 1));
  printf("prediction at (0.5, 0.25): %.6f (exact 2)\n", prediction);
  steepest_result_destroy(result);
  steepest_options_destroy(options);
  return 0;
}
