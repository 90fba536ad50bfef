# vsock.sh: L2 test (vsock, vsock-vhost): 1 MiB each way on a stream L1 opens to L2's vsock port lab.lport, then on one
# L2 opens to the host (cid 2) port lab.hport. Prints "L2-XFER: in|out sent HEX received HEX" for L1 to compare.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
T=${LAB_TEST:-vsock} LPORT=$(arg lab.lport) HPORT=$(arg lab.hport)
fail() { echo "L2-RESULT: $T FAIL $*"; exit 1; }
sum() { sha256sum | cut -d' ' -f1; }
xfer() { # KEY ADDR...: one stream, 1 MiB each way
	key=$1
	shift
	dd if=/dev/urandom of=/tmp/a bs=1M count=1 2>/dev/null
	labsock -t 60 "$@" </tmp/a >/tmp/b 2>/tmp/x.err || fail "labsock $*: $(cat /tmp/x.err)"
	echo "L2-XFER: $key sent $(sum </tmp/a) received $(sum </tmp/b)"
	[ "$(wc -c </tmp/b)" -eq 1048576 ] || fail "$key: received $(wc -c </tmp/b) bytes, expected 1048576"
}
xfer in "vsock-listen:$LPORT"
xfer out -r 20 "vsock:2:$HPORT"
echo "L2-RESULT: $T PASS 1 MiB each way on a stream from L1 (port $LPORT) and one to L1 (port $HPORT)"
