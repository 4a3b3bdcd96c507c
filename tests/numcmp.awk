# numcmp.awk - compares two text files line by line, numbers with a relative
# tolerance (tol, default 1e-4) and everything else exactly, ignoring how
# many blanks separate tokens. For runs whose BLAS kernels differ from the
# ones that made the expected output (valgrind). Exit 1 on a difference.
# usage: awk -v tol=1e-4 -f numcmp.awk expected actual
function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
function abs(x) { return x < 0 ? -x : x }
function max3(a, b, c) { m = a > b ? a : b; return m > c ? m : c }
BEGIN { if (tol == "") tol = 1e-4 }
FNR == NR { want[FNR] = $0; nwant = FNR; next }
{
    ngot = FNR
    a = want[FNR]; b = $0
    if (a == b) next
    na = split(a, ta, /[ \t\[\](),:]+/); nb = split(b, tb, /[ \t\[\](),:]+/)
    if (na != nb) { printf "line %d differs:\n- %s\n+ %s\n", FNR, a, b; bad = 1; next }
    for (i = 1; i <= na; i++) {
        if (ta[i] == tb[i]) continue
        if (isnum(ta[i]) && isnum(tb[i]) &&
            abs(ta[i] - tb[i]) <= tol * max3(1e-3, abs(ta[i]), abs(tb[i]))) continue
        printf "line %d differs:\n- %s\n+ %s\n", FNR, a, b; bad = 1; break
    }
}
END {
    if (ngot != nwant) { printf "%d lines expected, %d found\n", nwant, ngot; bad = 1 }
    exit bad
}
