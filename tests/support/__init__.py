"""The shared toolkit of the Python test suites (tests/compose,
tests/hostile, tests/cluster, tests/helm, tests/swarm): standard library
only, imported as `support` with tests/ on sys.path (each suite's
conftest.py puts it there).

  ports   free loopback ports (also a command: ports.py N)
  http    raw HTTP over sockets (exact bytes, hostile input) and plain
          urllib helpers (status and body, JSON, a vote)
  ws      one WebSocket client (RFC 6455): handshake, frames (also lying
          ones), reading, and a command that prints a socket's frames
  proc    a command's exit code and output (run), their last lines (tail)
  compose compose files as Compose renders them (`compose config`, and
          `docker stack config` for the Swarm stack), never re-interpolated
"""
