!> The Fortran module of steepest: the C API (include/steepest/steepest.h) through
!> iso_c_binding, and wrappers that take Fortran strings and arrays.
!>
!> Arrays are used in place: steepest_matrix_of(x) describes a contiguous x(n, d) as a
!> column-major matrix (its leading dimension n) without copying it; the array must have
!> the target attribute and outlive the call that uses the view.
!>
!>   use steepest
!>   type(c_ptr) :: opt, res
!>   real(c_double), target :: x(n, d), y(n)
!>   stat = steepest_options_create(opt)
!>   stat = steepest_set(opt, "learning_rate", "auto")
!>   stat = steepest_fit_arrays(x, y, opt, res)
!>   if (stat /= STEEPEST_OK) print *, steepest_error_message()
module steepest
  use, intrinsic :: iso_c_binding
  implicit none
  private

  ! ---- status codes, dtypes, layouts (steepest.h) ----------------------------------------
  integer(c_int), parameter, public :: STEEPEST_OK = 0, STEEPEST_ERROR_INVALID_ARGUMENT = 1, &
    STEEPEST_ERROR_DEVICE_UNAVAILABLE = 2, STEEPEST_ERROR_CUDA = 3, STEEPEST_ERROR_OUT_OF_MEMORY = 4, &
    STEEPEST_ERROR_BUFFER_TOO_SMALL = 5, STEEPEST_ERROR_INTERNAL = 6
  integer(c_int32_t), parameter, public :: STEEPEST_FLOAT32 = 0, STEEPEST_FLOAT64 = 1
  integer(c_int32_t), parameter, public :: STEEPEST_ROW_MAJOR = 0, STEEPEST_COL_MAJOR = 1

  type, bind(c), public :: steepest_matrix
    type(c_ptr) :: data = c_null_ptr
    integer(c_int64_t) :: rows = 0, cols = 0, stride = 0
    integer(c_int32_t) :: dtype = STEEPEST_FLOAT64, layout = STEEPEST_COL_MAJOR
  end type steepest_matrix

  type, bind(c), public :: steepest_vector
    type(c_ptr) :: data = c_null_ptr
    integer(c_int64_t) :: size = 0, stride = 1
    integer(c_int32_t) :: dtype = STEEPEST_FLOAT64
  end type steepest_vector

  type, bind(c), public :: steepest_metrics
    real(c_double) :: mse, rmse, mae, r2
  end type steepest_metrics

  ! ---- the C functions, as they are ------------------------------------------------------
  public :: steepest_options_create, steepest_options_destroy, steepest_fit, steepest_result_destroy, &
    steepest_result_weights, steepest_options_set_init_weights, steepest_predict, steepest_score, &
    steepest_stop_flag_create, steepest_stop_flag_destroy, steepest_stop_flag_raise, &
    steepest_options_set_stop_flag, steepest_options_set_mpi_fcomm
  interface
    function steepest_options_create(options) bind(c, name="steepest_options_create") result(status)
      import :: c_ptr, c_int
      type(c_ptr), intent(out) :: options
      integer(c_int) :: status
    end function
    subroutine steepest_options_destroy(options) bind(c, name="steepest_options_destroy")
      import :: c_ptr
      type(c_ptr), value :: options
    end subroutine
    function c_set_real(options, name, value) bind(c, name="steepest_options_set_real") result(status)
      import :: c_ptr, c_int, c_char, c_double
      type(c_ptr), value :: options
      character(kind=c_char), intent(in) :: name(*)
      real(c_double), value :: value
      integer(c_int) :: status
    end function
    function c_set_int(options, name, value) bind(c, name="steepest_options_set_int") result(status)
      import :: c_ptr, c_int, c_char, c_int64_t
      type(c_ptr), value :: options
      character(kind=c_char), intent(in) :: name(*)
      integer(c_int64_t), value :: value
      integer(c_int) :: status
    end function
    function c_set_text(options, name, value) bind(c, name="steepest_options_set_text") result(status)
      import :: c_ptr, c_int, c_char
      type(c_ptr), value :: options
      character(kind=c_char), intent(in) :: name(*), value(*)
      integer(c_int) :: status
    end function
    function steepest_options_set_init_weights(options, weights, count) &
        bind(c, name="steepest_options_set_init_weights") result(status)
      import :: c_ptr, c_int, c_double, c_int64_t
      type(c_ptr), value :: options
      real(c_double), intent(in) :: weights(*)
      integer(c_int64_t), value :: count
      integer(c_int) :: status
    end function
    function steepest_stop_flag_create(flag) bind(c, name="steepest_stop_flag_create") result(status)
      import :: c_ptr, c_int
      type(c_ptr), intent(out) :: flag
      integer(c_int) :: status
    end function
    subroutine steepest_stop_flag_destroy(flag) bind(c, name="steepest_stop_flag_destroy")
      import :: c_ptr
      type(c_ptr), value :: flag
    end subroutine
    subroutine steepest_stop_flag_raise(flag) bind(c, name="steepest_stop_flag_raise")
      import :: c_ptr
      type(c_ptr), value :: flag
    end subroutine
    function steepest_options_set_stop_flag(options, flag) bind(c, name="steepest_options_set_stop_flag") &
        result(status)
      import :: c_ptr, c_int
      type(c_ptr), value :: options, flag
      integer(c_int) :: status
    end function
    !> Only in a library built with MPI (a link error otherwise): comm is a Fortran
    !> communicator handle, e.g. MPI_COMM_WORLD.
    function steepest_options_set_mpi_fcomm(options, comm) bind(c, name="steepest_options_set_mpi_fcomm") &
        result(status)
      import :: c_ptr, c_int
      type(c_ptr), value :: options
      integer(c_int), value :: comm
      integer(c_int) :: status
    end function
    function steepest_fit(x, y, sample_weight, options, result) bind(c, name="steepest_fit") result(status)
      import :: c_ptr, c_int, steepest_matrix, steepest_vector
      type(steepest_matrix), intent(in) :: x
      type(steepest_vector), intent(in) :: y
      type(c_ptr), value :: sample_weight  ! c_loc of a steepest_vector, or c_null_ptr
      type(c_ptr), value :: options
      type(c_ptr), intent(out) :: result
      integer(c_int) :: status
    end function
    subroutine steepest_result_destroy(result) bind(c, name="steepest_result_destroy")
      import :: c_ptr
      type(c_ptr), value :: result
    end subroutine
    function steepest_result_weights(result, out, capacity) bind(c, name="steepest_result_weights") result(status)
      import :: c_ptr, c_int, c_double, c_int64_t
      type(c_ptr), value :: result
      real(c_double), intent(out) :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int) :: status
    end function
    function c_result_real(result, name, out) bind(c, name="steepest_result_real") result(status)
      import :: c_ptr, c_int, c_char, c_double
      type(c_ptr), value :: result
      character(kind=c_char), intent(in) :: name(*)
      real(c_double), intent(out) :: out
      integer(c_int) :: status
    end function
    function c_result_int(result, name, out) bind(c, name="steepest_result_int") result(status)
      import :: c_ptr, c_int, c_char, c_int64_t
      type(c_ptr), value :: result
      character(kind=c_char), intent(in) :: name(*)
      integer(c_int64_t), intent(out) :: out
      integer(c_int) :: status
    end function
    function c_result_text(result, name, out) bind(c, name="steepest_result_text") result(status)
      import :: c_ptr, c_int, c_char
      type(c_ptr), value :: result
      character(kind=c_char), intent(in) :: name(*)
      type(c_ptr), intent(out) :: out
      integer(c_int) :: status
    end function
    function c_result_history(result, name, out, capacity, length) bind(c, name="steepest_result_history") &
        result(status)
      import :: c_ptr, c_int, c_char, c_double, c_int64_t
      type(c_ptr), value :: result
      character(kind=c_char), intent(in) :: name(*)
      real(c_double), intent(out) :: out(*)
      integer(c_int64_t), value :: capacity
      integer(c_int64_t), intent(out) :: length
      integer(c_int) :: status
    end function
    function steepest_predict(x, weights, n_weights, bias, out, out_size) bind(c, name="steepest_predict") &
        result(status)
      import :: c_ptr, c_int, c_double, c_int64_t, steepest_matrix
      type(steepest_matrix), intent(in) :: x
      real(c_double), intent(in) :: weights(*)
      integer(c_int64_t), value :: n_weights
      real(c_double), value :: bias
      real(c_double), intent(out) :: out(*)
      integer(c_int64_t), value :: out_size
      integer(c_int) :: status
    end function
    function steepest_score(x, y, sample_weight, weights, n_weights, bias, out) bind(c, name="steepest_score") &
        result(status)
      import :: c_ptr, c_int, c_double, c_int64_t, steepest_matrix, steepest_vector, steepest_metrics
      type(steepest_matrix), intent(in) :: x
      type(steepest_vector), intent(in) :: y
      type(c_ptr), value :: sample_weight
      real(c_double), intent(in) :: weights(*)
      integer(c_int64_t), value :: n_weights
      real(c_double), value :: bias
      type(steepest_metrics), intent(out) :: out
      integer(c_int) :: status
    end function
    function c_last_error() bind(c, name="steepest_last_error") result(message)
      import :: c_ptr
      type(c_ptr) :: message
    end function
    function c_strlen(s) bind(c, name="strlen") result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: n
    end function
  end interface

  ! ---- wrappers: Fortran strings and arrays ----------------------------------------------
  public :: steepest_set, steepest_matrix_of, steepest_vector_of, steepest_fit_arrays, &
    steepest_get_real, steepest_get_int, steepest_get_text, steepest_get_history, steepest_error_message

  !> steepest_set(options, name, value): a real, an integer or a text option by name.
  interface steepest_set
    module procedure set_real, set_int64, set_int32, set_text
  end interface steepest_set

  !> A column-major view of a contiguous rank-2 array (float64 or float32), in place.
  interface steepest_matrix_of
    module procedure matrix_f64, matrix_f32
  end interface steepest_matrix_of

  !> A view of a contiguous rank-1 array (float64 or float32), in place.
  interface steepest_vector_of
    module procedure vector_f64, vector_f32
  end interface steepest_vector_of

contains

  pure function c_string(s) result(c)
    character(*), intent(in) :: s
    character(kind=c_char, len=len_trim(s) + 1) :: c
    c = trim(s) // c_null_char
  end function c_string

  !> A C string owned by the library, copied into a Fortran string.
  function from_c_string(p) result(s)
    type(c_ptr), intent(in) :: p
    character(:), allocatable :: s
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n
    if (.not. c_associated(p)) then
      s = ""
      return
    end if
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(n) :: s)
    do i = 1, n
      s(i:i) = chars(i)
    end do
  end function from_c_string

  !> The message of the last failure on this thread ("" when none).
  function steepest_error_message() result(message)
    character(:), allocatable :: message
    message = from_c_string(c_last_error())
  end function steepest_error_message

  integer(c_int) function set_real(options, name, value) result(status)
    type(c_ptr), intent(in) :: options
    character(*), intent(in) :: name
    real(c_double), intent(in) :: value
    status = c_set_real(options, c_string(name), value)
  end function set_real

  integer(c_int) function set_int64(options, name, value) result(status)
    type(c_ptr), intent(in) :: options
    character(*), intent(in) :: name
    integer(c_int64_t), intent(in) :: value
    status = c_set_int(options, c_string(name), value)
  end function set_int64

  integer(c_int) function set_int32(options, name, value) result(status)
    type(c_ptr), intent(in) :: options
    character(*), intent(in) :: name
    integer(c_int32_t), intent(in) :: value
    status = c_set_int(options, c_string(name), int(value, c_int64_t))
  end function set_int32

  integer(c_int) function set_text(options, name, value) result(status)
    type(c_ptr), intent(in) :: options
    character(*), intent(in) :: name, value
    status = c_set_text(options, c_string(name), c_string(value))
  end function set_text

  function matrix_f64(x) result(m)
    real(c_double), intent(in), target, contiguous :: x(:, :)
    type(steepest_matrix) :: m
    m = steepest_matrix(c_loc(x), size(x, 1, c_int64_t), size(x, 2, c_int64_t), size(x, 1, c_int64_t), &
                        STEEPEST_FLOAT64, STEEPEST_COL_MAJOR)
  end function matrix_f64

  function matrix_f32(x) result(m)
    real(c_float), intent(in), target, contiguous :: x(:, :)
    type(steepest_matrix) :: m
    m = steepest_matrix(c_loc(x), size(x, 1, c_int64_t), size(x, 2, c_int64_t), size(x, 1, c_int64_t), &
                        STEEPEST_FLOAT32, STEEPEST_COL_MAJOR)
  end function matrix_f32

  function vector_f64(v) result(view)
    real(c_double), intent(in), target, contiguous :: v(:)
    type(steepest_vector) :: view
    view = steepest_vector(c_loc(v), size(v, 1, c_int64_t), 1_c_int64_t, STEEPEST_FLOAT64)
  end function vector_f64

  function vector_f32(v) result(view)
    real(c_float), intent(in), target, contiguous :: v(:)
    type(steepest_vector) :: view
    view = steepest_vector(c_loc(v), size(v, 1, c_int64_t), 1_c_int64_t, STEEPEST_FLOAT32)
  end function vector_f32

  !> Fit on x(n, d) and y(n) in place (float64); options may be c_null_ptr for the
  !> defaults; sample_weight(n) is optional.  On success result is a new handle.
  integer(c_int) function steepest_fit_arrays(x, y, options, result, sample_weight) result(status)
    real(c_double), intent(in), target, contiguous :: x(:, :), y(:)
    type(c_ptr), intent(in) :: options
    type(c_ptr), intent(out) :: result
    real(c_double), intent(in), target, contiguous, optional :: sample_weight(:)
    type(steepest_vector), target :: w
    if (present(sample_weight)) then
      w = vector_f64(sample_weight)
      status = steepest_fit(matrix_f64(x), vector_f64(y), c_loc(w), options, result)
    else
      status = steepest_fit(matrix_f64(x), vector_f64(y), c_null_ptr, options, result)
    end if
  end function steepest_fit_arrays

  integer(c_int) function steepest_get_real(result, name, value) result(status)
    type(c_ptr), intent(in) :: result
    character(*), intent(in) :: name
    real(c_double), intent(out) :: value
    status = c_result_real(result, c_string(name), value)
  end function steepest_get_real

  integer(c_int) function steepest_get_int(result, name, value) result(status)
    type(c_ptr), intent(in) :: result
    character(*), intent(in) :: name
    integer(c_int64_t), intent(out) :: value
    status = c_result_int(result, c_string(name), value)
  end function steepest_get_int

  !> A text result ("stop_reason", "solver", ...); "" and a message on failure.
  function steepest_get_text(result, name) result(value)
    type(c_ptr), intent(in) :: result
    character(*), intent(in) :: name
    character(:), allocatable :: value
    type(c_ptr) :: p
    p = c_null_ptr
    if (c_result_text(result, c_string(name), p) /= STEEPEST_OK) p = c_null_ptr
    value = from_c_string(p)
  end function steepest_get_text

  !> A history ("loss", "heldout_loss") into an allocatable array of its length.
  integer(c_int) function steepest_get_history(result, name, values) result(status)
    type(c_ptr), intent(in) :: result
    character(*), intent(in) :: name
    real(c_double), allocatable, intent(out) :: values(:)
    integer(c_int64_t) :: length, written
    real(c_double) :: none(1)
    length = 0
    status = c_result_history(result, c_string(name), none, 0_c_int64_t, length)
    if (status /= STEEPEST_OK) return
    allocate(values(length))
    status = c_result_history(result, c_string(name), values, length, written)
  end function steepest_get_history

end module steepest
