#!/usr/bin/python3
"""tapfds.py: opens N queues of tap NAME (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, multi-queue if N > 1),
then execs CMD with '{fds}' in its arguments replaced by 'fd=A,fd=B,...' and '{fdlist}' by
'fd=[A,B,...]' (Cloud Hypervisor's form): the taps are passed as Kata passes them.
usage: tapfds.py NAME N CMD [ARGS...]"""
import fcntl
import os
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_MULTI_QUEUE, IFF_VNET_HDR = 0x0002, 0x1000, 0x0100, 0x4000


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    name, n = sys.argv[1], int(sys.argv[2])
    flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (IFF_MULTI_QUEUE if n > 1 else 0)
    fds = []
    for _ in range(n):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
        os.set_inheritable(fd, True)
        fds.append(fd)
    spec = ",".join(f"fd={fd}" for fd in fds)
    lst = "fd=[" + ",".join(str(fd) for fd in fds) + "]"
    args = [a.replace("{fds}", spec).replace("{fdlist}", lst) for a in sys.argv[3:]]
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
