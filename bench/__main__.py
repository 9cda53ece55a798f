"""`python -m bench [--quick] [--only NAME[,NAME]] [--markdown] [--json FILE] [--profile]`

Runs the issue-6 figures and prints one table: figure, value, baseline, ratio, target, PASS/MISS.
Every figure is a ratio against a baseline measured in this same run, so the table holds on a
noisy shared machine. Loopback only; bounded in time (full run < 10 min on 2 cores, --quick about
1-2 min). A figure that cannot be measured (missing component, server that fails) is a MISS with
its reason, never a crash.

Sections (for --only): library (1, 5f), scale (4), trustlist (6b), items (I1, I2: a catalogue of
1,000 service items x 2 cities x 20 rules), qr (Q1-Q3: QR licences), uncached (2, 7), cached (3),
batch (5), startup (6a), hostile (H1: /healthz under hostile national uploads), bigbatch (8: one
batch of 10,000 licences, memory per item and /healthz meanwhile), profile (where verify_licence
spends its time); groups: micro (library, scale, trustlist, items, national, qr), http (uncached,
cached, batch, startup, hostile, bigbatch)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import loadgen, micro, project
from bench.report import Row, machine, notes, table, unavailable

SECTIONS = (
    "library",
    "scale",
    "trustlist",
    "items",
    "national",
    "qr",
    "uncached",
    "cached",
    "batch",
    "startup",
    "hostile",
    "bigbatch",
    "profile",
)
GROUPS = {
    "micro": ("library", "scale", "trustlist", "items", "national", "qr"),
    "http": ("uncached", "cached", "batch", "startup", "hostile", "bigbatch"),
    "all": SECTIONS,
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_only(text: str | None) -> set[str]:
    if not text:
        return set(SECTIONS)
    out: set[str] = set()
    for raw in text.split(","):
        name = raw.strip()
        if name in GROUPS:
            out.update(GROUPS[name])
        elif name in SECTIONS:
            out.add(name)
        else:
            raise SystemExit(
                f"unknown section {name!r}; choose from {', '.join((*SECTIONS, *GROUPS))}"
            )
    return out


def guarded(rows: list[Row], fig: str, name: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """Run one section; an unexpected exception becomes a MISS row instead of a crash."""
    try:
        return fn(*args, **kw)
    except project.Unavailable as exc:
        rows.append(unavailable(fig, name, ">=", 0, str(exc)))
    except Exception as exc:
        log(traceback.format_exc())
        rows.append(unavailable(fig, name, ">=", 0, f"crashed: {type(exc).__name__}: {exc}"))
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="short smoke run (about 1-2 minutes)")
    p.add_argument("--only", help="comma-separated sections or groups")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    p.add_argument("--json", type=Path, help="write rows and raw figures as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    p.add_argument("--strict", action="store_true", help="exit 1 if any figure is a MISS")
    a = p.parse_args(argv)
    only = parse_only(a.only)
    if only & set(GROUPS["http"]) and shutil.which("wrk") is None:
        raise SystemExit(f"huren bench: {loadgen.WrkMissing()} (or --only micro)")
    quick = a.quick
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="huren-bench-"))
    info = machine()
    log(
        f"huren bench ({'quick' if quick else 'full'}): {info['date']}, {info['nproc']} cores, "
        f"{info['cpu']}, Python {info['python']}, load {info['loadavg']}; "
        f"load generator: {loadgen.tool_name()}; work dir {work}"
    )

    ms = micro.Settings(log=log)
    if quick:
        ms.repeats, ms.target = 10, 0.03
        ms.scale_jurisdictions = 10
    rows: list[Row] = []
    baseline_rows: list[Row] = []
    extra: dict[str, Any] = {}

    try:
        proj = project.Project(work, log=log, quick=quick)
        # Raw crypto first: figures 1 and 5 are ratios against it.
        log("[crypto] raw verify baselines")
        samples, synthetic = proj.raw_samples()
        raw = micro.raw_rates(samples, ms)
        baseline_rows += micro.raw_rows(raw, synthetic)

        if "library" in only:
            log("[library] verify_licence vs raw verify (figure 1)")
            got = guarded(rows, "1", "library verify_licence", micro.library_rows, proj, raw, ms)
            rows += got or []
            log("[library] the least a batch item can cost (figure 5's floor)")
            got = guarded(rows, "5f", "batch item floor", micro.batch_floor_row, proj, raw, ms)
            if got is not None:
                rows.append(got)
        if "scale" in only:
            log("[scale] big trust store and status list (figure 4)")
            got = guarded(rows, "4", "scale", micro.scale_rows, proj, ms, quick)
            rows += got or []
        if "trustlist" in only:
            log("[trustlist] load and verify a 5,000-service list (figure 6b)")
            got = guarded(rows, "6b", "trust list load", micro.trust_list_row, ms)
            if got is not None:
                rows.append(got)
            log("[trustlist] the shared trust directory's check before a verdict (figure 6c)")
            got = guarded(rows, "6c", "directory check", micro.directory_check_row, samples, ms)
            if got is not None:
                rows.append(got)
        if "items" in only:
            from bench import items

            log("[items] a catalogue of 1,000 service items x 2 cities x 20 rules (I1, I2)")
            got = guarded(rows, "I1", "service items at scale", items.rows, ms)
            rows += got or []
        if "national" in only:
            from bench import national

            log("[national] SM2 seal verification vs raw SM2 verify (figure N1)")
            got = guarded(rows, "N1", "SM2 seal verification", national.rows, quick)
            rows += got or []
            log("[national] hostile OFD packages vs legitimate ones of the same size (N3)")
            got = guarded(rows, "N3", "hostile OFD CPU", national.hostile_rows, quick)
            rows += got or []
        if "qr" in only:
            from bench import qr

            log("[qr] QR licences: verify, photo reading, QR version (figures Q1-Q3)")
            got = guarded(rows, "Q1", "QR licence figures", qr.rows, quick, ms)
            rows += got or []
        if "profile" in only:
            log("[profile] where verify_licence spends its time")
            extra["profile"] = guarded(rows, "P", "profile", proj.profile, 3.0 if quick else 8.0)
        if "hostile" in only:
            from bench import hostile

            log("[hostile] /healthz while hostile national uploads run (figure H1)")
            got = guarded(rows, "H1", "healthz under hostile uploads", hostile.rows, work,
                          quick=quick, log=log)  # fmt: skip
            rows += got or []
        if "bigbatch" in only:
            from bench import bigbatch

            log("[bigbatch] one batch of 10,000 licences: memory and /healthz (figures 8a, 8b)")
            got = guarded(rows, "8", "batch of 10,000", bigbatch.rows, proj, work, log=log)
            rows += got or []
        http_sections = only & set(GROUPS["http"]) - {"hostile", "bigbatch"}
        if http_sections:
            from bench import http_run

            got = guarded(
                rows,
                "2",
                "HTTP figures",
                http_run.run,
                proj,
                http_sections,
                raw_ecdsa_s=raw.get("ES256"),
                work=work,
                quick=quick,
                log=log,
            )
            if got is not None:
                rows += got[0]
                baseline_rows += got[1]
                extra["loads"] = got[2]
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    rows.sort(key=lambda r: _order(r.fig))
    out = table(baseline_rows + rows)
    print()
    print(
        f"huren bench, {info['date']}, {info['nproc']} cores ({info['cpu']}), "
        f"Python {info['python']}, load generator {loadgen.tool_name()}, "
        f"{'quick' if quick else 'full'} run in {elapsed:.0f} s"
    )
    print(out)
    n = notes(baseline_rows + rows)
    if n:
        print("notes:")
        print(n)
    prof = extra.get("profile")
    if prof:
        print()
        print(prof)
    if a.markdown:
        print()
        print(table(baseline_rows + rows, markdown=True))
    if a.json:
        a.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "quick": quick,
                    "seconds": elapsed,
                    "loadgen": loadgen.tool_name(),
                    "rows": [{**r.__dict__, "result": r.result} for r in baseline_rows + rows],
                    "loads": extra.get("loads"),
                    "profile": prof,
                },
                indent=2,
                default=str,
            )
        )
    missed = [r for r in rows if not r.passed]
    print(f"\n{len(rows) - len(missed)} PASS, {len(missed)} MISS")
    return 1 if (a.strict and missed) else 0


def _order(fig: str) -> tuple[int, str]:
    digits = "".join(ch for ch in fig if ch.isdigit())
    return (int(digits) if digits else 99, fig)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
