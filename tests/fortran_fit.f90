!> A column-major Fortran array fitted in place through the Fortran module; prints the
!> bits of the result for tests/test_fortran.cpp, which fits the same data with the C++
!> API.  The data are made by divisions and additions only (no product a compiler could
!> fuse into an FMA), so both languages build the same bits.
program fortran_fit
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  use steepest
  implicit none
  integer, parameter :: n = 500, d = 3
  real(c_double), target :: x(n, d), y(n), w(n)
  real(c_double) :: weights(d), bias, mse
  integer(c_int64_t) :: epochs
  type(c_ptr) :: opt, res
  real(c_double), allocatable :: history(:)
  integer :: i, j
  integer(c_int) :: status

  do j = 1, d
    do i = 1, n
      x(i, j) = real(mod(i * 37 + j * 101, 211), c_double) / 211.0_c_double - 0.5_c_double
    end do
  end do
  do i = 1, n
    y(i) = x(i, 1) + x(i, 2) - x(i, 3) + real(mod(i * 53, 97), c_double) / 9700.0_c_double
    w(i) = real(1 + mod(i, 4), c_double)
  end do

  call check(steepest_options_create(opt), "options_create")
  ! An unknown name is refused with a message, not a crash (two statements: Fortran may
  ! evaluate the operands of .or. in any order).
  status = steepest_set(opt, "learning_rat", 0.1_c_double)
  if (status /= STEEPEST_ERROR_INVALID_ARGUMENT .or. index(steepest_error_message(), "learning_rate") == 0) then
    write (error_unit, *) "an unknown option was not refused"
    stop 1
  end if
  call check(steepest_set(opt, "optimizer", "momentum"), "optimizer")
  call check(steepest_set(opt, "learning_rate", "auto"), "learning_rate")
  call check(steepest_set(opt, "epochs", 300), "epochs")
  call check(steepest_set(opt, "batch_size", 64_c_int64_t), "batch_size")
  call check(steepest_set(opt, "seed", 5), "seed")
  call check(steepest_fit_arrays(x, y, opt, res, sample_weight=w), "fit")
  call check(steepest_result_weights(res, weights, int(d, c_int64_t)), "weights")
  call check(steepest_get_real(res, "bias", bias), "bias")
  call check(steepest_get_real(res, "final_mse", mse), "final_mse")
  call check(steepest_get_int(res, "epochs_run", epochs), "epochs_run")
  call check(steepest_get_history(res, "loss", history), "history")
  write (*, '(A, *(1X, Z16.16))') "bits", transfer(weights, [0_c_int64_t]), transfer(bias, 0_c_int64_t), &
    transfer(mse, 0_c_int64_t), transfer(history(size(history)), 0_c_int64_t)
  write (*, '(A, 1X, I0, 1X, A, 1X, I0)') "epochs", epochs, steepest_get_text(res, "stop_reason"), size(history)
  call steepest_result_destroy(res)
  call steepest_options_destroy(opt)
  deallocate(history)  ! a main program's allocatables live to the end: LeakSanitizer counts them

contains

  subroutine check(status, what)
    integer(c_int), intent(in) :: status
    character(*), intent(in) :: what
    if (status /= STEEPEST_OK) then
      write (error_unit, *) what, ": ", steepest_error_message()
      stop 1
    end if
  end subroutine check

end program fortran_fit
