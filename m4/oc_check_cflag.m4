# OC_CHECK_CFLAG(FLAG, ACTION-IF-OK, ACTION-IF-NOT)
# Compiles an empty program with FLAG (and -Werror, so an unknown warning option fails).
AC_DEFUN([OC_CHECK_CFLAG], [
    AC_MSG_CHECKING([whether $CC accepts $1])
    oc_save_CFLAGS="$CFLAGS"
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
        [AC_MSG_RESULT([yes]); CFLAGS="$oc_save_CFLAGS"; $2],
        [AC_MSG_RESULT([no]); CFLAGS="$oc_save_CFLAGS"; $3])
])
