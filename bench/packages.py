"""Deployment package sizes and cold `import` times of the Lambda functions (issue 8, point 2).

    make bench-packages        (or: .venv/bin/python bench/packages.py [--runs 5])

Packages exactly what the CDK app deploys (infra/optio_infra/packaging.py): the Chalice app's zip
(`chalice package`, every function shares it; the kubernetes client left out) and the kubernetes
layer. Then, from those unpacked files only (`python -S`, no site-packages), times a cold import
the way a Lambda cold start does it (no .pyc: /var/task is read-only): `import app` as the API and
the schedules load it, and `import app` + the kubernetes client as the launcher loads it.
Prints figures; asserts nothing (timings on a shared CI box are not a test).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "infra"))
sys.path.insert(0, ROOT)

from optio_infra import packaging  # noqa: E402

MB = 1024 * 1024
# Lambda's limits: 50 MB zipped for a direct upload, 250 MB unzipped for function + layers.
ZIP_LIMIT_MB, UNZIPPED_LIMIT_MB = 50, 250

IMPORT_API = "import app"
IMPORT_KUBERNETES = "import kubernetes.client, chalicelib.launch.kubernetes"


def _dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, files in os.walk(path) for f in files
               if not os.path.islink(os.path.join(r, f)))


def _zip_dir(src: str, dest: str) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(src):
            for f in files:
                full = os.path.join(root, f)
                z.write(full, os.path.relpath(full, src))


def app_package(stage: str, work: str) -> tuple[str, float]:
    """`chalice package` of the app as the stack builds it; returns the zip and how long it took."""
    source = packaging.chalice_source(stage)
    out = os.path.join(work, "chalice-package")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = os.path.join(os.path.dirname(sys.executable), "chalice")
    started = time.perf_counter()
    subprocess.run([chalice, "package", "--stage", stage, out], cwd=source, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(out, "deployment.zip"), time.perf_counter() - started


def cold_import(paths: list[str], runs: int) -> tuple[float, float]:
    """Median wall times (ms), in fresh interpreters that see only `paths`, of `import app` and then,
    in the same interpreter, of importing the kubernetes client on top (what the launcher adds)."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(paths),
           "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1",
           "POWERTOOLS_SERVICE_NAME": "optio", "OPTIO_TABLE_PREFIX": "optio-dev-",
           "OPTIO_LAUNCHER": "kubernetes"}
    code = (f"import time; t0 = time.perf_counter(); {IMPORT_API}; t1 = time.perf_counter(); "
            f"{IMPORT_KUBERNETES}; t2 = time.perf_counter(); print((t1 - t0) * 1000, (t2 - t1) * 1000)")
    api, kubernetes = [], []
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True)
        if result.returncode:
            raise SystemExit(f"import failed:\n{result.stderr[-3000:]}")
        a, k = result.stdout.strip().splitlines()[-1].split()
        api.append(float(a))
        kubernetes.append(float(k))
    return statistics.median(api), statistics.median(kubernetes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="optio-packages-")
    try:
        app_zip, package_s = app_package(args.stage, work)
        started = time.perf_counter()
        layer = packaging.kubernetes_layer()
        layer_s = time.perf_counter() - started
        layer_zip = os.path.join(work, "kubernetes-layer.zip")
        _zip_dir(layer, layer_zip)

        app_dir = os.path.join(work, "app")
        with zipfile.ZipFile(app_zip) as z:
            z.extractall(app_dir)
        sizes = {
            "app package (API, stream, schedules, launcher)": (os.path.getsize(app_zip), _dir_size(app_dir)),
            "kubernetes layer (stream, schedules, launcher, API)": (os.path.getsize(layer_zip), _dir_size(layer)),
        }
        both = (sum(s[0] for s in sizes.values()), sum(s[1] for s in sizes.values()))

        print(f"Lambda packages, stage {args.stage} (chalice package {package_s:.1f} s, layer {layer_s:.1f} s)")
        print(f"  {'':54} {'zipped':>9} {'unzipped':>10}")
        for name, (zipped, unzipped) in sizes.items():
            print(f"  {name:54} {zipped / MB:7.1f} MB {unzipped / MB:8.1f} MB")
        print(f"  {'the two together (a function with the layer)':54} {both[0] / MB:7.1f} MB {both[1] / MB:8.1f} MB")
        print(f"  limits: {ZIP_LIMIT_MB} MB zipped upload, {UNZIPPED_LIMIT_MB} MB unzipped with layers")

        api_ms, kubernetes_ms = cold_import([app_dir, os.path.join(layer, "python")], args.runs)
        print(f"Cold import, median of {args.runs} fresh interpreters, no .pyc (Python {sys.version.split()[0]})")
        print(f"  {IMPORT_API!r:62} {api_ms:7.0f} ms  (API, stream, schedules)")
        print(f"  {'then ' + repr(IMPORT_KUBERNETES):62} {kubernetes_ms:7.0f} ms  (the launcher, on top)")
        print(f"  {'app with the kubernetes client':62} {api_ms + kubernetes_ms:7.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
