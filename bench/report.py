"""Rows of the benchmark table: figure, value, baseline, ratio, target, PASS/MISS."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Row:
    """One figure. `ratio` is compared with `target` using `op` ('>=' or '<=').

    When `ratio` is None the figure could not be measured: it is a MISS and `note` says why."""

    fig: str  # issue figure number, e.g. "1a"
    name: str
    value: str  # formatted value
    baseline: str  # formatted baseline (with what it is)
    ratio: float | None
    op: str  # ">=" or "<="
    target: float
    target_text: str = ""
    note: str = ""
    raw: dict[str, float] = field(default_factory=dict)

    @property
    def info(self) -> bool:
        """An informational row (a baseline shown for context): no target."""
        return self.op == ""

    @property
    def passed(self) -> bool:
        if self.info:
            return True
        if self.ratio is None or math.isnan(self.ratio):
            return False
        return self.ratio >= self.target if self.op == ">=" else self.ratio <= self.target

    @property
    def result(self) -> str:
        if self.info:
            return "-"
        return "PASS" if self.passed else "MISS"

    @property
    def ratio_text(self) -> str:
        return "-" if self.ratio is None else f"{self.ratio:.2f}"

    @property
    def target_str(self) -> str:
        if self.info:
            return "-"
        return self.target_text or f"{self.op} {self.target:g}"


def unavailable(fig: str, name: str, op: str, target: float, reason: str, **kw: str) -> Row:
    """A figure that cannot be measured yet: MISS with the reason, never a crash."""
    return Row(
        fig,
        name,
        kw.get("value", "n/a"),
        kw.get("baseline", "n/a"),
        None,
        op,
        target,
        kw.get("target_text", ""),
        note=reason,
    )


def fmt_rate(per_s: float) -> str:
    if per_s >= 10_000:
        return f"{per_s / 1000:,.1f}k/s"
    return f"{per_s:,.0f}/s"


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def machine() -> dict[str, str]:
    model = ""
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
                break
    except (OSError, subprocess.SubprocessError):
        pass
    load = ""
    with contextlib.suppress(OSError):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count() or "?"),
        "cpu": model or platform.processor() or "?",
        "python": sys.version.split()[0],
        "loadavg": load,
    }


def table(rows: list[Row], *, markdown: bool = False) -> str:
    head = ["#", "figure", "value", "baseline", "ratio", "target", "result"]
    body = [
        [r.fig, r.name, r.value, r.baseline, r.ratio_text, r.target_str, r.result] for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    out += [line(row) for row in body]
    return "\n".join(out)


def notes(rows: list[Row]) -> str:
    return "\n".join(f"  [{r.fig}] {r.note}" for r in rows if r.note)
