# net.sh: L2 test (net, net-vhost*): eth0 NET.2/24 on L1's tap (NET.1): ping, then 1 MiB each way over TCP.
# lab.port: where L1's labsock listens; lab.net: NET (default 10.0.0); lab.pairs: the queue pairs eth0 must
# have (default 1). Prints "L2-XFER: tcp sent HEX received HEX" for L1 to compare.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
T=${LAB_TEST:-net} PORT=$(arg lab.port) NET=$(arg lab.net) PAIRS=$(arg lab.pairs)
NET=${NET:-10.0.0} PAIRS=${PAIRS:-1}
fail() { echo "L2-RESULT: $T FAIL $*"; exit 1; }
sum() { sha256sum | cut -d' ' -f1; }
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] || fail "no eth0 (interfaces: $(ls /sys/class/net | tr '\n' ' '); insmod failures:${LAB_MODFAIL:- none})"
rxq=$(ls /sys/class/net/eth0/queues | grep -c '^rx-')
echo "L2-NET: eth0 mac $(cat /sys/class/net/eth0/address), $rxq rx queue(s)"
[ "$rxq" = "$PAIRS" ] || fail "eth0 has $rxq rx queues, expected $PAIRS"
ip addr add "$NET.2/24" dev eth0 && ip link set eth0 up || fail "configuring eth0"
ping -c 3 -W 5 "$NET.1" >/tmp/ping.out 2>&1 || fail "ping -c 3 $NET.1: $(tr '\n' ' ' </tmp/ping.out)"
echo "L2-NET: $(grep 'packets transmitted' /tmp/ping.out)"
dd if=/dev/urandom of=/tmp/a bs=1M count=1 2>/dev/null
labsock -r 20 -t 60 "tcp:$NET.1:$PORT" </tmp/a >/tmp/b 2>/tmp/x.err || fail "labsock to $NET.1:$PORT: $(cat /tmp/x.err)"
s=$(sum </tmp/a) r=$(sum </tmp/b)
echo "L2-XFER: tcp sent $s received $r"
[ "$(wc -c </tmp/b)" -eq 1048576 ] || fail "received $(wc -c </tmp/b) bytes from L1, expected 1048576"
echo "L2-RESULT: $T PASS ping 3/3, 1 MiB each way over TCP ($(tail -1 /tmp/x.err))"
