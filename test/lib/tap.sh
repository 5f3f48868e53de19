# shellcheck shell=bash
# TAP lines for the tier scripts (sourced): check DESCRIPTION EXPECTED ACTUAL
# prints "ok N - ..." or "not ok N - ..." with both values; $n counts the
# checks and $failures the failed ones.
n=0
failures=0
check() {
    n=$((n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $n - $1"
    else
        failures=$((failures + 1))
        echo "not ok $n - $1"
        echo "#   expected: $2"
        echo "#        got: $3" | head -n 40
    fi
}
