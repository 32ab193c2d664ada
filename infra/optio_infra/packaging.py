"""What goes into the Lambda packages. `chalice package` zips one package for every function, from
`requirements.txt`; the kubernetes client (most of that zip) is left out of it and shipped as a
layer that only the functions talking to the cluster get. Both are slimmed for cold starts: only the
botocore service models the functions call, and every module precompiled (`slim_app_package`)."""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from typing import Any

INFRA = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.dirname(INFRA)
BUILD = os.path.join(INFRA, "build")
LAYER_ONLY = ("kubernetes",)  # requirements that go into the layer instead of the app's package
# What only the kubernetes package's asyncio client (kubernetes.aio: half the layer) needs: the
# functions use the synchronous client, which imports none of these.
ASYNCIO_ONLY = frozenset({"aiohttp", "aiohttp-retry", "aiohappyeyeballs", "aiosignal", "frozenlist", "multidict",
                          "propcache", "yarl"})
# The AWS services the functions call through botocore: DynamoDB (pynamodb), S3 (session archives),
# Lambda (the launcher's invoke), STS (the EKS token). botocore ships the models of ~400 services:
# 15 of the 26 MB zipped. A client for a service left out fails with UnknownServiceError;
# tests/infra/test_packaging.py checks every client the code creates is listed here.
BOTOCORE_SERVICES = ("dynamodb", "lambda", "s3", "sts")
# Lambda's python3.11 runtime: bytecode compiled by another version would be ignored, not wrong.
LAMBDA_PYTHON = (3, 11)
# The environment `import app` needs (settings read at import), as .chalice/config.json gives it.
COLD_START_ENV = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1",
                  "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "optio",
                  "OPTIO_TABLE_PREFIX": "optio-dev-", "OPTIO_LAUNCHER": "kubernetes"}


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


def _compile(files: list[str]) -> None:
    """Unchecked hash-based .pyc for `files`: /var/task and /opt are read-only, so Lambda compiles
    every module it imports on every cold start (more than half of `import app`), and a .pyc that
    does not check its source stays valid whatever mtimes the zip and its extraction leave."""
    for path in files:
        py_compile.compile(path, cfile=importlib.util.cache_from_source(path), doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def _python_files(root: str) -> list[str]:
    return [os.path.join(r, f) for r, _, files in os.walk(root) for f in files if f.endswith(".py")]


def cold_start_modules(root: str) -> list[str]:
    """The files under `root` that `import app` loads there, in a fresh interpreter that sees only
    `root` (how Lambda's init phase loads a handler)."""
    code = ("import sys, app; print('\\n'.join(f for m in list(sys.modules.values()) "
            "if isinstance(f := getattr(m, '__file__', None), str)))")
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=root, env={**COLD_START_ENV, "PYTHONPATH": root},
                            capture_output=True, text=True, check=True)
    prefix = os.path.join(os.path.realpath(root), "")
    return sorted({os.path.realpath(f) for f in result.stdout.split("\n")
                   if f.endswith(".py") and os.path.realpath(f).startswith(prefix)})


def _botocore_model(name: str) -> bool:
    """Whether a path in the package is a botocore service model the functions do not call."""
    parts = name.split("/")
    return (len(parts) > 3 and parts[:2] == ["botocore", "data"] and parts[2] not in BOTOCORE_SERVICES)


def slim_app_package(zip_path: str) -> None:
    """Rewrites `chalice package`'s deployment.zip in place: without the unused botocore service
    models, with every module precompiled."""
    with tempfile.TemporaryDirectory(prefix="optio-package-") as work:
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(work, [i for i in z.infolist() if not _botocore_model(i.filename)])
        # Precompiled: what a cold start imports and all of our own code; the rest (PyGithub, most
        # of powertools) compiles on first use, as before, rather than weigh on the package size.
        if sys.version_info[:2] == LAMBDA_PYTHON:
            _compile(sorted(set(cold_start_modules(work)) | set(_python_files(os.path.join(work, "chalicelib")))))
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
            for root, dirs, files in os.walk(work):
                dirs.sort()
                for f in sorted(files):
                    full = os.path.join(root, f)
                    z.write(full, os.path.relpath(full, work))


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
    is left out, since /var/task comes before /opt/python on the path, and so is the asyncio
    client with what only it needs (ASYNCIO_ONLY)."""
    pins = [line for line in _requirements() if _requirement_name(line) in LAYER_ONLY]
    layer = os.path.join(BUILD, "kubernetes-layer")
    stamp = os.path.join(layer, ".pins")
    key = "\n".join(pins + ["constrained, deduplicated, no asyncio client, compiled"])
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
    shutil.rmtree(os.path.join(target, "kubernetes", "aio"))
    for info in [d for d in os.listdir(target) if d.endswith(".dist-info")]:
        dist = metadata.PathDistribution(pathlib.Path(target, info))
        if _canonical(dist.metadata["Name"]) in in_app | ASYNCIO_ONLY:
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
    if sys.version_info[:2] == LAMBDA_PYTHON:
        _compile(_python_files(target))  # the launcher imports most of the client on every cold start
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
