"""`python -m bench.instructions [--base REV] [--requests N]`: CPU instructions per request of
this checkout against another commit, counted by valgrind's callgrind.

A rule such as "every figure within 5 % of the commit before the change" cannot be judged from
throughput on a shared 2-core machine: two wrk runs minutes apart differ by more than 5 %. The
number of instructions a request executes does not depend on the machine's load. For each tree
(this one, and REV checked out in a temporary worktree) the licence route is called as ASGI in
one process (bench/asgi_loop.py): 10 requests, then 10 + N; the difference over N is the cost of
one request, start-up excluded. Both trees run in this environment (the base tree first on
sys.path), so a base whose dependencies differ may refuse to start: then it says so.

Instructions are not time (the kernel's work in system calls, cache misses, branch
mispredictions and the GIL hand-offs of a real server are not in them): this complements the
wrk figures of `python -m bench`, it does not replace them. Needs valgrind (Debian package
valgrind); takes 5-10 minutes."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
LOOP = HERE / "bench" / "asgi_loop.py"
WARM = 10  # requests every run makes, subtracted with the start-up
TOLERANCE = 1.05

_PREPARE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from bench.world import World
try:
    from demo.world import write_demo
except ImportError:  # before the demo world had its own package
    from api.demo import write_demo
world = World()
write_demo(Path(sys.argv[2]), world.demo)
tokens = [world.licence("ES256", n) for n in range(int(sys.argv[4]))]
Path(sys.argv[3]).write_text(json.dumps({"tokens": tokens, "relying": world.relying}))
"""


def _instructions(tree: Path, demo: Path, tokens: Path, mode: str, n: int) -> int:
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(LOOP),
        str(tree),
        str(demo),
        str(tokens),
        mode,
        str(n),
    ]
    # One hash seed for every run: string hashes move dict and type lookups by a few thousand
    # instructions per request from one seed to the next, more than some changes being judged.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        tail = "\n".join(run.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{tree.name} {mode} {n}: exit {run.returncode}: {tail}")
    return int(found.group(1))


def _per_request(tree: Path, work: Path, requests: int) -> dict[str, float]:
    demo, tokens = work / "demo", work / "tokens.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            _PREPARE,
            str(tree),
            str(demo),
            str(tokens),
            str(WARM + requests + 2),
        ],
        check=True,
        cwd=tree,
    )
    out = {}
    for mode in ("cached", "uncached"):
        low = _instructions(tree, demo, tokens, mode, WARM)
        high = _instructions(tree, demo, tokens, mode, WARM + requests)
        out[mode] = (high - low) / requests
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare with")
    parser.add_argument("--requests", type=int, default=500, help="requests counted per run")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("bench.instructions needs valgrind: apt-get install -y valgrind", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="huren-instr-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(base), args.base],
            cwd=HERE,
            check=True,
        )
        try:
            print(f"counting {args.requests} requests per run in {args.base} and this tree...")
            with ThreadPoolExecutor(2) as pool:  # one tree per core
                jobs = {
                    name: pool.submit(_per_request, tree, Path(tmp) / name, args.requests)
                    for name, tree in (("base", base), ("head", HERE))
                }
                counts = {name: job.result() for name, job in jobs.items()}
        finally:
            remove = ["git", "worktree", "remove", "--force", str(base)]
            subprocess.run(remove, cwd=HERE, check=False)
    print(f"{'request':<22}{'base':>12}{'this tree':>12}{'ratio':>8}  within 5 %")
    worst = 0.0
    for mode in ("cached", "uncached"):
        b, h = counts["base"][mode], counts["head"][mode]
        worst = max(worst, h / b)
        verdict = "yes" if h / b <= TOLERANCE else "NO"
        print(f"{'licence, ' + mode:<22}{b:>12,.0f}{h:>12,.0f}{h / b:>8.3f}  {verdict}")
    print(json.dumps({"base": args.base, "counts": counts}))
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
