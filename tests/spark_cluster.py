"""A real Spark standalone cluster for the tests: a master and two workers started from the pip package
(``spark-class``, no Docker, no Spark download) on 127.0.0.1, on free ports, with their own work, local and
log folders in a temporary directory; stopped after the session.

Loaded as a pytest plugin by ``conftest.py``: it provides the session fixture ``spark_cluster`` (tests using
it are marked ``spark_cluster``) and, at the end of the session, a line with the cluster's wall time and the
peak memory its processes used (sampled RSS of the master, workers, executors and the drivers submitted to it).
The tests that use it run last (``pytest_collection_modifyitems``), so the cluster is up only while they run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import free_port

WORKERS = 2
WORKER_CORES = 1
WORKER_MEMORY = "1g"
#: The default 1g executor does not fit a 1g worker (stack notes).
EXECUTOR_MEMORY = "512m"
START_TIMEOUT = 240.0




def spark_home() -> str:
    import pyspark

    return os.path.dirname(pyspark.__file__)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class MemorySampler:
    """Samples the summed RSS of the cluster's processes (daemons, executors and their Python workers) and of
    every driver submitted to it (a process whose command line names the master URL, with its children)."""

    daemon_pids: list[int]
    master_url: str
    interval: float = 0.5
    peak_total: int = 0
    peak_cluster: int = 0
    peak_drivers: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> tuple[int, int]:
        tree = _children()

        def family(roots: list[int]) -> set[int]:
            seen: set[int] = set()
            todo = list(roots)
            while todo:
                pid = todo.pop()
                if pid not in seen:
                    seen.add(pid)
                    todo += tree.get(pid, [])
            return seen

        cluster = family(self.daemon_pids)
        driver_roots = [pid for pids in tree.values() for pid in pids
                        if pid not in cluster and self.master_url in _cmdline(pid)]
        drivers = family(driver_roots) - cluster
        return sum(map(_rss_bytes, cluster)), sum(map(_rss_bytes, drivers))

    def _run(self) -> None:
        while not self._stop.is_set():
            cluster, drivers = self.sample()
            self.peak_cluster = max(self.peak_cluster, cluster)
            self.peak_drivers = max(self.peak_drivers, drivers)
            self.peak_total = max(self.peak_total, cluster + drivers)
            self._stop.wait(self.interval)

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, name="spark-cluster-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


@dataclass
class SparkCluster:
    """A running standalone cluster: ``master_url`` for ``--master``, ``status()`` the master's JSON."""

    master_url: str
    web_url: str
    base: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    started_seconds: float = 0.0

    @property
    def driver_env(self) -> dict[str, str]:
        """Environment for a driver submitted to this cluster: it binds to 127.0.0.1 (else executors call it
        back on the host's outside address) and asks for executors that fit a 1g worker."""
        return {"SPARK_LOCAL_IP": "127.0.0.1",
                "MCQ_SPARK_CONF": f"spark.executor.memory={EXECUTOR_MEMORY};spark.executor.cores={WORKER_CORES}"}

    def executors(self) -> dict[str, int]:
        """Executors per running application (its granted cores: one core per executor), from the master."""
        return {app["id"]: app["cores"] // WORKER_CORES for app in self.status().get("activeapps", [])}

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=10) as response:
            return json.load(response)

    def alive_workers(self) -> int:
        return sum(1 for w in self.status().get("workers", []) if w.get("state") == "ALIVE")

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for path in sorted((self.base / "logs").glob("*.log")):
            out.append(f"--- {path.name}")
            out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def stop(self) -> None:
        for proc in self.processes:  # each daemon leads its own process group, its executors included
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers (executors) of the group
            proc.wait()


def start_cluster(base: Path, workers: int = WORKERS, timeout: float = START_TIMEOUT) -> SparkCluster:
    """Start a master and ``workers`` workers (``WORKER_CORES`` cores, ``WORKER_MEMORY`` each) and return once
    every worker is registered with the master."""
    t0 = time.monotonic()
    home = spark_home()
    spark_class = os.path.join(home, "bin", "spark-class")
    (base / "logs").mkdir(parents=True)
    (base / "conf").mkdir()  # an empty conf dir: no spark-defaults.conf of the machine leaks in
    port, web_port = free_port(), free_port()
    cluster = SparkCluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{web_port}", base)
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_CONF_DIR": str(base / "conf"),
           "SPARK_LOG_DIR": str(base / "logs")}

    def launch(name: str, args: list[str], local_dir: Path) -> None:
        local_dir.mkdir(parents=True)
        with open(base / "logs" / f"{name}.log", "wb") as log:
            cluster.processes.append(subprocess.Popen(
                [spark_class, *args], env={**env, "SPARK_LOCAL_DIRS": str(local_dir)}, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(base)))

    try:
        launch("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                          "--webui-port", str(web_port)], base / "master-local")
        for n in range(1, workers + 1):
            work = base / f"worker-{n}"
            launch(f"worker-{n}", ["org.apache.spark.deploy.worker.Worker", cluster.master_url, "--host", "127.0.0.1",
                                   "--port", str(free_port()), "--webui-port", str(free_port()),
                                   "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
                                   "--work-dir", str(work / "work")], work / "local")
        while True:
            dead = [p.args[1].rsplit(".", 1)[1] for p in cluster.processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"spark {', '.join(dead)} exited while starting:\n{cluster.log_tail()}")
            try:
                if cluster.alive_workers() == workers:
                    break
            except OSError:
                pass  # the master's web UI is not up yet
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{workers} workers not registered after {timeout:.0f}s:\n{cluster.log_tail()}")
            time.sleep(0.5)
    except BaseException:
        cluster.stop()
        raise
    cluster.started_seconds = time.monotonic() - t0
    return cluster


@dataclass
class _Measures:
    wall_seconds: float = 0.0
    start_seconds: float = 0.0
    sampler: MemorySampler | None = None


_MEASURES_KEY = pytest.StashKey[_Measures]()


@pytest.fixture(scope="session")
def spark_cluster(request: pytest.FixtureRequest) -> Iterator[SparkCluster]:
    """A master and two workers on 127.0.0.1 for the whole session (started by the first test that asks)."""
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("the Spark cluster needs Java")
    t0 = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="mcq-spark-cluster-"))
    cluster = start_cluster(base)
    sampler = MemorySampler([p.pid for p in cluster.processes], cluster.master_url).start()
    try:
        yield cluster
    finally:
        sampler.stop()
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
        request.config.stash[_MEASURES_KEY] = _Measures(time.monotonic() - t0, cluster.started_seconds, sampler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the cluster run last, one after another (stable order otherwise): the session's cluster
    (≈2 GB, started by the first test that asks) then lives only while they run, not through the rest of the
    suite, and the summary's wall time is theirs. Tests outside test_spark_cluster.py use it too."""
    items.sort(key=lambda item: "spark_cluster" in getattr(item, "fixturenames", ()))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """The cluster's cost, for the notes: wall time from start to stop and the sampled peak memory."""
    measures = config.stash.get(_MEASURES_KEY, None)
    if measures is None or measures.sampler is None:
        return
    s, mib = measures.sampler, 1024 * 1024
    terminalreporter.write_line(
        f"spark cluster: {measures.wall_seconds:.0f}s from start to stop (up in {measures.start_seconds:.0f}s); "
        f"peak RSS {s.peak_total / mib:.0f} MiB (cluster daemons + executors {s.peak_cluster / mib:.0f} MiB, "
        f"drivers {s.peak_drivers / mib:.0f} MiB)")
