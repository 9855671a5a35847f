"""Prepare, on this machine, what the offline GPU machine lacks for scripts/gpu_check.sh.

    .venv/bin/python scripts/gpu_check_prepare.py [--out .gpu-check]     (make gpu-check-prepare)

writes into the ignored folder `.gpu-check/`:
  wheels/         for the device's Python 3.12: every package fcnn needs at run time that its image
                  (scripts/gpu_image_packages.txt) does not hold, at the versions installed here
                  (pure-Python wheels; antlr4-python3-runtime, an sdist upstream, built here), and
                  fcnn itself, built from this tree
  mnist/          the four MNIST IDX files, gzipped, from the data cache (fetched first if absent,
                  MD5s verified)
  manifest.json   what is there, with sizes and hashes

    .venv/bin/python scripts/gpu_check_prepare.py --image-venv DIR

makes DIR a fresh virtual environment that imitates the device image for the dry run: this
machine's copies of the image's packages only (fcnn, Hydra and python-mnist are not among them).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_LIST = REPO / "scripts" / "gpu_image_packages.txt"
DEVICE_PYTHON = "3.12"
# What one device call may carry with the working tree (the device tool's limit), and the share of
# it this folder may take.
CARRY_LIMIT = 64 * 2**20
BUDGET = 40 * 2**20
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def normalize(name: str) -> str:
    """A distribution name as package indexes compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def image_packages() -> set[str]:
    """The distributions the device image already holds."""
    names: set[str] = set()
    for line in IMAGE_LIST.read_text().splitlines():
        if line.startswith("#") or line.startswith("python "):
            continue
        names.update(normalize(n) for n in line.split())
    return names


def missing_requirements(root: str = "fcnn-cli") -> dict[str, str]:
    """{name: version installed here} of what `root` needs at run time on the device's Python
    and its image lacks, following requirements (extras left out) through missing packages."""
    from packaging.requirements import Requirement

    image = image_packages()
    environment = {"python_version": DEVICE_PYTHON, "python_full_version": f"{DEVICE_PYTHON}.3",
                   "extra": ""}
    missing: dict[str, str] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(environment):
                continue
            dep = normalize(req.name)
            if dep in image or dep in missing:
                continue
            missing[dep] = metadata.version(dep)
            todo.append(dep)
    return missing


def _pip(*args: str, cwd: Path | None = None) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, cwd=cwd)


def fetch_wheels(wheels: Path, packages: dict[str, str]) -> None:
    """One wheel per package for the device's Python 3.12 on x86-64 Linux; a package with only
    an sdist upstream is built into a wheel here (they are pure Python)."""
    for name, version in sorted(packages.items()):
        spec = f"{name}=={version}"
        platform = [f"--platform={p}" for p in PLATFORMS]
        try:
            _pip("download", "-q", "--no-deps", "--only-binary=:all:", "--implementation=cp",
                 f"--python-version={DEVICE_PYTHON}", *platform, "-d", str(wheels), spec)
        except subprocess.CalledProcessError:
            print(f"gpu-check-prepare: no wheel of {spec} on the index; building it here")
            _pip("wheel", "-q", "--no-deps", "-w", str(wheels), spec)
    for wheel in wheels.glob("*.whl"):
        tags = wheel.stem.split("-")[-3:]
        if tags[0] not in ("py3", f"cp{DEVICE_PYTHON.replace('.', '')}", "py2.py3"):
            raise SystemExit(f"gpu-check-prepare: {wheel.name} is not for Python {DEVICE_PYTHON}")


def build_fcnn(wheels: Path) -> None:
    """fcnn's own wheel, from this tree (its YAML tree inside), built without the network."""
    with tempfile.TemporaryDirectory() as tmp:
        _pip("wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp, str(REPO))
        for wheel in Path(tmp).glob("fcnn_cli-*.whl"):
            shutil.copy2(wheel, wheels / wheel.name)


def gzip_mnist(target: Path) -> dict[str, str]:
    """The four MNIST files, gzipped, from the data cache (fetched if absent, MD5s verified);
    returns the MD5s of the uncompressed files."""
    sys.path.insert(0, str(REPO))
    from fcnn_cli import paths
    from fcnn_cli.data import datasets
    from fcnn_cli.data.mnist_fetch import IDX_FILES, MD5, fetch, md5sum

    source = paths.mnist_dir()
    files = datasets.find_idx_files(source)
    if files is None:
        fetch(source)
        files = datasets.find_idx_files(source)
    assert files is not None
    target.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, path in zip(IDX_FILES, files, strict=True):
        out = target / f"{name}.gz"
        if path.suffix == ".gz":
            shutil.copy2(path, out)
            with gzip.open(path, "rb") as f:
                digests[name] = hashlib.md5(f.read()).hexdigest()
        else:
            digests[name] = md5sum(path)
            with open(path, "rb") as src, gzip.GzipFile(out, "wb", compresslevel=6, mtime=0) as dst:
                shutil.copyfileobj(src, dst, 2**20)
        if digests[name] != MD5[name]:
            raise SystemExit(f"gpu-check-prepare: {path} does not match MNIST's official MD5")
    return digests


def prepare(out: Path) -> dict:
    """Fill `out` (emptied first) and return its manifest."""
    if out.exists():
        shutil.rmtree(out)
    wheels = out / "wheels"
    wheels.mkdir(parents=True)
    packages = missing_requirements()
    fetch_wheels(wheels, packages)
    build_fcnn(wheels)
    mnist = gzip_mnist(out / "mnist")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest = {
        "device_python": DEVICE_PYTHON,
        "packages": packages,
        "wheels": sorted(p.name for p in wheels.glob("*.whl")),
        "mnist_md5": mnist,
        "files": {str(p.relative_to(out)): p.stat().st_size for p in files},
        "bytes": sum(p.stat().st_size for p in files),
    }
    if manifest["bytes"] > BUDGET:
        raise SystemExit(f"gpu-check-prepare: {out} holds {manifest['bytes'] / 2**20:.1f} MiB, over "
                         f"the {BUDGET / 2**20:.0f} MiB this check may carry "
                         f"(a call carries {CARRY_LIMIT / 2**20:.0f} MiB in all)")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def image_venv(target: Path) -> Path:
    """A fresh virtual environment at `target` that sees, of this machine's packages, only
    those the device image holds (through symbolic links, so nothing is copied)."""
    site = Path(sysconfig.get_paths()["purelib"])
    image = image_packages() - {"pip", "setuptools", "wheel"}  # the venv brings its own pip
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(target)],
                   check=True)
    farm = target / "image-site"
    farm.mkdir()
    for dist in metadata.distributions(path=[str(site)]):
        if normalize(dist.metadata["Name"]) not in image:
            continue
        for entry in {Path(str(f)).parts[0] for f in dist.files or []}:
            if entry in ("..", "__pycache__") or entry.endswith(".pth"):
                continue
            link = farm / entry
            if not link.exists() and (site / entry).exists():
                link.symlink_to(site / entry)
    venv_python = target / "bin" / "python"
    venv_site = subprocess.run(
        [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    (Path(venv_site) / "device_image.pth").write_text(f"{farm}\n")
    return venv_python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / ".gpu-check")
    parser.add_argument("--image-venv", type=Path, metavar="DIR",
                        help="make DIR a virtual environment imitating the device image instead")
    args = parser.parse_args()
    if args.image_venv:
        print(image_venv(args.image_venv))
        return
    manifest = prepare(args.out)
    print(f"gpu-check-prepare: {len(manifest['wheels'])} wheels ({', '.join(manifest['wheels'])}) "
          f"and MNIST (4 files, gzipped) in {args.out}: {manifest['bytes'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
