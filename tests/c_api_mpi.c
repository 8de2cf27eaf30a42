/* The C API's communicator (steepest_mpi.h) under mpirun -np 3: each rank passes its own
 * third of the rows; every rank must get the same bits, and the fit must be the one of a
 * single process holding all the rows (to rounding: a split made through the API sums in
 * its own groups).  The Fortran handle path (MPI_Fint) must give the same bits as MPI_Comm.
 * Exit status 0 only when all of it holds. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "steepest/steepest_mpi.h"

enum { n = 900, d = 3 };
static double x[n][d], y[n];

static int fit(const steepest_matrix* X, const steepest_vector* Y, int how, double out[d + 1]) {
  steepest_options* o = NULL;
  steepest_result* r = NULL;
  int ok = steepest_options_create(&o) == STEEPEST_OK && steepest_options_set_int(o, "epochs", 200) == STEEPEST_OK &&
           steepest_options_set_text(o, "learning_rate", "auto") == STEEPEST_OK;
  if (ok && how == 1) ok = steepest_options_set_mpi_comm(o, MPI_COMM_WORLD) == STEEPEST_OK;
  if (ok && how == 2) ok = steepest_options_set_mpi_fcomm(o, MPI_Comm_c2f(MPI_COMM_WORLD)) == STEEPEST_OK;
  ok = ok && steepest_fit(X, Y, NULL, o, &r) == STEEPEST_OK && steepest_result_weights(r, out, d) == STEEPEST_OK &&
       steepest_result_real(r, "bias", &out[d]) == STEEPEST_OK;
  if (!ok) fprintf(stderr, "c_api_mpi: %s\n", steepest_last_error());
  steepest_result_destroy(r);
  steepest_options_destroy(o);
  return ok;
}

int main(int argc, char** argv) {
  int rank = 0, size = 1, i, j, ok = 1, all_ok = 0;
  double alone[d + 1], comm[d + 1], fcomm[d + 1], lo[d + 1], hi[d + 1];
  steepest_matrix X = {x, n, d, 0, STEEPEST_FLOAT64, STEEPEST_ROW_MAJOR};
  steepest_vector Y = {y, n, 1, STEEPEST_FLOAT64};
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (i = 0; i < n; ++i) {
    for (j = 0; j < d; ++j) x[i][j] = (double)((i * (j + 3)) % 101) / 101.0;
    y[i] = x[i][0] - x[i][1] + x[i][2] + (double)(i % 7) / 70.0;
  }
  ok = fit(&X, &Y, 0, alone);
  /* This rank's rows: a contiguous block, rank 0's first. */
  X.data = x[rank * n / size];
  X.rows = Y.size = (rank + 1) * n / size - rank * n / size;
  Y.data = &y[rank * n / size];
  ok = ok && fit(&X, &Y, 1, comm) && fit(&X, &Y, 2, fcomm);
  for (i = 0; ok && i <= d; ++i) {
    if (memcmp(&comm[i], &fcomm[i], sizeof(double)) != 0 || fabs(comm[i] - alone[i]) > 1e-12 * (1 + fabs(alone[i]))) {
      fprintf(stderr, "c_api_mpi rank %d: value %d: %.17g (MPI_Fint %.17g) vs one process %.17g\n", rank, i, comm[i],
              fcomm[i], alone[i]);
      ok = 0;
    }
  }
  MPI_Allreduce(comm, lo, d + 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(comm, hi, d + 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (memcmp(lo, hi, sizeof lo) != 0) ok = 0; /* every rank the same bits */
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0) printf("c_api_mpi: %d ranks, w = (%.9f, %.9f, %.9f), b = %.9f: %s\n", size, comm[0], comm[1], comm[2],
                        comm[3], all_ok ? "ok" : "FAILED");
  MPI_Finalize();
  return all_ok ? 0 : 1;
}
