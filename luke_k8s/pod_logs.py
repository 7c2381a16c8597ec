"""Following a training pod's log into the launcher's own log.

The master pod's log is the training's progress (rank 0 logs), so the launcher copies it line
by line into the pipeline step's log, where the Kubeflow UI shows it. A followed log stream
ends when the container stops (a restart, the end of training) and may drop at any time
(API server restarts, idle timeouts): the follower reconnects while the job runs, asking for
timestamps so that lines it already copied are not copied twice.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from datetime import datetime

from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

logger = logging.getLogger(__name__)

RECONNECT_MARGIN_S = 60
"""Extra seconds asked for on a reconnect (clock skew between here and the node)."""


def parse_timestamp(text: str) -> int | None:
    """RFC 3339 with up to 9 fraction digits (kubelet trims trailing zeros) -> ns since epoch."""
    stamp, _, fraction = text.rstrip("Z").partition(".")
    try:
        seconds = datetime.fromisoformat(stamp + "+00:00").timestamp()
    except ValueError:
        return None
    if fraction and not fraction.isdigit():
        return None
    return int(seconds) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def split_timestamp(line: str) -> tuple[int | None, str]:
    """`<timestamp> <text>` (the API's `timestamps=true` form) -> (ns, text)."""
    head, sep, rest = line.partition(" ")
    stamp = parse_timestamp(head) if sep or head.endswith("Z") else None
    return (stamp, rest) if stamp is not None else (None, line)


def iter_lines(response) -> Iterator[str]:
    """Lines of a streamed HTTP response as they arrive (a last unterminated line included)."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=True):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace")
    if buffer:
        yield buffer.decode("utf-8", errors="replace")


class PodLogFollower(threading.Thread):
    """Copies one container's log to `sink` until `finish()` or `stop()`; keeps the last
    lines in `tail`."""

    def __init__(
        self,
        core: CoreV1Api,
        namespace: str,
        pod: str,
        container: str,
        sink: Callable[[str], None],
        *,
        tail_lines: int = 50,
        retry_interval_s: float = 5.0,
        read_timeout_s: float = 300.0,
    ):
        super().__init__(name=f"log-{pod}", daemon=True)
        self.core, self.namespace, self.pod, self.container = core, namespace, pod, container
        self.sink = sink
        self.tail: deque[str] = deque(maxlen=tail_lines)
        self.retry_interval_s = retry_interval_s
        self.read_timeout_s = read_timeout_s
        self._finishing = threading.Event()
        self._stopped = threading.Event()
        self._response = None
        self._last_stamp: int | None = None
        self._at_last_stamp: list[str] = []  # texts copied with that stamp
        self._replayed: Counter[str] = Counter()  # what a reconnect may repeat
        self.lines_copied = 0

    def run(self) -> None:
        while not self._stopped.is_set():
            final = self._finishing.is_set()
            self._copy_stream(follow=not final)
            if final:
                return
            self._finishing.wait(self.retry_interval_s)

    def finish(self, timeout_s: float) -> None:
        """Copy what is left, then stop: the followed stream is cut and one last plain read
        (deduplicated) fetches the lines written since; give up after `timeout_s`."""
        self._finishing.set()
        self._cut_stream()
        self.join(timeout_s)
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self._cut_stream()
        self.join(5)

    def _cut_stream(self) -> None:
        response = self._response
        if response is not None:
            # Unblocks the read in the follower thread (urllib3 >= 2.3).
            getattr(response, "shutdown", response.close)()

    def _copy_stream(self, *, follow: bool) -> None:
        try:
            response = self.core.read_namespaced_pod_log(
                self.pod,
                self.namespace,
                container=self.container,
                follow=follow,
                timestamps=True,
                _preload_content=False,
                _request_timeout=(30, self.read_timeout_s),
                **self._since(),
            )
        except ApiException as exc:
            # 400: the container is still being created; 404: the pod is not there yet.
            if exc.status not in (400, 404):
                logger.warning("log of %s: %s %s", self.pod, exc.status, exc.reason)
            return
        except (HTTPError, OSError) as exc:
            logger.warning("log of %s: %s", self.pod, exc)
            return
        self._response = response
        if follow and (self._finishing.is_set() or self._stopped.is_set()):
            self._cut_stream()  # finish() came while connecting: go to the final read
        self._replayed = Counter(self._at_last_stamp)
        try:
            for line in iter_lines(response):
                self._copy_line(line)
        except (HTTPError, OSError, ValueError, AttributeError) as exc:
            # A dropped connection (or one shut down by stop()): reconnect unless stopped.
            if not self._stopped.is_set():
                logger.info("log stream of %s ended (%s): reconnecting", self.pod, exc)
        finally:
            self._response = None
            response.release_conn()

    def _copy_line(self, line: str) -> None:
        stamp, text = split_timestamp(line)
        if stamp is not None and self._last_stamp is not None:
            # Lines written at once may share a timestamp: compare texts at the last stamp.
            if stamp < self._last_stamp:
                return  # copied before the reconnect
            if stamp == self._last_stamp and self._replayed[text] > 0:
                self._replayed[text] -= 1
                return
        self._replayed.clear()  # past the replayed part: copy everything from here
        if stamp is not None:
            if stamp != self._last_stamp:
                self._last_stamp, self._at_last_stamp = stamp, []
            self._at_last_stamp.append(text)
        self.tail.append(text)
        self.lines_copied += 1
        self.sink(text)

    def _since(self) -> dict[str, int]:
        """On a reconnect, ask only for the recent part (plus a margin), not the whole log."""
        if self._last_stamp is None:
            return {}
        age_s = datetime.now().timestamp() - self._last_stamp / 1e9
        return {"since_seconds": max(1, int(age_s) + RECONNECT_MARGIN_S)}


def read_log_tail(
    core: CoreV1Api, namespace: str, pod: str, container: str, lines: int
) -> list[str]:
    """The last `lines` lines of a container's log; empty when it cannot be read."""
    try:
        # Raw bytes: the client would otherwise parse a log that looks like JSON as JSON.
        response = core.read_namespaced_pod_log(
            pod, namespace, container=container, tail_lines=lines, _preload_content=False
        )
    except (ApiException, HTTPError, OSError) as exc:
        logger.warning("could not read the log of %s: %s", pod, exc)
        return []
    return response.data.decode("utf-8", errors="replace").splitlines()[-lines:]
