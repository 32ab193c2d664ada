"""The Lambda package is slimmed for cold starts (issue 18): only the botocore service models the
functions call, and what a cold start imports precompiled. These check that nothing the functions
need was slimmed away."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOST_ARCHITECTURE, INFRA, REPO_ROOT, STAGES, Assembly, resources

# The CDK app is not a package of the project (cdk runs it from infra/). Appended, not put first:
# infra/app.py must not shadow the project's app.py for the tests that share this worker.
sys.path.append(str(INFRA))
from optio_infra import packaging  # noqa: E402

# Cold caches (infra/build) make the first synth reach PyPI: more than the suite's 300 s default.
pytestmark = [pytest.mark.xdist_group("infra"), pytest.mark.timeout(900)]

MIB = 1024 * 1024
# boto3.client("s3", ...), session.create_client("sts", ...), local_client("dynamodb", ...)
CLIENT_CALL = re.compile(r"""(?:\bclient|create_client)\(\s*["']([a-z0-9-]+)["']""")


def _app_zip(assembly: Assembly, stage: str) -> Path:
    manifest = json.loads((assembly.out / f"{stage}.assets.json").read_text())
    zips = [assembly.out / f["source"]["path"] for f in manifest["files"].values()
            if f["source"]["path"].endswith(".zip")]
    return next(z for z in zips if "app.py" in zipfile.ZipFile(z).namelist())


def test_every_client_the_functions_create_has_its_service_model() -> None:
    # chalicelib/local only runs on a developer's machine (DynamoDB Local's streams client).
    sources = [p for p in (REPO_ROOT / "chalicelib").rglob("*.py") if "local" not in p.parts]
    services = {name for p in sources for name in CLIENT_CALL.findall(p.read_text())}
    assert services  # the pattern still finds the clients
    assert services | {"dynamodb"} <= set(packaging.BOTOCORE_SERVICES)  # dynamodb: through pynamodb


def test_app_package_is_slim_and_precompiled(assembly: Assembly) -> None:
    path = _app_zip(assembly, "dev")
    names = set(zipfile.ZipFile(path).namelist())
    assert path.stat().st_size <= 15 * MIB
    assert not any(n.startswith("botocore/data/ec2/") for n in names)
    assert any(n.startswith("botocore/data/dynamodb/") for n in names)
    assert "botocore/data/endpoints.json" in names
    tag = sys.implementation.cache_tag
    assert {f"__pycache__/app.{tag}.pyc", f"botocore/__pycache__/client.{tag}.pyc",
            f"pynamodb/__pycache__/models.{tag}.pyc"} <= names
    assert f"github/__pycache__/MainClass.{tag}.pyc" not in names  # imported on first use only


def test_the_slim_package_imports_and_creates_its_clients(assembly: Assembly, tmp_path: Path) -> None:
    with zipfile.ZipFile(_app_zip(assembly, "dev")) as z:
        z.extractall(tmp_path)
    code = ("import app, boto3\n"
            f"for service in {packaging.BOTOCORE_SERVICES!r}:\n"
            "    boto3.client(service, region_name='us-east-1')\n")
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={**packaging.COLD_START_ENV, "PYTHONPATH": str(tmp_path)}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_kubernetes_layer_serves_the_synchronous_client(assembly: Assembly, tmp_path: Path) -> None:
    # The layer has no asyncio client (kubernetes.aio and aiohttp): what the launcher uses must not miss it.
    with zipfile.ZipFile(_app_zip(assembly, "dev")) as z:
        z.extractall(tmp_path)
    layer = Path(packaging.kubernetes_layer(HOST_ARCHITECTURE)) / "python"  # built by the synth: its cache
    assert not (layer / "kubernetes" / "aio").exists() and not (layer / "aiohttp").exists()
    assert (layer / "kubernetes" / "client" / "__pycache__").is_dir()
    code = ("import chalicelib.launch.kubernetes\n"
            "from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api, V1Job\n"
            "BatchV1Api(ApiClient()), CoreV1Api(ApiClient())\n"
            "V1Job.model_validate({'metadata': {'name': 'optio-x-1'}, 'spec': {'template': {'spec': "
            "{'containers': [{'name': 'runner', 'image': 'runner:1'}]}}}})\n")
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={**packaging.COLD_START_ENV, "PYTHONPATH": f"{tmp_path}:{layer}"}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def _file_assets(assembly: Assembly, stage: str) -> dict[str, str]:
    """Every file asset of the stage (function code, layers, nested templates) by its hash."""
    manifest = json.loads((assembly.out / f"{stage}.assets.json").read_text())
    return {key: f["source"]["path"] for key, f in manifest["files"].items()}


def _code_locations(assembly: Assembly, stage: str) -> dict[str, Any]:
    """Where each function's code and each layer's content is, as the template says: the asset's key."""
    found = {}
    for key, resource in assembly.template(stage)["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            found[key] = props.get("CodeUri") or props.get("Code")
        elif resource["Type"] == "AWS::Lambda::LayerVersion":
            found[key] = props["Content"]
    return found


def test_bytecode_in_the_packages_is_only_the_packagings_own(assembly: Assembly) -> None:
    # A local run's __pycache__ (timestamp .pyc, stale modules, another Python) stays out; what the
    # packaging precompiles (packaging._compile) is unchecked-hash bytecode of the source beside it,
    # for Lambda's Python, and names its file by its path in the package, not the build's temp dir.
    tag = f"cpython-{packaging.LAMBDA_PYTHON[0]}{packaging.LAMBDA_PYTHON[1]}"
    layer = Path(packaging.kubernetes_layer(HOST_ARCHITECTURE))
    layer_files = {str(p.relative_to(layer)): p.read_bytes() for p in layer.rglob("*")
                   if p.is_file() and p.name not in packaging.LAYER_STAMPS}
    with zipfile.ZipFile(_app_zip(assembly, "dev")) as z:
        app_files = {n: z.read(n) for n in z.namelist()}
    for files in (app_files, layer_files):
        compiled = [n for n in files if packaging.is_bytecode(n)]
        assert compiled
        for name in compiled:
            directory, _, file = name.rpartition("__pycache__/")
            module, _, rest = file.partition(".")
            assert rest == f"{tag}.pyc", name  # no other Python's, no optimised level, no legacy .pyc
            source = files.get(f"{directory}{module}.py")
            assert source is not None, name  # no stale bytecode of a module that is gone
            header = files[name][:16]
            assert int.from_bytes(header[4:8], "little") == 0b01, name  # unchecked hash, not timestamp
            assert header[8:16] == importlib.util.source_hash(source), name  # of this very source
            assert b"optio-package-" not in files[name], name


def test_a_second_synth_of_the_same_checkout_changes_no_function(assembly: Assembly, again: Assembly) -> None:
    for stage in STAGES:
        assert _code_locations(again, stage) == _code_locations(assembly, stage), stage
        first, second = _file_assets(assembly, stage), _file_assets(again, stage)
        assert set(second) == set(first), (stage, {k: v for k, v in {**first, **second}.items()
                                                  if k not in first or k not in second})
    # The zip itself, entry by entry: sorted, dated 1980-01-01, mode 644 or 755.
    with zipfile.ZipFile(_app_zip(assembly, "prod")) as z:
        infos = z.infolist()
    assert {i.date_time for i in infos} == {packaging.ZIP_DATE}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} <= {0o644, 0o755}


# ELF's e_machine (offset 18, little endian) of each architecture's shared objects.
ELF_MACHINE = {"x86_64": 62, "arm64": 183}


def _shared_objects(files: dict[str, bytes]) -> dict[str, int]:
    return {name: int.from_bytes(data[18:20], "little") for name, data in files.items()
            if data[:4] == b"\x7fELF"}


def _distributions(names: set[str]) -> set[str]:
    """name-version of every distribution installed in a package (python/ in a layer)."""
    return {part.removesuffix(".dist-info") for n in names for part in n.split("/")[:2]
            if part.endswith(".dist-info")}


def test_a_deploy_runs_on_arm64_with_the_same_packages_built_for_it(assembly: Assembly, imported: Assembly) -> None:
    # A deploy's default (the imported synth) is Graviton; the topology mode runs the x86_64 build
    # of the same packages here. Same distributions at the same versions, every native library
    # built for the function's architecture.
    template = imported.template("prod")
    functions = resources(template, "AWS::Serverless::Function")
    assert {json.dumps(f["Properties"]["Architectures"]) for f in functions.values()} == {'["arm64"]'}
    layers = [r["Properties"] for r in resources(template, "AWS::Lambda::LayerVersion").values()
              if "kubernetes" in r["Properties"].get("Description", "")]
    assert [layer["CompatibleArchitectures"] for layer in layers] == [["arm64"]]
    assert {json.dumps(f["Properties"]["Architectures"])
            for f in resources(assembly.template("prod"), "AWS::Serverless::Function").values()} == {'["x86_64"]'}
    builds = {}
    for architecture, zip_path, layer in (
            ("arm64", _app_zip(imported, "prod"), Path(packaging.kubernetes_layer("arm64"))),
            ("x86_64", _app_zip(assembly, "prod"), Path(packaging.kubernetes_layer("x86_64")))):
        with zipfile.ZipFile(zip_path) as z:
            app_files = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
        layer_files = {str(p.relative_to(layer)): p.read_bytes() for p in layer.rglob("*") if p.is_file()}
        natives = {**_shared_objects(app_files), **_shared_objects(layer_files)}
        assert natives and set(natives.values()) == {ELF_MACHINE[architecture]}, architecture
        builds[architecture] = (_distributions(set(app_files)), _distributions(set(layer_files)))
    assert builds["arm64"] == builds["x86_64"]
