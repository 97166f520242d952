"""Free loopback ports, including the +10000 gRPC companions SeaweedFS also binds."""

from __future__ import annotations

import random
import socket


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pairs(count: int, taken: set[int] | None = None) -> list[int]:
    """`count` distinct ports p in 20000-50000 with p and p+10000 both free on 127.0.0.1."""
    taken = set(taken or ())
    ports: list[int] = []
    rng = random.Random()
    for _ in range(2000):
        p = rng.randrange(20000, 50000)
        if p in taken or p + 10000 in taken:
            continue
        if port_is_free(p) and port_is_free(p + 10000):
            ports.append(p)
            taken.update((p, p + 10000))
            if len(ports) == count:
                return ports
    raise RuntimeError("could not find free loopback ports")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
