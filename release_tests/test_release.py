"""The release path: `python -m build` from a clean clone, then the wheel in a fresh venv without Node.

Run on its own (it is slow, and it is not in the default pytest paths):

    python -m pytest -v release_tests

One test per check, in order; a failed fixture (the build, the install, the server) fails every
check that needs it. What it does:

1. `git clone` of this checkout's HEAD into a temporary directory (uncommitted files never ship),
   then `python -m build` there, with build isolation, with the checkout's venv taken off PATH
   (Node stays on it: the labextension is built with `jlpm build:prod`). That builds the sdist,
   then the wheel from the sdist.
2. The sdist's sources alone rebuild the labextension: the sdist unpacked, its prebuilt
   labextension deleted, a wheel built from it.
3. A fresh venv; PATH is that venv's bin plus a directory holding only `sh`, so neither `node`
   nor `npm` can be found. The wheel and JupyterLab are installed from the package index there.
4. `jupyter labextension list` and `jupyter server extension list` there; a JupyterLab started
   there on a free port with a token and no upstream configured (so the bundled simulator plays
   the model); its pages, the labextension's files, and one batch of two responses streamed
   through `fanout/batch` by a client run with that venv's Python; then a clean shutdown.

Jupyter's user-level directories point into the temporary directory, so nothing installed for
the developer (a `jupyter labextension develop` link, a user config) can make a check pass.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = Path(
    subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=HERE, capture_output=True,
                   text=True, check=True).stdout.strip()
)
VERSION = json.loads((REPO / "package.json").read_text())["version"]
LABEXT = "share/jupyter/labextensions/jupyterlab-fanout"
DATA = f"jupyterlab_fanout-{VERSION}.data/data"
JUPYTERLAB_SPEC = "jupyterlab>=4.6.0,<4.7"
#: Files the sdist must hold so that the labextension can be rebuilt from it.
SDIST_REBUILD_INPUTS = [
    "package.json", "yarn.lock", ".yarnrc.yml", "tsconfig.json", "pyproject.toml", "install.json",
    "src/index.ts", "schema/plugin.json", "style/index.css", "style/index.js",
    "jupyter-config/server-config/jupyterlab_fanout.json", "LICENSE", "README.md",
]
NO_NODE_PROGRAMS = ["node", "nodejs", "npm", "npx", "yarn", "corepack"]


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr)


def _run(args: list, *, env: dict | None = None, cwd: Path | None = None, log: Path | None = None,
         timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run a command; its output goes to `log` (if given) and, on failure, into the assertion."""
    start = time.monotonic()
    result = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    output = result.stdout + result.stderr
    if log is not None:
        log.write_text(output)
    _log(f"{Path(str(args[0])).name} {' '.join(str(a) for a in args[1:4])} ...: "
         f"{time.monotonic() - start:.0f} s")
    assert result.returncode == 0, (
        f"{args} exited with {result.returncode}; last output:\n" + "\n".join(output.splitlines()[-60:])
    )
    return result


def _build_env() -> dict:
    """The environment for `python -m build`: this venv's bin off PATH (so the build can use only
    what its isolated environment installs, plus Node and the system), no venv variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    prefix = Path(sys.prefix).resolve()
    kept = [p for p in env.get("PATH", "").split(os.pathsep)
            if p and not Path(p).resolve().is_relative_to(prefix)]
    env["PATH"] = os.pathsep.join(kept)
    return env


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


# --------------------------------------------------------------------------------------------
# Fixtures: the build, the fresh venv, the server
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("release")


@pytest.fixture(scope="module")
def clone(work) -> Path:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.strip()
    _log(f"building commit {head[:12]}" + (" (uncommitted changes are NOT built)" if dirty else ""))
    target = work / "clone"
    _run(["git", "clone", "-q", "--no-hardlinks", str(REPO), target])
    _run(["git", "-C", target, "checkout", "-q", "--detach", head])
    return target


@pytest.fixture(scope="module")
def dist(clone, work) -> Path:
    out = work / "dist"
    _run([sys.executable, "-m", "build", "--outdir", out, clone], env=_build_env(), cwd=clone,
         log=work / "build.log")
    return out


@pytest.fixture(scope="module")
def sdist(dist) -> Path:
    found = sorted(dist.glob("*.tar.gz"))
    assert len(found) == 1, f"expected one sdist in {dist}: {sorted(p.name for p in dist.iterdir())}"
    return found[0]


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    found = sorted(dist.glob("*.whl"))
    assert len(found) == 1, f"expected one wheel in {dist}: {sorted(p.name for p in dist.iterdir())}"
    return found[0]


@pytest.fixture(scope="module")
def no_node_bin(work) -> Path:
    """A directory holding only `sh`: with the venv's bin it is the whole PATH of the fresh venv."""
    path = work / "no-node-bin"
    path.mkdir()
    (path / "sh").symlink_to(shutil.which("sh") or "/bin/sh")
    return path


@pytest.fixture(scope="module")
def venv(work, wheel, no_node_bin) -> dict:
    """A fresh venv with the wheel and JupyterLab installed; returns its paths and environment."""
    root = work / "venv"
    base_python = getattr(sys, "_base_executable", None) or shutil.which("python3")
    _run([base_python, "-m", "venv", root], cwd=work)
    home = work / "home"
    env = {
        "PATH": f"{root / 'bin'}{os.pathsep}{no_node_bin}",
        "HOME": str(home),
        "VIRTUAL_ENV": str(root),
        "PYTHONNOUSERSITE": "1",
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "LANG": "C.UTF-8",
    }
    # pip's own settings (index, certificates, cache) stay; the cache is the user's, as in CI.
    for key, value in os.environ.items():
        if key.startswith("PIP_") or key in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "TMPDIR"):
            env[key] = value
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    home.mkdir()
    # Every command of the fresh venv runs in `home`: run in the checkout, `python -c` would
    # import the checkout's jupyterlab_fanout instead of the installed one.
    _run([root / "bin" / "python", "-m", "pip", "install", "-q", wheel, JUPYTERLAB_SPEC], env=env,
         cwd=home, log=work / "pip.log")
    return {"root": root, "env": env, "cwd": home, "python": root / "bin" / "python",
            "jupyter": root / "bin" / "jupyter"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, timeout: float = 30) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def server(work, venv):
    """JupyterLab from the fresh venv on a free port, with a token and no upstream configured."""
    port, token = _free_port(), uuid.uuid4().hex
    root_dir = work / "notebooks"
    root_dir.mkdir()
    log_path = work / "server.log"
    env = {k: v for k, v in venv["env"].items() if not k.startswith("FANOUT_")}
    args = [venv["jupyter"], "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
            "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    log_file = open(log_path, "w")
    proc = subprocess.Popen([str(a) for a in args], env=env, cwd=root_dir, stdout=log_file,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/"
    info = {"proc": proc, "base_url": base_url, "token": token, "log": log_path, "exited": None}
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"jupyter lab exited with {proc.returncode}:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"jupyter lab did not answer in 90 s:\n{log_path.read_text()}"
            try:
                if _get(base_url + "api/status", token, timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        yield info
    finally:
        if proc.poll() is None:  # a check failed before the shutdown check: do not leave it behind
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log_file.close()


def _strip_colours(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------

def test_build_makes_one_sdist_and_one_wheel(sdist, wheel):
    assert sdist.name == f"jupyterlab_fanout-{VERSION}.tar.gz"
    assert wheel.name == f"jupyterlab_fanout-{VERSION}-py3-none-any.whl"


def test_sdist_holds_the_sources_to_rebuild_the_labextension(sdist):
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = [f for f in SDIST_REBUILD_INPUTS if f not in names]
    assert not missing, f"the sdist lacks {missing}"
    leaked = sorted(n for n in names if n.split("/")[0] in ("node_modules", ".venv", "lib", ".yarn"))
    assert not leaked, f"the sdist holds build or install leftovers: {leaked[:10]}"


def test_wheel_holds_the_labextension_files(wheel):
    names = set(_wheel_names(wheel))
    for required in ("package.json", "install.json", "static/style.js",
                     "schemas/jupyterlab-fanout/plugin.json"):
        assert f"{DATA}/{LABEXT}/{required}" in names, f"the wheel lacks {LABEXT}/{required}"
    with zipfile.ZipFile(wheel) as z:
        package = json.loads(z.read(f"{DATA}/{LABEXT}/package.json"))
        install = json.loads(z.read(f"{DATA}/{LABEXT}/install.json"))
    load = package["jupyterlab"]["_build"]["load"]
    assert re.fullmatch(r"static/remoteEntry\.[0-9a-f]+\.js", load), load
    assert f"{DATA}/{LABEXT}/{load}" in names, f"package.json loads {load}, which the wheel lacks"
    assert package["version"] == VERSION
    assert install["packageName"] == "jupyterlab_fanout"


def test_wheel_labextension_is_a_production_build(wheel):
    static = [n for n in _wheel_names(wheel) if n.startswith(f"{DATA}/{LABEXT}/static/")]
    maps = [n for n in static if n.endswith(".map")]
    assert not maps, f"source maps in the wheel (a development build?): {maps}"
    with zipfile.ZipFile(wheel) as z:
        remote = next(n for n in static if "/remoteEntry." in n)
        text = z.read(remote).decode("utf-8")
    longest = max(len(line) for line in text.splitlines())
    assert longest > 2000, f"{remote} is not minified (longest line {longest} characters)"


def test_wheel_enables_the_server_extension(wheel):
    path = f"{DATA}/etc/jupyter/jupyter_server_config.d/jupyterlab_fanout.json"
    with zipfile.ZipFile(wheel) as z:
        assert path in z.namelist(), f"the wheel lacks {path}"
        config = json.loads(z.read(path))
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyterlab_fanout": True}}}, config


def test_wheel_holds_the_python_packages_and_no_tests(wheel):
    names = set(_wheel_names(wheel))
    for module in ("__init__.py", "_version.py", "extension.py", "handlers.py",
                   "simulator/__init__.py", "simulator/__main__.py", "simulator/app.py"):
        assert f"jupyterlab_fanout/{module}" in names, f"the wheel lacks jupyterlab_fanout/{module}"
    tests = sorted(n for n in names if "/tests/" in n or n.endswith(".key"))
    assert not tests, f"test files in the wheel: {tests[:5]}"


def test_sdist_sources_alone_rebuild_the_labextension(sdist, wheel, work):
    """Unpack the sdist, delete its prebuilt labextension, build a wheel from it: the same files."""
    unpacked = work / "from-sdist"
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    prebuilt = source / "jupyterlab_fanout" / "labextension"
    assert prebuilt.is_dir(), "the sdist carries no prebuilt labextension"
    shutil.rmtree(prebuilt)
    out = work / "dist-from-sdist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", out, source], env=_build_env(),
         cwd=source, log=work / "build-from-sdist.log")
    (rebuilt,) = out.glob("*.whl")

    def labextension(path: Path) -> list[str]:
        # Content hashes are left out of the names: two rspack builds of the same sources in two
        # directories have been seen to number one module differently (same sizes, same chunks).
        return sorted(re.sub(r"\.[0-9a-f]{16}\.js$", ".[hash].js", n) for n in _wheel_names(path)
                      if f"/{LABEXT}/" in n)

    assert labextension(rebuilt) == labextension(wheel)
    with zipfile.ZipFile(rebuilt) as z:
        load = json.loads(z.read(f"{DATA}/{LABEXT}/package.json"))["jupyterlab"]["_build"]["load"]
        assert f"{DATA}/{LABEXT}/{load}" in z.namelist(), load


# --------------------------------------------------------------------------------------------
# The fresh venv without Node
# --------------------------------------------------------------------------------------------

def test_fresh_venv_has_no_node_on_path(venv, no_node_bin):
    found = []
    for program in NO_NODE_PROGRAMS:
        r = subprocess.run([no_node_bin / "sh", "-c", f"command -v {program}"], env=venv["env"],
                           cwd=venv["cwd"], capture_output=True, text=True)
        if r.returncode == 0:
            found.append(r.stdout.strip())
    assert not found, f"reachable in the fresh venv: {found}"
    # jupyterlab installs `jlpm`, a Python entry point that needs Node: it must not run.
    r = subprocess.run([venv["root"] / "bin" / "jlpm", "--version"], env=venv["env"], cwd=venv["cwd"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, f"jlpm ran without Node on PATH: {r.stdout}"
    assert "node" in (r.stdout + r.stderr).lower(), f"jlpm failed, but not for want of Node: {r.stderr}"


def test_wheel_installed_from_the_built_file(venv, wheel):
    r = subprocess.run([venv["python"], "-c",
                        "import jupyterlab_fanout, jupyterlab_fanout.simulator as s;"
                        "print(jupyterlab_fanout.__version__, jupyterlab_fanout.__file__)"],
                       env=venv["env"], cwd=venv["cwd"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    version, location = r.stdout.split()
    assert version == VERSION
    assert Path(location).resolve().is_relative_to(venv["root"].resolve()), location
    assert (venv["root"] / LABEXT / "static" / "style.js").is_file()


def test_labextension_list_shows_it_enabled_ok_in_the_venv(venv):
    r = subprocess.run([venv["jupyter"], "labextension", "list"], env=venv["env"], cwd=venv["cwd"],
                       capture_output=True, text=True, timeout=120)
    listing = _strip_colours(r.stdout + r.stderr)
    assert r.returncode == 0, listing
    # The listing has one section per directory; the extension must be in the venv's.
    sections = re.split(r"^\s*(\S+/labextensions)\s*$", listing, flags=re.M)
    by_dir = dict(zip(sections[1::2], sections[2::2]))
    here = str(venv["root"] / "share/jupyter/labextensions")
    assert here in by_dir, listing
    assert re.search(rf"jupyterlab-fanout v{re.escape(VERSION)} enabled OK", by_dir[here]), listing
    assert "jupyterlab-fanout" not in "".join(v for k, v in by_dir.items() if k != here), listing


def test_server_extension_list_shows_it_enabled_ok(venv):
    r = subprocess.run([venv["jupyter"], "server", "extension", "list"], env=venv["env"], cwd=venv["cwd"],
                       capture_output=True, text=True, timeout=120)
    listing = _strip_colours(r.stdout + r.stderr)
    assert r.returncode == 0, listing
    sections = re.split(r"^\s*Config dir: (\S+)\s*$", listing, flags=re.M)
    by_dir = dict(zip(sections[1::2], sections[2::2]))
    here = str(venv["root"] / "etc/jupyter")
    assert here in by_dir, listing
    assert re.search(r"^\s*jupyterlab_fanout enabled\s*$", by_dir[here], flags=re.M), listing
    assert re.search(rf"^\s*jupyterlab_fanout {re.escape(VERSION)} OK\s*$", by_dir[here], flags=re.M), listing


# --------------------------------------------------------------------------------------------
# JupyterLab from the fresh venv
# --------------------------------------------------------------------------------------------

def test_server_loaded_the_extension_without_errors(server):
    log = server["log"].read_text()
    assert re.search(r"jupyterlab_fanout \| extension was successfully loaded", log), log
    assert "Traceback" not in log, log


def test_lab_page_lists_the_prebuilt_extension(server, wheel):
    status, body = _get(server["base_url"] + "lab", server["token"])
    assert status == 200, body[:500]
    match = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S)
    assert match, "no page config in /lab"
    config = json.loads(match.group(1))
    entries = [e for e in config.get("federated_extensions", []) if e.get("name") == "jupyterlab-fanout"]
    assert len(entries) == 1, config.get("federated_extensions")
    with zipfile.ZipFile(wheel) as z:
        load = json.loads(z.read(f"{DATA}/{LABEXT}/package.json"))["jupyterlab"]["_build"]["load"]
    assert entries[0]["load"] == load, entries[0]
    server["load"] = load


def test_lab_serves_the_labextension_files_from_the_wheel(server, wheel):
    load = server.get("load")
    assert load, "the /lab check did not find the extension's entry point"
    with zipfile.ZipFile(wheel) as z:
        static = {n.rsplit("/", 1)[1]: z.read(n) for n in z.namelist()
                  if n.startswith(f"{DATA}/{LABEXT}/static/")}
    for name in sorted(static):
        status, body = _get(server["base_url"] + f"lab/extensions/jupyterlab-fanout/static/{name}",
                            server["token"])
        assert status == 200, f"static/{name}: HTTP {status}"
        assert body == static[name], f"static/{name} differs from the wheel's"
    status, body = _get(server["base_url"] + "lab/api/settings/jupyterlab-fanout:plugin", server["token"])
    assert status == 200, f"the settings schema: HTTP {status} {body[:300]!r}"


def test_upstreams_default_to_the_bundled_simulator(server):
    status, body = _get(server["base_url"] + "fanout/upstreams", server["token"])
    assert status == 200, body[:500]
    listing = json.loads(body)
    assert listing["default"] == "simulator", listing
    (simulator,) = [u for u in listing["upstreams"] if u["name"] == "simulator"]
    assert simulator.get("default_model"), simulator
    server["model"] = simulator["default_model"]


def test_batch_of_two_streams_through_the_websocket(server, venv):
    model = server.get("model")
    assert model, "the upstream check did not find the simulator's model"
    r = subprocess.run([venv["python"], HERE / "batch_client.py", server["base_url"], server["token"],
                        model, "r1", "r2"], env=venv["env"], cwd=venv["cwd"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(r.stdout)
    assert sorted(results) == ["r1", "r2"], results
    for rid, result in results.items():
        assert result["events"] == ["open", "end"], (rid, result)
        assert result["status"] == 200, (rid, result)
        assert result["text_chunks"] >= 2, (rid, result)
        assert result["done"], (rid, "no [DONE] before end", result)
        assert result["finish_reason"] in ("stop", "length"), (rid, result)


def test_server_shuts_down_cleanly(server):
    proc = server["proc"]
    request = urllib.request.Request(server["base_url"] + "api/shutdown", method="POST", data=b"",
                                     headers={"Authorization": f"token {server['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        pytest.fail("jupyter lab still runs 30 s after /api/shutdown")
    assert code == 0, f"jupyter lab exited with {code}:\n{server['log'].read_text()[-3000:]}"
    log = server["log"].read_text()
    assert "Traceback" not in log, log[-3000:]
