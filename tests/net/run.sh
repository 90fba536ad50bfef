#!/bin/sh
# run.sh: cellvm-net tests: tx, rx, mq, back-pressure and malicious-driver cases over a tap in a private netns.
set -u
. "$(dirname "$0")/../lib/backend.sh" # wait_socket, reap
BUILD=${BUILD:-build}
FE=$BUILD/tests/net/netfront
NET=$BUILD/cellvm-net
NS=cellvm-net-test-$$
TAP=cvtap0
T=$(mktemp -d /tmp/cellvm-net.XXXXXX)
PID=
pass=0 fail=0 skip=0

cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

note() { # rc name [why]
	case $1 in
	0) pass=$((pass + 1)); echo "PASS $2" ;;
	77) skip=$((skip + 1)); echo "SKIP $2${3:+: $3}" ;;
	*) fail=$((fail + 1)); echo "FAIL $2${3:+: $3}"; [ -f "$T/log" ] && sed 's/^/    | /' "$T/log" | tail -n 8 ;;
	esac
}

nsx() { ip netns exec "$NS" "$@"; }

if ! ip netns add "$NS" 2>"$T/err"; then
	echo "SKIP check-net: cannot create a network namespace (CAP_NET_ADMIN needed): $(cat "$T/err")"
	exit 0
fi
if [ ! -c /dev/net/tun ]; then
	echo "SKIP check-net: no /dev/net/tun"
	exit 0
fi
# No IPv6 chatter (router solicitations, MLD) on the test tap.
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

mk_tap() { # [multi_queue]
	nsx ip link del "$TAP" 2>/dev/null
	nsx ip tuntap add dev "$TAP" mode tap vnet_hdr ${1:-} && nsx ip link set "$TAP" mtu 9000 up
}

start_net() { # extra cellvm-net options
	rm -f "$T/sock"
	nsx "$NET" --socket "$T/sock" --tap "$TAP" ${NET_OPTS:-} "$@" 2>"$T/log" &
	PID=$!
	wait_socket
}

fe() { nsx "$FE" -s "$T/sock" -i "$TAP" "$@" >"$T/out" 2>&1; r=$?; cat "$T/out"; return $r; }

# One case: name, netfront options, cellvm-net options; the backend must end with status 0.
case_run() {
	name=$1 fopts=$2; shift 2
	start_net "$@" || { note 1 "$name" "no socket"; reap; return; }
	fe $fopts; r=$?
	reap
	[ $r -eq 0 ] && [ "$ST" != 0 ] && r=1 && echo "    cellvm-net exit status $ST"
	note $r "$name"
}

mk_tap
case_run net-tx "-t tx"
case_run net-rx "-t rx"
case_run net-rx-mrg "-t rx -m"
case_run net-rx-partial "-t rx-partial -m"
case_run net-rx-tso "-t rx-tso -m"
case_run net-rx-notso "-t rx-notso -m"
case_run net-backpressure "-t backpressure"
case_run net-backpressure-mrg "-t backpressure -m"

mk_tap multi_queue
case_run net-mq "-t mq -m" --num-queues 2

mk_tap
for bad in short-hdr oversize writable addr rx-readable; do
	q=1; [ $bad = rx-readable ] && q=0
	case_run "net-bad-$bad" "-t bad-$bad"
	if ! grep -q "queue $q broken" "$T/log"; then
		note 1 "net-bad-$bad-reported" "no 'queue $q broken' in the backend's log"
	fi
done

# --tap-fd: a tap queue opened by another process (as cellvm does), passed as fd 5.
rm -f "$T/sock"
nsx /usr/bin/python3 -c '
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000 | 0x4000))
os.dup2(fd, 5)
os.execv(sys.argv[2], [sys.argv[2], "--socket", sys.argv[3], "--tap-fd", "5"])
' "$TAP" "$NET" "$T/sock" 2>"$T/log" &
PID=$!
if wait_socket; then fe -t tx; r=$?; reap; [ $r -eq 0 ] && [ "$ST" != 0 ] && r=1; else r=1; reap; fi
note $r net-tap-fd

# The jail: the worker runs seccomp-filtered, as nobody, in a netns of its own (not the tap's).
start_net || note 1 net-jail "no socket"
nsx /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(1.5)' "$T/sock" &
HOLD=$!
sleep 0.7
W=$(cat /proc/$PID/task/$PID/children 2>/dev/null | awk '{print $1}')
seccomp=$(awk '/^Seccomp:/ {print $2}' /proc/$W/status 2>/dev/null)
uid=$(awk '/^Uid:/ {print $2}' /proc/$W/status 2>/dev/null)
wns=$(readlink /proc/$W/ns/net 2>/dev/null)
tns=$(nsx readlink /proc/self/ns/net)
wait $HOLD; reap
[ "$seccomp" = 2 ] && [ "$uid" = 65534 ] && [ -n "$wns" ] && [ "$wns" != "$tns" ]
note $? net-jail "worker ${W:-?}: seccomp ${seccomp:-?}, uid ${uid:-?}, netns ${wns:-?} vs the tap's $tns"

# Bad command lines: one line, exit status 2 (usage) or 3 (tap).
"$NET" --socket "$T/s" --tap a --tap-fd 5 >/dev/null 2>&1; a=$?
"$NET" --socket "$T/s" --tap-fd 5,6 >/dev/null 2>&1; b=$?
"$NET" --socket "$T/s" --tap "$TAP" --mac 01:00:00:00:00:01 >/dev/null 2>&1; c=$?
"$NET" --socket "$T/s" --tap-fd 0 >/dev/null 2>&1 </dev/null; d=$?
[ "$a$b$c$d" = 2223 ]; note $? net-usage "statuses $a $b $c $d, want 2 2 2 3"

echo "check-net: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
