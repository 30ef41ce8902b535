"""Multi-process runs on torch.distributed: ``torchrun --nproc-per-node N -m jinavdr run ...``.

How a run is split (see ``docs/scale-out.md``):

- every process reads its rank from the variables torchrun sets (``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``); a world of one is a plain single-process run;
- rank 0 drives: it plans, runs the :class:`~jinavdr.execution.runner.Runner`, scores, evaluates, writes the
  results and shows progress. The other ranks are workers that follow rank 0's commands: load the
  model (on ``cuda:<local rank>``), load a subset, encode their share of the items;
- per subset and role (queries, then pages), rank 0 lists the items missing from its embedding cache
  (duplicates once), orders them largest first and deals them out in a snake order
  (:func:`split_items`), so every rank gets a similar amount of work;
- each rank encodes its share through :mod:`jinavdr.engine.encoding` (batching, OOM back-off, decoding
  workers) into its own embedding cache, and sends the embeddings to rank 0 over a gloo process
  group, so nodes need no shared filesystem. When rank 0 sees that every rank's cache is its own
  cache folder (a shared filesystem), it does not write the others' items a second time;
- rank 0 assembles the embeddings in corpus order and ranks them exactly as a single process does:
  the same embeddings give the same scores (batch composition does not change an embedding);
- a failure on any rank travels back with the embeddings (every rank always answers), so rank 0
  records it as that subset's failure and goes on; a rank that dies makes the collectives fail, and
  a stuck rank is cut off by the process-group timeout (``JINAVDR_DIST_TIMEOUT`` seconds).

Searchers (``bm25``) encode nothing: rank 0 runs them alone and releases the workers at once.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinavdr.errors import JinaVDRError
from jinavdr.execution.runner import DefaultBackend, _CountingEncoder

if TYPE_CHECKING:
    from jinavdr.catalogue.dataset import Corpus, Subset
    from jinavdr.engine.cache import EmbeddingCache
    from jinavdr.engine.encoding import EncodePlan, EncodeStats
    from jinavdr.engine.workers import PreparationPool
    from jinavdr.execution.runner import Events, RunOptions, RunReport, WorkUnit
    from jinavdr.models.embeddings import Embeddings
    from jinavdr.models.ranking import Run
    from jinavdr.results.schema import CacheStats, Timings
    from jinavdr.results.store import ResultStore

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "TIMEOUT_ENV",
    "DistEnv",
    "DistributedBackend",
    "ProcessGroup",
    "RankError",
    "device_for",
    "from_env",
    "is_main_process",
    "launched",
    "run_units",
    "split_items",
]

#: Seconds a rank waits for the others in one exchange before the run fails (env override).
TIMEOUT_ENV = "JINAVDR_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 7200.0


class RankError(JinaVDRError):
    """Another rank of a distributed run failed; the message names the rank, host and cause."""


# --------------------------------------------------------------------------------------------------
# Rank and world from the launcher's environment
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in a torchrun job."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int_var(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        if default is None:
            raise JinaVDRError(f"{name} is not set: start distributed runs with torchrun (it sets RANK, "
                               "WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT)")
        return default
    try:
        return int(raw)
    except ValueError:
        raise JinaVDRError(f"environment variable {name}={raw!r} is not an integer") from None


def from_env(environ: Mapping[str, str] | None = None) -> DistEnv | None:
    """The job's ranks from ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (torchrun, SLURM via torchrun).

    ``None`` when the process was not started by a launcher or the world has one process.
    """
    env = os.environ if environ is None else environ
    world = _int_var(env, "WORLD_SIZE", 1)
    if world <= 1:
        return None
    rank = _int_var(env, "RANK")
    local_rank = _int_var(env, "LOCAL_RANK", 0)
    local_world = _int_var(env, "LOCAL_WORLD_SIZE", world)
    if not 0 <= rank < world:
        raise JinaVDRError(f"RANK={rank} is outside the world of WORLD_SIZE={world} processes")
    if not 0 <= local_rank < local_world:
        raise JinaVDRError(f"LOCAL_RANK={local_rank} is outside LOCAL_WORLD_SIZE={local_world}")
    return DistEnv(rank, world, local_rank, local_world)


def launched(environ: Mapping[str, str] | None = None) -> bool:
    """True in a process of a multi-process torchrun job."""
    return from_env(environ) is not None


def is_main_process(environ: Mapping[str, str] | None = None) -> bool:
    """False only in a rank > 0 of a distributed job (rank 0 is the one that prints and writes)."""
    try:
        env = from_env(environ)
    except JinaVDRError:  # reported when the run starts
        return True
    return env is None or env.is_main


def device_for(device: str, env: DistEnv) -> str:
    """This rank's device: ``cuda`` becomes ``cuda:<local rank>``; ``cpu`` stays ``cpu``."""
    if device == "cuda":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if env.local_rank >= count:
            raise JinaVDRError(
                f"this node runs {env.local_world_size} processes but only {count} GPU(s) are visible: "
                "start at most one process per GPU (torchrun --nproc-per-node), or pass --device cpu"
            )
        return f"cuda:{env.local_rank}"
    if device.startswith("cuda:"):
        raise JinaVDRError(
            f"--device {device} names one GPU for all {env.world_size} processes; under torchrun each "
            "process uses cuda:<LOCAL_RANK>. Pass --device cuda (or leave it out) and choose the GPUs "
            "with CUDA_VISIBLE_DEVICES."
        )
    return device


def timeout_seconds(environ: Mapping[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    raw = env.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise JinaVDRError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise JinaVDRError(f"{TIMEOUT_ENV} must be positive, got {raw}")
    return value


# --------------------------------------------------------------------------------------------------
# Sharding items across ranks
# --------------------------------------------------------------------------------------------------


def split_items(order: Sequence[int], world: int) -> list[list[int]]:
    """Deal ``order`` (largest item first) to ``world`` ranks in snake order: 0..W-1, W-1..0, ...

    Deterministic; every item goes to exactly one rank; ranks differ by at most one item, and the
    large items are spread evenly, so the work is balanced when ``order`` is sorted by cost.
    """
    if world < 1:
        raise ValueError(f"world must be at least 1, got {world}")
    shares: list[list[int]] = [[] for _ in range(world)]
    for j, item in enumerate(order):
        lap, r = divmod(j, world)
        shares[r if lap % 2 == 0 else world - 1 - r].append(item)
    return shares


class _Remapped:
    """``load_image`` of a sub-corpus: item ``j`` is item ``positions[j]`` of the parent (picklable)."""

    def __init__(self, load: Callable[[int], Any], positions: Sequence[int]) -> None:
        self.load, self.positions = load, list(positions)

    def __call__(self, j: int) -> Any:
        return self.load(self.positions[j])


def sub_corpus(corpus: Corpus, positions: Sequence[int]) -> Corpus:
    """The pages ``positions`` of ``corpus`` as a corpus of their own (ids, text, size, hash kept)."""
    from jinavdr.catalogue.dataset import Corpus

    def pick(values: list[Any] | None) -> list[Any] | None:
        return None if values is None else [values[i] for i in positions]

    return Corpus(
        ids=[corpus.ids[i] for i in positions], load_image=_Remapped(corpus.load_image, positions),
        texts=pick(corpus.texts), sizes=pick(corpus.sizes), dataset=corpus.dataset, hashes=pick(corpus.hashes),
    )


# --------------------------------------------------------------------------------------------------
# The process group
# --------------------------------------------------------------------------------------------------


class ProcessGroup:
    """The job's process group (nccl on CUDA, gloo on CPU) plus a gloo group for the exchanges.

    Objects (commands, embeddings, errors) travel over gloo: it works between nodes over TCP and
    keeps pickled embeddings off the GPU. ``timeout`` bounds every exchange.
    """

    def __init__(self, env: DistEnv, control: Any, *, owned: bool, backend: str) -> None:
        self.env, self.control, self.owned, self.backend = env, control, owned, backend
        self.broken: str | None = None  # why the group stopped working (a rank died or timed out)

    @classmethod
    def start(cls, env: DistEnv, device: str, *, timeout: float | None = None) -> ProcessGroup:
        import datetime

        import torch
        import torch.distributed as dist

        if not dist.is_available():
            raise JinaVDRError("this torch build has no torch.distributed; run without torchrun")
        delta = datetime.timedelta(seconds=timeout_seconds() if timeout is None else timeout)
        if dist.is_initialized():  # the caller's own torchrun script already made the group
            if dist.get_world_size() != env.world_size or dist.get_rank() != env.rank:
                raise JinaVDRError("the initialised process group does not match RANK/WORLD_SIZE")
            backend, owned = str(dist.get_backend()), False
        else:
            backend = "nccl" if device.startswith("cuda") else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(torch.device(device))
            dist.init_process_group(backend=backend, timeout=delta)
            owned = True
        control = dist.new_group(backend="gloo", timeout=delta) if "gloo" not in backend else None
        return cls(env, control, owned=owned, backend=backend)

    @contextmanager
    def _exchange(self, what: str) -> Iterator[None]:
        """Turn a failed collective into :class:`RankError`; once broken, fail at once."""
        if self.broken is not None:
            raise RankError(self.broken)
        try:
            yield
        except RuntimeError as exc:  # gloo: a peer closed the connection, or the timeout passed
            self.broken = (f"rank {self.env.rank} lost the other ranks during {what} (a rank died, or did not "
                           f"answer within {TIMEOUT_ENV}): {exc}. Finished subsets are saved; rerun to resume.")
            raise RankError(self.broken) from exc

    def broadcast(self, obj: Any = None) -> Any:
        """Rank 0's ``obj`` on every rank."""
        import torch.distributed as dist

        box = [obj]
        with self._exchange("a broadcast"):
            dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` on rank 0 (in rank order); ``None`` elsewhere."""
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.env.world_size if self.env.is_main else None
        with self._exchange("a gather"):
            dist.gather_object(obj, out, dst=0, group=self.control)
        return out

    def barrier(self) -> None:
        import torch.distributed as dist

        with self._exchange("a barrier"):
            dist.barrier(group=self.control)

    def close(self) -> None:
        import torch.distributed as dist

        if self.owned and dist.is_initialized():
            dist.destroy_process_group()


# --------------------------------------------------------------------------------------------------
# Encoding a share (every rank) and assembling the shares (rank 0)
# --------------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """What a rank sends back after a command: its error, or its embeddings and counts."""

    rank: int
    host: str
    error: str | None = None
    embeddings: Embeddings | None = None
    encoded: int = 0
    cached: int = 0
    oom_retries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _failure(rank: int, exc: BaseException) -> Reply:
    return Reply(rank, socket.gethostname(), error=f"{type(exc).__name__}: {exc}")


def raise_failures(replies: Sequence[Reply], what: str) -> None:
    """Raise :class:`RankError` naming every rank that failed ``what`` (rank order)."""
    bad = [r for r in replies if r.error is not None]
    if bad:
        detail = "; ".join(f"rank {r.rank} ({r.host}): {r.error}" for r in bad)
        raise RankError(f"{what} failed on {len(bad)} of {len(replies)} rank(s): {detail}")


def encode_share(
    encoder: Any, subset: Subset, role: str, positions: Sequence[int], *, cache: EmbeddingCache | None,
    model_key: str, options: RunOptions, rank: int, pool: PreparationPool | None = None,
) -> Reply:
    """Encode ``positions`` of ``subset``'s queries or pages on this rank (through its own cache;
    pages prepared by ``pool``, the rank's workers for the whole run)."""
    from jinavdr.engine.encoding import encode_pages, encode_queries

    if role == "query":
        texts = [subset.queries.texts[i] for i in positions]
        emb, stats = encode_queries(encoder, texts, cache=cache, model=model_key, batch_size=options.query_batch)
    else:
        emb, stats = encode_pages(encoder, sub_corpus(subset.corpus, positions), cache=cache, model=model_key,
                                  batch_size=options.page_batch, num_workers=options.num_workers, pool=pool)
    return Reply(rank, socket.gethostname(), embeddings=emb, encoded=stats.encoded,
                 cached=stats.cached + stats.duplicates, oom_retries=stats.oom_retries)


# --------------------------------------------------------------------------------------------------
# The backend: rank 0 drives, the workers serve
# --------------------------------------------------------------------------------------------------


_STAGE = {"query": "queries", "page": "pages"}


class DistributedBackend(DefaultBackend):
    """:class:`~jinavdr.execution.runner.DefaultBackend` whose encoding is shared by every rank of the job.

    On rank 0 the runner calls it as usual; each call that needs the workers sends them a command
    first. Workers run :meth:`serve` until rank 0 sends ``end``.
    """

    def __init__(self, spec: Any, *, device: str, group: ProcessGroup, units: Sequence[WorkUnit],
                 options: RunOptions, allow_unpinned: bool = False) -> None:
        super().__init__(spec, device=device, allow_unpinned=allow_unpinned)
        self.group = group
        self.options = options
        self.units = list(units)
        self.index = {u.key: i for i, u in enumerate(self.units)}
        self.sharing = False  # True while the workers follow rank 0's commands
        self.released = False
        #: per rank: its cache folder is rank 0's (a shared filesystem), so rank 0 need not copy its items
        self.sees_cache: list[bool] = [False] * group.env.world_size
        self._progress: Callable[[str, int, int], None] = lambda stage, n, total: None
        self._subset: Subset | None = None

    # -- rank 0 ----------------------------------------------------------------------------------

    def load_model(self) -> tuple[Any, Any]:
        probe = self._cache_probe()
        self.group.broadcast(("model", probe))
        own, own_exc, loaded = Reply(0, socket.gethostname()), None, None
        try:
            loaded = super().load_model()
        except Exception as exc:  # noqa: BLE001 - raised after every rank answered
            own, own_exc = _failure(0, exc), exc
        replies = self.group.gather(own) or [own]
        if probe is not None:
            (self.cache(self.options).root / probe[0]).unlink(missing_ok=True)
        if own_exc is not None:
            raise own_exc
        raise_failures(replies, "loading the model")
        assert loaded is not None
        self.sees_cache = [True] + [bool(r.extra.get("sees_cache")) for r in replies[1:]]
        if hasattr(loaded[0], "encode_pages"):
            self.sharing = True
        else:  # a searcher encodes nothing: rank 0 runs it alone
            self.release(None)
        return loaded

    def _cache_probe(self) -> tuple[str, str] | None:
        """(name, token) of a file written into rank 0's cache folder: a worker that finds it in its
        own cache folder shares rank 0's (a shared filesystem)."""
        if not self.options.use_cache:
            return None
        root = self.cache(self.options).root
        root.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        name = f".jinavdr-rank0-{token}"
        (root / name).write_text(token)
        return name, token

    def load_subset(self, unit: WorkUnit, options: RunOptions) -> Subset:
        if self.sharing:
            self.group.broadcast(("subset", self.index[unit.key], unit.key))
        return super().load_subset(unit, options)

    def encode(
        self, model: Any, subset: Subset, options: RunOptions, timings: Timings, cache: CacheStats,
        progress: Callable[[str, int, int], None],
    ) -> Run:
        if not self.sharing:
            return super().encode(model, subset, options, timings, cache, progress)

        def scoring_only(stage: str, n: int, total: int) -> None:  # item counts come from _shared
            if stage not in ("queries", "pages"):
                progress(stage, n, total)

        self._progress = progress
        self._subset = subset
        return super().encode(model, subset, options, timings, cache, scoring_only)

    def encoders(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        if not self.sharing:
            return super().encoders()
        return self._encode_queries, self._encode_pages

    def _encode_queries(self, encoder: Any, queries: Any, *, cache: EmbeddingCache | None, model: str,
                        batch_size: int, **_: Any) -> tuple[Embeddings, EncodeStats]:
        from jinavdr.engine.encoding import plan_queries

        plan = plan_queries(list(queries.texts), cache=cache, model_key=model if cache is not None else None)
        if cache is None:
            plan.keys = None  # without a cache, no rank writes keys (repeated texts are still encoded once)
        return self._shared("query", encoder, plan, cache, model)

    def _encode_pages(self, encoder: Any, corpus: Corpus, *, cache: EmbeddingCache | None, model: str,
                      **_: Any) -> tuple[Embeddings, EncodeStats]:
        from jinavdr.engine.encoding import page_tokens_of, plan_pages

        plan = plan_pages(corpus, encoder.page_input, cache=cache, model_key=model,
                          tokens=page_tokens_of(encoder))
        return self._shared("page", encoder, plan, cache, model)

    def _shared(
        self, role: str, encoder: Any, plan: EncodePlan, cache: EmbeddingCache | None, model_key: str,
    ) -> tuple[Embeddings, EncodeStats]:
        """Encode the plan's items (those missing from rank 0's cache) on every rank; assemble them in order."""
        assert self._subset is not None
        t0 = time.perf_counter()
        stats, order, keys, n = plan.stats, plan.order, plan.keys, plan.n
        shares = split_items(order, self.group.env.world_size)
        stage, base = _STAGE[role], n - len(order)
        self._progress(stage, base, n)
        if order:
            self.group.broadcast(("encode", role, order))
            own_total = max(1, len(shares[0]))
            done = {"n": 0}

            def report(_stage: str, k: int) -> None:  # rank 0's items, scaled to all ranks' (balanced shares)
                done["n"] += k
                estimate = min(len(order), round(done["n"] * len(order) / own_total))
                self._progress(stage, base + estimate, n)

            own_exc = None
            try:
                own = encode_share(_CountingEncoder(encoder, report), self._subset, role, shares[0], cache=cache,
                                   model_key=model_key, options=self.options, rank=0, pool=self.workers(self.options))
            except Exception as exc:  # noqa: BLE001 - raised after every rank answered
                own, own_exc = _failure(0, exc), exc
            replies = self.group.gather(own) or [own]
            if own_exc is not None:
                raise own_exc
            raise_failures(replies, f"encoding the {stage} of {self._subset.key}")
            for share, reply in zip(shares, replies, strict=True):
                if share:
                    assert reply.embeddings is not None
                    plan.add(share, reply.embeddings)
                    stats.encoded += reply.encoded
                    stats.cached += reply.cached
                    stats.oom_retries += reply.oom_retries
            if cache is not None and keys is not None:
                self._keep(cache, model_key, role, keys, [
                    (share, reply) for share, reply, seen in zip(shares, replies, self.sees_cache, strict=True)
                    if share and not seen
                ])
        self._progress(stage, n, n)
        stats.seconds = time.perf_counter() - t0
        stats.final_batch_size = self.options.query_batch if role == "query" else self.options.page_batch
        return plan.assemble(), stats

    @staticmethod
    def _keep(cache: EmbeddingCache, model_key: str, role: str, keys: list[str],
              shares: Sequence[tuple[list[int], Reply]]) -> None:
        """Write other ranks' embeddings into rank 0's cache too (ranks that cannot see that folder)."""
        if not shares:
            return
        with cache.writer(model_key, role) as writer:
            for share, reply in shares:
                if reply.embeddings is not None:
                    writer.add([keys[i] for i in share], reply.embeddings)

    def release(self, report: RunReport | None, error: str | None = None) -> None:
        """Tell the workers to stop (once); they return ``report`` or raise with ``error``."""
        if self.released or self.group.broken is not None:
            return
        self.released, self.sharing = True, False
        self.group.broadcast(("end", report, error))

    # -- workers ---------------------------------------------------------------------------------

    def _sees(self, probe: tuple[str, str] | None) -> bool:
        """True when rank 0's probe file is in this rank's own cache folder."""
        if probe is None or not self.options.use_cache:
            return False
        try:
            return (self.cache(self.options).root / probe[0]).read_text() == probe[1]
        except OSError:
            return False

    def serve(self) -> RunReport | None:
        """Follow rank 0's commands until ``end``; returns rank 0's report (None: released early).
        The rank's preparation workers stop when it returns or fails."""
        try:
            return self._serve()
        finally:
            self.close()

    def _serve(self) -> RunReport | None:
        options = self.options
        rank = self.group.env.rank
        adapter: Any = None
        subset: Subset | None = None
        subset_error: str | None = None
        while True:
            command = self.group.broadcast(None)
            kind = command[0]
            if kind == "model":
                reply = Reply(rank, socket.gethostname())
                try:
                    adapter, _ = super().load_model()
                    reply.extra["sees_cache"] = self._sees(command[1])
                except Exception as exc:  # noqa: BLE001 - rank 0 reports it
                    reply = _failure(rank, exc)
                self.group.gather(reply)
            elif kind == "subset":
                index, key = command[1], command[2]
                subset, subset_error = None, None
                try:
                    unit = self.units[index]
                    if unit.key != key:
                        raise JinaVDRError(f"rank 0 runs {key} but this rank's task list has {unit.key} there: "
                                           "start every rank with the same jinavdr version, tasks and options")
                    subset = super().load_subset(unit, options)
                except Exception as exc:  # noqa: BLE001 - reported with the next encode
                    subset_error = f"loading the subset: {type(exc).__name__}: {exc}"
            elif kind == "encode":
                role, order = command[1], command[2]
                share = split_items(order, self.group.env.world_size)[rank]
                try:
                    if subset is None:
                        raise JinaVDRError(subset_error or "no subset was loaded")
                    reply = encode_share(adapter, subset, role, share, cache=self.cache(options),
                                         model_key=self.model_key(adapter, self.cache(options)), options=options,
                                         rank=rank, pool=self.workers(options))
                except Exception as exc:  # noqa: BLE001 - rank 0 records it as the subset's failure
                    reply = _failure(rank, exc)
                self.group.gather(reply)
            elif kind == "end":
                _, report, error = command
                if error is not None:
                    raise RankError(f"rank 0 stopped: {error}")
                return report
            else:  # pragma: no cover - a protocol mismatch between versions
                raise RankError(f"unknown command {kind!r} from rank 0")


# --------------------------------------------------------------------------------------------------
# Entry point (called by jinavdr.api.run under torchrun)
# --------------------------------------------------------------------------------------------------


@contextmanager
def started(device: str, *, timeout: float | None = None) -> Iterator[tuple[ProcessGroup, str]]:
    """The process group of this torchrun job and this rank's device; closed on exit."""
    env = from_env()
    if env is None:
        raise JinaVDRError("not a distributed run: start it with torchrun --nproc-per-node N (N > 1)")
    rank_device = device_for(device, env)
    group = ProcessGroup.start(env, rank_device, timeout=timeout)
    try:
        yield group, rank_device
    finally:
        group.close()


def run_units(
    spec: Any, units: Sequence[WorkUnit], store: ResultStore, options: RunOptions, *, device: str,
    allow_unpinned: bool = False, events: Events | None = None,
) -> RunReport:
    """Run ``units`` with every rank of the job; rank 0 writes the results and returns the report.

    Workers return rank 0's report too (so every rank exits with the same code), or raise
    :class:`RankError` when rank 0 stopped with an error.
    """
    from jinavdr.execution.runner import Runner, RunReport, model_info_from_spec
    from jinavdr.results.manifest import Environment

    with started(device) as (group, rank_device):
        backend = DistributedBackend(spec, device=rank_device, group=group, units=units, options=options,
                                     allow_unpinned=allow_unpinned)
        if not group.env.is_main:
            report = backend.serve()
            return report or RunReport(model=spec.name, model_slug=spec.slug(), results_dir=store.root)
        runner = Runner(model_info_from_spec(spec), backend, store, options,
                        env=Environment.capture(rank_device), events=events)
        try:
            report = runner.run(units)
        except BaseException as exc:
            with suppress(Exception):  # the workers may be gone already; keep the first error
                backend.release(None, f"{type(exc).__name__}: {exc}")
            raise
        backend.release(report)
        return report
