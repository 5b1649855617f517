"""laplace-torch is installed without torchvision, beside the course's torch."""

import importlib.util

import torch


def test_laplace_imports_and_torchvision_is_absent():
    import laplace  # noqa: F401  (the import itself is the check: torchmetrics must not need torchvision)

    assert importlib.util.find_spec("torchvision") is None
    assert torch.__version__.split("+")[0] == "2.13.0"
