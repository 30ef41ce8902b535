"""Page preparation in worker processes that live as long as a run, not as long as a call.

Decoding a page and turning it into model inputs (resize, patches, prompt tokens) is host work that
must keep ahead of the GPU. A :class:`PreparationPool` starts its ``workers`` spawned interpreters
once (never a fork of a process that imported torch) and serves every
:func:`~jinavdr.engine.encoding.encode_pages` call of a run with them: the start-up (imports,
interpreter) is paid once per run instead of once per subset.

- **What travels.** A call's context (corpus, preparer, OCR texts) is pickled once into a file that
  each worker reads on its first task of the call; large Arrow arrays in it (a subset's image
  column) are written beside it as Arrow files that every worker memory-maps, so N workers share one
  copy of the images instead of holding N. Tasks carry only page positions. Prepared tensors come
  back through shared memory (``torch.multiprocessing``), pinned when they feed a GPU.
- **Pages of one batch in parallel.** A preparer with a ``collate(parts)`` method (the split page
  path's, see :class:`jinavdr.models.adapters.jina.V4PagePreparer`) has each batch cut into one
  chunk per worker; the chunks are prepared side by side and joined in page order, so the first
  batch of a call waits for one worker's share, not for the whole batch. ``collate`` must give
  exactly what preparing the whole batch at once gives.
- **Bounded memory.** Tasks in flight stay under twice the workers (see :class:`PreparationPool`):
  host memory holds a few batches, never a whole subset.
- **Failures.** An undecodable page comes back as :class:`DecodeFailure` (raised by the caller with
  its doc id); any other error in a worker is raised in the caller naming the pages; a worker that
  dies (killed, out of host memory) is reported with its exit code and the pool restarts on its next
  call. A call abandoned half-way (an exception in the caller) drops its queued tasks; results that
  still arrive for it are discarded.
"""

from __future__ import annotations

import pickle
import queue
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from jinavdr.catalogue.dataset import Corpus, PageDecodeError
from jinavdr.errors import JinaVDRError

if TYPE_CHECKING:
    from jinavdr.models.base import Page

#: a preparer: pages -> the model inputs of one batch (picklable; it runs in the worker processes)
Preparer = Callable[[list["Page"]], Any]
#: seconds between checks that every worker is still alive while waiting for results
_POLL_S = 0.2


@dataclass(frozen=True)
class DecodeFailure:
    """A page that did not decode in a worker (re-raised in the caller with its doc id)."""

    doc_id: str
    dataset: str
    message: str

    def raise_(self) -> NoReturn:
        raise PageDecodeError(self.doc_id, self.dataset, RuntimeError(self.message))


@dataclass
class PreparedBatch:
    """One batch of pages turned into model inputs on the host, with the time per stage
    (``decode``, ``preprocess``: summed over the processes that prepared its parts)."""

    positions: list[int]
    inputs: Any
    seconds: dict[str, float] = field(default_factory=dict)

    def pin_memory(self) -> PreparedBatch:
        """Page-locked copies of the input tensors (fast, asynchronous copies to a GPU)."""
        import torch

        inputs = self.inputs
        if isinstance(inputs, dict):
            inputs = {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        return PreparedBatch(self.positions, inputs, self.seconds)


@dataclass(frozen=True)
class _WorkerError:
    """An exception other than a decode failure, raised while preparing ``positions`` in a worker."""

    positions: list[int]
    message: str


def page_of(corpus: Corpus, i: int, texts: list[str] | None, images: bool) -> Page:
    """Page ``i`` of ``corpus`` as an encoder takes it (the image decoded only when ``images``)."""
    from jinavdr.models.base import Page

    return Page(corpus.ids[i], corpus.image(i) if images else None, None if texts is None else texts[i])


def prepare_batch(corpus: Corpus, positions: Sequence[int], preparer: Preparer, texts: list[str] | None,
                  images: bool) -> PreparedBatch | DecodeFailure:
    """Decode the pages at ``positions`` and prepare them, timing both stages."""
    t0 = time.perf_counter()
    try:
        pages = [page_of(corpus, i, texts, images) for i in positions]
    except PageDecodeError as exc:
        return DecodeFailure(exc.doc_id, exc.dataset, str(exc.__cause__ or exc))
    t1 = time.perf_counter()
    inputs = preparer(pages)
    return PreparedBatch(list(positions), inputs, {"decode": t1 - t0, "preprocess": time.perf_counter() - t1})


class _DecodedPages:
    """The preparer of encoders without a split page path: the decoded pages themselves (parts of a
    batch join by concatenation)."""

    def __call__(self, pages: list[Page]) -> list[Page]:
        return pages

    def collate(self, parts: list[list[Page]]) -> list[Page]:
        return [page for part in parts for page in part]


decoded_pages = _DecodedPages()


def collate(preparer: Preparer, parts: Sequence[PreparedBatch]) -> PreparedBatch:
    """Join the prepared chunks of one batch, in order, with ``preparer.collate``."""
    if len(parts) == 1:
        return parts[0]
    inputs = preparer.collate([p.inputs for p in parts])  # type: ignore[attr-defined]
    seconds: dict[str, float] = {}
    for part in parts:
        for stage, s in part.seconds.items():
            seconds[stage] = seconds.get(stage, 0.0) + s
    return PreparedBatch([i for p in parts for i in p.positions], inputs, seconds)


def chunks(positions: Sequence[int], workers: int, preparer: Preparer) -> list[list[int]]:
    """How one batch is cut into tasks: one chunk per worker (consecutive, sizes differing by at most
    one) when the preparer can ``collate``, else the whole batch as one task."""
    n = len(positions)
    if n <= 1 or workers <= 1 or not callable(getattr(preparer, "collate", None)):
        return [list(positions)]
    k = min(n, workers)
    bounds = [round(j * n / k) for j in range(k + 1)]
    return [list(positions[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


def prepare_locally(corpus: Corpus, batches: Sequence[Sequence[int]], preparer: Preparer, texts: list[str] | None,
                    images: bool) -> Iterator[PreparedBatch | DecodeFailure]:
    """The batches prepared one after the other in this process (no workers)."""
    for positions in batches:
        yield prepare_batch(corpus, positions, preparer, texts, images)


# ---- the worker processes ----------------------------------------------------------------------


def _worker_main(tasks: Any, results: Any) -> None:
    """A worker's loop: prepare the positions of each task with its call's context; ``None`` stops it."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it stops the pool
    torch.set_num_threads(1)  # many workers side by side: one thread each
    results.cancel_join_thread()  # a worker told to stop exits at once, even with results unread
    context: tuple[str, Any] | None = None
    while True:
        task = tasks.get()
        if task is None:
            return
        call, path, batch, part, positions = task
        try:
            if context is None or context[0] != path:
                context = None  # drop the previous call's corpus before loading this one
                with open(path, "rb") as fh:
                    context = (path, pickle.load(fh))
            corpus, preparer, texts, images = context[1]
            out: Any = prepare_batch(corpus, positions, preparer, texts, images)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, naming the pages
            out = _WorkerError(list(positions), f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        results.put((call, batch, part, out))


@dataclass
class _Call:
    """The bookkeeping of one :meth:`PreparationPool.prepare` call (touched by the collector thread)."""

    id: str
    preparer: Preparer
    pin: bool
    parts: dict[int, dict[int, Any]] = field(default_factory=dict)
    expected: dict[int, int] = field(default_factory=dict)


class PreparationPool:
    """``workers`` spawned processes that prepare page batches for every call until :meth:`close`.

    Use it as a context manager, or call :meth:`close`; the processes are daemons, so they also end
    with the interpreter. One call at a time (calls from several threads are refused).

    In flight: at most twice as many tasks as workers (a batch split between all workers is one
    task each), and batches ahead of the caller up to ``ahead`` or twice the workers, whichever is
    more; at least the next batch is always being prepared.
    """

    def __init__(self, workers: int, *, ahead: int = 2) -> None:
        if workers < 1:
            raise JinaVDRError(f"a preparation pool needs at least 1 worker, got {workers}")
        if ahead < 1:
            raise JinaVDRError(f"ahead must be at least 1 batch, got {ahead}")
        self.workers, self.ahead = workers, ahead
        #: times the worker processes were started (1 for a healthy run)
        self.starts = 0
        #: most batches submitted but not yet handed to the caller, over the pool's life
        self.most_ahead = 0
        #: bytes of the last call's context that the workers memory-map instead of unpickling
        self.mapped_bytes = 0
        self._procs: list[Any] = []
        self._tasks: Any = None
        self._results: Any = None
        self._dir: Path | None = None
        self._ready: queue.Queue[tuple[str, int, Any]] = queue.Queue()
        self._call: _Call | None = None
        self._lock = threading.Lock()
        self._collector: threading.Thread | None = None
        self._stop = threading.Event()
        self._busy = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> PreparationPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """Process ids of the running workers (empty before the first call and after :meth:`close`)."""
        return [p.pid for p in self._procs]

    def _alive(self) -> bool:
        return bool(self._procs) and all(p.is_alive() for p in self._procs)

    def _start(self) -> None:
        import torch.multiprocessing as tmp

        ctx = tmp.get_context("spawn")  # never fork: the caller has imported torch
        self._tasks, self._results = ctx.Queue(), ctx.Queue()
        self._dir = Path(tempfile.mkdtemp(prefix="jinavdr-prepare-"))
        self._procs = [ctx.Process(target=_worker_main, args=(self._tasks, self._results), daemon=True,
                                   name=f"jinavdr-prepare-{i}") for i in range(self.workers)]
        for p in self._procs:
            p.start()
        self._stop.clear()
        self._collector = threading.Thread(target=self._collect, name="jinavdr-prepare-collector", daemon=True)
        self._collector.start()
        self.starts += 1

    def close(self) -> None:
        """Stop the workers and remove the call files (idempotent)."""
        self._stop.set()
        if self._collector is not None:
            self._collector.join(timeout=5)
            self._collector = None
        for _ in self._procs:
            try:
                self._tasks.put(None)
            except (OSError, ValueError):
                break
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self._procs = []
        for q in (self._tasks, self._results):
            if q is not None:
                q.close()
                q.cancel_join_thread()
        self._tasks = self._results = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- the collector thread -------------------------------------------------------------------

    def _collect(self) -> None:
        """Receive worker results; hand each complete batch (joined, pinned) to the caller."""
        while not self._stop.is_set():
            try:
                call_id, batch, part, out = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                dead = [p for p in self._procs if not p.is_alive()]
                if dead and self._call is not None:
                    p = dead[0]
                    self._ready.put((self._call.id, -1, JinaVDRError(
                        f"page preparation worker {p.name} (pid {p.pid}) exited with code {p.exitcode} "
                        "(killed, or out of host memory?); lower --num-workers or --batch-size and rerun: "
                        "finished subsets are kept")))
                    return
                continue
            except (OSError, EOFError, ValueError):  # the queue was closed: the pool is closing
                return
            with self._lock:
                call = self._call
                if call is None or call.id != call_id:
                    continue  # a result of an abandoned call
                parts = call.parts.setdefault(batch, {})
                parts[part] = out
                if len(parts) < call.expected[batch]:
                    continue
                del call.parts[batch]
            self._ready.put((call_id, batch, self._finish(call, [parts[j] for j in sorted(parts)])))

    @staticmethod
    def _finish(call: _Call, parts: list[Any]) -> Any:
        """One batch from its parts: the first failure if any part failed, else the joined parts."""
        for part in parts:
            if isinstance(part, (DecodeFailure, _WorkerError)):
                return part
        try:
            item = collate(call.preparer, parts)
            return item.pin_memory() if call.pin else item
        except Exception as exc:  # noqa: BLE001 - raised in the caller
            return _WorkerError([i for p in parts for i in p.positions], f"{type(exc).__name__}: {exc}")

    # -- a call ---------------------------------------------------------------------------------

    def prepare(self, corpus: Corpus, batches: Sequence[Sequence[int]], preparer: Preparer,
                texts: list[str] | None, images: bool, *, pin: bool = False) -> Iterator[PreparedBatch | DecodeFailure]:
        """The prepared ``batches`` of ``corpus``, in order (a :class:`DecodeFailure` in place of a
        batch with an undecodable page). ``pin``: page-locked tensors, for a GPU."""
        if not self._busy.acquire(blocking=False):
            raise JinaVDRError("this preparation pool is serving another call: use one pool per thread")
        call: _Call | None = None
        try:
            if not self._alive():
                self.close()
                self._start()
            assert self._dir is not None
            call = _Call(uuid.uuid4().hex, preparer, pin)
            folder = self._dir / call.id
            folder.mkdir()
            path = folder / "context.pkl"
            self.mapped_bytes = _write_context(path, (corpus, preparer, texts, images), corpus.dataset)
            with self._lock:
                self._call = call
            yield from self._run(call, str(path), batches, preparer)
        finally:
            self._end(call)
            self._busy.release()

    def _run(self, call: _Call, path: str, batches: Sequence[Sequence[int]],
             preparer: Preparer) -> Iterator[PreparedBatch | DecodeFailure]:
        plan = [chunks(b, self.workers, preparer) for b in batches]
        submitted = in_flight = 0
        done: dict[int, Any] = {}
        for b in range(len(batches)):
            while submitted < len(batches) and (submitted <= b or (
                    submitted - b < max(self.ahead, 2 * self.workers)
                    and in_flight + len(plan[submitted]) <= 2 * self.workers)):
                with self._lock:
                    call.expected[submitted] = len(plan[submitted])
                for j, part in enumerate(plan[submitted]):
                    self._tasks.put((call.id, path, submitted, j, part))
                in_flight += len(plan[submitted])
                submitted += 1
                self.most_ahead = max(self.most_ahead, submitted - b)
            while b not in done:
                call_id, batch, item = self._next_ready()
                if call_id != call.id:
                    continue
                if batch < 0:  # a dead worker
                    raise item
                done[batch] = item
            item = done.pop(b)
            in_flight -= len(plan[b])
            if isinstance(item, _WorkerError):
                raise JinaVDRError(f"preparing pages at positions {_describe(item.positions)} failed in a worker "
                                   f"process: {item.message}")
            yield item

    def _next_ready(self) -> tuple[str, int, Any]:
        """The next finished batch from the collector thread (checking that the thread still runs)."""
        while True:
            try:
                return self._ready.get(timeout=1.0)
            except queue.Empty:
                if self._collector is None or not self._collector.is_alive():
                    raise JinaVDRError("the page preparation pool stopped while a call was waiting for it; "
                                       "rerun (finished subsets are kept)") from None

    def _end(self, call: _Call | None) -> None:
        """Forget ``call``: drop its queued tasks and its file; a dead worker stops the pool."""
        with self._lock:
            self._call = None
        if self._tasks is not None:
            try:
                while True:
                    self._tasks.get_nowait()
            except (queue.Empty, OSError, ValueError):
                pass
        while True:  # results the caller did not take
            try:
                self._ready.get_nowait()
            except queue.Empty:
                break
        if call is not None and self._dir is not None:  # workers keep their mappings (Linux)
            shutil.rmtree(self._dir / call.id, ignore_errors=True)
        if self._procs and not self._alive():
            self.close()


#: Arrow arrays of at least this many bytes (a corpus's image column) travel to the workers as
#: memory-mapped Arrow files: every worker maps the same file (shared page cache) instead of holding
#: its own copy of the subset's images.
MAP_BYTES = 1 << 20


class _ContextPickler(pickle.Pickler):
    """Pickles a call's context; large Arrow arrays go to Arrow IPC files in ``folder``, read back
    memory-mapped (:func:`_mapped_array`)."""

    def __init__(self, fh: Any, folder: Path) -> None:
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder, self.files, self.mapped_bytes = folder, 0, 0

    def reducer_override(self, obj: Any) -> Any:
        pa = sys.modules.get("pyarrow")
        if pa is None or not isinstance(obj, pa.Array) or obj.nbytes < MAP_BYTES:
            return NotImplemented
        path = self.folder / f"array-{self.files}.arrow"
        self.files += 1
        batch = pa.record_batch([obj], names=["values"])
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        self.mapped_bytes += obj.nbytes
        return _mapped_array, (str(path),)


def _mapped_array(path: str) -> Any:
    """The Arrow array written by :class:`_ContextPickler`, memory-mapped (no copy)."""
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(path, "r")).get_batch(0).column(0)


def _write_context(path: Path, context: tuple[Any, ...], dataset: str) -> int:
    """Pickle a call's context for the workers (large Arrow arrays beside it, memory-mapped by the
    workers); returns the bytes that travel that way. Says what to do when the context cannot travel."""
    try:
        with path.open("wb") as fh:
            pickler = _ContextPickler(fh, path.parent)
            pickler.dump(context)
            return pickler.mapped_bytes
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        path.unlink(missing_ok=True)
        raise JinaVDRError(
            f"the pages of {dataset or 'this corpus'} or the model's page preparer cannot be sent to worker "
            f"processes ({type(exc).__name__}: {exc}): give the corpus a picklable load_image (a module-level "
            "function or class, not a lambda), or use --num-workers 0"
        ) from exc


#: most workers ``auto`` gives one GPU: at 6-11 pages/s per core (transformers 4 / 5 image
#: processors, benchmarks/prepare_throughput.py) 8 prepare 50-90 pages/s, several times what one GPU encodes.
AUTO_MAX_WORKERS = 8


def auto_workers(device: str, *, cores: int | None = None, ranks_per_node: int | None = None) -> int:
    """Workers for ``--num-workers auto``: none on the CPU (the model needs the cores itself); on a
    GPU, this process's share of the cores (``LOCAL_WORLD_SIZE`` ranks per node under torchrun) less
    two (the main process, the collector), at least 1 and at most :data:`AUTO_MAX_WORKERS`."""
    import os

    if not device.startswith("cuda"):
        return 0
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if ranks_per_node is None:
        ranks_per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, min(AUTO_MAX_WORKERS, cores // max(1, ranks_per_node) - 2))


def _describe(positions: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in positions[:8])
    return shown + (f", ... ({len(positions)} pages)" if len(positions) > 8 else "")


__all__ = [
    "AUTO_MAX_WORKERS",
    "DecodeFailure",
    "PreparationPool",
    "PreparedBatch",
    "Preparer",
    "auto_workers",
    "chunks",
    "collate",
    "decoded_pages",
    "page_of",
    "prepare_batch",
    "prepare_locally",
]
