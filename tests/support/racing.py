"""Racing calls against each other, for the concurrency tests."""

import threading
from concurrent.futures import ThreadPoolExecutor


def fire_together(count: int, call):
    """Run `call(i)` in `count` threads released at the same instant; return the results.
    An exception in any of them is raised here, so a crashed racer fails the test."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
