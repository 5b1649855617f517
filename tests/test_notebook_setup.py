"""Tests of l2bayes.setup_notebook and the plot style."""

import matplotlib as mpl
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgb

from l2bayes import setup_notebook
from l2bayes.plotting import PALETTE


@pytest.fixture
def restore_torch_state():
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


def test_setup_sets_seeds_threads_dtype_and_style(restore_torch_state):
    setup_notebook(seed=3, float64=True)
    a = (np.random.rand(), torch.rand(1).item())
    setup_notebook(seed=3, float64=True)
    assert (np.random.rand(), torch.rand(1).item()) == a
    assert torch.get_num_threads() == 1
    from threadpoolctl import threadpool_info

    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    assert torch.get_default_dtype() == torch.float64
    assert mpl.rcParams["figure.facecolor"] == "white"
    assert mpl.rcParams["savefig.transparent"] is False
    assert [c.lower() for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]] == [c.lower() for c in PALETTE]
    setup_notebook(seed=3, float64=False)
    assert torch.get_default_dtype() == torch.float32


def test_palette_colours_are_distinct():
    rgb = np.array([to_rgb(c) for c in PALETTE])
    dists = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)
    assert dists[~np.eye(len(PALETTE), dtype=bool)].min() > 0.2


@pytest.mark.parametrize("kwargs, name", [({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"float64": "yes"}, "float64")])
def test_bad_input(kwargs, name, restore_torch_state):
    with pytest.raises(ValueError, match=name):
        setup_notebook(**kwargs)
