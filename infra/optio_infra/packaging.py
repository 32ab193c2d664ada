"""What goes into the Lambda packages. `chalice package` zips one package for every function, from
`requirements.txt`; the kubernetes client (most of that zip) is left out of it and shipped as a
layer that only the functions talking to the cluster get."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from importlib import metadata
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


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: list[str]) -> set[str]:
    """The requirements and everything they require, as installed in this environment (the
    venv `make infra` made from the pinned requirements)."""
    seen: set[str] = set()
    todo = [_canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if ";" in req and "extra ==" in req.split(";", 1)[1]:
                continue  # an extra nobody asked for
            todo.append(_canonical(_requirement_name(req)))
    return seen


def _constraints(path: str) -> None:
    """Every distribution of this environment at its installed version: the layer gets the same
    versions as the app (python-dateutil 2.9 for botocore, not the newest kubernetes would take)."""
    with open(path, "w") as f:
        for dist in metadata.distributions():
            f.write(f"{_canonical(dist.metadata['Name'])}=={dist.version}\n")


def kubernetes_layer() -> str:
    """A Lambda layer dir (python/...) with the kubernetes client for Lambda's platform, built once
    per pinned version: what the app's package already has (urllib3, requests, dateutil, ...)
    is left out, since /var/task comes before /opt/python on the path."""
    pins = [line for line in _requirements() if _requirement_name(line) in LAYER_ONLY]
    layer = os.path.join(BUILD, "kubernetes-layer")
    stamp = os.path.join(layer, ".pins")
    key = "\n".join(pins + ["constrained, deduplicated"])
    if os.path.exists(stamp) and open(stamp).read() == key:
        return layer
    shutil.rmtree(layer, ignore_errors=True)
    target = os.path.join(layer, "python")
    os.makedirs(layer)
    constraints = os.path.join(layer, ".constraints.txt")
    _constraints(constraints)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", target, "--platform", "manylinux2014_x86_64", "-c", constraints,
                    "--implementation", "cp", "--python-version", "3.11", "--only-binary=:all:", *pins],
                   check=True, stdout=sys.stderr)
    in_app = _closure([_requirement_name(r) for r in _requirements() if _requirement_name(r) not in LAYER_ONLY])
    for info in [d for d in os.listdir(target) if d.endswith(".dist-info")]:
        dist = metadata.PathDistribution(pathlib.Path(target, info))
        if _canonical(dist.metadata["Name"]) in in_app:
            for file in dist.files or []:
                path = os.path.join(target, str(file))
                if os.path.isfile(path):
                    os.remove(path)
            shutil.rmtree(os.path.join(target, info), ignore_errors=True)
    for root, dirs, _files in os.walk(target, topdown=False):
        for d in dirs:
            full = os.path.join(root, d)
            if d == "__pycache__":
                shutil.rmtree(full)
            elif not os.listdir(full):
                os.rmdir(full)
    with open(stamp, "w") as f:
        f.write(key)
    return layer


def sam_template(construct: Any) -> dict[str, Any]:
    """The template `chalice package` wrote for the Chalice construct."""
    with open(os.path.join(construct._sam_package_dir, "sam.json")) as f:
        result: dict[str, Any] = json.load(f)
    return result


def clean_chalice_out() -> None:
    """The Chalice construct packages into ./chalice.out/<random id>: keep only this run's."""
    shutil.rmtree(os.path.join(os.getcwd(), "chalice.out"), ignore_errors=True)
