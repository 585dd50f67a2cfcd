#!/usr/bin/env python3
"""Free loopback ports, picked below the kernel's ephemeral range (32768-)
so that no outgoing connection takes one before its server binds it (as
tests/fixture picks its own in C). A port is free when 127.0.0.1:port
can be bound now; it is not reserved, so a server that fails to bind it
should be restarted on another.

  ports.py [N [TAKEN...]]   prints N (default 1) distinct free ports, one
                            a line, none of the TAKEN ones (tools/run's
                            RUN_PORTS=auto picks its ports so)
"""
import random
import socket
import sys

LOW, HIGH = 20000, 32000


def free_port(taken=()):
    """One free port, not one of taken."""
    while True:
        port = random.randrange(LOW, HIGH)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def free_ports(n, taken=()):
    """n distinct free ports, none of taken."""
    out = []
    for _ in range(n):
        out.append(free_port(set(taken) | set(out)))
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    for port in free_ports(n, {int(p) for p in sys.argv[2:]}):
        print(port)
