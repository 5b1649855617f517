"""Tests of l2bayes.testing.assert_close: it must fail when values differ."""

import numpy as np
import pytest
import torch

from l2bayes import assert_close
from l2bayes.testing import max_rel_diff


def test_passes_within_tolerance():
    assert_close(1.0 + 1e-13, 1.0, rtol=1e-12)
    assert_close(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0]), rtol=0)


def test_fails_outside_tolerance_and_names_the_claim():
    with pytest.raises(AssertionError, match="MAP vs ridge.*abs diff"):
        assert_close([1.0, 2.0], [1.0, 2.0 + 1e-9], rtol=1e-12, what="MAP vs ridge")


def test_fails_on_shape_mismatch_and_nan():
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_close(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError, match="non-finite"):
        assert_close(np.nan, np.nan)


def test_atol_for_zero_targets():
    assert_close(1e-13, 0.0, atol=1e-12)
    with pytest.raises(AssertionError):
        assert_close(1e-11, 0.0, atol=1e-12)


def test_max_rel_diff():
    assert max_rel_diff([1.0, 2.0], [1.0, 4.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shape"):
        max_rel_diff([1.0], [1.0, 2.0])


def test_claims_are_recorded_with_method_and_error():
    from l2bayes.testing import LEDGER
    before = len(LEDGER)
    assert_close(1.0 + 1e-13, 1.0, rtol=1e-12, what="x", method="exact", statement="x is one")
    entry = LEDGER[before]
    assert entry["label"] == "x" and entry["method"] == "exact" and entry["statement"] == "x is one"
    assert entry["tolerance"] == 1e-12
    assert 0 < entry["error"] < 1e-12


def test_assert_below():
    from l2bayes import assert_below
    assert_below(0.5, 1.0, what="half below one", method="arithmetic")
    with pytest.raises(AssertionError, match="exceeds"):
        assert_below(2.0, 1.0, what="two below one")
    with pytest.raises(AssertionError, match="non-finite"):
        assert_below(np.nan, 1.0, what="nan")


def test_fails_just_outside_the_tolerance():
    # 1.5 times the allowed error must fail, half of it must pass: the bound is the stated one, not a multiple
    assert_close(1.0 + 0.5e-9, 1.0, rtol=1e-9)
    with pytest.raises(AssertionError, match="not close"):
        assert_close(1.0 + 1.5e-9, 1.0, rtol=1e-9)
    with pytest.raises(AssertionError, match="not close"):
        assert_close(1.5e-9, 0.0, atol=1e-9)


def test_a_claim_that_relies_on_atol_records_atol():
    from l2bayes.testing import LEDGER
    assert_close(0.02, 0.0, atol=0.05, what="grid", method="a grid", statement="s", reason="grid spacing")
    entry = LEDGER[-1]
    assert entry["tolerance"] == 0.05 and entry["atol"] == 0.05 and entry["rtol"] == 1e-12
    assert abs(entry["error"] - 0.02) < 1e-12


def test_an_entrywise_bound_records_the_entry_nearest_its_bound():
    from l2bayes import assert_below
    from l2bayes.testing import LEDGER
    assert_below([0.4, 0.1], [0.5, 0.3], what="two bounds", method="arithmetic", statement="s")
    entry = LEDGER[-1]
    assert (entry["error"], entry["tolerance"]) == (0.4, 0.5)
    with pytest.raises(AssertionError, match="exceeds the bound 0.3"):
        assert_below([0.4, 0.35], [0.5, 0.3], what="second over", method="arithmetic", statement="s")
