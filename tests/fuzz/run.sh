#!/bin/sh
# Run the libFuzzer targets built by `make fuzz` (tests/fuzz/build/fuzz_*).
#   run.sh [-t SECONDS] [-j JOBS] [TARGET...]   fuzz each target SECONDS
#   run.sh --replay [TARGET...]                 run each target once over
#                                               its seeds and regressions
# Seeds in tests/fuzz/corpus/TARGET are read, never written: what a run
# finds goes to tests/fuzz/build/corpus/TARGET, crashes to
# tests/fuzz/build/artifacts/TARGET/. A crash, a leak or a timeout (5 s on
# one input) fails the run: the script exits 1 and names the file to add to
# tests/fuzz/regress/TARGET/ once the bug is fixed.
cd "$(dirname "$0")/../.." || exit 111
B=tests/fuzz/build
secs=30 jobs=$(nproc 2>/dev/null || echo 1) replay=0
while [ $# -gt 0 ]; do
	case $1 in
	-t) secs=$2; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	--replay) replay=1; shift ;;
	*) break ;;
	esac
done
if [ $# -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}; set -- "$@" "${t%.c}"
	done
fi

# Longest input per target: past the limits the code enforces, not much more.
maxlen() {
	case $1 in
	http_request) echo 16384 ;;   # heads: 65536 default, 100 headers
	http_response|chunked) echo 8192 ;;  # chunk lines cap at 4096
	config|token|id_token) echo 4096 ;;
	*) echo 16384 ;;              # JSON bodies and event streams
	esac
}
dict() {
	case $1 in
	http_*|chunked) echo tests/fuzz/http.dict ;;
	config) echo tests/fuzz/yaml.dict ;;
	*) echo tests/fuzz/json.dict ;;
	esac
}

one() { # target: fuzz it, write B/log/TARGET.log and B/log/TARGET.rc
	t=$1 bin=$B/fuzz_$1 log=$B/log/$1.log
	mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "$B/log"
	if [ ! -x "$bin" ]; then
		echo "$bin missing: run make fuzz" >"$log"; echo 1 >"$B/log/$t.rc"
		return
	fi
	seeds=; [ -d "tests/fuzz/corpus/$t" ] && seeds="tests/fuzz/corpus/$t"
	regress=; [ -d "tests/fuzz/regress/$t" ] && regress="tests/fuzz/regress/$t"
	# -close_fd_mask=2: the code's own warnings (unknown config keys)
	# would flood the log; libFuzzer and the sanitizers keep their own fd.
	"$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
	    -max_len="$(maxlen "$t")" -dict="$(dict "$t")" \
	    -close_fd_mask=2 -print_final_stats=1 \
	    -artifact_prefix="$B/artifacts/$t/" \
	    "$B/corpus/$t" $seeds $regress >"$log" 2>&1
	echo $? >"$B/log/$t.rc"
}

summary() { # target
	t=$1 log=$B/log/$1.log rc=$(cat "$B/log/$1.rc" 2>/dev/null || echo 1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ "$rc" -eq 0 ]; then
		printf 'ok   %-14s %10s runs %7s exec/s  cov %5s  ft %6s  corpus %s\n' \
		    "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	else
		printf 'FAIL %-14s exit %s, log %s\n' "$t" "$rc" "$log"
		grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" |
		    head -n 8 | sed 's/^/     /'
		return 1
	fi
}

if [ "$replay" = 1 ]; then
	fail=0
	for t in "$@"; do
		files=$(ls -d tests/fuzz/corpus/"$t"/* tests/fuzz/regress/"$t"/* \
		    2>/dev/null)
		[ -n "$files" ] || continue
		# shellcheck disable=SC2086
		if "$B/fuzz_$t" -close_fd_mask=2 $files >"$B/replay-$t.log" 2>&1
		then echo "ok   replay $t"
		else echo "FAIL replay $t: see $B/replay-$t.log"; fail=1; fi
	done
	exit $fail
fi

echo "fuzzing $# targets for $secs s each, $jobs at a time"
running=0
for t in "$@"; do
	one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then wait; running=0; fi
done
wait
fail=0
for t in "$@"; do summary "$t" || fail=1; done
exit $fail
