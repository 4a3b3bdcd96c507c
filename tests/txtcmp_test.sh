#!/bin/sh
# txtcmp_test.sh - the transcript comparer passes what another CPU's
# rounding changes and fails everything else.
: "${TXTCMP:=$(pwd)/tests/txtcmp}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
# same|differ name expected actual [flags]
t() {
    want=$1 name=$2
    printf '%s\n' "$3" >"$work/a"
    printf '%s\n' "$4" >"$work/b"
    shift 4
    # shellcheck disable=SC2086
    "$TXTCMP" "$@" "$work/a" "$work/b" >"$work/out" 2>&1
    rc=$?
    if { [ "$want" = same ] && [ $rc = 0 ]; } || { [ "$want" = differ ] && [ $rc = 1 ]; }; then
        pass=$((pass + 1)); echo "PASS: $name"
    else
        fail=$((fail + 1)); echo "FAIL: $name (exit $rc)"; cat "$work/out"
    fi
}
t same "identical" "loss: 0.0333" "loss: 0.0333"
t same "eighth digit of a float" "loss: 0.03329213" "loss: 0.03329214"
t same "a last fixed digit flipped by rounding" "loss: 0.0333 - accuracy: 0.9600" "loss: 0.0334 - accuracy: 0.9600"
t differ "two fixed digits off" "loss: 0.0333" "loss: 0.0335"
t differ "a float off by 1e-3" "loss: 0.03329213" "loss: 0.03332213"
t differ "exact mode refuses rounding" "loss: 0.03329213" "loss: 0.03329214" -e
t same "a wider tolerance" "x 1.0" "x 1.00005" -t 1e-4
t differ "the default tolerance is tighter" "x 1.0" "x 1.00005"
t differ "integers exact: a shape" "(None, 123, 123, 32)" "(None, 123, 122, 32)"
t differ "integers exact: a count" "Total params: 13,610" "Total params: 13,611"
t differ "text exact" "dense (Dense)" "dense (Conv2D)"
t differ "punctuation exact" "(None, 3)" "(None 3)"
t differ "blanks alone differ" "dense (Dense)                (None, 10)" "dense (Dense)               (None, 10)"
t same "blanks follow a number's width" "[0.1        0.06075376]" "[0.10000001 0.06075376]"
t same "an array reflowed by a wider number" "[[0.1 0.2 0.3
  0.4]]" "[[0.10000001 0.2
  0.3 0.4]]"
t differ "an array with a wrong entry" "[[0.1 0.2 0.3
  0.4]]" "[[0.1 0.2 0.3
  0.5]]"
t same "near zero within the array's scale" "[0.5 0.00000001]" "[0.5 -0.00000001]"
t differ "short reprs are not fixed formats" "[0.1 0.2]" "[0.1 0.3]"
t differ "an extra line" "a" "a
b"
t differ "names with digits are text" "conv2d_1" "conv2d_2"
t same "exponents" "[1.2345678e-05 1.0e+00]" "[1.2345679e-05 1.0e+00]"
t differ "nan is text" "loss: nan" "loss: 0.5000"
t differ "a '[' in text does not swallow the next lines" "must be in [0, 1), got 1.5
a" "must be in [0, 1), got 1.5
b"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
