#!/bin/sh
# run.sh: the vhost-user-vsock tests: tests/vsock/vsockfe plays the VMM, the guest driver and host clients against cellvm-vsock.
set -u
. "$(dirname "$0")/../lib/backend.sh" # wait_socket, reap
BUILD=${BUILD:-build}
FE=$BUILD/tests/vsock/vsockfe
VS=$BUILD/cellvm-vsock
T=$(mktemp -d /tmp/cellvm-vsock.XXXXXX)
# The jailed backend (uid 65534 when started as root) connects to <uds>_<port> in here.
chmod 0755 "$T"
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

note() { # rc name [why]
	case $1 in
	0) pass=$((pass + 1)); echo "PASS $2" ;;
	77) skip=$((skip + 1)); echo "SKIP $2${3:+: $3}" ;;
	*) fail=$((fail + 1)); echo "FAIL $2${3:+: $3}"
	   for f in out log; do [ -s "$T/$f" ] && sed "s/^/    $f| /" "$T/$f" | tail -n 8; done ;;
	esac
}

start_vs() { # extra cellvm-vsock options
	rm -f "$T/sock" "$T/v.sock"*
	"$VS" --socket "$T/sock" --cid 3 --uds-path "$T/v.sock" "$@" 2>"$T/log" &
	PID=$!
	wait_socket
}

# case TEST [LOG-LINE [cellvm-vsock options]]: the test passes, the backend exits 0 when the
# frontend leaves (it never crashed), and its log has LOG-LINE when given.
case_() {
	t=$1 want=${2:-}
	shift; [ $# -gt 0 ] && shift
	start_vs "$@" || { note 1 "$t" "no socket"; return; }
	"$FE" -s "$T/sock" -u "$T/v.sock" -t "$t" >"$T/out" 2>&1; r=$?
	reap
	why=
	[ $r -eq 0 ] || why="test failed"
	[ "$ST" = 0 ] || why="${why:+$why; }backend exit status $ST"
	[ -z "$want" ] || grep -q "$want" "$T/log" || why="${why:+$why; }log lacks '$want'"
	[ -z "$why" ] || r=1
	note $r "$t" "$why"
}

for t in host-connect guest-connect guest-refused host-refused many rx-small rx-split close-host close-guest close-slow close-slow-rst \
	close-vm reset half-close m-ops m-line; do
	case_ $t
done
case_ m-len "length past the buffer"
case_ m-type "type is not stream"
case_ m-addr "source CID is not the guest's"
case_ m-credit "more data than the credit allows"
case_ m-flood "" --max-conns 16
case_ m-idle "timed out" --verbose
case_ m-txchain "tx buffer shorter than a header"
case_ m-txloop "queue 1 broken: descriptor chain loops"
case_ m-rxshort "rx buffer not device-writable or without room past a header"

# Unjailed, the same path works (guest connects reach PATH_P directly).
start_vs --no-jail && "$FE" -s "$T/sock" -u "$T/v.sock" -t guest-connect >"$T/out" 2>&1; r=$?
reap; [ "$ST" = 0 ] || r=1
note $r "guest-connect --no-jail"

# Started unprivileged (the jail then makes a user namespace): both directions still work.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	mkdir "$T/u" && chown 12345 "$T/u"
	for t in host-connect guest-connect; do
		rm -f "$T/u/sock" "$T/u/v.sock"*
		setpriv --reuid=12345 --regid=12345 --clear-groups \
			"$VS" --socket "$T/u/sock" --cid 3 --uds-path "$T/u/v.sock" 2>"$T/log" &
		PID=$!
		i=0; while [ ! -S "$T/u/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
		"$FE" -s "$T/u/sock" -u "$T/u/v.sock" -t $t >"$T/out" 2>&1; r=$?
		reap; [ "$ST" = 0 ] || r=1
		note $r "$t, started unprivileged"
	done
else
	note 77 "unprivileged start" "needs root to switch to an unprivileged uid (setpriv)"
fi

# Interop with an ordinary client: socat speaks the hybrid protocol's host side.
if command -v socat >/dev/null; then
	start_vs && "$FE" -s "$T/sock" -u "$T/v.sock" -t socat >"$T/out" 2>&1; r=$?
	reap; [ "$ST" = 0 ] || r=1
	note $r "socat host client"
else
	note 77 "socat host client" "socat not installed (tools/deps.sh)"
fi

# The jail, from inside (--jail-selftest): seccomp kills, and the layers under it still refuse.
jail_act() { # ACT MODE WANT: WANT is SIGSYS or the errno name
	"$VS" --cid 3 --uds-path "$T/j.sock" --seccomp "$2" --jail-selftest "$1" 2>"$T/log"; r=$?
	if [ "$3" = SIGSYS ]; then
		[ $r -eq 159 ] && grep -q "SIGSYS" "$T/log" && note 0 "jail $1 ($2): killed by SIGSYS" ||
			note 1 "jail $1 ($2)" "status $r, want 159"
	else
		[ $r -eq 0 ] && grep -q "refused: $3 " "$T/log" && note 0 "jail $1 ($2): refused with $3" ||
			note 1 "jail $1 ($2)" "status $r, want 0 and 'refused: $3'"
	fi
}
"$VS" --cid 3 --uds-path "$T/j.sock" --jail-selftest none 2>"$T/log" && grep -q jailed "$T/log"
note $? "jail entered"
jail_act socket-inet kill SIGSYS
jail_act socket-dgram kill SIGSYS
jail_act create-in-bind kill SIGSYS
jail_act create-in-bind log EACCES     # Landlock: no file right in the bound directory
# A listener outside the bound directory exists on the host, and is out of reach.
rm -f /tmp/cellvm-vsock-selftest.sock
if command -v socat >/dev/null; then
	socat UNIX-LISTEN:/tmp/cellvm-vsock-selftest.sock,mode=777 - </dev/null >/dev/null 2>&1 &
	SP=$!
	i=0; while [ ! -S /tmp/cellvm-vsock-selftest.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	jail_act connect-outside kill ENOENT
	kill $SP 2>/dev/null; wait $SP 2>/dev/null
	rm -f /tmp/cellvm-vsock-selftest.sock
else
	note 77 "jail connect-outside" "socat not installed"
fi

# Bad command lines: one line, status 2.
for args in "--cid 2 --uds-path $T/x" "--cid 3" "--cid 4294967295 --uds-path $T/x" \
	"--cid 3 --uds-path $T/x --max-conns 0"; do
	# shellcheck disable=SC2086
	"$VS" --socket "$T/s2" $args 2>"$T/log"; r=$?
	[ $r -eq 2 ] && note 0 "usage: $args" || note 1 "usage: $args" "status $r"
done
"$VS" --socket "$T/s2" --cid 3 --uds-path "$T/nodir/v.sock" 2>"$T/log"; r=$?
[ $r -eq 3 ] && note 0 "--uds-path in a missing directory: status 3" || note 1 "--uds-path in a missing directory" "status $r"

echo "vsock: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
