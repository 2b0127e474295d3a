"""`linli` commands as separate processes, their output read line by line as it comes."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO


def linli_command(*args: str) -> list[str]:
    """The command line of `linli ARGS` with this interpreter."""
    return [sys.executable, "-m", "service.cli", *args]


def clean_env(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without the LINLI_ settings of whoever runs the tests, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(settings or {})
    return env


def linli(
    *args: str,
    settings: Mapping[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `linli ARGS` to its end, with only the given LINLI_ `settings`."""
    return subprocess.run(
        linli_command(*args),
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=clean_env(settings),
    )


class Running:
    """`linli ARGS` running in the background; `wait_for` reads its output (stdout and stderr)."""

    def __init__(self, *args: str, settings: Mapping[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            linli_command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(settings),
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._open = 2
        for stream in (self.process.stdout, self.process.stderr):
            assert stream is not None
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._new.put(line.rstrip("\n"))
        self._new.put(None)

    def wait_for(
        self,
        pattern: str,
        *,
        seconds: float = 60,
        accept: Callable[[re.Match[str]], bool] = lambda _m: True,
        meanwhile: subprocess.Popen[str] | None = None,
    ) -> re.Match[str]:
        """The first new output line matching `pattern` (and `accept`), within `seconds`.

        Fails when the process ends first, or when `meanwhile` (another process the wait
        depends on) does.
        """
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if meanwhile is not None and meanwhile.poll() is not None:
                raise AssertionError(f"the other process ended ({meanwhile.returncode}) first")
            try:
                line = self._new.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self._open -= 1
                if self._open == 0:
                    raise AssertionError(f"ended before {pattern!r}:\n{self.output()}")
                continue
            self.lines.append(line)
            match = re.search(pattern, line)
            if match is not None and accept(match):
                return match
        raise AssertionError(f"no {pattern!r} within {seconds} s:\n{self.output()}")

    def output(self, last: int = 40) -> str:
        """The last lines of output so far."""
        while True:
            try:
                line = self._new.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return "\n".join(self.lines[-last:])

    def everything(self, seconds: float = 30) -> str:
        """Every line the process wrote, read to the end of both streams (stop it first)."""
        deadline = time.monotonic() + seconds
        while self._open > 0 and time.monotonic() < deadline:
            try:
                line = self._new.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                self._open -= 1
            else:
                self.lines.append(line)
        assert self._open == 0, "the process's output did not end: stop it first"
        return "\n".join(self.lines)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to tidy up."""
        self.process.kill()
        self.process.wait()

    def stop(self, seconds: float = 30) -> int:
        """SIGTERM, then SIGKILL if it does not end within `seconds`; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> Running:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def wait_until(condition: Callable[[], bool], seconds: float = 30, every: float = 0.05) -> float:
    """Poll `condition` until it holds; the seconds it took. Fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(every)
    return time.monotonic() - start
