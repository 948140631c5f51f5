"""Kyros' check of the sparse embedding-bag gradient, as written for torch 2.0 (14.3 LTS ML).

torch.autograd binds ``gradcheck`` to the function torch.autograd.gradcheck.gradcheck (shadowing
the module of that name), so the call below is the function, whose check_sparse_nnz= is gone
from torch 2.6.0 (16.4 LTS ML)."""

import torch
from torch.autograd import gradcheck


def check_embedding_grad(bag, weights, offsets):
    inputs = (weights, offsets)
    ok = torch.autograd.gradcheck(bag, inputs, check_sparse_nnz=True)  # expect: TCH038
    again = gradcheck(bag, inputs, check_sparse_nnz=True, eps=1e-6)  # expect: TCH038
    return ok and again
