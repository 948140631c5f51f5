"""Old-style coroutines used by the event collector."""
import asyncio


@asyncio.coroutine  # breaks: asyncio.coroutine removed in Python 3.11
def fetch(queue):
    item = yield from queue.get()
    return item


def run(queue):
    return asyncio.get_event_loop().run_until_complete(fetch(queue))
