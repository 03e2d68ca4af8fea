#!/bin/sh
# Run every unit test binary given as arguments, then (unless E2E=0) every
# end-to-end test in tests/e2e, and count "ok"/"not ok" lines ("skipped"
# lines are shown and counted as neither). A program that exits non-zero
# without reporting a failure, or runs past its time, counts as one failure.
# Ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 111
out=tests/tmp/results
mkdir -p tests/tmp
: >"$out"
pass=0 fail=0

runone() { # name, command...
	name=$1; shift
	log=tests/tmp/$(basename "$name").log
	timeout -k 5 "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
	grep '^not ok ' "$log"
	# A test that cannot run here says why; it counts as neither.
	grep '^skipped ' "$log"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited $rc"; tail -n 20 "$log" | sed 's/^/    /'
		f=1
	fi
	echo "$name: $p passed, $f failed"
	pass=$((pass + p)); fail=$((fail + f))
}

for t in "$@"; do runone "$t" "./$t"; done
for t in tests/e2e/test_*.py; do
	[ "${E2E:-1}" = 0 ] && break
	[ -e "$t" ] || continue
	runone "$t" python3 "$t"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
