"""A network link in user space, for kernels without `tc netem`.

    link_emulator.py DELAY_MS JITTER_MS LOSS NAME_A NAME_B [NAME_A NAME_B ...]

Creates a pair of TAP devices for each NAME_A NAME_B (in the network
namespace it runs in; the caller moves them where they belong) and passes
every Ethernet frame from one to the other after DELAY_MS ± JITTER_MS
(uniform), dropping each with probability LOSS, in both directions: what
`tc qdisc add ... netem delay D J loss L` on both ends of a veth pair does.
Prints "ready" once the devices exist; runs until SIGTERM. A device set down
(`ip link set ... down`) refuses writes: the frames meant for it are lost,
as on a link that is down. Frames are not kept in order, as netem's jitter
does not keep them."""
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    delay = float(sys.argv[1]) / 1000
    jitter = float(sys.argv[2]) / 1000
    loss = float(sys.argv[3])
    names = sys.argv[4:]
    peer = {}
    for a, b in zip(names[0::2], names[1::2]):
        fa, fb = open_tap(a), open_tap(b)
        peer[fa], peer[fb] = fb, fa
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    poller = select.poll()
    for fd in peer:
        poller.register(fd, select.POLLIN)
    due = []  # (when, n, fd, frame): a heap, earliest first
    n = 0
    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, fd, frame = heapq.heappop(due)
            try:
                os.write(fd, frame)
            except OSError:
                pass  # the device is down: the frame is lost
        timeout = max(0, (due[0][0] - now) * 1000) if due else 1000
        for fd, _ in poller.poll(timeout):
            while True:
                try:
                    frame = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if random.random() < loss:
                    continue
                n += 1
                when = time.monotonic() + delay + random.uniform(-jitter, jitter)
                heapq.heappush(due, (when, n, peer[fd], frame))


if __name__ == "__main__":
    main()
