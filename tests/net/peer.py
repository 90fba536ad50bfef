#!/usr/bin/python3
# peer.py: the host peer on a tap for the DPDK test: counts frames from the guest side, then sends frames to it.
import socket, sys, time

ifname, expect_rx, nsend, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((ifname, 0))
open(out + '.ready', 'w').close()
s.settimeout(0.5)
got, deadline = 0, time.time() + 30
while got < expect_rx and time.time() < deadline:
    try:
        data, addr = s.recvfrom(65536)
    except socket.timeout:
        continue
    if addr[2] != socket.PACKET_OUTGOING and data[12:14] == b'\x08\x00':
        got += 1
time.sleep(0.5)  # late extras would show up as more than expected
s.setblocking(False)
try:
    while True:
        data, addr = s.recvfrom(65536)
        if addr[2] != socket.PACKET_OUTGOING and data[12:14] == b'\x08\x00':
            got += 1
except BlockingIOError:
    pass
frame = b'\xff' * 6 + b'\x02\x00\x00\x00\x00\x01' + b'\x88\xb5' + bytes(range(46))
for i in range(nsend):
    s.send(frame)
    if i % 16 == 15:
        time.sleep(0.002)  # the rate the test sets: about 8k frames/s at most (2 shared cores)
with open(out, 'w') as f:
    f.write('%d %d\n' % (got, nsend))
