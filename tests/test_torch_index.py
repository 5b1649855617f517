"""``make install TORCH_INDEX=...`` takes torch from that index: tried on a local PEP 503 index, offline.

The index is a folder served as ``file://``, holding a small stand-in wheel of
torch at the pinned version; the environment is a throwaway one without pip,
which the project's pip installs into (``pip --python``). pip's own
configuration is left out, so the index named is the only source it can use.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch=="))
VERSION = PIN.split("==")[1]


def _stand_in_index(folder: Path) -> Path:
    """A PEP 503 simple index with one project, torch, whose one wheel marks itself as a stand-in."""
    files = {
        "torch/__init__.py": f'__version__ = "{VERSION}"\nSTAND_IN = True\n',
        f"torch-{VERSION}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: torch\nVersion: {VERSION}\n",
        f"torch-{VERSION}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{n},{digest(c.encode())},{len(c.encode())}\n" for n, c in files.items())
    record += f"torch-{VERSION}.dist-info/RECORD,,\n"
    project = folder / "simple" / "torch"
    project.mkdir(parents=True)
    wheel = project / f"torch-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"torch-{VERSION}.dist-info/RECORD", record)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (project / "index.html").write_text(f'<!DOCTYPE html><html><body><a href="{wheel.name}#sha256={sha}">'
                                        f"{wheel.name}</a></body></html>\n")
    (folder / "simple" / "index.html").write_text('<!DOCTYPE html><html><body><a href="torch/">torch</a></body></html>\n')
    return folder / "simple"


def test_install_torch_takes_the_pinned_torch_from_the_index_given(tmp_path):
    index = _stand_in_index(tmp_path / "index")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "MAKE"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    pip = f"{sys.executable} -m pip --disable-pip-version-check --python {python}"
    done = subprocess.run(["make", "--no-print-directory", "install-torch", f"VENV={env_dir}", f"PIP={pip}",
                           f"TORCH_INDEX={index.as_uri()}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"--index-url {index.as_uri()} {PIN}" in done.stdout, done.stdout
    probe = subprocess.run([str(python), "-I", "-c", "import torch; print(torch.__version__, torch.STAND_IN)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.split() == [VERSION, "True"]


def test_install_torch_without_an_index_says_how():
    done = subprocess.run(["make", "--no-print-directory", "install-torch", "TORCH_INDEX="], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in done.stdout
