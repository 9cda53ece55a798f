"""bench/http.py's figure 7c and its baselines: after the uncached run is paced at half its
maximum, the bare ping is paced at that same rate and at half its own maximum, and the table
shows each as p99/p50. A real naive app served by bench.serve, loaded by wrk."""

from __future__ import annotations

from pathlib import Path

from bench import loadgen
from bench.http import NAIVE_APP, HttpBench, HttpConfig, baseline_rows, run_load
from bench.procs import Cluster
from tests.support.wrk_support import require_wrk


def test_the_ping_is_paced_as_7c_is_and_at_half_its_own_maximum(tmp_path: Path) -> None:
    require_wrk()
    cfg = HttpConfig(tmp_path, workers=1, conns=4, duration=1.0, warmup=0.2, log=lambda _: None)
    bench = HttpBench(cfg)
    naive = Cluster("naive", NAIVE_APP, workers=1, env=None, workdir=tmp_path, ready_path="/ping")
    with naive as c:
        c.start()

        def stand_in(_: int) -> loadgen.Job:
            # The service's place, held to a fixed low pace so that half of it and half of the
            # ping's maximum (thousands a second) cannot be mistaken for each other.
            job = bench.job(c.port, "/ping", conns=2)
            job.rate = 200.0
            return job

        runs = [("ping", c, lambda r: bench.job(c.port, "/ping")), ("uncached", c, stand_in)]
        for name, cluster, make in runs:
            bench._record(name, run_load(cluster, make(0)))
        bench._half_load(runs)
    loads = bench.loads
    assert loads["ping"].rps > 1_000 and loads["uncached"].rps < 300
    for name, full in (("uncached_half", "uncached"), ("ping_half_pace", "uncached"),
                       ("ping_half", "ping")):  # fmt: skip
        assert loads[name].ok and bench.errors[name] == 0
        asked = loads[full].rps / 2
        assert 0.6 * asked <= loads[name].rps <= 1.15 * asked, name  # the pace held
    rows = {r.name: r for r in baseline_rows(bench)}
    paced = rows["baseline: naive GET /ping at 7c's pace, p99/p50"]
    own = rows["baseline: naive GET /ping at half its maximum, p99/p50"]
    assert paced.info and own.info
    assert paced.ratio == loads["ping_half_pace"].p99 / loads["ping_half_pace"].p50
    assert own.ratio == loads["ping_half"].p99 / loads["ping_half"].p50
