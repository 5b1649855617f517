"""Write the test fixtures in this folder: a one-chapter book and the submissions to grade.

Run from the repository root after changing a fixture:

    .venv/bin/python tests/submissions/make_fixtures.py

``book/chapters/01_prior_to_penalty.ipynb`` follows the chapter convention
(sphinx-exercise block, ``{solution-start}`` markdown, one code cell tagged
``solution``, ``{solution-end}``, check cell) and hides marked secrets
(``SECRET-...``) in every place a solution could leak from: prose inside the
solution blocks, a ``{solution}`` directive, a solution cell's outputs and
metadata, an attachment. Every submission is the student version of that
chapter with its solution cells filled in; ``SUBMISSIONS`` says with what.
This folder's ``conftest.py`` keeps pytest (and nbval) from collecting any of it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "code"))

from l2bayes.student import transform_notebook  # noqa: E402

CHAPTER = "01_prior_to_penalty"


def cell(kind: str, source: str, index: int, **extra) -> dict:
    out = {"cell_type": kind, "id": f"fx{index:02d}", "metadata": {}, "source": source, **extra}
    if kind == "code":
        out.setdefault("outputs", [])
        out.setdefault("execution_count", None)
    return out


REFERENCE_PENALTY = '''import numpy as np


def penalty_grad(theta, lam, centre):
    """Gradient of lam/2 * ||theta - centre||^2 with respect to theta."""
    theta = np.asarray(theta, dtype=float)
    return lam * (theta - np.asarray(centre, dtype=float))'''

REFERENCE_NEG_LOG_PRIOR = '''def neg_log_prior(theta, prior_std):
    """-log N(theta; 0, prior_std^2 I), normalising constant included."""
    theta = np.asarray(theta, dtype=float)
    d = theta.size
    return theta @ theta / (2 * prior_std**2) + 0.5 * d * np.log(2 * np.pi * prior_std**2)'''

REFERENCE_MSE = '''def mse_weight_decay(prior_std, noise_std, n, batch_size):
    """torch weight_decay for MSELoss(reduction='mean') trained by minibatch SGD,
    so that training finds the MAP estimate under the prior N(0, prior_std^2 I)
    with Gaussian noise of std noise_std, on n examples in batches of batch_size."""
    return 2 * noise_std**2 / (n * prior_std**2)'''

REFERENCE_PRIOR_STD = '''def prior_std_answer():
    """The prior std that weight_decay=5e-4 means for the mean cross-entropy on n = 50,000 examples."""
    return (50_000 * 5e-4) ** -0.5'''


def chapter() -> dict:
    texts = [
        ("code", "import l2bayes\n\nl2bayes.setup_notebook(seed=0)", {"metadata": {"tags": ["remove-cell"]}}),
        ("markdown", "# From prior to penalty (test fixture)\n\nA small chapter in the book's format.", {}),
        ("code", "import numpy as np\nimport torch\n\nfrom l2bayes.exercises import check", {}),
        ("markdown", ":::{exercise} The gradient of the penalty\n:label: ex-penalty-grad\n\n"
         "Write `penalty_grad(theta, lam, centre)`.\n:::", {}),
        ("markdown", ":::{solution-start} ex-penalty-grad\n:class: dropdown\n:::", {}),
        ("code", REFERENCE_PENALTY, {
            "metadata": {"tags": ["solution"], "note": "SECRET-METADATA lam * (theta - centre)"},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "SECRET-OUTPUT\n"}],
        }),
        ("markdown", "The factor one half cancels the two. SECRET-PROSE-1\n:::{solution-end}\n:::",
         {"attachments": {"secret.txt": {"text/plain": "SECRET-ATTACHMENT"}}}),
        ("code", 'assert check("ch01-penalty-grad", penalty_grad)', {}),
        ("markdown", ":::{exercise} The complete negative log prior\n:label: ex-neg-log-prior\n\n"
         "Write `neg_log_prior(theta, prior_std)`.\n:::\n\n"
         ":::{solution-start} ex-neg-log-prior\n:class: dropdown\n:::\nSECRET-PROSE-2 in the opening cell", {}),
        ("code", REFERENCE_NEG_LOG_PRIOR, {"metadata": {"tags": ["solution"]}}),
        ("markdown", ":::{solution-end}\n:::\n\nPUBLIC-AFTER-END-2", {}),
        ("code", 'assert check("ch01-neg-log-prior", neg_log_prior)', {}),
        ("markdown", ":::{exercise} Weight decay for a prior, with minibatches\n:label: ex-mse-weight-decay\n\n"
         "Write `mse_weight_decay(prior_std, noise_std, n, batch_size)`.\n:::", {}),
        ("markdown", "```{solution-start} ex-mse-weight-decay\n:class: dropdown\n```", {}),
        ("code", REFERENCE_MSE, {"metadata": {"tags": ["solution"]}}),
        ("markdown", "MSELoss has no one half. SECRET-PROSE-3\n```{solution-end}\n```", {}),
        ("code", 'assert check("ch01-mse-weight-decay", mse_weight_decay)', {}),
        ("markdown", ":::{exercise} What prior does a weight decay mean?\n:label: ex-prior-from-weight-decay\n\n"
         "Write `prior_std_answer()`.\n:::\n\n:::{solution-start} ex-prior-from-weight-decay\n:class: dropdown\n:::", {}),
        ("code", REFERENCE_PRIOR_STD, {"metadata": {"tags": ["solution"]}}),
        ("markdown", ":::{solution-end}\n:::", {}),
        ("code", 'assert check("ch01-prior-from-weight-decay", prior_std_answer)', {}),
        ("markdown", "::::{exercise} Why the constant matters\n:label: ex-think\n\nExplain.\n::::\n\n"
         "::::{solution} ex-think\n:class: dropdown\n\nSECRET-PROSE-4 the evidence.\n\n"
         ":::{note}\nSECRET-PROSE-5 in a nested note\n:::\n\n```python\nsecret_code = 'SECRET-PROSE-6'\n```\n"
         "::::\n\nPUBLIC-AFTER-THINK", {}),
        ("markdown", "## Summary\n\nPUBLIC-SUMMARY", {}),
    ]
    cells = [cell(kind, source, i, **extra) for i, (kind, source, extra) in enumerate(texts)]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "secret_notebook_note": "SECRET-NB-METADATA",
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


CORRECT = {
    "penalty_grad": '''import numpy as np


def penalty_grad(theta, lam, centre):
    return lam * (np.asarray(theta) - np.asarray(centre))''',
    "neg_log_prior": '''def neg_log_prior(theta, prior_std):
    theta = np.asarray(theta, dtype=float)
    return 0.5 * np.sum(theta**2) / prior_std**2 + theta.size * (np.log(prior_std) + 0.5 * np.log(2 * np.pi))''',
    "mse_weight_decay": '''def mse_weight_decay(prior_std, noise_std, n, batch_size):
    return 2.0 * (noise_std / prior_std) ** 2 / n''',
    "prior_std_answer": '''def prior_std_answer():
    return 0.2''',
}


def pg(body: str, head: str = "") -> dict:
    """Submissions whose penalty_grad cell is ``head`` then a def with ``body``; the others correct."""
    code = (head + "\n\n\n" if head else "") + "def penalty_grad(theta, lam, centre):\n" + body
    return {"penalty_grad": code}


RIGHT = "    return lam * (np.asarray(theta) - np.asarray(centre))\n"

# Attacks that need no address of this machine: each reports what it managed in the exception that
# its penalty_grad raises, so that attempt costs exactly that exercise.
STEAL_WITH_DIR_FD = '''import json
import os

found = []
root = os.open("/", os.O_RDONLY)
skip = {"proc", "sys", "dev", "usr", "site-packages", "include", "share", "lib-dynload", "__pycache__", ".git"}
for folder, dirs, files, fd in os.fwalk(".", dir_fd=root):
    dirs[:] = [d for d in dirs if d not in skip]
    for name in files:
        if name.endswith(".ipynb") and len(found) < 50:
            try:
                f = os.open(name, os.O_RDONLY, dir_fd=fd)
                text = os.read(f, 1 << 22).decode()
                os.close(f)
                if "def penalty_grad" in text and '"solution"' in text:
                    found.append(os.path.join(folder, name))
            except Exception:
                pass
listed = len(os.listdir("/")) + len(list(os.scandir("/")))


def penalty_grad(theta, lam, centre):
    raise RuntimeError("STOLEN " + json.dumps(found) if found else f"found no notebook with a reference ({listed})")'''

OUTLIVE = '''import _posixsubprocess
import os
import sys

MARKER = "l2bayes-outlive-marker"
read_end, write_end = os.pipe()
child = _posixsubprocess.fork_exec(
    [sys.executable, "-c", f"import time; time.sleep(300)  # {MARKER}"], [os.fsencode(sys.executable)],
    True, (write_end,), None, None, -1, -1, -1, -1, -1, -1, read_end, write_end,
    True, True, -1, None, None, None, -1, None, False)
os.close(write_end)


def penalty_grad(theta, lam, centre):
    raise RuntimeError(f"started a child {child} in its own session")'''

KILL_EVERYONE = '''import os
import signal

# Only where pid 1 is bubblewrap's: this fixture must never be graded with --no-sandbox on a real machine.
inside = open("/proc/1/cmdline", "rb").read().split(b"\\0")[0].endswith(b"bwrap")
killed = []
for entry in os.listdir("/proc") if inside else []:
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            signal.pidfd_send_signal(os.pidfd_open(int(entry)), signal.SIGKILL)
            killed.append(int(entry))
        except OSError:
            pass


def penalty_grad(theta, lam, centre):
    raise RuntimeError(f"killed {killed}")'''

STOP_EVERYONE = KILL_EVERYONE.replace("SIGKILL", "SIGSTOP").replace("killed", "stopped")

AST_BOMB = "x = " + "1 + " * 50_000 + "1"


SUBMISSIONS = {
    # name: (solution cells by function, extra untagged cells appended)
    "correct": ({}, ["import os\nos._exit(3)", "while True:\n    pass"]),
    "stub": (None, []),
    "wrong_misconceptions": ({
        "penalty_grad": "def penalty_grad(theta, lam, centre):\n    return 2 * lam * (np.asarray(theta) - centre)",
        "neg_log_prior": "def neg_log_prior(theta, prior_std):\n    theta = np.asarray(theta)\n"
                         "    return theta @ theta / (2 * prior_std**2)",
        "mse_weight_decay": "def mse_weight_decay(prior_std, noise_std, n, batch_size):\n"
                            "    return 2 * noise_std**2 / (batch_size * prior_std**2)",
    }, []),
    "loop_forever": (pg("    while True:\n        pass\n"), []),
    "loop_at_import": (pg(RIGHT, "import numpy as np\n\nwhile True:\n    pass"), []),
    "too_slow": (pg("    import time\n    start = time.process_time()\n    while time.process_time() - start < 0.45:\n"
                    "        pass\n" + RIGHT), []),
    # Wall-clock time is not CPU time: 16 calls of 0.2 s asleep exceed the exercise's 2 CPU seconds
    # by the clock, yet cost nothing (a loaded or paused machine looks the same to a submission).
    "sleepy_but_correct": (pg("    import time\n    time.sleep(0.2)\n" + RIGHT), []),
    "sys_exit": (pg("    import sys\n    sys.exit(0)\n"), []),
    "os_exit_at_import": (pg(RIGHT, "import os\n\nos._exit(0)"), []),
    "os_exit_in_call": (pg("    import os\n    os._exit(7)\n"), []),
    "raise_at_import": (pg(RIGHT, 'raise RuntimeError("boom at import")'), []),
    "syntax_error": ({"penalty_grad": "def penalty_grad(theta, lam, centre)\n    return lam * (theta - centre"}, []),
    "memory_bomb": (pg(RIGHT, "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))"), []),
    "fork": (pg("    import os\n    if os.fork() == 0:\n        while True:\n            pass\n" + RIGHT), []),
    "spawn": (pg("    import subprocess\n    subprocess.run(['sleep', '30'])\n" + RIGHT), []),
    "flood_stdout": (pg(
        "    import os, sys\n    for _ in range(20):\n        print('x' * 1_000_000)\n"
        "        sys.stderr.write('y' * 1_000_000)\n        os.write(1, b'z' * 1_000_000)\n" + RIGHT,
        "for _ in range(50):\n    print('flood at import ' * 100_000)"), []),
    "wrong_type": ({
        "penalty_grad": "def penalty_grad(theta, lam, centre):\n    return 'lam * (theta - centre)'",
        "neg_log_prior": "def neg_log_prior(theta, prior_std):\n    return None",
        "mse_weight_decay": "def mse_weight_decay(prior_std, noise_std, n, batch_size):\n"
                            "    return [2 * noise_std**2 / (n * prior_std**2)]",
    }, []),
    "wrong_shape": (pg("    g = lam * (np.asarray(theta) - np.asarray(centre))\n    return np.append(g, 0.0)\n"), []),
    "returns_nan": (pg("    return lam * (np.asarray(theta) - np.asarray(centre)) * np.nan\n"), []),
    "huge_answer": (pg("    return np.ones(5_000_000)\n"), []),
    "tamper_numpy": (pg(
        "    class Liar(np.ndarray):\n        def __eq__(self, other):\n            return True\n"
        "    return (lam * (np.asarray(theta) - np.asarray(centre)) + 1.0).view(Liar)\n",
        "import numpy as np\nimport numpy.testing\n\n"
        "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None"), []),
    "tamper_torch": (pg(
        "    return torch.tensor(np.asarray(theta, dtype=float)) * 0 + 1.0\n",
        "import numpy as np\nimport torch\n\ntorch.allclose = lambda *a, **k: True\n"
        "torch.testing.assert_close = lambda *a, **k: None\ntorch.Tensor.__eq__ = lambda self, other: True"), []),
    "tamper_checker": ({"penalty_grad": '''import json
import sys
import types
from pathlib import Path

fake = types.ModuleType("l2bayes")
fake.exercises = types.SimpleNamespace(check=lambda *a, **k: True)
sys.modules["l2bayes"] = fake

failures = []
roots = {q for p in [sys.argv[0], *sys.path] for q in Path(p).resolve().parents}
repo = next((q for q in roots if (q / "code" / "l2bayes").is_dir()), None)
try:
    if repo is None:
        raise RuntimeError("no checkout of the course in sight")
    sys.path.insert(0, str(repo / "code"))
    sys.modules.pop("l2bayes", None)
    from l2bayes.exercises import reference

    penalty_grad = reference("ch01-penalty-grad")
except BaseException as exc:
    failures.append(f"import: {exc}")
for chapters in ((repo / "chapters", repo / "tests" / "submissions" / "book" / "chapters") if repo else ()):
    try:
        for path in sorted(chapters.glob("*.ipynb")):
            for c in json.loads(path.read_text())["cells"]:
                if "def penalty_grad" in "".join(c["source"]):
                    namespace = {"np": __import__("numpy")}
                    exec("".join(c["source"]), namespace)
                    penalty_grad = namespace["penalty_grad"]
    except BaseException as exc:
        failures.append(f"read: {exc}")
if "penalty_grad" not in globals():
    def penalty_grad(theta, lam, centre):
        raise RuntimeError("could not steal the reference: " + "; ".join(failures))'''}, []),
    "forge_reply": (pg(
        "    import os\n    for fd in range(3, 64):\n        try:\n"
        "            os.write(fd, b'[' * 300000 + b'\\n' + b'{\"seq\": 1, \"value\": 0.0}\\n')\n"
        "        except OSError:\n            pass\n" + RIGHT), []),
    "kill_grader": (pg("    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n" + RIGHT), []),
    "closes_pipes": (pg("    import os\n    os.closerange(0, 256)\n" + RIGHT), []),
    "escape_sandbox": (pg('''    import os, resource
    escaped = []
    try:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        escaped.append("raised its memory limit")
    except BaseException:
        pass
    try:
        with open("../l2bayes-escape-test", "w") as f:
            f.write("escaped")
        escaped.append("wrote outside its folder")
    except BaseException:
        pass
    try:
        import socket
        socket.socket().connect(("127.0.0.1", 9))
        escaped.append("connected a socket")
    except PermissionError:
        pass
    except BaseException:
        escaped.append("got past the socket guard")
    if escaped:
        return "ESCAPED: " + ", ".join(escaped)
''' + RIGHT), []),
    "steal_with_dir_fd": ({"penalty_grad": STEAL_WITH_DIR_FD}, []),
    "outlive_grader": ({"penalty_grad": OUTLIVE}, []),
    "kill_everyone": ({"penalty_grad": KILL_EVERYONE}, []),
    "stop_everyone": ({"penalty_grad": STOP_EVERYONE}, []),
    "surrogate_message": (pg("    raise RuntimeError('lone surrogate \\udcff and a NUL \\x00 here')\n"), []),
    "ast_bomb": ({"penalty_grad": AST_BOMB + "\n\n\ndef penalty_grad(theta, lam, centre):\n" + RIGHT}, [AST_BOMB]),
}


def submission(student: dict, cells: dict | None, extra: list) -> dict:
    nb = json.loads(json.dumps(student))
    if cells is not None:
        code = {**CORRECT, **cells}
        for c in nb["cells"]:
            if "solution" in c.get("metadata", {}).get("tags", []):
                name = next(f for f in code if f"def {f}(" in "".join(c["source"]))
                c["source"] = code[name]
    for i, source in enumerate(extra):
        nb["cells"].append(cell("code", source, 90 + i))
    return nb


def write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = obj if isinstance(obj, str) else json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    book = HERE / "book"
    nb = chapter()
    write(book / "chapters" / f"{CHAPTER}.ipynb", nb)
    write(book / "_config.yml", "title: Fixture book\nonly_build_toc_files: true\n")
    write(book / "_toc.yml", "format: jb-book\nroot: index\nchapters:\n  - file: chapters/01_prior_to_penalty\n")
    write(book / "index.md", "# Fixture book\n\n:::{exercise}\n:label: ex-index\nWhat is one plus one?\n:::\n\n"
          ":::{solution} ex-index\nSECRET-INDEX-ANSWER: two.\n:::\n\nPUBLIC-INDEX-END\n")
    student = transform_notebook(nb, CHAPTER, mode="student", chapters=book / "chapters")
    for name, (cells, extra) in SUBMISSIONS.items():
        write(HERE / f"{name}.ipynb", submission(student, cells, extra))
    write(HERE / "not_a_notebook.ipynb", '{"cells": [this is not json\n')
    untagged = submission(student, {}, [])
    for c in untagged["cells"]:
        c["metadata"].pop("tags", None)
    write(HERE / "no_solution_cells.ipynb", untagged)
    # Notebooks that nbformat's schema refuses (each once crashed the grader that parsed it).
    text = json.dumps(submission(student, {}, []), indent=1, ensure_ascii=False)
    write(HERE / "nested_json.ipynb", '{"cells": ' + "[" * 100_000 + "]" * 100_000 + ', "metadata": {}}')
    broken = {
        "cell_metadata_string": lambda nb: nb["cells"][0].update(metadata="solution"),
        "source_of_ints": lambda nb: nb["cells"][0].update(source=[1, 2, 3]),
        "notebook_metadata_list": lambda nb: nb.update(metadata=["l2bayes"]),
    }
    for name, spoil in broken.items():
        nb = json.loads(text)
        spoil(nb)
        write(HERE / f"{name}.ipynb", nb)


if __name__ == "__main__":
    main()
