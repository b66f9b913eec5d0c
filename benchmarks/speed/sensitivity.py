"""Speed of the batched sensitivity against a per-graph Jacobian loop (issue 4's target: >= 20x).

    python -m benchmarks.speed.sensitivity        # the paper's NAR gLSTM, N = 32, 1000 test graphs
    python -m benchmarks.speed.sensitivity --model gcn --repeats 5

Both sides compute the same numbers: |J_u|_1 = sum over outputs and input dims of
|d y / d x_u| for every node u of the first `--graphs` NAR test graphs, on an untrained network
built exactly as ``run.py`` builds it (speed does not depend on the weights).

- **batched**: :func:`benchmarks.metrics.sensitivity.measure_sensitivity` as a run calls it (with
  its per-hop and selected/background summaries), one backward pass per output dimension over
  all graphs of a chunk at once (chunks of up to `--max-nodes` nodes).
- **reference**: a Python loop over the graphs, each graph's full Jacobian [O, n, d] from
  ``torch.func.jacrev`` (one vmapped backward pass per graph), the same for every model (gLSTM's
  sparse products have ``torch.func`` support, see :mod:`glstm.sparse`).

Both run on one thread by default (``--threads``): on a shared 2-core machine, two OpenMP threads
make every small kernel of the per-graph loop wait for a descheduled thread (measured: 100x slower
reference), which would flatter the batched side.

The two alternate for `--repeats` rounds (batched, reference, batched, ...) so that machine load
hits both alike; the table reports medians over rounds, and the two results are checked to agree.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

import benchmarks  # noqa: F401  (OMP_WAIT_POLICY before torch loads)
from benchmarks.engine.runner import prepare
from benchmarks.metrics.sensitivity import MAX_NODES, measure_sensitivity
from benchmarks.speed import run_config


def build(model: str, num_keys: int, graphs: int, overrides: list[str], device: str = "cpu"):
    """(task, net in eval mode, test GraphSet, device) as run.py builds them, on `device`."""
    cfg = run_config(
        [
            "task=nar",
            f"model={model}",
            f"task.num_keys={num_keys}",
            "task.num_train=1",
            "task.num_val=1",
            f"task.num_test={graphs}",
        ],
        device,
        then=overrides,
    )
    task, net, num_layers, device = prepare(cfg)
    test = task.generate(cfg.data_seed)["test"]
    test.num_hops = num_layers
    return task, net.eval(), test, device


def reference(net, graphs, count: int, device: torch.device) -> torch.Tensor:
    """|J_u|_1 for every node of the first `count` graphs, one graph at a time: [count * n]."""
    norms = []
    for b in range(count):
        batch = graphs.batch(torch.tensor([b])).to(device)
        with torch.no_grad():
            x = net.encoder(batch)

        def f(z, batch=batch):
            return net(batch, z)[0]  # [O]

        with torch.no_grad():  # no graph from the parameters into jac (jacrev ignores it inside)
            jac = torch.func.jacrev(f)(x)  # [O, n, d]
        norms.append(jac.abs().sum((0, 2)).cpu())
    return torch.cat(norms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="glstm_paper/glstm_dk16",
        help="a model config (default: the gLSTM paper's NAR gLSTM, H = 1, d_k = 16, d = 32)",
    )
    parser.add_argument("--num-keys", type=int, default=32)
    parser.add_argument("--graphs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-nodes", type=int, default=MAX_NODES)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (0: torch's default); with more threads than free cores, every small "
        "parallel kernel of the per-graph reference waits for a descheduled thread",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--out", default="results/tables/speed_sensitivity.csv")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. model.dim=32")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    task, net, graphs, device = build(
        args.model, args.num_keys, args.graphs, args.overrides, args.device
    )
    print(
        f"{args.model} on NAR N={args.num_keys}: {args.graphs} graphs x "
        f"{graphs.topology.num_nodes} nodes, {torch.get_num_threads()} threads; reference: "
        "torch.func.jacrev per graph"
    )
    measure_sensitivity(net, task, graphs, 8, device=device)  # warm-up (caches)
    batched_s, reference_s = [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        sens = measure_sensitivity(
            net, task, graphs, args.graphs, device=device, max_nodes=args.max_nodes
        )
        batched_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = reference(net, graphs, args.graphs, device)
        reference_s.append(time.perf_counter() - t0)
        batched = torch.tensor(sens.nodes.sens.to_numpy())
        error = ((batched - ref).abs().max() / ref.abs().max()).item()
        print(
            f"  round {r + 1}: batched {batched_s[-1]:.2f} s, reference {reference_s[-1]:.2f} s, "
            f"max relative difference {error:.1e}"
        )
        assert error < 1e-4, f"batched and reference sensitivities differ by {error:.1e}"
    batched, ref_median = statistics.median(batched_s), statistics.median(reference_s)
    row = {
        "model": args.model,
        "num_keys": args.num_keys,
        "graphs": args.graphs,
        "outputs": task.num_classes,
        "threads": torch.get_num_threads(),
        "reference": "jacrev",
        "repeats": args.repeats,
        "batched_median_s": batched,
        "reference_median_s": ref_median,
        "speedup": ref_median / batched,
        "batched_all_s": " ".join(f"{t:.3f}" for t in batched_s),
        "reference_all_s": " ".join(f"{t:.3f}" for t in reference_s),
    }
    print(
        f"median over {args.repeats} rounds: batched {batched:.2f} s, reference {ref_median:.2f} s "
        f"-> {row['speedup']:.1f}x"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([row])
    if out.exists():
        frame = pd.concat([pd.read_csv(out), frame], ignore_index=True)
    frame.to_csv(out, index=False)
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
