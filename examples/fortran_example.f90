!> steepest from Fortran: fit y = 3 x1 - 2 x2 + 1 on a column-major array, in place.
!>   gfortran fortran_example.f90 $(pkg-config --cflags --libs steepest-fortran) -o fortran_example
program fortran_example
  use, intrinsic :: iso_c_binding
  use steepest
  implicit none
  integer, parameter :: n = 1000, d = 2
  real(c_double), target :: x(n, d), y(n)
  real(c_double) :: w(d), b
  type(c_ptr) :: options, result
  integer :: i

  do i = 1, n
    x(i, 1) = real(mod(i, 37), c_double) / 37
    x(i, 2) = real(mod(i, 11), c_double) / 11
    y(i) = 3 * x(i, 1) - 2 * x(i, 2) + 1
  end do
  call check(steepest_options_create(options))
  call check(steepest_set(options, "optimizer", "auto"))
  call check(steepest_set(options, "epochs", 500))
  call check(steepest_fit_arrays(x, y, options, result))
  call check(steepest_result_weights(result, w, int(d, c_int64_t)))
  call check(steepest_get_real(result, "bias", b))
  print '(A, 2F10.6, A, F10.6, 3A)', "w =", w, ", b =", b, " (", steepest_get_text(result, "stop_reason"), ")"
  call steepest_result_destroy(result)
  call steepest_options_destroy(options)

contains

  subroutine check(status)
    integer(c_int), intent(in) :: status
    if (status /= STEEPEST_OK) then
      print *, steepest_error_message()
      stop 1
    end if
  end subroutine check

end program fortran_example
