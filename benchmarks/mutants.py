"""Mutation testing: apply named mistakes to the package and the chapters, and count how many the tests catch.

A benchmark of the checks' teeth, not a test (``make mutants``; never part of ``make test``). Each
mutant is one deliberate, plausible mistake: a factor of two, ``n`` for the batch size, ``sigma`` for
``sigma**2``, ``t + 1`` for ``t`` in a bias correction, the decay after the momentum buffer. Each is
applied to a fresh copy of the repository's ``code/``, ``chapters/`` and ``tests/`` in a temporary
folder, and a small subset of the suite chosen for it (one test file, or one exercise's tests, or one
chapter under nbval) runs against the copy with ``PYTHONPATH`` pointing at it. A mutant is *killed*
when that subset fails. A survivor is a missing check: the fix is a test, not a weaker mutant.

Why not a generic mutation tool (mutmut, cosmic-ray): they draw operator swaps at random over every
line, most of them equivalent or trivially caught, and a run over this package and its notebooks costs
hours on a 2-core machine; the mistakes the book is about are specific and named, and notebooks are
not Python modules such tools can patch.

Usage::

    python benchmarks/mutants.py            # every mutant
    python benchmarks/mutants.py --fast     # skip the mutants that need a whole chapter run
    python benchmarks/mutants.py --list     # names only
    python benchmarks/mutants.py -k adamw   # the mutants whose name contains "adamw"

Exits non-zero if any mutant survives, or if a patch no longer applies (the code it targets changed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("code", "chapters", "tests", "pyproject.toml", "_config.yml", "_toc.yml")


@dataclass(frozen=True)
class Mutant:
    """One named mistake: ``(old, new)`` replacements in ``path`` and the tests that should catch it.

    ``path`` is relative to the repository; for a notebook (``.ipynb``) the replacements apply to
    the source of its code cells. Each ``old`` must occur exactly once.
    """

    name: str
    path: str
    edits: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]
    slow: bool = False


EXERCISE_FILES = ("tests/test_exercise_registry.py", "tests/test_exercise_specs.py")


def exercise_tests(exercise_id: str) -> tuple[str, ...]:
    return (*EXERCISE_FILES, "-k", f"{exercise_id} or torchs_step")


def chapter_run(stem: str) -> tuple[str, ...]:
    return ("--nbval-lax", "--nbval-current-env", f"chapters/{stem}.ipynb")


OPTIM = ("tests/test_optim.py", "-k", "matches_torch or match_torch or differ or functional_cores")
MUTANTS = (
    # --- the package's optimizers -------------------------------------------------------------
    Mutant("SGD: decay after the buffer", "code/l2bayes/optim.py", (
        ("        if weight_decay != 0:\n            g = g.add(theta, alpha=weight_decay)  # the prior's gradient, before the buffer\n", ""),
        ("        theta.add_(g, alpha=-lr)\n\n\ndef _multi_tensor_sgd", "        theta.add_(g.add(theta, alpha=weight_decay), alpha=-lr)\n\n\ndef _multi_tensor_sgd"),
    ), OPTIM),
    Mutant("SGD: dampened first buffer term", "code/l2bayes/optim.py", (
        ("bufs[i] = g.detach().clone()  # b_1 = g_1", "bufs[i] = g.detach().clone().mul_(1 - dampening)  # b_1 = g_1"),
    ), OPTIM),
    Mutant("SGD: maximize negates the decay too", "code/l2bayes/optim.py", (
        ("g = g.add(theta, alpha=weight_decay)  # the prior's gradient, before the buffer",
         "g = g.add(theta, alpha=-weight_decay if maximize else weight_decay)"),
    ), OPTIM),
    Mutant("SGD: Nesterov look-ahead without the momentum factor", "code/l2bayes/optim.py", (
        ("g = g.add(bufs[i], alpha=momentum) if nesterov else bufs[i]", "g = g.add(bufs[i]) if nesterov else bufs[i]"),
    ), OPTIM),
    Mutant("SGD foreach: dampening ignored", "code/l2bayes/optim.py", (
        ("[g[i] for i in old], alpha=1 - dampening)", "[g[i] for i in old], alpha=1)"),
    ), OPTIM),
    Mutant("Adam: t + 1 for t in the bias correction", "code/l2bayes/optim.py", (
        ("        t = steps[i].item()\n", "        t = steps[i].item() + 1\n"),
    ), OPTIM),
    Mutant("Adam: v's bias correction without the square root", "code/l2bayes/optim.py", (
        ("denom = (v_.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)", "denom = (v_.sqrt() / (1 - beta2**t)).add_(eps)"),
    ), OPTIM),
    Mutant("Adam: eps inside the square root", "code/l2bayes/optim.py", (
        ("denom = (v_.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)", "denom = (v_ + eps).sqrt() / (1 - beta2**t) ** 0.5"),
    ), OPTIM),
    Mutant("Adam: amsgrad's maximum not used", "code/l2bayes/optim.py", (
        ("            v_ = max_exp_avg_sqs[i]\n", "            v_ = v_\n"),
    ), OPTIM),
    Mutant("AdamW: decay without the learning rate", "code/l2bayes/optim.py", (
        ("theta.mul_(1 - lr * weight_decay)  # AdamW", "theta.mul_(1 - weight_decay)  # AdamW"),
    ), OPTIM),
    Mutant("AdamW: decay as 1 - lr^2 wd", "code/l2bayes/optim.py", (
        ("theta.mul_(1 - lr * weight_decay)  # AdamW", "theta.mul_(1 - lr * lr * weight_decay)  # AdamW"),
    ), OPTIM),
    Mutant("AdamW foreach: coupled instead of decoupled", "code/l2bayes/optim.py", (
        ("            torch._foreach_mul_(params, 1 - lr * weight_decay)\n",
         "            g = torch._foreach_add(g, params, alpha=weight_decay)\n"),
    ), OPTIM),
    # --- priors, ridge and the claim checker ----------------------------------------------------
    Mutant("weight_decay_for_prior: sigma for sigma^2", "code/l2bayes/priors.py", (
        ("return _loss_scale(loss, noise_std) / (n * prior_std**2)", "return _loss_scale(loss, noise_std) / (n * prior_std)"),
    ), ("tests/test_priors.py",)),
    Mutant("weight_decay_for_prior: n forgotten (wd = 1/sigma^2)", "code/l2bayes/priors.py", (
        ("return _loss_scale(loss, noise_std) / (n * prior_std**2)", "return _loss_scale(loss, noise_std) / prior_std**2"),
    ), ("tests/test_priors.py",)),
    Mutant("MSE's factor 2 dropped", "code/l2bayes/priors.py", (
        ("    return 2.0 * noise_std**2\n", "    return noise_std**2\n"),
    ), ("tests/test_priors.py",)),
    Mutant("ridge_fit: lambda/2 on the diagonal", "code/l2bayes/ridge.py", (
        ("        A.flat[:: d + 1] += lam\n", "        A.flat[:: d + 1] += lam / 2\n"),
    ), ("tests/test_ridge.py",)),
    Mutant("assert_close: tolerance doubled", "code/l2bayes/testing.py", (
        ("    if np.any(err > bound):\n", "    if np.any(err > 2 * bound):\n"),
    ), ("tests/test_testing.py",)),
    Mutant("assert_below: NaN passes", "code/l2bayes/testing.py", (
        ("    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(b))):\n        raise AssertionError(f\"{what}: non-finite values\")\n", ""),
        ("    if not np.all(v <= b):\n", "    if np.any(v > b):\n"),
    ), ("tests/test_testing.py",)),
    # --- exercise specs: a misconception that is no longer recognised, a tolerance too loose ------
    Mutant("spec ch06-adamw-step: 1 - lr^2 wd detector reads lr wd", "code/l2bayes/exercises/ch06.py", (
        ('shrink=x["lr"] ** 2 * x["weight_decay"]', 'shrink=x["lr"] * x["weight_decay"]'),
    ), exercise_tests("ch06-adamw-step")),
    Mutant("spec ch04-momentum-decay: tolerance 50%", "code/l2bayes/exercises/ch04.py", (
        ("    compare=close(rtol=1e-2, atol=0.0),\n)\n\nEXERCISES", "    compare=close(rtol=0.5, atol=0.0),\n)\n\nEXERCISES"),
    ), (*EXERCISE_FILES, "-k", "ch04-momentum-decay or conceptual")),
    Mutant("spec ch05-dampened-step: first-step detector with tau for 1 - tau", "code/l2bayes/exercises/ch05.py", (
        ('same(got, _dampened(x, first_scale=1 - x["dampening"]))', 'same(got, _dampened(x, first_scale=x["dampening"]))'),
    ), exercise_tests("ch05-dampened-step")),
    # --- the chapters' reference solutions ------------------------------------------------------
    Mutant("ch04 penalized_sgd_step: factor 2", "chapters/04_weight_decay_sgd.ipynb", (
        ("return (1 - lr * weight_decay) * theta - lr * grad", "return (1 - 2 * lr * weight_decay) * theta - lr * grad"),
    ), exercise_tests("ch04-sgd-decay-step")),
    Mutant("ch04 sgd_momentum_step: decay after the buffer", "chapters/04_weight_decay_sgd.ipynb", (
        ("    g = grad + weight_decay * theta  # decay enters before the buffer\n    buf = momentum * buf + g\n    return theta - lr * buf, buf",
         "    buf = momentum * buf + grad\n    return theta - lr * (buf + weight_decay * theta), buf"),
    ), exercise_tests("ch04-sgd-momentum-step")),
    Mutant("ch04 decay_per_step_answer: momentum ignored", "chapters/04_weight_decay_sgd.ipynb", (
        ("return 0.1 * 5e-4 / (1 - 0.9)", "return 0.1 * 5e-4"),
    ), exercise_tests("ch04-momentum-decay")),
    Mutant("ch05 dampened_sgd_step: dampened first step", "chapters/05_weight_decay_from_scratch.ipynb", (
        ("buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g",
         "buf = (1 - dampening) * g if buf is None else momentum * buf + (1 - dampening) * g"),
    ), exercise_tests("ch05-dampened-step")),
    Mutant("ch06 adamw_step: t + 1 for t in the bias correction", "chapters/06_adam_adamw.ipynb", (
        ("    v = beta2 * v + (1 - beta2) * grad**2\n    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)\n",
         "    v = beta2 * v + (1 - beta2) * grad**2\n    m_hat, v_hat = m / (1 - beta1 ** (t + 1)), v / (1 - beta2 ** (t + 1))\n"),
    ), exercise_tests("ch06-adamw-step")),
    Mutant("ch06 adam_l2_step: sigma-style decay 2 wd", "chapters/06_adam_adamw.ipynb", (
        ("    g = grad + weight_decay * theta  # the prior's gradient, before the moments",
         "    g = grad + 2 * weight_decay * theta  # the prior's gradient, before the moments"),
    ), exercise_tests("ch06-adam-l2-step")),
    # --- the chapters' own claims (a whole chapter under nbval) ---------------------------------
    Mutant("ch04 posterior mean with sigma for sigma^2", "chapters/04_weight_decay_sgd.ipynb", (
        ("posterior_mean = prior_std**2 * X.T @", "posterior_mean = prior_std * X.T @"),
    ), chapter_run("04_weight_decay_sgd"), slow=True),
    Mutant("ch06 diagonal ridge with v_hat for sqrt(v_hat)", "chapters/06_adam_adamw.ipynb", (
        ('(opt.state[theta]["exp_avg_sq"] / (1 - beta2**t)).sqrt() + eps_', '(opt.state[theta]["exp_avg_sq"] / (1 - beta2**t)) + eps_'),
    ), chapter_run("06_adam_adamw"), slow=True),
    Mutant("ch06 MAP with alpha = n wd (factor 2)", "chapters/06_adam_adamw.ipynb", (
        ("theta_map = Ridge(alpha=n * wd / 2, fit_intercept=False)", "theta_map = Ridge(alpha=n * wd, fit_intercept=False)"),
    ), chapter_run("06_adam_adamw"), slow=True),
)


def apply(mutant: Mutant, root: Path) -> None:
    """Apply ``mutant`` to the copy at ``root``; ``ValueError`` if a replacement does not match once."""
    path = root / mutant.path
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        sources = ["".join(c["source"]) for c in cells]
        for old, new in mutant.edits:
            hits = [k for k, s in enumerate(sources) if old in s]
            if len(hits) != 1 or sources[hits[0]].count(old) != 1:
                raise ValueError(f"{mutant.name}: {old[:60]!r} does not occur exactly once in {mutant.path}")
            sources[hits[0]] = sources[hits[0]].replace(old, new)
        for cell, source in zip(cells, sources):
            cell["source"] = source
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    for old, new in mutant.edits:
        if text.count(old) != 1:
            raise ValueError(f"{mutant.name}: {old[:60]!r} does not occur exactly once in {mutant.path}")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def run(mutant: Mutant, *, timeout: float) -> tuple[str, float]:
    """``("killed" | "survived" | "timeout", seconds)`` for one mutant, in its own copy of the repository."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        root = Path(tmp)
        for name in COPIED:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
            elif src.exists():
                shutil.copy2(src, root / name)
        apply(mutant, root)
        env = {**os.environ, "PYTHONPATH": str(root / "code"), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("L2BAYES_CHAPTERS", None)
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:xdist", *mutant.tests]
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", time.perf_counter() - start
        seconds = time.perf_counter() - start
        if proc.returncode == 5:  # no tests collected: the subset is wrong, not the mutant caught
            raise ValueError(f"{mutant.name}: no tests collected by {' '.join(mutant.tests)}")
        return ("killed" if proc.returncode != 0 else "survived"), seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="skip the mutants that run a whole chapter")
    parser.add_argument("--list", action="store_true", help="print the mutants' names and exit")
    parser.add_argument("-k", action="append", default=[],
                        help="only the mutants whose name contains this (case-insensitive; repeat for several)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if (not args.k or any(k.lower() in m.name.lower() for k in args.k))
              and not (args.fast and m.slow)]
    if args.list:
        for m in chosen:
            print(f"{m.name}  ({m.path}; {' '.join(m.tests)})")
        return 0
    # Every patch must still apply to the current sources (the unmutated sources pass these subsets
    # in `make test`), or the mutant would silently test nothing.
    for m in chosen:
        for old, _ in m.edits:
            source = (ROOT / m.path).read_text(encoding="utf-8")
            if m.path.endswith(".ipynb"):
                source = "".join("".join(c["source"]) for c in json.loads(source)["cells"] if c["cell_type"] == "code")
            if source.count(old) != 1:
                print(f"patch does not apply: {m.name}: {old[:60]!r}", file=sys.stderr)
                return 2
    survivors, results = [], []
    print(f"{len(chosen)} mutants", flush=True)
    for m in chosen:
        verdict, seconds = run(m, timeout=args.timeout)
        results.append(verdict)
        if verdict != "killed":
            survivors.append(m.name)
        print(f"  {verdict:8s} {seconds:6.1f} s  {m.name}", flush=True)
    killed = results.count("killed")
    print(f"killed {killed} of {len(chosen)} mutants ({killed / len(chosen):.0%})")
    for name in survivors:
        print(f"  survivor: {name}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
