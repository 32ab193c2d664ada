"""What goes into the Lambda packages. `chalice package` zips one package for every function, from
`requirements.txt`; the kubernetes client (most of that zip) is left out of it and shipped as a
layer that only the functions talking to the cluster get."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

INFRA = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.dirname(INFRA)
BUILD = os.path.join(INFRA, "build")
LAYER_ONLY = ("kubernetes",)  # requirements that go into the layer instead of the app's package


def _requirement_name(line: str) -> str:
    for sep in ("==", ">=", "<=", "~=", "[", "<", ">", " ", ";"):
        line = line.split(sep)[0]
    return line.strip().lower()


def _requirements() -> list[str]:
    with open(os.path.join(PROJECT, "requirements.txt")) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith(("#", "-"))]


def _link(src: str, dst: str) -> None:
    if os.path.islink(dst) or os.path.exists(dst):
        if os.path.islink(dst) and os.readlink(dst) == src:
            return
        os.remove(dst) if not os.path.isdir(dst) or os.path.islink(dst) else shutil.rmtree(dst)
    os.symlink(src, dst)


def chalice_source(stage: str) -> str:
    """A Chalice project dir whose code is the project's (symlinks) and whose requirements.txt is
    the project's without the layer's packages."""
    source = os.path.join(BUILD, "chalice-src")
    os.makedirs(os.path.join(source, ".chalice"), exist_ok=True)
    _link(os.path.join(PROJECT, "app.py"), os.path.join(source, "app.py"))
    _link(os.path.join(PROJECT, "chalicelib"), os.path.join(source, "chalicelib"))
    _link(os.path.join(PROJECT, ".chalice", "config.json"), os.path.join(source, ".chalice", "config.json"))
    wanted = "".join(f"{line}\n" for line in _requirements() if _requirement_name(line) not in LAYER_ONLY)
    path = os.path.join(source, "requirements.txt")
    if not os.path.exists(path) or open(path).read() != wanted:
        with open(path, "w") as f:
            f.write(wanted)
    return source


def kubernetes_layer() -> str:
    """A Lambda layer dir (python/...) with the kubernetes client for Lambda's platform, built once
    per pinned version."""
    pins = [line for line in _requirements() if _requirement_name(line) in LAYER_ONLY]
    layer = os.path.join(BUILD, "kubernetes-layer")
    stamp = os.path.join(layer, ".pins")
    if os.path.exists(stamp) and open(stamp).read() == "\n".join(pins):
        return layer
    shutil.rmtree(layer, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", os.path.join(layer, "python"), "--platform", "manylinux2014_x86_64",
                    "--implementation", "cp", "--python-version", "3.11", "--only-binary=:all:", *pins],
                   check=True, stdout=sys.stderr)
    for root, dirs, _ in os.walk(layer):
        for d in list(dirs):
            if d == "__pycache__":
                shutil.rmtree(os.path.join(root, d))
                dirs.remove(d)
    with open(stamp, "w") as f:
        f.write("\n".join(pins))
    return layer


def sam_template(construct: Any) -> dict[str, Any]:
    """The template `chalice package` wrote for the Chalice construct."""
    with open(os.path.join(construct._sam_package_dir, "sam.json")) as f:
        result: dict[str, Any] = json.load(f)
    return result


def clean_chalice_out() -> None:
    """The Chalice construct packages into ./chalice.out/<random id>: keep only this run's."""
    shutil.rmtree(os.path.join(os.getcwd(), "chalice.out"), ignore_errors=True)
