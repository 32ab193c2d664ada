"""What goes into the Lambda packages. `chalice package` zips one package for every function, from
`requirements.txt`; the kubernetes client (most of that zip) is left out of it and shipped as a
layer that only the functions talking to the cluster get. Both are slimmed for cold starts: only the
botocore service models the functions call, and every module precompiled (`slim_app_package`).

Both are reproducible: the same checkout gives the same bytes, so a second synth (a second deploy)
changes no function. No bytecode but the packaging's own gets in (a local run's `__pycache__`, of
whatever Python, is left out), that bytecode is unchecked-hash and names its file by its path in the
package (not the build's temporary directory), and the zip's entries are sorted, dated 1980-01-01
and given mode 644 or 755."""
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
LAYER_STAMPS = (".pins", ".constraints.txt")  # the layer build's own files beside python/: not in the layer
LAYER_ONLY = ("kubernetes",)  # requirements that go into the layer instead of the app's package
# What only the kubernetes package's asyncio client (kubernetes.aio: half the layer) needs: the
# functions use the synchronous client, which imports none of these.
ASYNCIO_ONLY = frozenset({"aiohttp", "aiohttp-retry", "aiohappyeyeballs", "aiosignal", "frozenlist", "multidict",
                          "propcache", "yarl"})
# The AWS services the functions call through botocore: DynamoDB (pynamodb), S3 (session archives),
# Lambda (the launcher's invoke), STS (the EKS token), Secrets Manager (Optio's keys, through
# powertools' parameters: chalicelib.settings.ServerKey), API Gateway's Management API (the live
# logs' posts to connections: chalicelib.services.live). botocore ships the models of ~400 services:
# 15 of the 26 MB zipped. A client for a service left out fails with UnknownServiceError;
# tests/infra/test_packaging.py checks every client the code creates is listed here.
BOTOCORE_SERVICES = ("apigatewaymanagementapi", "dynamodb", "lambda", "s3", "secretsmanager", "stepfunctions",
                     "sts")
# Lambda's python3.11 runtime: bytecode compiled by another version would be ignored, not wrong.
# Chalice 1.34 takes the runtime from the Python that runs `chalice package` (Config.
# lambda_python_version): the project's 3.11 (README "Deploy to AWS").
LAMBDA_PYTHON = (3, 11)
# Lambda's architectures, and the machine in the manylinux wheel tags of each.
WHEEL_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}
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


def _compile(root: str, files: list[str]) -> None:
    """Unchecked hash-based .pyc for `files` (under `root`): /var/task and /opt are read-only, so
    Lambda compiles every module it imports on every cold start (more than half of `import app`),
    and a .pyc that does not check its source stays valid whatever mtimes the zip and its
    extraction leave. The code objects name their file by its path under `root` (the import fixes
    it up to the real path): the build's temporary directory would make every build differ."""
    for path in files:
        py_compile.compile(path, cfile=importlib.util.cache_from_source(path), doraise=True,
                           dfile=os.path.relpath(path, root),
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def is_bytecode(name: str) -> bool:
    """Whether a path (in a package, `/`-separated) is bytecode: a local run's, of any Python."""
    return name.endswith((".pyc", ".pyo")) or "__pycache__" in name.split("/")


ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: what chalice's own zip says


def write_zip(root: str, zip_path: str) -> None:
    """A zip of `root` that depends on nothing but the files' contents and whether they are
    executable: entries sorted, every one dated ZIP_DATE, mode 755 or 644."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                full = os.path.join(dirpath, f)
                info = zipfile.ZipInfo(os.path.relpath(full, root).replace(os.sep, "/"), ZIP_DATE)
                info.external_attr = (0o100755 if os.access(full, os.X_OK) else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(full, "rb") as data:
                    z.writestr(info, data.read())


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
    models, without the bytecode chalice copied from the project (chalicelib's `__pycache__` of
    local runs), with every module precompiled, reproducibly (write_zip)."""
    with tempfile.TemporaryDirectory(prefix="optio-package-") as work:
        with zipfile.ZipFile(zip_path) as z:
            members = [i for i in z.infolist() if not _botocore_model(i.filename) and not is_bytecode(i.filename)]
            z.extractall(work, members)
            for info in members:  # extractall drops the modes: only whether it is executable matters
                if not info.is_dir() and (info.external_attr >> 16) & 0o111:
                    os.chmod(os.path.join(work, info.filename), 0o755)
        # Precompiled: what a cold start imports and all of our own code; the rest (PyGithub, most
        # of powertools) compiles on first use, as before, rather than weigh on the package size.
        if sys.version_info[:2] == LAMBDA_PYTHON:
            _compile(work, sorted(set(cold_start_modules(work)) | set(_python_files(os.path.join(work, "chalicelib")))))
        write_zip(work, zip_path)


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


def kubernetes_layer(architecture: str) -> str:
    """A Lambda layer dir (python/...) with the kubernetes client for Lambda's platform on
    `architecture` (arm64, x86_64), built once per pinned version: what the app's package already has (urllib3, requests, dateutil, ...)
    is left out, since /var/task comes before /opt/python on the path, and so is the asyncio
    client with what only it needs (ASYNCIO_ONLY)."""
    pins = [line for line in _requirements() if _requirement_name(line) in LAYER_ONLY]
    layer = os.path.join(BUILD, f"kubernetes-layer-{architecture}")
    stamp = os.path.join(layer, LAYER_STAMPS[0])
    platform = f"manylinux2014_{WHEEL_MACHINE[architecture]}"
    key = "\n".join(pins + [platform, "constrained, deduplicated, no asyncio client, compiled reproducibly"])
    if os.path.exists(stamp) and open(stamp).read() == key:
        return layer
    shutil.rmtree(layer, ignore_errors=True)
    target = os.path.join(layer, "python")
    os.makedirs(layer)
    constraints = os.path.join(layer, LAYER_STAMPS[1])
    _constraints(constraints)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--target", target, "--platform", platform, "-c", constraints,
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
        _compile(target, _python_files(target))  # the launcher imports most of the client on every cold start
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
