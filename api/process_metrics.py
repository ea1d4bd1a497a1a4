"""What the process exports about itself: ``yutang_build_info`` and the ``process_*`` metrics, with several workers too.

prometheus-client's ``process_*`` metrics describe the one process that answers the
scrape. With several uvicorn workers (``PROMETHEUS_MULTIPROC_DIR``) that would be a
different worker at each scrape, so :class:`WorkerProcesses` sums them over every live
worker instead: the workers are the pids in the multiprocess directory's file names
(``counter_4242.db``) that still exist. Memory, CPU and open files are sums (what the
pod's limit sees); ``yutang_workers`` counts them and
``yutang_worker_resident_memory_max_bytes`` shows the largest, for a leak in one. No pid
ever becomes a label.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from engine.version import __version__

_PID = re.compile(r"_(\d+)\.db$")
#: The process_* families that are summed over workers (the others, like start time, mean nothing summed).
SUMMED = ("process_resident_memory_bytes", "process_virtual_memory_bytes", "process_cpu_seconds", "process_open_fds")


class BuildInfo(Collector):
    """``yutang_build_info{version, python} 1``: which build answers, for dashboards and rollouts."""

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "yutang_build_info", "The running yutang build (always 1)", labels=["version", "python"]
        )
        info.add_metric([__version__, platform.python_version()], 1)
        yield info


class WorkerProcesses(Collector):
    """The ``process_*`` metrics summed over the live workers writing to ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pids(self) -> list[int]:
        found = {int(m[1]) for p in self.directory.glob("*.db") if (m := _PID.search(p.name))}
        return sorted(pid for pid in found if Path(f"/proc/{pid}").exists())

    def collect(self) -> Iterator[Metric]:
        pids = self.pids()
        totals: dict[str, tuple[str, str, float]] = {}
        largest = 0.0
        for pid in pids:
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():  # type: ignore[misc]
                if family.name not in SUMMED:
                    continue
                value = sum(sample.value for sample in family.samples)
                kind, doc, total = totals.get(family.name, (family.type, family.documentation, 0.0))
                totals[family.name] = (kind, doc, total + value)
                if family.name == "process_resident_memory_bytes":
                    largest = max(largest, value)
        for name, (kind, doc, total) in totals.items():
            family = Metric(name, f"{doc}, summed over the workers", kind)
            family.add_sample(f"{name}_total" if kind == "counter" else name, {}, total)
            yield family
        yield GaugeMetricFamily("yutang_workers", "Live uvicorn workers of this server", value=len(pids))
        yield GaugeMetricFamily(
            "yutang_worker_resident_memory_max_bytes", "The largest worker's resident memory", value=largest
        )
