#!/bin/sh
# run.sh: the vhost-user-blk tests: functional tests against qemu-storage-daemon and cellvm-blk, malicious-driver and kill -9 tests against cellvm-blk.
set -u
. "$(dirname "$0")/../lib/backend.sh" # wait_socket, reap
BUILD=${BUILD:-build}
FE=$BUILD/tests/vhost/frontend
BLK=$BUILD/cellvm-blk
SERIAL=cellvm-serial-0001
T=$(mktemp -d /tmp/cellvm-vhost.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

note() { # rc name [why]
	case $1 in
	0) pass=$((pass + 1)); echo "PASS $2" ;;
	77) skip=$((skip + 1)); echo "SKIP $2${3:+: $3}" ;;
	*) fail=$((fail + 1)); echo "FAIL $2${3:+: $3}"; [ -f "$T/log" ] && sed 's/^/    | /' "$T/log" | tail -n 8 ;;
	esac
}

fresh_image() {
	rm -f "$T/img"
	truncate -s "${1:-16M}" "$T/img"
}

start_blk() { # extra cellvm-blk options
	rm -f "$T/sock"
	"$BLK" --socket "$T/sock" --path "$T/img" --serial "$SERIAL" "$@" 2>"$T/log" &
	PID=$!
	wait_socket
}

start_qsd() { # writable=on|off
	rm -f "$T/sock"
	qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$T/img" \
		--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$T/sock,writable=$1,num-queues=4" \
		>"$T/log" 2>&1 &
	PID=$!
	wait_socket
}

stop_qsd() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }

fe() { "$FE" -s "$T/sock" -i "$T/img" "$@" >"$T/out" 2>&1; r=$?; cat "$T/out" | grep -v '^PASS' ; return $r; }

functional() { # backend: qsd | blk
	for t in rw flush getid zeroes mq mq4 ro; do
		fresh_image
		w=on; [ $t = ro ] && w=off
		if [ "$1" = qsd ]; then
			start_qsd $w || { note 1 "$1 $t" "no socket"; stop_qsd; continue; }
			fe -t $t; r=$?; stop_qsd
		else
			ro=; [ $t = ro ] && ro=--readonly
			start_blk --num-queues 4 $ro || { note 1 "$1 $t" "no socket"; continue; }
			fe -t $t -S "$SERIAL"; r=$?
			reap; [ $r -eq 0 ] && [ "$ST" != 0 ] && r=1 && echo "    exit status $ST"
		fi
		note $r "$1 $t"
	done
}

# malicious test, expected exit status, expected log line
malicious() {
	fresh_image 4M
	printf 'keep' | dd of="$T/img" bs=1 seek=1000 conv=notrunc 2>/dev/null
	sum=$(md5sum <"$T/img")
	start_blk --num-queues 2 || { note 1 "blk $1" "no socket"; return; }
	fe -t "$1"; r=$?
	reap
	why=
	[ "$ST" = "$2" ] || why="exit status $ST, want $2"
	grep -q "$3" "$T/log" || why="${why:+$why; }log lacks '$3'"
	[ "$(md5sum <"$T/img")" = "$sum" ] || why="${why:+$why; }disk image changed"
	[ -z "$why" ] || r=1
	note $r "blk $1" "$why"
}

if command -v qemu-storage-daemon >/dev/null; then functional qsd
else note 77 "qsd functional tests" "qemu-storage-daemon not installed"; fi
functional blk

while IFS=: read -r t why; do
	malicious "$t" 0 "queue 0 broken: $why"
done <<'LIST'
m-loop:descriptor chain loops
m-long:chain has more buffers than the iovec holds
m-big-indirect:bad indirect descriptor
m-oob:buffer outside guest memory
m-end:buffer outside guest memory
m-wrap:buffer outside guest memory
m-avail:avail idx more than the queue size ahead
m-head:avail ring head out of range
m-nested:nested indirect descriptor
m-direction:device-readable descriptor after a writable one
m-nostatus:request without a status byte
LIST
malicious m-header 0 "bad request"
malicious m-range 0 "bad request"
malicious m-config 0 "config write"
for t in m-msg-size m-msg-huge m-msg-memtable; do
	malicious $t 5 "broke the vhost-user protocol"
done

# The inline fast path (RWF_NOWAIT in the loop) and its io_uring fallback, from the counts
# cellvm-blk logs at exit; with --direct nothing may go inline. ARGS, name, log pattern.
# The same line counts lone writes done in the loop (pwritev2): some by default (t_inline
# writes one request at a time), none with --direct.
inline_case() {
	fresh_image 1M
	start_blk --verbose $1 || { note 1 "blk $2" "no socket"; return; }
	fe -t "${4:-inline}"; r=$?
	reap
	if [ $r -eq 0 ] && [ "$ST" != 0 ]; then r=1; echo "    exit status $ST"; fi
	if [ $r -eq 0 ] && ! grep -q "$3" "$T/log"; then r=1; echo "    log lacks '$3'"; fi
	note $r "blk $2"
}
inline_case "" inline 'inline reads [1-9][0-9]* (to io_uring after a try: [1-9].*lone writes done in the loop [1-9]'
# Requests posted together: one io_uring submission, nothing inline, no lone write.
inline_case "" "batch" 'inline reads 0 (to io_uring after a try: 0), inline writes 0 (0); lone writes done in the loop 0$' batch
if dd if=/dev/zero of="$T/direct" bs=4096 count=1 oflag=direct 2>/dev/null; then
	inline_case --direct "inline --direct" 'inline reads 0 (to io_uring after a try: 0), inline writes 0 (0); inline path off; lone writes done in the loop 0$'
else note 77 "blk inline --direct" "$T: no O_DIRECT on this file system"; fi

# Without busy-polling every completion must come through the io_uring eventfd (with
# DEFER_TASKRUN: signalled for the first deferred completion, collected by the loop).
for t in rw mq4; do
	fresh_image
	start_blk --num-queues 4 --no-poll || { note 1 "blk $t --no-poll" "no socket"; continue; }
	fe -t $t -S "$SERIAL"; r=$?
	reap; [ $r -eq 0 ] && [ "$ST" != 0 ] && r=1 && echo "    exit status $ST"
	note $r "blk $t --no-poll"
done

# Inflight I/O tracking (PROTOCOL_F_INFLIGHT_SHMFD): a backend dies with requests in flight,
# completed out of order; its successor must complete each exactly once. The frontend starts
# and kills both backends itself (-b). i-resubmit leaves a crafted state (deterministic);
# i-kill stops a real backend once the region shows a request in flight.
for t in i-resubmit i-kill; do
	fresh_image 64M
	fe -t $t -b "$BLK"; r=$?
	note $r "blk $t"
done
# A garbage region breaks its queue only (the other serves); refused regions leave the
# queues untracked.
while IFS=: read -r t why; do
	malicious "$t" 0 "queue 0 broken: $why"
done <<'LIST'
i-version:inflight region of unknown version
i-features:inflight region with unknown features
i-descnum:inflight region's desc_num is not its queue size
i-flag:inflight region flag is neither 0 nor 1
i-beyond:inflight region head beyond the queue size
i-posted:inflight region holds more heads than were posted
i-batch:inflight region's used idx is behind the ring
i-batchhead:inflight region's last batch lists head
i-counter:two inflight heads share the counter
i-limit:inflight counter at its limit
LIST
malicious i-unsealed 0 "inflight region refused"
malicious i-short 0 "inflight region refused"

# The image shrinks and grows back under a running backend (HOSTILE_INPUTS 25): reads past
# the new end get IOERR, the log says why, the backend keeps serving and exits cleanly.
fresh_image
if start_blk; then
	fe -t shrink; r=$?
	reap
	[ $r -eq 0 ] && [ "$ST" != 0 ] && r=1 && echo "    exit status $ST"
	[ $r -eq 0 ] && ! grep -q "bad request (short transfer, bytes: 0)" "$T/log" && r=1 &&
		echo "    log lacks 'short transfer'"
else r=1; fi
note $r "blk shrink"

fresh_image
start_blk && fe -t persist -p "$PID"; r=$?
wait "$PID" 2>/dev/null; PID=
note $r "blk persist (kill -9 after flush)"

echo "vhost: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
