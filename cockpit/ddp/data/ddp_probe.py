"""Runs ON the cluster as the DDP smoke probe's one-time task: a small PyTorch DDP job started
through TorchDistributor (local mode: N processes on the driver, gloo on CPU, nccl on GPU).

Checks, each recorded with its evidence: the process group comes up on every rank; an
all-reduce of (rank + 1) gives N(N+1)/2; a tiny model wrapped in DistributedDataParallel trains a
few steps on a different data shard per rank, and after every backward pass the gradients are
equal on all ranks (DDP averaged them) while the local losses differ (the shards really were
different); the parameters are still equal after the last step. Timings of each phase.

Prints one JSON object on stdout (the line holding ``"cockpit_ddp_probe"``; read back through
jobs/runs/get-output) and exits 1 when a check failed, so the run itself fails. Needs only the
standard library and torch (preinstalled on Databricks Runtime ML); nothing here is imported by
the cockpit.

    --launcher distributor   (default, on Databricks) pyspark.ml.torch.distributor.TorchDistributor
    --launcher torchrun      python -m torch.distributed.run --standalone: the launcher
                             TorchDistributor's local mode uses, for running the probe without Spark
    --inject ranks-disagree  the last rank corrupts its gradients: proves the check catches it
    --inject teardown-abort  (torchrun) the last rank aborts after reporting its checks: proves a
                             crash in teardown fails the probe and is reported beside the checks
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback

MARKER = "cockpit_ddp_probe"
TOLERANCE = 1e-6  # gradients after DDP's all-reduce are bit-identical in practice; allow rounding


def _check(name, ok, detail):
    return {"name": name, "ok": bool(ok), "detail": detail}


def train(config, out=None):
    """One rank's work. Runs under torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR, MASTER_PORT), which TorchDistributor sets up; returns the same summary on
    every rank (the values compared were gathered from all ranks).

    With ``out`` (the torchrun launcher), the rank writes its summary there before the
    process group is torn down: the checks are complete by then, so a crash in gloo's
    teardown (seen as a rank's SIGABRT on a loaded 2-core machine) is reported beside
    them instead of hiding them."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    timings = {}
    started = time.perf_counter()
    backend = config["backend"]
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(
        backend, timeout=datetime.timedelta(seconds=float(config.get("timeout_s", 300)))
    )
    rank, world = dist.get_rank(), dist.get_world_size()
    timings["init_process_group"] = time.perf_counter() - started
    checks = [
        _check(
            "process_group",
            world == config["processes"],
            f"{world} of {config['processes']} ranks joined ({backend} on {device.type})",
        )
    ]

    mark = time.perf_counter()
    value = torch.tensor([float(rank + 1)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    expected = world * (world + 1) / 2
    got = float(value.item())
    timings["all_reduce"] = time.perf_counter() - mark
    checks.append(
        _check(
            "all_reduce", abs(got - expected) < TOLERANCE, f"sum = {got:g} (expected {expected:g})"
        )
    )

    torch.manual_seed(0)  # the same initial weights everywhere; DDP also broadcasts rank 0's
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)).to(
        device
    )
    ddp = DistributedDataParallel(model, device_ids=[local_rank] if backend == "nccl" else None)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05)
    data = torch.Generator().manual_seed(1000 + rank)  # each rank its own shard
    steps = int(config["steps"])
    worst_grad, worst_loss_spread, losses = 0.0, float("inf"), []
    mark = time.perf_counter()
    for _ in range(steps):
        x = torch.randn(32, 8, generator=data).to(device)
        y = x.sum(dim=1, keepdim=True)
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        loss.backward()
        if config.get("inject") == "ranks-disagree" and rank == world - 1:
            for p in ddp.parameters():  # what a broken all-reduce would leave behind
                p.grad.add_(1.0)
        grads = torch.cat([p.grad.detach().reshape(-1) for p in ddp.parameters()])
        gathered = [torch.zeros_like(grads) for _ in range(world)]
        dist.all_gather(gathered, grads)
        worst_grad = max(worst_grad, max(float((g - gathered[0]).abs().max()) for g in gathered))
        local = torch.tensor([float(loss.item())], device=device)
        all_losses = [torch.zeros_like(local) for _ in range(world)]
        dist.all_gather(all_losses, local)
        spread = max(float(v) for v in all_losses) - min(float(v) for v in all_losses)
        worst_loss_spread = min(worst_loss_spread, spread)
        losses.append(round(float(loss.item()), 6))
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    timings["train_steps"] = time.perf_counter() - mark
    checks.append(
        _check(
            "gradients_equal",
            worst_grad <= TOLERANCE,
            f"largest gradient difference between ranks over {steps} steps: {worst_grad:.3g}",
        )
    )
    checks.append(
        _check(
            "shards_differ",
            world == 1 or worst_loss_spread > 0,
            f"smallest spread of the ranks' local losses: {worst_loss_spread:.3g} "
            "(0 would mean every rank saw the same data)",
        )
    )
    params = torch.cat([p.detach().reshape(-1) for p in ddp.parameters()])
    all_params = [torch.zeros_like(params) for _ in range(world)]
    dist.all_gather(all_params, params)
    param_diff = max(float((p - all_params[0]).abs().max()) for p in all_params)
    checks.append(
        _check(
            "parameters_equal",
            param_diff <= TOLERANCE,
            f"largest parameter difference between ranks after training: {param_diff:.3g}",
        )
    )
    dist.barrier()
    timings["total"] = time.perf_counter() - started
    summary = {
        "rank": rank,
        "world_size": world,
        "backend": backend,
        "device": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "steps": steps,
        "losses": losses,
        "checks": checks,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }
    if out is not None:
        # Written whole, then renamed: a rank killed mid-write leaves no half file to misread.
        final = os.path.join(out, f"rank{rank}.json")
        with open(final + ".part", "w", encoding="utf-8") as fh:
            json.dump(summary, fh)
        os.replace(final + ".part", final)
        if config.get("inject") == "teardown-abort" and rank == world - 1:
            # A rank that dies after every rank reported: proves the crash is still reported.
            # It waits for the others' files, or torchrun could stop a slow rank 0 first.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                os.path.exists(os.path.join(out, f"rank{r}.json")) for r in range(world)
            ):
                time.sleep(0.05)
            os.abort()
    dist.destroy_process_group()
    return summary


# --------------------------------------------------------------------------- launchers
def run_distributor(config):
    """On Databricks: TorchDistributor in local mode runs ``train`` in N processes on the
    driver through torch.distributed.run and returns rank 0's result."""
    from pyspark.ml.torch.distributor import TorchDistributor

    distributor = TorchDistributor(
        num_processes=config["processes"], local_mode=True, use_gpu=config["backend"] == "nccl"
    )
    return distributor.run(train, config)


def run_torchrun(config):
    """The same job without Spark: torch.distributed.run --standalone, as TorchDistributor's
    local mode launches it; each rank writes its result, rank 0's is returned."""
    with tempfile.TemporaryDirectory(prefix="cockpit-ddp-") as out:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nnodes=1",
            f"--nproc_per_node={config['processes']}",
            os.path.abspath(__file__),
            "--worker",
            json.dumps(config),
            "--out",
            out,
        ]
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=float(config.get("timeout_s", 300)) + 60,
            check=False,
        )
        reported = [
            os.path.exists(os.path.join(out, f"rank{rank}.json"))
            for rank in range(config["processes"])
        ]
        if done.returncode != 0 and not all(reported):
            why = _launcher_failure(done.stderr or done.stdout or "")
            raise RuntimeError(f"torch.distributed.run exited {done.returncode}: {why}")
        with open(os.path.join(out, "rank0.json"), encoding="utf-8") as fh:
            result = json.load(fh)
        if done.returncode != 0:  # every rank's checks are in; the teardown failed after
            why = _launcher_failure(done.stderr or done.stdout or "")
            result["launcher_error"] = (
                f"torch.distributed.run exited {done.returncode} after every rank reported: {why}"
            )
        return result


# What says why a rank died, as against the agent's own traceback around it: C++ terminate
# messages, a rank's exception line, and the report's exit code and signal per rank.
_FAILURE_LINE = re.compile(
    r"terminate called|what\(\)|exitcode|Signal \d+|^[\w.]*(Error|Exception)\b(?<!ChildFailedError)"
)
_LOG_PREFIX = re.compile(r"^[EWI]\d{4} [\d:.]+ \d+ \S+\] ")  # torch's glog-style prefix


def _launcher_failure(stderr, limit=1500):
    """The lines of torchrun's stderr that say why a rank died (deduplicated, in order),
    bounded; its last lines when none match."""
    seen, picked = set(), []
    for raw in stderr.splitlines():
        line = _LOG_PREFIX.sub("", raw.strip())
        if line and _FAILURE_LINE.search(line) and line not in seen:
            seen.add(line)
            picked.append(line)
    text = " | ".join(picked) if picked else stderr.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _worker(config_json, out):
    train(json.loads(config_json), out)


def _pick_backend(requested):
    if requested != "auto":
        return requested
    try:
        import torch

        return "nccl" if torch.cuda.is_available() else "gloo"
    except ImportError:
        return "gloo"


def main(argv=None):
    parser = argparse.ArgumentParser(description="cockpit DDP smoke probe")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--launcher", choices=("distributor", "torchrun"), default="distributor")
    parser.add_argument(
        "--inject", choices=("none", "ranks-disagree", "teardown-abort"), default="none"
    )
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--worker", metavar="CONFIG_JSON", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.out)
        return 0
    config = {
        "processes": max(1, args.processes),
        "backend": _pick_backend(args.backend),
        "steps": max(1, args.steps),
        "inject": None if args.inject == "none" else args.inject,
        "timeout_s": args.timeout,
    }
    summary = {
        MARKER: 1,
        "launcher": args.launcher,
        "processes": config["processes"],
        "backend": config["backend"],
        "inject": config["inject"],
        "runtime": os.environ.get("DATABRICKS_RUNTIME_VERSION", ""),
        "python": sys.version.split()[0],
    }
    started = time.perf_counter()
    try:
        launch = run_distributor if args.launcher == "distributor" else run_torchrun
        result = launch(config)
        summary.update(result)
        failed = [c["name"] for c in result["checks"] if not c["ok"]]
        errors = [f"checks failed: {', '.join(failed)}"] if failed else []
        errors += [result["launcher_error"]] if result.get("launcher_error") else []
        summary["ok"] = not errors
        summary["error"] = "; ".join(errors)
    except Exception as exc:  # anything at all: still print the JSON the cockpit reads
        summary["ok"] = False
        summary["error"] = f"{type(exc).__name__}: {exc}"
        summary["traceback"] = traceback.format_exc()[-4000:]
    summary["wall_s"] = round(time.perf_counter() - started, 3)
    sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
