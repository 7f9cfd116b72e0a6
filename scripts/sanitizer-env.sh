# Sourced by the test scripts: how sanitizer findings end a run. Any report fails the test
# that triggered it (abort_on_error / halt_on_error), leaks included, with a stack trace.
# Child processes the tests start (docket-server, docket) inherit these. verify_asan_link_order=0
# lets the docket-tuf faketime test preload libfaketime ahead of the ASan runtime.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:verify_asan_link_order=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
