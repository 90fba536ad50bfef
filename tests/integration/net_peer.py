#!/usr/bin/python3
"""net_peer.py: the host end of the probe's net tests: AF_PACKET on a tap, frames checked byte for byte.

usage: net_peer.py IFACE MODE GUEST_MAC [TIMEOUT_S]
  MODE tx: expect the guest's 32 TX frames; rx: wait for READY, send 32 frames, expect 32
  echoes; mq: tx then rx. Prints 'peer: ... OK' and exits 0, or 'peer: FAIL: why' and exits 1.
The frame layout matches build_frame() in guest/probe/net.c."""
import socket
import sys
import time

NFRAMES = 32
SIZES = [60, 61, 64, 127, 512, 1000, 1513, 1514]
PEER_MAC = bytes([0x02, 0xCE, 0x11, 0x00, 0x00, 0x01])
GUEST_IP, PEER_IP = bytes([10, 207, 0, 2]), bytes([10, 207, 0, 1])
UDP_PORT = 34997
K_TX, K_READY, K_RX, K_ECHO = 1, 2, 3, 4


def frame(guest_mac, seq, kind, length, from_guest):
    flow = seq % 16
    f = bytearray(length)
    f[0:6] = PEER_MAC if from_guest else guest_mac
    f[6:12] = guest_mac if from_guest else PEER_MAC
    f[12:14] = b"\x08\x00"
    f[14] = 0x45
    f[16:18] = (length - 14).to_bytes(2, "big")
    f[18:20] = seq.to_bytes(2, "big")
    f[22], f[23] = 64, 17
    f[26:30] = GUEST_IP if from_guest else PEER_IP
    f[30:34] = PEER_IP if from_guest else GUEST_IP
    sport, dport = (40000 + flow, UDP_PORT) if from_guest else (UDP_PORT, 40000 + flow)
    f[34:36] = sport.to_bytes(2, "big")
    f[36:38] = dport.to_bytes(2, "big")
    f[38:40] = (length - 34).to_bytes(2, "big")
    f[42:46] = b"CVN1"
    f[46], f[47] = kind, flow
    f[48:50] = seq.to_bytes(2, "big")
    f[50:52] = length.to_bytes(2, "big")
    for i in range(52, length):
        f[i] = (seq * 7 + i * 13) & 0xFF
    return bytes(f)


def fail(msg):
    print("peer: FAIL: " + msg, flush=True)
    sys.exit(1)


class Peer:
    def __init__(self, iface, guest_mac, timeout):
        self.mac = guest_mac
        self.deadline = time.monotonic() + timeout
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        self.s.bind((iface, 0))
        self.iface = iface

    def next_test_frame(self):
        """Returns (kind, seq, frame) of the next frame from the guest to our test port."""
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                f = self.s.recv(4096)
            except socket.timeout:
                return None
            if len(f) < 52 or f[0:6] != PEER_MAC or f[23] != 17 or f[42:46] != b"CVN1":
                continue
            if int.from_bytes(f[36:38], "big") != UDP_PORT:
                continue
            return f[46], int.from_bytes(f[48:50], "big"), f

    def expect(self, kind, name, count, stop_at=None):
        seen = set()
        while len(seen) < count:
            got = self.next_test_frame()
            if got is None:
                fail(f"{name}: timed out with {len(seen)} of {count} frames")
            k, seq, f = got
            if stop_at is not None and k == stop_at:
                fail(f"{name}: kind {k} frame before all {count} frames ({len(seen)} seen)")
            if k != kind:
                continue
            if seq >= NFRAMES or seq in seen:
                fail(f"{name}: bad or repeated seq {seq}")
            want = frame(self.mac, seq, kind, SIZES[seq % 8], True)
            if f != want:
                n = min(len(f), len(want))
                i = next((i for i in range(n) if f[i] != want[i]), n)
                fail(f"{name}: frame {seq}: {len(f)} bytes, expected {len(want)}; first difference at byte {i}")
            seen.add(seq)
        print(f"peer: {name}: {count} frames verified byte for byte", flush=True)

    def wait_ready(self):
        while True:
            got = self.next_test_frame()
            if got is None:
                fail("no READY frame from the guest")
            if got[0] == K_READY:
                if got[2] != frame(self.mac, 0, K_READY, 60, True):
                    fail("READY frame differs from the expected bytes")
                return

    def send_rx(self):
        for seq in range(NFRAMES):
            self.s.send(frame(self.mac, seq, K_RX, SIZES[seq % 8], False))
        print(f"peer: rx: {NFRAMES} frames sent", flush=True)


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[2] not in ("tx", "rx", "mq"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    iface, mode = sys.argv[1], sys.argv[2]
    mac = bytes(int(x, 16) for x in sys.argv[3].split(":"))
    p = Peer(iface, mac, float(sys.argv[4]) if len(sys.argv) == 5 else 60)
    print(f"peer: listening on {iface}", flush=True)
    if mode in ("tx", "mq"):
        p.expect(K_TX, "tx", NFRAMES, stop_at=K_READY)
    if mode in ("rx", "mq"):
        p.wait_ready()
        p.send_rx()
        p.expect(K_ECHO, "echo", NFRAMES)
    print(f"peer: {mode}: OK", flush=True)


if __name__ == "__main__":
    main()
