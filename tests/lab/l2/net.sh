# net.sh: L2 test (net, net-vhost): eth0 10.0.0.2/24 on L1's tap (10.0.0.1): ping, then 1 MiB each way over TCP.
# lab.port: where L1's labsock listens. Prints "L2-XFER: tcp sent HEX received HEX" for L1 to compare.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
T=${LAB_TEST:-net} PORT=$(arg lab.port)
fail() { echo "L2-RESULT: $T FAIL $*"; exit 1; }
sum() { sha256sum | cut -d' ' -f1; }
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] || fail "no eth0 (interfaces: $(ls /sys/class/net | tr '\n' ' '); insmod failures:${LAB_MODFAIL:- none})"
echo "L2-NET: eth0 mac $(cat /sys/class/net/eth0/address)"
ip addr add 10.0.0.2/24 dev eth0 && ip link set eth0 up || fail "configuring eth0"
ping -c 3 -W 5 10.0.0.1 >/tmp/ping.out 2>&1 || fail "ping -c 3 10.0.0.1: $(tr '\n' ' ' </tmp/ping.out)"
echo "L2-NET: $(grep 'packets transmitted' /tmp/ping.out)"
dd if=/dev/urandom of=/tmp/a bs=1M count=1 2>/dev/null
labsock -r 20 -t 60 "tcp:10.0.0.1:$PORT" </tmp/a >/tmp/b 2>/tmp/x.err || fail "labsock to 10.0.0.1:$PORT: $(cat /tmp/x.err)"
s=$(sum </tmp/a) r=$(sum </tmp/b)
echo "L2-XFER: tcp sent $s received $r"
[ "$(wc -c </tmp/b)" -eq 1048576 ] || fail "received $(wc -c </tmp/b) bytes from L1, expected 1048576"
echo "L2-RESULT: $T PASS ping 3/3, 1 MiB each way over TCP ($(tail -1 /tmp/x.err))"
