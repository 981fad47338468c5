"""The engine thread: every run's torch work on one long-lived thread (engine_thread.py)."""

import threading

import pytest

from napari_nst.engine.engine_thread import on_engine_thread, relayed


def test_work_runs_on_one_thread_that_lives_on():
    first = on_engine_thread(threading.current_thread)
    second = on_engine_thread(threading.current_thread)
    assert first is second and first is not threading.current_thread()
    assert first.name.startswith("napari-nst engine") and first.is_alive()


def test_relayed_items_come_in_order_computed_on_the_engine_thread():
    def numbers():
        for n in range(5):
            yield n, threading.current_thread().name

    items = list(relayed(numbers))
    assert [n for n, _ in items] == list(range(5))
    assert {name for _, name in items} == {on_engine_thread(threading.current_thread).name}


def test_an_error_on_the_engine_thread_is_raised_to_the_consumer():
    def failing():
        yield 1
        raise ValueError("the run's own sentence")

    consumer = relayed(failing)
    assert next(consumer) == 1
    with pytest.raises(ValueError, match="the run's own sentence"):
        next(consumer)


def test_closing_the_consumer_stops_the_work_at_its_next_item():
    made, closed = [], threading.Event()

    def endless():
        try:
            while True:
                made.append(len(made))
                yield made[-1]
        finally:
            closed.set()

    consumer = relayed(endless)
    assert [next(consumer) for _ in range(3)] == [0, 1, 2]
    consumer.close()
    assert closed.wait(5.0)  # the engine's generator was closed, on the engine thread
    count = len(made)
    assert on_engine_thread(lambda: len(made)) == count  # and makes no more
    assert count <= 5  # at most one item ahead of the consumer, and the one being handed
