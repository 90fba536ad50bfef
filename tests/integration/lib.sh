# lib.sh: helpers for the integration tests: run a command with a timeout, check status and output.
TIMEOUT=${TIMEOUT:-60}
PASS=0
FAIL=0
SKIP=0
FAILED=""

# expect NAME STATUS PATTERN CMD...: CMD must exit with STATUS and print (stdout+stderr)
# something matching the extended regex PATTERN ("" to skip the output check).
expect() {
	local name=$1 want=$2 pattern=$3 out rc
	shift 3
	out="$TMP/$name.out"
	# bash -c so that shell functions (exported with export -f) can be the command.
	timeout -k 5 "$TIMEOUT" bash -c '"$@"' bash "$@" >"$out" 2>&1 </dev/null
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		report_fail "$name" "exit status $rc, expected $want" "$out"
	elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$out"; then
		report_fail "$name" "output lacks /$pattern/" "$out"
	else
		PASS=$((PASS + 1))
		echo "PASS $name"
	fi
}

report_fail() {
	FAIL=$((FAIL + 1))
	FAILED="$FAILED $1"
	echo "FAIL $1: $2; last output lines:"
	tail -n 15 "$3" | sed 's/^/    | /'
}

skip() {
	SKIP=$((SKIP + 1))
	echo "SKIP $1: $2"
}

summary() {
	echo "integration: $PASS passed, $FAIL failed, $SKIP skipped"
	[ "$FAIL" -eq 0 ] || { echo "failed:$FAILED"; return 1; }
}
