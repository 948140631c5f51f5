"""Distributed training readiness: the DDP smoke probe on the target runtime and the Horovod ->
TorchDistributor guidance for the pipelines that used Horovod."""
