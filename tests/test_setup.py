"""``scripts/setup_system.sh``: what the product needs from the system, found and named exactly.

On this machine its ``--check`` must agree with an independent look from Python; on a simulated empty machine
(``SETUP_SYSTEM_ROOT`` pointing at an empty folder, an empty ``PATH``) it must name every Debian package, and a
user who is not root gets one line saying what to install. The installing path (root, Debian) is what
``make setup`` runs in CI on a fresh machine.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "setup_system.sh"
ALL_PACKAGES = "postgresql default-jre-headless libpostgresql-jdbc-java chromium chromium-driver"


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    version = re.search(r'version "([^"]+)"', out).group(1)
    parts = version.split(".")
    return int(parts[1] if parts[0] == "1" else parts[0])


def missing_here() -> list[str]:
    """What this machine lacks, looked at from Python (not by the script under test)."""
    missing = []
    if not (shutil.which("pg_ctl") or glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")):
        missing.append("postgresql")
    java_home = os.environ.get("JAVA_HOME")
    home_java = f"{java_home}/bin/java" if java_home else ""
    java = home_java if home_java and os.access(home_java, os.X_OK) else shutil.which("java")
    if not java or java_major(java) < 17:
        missing.append("default-jre-headless")
    jar = os.environ.get("MCQ_JDBC_JAR")
    if not ((jar and os.path.isfile(jar)) or os.path.isfile("/usr/share/java/postgresql.jar")):
        missing.append("libpostgresql-jdbc-java")
    missing += [pkg for cmd, pkg in (("chromium", "chromium"), ("chromedriver", "chromium-driver"))
                if not shutil.which(cmd)]
    return missing


def run(*args: str, env: dict[str, str] | None = None, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the script; ``as_nobody`` runs it as the ``nobody`` user when the tests run as root (the script
    comes on stdin: nobody may not be able to read this checkout)."""
    if as_nobody and os.geteuid() == 0:
        argv = ["runuser", "-u", "nobody", "--", "env", "-i", *(f"{k}={v}" for k, v in (env or {}).items()),
                "/bin/bash", "-s", "--", *args]
        return subprocess.run(argv, input=SCRIPT.read_text(), capture_output=True, text=True, timeout=120, cwd="/")
    return subprocess.run(["/bin/bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd="/")


@pytest.fixture
def empty_machine() -> Iterator[dict[str, str]]:
    """A Debian machine with nothing installed: an empty root (but /etc/debian_version) and an empty PATH.

    Not under pytest's tmp_path, whose parents only root may enter: ``nobody`` must see this one."""
    base = Path(tempfile.mkdtemp(prefix="mcq-setup-"))
    base.chmod(0o755)
    (base / "root" / "etc").mkdir(parents=True)
    (base / "root" / "etc" / "debian_version").write_text("12.0\n")
    (base / "bin").mkdir()
    yield {"PATH": str(base / "bin"), "SETUP_SYSTEM_ROOT": str(base / "root")}
    shutil.rmtree(base, ignore_errors=True)


def test_check_on_this_machine_reports_exactly_what_is_missing():
    expected = missing_here()
    t0 = time.perf_counter()
    result = run("--check")
    seconds = time.perf_counter() - t0
    if expected:
        assert (result.returncode, result.stdout) == (1, f"setup_system.sh: missing: {' '.join(expected)}\n")
    else:
        assert (result.returncode, result.stdout) == (0, "setup_system.sh: nothing missing "
                                                         "(postgres, java, jdbc, browser)\n")
    assert result.stderr == ""
    assert seconds < 10, f"a check took {seconds:.1f}s"


def test_setup_when_everything_is_there_installs_nothing_and_is_quick():
    present = [c for c, pkgs in (("postgres", ["postgresql"]), ("java", ["default-jre-headless"]),
                                 ("jdbc", ["libpostgresql-jdbc-java"]), ("browser", ["chromium", "chromium-driver"]))
               if not set(pkgs) & set(missing_here())]
    if not present:
        pytest.skip("nothing of the product's system packages is installed here")
    t0 = time.perf_counter()
    result = run(*present)  # not --check: as root on Debian this would install anything missing
    seconds = time.perf_counter() - t0
    assert (result.returncode, result.stdout, result.stderr) == \
        (0, f"setup_system.sh: nothing missing ({', '.join(present)})\n", "")
    assert seconds < 10, f"an idle set-up took {seconds:.1f}s"


def test_a_user_who_is_not_root_gets_one_line_naming_every_package(empty_machine):
    result = run(env=empty_machine, as_nobody=True)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"setup_system.sh: missing {ALL_PACKAGES}: as root run 'apt-get update && apt-get install -y "
        f"--no-install-recommends {ALL_PACKAGES}' (or run make setup as root)\n")


@pytest.mark.parametrize(("args", "expected"), [
    ((), ALL_PACKAGES),
    (("postgres",), "postgresql"),
    (("java", "jdbc"), "default-jre-headless libpostgresql-jdbc-java"),
    (("browser",), "chromium chromium-driver"),
])
def test_check_on_an_empty_machine_names_the_packages_of_the_components_asked(empty_machine, args, expected):
    result = run("--check", *args, env=empty_machine)
    assert (result.returncode, result.stdout, result.stderr) == (1, f"setup_system.sh: missing: {expected}\n", "")


def test_the_server_binaries_and_the_jar_are_found_where_debian_puts_them(empty_machine, tmp_path):
    root = Path(empty_machine["SETUP_SYSTEM_ROOT"])
    (root / "usr/lib/postgresql/16/bin").mkdir(parents=True)
    (root / "usr/lib/postgresql/16/bin/pg_ctl").write_text("")
    (root / "usr/share/java").mkdir(parents=True)
    (root / "usr/share/java/postgresql.jar").write_text("")
    result = run("--check", env=empty_machine)
    assert (result.returncode, result.stdout) == (1, "setup_system.sh: missing: default-jre-headless chromium "
                                                     "chromium-driver\n")
    # MCQ_JDBC_JAR naming an existing file counts as the driver; a missing file does not.
    (root / "usr/share/java/postgresql.jar").unlink()
    jar = tmp_path / "pg.jar"
    jar.write_text("")
    assert run("--check", "jdbc", env={**empty_machine, "MCQ_JDBC_JAR": str(jar)}).stdout \
        == "setup_system.sh: nothing missing (jdbc)\n"
    assert run("--check", "jdbc", env={**empty_machine, "MCQ_JDBC_JAR": str(tmp_path / "no.jar")}).stdout \
        == "setup_system.sh: missing: libpostgresql-jdbc-java\n"


def test_outside_debian_it_names_what_to_install_in_one_line(empty_machine):
    Path(empty_machine["SETUP_SYSTEM_ROOT"], "etc", "debian_version").unlink()
    result = run("postgres", "jdbc", "browser", env=empty_machine)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "setup_system.sh: missing PostgreSQL server (pg_ctl), PostgreSQL JDBC driver (/usr/share/java/postgresql.jar"
        " or MCQ_JDBC_JAR), Chromium (chromium), chromedriver: install them with your system's package manager\n")


def test_a_bad_argument_is_one_line_and_exit_2():
    result = run("--install-everything")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("setup_system.sh: unknown argument '--install-everything' "
                             "(expected --check, postgres, java, jdbc or browser)\n")


def test_ci_runs_exactly_the_readme_commands_and_make_setup_runs_the_script():
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert commands == ["make setup", "make lint", "make test"]
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make setup" in readme
    planned = subprocess.run(["make", "-n", "setup"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    assert "scripts/setup_system.sh" in planned.stdout.splitlines()
    tested = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    steps = tested.stdout.splitlines()
    assert steps.index("scripts/setup_system.sh") < steps.index(".venv/bin/python -m pytest")
