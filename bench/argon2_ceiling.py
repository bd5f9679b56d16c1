"""How many argon2id verifications per second this machine allows with Ostiary's parameters.

    python bench/argon2_ceiling.py --processes 1 --threads 2 --seconds 8

Each process runs ``threads`` threads verifying one hash in a loop (argon2-cffi releases the GIL,
as Ostiary's ``asyncio.to_thread`` relies on). The parameters come from the same environment
variables as Ostiary's (OSTIARY_ARGON2_TIME_COST, _MEMORY_KIB, _PARALLELISM; defaults 3, 65536,
4). Prints one JSON object: hashes per second over all processes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import threading
import time

from argon2 import PasswordHasher, Type


def hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=int(os.environ.get("OSTIARY_ARGON2_TIME_COST", 3)),
        memory_cost=int(os.environ.get("OSTIARY_ARGON2_MEMORY_KIB", 65536)),
        parallelism=int(os.environ.get("OSTIARY_ARGON2_PARALLELISM", 4)),
        type=Type.ID,
    )


def _process(threads: int, start_at: float, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    ph = hasher()
    target = ph.hash("benchmark password")
    counts = [0] * threads
    stop_at = start_at + seconds

    def loop(i: int) -> None:
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            ph.verify(target, "benchmark password")
            if time.time() > stop_at:
                return
            counts[i] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(sum(counts))


def measure(processes: int, threads: int, seconds: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 2.0 + 0.3 * processes  # every process has hashed its target by then
    procs = [
        ctx.Process(target=_process, args=(threads, start_at, seconds, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    ph = hasher()
    return {
        "processes": processes,
        "threads_per_process": threads,
        "seconds": seconds,
        "hashes": total,
        "hashes_per_second": total / seconds,
        "time_cost": ph.time_cost,
        "memory_kib": ph.memory_cost,
        "parallelism": ph.parallelism,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    print(json.dumps(measure(args.processes, args.threads, args.seconds)))


if __name__ == "__main__":
    main()
