"""One job = one run: setup (build and check) -> fit -> measure -> persist (store and log).

The run's config and the command that made it (a :class:`~benchmarks.engine.results.Sweep`:
the experiment, Hydra's choices and overrides) are passed in; nothing is read from a global.
What the runner derives (the number of layers from the task, the width under a parameter
budget) is printed at the start of the run.

Everything that can reject the config (task and model construction, a forward pass on two
graphs) happens before anything is written to the store, so bad input leaves no trace there.
"""

from __future__ import annotations

import os
import sys

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from baselines.virtual_node import VirtualNode
from benchmarks.core.errors import ConfigError, require
from benchmarks.engine import provenance
from benchmarks.engine.budget import width_for_budget
from benchmarks.engine.config import validate
from benchmarks.engine.measurements import Measurements, measure
from benchmarks.engine.network import Network
from benchmarks.engine.peak_memory import PeakMemory
from benchmarks.engine.preemption import DeferredSignal
from benchmarks.engine.results import RunResult, Sweep
from benchmarks.engine.run_logger import NullLogger, make_logger, stored_run_id
from benchmarks.engine.store import RunDir, config_hash, identity
from benchmarks.engine.train import FitResult, fit
from benchmarks.tasks import GraphSet, Task


def with_group(key: str, err: ConfigError) -> ConfigError:
    """A class's error naming a bare argument ("dim: ...") as the config key ("model.dim: ...");
    a message whose key already has a group ("task.depth: ...") is kept."""
    name = str(err).split(":", 1)[0]
    return err if "." in name else ConfigError(f"{key}.{err}")


def build(key: str, cfg: DictConfig, **kwargs):
    """instantiate(cfg) with the cause of a failure as one ConfigError naming `key`."""
    try:
        return instantiate(cfg, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, ConfigError):
            raise with_group(key, cause) from None
        raise ConfigError(f"{key}: {cause}") from None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device: unknown device {name!r} (auto | cpu | cuda | cuda:N)") from None
    require(
        device.type != "cuda" or torch.cuda.is_available(),
        "device",
        f"{name} requested but CUDA is not available",
    )
    return device


def setup(cfg: DictConfig) -> torch.device:
    """Check the config, set torch's determinism (before CUDA is initialised), return the
    device."""
    validate(cfg)
    set_deterministic(cfg.get("deterministic"))
    return resolve_device(cfg.device)


def set_deterministic(on: bool | None) -> None:
    """`deterministic: true`: torch's deterministic algorithms (PyG's scatter sums included; an
    operation that has none raises), and cuBLAS's fixed workspace (``CUBLAS_WORKSPACE_CONFIG``,
    read when CUDA initialises: a process that initialised it before keeps what it had). Off
    (null or false) otherwise, so that a run never inherits an earlier run's setting."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(bool(on))


def prepare(cfg: DictConfig):
    """Check the config and build task, network and run directory; writes nothing."""
    device = setup(cfg)
    for remedy in ("virtual_node", "rewiring"):
        require(
            cfg.get(remedy) is None or not cfg.model.get("khop", False),
            remedy,
            "does nothing with model.khop=true: k-hop layers aggregate the original graph's "
            "hop sets, not its edges; set model.khop=false",
        )
    task: Task = build("task", cfg.task)
    if cfg.get("rewiring") is not None:
        rewire(task, build("rewiring", cfg.rewiring))
    num_layers = cfg.model.num_layers or task.num_layers

    def network(dim: int) -> Network:
        torch.manual_seed(cfg.model_seed)
        encoder, readout = task.make_encoder(dim), task.make_readout(dim)
        model = build("model", cfg.model, dim=dim, num_layers=num_layers)
        # only a model that reads batch.edge_embedding gets (and pays for) the edge encoder
        reads_edges = getattr(model, "reads_edge_features", False)
        edges = task.make_edge_encoder(dim) if reads_edges else None
        virtual_node = VirtualNode(dim) if cfg.virtual_node else None
        return Network(encoder, model, readout, edges, width=dim, virtual_node=virtual_node)

    dim = cfg.model.dim
    if cfg.budget is not None:
        dim, _ = width_for_budget(lambda d: count_parameters(network(d)), cfg.budget)
    return task, network(dim).to(device), num_layers, device


def rewire(task: Task, transform) -> None:
    """Rewire the task's one topology with `transform` (FoSR, SDRF), once, before any data."""
    from benchmarks.tasks.graphs import Topology
    from benchmarks.tasks.rewired import rewire_topology

    require(
        isinstance(getattr(task, "topology", None), Topology),
        "rewiring",
        f"task {task.name} has graphs of varying shapes; rewiring applies to a task with one "
        "topology (nar, narr, tree_neighbors_match, ring_transfer, graph_transfer)",
    )
    task.topology = rewire_topology(task.topology, transform)


def count_parameters(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def generate_data(task: Task, data_seed: int, num_layers: int) -> dict[str, GraphSet]:
    """The task's splits from `data_seed`, with the k-hop pair sets of `num_layers` layers."""
    data = task.generate(data_seed)
    for graphs in data.values():
        graphs.num_hops = num_layers
    return data


def run(cfg: DictConfig, model_name: str | None = None, sweep: Sweep | None = None) -> dict | None:
    """Run one job and return its result (result.json's flat keys): the stored one if the run
    was already done (or another process finished it while this one waited for it), None if
    another process is running it and `wait_for_running` is false. Holds the run's lock while
    it writes. `sweep`: the command that made the run (run.py passes Hydra's choices and
    overrides); None for a run without one."""
    peak_memory = PeakMemory(setup(cfg))  # the baseline: before the run builds anything
    task, net, num_layers, device = prepare(cfg)
    sweep = sweep or Sweep(cfg.experiment_name)
    model_name = model_name or type(net.model).__name__.lower()
    run_dir = RunDir(cfg.results_dir, cfg.experiment_name, cfg)
    if run_dir.done() and not cfg.overwrite:
        return stored(run_dir, "is done (overwrite=true re-runs it)")
    data = generate_data(task, cfg.data_seed, num_layers)
    check_forward(net, task, data, device)

    def on_wait() -> None:
        print(f"wait: {run_dir.path} is running in another process", flush=True)

    with run_dir.claim(cfg.wait_for_running, on_wait) as claim:
        if claim == "busy":
            print(f"skip: {run_dir.path} is running in another process")
            return None
        if run_dir.done() and (claim == "waited" or not cfg.overwrite):
            return stored(run_dir, "was finished by another process")
        print(f"run: {run_dir.path.absolute()}")  # results_dir is relative to where run.py starts
        if line := derived_line(cfg, num_layers, net):
            print(line)
        replaced = run_dir.start(overwrite=cfg.overwrite)
        logger = start_logger(cfg, task, model_name, sweep, run_dir, replaced)
        try:
            out = train(cfg, task, net, data, device, run_dir, logger)
            result = make_result(cfg, task, net, num_layers, device, model_name, sweep, out)
            result.peak_memory_mb, result.memory_measure = peak_memory.read()
            # The selected epoch's weights are the measured and the stored ones.
            net.load_state_dict(out.selected_state)
            torch.save(out.selected_state, run_dir.path / "model.pt")
            measured = measure(net, task, data, result.score, cfg.sensitivity, device)
            result.measurements = measured.values
            result.provenance = provenance.collect(device, out.started, sweep)
            persist(run_dir, result, measured, logger)
        except BaseException:
            logger.finish(exit_code=1)  # W&B marks the run failed; a re-run resumes it
            raise
        logger.finish()
    result = result.to_dict()
    print(summary_line(result) + f"  -> {run_dir.path}")
    return result


def stored(run_dir: RunDir, reason: str) -> dict:
    result = run_dir.result()
    print(f"skip: {run_dir.path} {reason}; {summary_line(result)}")
    return result


def check_forward(net: Network, task: Task, data: dict[str, GraphSet], device) -> None:
    """A forward pass on two training graphs: a user's model may only fail on real data, so
    find out before anything is written."""
    try:
        net.eval()
        with torch.no_grad():
            net(data["train"].batch(torch.arange(min(2, len(data["train"])))).to(device))
    except ConfigError as err:  # the model's layers name their argument ("khop: ...")
        raise with_group("model", err) from None
    except Exception as err:  # noqa: BLE001 - any failure here means a bad model/task pairing
        raise ConfigError(
            f"model: forward pass failed on task {task.name}: {type(err).__name__}: {err}"
        ) from None


def derived_line(cfg: DictConfig, num_layers: int, net: Network) -> str | None:
    """What the runner derived (the number of layers from the task, the width under a
    parameter budget) as one line, or None when nothing was derived."""
    derived = []
    if not cfg.model.num_layers:
        derived.append(f"num_layers={num_layers} (task default)")
    if cfg.budget is not None:
        derived.append(f"dim={net.width} (budget {cfg.budget} -> {count_parameters(net):,} params)")
    return "derived: " + ", ".join(derived) if derived else None


def start_logger(
    cfg: DictConfig, task: Task, model_name: str, sweep: Sweep, run_dir: RunDir, replaced: bool
) -> NullLogger:
    """The run's logger (W&B), continuing the W&B run of an earlier attempt."""
    model_config = provenance.model_choice(sweep)
    return make_logger(
        cfg.logger,
        f"{task.name}-{model_name}-{run_dir.hash}",
        OmegaConf.to_container(cfg, resolve=True)
        | {"config_hash": run_dir.hash, "model_config": model_config},
        run_id=stored_run_id(run_dir.path, cfg.experiment_name, run_dir.hash, replaced),
        tags=[tag for tag in (task.name, model_name, model_config) if tag],
    )


def train(
    cfg: DictConfig,
    task: Task,
    net: Network,
    data: dict[str, GraphSet],
    device: torch.device,
    run_dir: RunDir,
    logger: NullLogger,
) -> FitResult:
    """`fit` with the run's history, logger and checkpoint in the store; Slurm's warning
    before the time limit (or pre-emption) waits for a step boundary."""

    def on_epoch(row: dict) -> None:
        run_dir.append_history(row)
        logger.log(row, step=row["epoch"])

    def on_resume(rows: list[dict]) -> None:
        print(f"resume: {run_dir.path} from its checkpoint after epoch {len(rows)}")
        run_dir.write_history(rows)

    with DeferredSignal() as preemption:
        return fit(
            net,
            task,
            data,
            cfg.train,
            device,
            seed=cfg.model_seed,
            on_epoch=on_epoch,
            on_resume=on_resume,
            checkpoint=run_dir.checkpoint,
            amp=cfg.amp,
            interrupted=preemption.received,
            progress=None if cfg.progress == "auto" else bool(cfg.progress),
        )


def make_result(
    cfg: DictConfig,
    task: Task,
    net: Network,
    num_layers: int,
    device: torch.device,
    model_name: str,
    sweep: Sweep,
    out: FitResult,
) -> RunResult:
    """The run's result from its training; measurements, peak memory and provenance follow."""
    selected = out.selection.row
    split = "test" if cfg.train.select == "best_val" else "train"
    score_key = f"{split}/{task.score_metric}"
    return RunResult(
        experiment=cfg.experiment_name,
        config_hash=config_hash(cfg),
        task=task.name,
        model=model_name,
        model_config=provenance.model_choice(sweep),
        metric=task.score_metric,
        higher_is_better=task.higher_is_better,
        select=cfg.train.select,
        score_key=score_key,
        score=selected[score_key],
        selected_epoch=out.selection.epoch,
        metrics={k: v for k, v in selected.items() if "/" in k},
        sizes=dict(task.size),
        epochs=out.epochs,
        stopped=out.stopped,
        params=count_parameters(net),
        width=net.width,
        state_floats=getattr(net.model, "state_floats", None),
        budget=cfg.budget,
        num_layers=num_layers,
        wall_time_s=out.wall_time_s,
        train_time_s=out.history[-1]["time_s"],
        device=str(device),
        seed=cfg.seed,
        data_seed=cfg.data_seed,
        model_seed=cfg.model_seed,
        config=identity(cfg),
        sweep=sweep,
    )


def persist(run_dir: RunDir, result: RunResult, measured: Measurements, logger: NullLogger) -> None:
    """Print the measurements, write their tables and result.json, log them to the logger."""
    for line in measured.lines:
        print(line)
    measured.write_tables(run_dir.path)
    measured.log(logger)
    run_dir.finish(result)
    hidden = ("config", "provenance", "sweep")
    logger.summary({k: v for k, v in result.to_dict().items() if k not in hidden})


def summary_line(result: dict) -> str:
    sizes = " ".join(f"{k[5:]}={v}" for k, v in result.items() if k.startswith("size/"))
    sizes = f" ({sizes})" if sizes else ""
    score = f"{result['score_key']}={result['score']:.4f}"
    return (
        f"{result['task']}{sizes} {result['model']}: {score} "
        f"at epoch {result['selected_epoch']}/{result['epochs']}, {result['params']:,} params, "
        f"{result['wall_time_s']:.1f}s"
    )


def main(
    cfg: DictConfig,
    model_name: str | None = None,
    parallel_jobs: int = 1,
    sweep: Sweep | None = None,
) -> dict | None:
    """`run` with bad input reported as one line on stderr and exit status 2."""
    try:
        torch.set_num_threads(num_threads(cfg.threads, parallel_jobs))
        return run(cfg, model_name, sweep)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def interrupted_line(cfg: DictConfig) -> str:
    """What an interrupted run kept: its checkpoint (the epochs in its history) or nothing."""
    run_dir = RunDir(cfg.results_dir, cfg.experiment_name, cfg)
    if not run_dir.checkpoint.exists():
        return f"nothing saved for {run_dir.path.absolute()}; the same command starts it again"
    history = run_dir.path / "history.csv"
    epochs = max(0, len(history.read_text().splitlines()) - 1) if history.exists() else 0
    return (
        f"{run_dir.path.absolute()} keeps its checkpoint after epoch {epochs}; "
        "the same command resumes it"
    )


def num_threads(threads: int | str, parallel_jobs: int = 1) -> int:
    """torch's CPU threads for one run. `auto`: OMP_NUM_THREADS where a launcher set it (joblib
    gives each worker cores // n_jobs), else the cores this process may use (its CPU affinity:
    the allocation inside a Slurm job) divided by the runs the launcher starts at once."""
    if threads != "auto":
        require(
            isinstance(threads, int) and threads > 0,
            "threads",
            f"must be auto or a positive integer, got {threads!r}",
        )
        return threads
    preset = os.environ.get("OMP_NUM_THREADS", "")
    if preset.isdigit() and int(preset) > 0:
        return int(preset)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, parallel_jobs))
