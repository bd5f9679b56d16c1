"""A signing child process (``ostiary.runtime.signing_processes``): reads keys and signing
inputs from its standard input, writes signatures to its standard output, and exits at the
end of its input."""

from __future__ import annotations

import signal
import sys
from typing import BinaryIO

from ostiary.protocol import jose
from ostiary.runtime.signing_processes import FAILED, HEADER, KEY, OK, SIGN


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    keys: dict[bytes, tuple[jose.PrivateKey, str]] = {}
    while True:
        header = stdin.read(HEADER.size)
        if len(header) < HEADER.size:
            return  # the worker closed the pipe: it stopped
        request_id, length, kind = HEADER.unpack(header)
        body = stdin.read(length)
        if kind == KEY:
            name, kid, pem = body.split(b"\0", 2)
            keys[kid] = (jose.load_private_key(name.decode(), pem), name.decode())
            continue
        if kind != SIGN:
            return  # not a worker speaking
        kid, unsigned = body.split(b"\0", 1)
        try:
            key, algorithm = keys[kid]
            answer, status = jose.signature(unsigned, key, algorithm), OK
        except Exception as exc:  # reported to the request that asked, which fails with it
            answer, status = f"{type(exc).__name__}: {exc}".encode(), FAILED
        stdout.write(HEADER.pack(request_id, len(answer), status) + answer)
        stdout.flush()


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the worker shuts down, and this child ends with
    # its input rather than with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)
