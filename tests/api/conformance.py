#!/usr/bin/python3
"""conformance.py: drives cellvm's REST API like Kata does and validates every body against the spec.

Uses Debian's python3-jsonschema and python3-yaml on ../shared/api/cloud-hypervisor.yaml.
Usage: tests/api/conformance.py CELLVM PROBE_ELF SPEC_YAML
"""
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import jsonschema
import yaml

CELLVM, PROBE, SPEC_PATH = sys.argv[1:4]
SPEC = yaml.safe_load(open(SPEC_PATH))
RESOLVER = jsonschema.RefResolver.from_schema(SPEC)
FAILS = []
PID = [0]


def check(name, cond, detail=""):
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else ": " + detail), flush=True)
    if not cond:
        FAILS.append(name)


def validate(schema_name, obj):
    """Validates obj against #/components/schemas/schema_name; returns an error or None."""
    try:
        jsonschema.Draft4Validator({"$ref": "#/components/schemas/" + schema_name},
                                   resolver=RESOLVER).validate(obj)
        return None
    except jsonschema.ValidationError as e:
        return e.message


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""

    def request(self, method, endpoint, body=None, raw_body=None, fds=None):
        data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else b"")
        head = f"{method} /api/v1/{endpoint} HTTP/1.1\r\nHost: localhost\r\n"
        if data or method == "PUT":
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        msg = (head + "\r\n").encode() + data
        if fds:
            socket.send_fds(self.s, [msg], fds)
        else:
            self.s.sendall(msg)
        return self.read_response()

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        n = int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, (json.loads(body) if body else None)


def documented(endpoint, method, status):
    responses = SPEC["paths"]["/" + endpoint][method.lower()]["responses"]
    return status in responses or str(status) in responses


def expect(c, name, method, endpoint, status, schema=None, body=None, must_be_documented=True):
    """One request; checks the status, that it is documented, and the body's schema."""
    request_schema = {"vm.create": "VmConfig", "vm.resize": "VmResize"}.get(endpoint)
    if body is not None and request_schema and status < 400:
        err = validate(request_schema, body)
        check(name + f" (request matches {request_schema})", err is None, str(err))
    got, resp = c.request(method, endpoint, body)
    check(name, got == status, f"status {got}, expected {status}, body {resp}")
    if must_be_documented:
        check(name + " (status documented)", documented(endpoint, method, got), f"{got} not in spec")
    if schema:
        err = validate(schema, resp)
        check(name + f" (body matches {schema})", err is None, str(err))
    if got >= 400:
        check(name + " (JSON error body)", isinstance(resp, dict) and "error" in resp, str(resp))
    return resp


def vm_config(tmp):
    return {"payload": {"kernel": PROBE, "cmdline": "test=idle"},
            "cpus": {"boot_vcpus": 2, "max_vcpus": 3},
            "memory": {"size": 64 << 20, "shared": True},
            "serial": {"mode": "File", "file": os.path.join(tmp, "serial.txt")},
            "console": {"mode": "Off"},
            "disks": [{"path": os.path.join(tmp, "disk.img"), "num_queues": 1, "readonly": False,
                       "serial": "api-disk", "id": "disk0"}]}


def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return ""


def children(pid, want_broker=False):
    """The VMM's device processes (or, want_broker, its cellvm-broker)."""
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return []
    return [k for k in kids if (comm(k) == "cellvm-broker") == want_broker]


def check_vmm_jailed(pid):
    """The running VMM's own jail, as the kernel reports it."""
    st = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        st[k] = v.split()
    check("VMM uid is not 0", st["Uid"][0] != "0", str(st["Uid"]))
    check("VMM CapEff and CapBnd are 0", int(st["CapEff"][0], 16) == 0 and int(st["CapBnd"][0], 16) == 0,
          f"{st['CapEff']} {st['CapBnd']}")
    check("VMM Seccomp 2, NoNewPrivs 1", st["Seccomp"] == ["2"] and st["NoNewPrivs"] == ["1"],
          f"{st['Seccomp']} {st['NoNewPrivs']}")
    names = sorted(open(f"/proc/{pid}/task/{t}/comm").read().strip() for t in os.listdir(f"/proc/{pid}/task"))
    check("vCPU and API threads are named", "vcpu 0" in names and "api" in names, str(names))


def session(sock, tmp):
    c = Client(sock)
    expect(c, "ping", "GET", "vmm.ping", 200, "VmmPingResponse")
    expect(c, "info before create", "GET", "vm.info", 404)
    expect(c, "boot before create", "PUT", "vm.boot", 404)
    expect(c, "create", "PUT", "vm.create", 204, body=vm_config(tmp))
    expect(c, "create after create", "PUT", "vm.create", 400, body=vm_config(tmp), must_be_documented=False)
    info = expect(c, "info created", "GET", "vm.info", 200, "VmInfo")
    check("state Created", info and info.get("state") == "Created", str(info))
    expect(c, "boot", "PUT", "vm.boot", 204)
    wait_for_guest(tmp)
    check("boot spawned the disk's device process", len(children(PID[0])) == 1, str(children(PID[0])))
    if os.environ.get("CELLVM_SANITIZED"):
        # Sanitizer builds run the VMM unjailed by default so LeakSanitizer can check at exit
        # (vmm/config.c); make check-sandbox tests the jail under the sanitizers.
        print("SKIP the VMM's jail in an API session: sanitizer build (unjailed by default, "
              "for LeakSanitizer); make check-sandbox covers it", flush=True)
    else:
        check("the jailed VMM has its broker", len(children(PID[0], True)) == 1,
              str(children(PID[0], True)))
        check_vmm_jailed(PID[0])
    info = expect(c, "info with a disk", "GET", "vm.info", 200, "VmInfo")
    check("info lists the disk", info and info["config"].get("disks", [{}])[0].get("serial") == "api-disk", str(info))
    info = expect(c, "info running", "GET", "vm.info", 200, "VmInfo")
    check("state Running", info and info.get("state") == "Running", str(info))
    check("info echoes the config", info and info["config"]["cpus"]["boot_vcpus"] == 2, str(info))
    expect(c, "pause", "PUT", "vm.pause", 204)
    info = expect(c, "info paused", "GET", "vm.info", 200, "VmInfo")
    check("state Paused", info and info.get("state") == "Paused", str(info))
    expect(c, "pause while paused", "PUT", "vm.pause", 405)
    expect(c, "resume", "PUT", "vm.resume", 204)
    expect(c, "resume while running", "PUT", "vm.resume", 405)
    expect(c, "counters", "GET", "vm.counters", 200, "VmCounters")
    # CPU hotplug: the idle probe has no ACPI driver, so a removal stays pending (429).
    expect(c, "resize up (vCPU hotplug)", "PUT", "vm.resize", 204, body={"desired_vcpus": 3})
    info = expect(c, "info after resize", "GET", "vm.info", 200, "VmInfo")
    check("resize shows in info", info and info["config"]["cpus"] == {"boot_vcpus": 3, "max_vcpus": 3}, str(info))
    expect(c, "resize beyond max_vcpus", "PUT", "vm.resize", 400, body={"desired_vcpus": 4}, must_be_documented=False)
    expect(c, "resize with a bad type", "PUT", "vm.resize", 400, body={"desired_vcpus": "2"}, must_be_documented=False)
    expect(c, "resize memory (not built)", "PUT", "vm.resize", 500, body={"desired_ram": 1 << 30}, must_be_documented=False)
    expect(c, "resize down (eject request)", "PUT", "vm.resize", 204, body={"desired_vcpus": 2})
    expect(c, "resize while a removal is pending", "PUT", "vm.resize", 429, body={"desired_vcpus": 3})
    st, r = c.request("PUT", "vm.remove-device", {"id": "no-such-device"})
    check("remove-device of an unknown id: 404", st == 404 and "no-such-device" in r["error"], f"{st} {r}")
    expect(c, "power-button (latched: the idle probe has no ACPI driver)", "PUT", "vm.power-button", 204)
    expect(c, "reboot", "PUT", "vm.reboot", 204)
    expect(c, "shutdown", "PUT", "vm.shutdown", 204)
    check("shutdown reaped the device process", children(PID[0]) == [], str(children(PID[0])))
    info = expect(c, "info shut down", "GET", "vm.info", 200, "VmInfo")
    check("state Shutdown", info and info.get("state") == "Shutdown", str(info))
    expect(c, "shutdown while shut down", "PUT", "vm.shutdown", 405)
    expect(c, "delete", "PUT", "vm.delete", 204)
    expect(c, "info after delete", "GET", "vm.info", 404)
    return c


def wait_for_guest(tmp):
    path, serial = os.path.join(tmp, "serial.txt"), ""
    for _ in range(250):
        serial = open(path).read() if os.path.exists(path) else ""
        if "probe: idle" in serial:
            break
        time.sleep(0.02)
    check("guest runs (serial file)", "probe: idle" in serial, serial[-200:])


def bad_requests(sock, tmp):
    c = Client(sock)
    _, r = c.request("PUT", "vm.create", raw_body=b'{"payload": {"kernel": ')
    check("malformed JSON is 400", r and "malformed JSON" in r.get("error", ""), str(r))
    st, r = Client(sock).request("PUT", "vm.create", {"payload": {"kernel": PROBE}, "cpus": {"boot_vcpus": "two", "max_vcpus": 2}})
    check("wrong type is 400 naming the field", st == 400 and "boot_vcpus" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", {"payload": {"kernel": PROBE}, "memory": {"size": -5}})
    check("negative size is 400 naming the field", st == 400 and "memory.size" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", {"payload": {"kernel": PROBE}, "frobnicate": 1})
    check("unknown field is 400 naming it", st == 400 and "frobnicate" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", {"payload": {"kernel": PROBE}, "rng": {"src": "/dev/urandom"}})
    check("unsupported field is 400 naming it", st == 400 and "VmConfig.rng" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", {"payload": {"kernel": PROBE}, "net": [{"tap": "t0", "ip": "10.0.0.1"}]})
    check("NetConfig field cellvm leaves to the host is 400 naming it", st == 400 and "VmConfig.net[0].ip" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", {"payload": {"kernel": PROBE}, "disks": [{"readonly": True}]})
    check("disk without path is 400 naming it", st == 400 and "disks[0]" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", {"payload": {"kernel": PROBE}, "cpus": {"boot_vcpus": 0, "max_vcpus": 0}})
    check("zero vCPUs is 400", st == 400 and "boot_vcpus" in r["error"], str(r))
    st, r = Client(sock).request("GET", "vm.create")
    check("wrong method is 405", st == 405, str(r))
    st, r = Client(sock).request("GET", "vm.frobnicate")
    check("unknown endpoint is 404", st == 404, str(r))
    st, r = Client(sock).request("PUT", "vm.create", raw_body=b"x" * (70 * 1024))
    check("body over the limit is 413", st == 413, str(r))
    st, r = Client(sock).request("PUT", "vm.create", raw_body=b"")
    check("empty body is 400", st == 400, str(r))
    staller = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staller.connect(sock)
    staller.sendall(b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
    t0 = time.time()
    st, _ = Client(sock).request("GET", "vmm.ping")
    check("half a request does not block others", st == 200 and time.time() - t0 < 2, f"{st}")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(sock)
    raw.sendall(b"THIS IS NOT HTTP\r\n\r\n")
    check("garbage gets 400", raw.recv(4096).startswith(b"HTTP/1.1 400"), "")
    r1, w1 = os.pipe()
    st, r = Client(sock).request("PUT", "vm.add-net", {"fds": [3]}, fds=[r1, w1])
    os.close(r1)
    os.close(w1)
    check("fds passed with SCM_RIGHTS are answered", st == 404 and "add-net" in r["error"], str(r))
    staller.close()


def usage(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = int(open(f"/proc/{pid}/statm").read().split()[1]) * 4
    return fds, rss


def thousand(sock, pid, tmp):
    c = Client(sock)
    for _ in range(50):
        c.request("GET", "vmm.ping")
    fds0, rss0 = usage(pid)
    for i in range(1000):
        if i % 10 == 0:
            Client(sock).request("GET", "vmm.ping")  # new connections too
        c.request("PUT", "vm.create", vm_config(tmp))
        c.request("GET", "vm.info")
        c.request("PUT", "vm.delete")
    fds1, rss1 = usage(pid)
    check("1000 requests: no fd growth", fds1 <= fds0, f"{fds0} -> {fds1}")
    if os.environ.get("CELLVM_SANITIZED"):
        # ASan's allocator keeps freed memory (quarantine, caches): RSS says nothing there.
        # LeakSanitizer checks at exit instead, and a leak makes the exit status non-zero.
        print(f"SKIP 1000 requests: no memory growth: RSS is not meaningful under ASan "
              f"({rss0} KiB -> {rss1} KiB); LeakSanitizer checks at exit", flush=True)
    else:
        check("1000 requests: no memory growth", rss1 - rss0 < 1024, f"{rss0} KiB -> {rss1} KiB")


TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000
GUEST_MAC = "52:54:00:ce:11:02"  # tests/integration/net_lib.sh NET_GUEST_MAC: net_peer.py checks it
NET_PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "net_peer.py")


def open_tap(name):
    """A queue of a new (non-persistent) tap: it goes away when the last fd to it closes."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    return fd


def net_config(tmp, test, net=None):
    return {"payload": {"kernel": PROBE, "cmdline": "test=" + test},
            "memory": {"size": 64 << 20},
            "serial": {"mode": "File", "file": os.path.join(tmp, "serial-net.txt")},
            **({"net": net} if net is not None else {})}


def fd_count(pid):
    """The VMM's open fds, once it has closed the connections our dropped Clients left."""
    time.sleep(0.3)
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_serial(tmp, text, secs=10):
    path, serial = os.path.join(tmp, "serial-net.txt"), ""
    for _ in range(secs * 50):
        serial = open(path).read() if os.path.exists(path) else ""
        if text in serial:
            break
        time.sleep(0.02)
    return serial


def net_bad_fds(sock, pid, tap, tmp):
    """Every wrong way to send tap fds: 400 naming it, and the VMM keeps none of them."""
    fds0 = fd_count(pid)
    one = [{"fds": [-1], "mac": GUEST_MAC}]
    st, r = Client(sock).request("PUT", "vm.create", net_config(tmp, "idle", one))
    check("net fds listed but none sent: 400 naming it", st == 400 and "carried 0" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", net_config(tmp, "idle", [{"fds": [-1, -1], "num_queues": 4}]),
                                 fds=[tap])
    check("net fds: 2 listed, 1 sent: 400 naming it", st == 400 and "lists 2 tap fds" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", net_config(tmp, "idle"), fds=[tap])
    check("an fd sent with no net fds: 400", st == 400 and "lists 0 tap fds" in r["error"], str(r))
    rp, wp = os.pipe()
    st, r = Client(sock).request("PUT", "vm.create", net_config(tmp, "idle", one), fds=[rp])
    check("net fds that are not taps: 400 naming it", st == 400 and "net[0].fds[0]" in r["error"]
          and "not a tap queue" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", net_config(tmp, "idle", one), fds=[rp] * 17)
    check("17 fds with one request: 400", st == 400 and "more than 16 fds" in r["error"], str(r))
    st, r = Client(sock).request("PUT", "vm.create", net_config(tmp, "idle", [{"fds": [-1], "ip": "10.1.1.1",
                                                                                "mtu": 1400}]), fds=[tap])
    check("net fds with mtu: 400 naming it", st == 400 and "net[0].mtu" in r["error"], str(r))
    half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    half.connect(sock)
    socket.send_fds(half, [b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 500\r\n\r\n{"], [rp, wp])
    time.sleep(0.2)
    half.close()
    os.close(rp)
    os.close(wp)
    time.sleep(0.2)
    check("bad net fds: the VMM kept none", fd_count(pid) == fds0, f"{fds0} -> {fd_count(pid)}")


def net_add(sock, pid, tap, tmp, name):
    """vm.add-net as Kata sends it (NetConfig with the spec's ip/mask defaults, fds by
    SCM_RIGHTS) between vm.create and vm.boot; while running it needs hotplug."""
    c = Client(sock)
    fds0 = fd_count(pid)  # with c's connection
    expect(c, "create for add-net", "PUT", "vm.create", 204, body=net_config(tmp, "idle"))
    kata = {"mac": GUEST_MAC, "ip": "192.168.249.1", "mask": "255.255.255.0", "num_queues": 2,
            "queue_size": 256, "vhost_user": False, "vhost_mode": "Client", "iommu": False}
    check("Kata's NetConfig matches the spec", validate("NetConfig", kata) is None, str(validate("NetConfig", kata)))
    rp, wp = os.pipe()
    st, r = c.request("PUT", "vm.add-net", kata, fds=[rp])
    check("vm.add-net with a pipe: 400 naming it", st == 400 and "not a tap queue" in r["error"], f"{st} {r}")
    st, r = c.request("PUT", "vm.add-net", {"mac": GUEST_MAC, "num_queues": 2}, fds=[tap, rp])
    check("vm.add-net with 2 fds for 1 queue pair: 400", st == 400 and "num_queues=2" in r["error"], f"{st} {r}")
    os.close(rp)
    os.close(wp)
    check("refused vm.add-net: the VMM kept no fd", fd_count(pid) == fds0, f"{fds0} -> {fd_count(pid)}")
    st, r = c.request("PUT", "vm.add-net", kata, fds=[tap])
    check("vm.add-net before boot with a tap fd: 204", st == 204 and documented("vm.add-net", "PUT", st), f"{st} {r}")
    info = expect(c, "info after add-net", "GET", "vm.info", 200, "VmInfo")
    check("info lists the added net", info and len(info["config"].get("net", [])) == 1, str(info))
    expect(c, "boot after add-net", "PUT", "vm.boot", 204)
    check("boot spawned cellvm-net", [comm(k) for k in children(pid)] == ["cellvm-net"],
          str([comm(k) for k in children(pid)]))
    st, r = c.request("PUT", "vm.add-net", dict(kata, mac="52:54:00:ce:11:04", id="hotnet"), fds=[tap])
    check("vm.add-net while running (hotplug): 200", st == 200 and documented("vm.add-net", "PUT", st), f"{st} {r}")
    err = validate("PciDeviceInfo", r)
    check("vm.add-net while running: body matches PciDeviceInfo", err is None and r["id"] == "hotnet", f"{err} {r}")
    check("vm.add-net while running: a second cellvm-net", [comm(k) for k in children(pid)] == ["cellvm-net"] * 2,
          str([comm(k) for k in children(pid)]))
    rp, wp = os.pipe()
    st, r = c.request("PUT", "vm.add-net", {"mac": "52:54:00:ce:11:05"}, fds=[rp])
    os.close(rp)
    os.close(wp)
    check("vm.add-net while running with a pipe: 400", st == 400 and "not a tap queue" in r["error"], f"{st} {r}")
    st, r = c.request("PUT", "vm.add-net", {"tap": name, "mac": "52:54:00:ce:11:06"})
    check("vm.add-net while running, an existing tap by name: refused (new taps only)",
          st == 500 and documented("vm.add-net", "PUT", st), f"{st} {r}")
    fresh = f"cvh{os.getpid() % 100000}"
    st, r = c.request("PUT", "vm.add-net", {"tap": fresh, "mac": "52:54:00:ce:11:07", "id": "fresh"})
    check("vm.add-net while running, a new tap by name: 200", st == 200 and r.get("id") == "fresh", f"{st} {r}")
    expect(c, "remove-device of a hot-added net: 204 (the guest is asked)", "PUT", "vm.remove-device", 204,
           body={"id": "hotnet"})
    expect(c, "delete after add-net", "PUT", "vm.delete", 204)
    check("add-net, boot, delete: no fd growth", fd_count(pid) == fds0, f"{fds0} -> {fd_count(pid)}")
    st, r = c.request("PUT", "vm.add-net", kata, fds=[tap])
    check("vm.add-net without a VM: 404", st == 404, f"{st} {r}")


def net_create_tx(sock, pid, tap, name, tmp):
    """vm.create with net[].fds and the tap fd by SCM_RIGHTS; the probe's frames reach the peer."""
    c = Client(sock)
    fds0 = fd_count(pid)  # with c's connection
    peer = subprocess.Popen(["/usr/bin/python3", NET_PEER, name, "tx", GUEST_MAC, "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if peer.stdout.readline().strip() != f"peer: listening on {name}":
        check("net peer starts", False, "no 'listening' line")
    body = net_config(tmp, "net-tx", [{"fds": [-1], "mac": GUEST_MAC, "num_queues": 2}])
    check("create with net fds (request matches VmConfig)", validate("VmConfig", body) is None, "")
    st, r = c.request("PUT", "vm.create", body, fds=[tap])
    check("create with net fds: 204", st == 204, f"{st} {r}")
    info = expect(c, "info with net fds", "GET", "vm.info", 200, "VmInfo")
    net = info and info["config"].get("net", [{}])[0]
    check("info shows the net device and its fd", net and net.get("mac") == GUEST_MAC and len(net.get("fds", [])) == 1,
          str(info))
    expect(c, "boot with net fds", "PUT", "vm.boot", 204)
    check("boot spawned cellvm-net", [comm(k) for k in children(pid)] == ["cellvm-net"],
          str([comm(k) for k in children(pid)]))
    serial = wait_serial(tmp, "test net-tx: PASS")
    check("probe net-tx passes on the SCM_RIGHTS tap", "test net-tx: PASS" in serial, serial[-300:])
    try:
        out = peer.communicate(timeout=35)[0]
    except subprocess.TimeoutExpired:
        peer.kill()
        out = peer.communicate()[0]
    check("the probe's frames arrive at the peer byte for byte", "peer: tx: OK" in out, out[-300:])
    expect(c, "reboot with net fds", "PUT", "vm.reboot", 204)
    check("reboot spawned cellvm-net again on the kept fd", [comm(k) for k in children(pid)] == ["cellvm-net"],
          str([comm(k) for k in children(pid)]))
    expect(c, "shutdown with net fds", "PUT", "vm.shutdown", 204)
    check("shutdown reaped cellvm-net", children(pid) == [], str(children(pid)))
    st, r = c.request("PUT", "vm.add-net", {"mac": "52:54:00:ce:11:03"}, fds=[tap])
    check("vm.add-net while shut down: 204 (for the next boot)", st == 204, f"{st} {r}")
    info = expect(c, "info after add-net while shut down", "GET", "vm.info", 200, "VmInfo")
    check("info lists both nets", info and len(info["config"].get("net", [])) == 2, str(info))
    expect(c, "delete with net fds", "PUT", "vm.delete", 204)
    check("create, boot, reboot, delete with net fds: no fd growth", fd_count(pid) == fds0,
          f"{fds0} -> {fd_count(pid)}")


def net_session(tmp):
    """Tap fds sent with SCM_RIGHTS (net[].fds, vm.add-net), on a VMM of their own."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"):
        print("SKIP api net fds: needs root, /dev/net/tun and ip(8) to make a tap", flush=True)
        return
    name = f"cva{os.getpid() % 100000}"
    sock = os.path.join(tmp, "api-net.sock")
    tap = open_tap(name)
    subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1"], check=False)
    subprocess.run(["ip", "link", "set", "dev", name, "up"], check=True)
    proc = subprocess.Popen([CELLVM, "--api-socket", sock, "-v"], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        Client(sock).request("GET", "vmm.ping")
        net_bad_fds(sock, proc.pid, tap, tmp)
        net_create_tx(sock, proc.pid, tap, name, tmp)
        net_add(sock, proc.pid, tap, tmp, name)
        Client(sock).request("PUT", "vmm.shutdown")
        rc = proc.wait(timeout=10)
        err = proc.stderr.read()
        check("net VMM exits 0", rc == 0, f"rc {rc}: {err[-500:]}")
        check("net VMM left no fd or thread", "no fd or thread left behind" in err, err[-500:])
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(tap)
        subprocess.run(["ip", "link", "del", name], stderr=subprocess.DEVNULL, check=False)


def hot_disk(tmp, name):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    return {"path": path, "num_queues": 1}


def hotplug_basics(c, tmp):
    body = dict(hot_disk(tmp, "hot.img"), id="hot0", serial="hot-serial")
    check("add-disk request matches DiskConfig", validate("DiskConfig", body) is None, str(validate("DiskConfig", body)))
    r = expect(c, "add-disk while running", "PUT", "vm.add-disk", 200, "PciDeviceInfo", body=body)
    check("add-disk: the id asked for, a bdf on bus 0", r and r.get("id") == "hot0" and
          r.get("bdf", "").startswith("0000:00:") and r["bdf"].endswith(".0"), str(r))
    check("add-disk spawned cellvm-blk", [comm(k) for k in children(PID[1])] == ["cellvm-blk"],
          str([comm(k) for k in children(PID[1])]))
    info = expect(c, "info after add-disk", "GET", "vm.info", 200, "VmInfo")
    disks = (info or {}).get("config", {}).get("disks", [])
    check("info lists the hot-added disk with its id", [d.get("id") for d in disks] == ["hot0"], str(disks))
    expect(c, "add-disk with a taken id: 409", "PUT", "vm.add-disk", 409, body=dict(body, path=hot_disk(tmp, "b.img")["path"]))
    r = expect(c, "add-disk without an id", "PUT", "vm.add-disk", 200, "PciDeviceInfo", body=hot_disk(tmp, "c.img"))
    check("a generated id as Cloud Hypervisor's (_disk<n>)", r and r.get("id", "").startswith("_disk"), str(r))
    gen = r.get("id") if r else ""
    expect(c, "add-disk with a bad field: 400", "PUT", "vm.add-disk", 400, body={"path": 5})
    if os.environ.get("CELLVM_SANITIZED"):
        print("SKIP add-disk outside hotplug-dir: sanitizer build (unjailed: no broker)", flush=True)
    else:
        st, r = c.request("PUT", "vm.add-disk", {"path": "/etc/passwd"})
        check("add-disk outside --jail hotplug-dir: 400 naming it", st == 400 and "hotplug-dir" in r["error"], f"{st} {r}")
    st, r = c.request("PUT", "vm.remove-device", {"id": "nope"})
    check("remove-device of an unknown id: 404", st == 404 and documented("vm.remove-device", "PUT", st), f"{st} {r}")
    st, r = c.request("PUT", "vm.remove-device", {"name": "hot0"})
    check("remove-device without an id: 400", st == 400 and "error" in r, f"{st} {r}")
    check("remove-device request matches VmRemoveDevice", validate("VmRemoveDevice", {"id": "hot0"}) is None, "")
    expect(c, "remove-device hot0", "PUT", "vm.remove-device", 204, body={"id": "hot0"})
    expect(c, "remove-device " + gen, "PUT", "vm.remove-device", 204, body={"id": gen})
    info = expect(c, "info after remove-device", "GET", "vm.info", 200, "VmInfo")
    check("info lists no disk after remove-device", not info["config"].get("disks"), str(info))
    check("remove-device reaped cellvm-blk", children(PID[1]) == [], str(children(PID[1])))


def hotplug_cycles(c, tmp):
    body = hot_disk(tmp, "cycle.img")
    c.request("PUT", "vm.add-disk", body)   # warm up: the first add allocates for good
    c.request("PUT", "vm.remove-device", {"id": json_id(c)})
    fds0 = fd_count(PID[1])
    ok = True
    for i in range(10):
        st, r = c.request("PUT", "vm.add-disk", dict(body, id=f"cyc{i}"))
        st2, _ = c.request("PUT", "vm.remove-device", {"id": f"cyc{i}"})
        ok = ok and st == 200 and st2 == 204
    check("10 add-disk/remove-device cycles answered 200/204", ok, "")
    check("10 cycles: no fd growth in the VMM", fd_count(PID[1]) == fds0, f"{fds0} -> {fd_count(PID[1])}")
    check("10 cycles: no device process left", children(PID[1]) == [], str(children(PID[1])))


def json_id(c):
    _, info = c.request("GET", "vm.info")
    return info["config"]["disks"][0]["id"]


def hotplug_limits(c, tmp):
    for i in range(8):
        c.request("PUT", "vm.add-disk", dict(hot_disk(tmp, f"m{i}.img"), id=f"m{i}"))
    st, r = c.request("PUT", "vm.add-disk", dict(hot_disk(tmp, "m8.img"), id="m8"))
    check("a ninth disk: 400 naming the limit", st == 400 and "too many disks" in r["error"], f"{st} {r}")
    check("a ninth disk: nothing left of it", [comm(k) for k in children(PID[1])] == ["cellvm-blk"] * 8,
          str([comm(k) for k in children(PID[1])]))
    for i in range(8):
        c.request("PUT", "vm.remove-device", {"id": f"m{i}"})
    vs = {"cid": 42, "socket": os.path.join(tmp, "hot-vsock.sock"), "id": "vs0"}
    check("add-vsock request matches VsockConfig", validate("VsockConfig", vs) is None, str(validate("VsockConfig", vs)))
    expect(c, "add-vsock while running", "PUT", "vm.add-vsock", 200, "PciDeviceInfo", body=vs)
    expect(c, "a second vsock: 400", "PUT", "vm.add-vsock", 400, body=dict(vs, id="vs1"))
    expect(c, "remove-device vs0", "PUT", "vm.remove-device", 204, body={"id": "vs0"})
    expect(c, "pause for a hot add", "PUT", "vm.pause", 204)
    expect(c, "add-disk while paused", "PUT", "vm.add-disk", 200, "PciDeviceInfo", body=dict(hot_disk(tmp, "p.img"), id="p0"))
    expect(c, "resume after a hot add", "PUT", "vm.resume", 204)
    expect(c, "remove-device p0", "PUT", "vm.remove-device", 204, body={"id": "p0"})
    check("no device process left", children(PID[1]) == [], str(children(PID[1])))


def hotplug_vhost_user(c, tmp):
    """A disk served by an external vhost-user backend (cellvm-blk started by hand): the broker
    connects a socket under the hotplug directory after the seal, none outside it."""
    sock, img = os.path.join(tmp, "ext.sock"), hot_disk(tmp, "ext.img")["path"]
    blk = subprocess.Popen([os.path.join(os.path.dirname(CELLVM), "cellvm-blk"), "--socket", sock, "--path", img],
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        body = {"vhost_user": True, "vhost_socket": sock, "id": "ext0"}
        expect(c, "add-disk of a vhost-user socket", "PUT", "vm.add-disk", 200, "PciDeviceInfo", body=body)
        expect(c, "remove-device ext0", "PUT", "vm.remove-device", 204, body={"id": "ext0"})
        if not os.environ.get("CELLVM_SANITIZED"):
            st, r = c.request("PUT", "vm.add-disk", {"vhost_user": True, "vhost_socket": "/run/nobody.sock"})
            check("add-disk of a socket outside hotplug-dir: 400", st == 400 and "hotplug-dir" in r["error"], f"{st} {r}")
    finally:
        blk.kill()
        blk.wait()


def hotplug_session(tmp):
    """Devices added to and removed from a running VM (--hotplug-surprise: the probe guest has
    no ACPI hotplug, so remove-device does not wait for its eject)."""
    sock = os.path.join(tmp, "api-hp.sock")
    proc = subprocess.Popen([CELLVM, "--api-socket", sock, "--jail", "on,hotplug-dir=" + tmp,
                             "--hotplug-surprise", "-v"], stderr=subprocess.PIPE, text=True)
    PID.append(proc.pid)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        c = Client(sock)
        cfg = dict(vm_config(tmp), serial={"mode": "File", "file": os.path.join(tmp, "serial.txt")})
        del cfg["disks"]
        st, r = c.request("PUT", "vm.add-disk", hot_disk(tmp, "cold.img"))
        check("add-disk without a VM: 404", st == 404, f"{st} {r}")
        expect(c, "create for hotplug", "PUT", "vm.create", 204, body=cfg)
        expect(c, "cold add-disk: 204", "PUT", "vm.add-disk", 204, body=dict(hot_disk(tmp, "cold.img"), id="cold0"))
        expect(c, "cold remove-device: 204", "PUT", "vm.remove-device", 204, body={"id": "cold0"})
        expect(c, "boot for hotplug", "PUT", "vm.boot", 204)
        wait_for_guest(tmp)
        hotplug_basics(c, tmp)
        hotplug_cycles(c, tmp)
        hotplug_limits(c, tmp)
        hotplug_vhost_user(c, tmp)
        expect(c, "vmm.shutdown after hotplug", "PUT", "vmm.shutdown", 204)
        rc = proc.wait(timeout=10)
        err = proc.stderr.read()
        check("hotplug VMM exits 0", rc == 0, f"rc {rc}: {err[-500:]}")
        check("hotplug VMM left no fd or thread", "no fd or thread left behind" in err, err[-500:])
    finally:
        if proc.poll() is None:
            proc.kill()


def main():
    tmp = tempfile.mkdtemp(prefix="cellvm-api.")
    sock = os.path.join(tmp, "api.sock")
    with open(os.path.join(tmp, "disk.img"), "wb") as f:
        f.truncate(8 << 20)
    proc = subprocess.Popen([CELLVM, "--api-socket", sock, "-v"], stderr=subprocess.PIPE, text=True)
    PID[0] = proc.pid
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.02)
    try:
        c = session(sock, tmp)
        bad_requests(sock, tmp)
        net_session(tmp)
        hotplug_session(tmp)
        thousand(sock, proc.pid, tmp)
        expect(c, "vmm.shutdown", "PUT", "vmm.shutdown", 204)
        rc = proc.wait(timeout=10)
        err = proc.stderr.read()
        check("VMM exits 0 after vmm.shutdown", rc == 0, f"rc {rc}")
        check("VMM left no fd or thread", "no fd or thread left behind" in err, err[-500:])
        check("socket removed", not os.path.exists(sock), sock)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"api conformance: {len(FAILS)} failed" + (": " + ", ".join(FAILS) if FAILS else ""))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
