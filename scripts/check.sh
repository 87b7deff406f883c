#!/usr/bin/env bash
# Static and dynamic thread checks (not part of the test command: each needs its own build).
#
#   scripts/check.sh thread-safety   clang's -Wthread-safety over every ABSL_GUARDED_BY field, as errors (build-tsa/)
#   scripts/check.sh tsan            ThreadSanitizer build (build-tsan/): the unit tests and e2e.daemons under TSan
#
# TSan reports races in uninstrumented libraries too (LibTorch's OpenMP pool, gRPC's own threads);
# tests/tsan.supp suppresses those by library, never the project's own code.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
case "${1:-}" in
  thread-safety)
    BT_BUILD_DIR=build-tsa scripts/build.sh -DBT_THREAD_SAFETY=ON -DBT_BUILD_TESTS=ON
    echo "thread-safety: clean (build-tsa)"
    ;;
  tsan)
    BT_BUILD_DIR=build-tsan scripts/build.sh -DBT_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
    export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1"
    ctest --test-dir build-tsan --output-on-failure --parallel "$(nproc)" --timeout 1200 ${TSAN_TESTS:+-R "$TSAN_TESTS"}
    echo "tsan: clean (build-tsan)"
    ;;
  *)
    echo "usage: scripts/check.sh thread-safety|tsan" >&2
    exit 2
    ;;
esac
