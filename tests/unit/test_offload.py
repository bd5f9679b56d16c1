"""The signing threads: every job's own result (or error) reaches the request that asked for it,
however many finish at once, on whichever event loop asked; a request that gave up is skipped;
and a forked worker process gets threads of its own."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import weakref

import pytest

from ostiary.services.offload import OffloadThreads


async def test_each_job_gets_its_own_result_when_many_finish_together() -> None:
    threads = OffloadThreads(2, "test-offload")
    gate = threading.Event()

    def job(i: int) -> tuple[int, str]:
        gate.wait(5)  # finish together: one wake-up of the loop carries many results
        return i, threading.current_thread().name

    futures = [threads.run(lambda i=i: job(i)) for i in range(200)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*futures), 10)

    assert [i for i, _ in results] == list(range(200))
    assert {name for _, name in results} <= {"test-offload-0", "test-offload-1"}
    assert threading.current_thread().name not in {name for _, name in results}


async def test_an_error_reaches_the_caller_and_the_threads_keep_working() -> None:
    threads = OffloadThreads(1, "test-offload")

    def broken() -> str:
        raise ValueError("key could not sign")

    with pytest.raises(ValueError, match="key could not sign"):
        await asyncio.wait_for(threads.run(broken), 5)
    assert await asyncio.wait_for(threads.run(lambda: "next"), 5) == "next"


async def test_a_cancelled_request_is_skipped_and_the_rest_still_arrive() -> None:
    threads = OffloadThreads(1, "test-offload")
    loop_errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    gate = threading.Event()
    first = threads.run(lambda: gate.wait(5))
    second = threads.run(lambda: "kept")
    first.cancel()
    gate.set()
    assert await asyncio.wait_for(second, 5) == "kept"
    await asyncio.sleep(0.05)  # every delivery of these jobs has run
    assert first.cancelled()
    assert loop_errors == []


def test_each_event_loop_gets_its_own_results() -> None:
    threads = OffloadThreads(1, "test-offload")

    async def ask(value: str) -> tuple[str, asyncio.AbstractEventLoop]:
        return await asyncio.wait_for(threads.run(lambda: value), 5), asyncio.get_running_loop()

    first, loop_one = asyncio.run(ask("one"))
    second, loop_two = asyncio.run(ask("two"))
    assert (first, second) == ("one", "two")
    assert loop_one is not loop_two


def test_a_finished_event_loop_is_not_kept_alive() -> None:
    threads = OffloadThreads(1, "test-offload")
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(_ask(threads, "done")) == "done"
    loop.close()
    finished = weakref.ref(loop)
    del loop
    gc.collect()
    assert finished() is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_threads_of_its_own() -> None:
    threads = OffloadThreads(1, "test-offload")
    assert asyncio.run(_ask(threads, "parent")) == "parent"

    pid = os.fork()
    if pid == 0:  # the child: its parent's threads did not come along
        try:
            ok = asyncio.run(asyncio.wait_for(_ask(threads, "child"), 5)) == "child"
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child never got its result")
    assert os.waitstatus_to_exitcode(status) == 0


async def _ask(threads: OffloadThreads, value: str) -> str:
    return await threads.run(lambda: value)
