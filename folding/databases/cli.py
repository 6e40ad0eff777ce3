"""``folding databases``: list, download, check and build the databases of a preset.

    folding databases list [--preset P]
    folding databases download --preset P --dir D [--only NAME[,NAME]] [--jobs N] [--force]
    folding databases check --preset P --dir D [--only NAME] [--deep]
    folding databases build-demo --dir D [--source FOLDER]
    folding databases build-demo --dir D --from public [--uniprot-url URL] [--rcsb-url URL]
        [--wwpdb-url URL]
    folding databases fetch-mmcif --hits FILE [FILE...] --dir D [--preset P] [--limit N]

``--manifest FILE`` replaces ``--preset`` with any manifest file (a mirror, a test).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from folding.databases.manifest import PRESETS, Manifest, load_manifest, load_preset
from folding.databases.public import PublicSources
from folding.errors import InputError, MissingResourceError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="databases of each preset with sizes and sources")
    _manifest_arguments(listing, required=False)

    download = sub.add_parser("download", help="download, verify and unpack (resumable)")
    _manifest_arguments(download)
    download.add_argument("--dir", required=True, type=Path, help="database folder")
    download.add_argument("--only", help="comma-separated database names (e.g. params)")
    download.add_argument("--jobs", type=int, default=4, help="parallel downloads (4)")
    download.add_argument("--retries", type=int, default=8, help="retries per file (8)")
    download.add_argument("--timeout", type=float, default=60.0, help="socket timeout, s")
    download.add_argument("--force", action="store_true",
                          help="download even what is already installed")
    download.add_argument("--keep-archives", action="store_true",
                          help="keep .gz/.tar files after unpacking")

    check = sub.add_parser("check", help="list missing or corrupt files and the fix")
    _manifest_arguments(check)
    check.add_argument("--dir", required=True, type=Path, help="database folder")
    check.add_argument("--only", help="comma-separated database names")
    check.add_argument("--deep", action="store_true", help="re-hash every file, however big")

    demo = sub.add_parser("build-demo", help="build the demo databases from the real data "
                          "folder, or (--from public) from UniProt, RCSB and the wwPDB")
    demo.add_argument("--dir", required=True, type=Path, help="database folder to create")
    demo.add_argument("--from", dest="origin", choices=("shared", "public"), default="shared",
                      help="shared: the real data folder (default); public: download from "
                      "the public services (needs the internet)")
    demo.add_argument("--source", type=Path,
                      help="real data folder (default $FOLDING_SHARED_DATA or ../shared/data)")
    defaults = PublicSources()
    demo.add_argument("--uniprot-url", default=defaults.uniprot,
                      help=f"--from public: UniProt REST API ({defaults.uniprot})")
    demo.add_argument("--rcsb-url", default=defaults.rcsb,
                      help=f"--from public: RCSB file server ({defaults.rcsb})")
    demo.add_argument("--wwpdb-url", default=defaults.wwpdb,
                      help=f"--from public: wwPDB file server ({defaults.wwpdb})")
    demo.add_argument("--jobs", type=int, default=4, help="--from public: parallel downloads")
    demo.add_argument("--retries", type=int, default=2, help="--from public: retries per file")
    demo.add_argument("--timeout", type=float, default=60.0,
                      help="--from public: socket timeout, s")

    fetch = sub.add_parser("fetch-mmcif",
                           help="fetch the mmCIF files of template hits (on-demand pdb_mmcif)")
    _manifest_arguments(fetch)
    fetch.add_argument("--hits", nargs="+", required=True, type=Path,
                       help="template hit files (pdb_hits.sto, pdb_hits.hhr, .m8)")
    fetch.add_argument("--dir", required=True, type=Path, help="database folder")
    fetch.add_argument("--limit", type=int, default=100,
                       help="fetch at most this many entries, best hits first (100)")
    fetch.add_argument("--record", type=Path, help="write what was fetched to this JSON file")


def _manifest_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--preset", choices=PRESETS, help="database preset")
    group.add_argument("--manifest", type=Path, help="a manifest file instead of a preset")


def _manifest(args: argparse.Namespace) -> Manifest:
    if getattr(args, "manifest", None):
        return load_manifest(args.manifest)
    return load_preset(args.preset)


def run(args: argparse.Namespace) -> int:
    return {
        "list": _list,
        "download": _download,
        "check": _check,
        "build-demo": _build_demo,
        "fetch-mmcif": _fetch_mmcif,
    }[args.action](args)


def _list(args: argparse.Namespace) -> int:
    manifests = (
        [_manifest(args)] if (args.preset or args.manifest) else [load_preset(p) for p in PRESETS]
    )
    for manifest in manifests:
        print(f"{manifest.preset}: {manifest.description}")
        print(f"  required: about {manifest.disk_gb:.3g} GB on disk, "
              f"{manifest.download_gb:.3g} GB to download")
        for db in manifest.databases:
            size = f"{db.disk_gb:g} GB" if db.disk_gb is not None else "?"
            tag = " (optional)" if db.optional else ""
            print(f"  {db.name:<11} {size:>9}  {db.source:<9} {db.version}{tag}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from folding.databases.download import DownloadOptions, download_databases

    manifest = _manifest(args)
    source = f"--preset {manifest.preset}" if args.preset else f"--manifest {args.manifest}"
    fix = f"folding databases download {source} --dir {args.dir}"
    options = DownloadOptions(
        jobs=args.jobs, retries=args.retries, timeout=args.timeout, force=args.force,
        keep_archives=args.keep_archives,
    )
    results = download_databases(manifest, args.dir, args.only, options, fix_command=fix)
    failed = [r for r in results if r.status == "failed"]
    for result in results:
        detail = f": {result.detail}" if result.detail and result.status != "failed" else ""
        print(f"{result.name}: {result.status}{detail}")
    if failed:
        names = ",".join(r.name for r in failed)
        raise MissingResourceError(
            f"{len(failed)} database(s) failed ({failed[0].detail}); run again to resume: "
            f"{fix} --only {names}"
        )
    return 0


def _check(args: argparse.Namespace) -> int:
    from folding.databases.check import check_tree

    manifest = _manifest(args)
    report = check_tree(manifest, args.dir, args.only, deep=args.deep)
    for name in report.databases:
        problems = [p for p in report.problems if p.database == name]
        if problems:
            for problem in problems:
                print(f"{name}: {problem.line()}")
        elif name in report.unverified:
            print(f"{name}: ok (present; not installed by folding, so not checksum-verified)")
        else:
            print(f"{name}: ok")
    if report.ok:
        return 0
    print(f"{len(report.problems)} problem(s); fix with: {report.fix_command()}", file=sys.stderr)
    return MissingResourceError.exit_code


def _build_demo(args: argparse.Namespace) -> int:
    from folding.databases.demo import build_demo

    if args.origin == "public":
        return _build_demo_public(args)
    build = build_demo(args.dir, args.source)
    for name, rel, count, size in build.entries:
        print(f"{name}: {rel} ({count} entries, {size / 1e6:.1f} MB)")
    print(f"demo databases built in {build.root} from {build.source} "
          f"in {build.seconds:.1f} s")
    return 0


def _build_demo_public(args: argparse.Namespace) -> int:
    import time

    from folding.databases.download import DownloadOptions
    from folding.databases.public import build_public

    if args.source is not None:
        raise InputError("--source names the real data folder; it does not go with --from "
                         "public")
    start = time.perf_counter()
    sources = PublicSources(uniprot=args.uniprot_url, rcsb=args.rcsb_url, wwpdb=args.wwpdb_url)
    options = DownloadOptions(jobs=args.jobs, retries=args.retries, timeout=args.timeout,
                              progress_interval=0)
    entries, urls = build_public(args.dir, sources, options=options)
    for name, rel, count, size in entries:
        print(f"{name}: {rel} ({count} entries, {size / 1e6:.1f} MB)")
    print(f"demo databases built in {args.dir} from {len(urls)} downloads (UniProt, RCSB, "
          f"wwPDB) in {time.perf_counter() - start:.1f} s")
    return 0


def _fetch_mmcif(args: argparse.Namespace) -> int:
    from folding.databases.fetch import fetch_template_mmcifs

    manifest = _manifest(args)
    if args.limit < 1:
        raise InputError(f"--limit {args.limit}: give a positive number of entries")
    result = fetch_template_mmcifs(manifest, args.dir, args.hits, args.limit, args.record)
    print(f"{len(result.fetched)} fetched, {len(result.present)} already present, "
          f"{len(result.failed)} unavailable")
    return 0
