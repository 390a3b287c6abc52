"""Run fuzz cases in forked workers, each under a time alarm and an address-space cap, and classify them.

Each case runs in a child forked for it (at most `workers` at once), so a
case cannot leave state behind, a native crash takes only its child, and
the cap (`resource.RLIMIT_AS`, `ALLOCATION_CAP` bytes above what the parent
already maps) turns a blow-up into a `MemoryError` instead of exhausting
the machine. The child first runs the case's reference runtime (if any) in
a grandchild, then the case under `signal.setitimer`; the parent kills a
child that overstays even that (a loop inside C code, such as a regular
expression backtracking, never sees the alarm).

Outcomes: OK (an `NpucError` on one line, or a valid result the case
allows), FOREIGN (another exception: its type and where it was raised),
HANG, GARBAGE (a result where the case must be refused), MESSAGE (an
`NpucError` whose message spans lines or holds control characters) and
CRASH (the child died without a word).
"""

from __future__ import annotations

import faulthandler
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from npuc.errors import NpucError

from fuzz.case import MUST_REJECT, Case

OK = "ok"
FOREIGN = "foreign exception"
HANG = "hang"
GARBAGE = "accepted garbage"
MESSAGE = "multi-line message"
CRASH = "crash"
OUTCOMES = (OK, FOREIGN, HANG, GARBAGE, MESSAGE, CRASH)
"""Every outcome class, OK first."""

MAX_WORKERS = 2
"""Cases running at once (the machine has 2 cores)."""

ALLOCATION_CAP = 4 << 30
"""Bytes of address space a case may map beyond what the runner already maps."""

REFERENCE_TIMEOUT = 10.0
"""Seconds the reference runtime may take on a case; beyond it, its verdict is unknown."""

KILL_GRACE = 5.0
"""Seconds past its alarm before the parent kills a case that did not stop."""

POLL_SECONDS = 0.01
"""Interval at which a child checks on its reference grandchild."""

MESSAGE_LIMIT = 300
"""Characters of an exception message kept in a result."""

REPOSITORY = Path(__file__).resolve().parents[2]
"""The checkout: frames under it (but the tests) are npuc's own."""

SOURCE_FOLDERS = ("npuc", "dialects", "passes", "tools")
"""The repository's source folders; the deepest frame in them is where npuc let an exception out."""


class CaseTimeout(BaseException):
    """The case's alarm fired (a BaseException, so no `except Exception` in npuc swallows it)."""


@dataclass(frozen=True)
class Result:
    """What one case did.

    `signature` identifies the failure for grouping ("type at file:line",
    file:line being the deepest frame in npuc's sources, or the deepest
    frame at all when npuc has none); `raised_at` is the deepest frame;
    `expect` the expectation after the reference runtime's verdict.
    """

    key: str
    family: str
    name: str
    outcome: str
    expect: str
    signature: str = ""
    raised_at: str = ""
    message: str = ""
    seconds: float = 0.0


def run_cases(
    cases: Sequence[Case], workers: int = MAX_WORKERS, on_result: Callable[[Result], None] | None = None
) -> list[Result]:
    """Run `cases` in at most `workers` forked children; their results in the order of `cases`."""
    results: list[Result | None] = [None] * len(cases)
    scratch = Path(tempfile.mkdtemp(prefix="npuc-fuzz-"))
    allowance = _mapped_bytes() + ALLOCATION_CAP
    pending = list(enumerate(cases))
    running: dict[int, _Running] = {}
    try:
        while pending or running:
            while pending and len(running) < max(1, min(workers, MAX_WORKERS)):
                index, case = pending.pop(0)
                child = _start(case, scratch / str(index), allowance)
                running[child.read_fd] = _Running(index, case, child.pid, child.read_fd, time.monotonic())
            for finished in _wait(running):
                del running[finished.read_fd]
                result = finished.result()
                results[finished.index] = result
                if on_result is not None:
                    on_result(result)
    finally:
        for overdue in running.values():  # interrupted: stop and reap the children still running
            overdue.kill()
            overdue.result()
        shutil.rmtree(scratch, ignore_errors=True)
    return [result for result in results if result is not None]


@dataclass
class _Child:
    pid: int
    read_fd: int


class _Running:
    """A case running in a child: its pipe, start time and the bytes it wrote."""

    def __init__(self, index: int, case: Case, pid: int, read_fd: int, started: float):
        self.index = index
        self.case = case
        self.pid = pid
        self.read_fd = read_fd
        self.started = started
        self.deadline = started + REFERENCE_TIMEOUT + case.timeout + KILL_GRACE
        self.data = b""
        self.killed = False

    def kill(self) -> None:
        """Kill the child and its reference grandchild (their own process group)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.killed = True

    def result(self) -> Result:
        """Reap the child and read its result (HANG when it was killed, CRASH when it said nothing)."""
        os.close(self.read_fd)
        _, status = os.waitpid(self.pid, 0)
        seconds = time.monotonic() - self.started
        case = self.case
        if self.killed:
            return Result(case.key, case.family, case.name, HANG, case.expect,
                          f"killed after {case.timeout:g} s alarm + {KILL_GRACE:g} s", seconds=seconds)
        if not self.data:
            how = f"signal {-os.waitstatus_to_exitcode(status)}" if os.WIFSIGNALED(status) else (
                f"exit status {os.waitstatus_to_exitcode(status)}")
            return Result(case.key, case.family, case.name, CRASH, case.expect, f"child ended by {how}",
                          seconds=seconds)
        return Result(**json.loads(self.data))


def _wait(running: dict[int, _Running]) -> list[_Running]:
    """Wait until a child finishes or overstays; those that did."""
    now = time.monotonic()
    timeout = max(0.0, min(child.deadline for child in running.values()) - now)
    readable, _, _ = select.select(list(running), [], [], timeout)
    finished = []
    for fd in readable:
        chunk = os.read(fd, 1 << 16)
        if chunk:
            running[fd].data += chunk
        else:
            finished.append(running[fd])
    now = time.monotonic()
    for child in running.values():
        if child not in finished and now > child.deadline:
            child.kill()
            finished.append(child)
    return finished


def _mapped_bytes() -> int:
    """The address space this process maps now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _start(case: Case, directory: Path, address_space: int) -> _Child:
    """Fork the child that runs `case` in `directory`; it writes its `Result` as JSON to a pipe."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return _Child(pid, read_fd)
    os.close(read_fd)
    try:
        os.setpgid(0, 0)
        _silence()
        resource.setrlimit(resource.RLIMIT_AS, (address_space, resource.getrlimit(resource.RLIMIT_AS)[1]))
        directory.mkdir(parents=True)
        result = _execute(case, directory)
        with os.fdopen(write_fd, "w") as pipe:
            pipe.write(json.dumps(asdict(result)))
    finally:
        os._exit(0)


def _silence() -> None:
    """Point the child's stdout and stderr at /dev/null: a case's output is not the runner's.

    pytest's fault handler (inherited, writing to its own copy of stderr)
    is turned off too: a runtime aborting in a grandchild is a verdict, not news.
    """
    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _execute(case: Case, directory: Path) -> Result:
    """Run the reference (if any), then the case under its alarm; the classified result."""
    expect = case.expect
    if case.reference is not None and _reference_refuses(case.reference, directory / "reference"):
        expect = MUST_REJECT
    work = directory / "case"
    work.mkdir()
    started = time.monotonic()

    def alarm(_signal, _frame):
        raise CaseTimeout

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, case.timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.run(work)
    except CaseTimeout as error:
        return _failure(case, expect, HANG, error, started)
    except NpucError as error:
        outcome = MESSAGE if _has_control_characters(str(error)) else OK
        return _failure(case, expect, outcome, error, started)
    except BaseException as error:  # noqa: B036 - classifying every escape is the point
        return _failure(case, expect, FOREIGN, error, started)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    outcome = GARBAGE if expect == MUST_REJECT else OK
    return Result(case.key, case.family, case.name, outcome, expect, seconds=time.monotonic() - started)


def _has_control_characters(message: str) -> bool:
    return any(ord(character) < 0x20 or ord(character) == 0x7F for character in message)


def _failure(case: Case, expect: str, outcome: str, error: BaseException, started: float) -> Result:
    """A result for an exception: its signature, where it was raised and its message."""
    frames = [(frame.filename, frame.lineno) for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename != __file__]  # the alarm's handler is not where a hang was
    raised_at = _location(*frames[-1]) if frames else ""
    own = [frame for frame in frames if _is_source(frame[0])]
    where = _location(*own[-1]) if own else raised_at
    signature = f"hang at {where} (in {raised_at})" if outcome == HANG else f"{type(error).__name__} at {where}"
    message = str(error).encode("unicode_escape").decode("ascii")[:MESSAGE_LIMIT]
    return Result(case.key, case.family, case.name, outcome, expect, signature, raised_at, message,
                  time.monotonic() - started)


def _is_source(filename: str) -> bool:
    path = Path(filename)
    return path.is_relative_to(REPOSITORY) and path.relative_to(REPOSITORY).parts[0] in SOURCE_FOLDERS


def _location(filename: str, line: int | None) -> str:
    """`file:line`, relative to the checkout or to the installed package's folder."""
    path = Path(filename)
    if path.is_relative_to(REPOSITORY):
        return f"{path.relative_to(REPOSITORY)}:{line}"
    parts = path.parts
    for marker in ("site-packages", "lib"):
        if marker in parts:
            return f"{Path(*parts[len(parts) - parts[::-1].index(marker):])}:{line}"
    return f"{filename}:{line}"


def _reference_refuses(reference: Callable[[Path], bool], directory: Path) -> bool:
    """Whether the reference runtime refuses the input, run in a grandchild.

    A runtime that crashes on the input refuses it; one that overstays
    `REFERENCE_TIMEOUT` gives no verdict (False: the case keeps its own
    expectation).
    """
    directory.mkdir()
    pid = os.fork()
    if pid == 0:
        refused = True
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                refused = bool(reference(directory))
        finally:
            os._exit(1 if refused else 0)
    deadline = time.monotonic() + REFERENCE_TIMEOUT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) != 0
        time.sleep(POLL_SECONDS)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False
