"""How long the batch grader takes for a class: 100 submissions of chapter 1 on 2 cores.

    .venv/bin/python benchmarks/grading_speed.py [--n 100] [--jobs 2] [--keep DIR]

The batch is made from the student notebook of chapter 1 (the fixture chapter in
tests/submissions/book when chapters/ has none): about 60% correct answers
(written in three ways, a third of them importing torch in their cell), 25%
wrong ones (one misconception each), and 14 hostile ones taken from the
solution cells of tests/submissions/ (infinite loops, a memory bomb, os._exit,
fork, floods, tampering, ...). It is graded with the grader's default limits,
two submissions at a time, and the wall time is printed with a sanity check of
the grades. Not a test: the target is under 120 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

from l2bayes.exercises.notebooks import chapters_dir, is_solution_cell, read_notebook
from l2bayes.grade import grade_batch
from l2bayes.student import transform_notebook

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "submissions"
CHAPTER = "01_prior_to_penalty"

CORRECT = [
    {
        "penalty_grad": "def penalty_grad(theta, lam, centre):\n    return lam * (np.asarray(theta) - centre)",
        "neg_log_prior": "def neg_log_prior(theta, prior_std):\n    theta = np.asarray(theta, float)\n"
                         "    return theta @ theta / (2 * prior_std**2) + theta.size / 2 * np.log(2 * np.pi * prior_std**2)",
        "mse_weight_decay": "def mse_weight_decay(prior_std, noise_std, n, batch_size):\n"
                            "    return 2 * noise_std**2 / (n * prior_std**2)",
    },
    {
        "penalty_grad": "import numpy\n\ndef penalty_grad(theta, lam, centre):\n"
                        "    return numpy.multiply(lam, numpy.subtract(theta, centre))",
        "neg_log_prior": "import math\n\ndef neg_log_prior(theta, prior_std):\n"
                         "    t = [float(x) for x in theta]\n"
                         "    return sum(x * x for x in t) / (2 * prior_std**2) + len(t) * math.log(math.sqrt(2 * math.pi) * prior_std)",
        "mse_weight_decay": "def mse_weight_decay(prior_std, noise_std, n, batch_size):\n"
                            "    lam = 1 / prior_std**2\n    return lam * 2 * noise_std**2 / n",
    },
    {
        "penalty_grad": "import torch\n\ndef penalty_grad(theta, lam, centre):\n"
                        "    t = torch.tensor(theta, requires_grad=True)\n"
                        "    (lam / 2 * ((t - torch.tensor(centre)) ** 2).sum()).backward()\n"
                        "    return t.grad.numpy()",
        "neg_log_prior": "import torch\n\ndef neg_log_prior(theta, prior_std):\n"
                         "    sd = torch.tensor(prior_std, dtype=torch.float64)\n"
                         "    return -torch.distributions.Normal(0 * sd, sd).log_prob(torch.tensor(theta)).sum().item()",
        "mse_weight_decay": "def mse_weight_decay(prior_std, noise_std, n, batch_size):\n"
                            "    return 2.0 * noise_std**2 / n / prior_std**2",
    },
]
WRONG = [
    {"penalty_grad": "def penalty_grad(theta, lam, centre):\n    return 2 * lam * (theta - centre)"},
    {"penalty_grad": "def penalty_grad(theta, lam, centre):\n    return lam * theta"},
    {"neg_log_prior": "def neg_log_prior(theta, prior_std):\n    return theta @ theta / (2 * prior_std**2)"},
    {"neg_log_prior": "def neg_log_prior(theta, prior_std):\n"
                      "    return theta @ theta / (2 * prior_std) + theta.size / 2 * np.log(2 * np.pi * prior_std**2)"},
    {"mse_weight_decay": "def mse_weight_decay(prior_std, noise_std, n, batch_size):\n"
                         "    return 2 * noise_std**2 / (batch_size * prior_std**2)"},
    {"mse_weight_decay": "def mse_weight_decay(prior_std, noise_std, n, batch_size):\n"
                         "    return noise_std**2 / (n * prior_std**2)"},
]
HOSTILE = ["loop_forever", "loop_at_import", "too_slow", "memory_bomb", "os_exit_in_call", "os_exit_at_import",
           "fork", "flood_stdout", "tamper_torch", "tamper_numpy", "syntax_error", "sys_exit", "huge_answer",
           "closes_pipes", "tamper_checker"]


def fill(student: dict, code: dict) -> dict:
    """``student`` with the solution cells defining the functions in ``code`` replaced."""
    nb = json.loads(json.dumps(student))
    for cell in nb["cells"]:
        if is_solution_cell(cell):
            source = "".join(cell["source"])
            name = next((f for f in code if f"def {f}(" in source), None)
            if name:
                cell["source"] = code[name]
    return nb


def hostile_code(name: str) -> dict:
    """The solution cells of the adversarial fixture ``name``, by the function they define."""
    nb = read_notebook(FIXTURES / f"{name}.ipynb")
    cells = ["".join(c["source"]) for c in nb["cells"] if is_solution_cell(c)]
    return {f: src for src in cells for f in ("penalty_grad", "neg_log_prior", "mse_weight_decay") if f"def {f}" in src}


def make_batch(folder: Path, n: int) -> tuple[Path, dict]:
    """Write ``n`` submissions into ``folder``; return the chapters folder used and the kind of each."""
    try:
        chapters = chapters_dir()
        read_notebook(chapters / f"{CHAPTER}.ipynb")
    except ValueError:
        chapters = FIXTURES / "book" / "chapters"
    student = transform_notebook(read_notebook(chapters / f"{CHAPTER}.ipynb"), CHAPTER, mode="student")
    n_wrong, n_hostile = round(0.25 * n), round(0.15 * n)
    kinds = {}
    correct, wrong, hostile = itertools.cycle(CORRECT), itertools.cycle(WRONG), itertools.cycle(HOSTILE)
    for i in range(n):
        if i % 7 == 3 and n_hostile:
            kind, code, n_hostile = f"hostile:{(name := next(hostile))}", hostile_code(name), n_hostile - 1
        elif i % 4 == 1 and n_wrong:
            kind, code, n_wrong = "wrong", {**CORRECT[0], **next(wrong)}, n_wrong - 1
        else:
            kind, code = "correct", next(correct)
        path = folder / f"student_{i:03d}.ipynb"
        path.write_text(json.dumps(fill(student, code), indent=1))
        kinds[path] = kind
    return chapters, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", help="write the batch and the grades here instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        (folder / "submissions").mkdir(parents=True, exist_ok=True)
        chapters, kinds = make_batch(folder / "submissions", args.n)
        start = time.perf_counter()
        records = grade_batch(list(kinds), out=folder / "grades.csv", chapter=CHAPTER, jobs=args.jobs,
                              chapters=chapters, fresh=True)
        seconds = time.perf_counter() - start
    by_kind: dict[str, list[float]] = {}
    for record, kind in zip(records, kinds.values()):
        by_kind.setdefault(kind.split(":")[0], []).append(record["points"])
    slowest = sorted(records, key=lambda r: r["seconds"], reverse=True)[:5]
    print(f"graded {len(records)} submissions of {CHAPTER} ({chapters}) with {args.jobs} jobs in {seconds:.1f} s "
          f"({seconds / len(records):.2f} s per submission); target: under 120 s")
    for kind, points in sorted(by_kind.items()):
        print(f"  {kind:8s} {len(points):3d} submissions, points min {min(points):g} mean {sum(points) / len(points):.2f} max {max(points):g}")
    print("  slowest: " + ", ".join(f"{Path(r['submission']).name} {r['seconds']:.1f} s" for r in slowest))
    assert min(by_kind["correct"]) == 3.0 and max(by_kind["wrong"]) < 3.0, "grades are off: see above"


if __name__ == "__main__":
    main()
