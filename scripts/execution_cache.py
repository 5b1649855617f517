"""The chapters' executed outputs, cached for the builds: keyed, filled in parallel, reused.

Jupyter Book's execution cache (jupyter-cache, ``_build/.jupyter_cache``)
matches a notebook by its code alone, so a new numpy, torch or l2bayes would
keep serving outputs computed with the old one. This script keys the cache on
everything the outputs depend on besides the code cells: the pinned
requirements, ``pyproject.toml``, the source of the ``l2bayes`` package, this
script (which decides what the cache holds) and the Python version. Three commands, all run by the Makefile::

    python scripts/execution_cache.py key
        print the key.
    python scripts/execution_cache.py prepare [--jobs 2]
        if the key changed, delete the cache and the build state that holds old
        outputs; then execute, in parallel, every chapter the cache lacks and
        store it there (Jupyter Book executes one notebook at a time), so that
        the site build and the PDF build only read the cache.
    python scripts/execution_cache.py fill HIDDEN_SOURCES
        give the notebooks of the solution-free sources (``l2bayes.student
        hidden-sources``) the outputs of the executed chapters, cell by cell
        where the code is unchanged, and turn execution off for their build: the
        solution-free site shows what the full one shows without running every
        chapter a second time. Cells whose code differs (the stubs, the hidden
        loaders) keep no output.

Every chapter is thus executed once for the builds; ``make test`` runs nbval
over the committed notebooks as the independent second execution. Each cached
notebook records that this script executed it (``executed_by``): Jupyter Book,
had it executed a chapter itself, would have overwritten the record without
that mark, which is how ``tests/test_execution_cache.py`` shows that the builds
of ``make test`` executed nothing more.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the executed outputs depend on, besides the notebooks' own code.
KEYED = ("requirements.txt", "requirements-nodeps.txt", "pyproject.toml", "scripts/execution_cache.py")
#: Build state that holds outputs: Sphinx reuses its doctrees for unchanged sources, and never
#: deletes from html/_images the figures of outputs it no longer shows (the site's weight counts them).
STALE = (".jupyter_cache", ".doctrees", "jupyter_execute", "html/_images")
KEY_FILE = ".execution-key"
#: Stored with each notebook this script executes: a record that Jupyter Book executed
#: itself (a cache miss at build time, a third execution) lacks it.
EXECUTED_BY = "scripts/execution_cache.py prepare"
#: Package files no chapter imports: the Sphinx extension of the website.
UNKEYED = ("code/l2bayes/site.py",)


def cache_key(root: Path = ROOT) -> str:
    """A hash of the requirements, ``pyproject.toml``, the package source, this script and the Python version."""
    root = Path(root)
    digest = hashlib.sha256(sys.version.encode())
    files = [root / name for name in KEYED] + sorted((root / "code").rglob("*.py"))
    for path in files:
        if path.is_file() and path.relative_to(root).as_posix() not in UNKEYED:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def reset_if_stale(build: Path, key: str) -> bool:
    """Delete the cached outputs under ``build`` unless they were made with ``key``; True if deleted."""
    build = Path(build)
    marker = build / KEY_FILE
    if marker.is_file() and marker.read_text().strip() == key:
        return False
    for name in STALE:
        shutil.rmtree(build / name, ignore_errors=True)
    build.mkdir(parents=True, exist_ok=True)
    marker.write_text(key + "\n")
    return True


def _book_settings(root: Path) -> tuple[list[Path], int]:
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    timeout = int((config.get("execute") or {}).get("timeout", 120))
    return sorted((root / "chapters").glob("*.ipynb")), timeout


def _execute(path: str, timeout: int):
    """Run one notebook in its folder (a worker process); return it executed, or the error."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False)
    return nbformat.writes(result.nb), result.time, result.exc_string


def prepare(root: Path = ROOT, build: Path | None = None, jobs: int = 2, notebooks=None) -> list[Path]:
    """Execute every chapter the cache lacks, ``jobs`` at a time; return those executed.

    Raises ``RuntimeError`` naming the notebooks that failed, with their tracebacks.
    """
    # The build's kernels display each claim they check, so that the site's ledger can collect it
    # (l2bayes.testing); the cache is what the site reads, so it must hold those outputs.
    from l2bayes.testing import CLAIM_OUTPUT_ENV

    os.environ[CLAIM_OUTPUT_ENV] = "1"
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    root = Path(root)
    build = Path(build) if build is not None else root / "_build"
    if reset_if_stale(build, cache_key(root)):
        print(f"execution cache: new key {cache_key(root)}, outputs will be recomputed", flush=True)
    chapters, timeout = _book_settings(root)
    chapters = [Path(p) for p in notebooks] if notebooks is not None else chapters
    cache = get_cache(str((build / ".jupyter_cache").resolve()))
    todo = []
    for path in chapters:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    if not todo:
        print(f"execution cache: all {len(chapters)} chapters are cached", flush=True)
        return []
    print(f"execution cache: executing {len(todo)} of {len(chapters)} chapters, {jobs} at a time", flush=True)
    failed = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
        futures = {path: pool.submit(_execute, str(path.resolve()), timeout) for path in todo}
        for path, future in futures.items():
            text, seconds, error = future.result()
            if error:
                failed.append(f"{path.name}:\n{error}")
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(nbformat.reads(text, as_version=4), str(path.resolve()),
                              data={"execution_seconds": seconds, "executed_by": EXECUTED_BY}),
                check_validity=False, overwrite=True,
            )
            print(f"  {path.name}: executed in {seconds:.1f} s", flush=True)
    if failed:
        raise RuntimeError("these chapters failed to execute:\n" + "\n".join(failed))
    return todo


def fill_outputs(hidden: Path, executed: dict[str, dict]) -> int:
    """Copy outputs into the notebooks under ``hidden`` from ``executed`` (stem -> executed notebook).

    A code cell gets the outputs of the executed cell with the same id only if
    its source is the same. Returns the number of cells filled.
    """
    filled = 0
    for path in sorted(Path(hidden).rglob("*.ipynb")):
        if path.stem not in executed:
            continue
        done = {c.get("id"): c for c in executed[path.stem]["cells"] if c.get("cell_type") == "code"}
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            ran = done.get(cell.get("id"))
            if cell.get("cell_type") != "code" or ran is None or _source(ran) != _source(cell):
                continue
            cell["outputs"], cell["execution_count"] = ran.get("outputs", []), ran.get("execution_count")
            filled += 1
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return filled


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def cache_records(root: Path = ROOT, build: Path | None = None) -> dict[str, dict | None]:
    """Each chapter's cache record's ``data`` (``None`` where the cache has no match for it)."""
    import nbformat
    from jupyter_cache import get_cache

    root = Path(root)
    build = Path(build) if build is not None else root / "_build"
    cache = get_cache(str((build / ".jupyter_cache").resolve()))
    out: dict[str, dict | None] = {}
    for path in _book_settings(root)[0]:
        try:
            out[path.stem] = dict(cache.match_cache_notebook(nbformat.read(path, as_version=4)).data)
        except KeyError:
            out[path.stem] = None
    return out


def executed_chapters(root: Path = ROOT, build: Path | None = None) -> dict[str, dict]:
    """Every chapter, executed, from the cache (run :func:`prepare` first)."""
    import nbformat
    from jupyter_cache import get_cache

    root = Path(root)
    build = Path(build) if build is not None else root / "_build"
    cache = get_cache(str((build / ".jupyter_cache").resolve()))
    out = {}
    for path in _book_settings(root)[0]:
        _, nb = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        out[path.stem] = json.loads(nbformat.writes(nb))
    return out


def execution_off(hidden: Path) -> None:
    """Set ``execute_notebooks: "off"`` in the ``_config.yml`` of the sources at ``hidden``."""
    import yaml

    config_path = Path(hidden) / "_config.yml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("key")
    p = sub.add_parser("prepare")
    p.add_argument("--jobs", type=int, default=2)
    p = sub.add_parser("fill")
    p.add_argument("hidden")
    args = parser.parse_args(argv)
    if args.command == "key":
        print(cache_key())
        return 0
    try:
        if args.command == "prepare":
            prepare(jobs=args.jobs)
        else:
            prepare()
            filled = fill_outputs(Path(args.hidden), executed_chapters())
            execution_off(Path(args.hidden))
            print(f"{args.hidden}: {filled} code cells given the executed outputs; execution off for its build")
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
