"""Horovod -> TorchDistributor / PyTorch DDP: for each Horovod construct a finding points at, the
matching construct and a worked before/after, with the docs it follows.

Guidance only: the cockpit never rewrites Horovod code (the change moves where the model is
wrapped and what the launcher passes, which no mechanical rewrite can check). The guide is picked
from a DBR101 finding's message, which names the resolved symbol (``horovod.torch.init — ...``,
``sparkdl.HorovodRunner — ...``, ``horovod==0.28.1: ...``), so stored findings and fresh ones
get the same guide.
"""

from __future__ import annotations

from dataclasses import dataclass

HOROVOD_CODES = frozenset({"DBR101"})

TORCH_DISTRIBUTOR_DOC = "https://docs.databricks.com/machine-learning/train-model/distributed-training/spark-pytorch-distributor.html"
HOROVOD_RUNNER_DOC = (
    "https://docs.databricks.com/aws/archive/machine-learning/train-model/horovod-runner"
)
HOROVOD_RUNNER_API = (
    "https://databricks.github.io/spark-deep-learning/_modules/sparkdl/horovod/runner_base.html"
)
DDP_NOTES = "https://pytorch.org/docs/stable/notes/ddp.html"
TORCH_DISTRIBUTED_DOC = "https://pytorch.org/docs/stable/distributed.html"
TF_DISTRIBUTE_DOC = "https://www.tensorflow.org/guide/distributed_training"


@dataclass(frozen=True)
class Guide:
    key: str
    construct: str  # the Horovod construct
    replacement: str  # the TorchDistributor / DDP construct
    explanation: str
    before: str
    after: str
    sources: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "construct": self.construct,
            "replacement": self.replacement,
            "explanation": self.explanation,
            "before": self.before,
            "after": self.after,
            "sources": list(self.sources),
        }


GUIDES: dict[str, Guide] = {
    g.key: g
    for g in (
        Guide(
            key="runner",
            construct="HorovodRunner(np=N).run(fn, **kwargs)",
            replacement="TorchDistributor(num_processes=N, local_mode=False, use_gpu=True).run(fn, *args)",
            explanation=(
                "TorchDistributor (pyspark.ml.torch.distributor, Databricks Runtime 13.0 ML and "
                "above) launches the training function as a Spark job through torch.distributed.run, "
                "as HorovodRunner launched it through MPI. HorovodRunner's np > 0 (that many task "
                "slots on the workers) is num_processes=N with local_mode=False; np < 0 (-np "
                "processes on the driver) is num_processes=-np with local_mode=True. The function "
                "takes positional arguments, and run returns rank 0's return value, as before."
            ),
            before=(
                "from sparkdl import HorovodRunner\n"
                "\n"
                "hr = HorovodRunner(np=4)  # np=-2 would run 2 processes on the driver\n"
                "model_uri = hr.run(train_one_worker, learning_rate=0.01)\n"
            ),
            after=(
                "from pyspark.ml.torch.distributor import TorchDistributor\n"
                "\n"
                "distributor = TorchDistributor(num_processes=4, local_mode=False, use_gpu=True)\n"
                "# np=-2 -> TorchDistributor(num_processes=2, local_mode=True, use_gpu=True)\n"
                "model_uri = distributor.run(train_one_worker, 0.01)\n"
            ),
            sources=(TORCH_DISTRIBUTOR_DOC, HOROVOD_RUNNER_DOC, HOROVOD_RUNNER_API),
        ),
        Guide(
            key="init",
            construct="hvd.init()",
            replacement='torch.distributed.init_process_group("nccl" | "gloo")',
            explanation=(
                "Inside the training function, initialise the process group instead of Horovod. "
                "TorchDistributor (through torchrun) sets RANK, WORLD_SIZE, LOCAL_RANK, "
                "MASTER_ADDR and MASTER_PORT, so init_process_group needs only the backend: nccl "
                "on GPUs, gloo on CPUs. The device comes from LOCAL_RANK. Keep the imports inside "
                "the function, as Databricks recommends, to avoid pickling errors."
            ),
            before=(
                "def train_one_worker(learning_rate):\n"
                "    import horovod.torch as hvd\n"
                "    import torch\n"
                "\n"
                "    hvd.init()\n"
                "    torch.cuda.set_device(hvd.local_rank())\n"
                '    device = torch.device("cuda")\n'
            ),
            after=(
                "def train_one_worker(learning_rate):\n"
                "    import os\n"
                "    import torch\n"
                "    import torch.distributed as dist\n"
                "\n"
                '    dist.init_process_group("nccl")  # "gloo" on a CPU cluster\n'
                '    local_rank = int(os.environ["LOCAL_RANK"])\n'
                "    torch.cuda.set_device(local_rank)\n"
                '    device = torch.device("cuda", local_rank)\n'
            ),
            sources=(TORCH_DISTRIBUTOR_DOC, TORCH_DISTRIBUTED_DOC),
        ),
        Guide(
            key="optimizer",
            construct="hvd.DistributedOptimizer(optimizer, named_parameters=...)",
            replacement="DistributedDataParallel(model) with the plain optimizer",
            explanation=(
                "DDP averages the gradients across ranks during backward(), which is what "
                "DistributedOptimizer did at step(): wrap the model once, build the ordinary "
                "optimizer on the wrapped model's parameters, and drop the wrapper. A learning "
                "rate scaled by hvd.size() scales by dist.get_world_size()."
            ),
            before=(
                "model = Net().to(device)\n"
                "optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate * hvd.size())\n"
                "optimizer = hvd.DistributedOptimizer(\n"
                "    optimizer, named_parameters=model.named_parameters()\n"
                ")\n"
            ),
            after=(
                "from torch.nn.parallel import DistributedDataParallel as DDP\n"
                "\n"
                "model = DDP(Net().to(device), device_ids=[local_rank])  # device_ids=None on CPU\n"
                "optimizer = torch.optim.SGD(\n"
                "    model.parameters(), lr=learning_rate * dist.get_world_size()\n"
                ")\n"
            ),
            sources=(TORCH_DISTRIBUTOR_DOC, DDP_NOTES),
        ),
        Guide(
            key="broadcast",
            construct="hvd.broadcast_parameters(...) / hvd.broadcast_optimizer_state(...)",
            replacement="nothing: the DistributedDataParallel constructor broadcasts rank 0's state",
            explanation=(
                "When DDP wraps the model it broadcasts rank 0's parameters and buffers to every "
                "rank, so the explicit broadcast goes. An optimizer created after wrapping starts "
                "the same on every rank; when resuming from a checkpoint, load it on every rank "
                "(map_location to the rank's device) instead of broadcasting from rank 0."
            ),
            before=(
                "hvd.broadcast_parameters(model.state_dict(), root_rank=0)\n"
                "hvd.broadcast_optimizer_state(optimizer, root_rank=0)\n"
            ),
            after=(
                "model = DDP(model, device_ids=[local_rank])  # broadcasts rank 0's state itself\n"
                "# resuming: every rank loads the same checkpoint\n"
                "# state = torch.load(path, map_location=device)\n"
                '# model.module.load_state_dict(state["model"])\n'
                '# optimizer.load_state_dict(state["optimizer"])\n'
            ),
            sources=(DDP_NOTES, TORCH_DISTRIBUTOR_DOC),
        ),
        Guide(
            key="rank",
            construct="hvd.rank() / hvd.size() / hvd.local_rank()",
            replacement='dist.get_rank() / dist.get_world_size() / int(os.environ["LOCAL_RANK"])',
            explanation=(
                "The process group answers rank and world size; torchrun puts the local rank in "
                "the environment. DistributedSampler reads rank and world size from the process "
                "group by itself; log to MLflow and save checkpoints on rank 0 only, as before."
            ),
            before=(
                "sampler = DistributedSampler(dataset, num_replicas=hvd.size(), rank=hvd.rank())\n"
                "if hvd.rank() == 0:\n"
                '    mlflow.log_metric("loss", loss)\n'
            ),
            after=(
                "sampler = DistributedSampler(dataset)  # rank and world size from the group\n"
                "if dist.get_rank() == 0:\n"
                '    mlflow.log_metric("loss", loss)\n'
            ),
            sources=(TORCH_DISTRIBUTED_DOC, TORCH_DISTRIBUTOR_DOC),
        ),
        Guide(
            key="collectives",
            construct="hvd.allreduce / hvd.allgather / hvd.broadcast",
            replacement="dist.all_reduce / dist.all_gather / dist.broadcast (in place)",
            explanation=(
                "torch.distributed's collectives work in place on a tensor and sum by default: "
                "Horovod's averaging allreduce is a sum divided by the world size."
            ),
            before=(
                'val_loss = hvd.allreduce(val_loss, name="val_loss")  # averaged\n'
                "weights = hvd.broadcast(weights, root_rank=0)\n"
            ),
            after=(
                "dist.all_reduce(val_loss, op=dist.ReduceOp.SUM)\n"
                "val_loss /= dist.get_world_size()\n"
                "dist.broadcast(weights, src=0)\n"
            ),
            sources=(TORCH_DISTRIBUTED_DOC,),
        ),
        Guide(
            key="module",
            construct="import horovod.torch as hvd",
            replacement="import torch.distributed as dist (inside the training function)",
            explanation=(
                "The whole training function, moved over: the process group instead of "
                "hvd.init(), DDP instead of DistributedOptimizer and the broadcasts, "
                "TorchDistributor instead of HorovodRunner."
            ),
            before=(
                "def train_one_worker(learning_rate):\n"
                "    import horovod.torch as hvd\n"
                "\n"
                "    hvd.init()\n"
                "    model = Net()\n"
                "    optimizer = hvd.DistributedOptimizer(\n"
                "        torch.optim.SGD(model.parameters(), lr=learning_rate),\n"
                "        named_parameters=model.named_parameters(),\n"
                "    )\n"
                "    hvd.broadcast_parameters(model.state_dict(), root_rank=0)\n"
                "    train(model, optimizer)\n"
                "\n"
                "HorovodRunner(np=2).run(train_one_worker, learning_rate=0.01)\n"
            ),
            after=(
                "def train_one_worker(learning_rate):\n"
                "    import torch\n"
                "    import torch.distributed as dist\n"
                "    from torch.nn.parallel import DistributedDataParallel as DDP\n"
                "\n"
                '    dist.init_process_group("gloo")  # "nccl" on GPUs\n'
                "    model = DDP(Net())\n"
                "    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)\n"
                "    train(model, optimizer)\n"
                "    dist.destroy_process_group()\n"
                "\n"
                "TorchDistributor(num_processes=2, local_mode=False, use_gpu=False).run(\n"
                "    train_one_worker, 0.01\n"
                ")\n"
            ),
            sources=(TORCH_DISTRIBUTOR_DOC, HOROVOD_RUNNER_DOC),
        ),
        Guide(
            key="tensorflow",
            construct="horovod.tensorflow / horovod.keras",
            replacement="tf.distribute.Strategy",
            explanation=(
                "For TensorFlow, Databricks recommends the tf.distribute.Strategy API instead of "
                "Horovod: build and compile the model inside the strategy's scope, and the "
                "strategy replicates it and aggregates the gradients."
            ),
            before=(
                "import horovod.tensorflow.keras as hvd\n"
                "\n"
                "hvd.init()\n"
                "model = build_model()\n"
                "opt = hvd.DistributedOptimizer(tf.keras.optimizers.SGD(0.01 * hvd.size()))\n"
                'model.compile(optimizer=opt, loss="mse")\n'
            ),
            after=(
                "strategy = tf.distribute.MirroredStrategy()\n"
                "with strategy.scope():\n"
                "    model = build_model()\n"
                '    model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")\n'
                "model.fit(dataset, epochs=3)\n"
            ),
            sources=(HOROVOD_RUNNER_DOC, TF_DISTRIBUTE_DOC),
        ),
        Guide(
            key="package",
            construct="horovod in the libraries or requirements",
            replacement="no package: TorchDistributor ships with pyspark and torch with the ML runtime",
            explanation=(
                "Databricks Runtime ML 16.0 and above do not preinstall Horovod; installing it "
                "means compiling it against the runtime's torch and MPI. Once the code uses "
                "TorchDistributor, remove the library: pyspark.ml.torch.distributor and torch are "
                "part of Databricks Runtime ML."
            ),
            before=("libraries:\n  - pypi:\n      package: horovod==0.28.1\n"),
            after=("libraries: []  # TorchDistributor and torch come with the ML runtime\n"),
            sources=(TORCH_DISTRIBUTOR_DOC, HOROVOD_RUNNER_DOC),
        ),
    )
}

_RANK = frozenset({"rank", "size", "local_rank", "local_size", "cross_rank", "cross_size"})
_COLLECTIVES = frozenset(
    {
        "allreduce",
        "allreduce_",
        "allreduce_async",
        "allreduce_async_",
        "grouped_allreduce",
        "allgather",
        "allgather_object",
        "broadcast",
        "broadcast_",
        "broadcast_async",
        "alltoall",
        "join",
    }
)


def subject(message: str) -> str:
    """What a finding's message names: ``horovod.torch.init``, ``import horovod.torch``,
    ``horovod==0.28.1``."""
    head = message.split(" — ", 1)[0]
    if head == message:  # requirement findings: "horovod==0.28.1: ..."
        head = message.split(": ", 1)[0]
    return head.strip()


def guide_for(code: str, message: str) -> Guide | None:
    """The guide for a Horovod finding (None for any other finding)."""
    if code not in HOROVOD_CODES:
        return None
    name = subject(message)
    if "HorovodRunner" in name or name.startswith(("sparkdl", "from sparkdl")):
        return GUIDES["runner"]
    for prefix in ("import ", "from "):
        if name.startswith(prefix):
            name = name[len(prefix) :].split(" ", 1)[0]
            if name.startswith(("horovod.tensorflow", "horovod.keras")):
                return GUIDES["tensorflow"]
            return GUIDES["module"]
    if name.startswith(("horovod.tensorflow", "horovod.keras")):
        return GUIDES["tensorflow"]
    if not name.startswith("horovod."):
        return GUIDES["package"]  # a requirement or job library naming the horovod package
    last = name.rsplit(".", 1)[-1]
    if last in ("init", "shutdown", "is_initialized"):
        return GUIDES["init"]
    if last == "DistributedOptimizer":
        return GUIDES["optimizer"]
    if last.startswith(("broadcast_parameters", "broadcast_optimizer_state", "broadcast_object")):
        return GUIDES["broadcast"]
    if last in _RANK:
        return GUIDES["rank"]
    if last in _COLLECTIVES:
        return GUIDES["collectives"]
    return GUIDES["module"]
