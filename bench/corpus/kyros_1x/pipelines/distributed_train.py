"""Distributed training with HorovodRunner (DBR ML 14.3 preinstalls Horovod)."""
import horovod.torch as hvd  # breaks: Horovod not preinstalled on DBR ML 16.0+
import torch
from sparkdl import HorovodRunner  # breaks: HorovodRunner not preinstalled on DBR ML 16.0+


def train_one():
    hvd.init()
    model = torch.nn.Linear(10, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01 * hvd.size())
    return opt


def main():
    hr = HorovodRunner(np=4)
    hr.run(train_one)
