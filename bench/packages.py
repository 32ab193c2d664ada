"""Each Lambda function's deployment size and cold init time (issue 8 point 2, issue 18 point 1).

    make bench-packages        (or: .venv/bin/python bench/packages.py [--runs 7])

Packages exactly what the CDK app deploys (infra/optio_infra/packaging.py): the Chalice app's zip
(`chalice package`, every function shares it; the kubernetes client left out), slimmed the way the
stack slims it (packaging.slim_app_package: only the botocore models the functions call, what a cold
start imports precompiled), and the kubernetes layer the functions that talk to the cluster get.
Then, from those unpacked files only (`python -S`, no site-packages, no .pyc written: /var/task is
read-only), times each function's init the way a Lambda cold start does it: the import of its
handler. The zip as `chalice package` wrote it is timed too, for the figure before slimming.
Prints figures; asserts nothing (timings on a shared CI box are not a test).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "infra"))
sys.path.insert(0, ROOT)

from optio_infra import packaging  # noqa: E402
from optio_infra.stack import API_HANDLER, CLUSTER_FUNCTIONS, LAUNCHER_FN  # noqa: E402

MIB = 1024 * 1024
# Lambda's limits: 50 MB zipped for a direct upload, 250 MB unzipped for function + layers.
ZIP_LIMIT_MB, UNZIPPED_LIMIT_MB = 50, 250
# What the launcher imports on its first invocation, on top of its init.
IMPORT_KUBERNETES = "import kubernetes.client, chalicelib.launch.kubernetes"
# The libraries `import app` loads: every request needs them (Chalice routes it, the authorizer
# reads DynamoDB through PynamoDB and botocore, powertools writes its log lines).
LIBRARIES = ("chalice.app", "pynamodb.models", "aws_lambda_powertools")


def _dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, files in os.walk(path) for f in files
               if not os.path.islink(os.path.join(r, f)))


def _zip_dir(src: str, dest: str) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(src):
            for f in files:
                full = os.path.join(root, f)
                z.write(full, os.path.relpath(full, src))


def app_package(stage: str, work: str) -> tuple[str, str, float]:
    """`chalice package` of the app as the stack builds it; returns its output dir, the zip as
    Chalice wrote it (a copy) and how long packaging took."""
    source = packaging.chalice_source(stage)
    out = os.path.join(work, "chalice-package")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = os.path.join(os.path.dirname(sys.executable), "chalice")
    started = time.perf_counter()
    subprocess.run([chalice, "package", "--stage", stage, out], cwd=source, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    raw = os.path.join(work, "chalice-deployment.zip")
    shutil.copy(os.path.join(out, "deployment.zip"), raw)
    return out, raw, time.perf_counter() - started


def functions(sam_path: str) -> list[tuple[str, str, str, int]]:
    """(logical id, kind, handler, memory MB) of each function, kinds as the stack assigns them."""
    with open(sam_path) as f:
        resources = json.load(f)["Resources"]
    found = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        events = {e["Type"] for e in (props.get("Events") or {}).values()}
        kind = ("api" if name == API_HANDLER else "stream" if "DynamoDB" in events
                else "schedule" if "Schedule" in events else "launcher" if name == LAUNCHER_FN else "other")
        found.append((name, kind, props["Handler"], int(props.get("MemorySize", 128))))
    return found


class Timed(NamedTuple):
    """Medians (ms) over fresh interpreters of a statement and of what ran after it, wall and CPU
    (on a shared, loaded machine the wall time is mostly waiting for a core, the CPU time much less
    so), and the largest peak RSS (MiB) of those interpreters."""

    wall_ms: float
    then_wall_ms: float
    cpu_ms: float
    then_cpu_ms: float
    peak_mib: float


def cold_import(paths: list[str], statement: str, runs: int, then: str = "") -> Timed:
    """`statement` and then, in the same interpreter, `then`, in fresh interpreters that see only `paths`."""
    env = {**packaging.COLD_START_ENV, "PYTHONPATH": os.pathsep.join(paths)}
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec (it would be this process's).
    code = ("import time; t0, c0 = time.perf_counter(), time.process_time(); "
            f"{statement}; t1, c1 = time.perf_counter(), time.process_time(); "
            f"{then or 'pass'}; t2, c2 = time.perf_counter(), time.process_time(); "
            "hwm = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')); "
            "print((t1 - t0) * 1000, (t2 - t1) * 1000, (c1 - c0) * 1000, (c2 - c1) * 1000, hwm)")
    samples: list[list[float]] = [[], [], [], [], []]
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True)
        if result.returncode:
            raise SystemExit(f"import failed:\n{result.stderr[-3000:]}")
        for sample, value in zip(samples, result.stdout.strip().splitlines()[-1].split(), strict=True):
            sample.append(float(value))
    return Timed(*(statistics.median(sample) for sample in samples[:4]), max(samples[4]) / 1024)  # KiB


def _unzip(path: str, dest: str) -> str:
    with zipfile.ZipFile(path) as z:
        z.extractall(dest)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="optio-packages-")
    try:
        out, raw_zip, package_s = app_package(args.stage, work)
        app_zip = os.path.join(out, "deployment.zip")
        started = time.perf_counter()
        packaging.slim_app_package(app_zip)
        slim_s = time.perf_counter() - started
        started = time.perf_counter()
        layer = packaging.kubernetes_layer("x86_64")  # run here, on x86-64
        layer_s = time.perf_counter() - started
        layer_zip = os.path.join(work, "kubernetes-layer.zip")
        _zip_dir(layer, layer_zip)
        app_dir = _unzip(app_zip, os.path.join(work, "app"))
        raw_dir = _unzip(raw_zip, os.path.join(work, "app-unslimmed"))
        layer_path = os.path.join(layer, "python")
        app_mb = os.path.getsize(app_zip) / MIB, _dir_size(app_dir) / MIB
        layer_mb = os.path.getsize(layer_zip) / MIB, _dir_size(layer) / MIB

        print(f"Lambda packages, stage {args.stage} (chalice package {package_s:.1f} s, slimmed in "
              f"{slim_s:.1f} s, layer {layer_s:.1f} s), MiB")
        print(f"  {'':44} {'zipped':>7} {'unzipped':>9}")
        print(f"  {'app package as chalice packages it (before)':44} {os.path.getsize(raw_zip) / MIB:7.1f} "
              f"{_dir_size(raw_dir) / MIB:9.1f}")
        print(f"  {'app package, slimmed (deployed)':44} {app_mb[0]:7.1f} {app_mb[1]:9.1f}")
        print(f"  {'kubernetes layer':44} {layer_mb[0]:7.1f} {layer_mb[1]:9.1f}")
        print(f"  limits: {ZIP_LIMIT_MB} MB zipped upload, {UNZIPPED_LIMIT_MB} MB unzipped with layers")

        print(f"Per function: deployed size, init (import of its handler in a fresh interpreter that "
              f"sees only the package, no .pyc written), median of {args.runs}, and that interpreter's peak "
              f"RSS (the largest of the {args.runs}; the launcher's with the kubernetes client imported, as "
              f"its first invocation does), Python {sys.version.split()[0]}")
        print(f"  {'function':15} {'kind':9} {'memory':>7} {'layer':>6} {'zipped':>8} {'unzipped':>9} {'init':>8} "
              f"{'CPU':>7} {'peak RSS':>9}")
        for name, kind, handler, memory in functions(os.path.join(out, "sam.json")):
            with_layer = name in CLUSTER_FUNCTIONS
            module, attribute = handler.rsplit(".", 1)
            paths = [app_dir, layer_path] if with_layer else [app_dir]
            then = IMPORT_KUBERNETES if name == LAUNCHER_FN else ""
            init = cold_import(paths, f"from {module} import {attribute}", args.runs, then)
            zipped = app_mb[0] + (layer_mb[0] if with_layer else 0)
            unzipped = app_mb[1] + (layer_mb[1] if with_layer else 0)
            print(f"  {name:15} {kind:9} {memory:>4} MB {'yes' if with_layer else 'no':>6} {zipped:6.1f} MiB "
                  f"{unzipped:5.1f} MiB {init.wall_ms:5.0f} ms {init.cpu_ms:4.0f} ms {init.peak_mib:5.0f} MiB")
        kubernetes = cold_import([app_dir, layer_path], "import app", args.runs, IMPORT_KUBERNETES)
        print(f"  the launcher's first invocation adds {IMPORT_KUBERNETES!r}: {kubernetes.then_wall_ms:.0f} ms")
        print(f"'import app' (the API's init), what it is made of, CPU ms, median of {args.runs}:")
        libraries = cold_import([app_dir], "import " + ", ".join(LIBRARIES), args.runs, "import app")
        print(f"  the libraries it loads ({', '.join(LIBRARIES)}, what they import): {libraries.cpu_ms:.0f} ms; "
              f"our code on top of them (with the few standard modules only it imports): {libraries.then_cpu_ms:.0f} ms")
        for library in LIBRARIES:
            print(f"    {library} alone: {cold_import([app_dir], f'import {library}', args.runs).cpu_ms:.0f} ms")
        before = cold_import([raw_dir], "import app", args.runs)
        print(f"  before slimming (the zip as chalice packages it, nothing precompiled): 'import app' "
              f"{before.wall_ms:.0f} ms, CPU {before.cpu_ms:.0f} ms")
        print(f"  load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (on {os.cpu_count()} cores)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
