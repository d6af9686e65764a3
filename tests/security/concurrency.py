"""Real concurrency for race tests: calls released together by a barrier, from threads."""
from __future__ import annotations

import threading


def at_once(calls: list) -> list:
    """Run every zero-argument call in its own thread, all released at the same moment; their results,
    in the order the calls were given."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait(timeout=30)
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
