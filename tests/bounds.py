"""Every wall-clock bound in the test suite: the time bounds that are themselves the behaviour under test.
No test compares a time with a number of its own; every other wait waits on an event (a request reaching
the demo server, a history row, a widget state), never on a clock.

Each bound is generous — many times what this 2-core machine measures — so that a loaded machine does not
fail it, and each still fails when the behaviour breaks: an interrupt that waits for the request, a cancel
that waits for the server, a kernel blocked by a background generation, requests sent one after another,
a stream held back until its end. README, "Time bounds in the tests", lists them.
"""

INTERRUPT_S = 0.5  # a kernel interrupt ends a blocking cell and cancels its request (measured 7-10 ms)
CANCEL_S = 1.0  # cancelling an in-flight request aborts it, not waiting for the server (measured ~10 ms)
KERNEL_FREE_S = 3.0  # a probe cell answers while the panel generates for 3 s (measured ~10 ms)
NO_HANG_S = 8.0  # a request meeting a fault ends (timeouts and retries are bounded; measured < 2 s)
LOAD_S = 120.0  # 300 requests at concurrency 16 with injected faults finish (measured ~25 s)
RELEASE_S = 2.0  # the gateway gives back the reservation of a student who went away (measured 10-50 ms)
LEASE_RELEASE_S = 60.0  # the contract: a killed gateway's reservations are released within a minute (measured
# ~4 s with lease_s = 3; the default lease_s = 30 plus one sweep of 5 s stays within it)
QUOTA_LEFT_S = 5.0  # quota_left() gives up on a gateway that does not answer (its own timeout)
PROXY_COOLDOWN_S = 2.0  # a lower bound: behind a proxy that names its wait only in the message ("Try again in
# 2 seconds"), the retry comes after it; two default backoffs (0.5 s + 1 s) would land inside it
SLOW_ANSWER_S = 3.0  # a server that takes this long to answer: a request with a shorter timeout ends sooner
LIVE_LINE_S = 1.0  # a blocking cell shows its "generating" line within this, long before the result
# Streams, as fractions of a whole streamed request: the demo server plans 2 partial images at 1/3 and 2/3 of
# its latency (measured 0.37-0.41 and 0.68-0.70); a stream held back to its end would bring them at ~1.0.
FIRST_PARTIAL_BY = 0.6  # the first partial image comes before this fraction of the whole request
SECOND_PARTIAL_BY = 0.85  # the second one before this fraction
HEADERS_BY = 1 / 3  # a body sent slowly: its headers come before this fraction of the whole answer
LATENCY_FLOOR = 0.95  # a lower bound: a request to a server of latency L takes at least this fraction of L


def concurrent(count: int, latency: float) -> float:
    """Halfway between ``count`` requests of ``latency`` s all at once and one after another."""
    return (count + 1) / 2 * latency
SLOW_CLIENT_S = 5.0  # a connection whose headers or body trickle in past a 0.5 s deadline is cut off, and the demo
# server answers 413 to a body announced over 50 MB without waiting for it (measured ~0.5 s and ~5 ms)
DEADLINE_S = 3.0  # with timeout=1, a server trickling a body or keep-alives is left at the deadline (measured ~1.0 s)
EARLIER_LOOKUP_S = 1.0  # the first cache lookup reads the earlier sessions of the history folder: 100 sessions × 100
# records (measured ~0.1 s); read once, so a restarted kernel's Run All does not pay it per request
