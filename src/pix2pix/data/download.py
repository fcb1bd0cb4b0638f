"""``pix2pix download NAME --to DIR``: the standard pix2pix / CycleGAN datasets, on request only.

Nothing in pix2pix downloads by itself; this command is the one place that
fetches data. It shows a progress bar, resumes an interrupted transfer (HTTP
Range) and retries a dropped connection, checks the archive (sha256 when one
is known or given with --sha256, and the archive's own CRCs while extracting),
and extracts into the layout ``train`` expects (pix2pix archives: aligned
``NAME/{train,val,test}``; CycleGAN archives: ``NAME/{trainA,trainB,testA,testB}``)
through a temporary folder, so a failure never leaves half a dataset behind.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.client
import lzma
import os
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..errors import DataError, shown

BASE_URL_ENV = "PIX2PIX_DATASETS_URL"
DEFAULT_BASE_URL = "http://efrosgans.eecs.berkeley.edu"


# Where the papers' authors serve each kind (the folders of their download server).
SERVER_FOLDERS = {"aligned": "pix2pix", "unpaired": "cyclegan"}


@dataclass(frozen=True)
class RemoteDataset:
    name: str
    kind: str  # aligned (A|B files, a tar.gz) or unpaired (trainA/trainB..., a zip)
    description: str
    sha256: str | None = None  # pinned when known; otherwise pass --sha256 to check

    @property
    def filename(self) -> str:
        return f"{self.name}.tar.gz" if self.kind == "aligned" else f"{self.name}.zip"

    def url(self, base: str | None = None) -> str:
        base = (base or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/{SERVER_FOLDERS[self.kind]}/datasets/{self.filename}"


# The datasets the two papers' code distributes. Cityscapes is not offered: its
# licence requires registering at cityscapes-dataset.com (convert it yourself to
# the aligned layout). Checksums are not pinned: they could not be computed
# where this list was written; pass --sha256 to verify a download.
DATASETS = {d.name: d for d in (
    RemoteDataset("facades", "aligned", "400 facade label maps <-> photos (CMP Facades), 256x256 aligned"),
    RemoteDataset("maps", "aligned", "1096 aerial photos <-> Google maps, 600x600 aligned"),
    RemoteDataset("edges2shoes", "aligned", "50k shoe edges <-> photos, 256x256 aligned (2 GB)"),
    RemoteDataset("edges2handbags", "aligned", "137k handbag edges <-> photos, 256x256 aligned (8 GB)"),
    RemoteDataset("night2day", "aligned", "20k night <-> day webcam pairs, 256x256 aligned"),
    RemoteDataset("horse2zebra", "unpaired", "unpaired horses and zebras (ImageNet), 256x256"),
    RemoteDataset("apple2orange", "unpaired", "unpaired apples and oranges (ImageNet), 256x256"),
    RemoteDataset("summer2winter_yosemite", "unpaired", "unpaired Yosemite summer and winter photos (Flickr)"),
    RemoteDataset("monet2photo", "unpaired", "unpaired Monet paintings and landscape photos"),
    RemoteDataset("vangogh2photo", "unpaired", "unpaired Van Gogh paintings and landscape photos"),
    RemoteDataset("iphone2dslr_flower", "unpaired", "unpaired iPhone and DSLR flower photos"),
)}


def dataset_list() -> list[str]:
    return [f"{d.name:<24} {d.kind:<9} {d.description}" for d in DATASETS.values()]


def _resolve(name: str) -> RemoteDataset:
    if name not in DATASETS:
        raise DataError(f"unknown dataset '{name}' (valid: {', '.join(DATASETS)}; 'pix2pix download --list' describes them)")
    return DATASETS[name]


def fetch(url: str, part: Path, retries: int = 3, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` into ``part``, continuing from its current size (Range) after an interruption."""
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
                if have and status != 206:  # the server ignored Range: start over
                    have = 0
                length = response.headers.get("Content-Length")
                total = have + int(length) if length and length.isdigit() else None
                with open(part, "ab" if have else "wb") as fh, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=part.name.removesuffix(".part"), disable=not progress, file=sys.stderr, leave=False,
                ) as bar:
                    while True:
                        chunk = response.read(1 << 16)
                        if not chunk:
                            break
                        fh.write(chunk)
                        bar.update(len(chunk))
                if total is not None and part.stat().st_size < total:
                    raise ConnectionError(f"connection closed after {part.stat().st_size} of {total} bytes")
                return part
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to fetch: the part file is complete
                return part
            raise DataError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError) as exc:
            attempt += 1
            partial = part.exists() and part.stat().st_size > 0
            if attempt > retries or not partial and isinstance(exc, urllib.error.URLError):
                reason = getattr(exc, "reason", exc)
                raise DataError(
                    f"cannot download {url} ({reason}); check the network, or fetch the file elsewhere and run "
                    "'pix2pix download NAME --to DIR --from FILE'"
                ) from None
            time.sleep(min(2.0, 0.2 * attempt))  # then continue where it stopped


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_members(names: list[str], archive: Path) -> None:
    for name in names:
        target = Path(name)
        if target.is_absolute() or ".." in target.parts:
            raise DataError(f"{shown(archive)}: refuses to extract '{name}' (outside the target folder)")


def extract(archive: Path, into: Path) -> None:
    """Extract a .tar.gz / .zip, checking paths and the archive's CRCs (a damaged archive raises DataError)."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                _safe_members(z.namelist(), archive)
                bad = z.testzip()
                if bad is not None:
                    raise DataError(f"{shown(archive)}: damaged archive (CRC error in {bad})")
                z.extractall(into)
        else:
            _verify_compression(archive)
            with tarfile.open(archive, "r:*") as t:
                members = t.getmembers()
                _safe_members([m.name for m in members], archive)
                links = [m.name for m in members if m.issym() or m.islnk()]
                if links:
                    raise DataError(f"{shown(archive)}: refuses to extract links ({links[0]})")
                t.extractall(into, members=members)
    except DataError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{shown(archive)}: damaged or unreadable archive ({reason}); nothing extracted") from None


def _verify_compression(archive: Path) -> None:
    """Read a gzip/bz2/xz stream to its end, so its CRC is checked (tarfile stops at the last member)."""
    with open(archive, "rb") as fh:
        magic = fh.read(6)
    opener = {b"\x1f\x8b": gzip.open, b"BZ": bz2.open}.get(magic[:2]) or (lzma.open if magic == b"\xfd7zXZ\x00" else None)
    if opener is None:
        return
    with opener(archive, "rb") as stream:
        while stream.read(1 << 20):
            pass


def _dataset_root(extracted: Path) -> Path:
    """The folder holding the splits: the archive's top folder when it has one."""
    entries = [p for p in extracted.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return extracted


def download(name: str, to: str | Path, *, sha256: str | None = None, source: str | Path | None = None,
             progress: bool = True, base_url: str | None = None) -> Path:
    """Fetch (or take ``source``), check and extract dataset ``name`` into ``to/name``; returns that folder."""
    dataset = _resolve(name)
    to = Path(to)
    target = to / dataset.name
    if target.exists() and any(target.iterdir()):
        raise DataError(f"{shown(target)} already exists; remove it or choose another --to")
    to.mkdir(parents=True, exist_ok=True)
    expected = (sha256 or dataset.sha256 or "").lower() or None
    if source is not None:
        archive = Path(source)
        if not archive.is_file():
            raise DataError(f"--from {shown(archive)}: file not found")
    else:
        downloads = to / ".downloads"
        downloads.mkdir(exist_ok=True)
        archive = fetch(dataset.url(base_url), downloads / (dataset.filename + ".part"), progress=progress)
    actual = sha256_of(archive)
    if expected and actual != expected:
        if source is None:
            archive.unlink(missing_ok=True)  # a bad download: the next try starts clean
        raise DataError(f"{dataset.filename}: checksum mismatch (sha256 {actual}, expected {expected}); nothing extracted")
    staging = to / f".extract-{dataset.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        extract(archive, staging)
        root = _dataset_root(staging)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(root, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if source is None:
            archive.unlink(missing_ok=True)  # damaged: the next try downloads again
        raise
    shutil.rmtree(staging, ignore_errors=True)
    if source is None:
        archive.unlink(missing_ok=True)
        try:
            archive.parent.rmdir()
        except OSError:
            pass
    print(f"sha256 {actual}  {dataset.filename}", file=sys.stderr)
    return target
