#!/usr/bin/env bash
# The system packages the whole product needs, beyond Python 3.11 (`make setup` runs this, then builds .venv):
#
#   postgres  PostgreSQL server binaries (pg_ctl)        Debian: postgresql
#   java      a Java 17+ runtime for Spark 4             Debian: default-jre-headless
#   jdbc      the PostgreSQL JDBC driver for Spark       Debian: libpostgresql-jdbc-java (/usr/share/java/postgresql.jar)
#   browser   Chromium and chromedriver (browser tests)  Debian: chromium chromium-driver
#
# Usage: scripts/setup_system.sh [--check] [postgres|java|jdbc|browser ...]   (no component: all of them)
#
# When everything is there it only looks (no apt-get; well under a second). When something is missing: as
# root on Debian it runs `apt-get update` and `apt-get install` for exactly what is missing; otherwise it
# stops with one line naming what to install (exit 1). `--check` never installs: it prints what is missing
# (exit 1) or that nothing is (exit 0).
#
# Why the probes can be redirected: SETUP_SYSTEM_ROOT (default: empty, i.e. /) prefixes the fixed paths
# it looks at (/usr/lib/postgresql/*/bin, /usr/share/java, /etc/debian_version), and commands are looked up
# on PATH, so tests can show it an empty machine without touching this one. MCQ_JDBC_JAR, when it names an
# existing file, counts as the JDBC driver (the Spark engine uses it first).
set -euo pipefail

NAME=setup_system.sh
ROOT=${SETUP_SYSTEM_ROOT:-}
ALL=(postgres java jdbc browser)

check_only=false
components=()
for arg in "$@"; do
  case "$arg" in
    --check) check_only=true ;;
    postgres|java|jdbc|browser) components+=("$arg") ;;
    -h|--help) sed -n '/^set /q; 2,$ s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "$NAME: unknown argument '$arg' (expected --check, postgres, java, jdbc or browser)" >&2; exit 2 ;;
  esac
done
[ ${#components[@]} -gt 0 ] || components=("${ALL[@]}")

have_glob() {  # true when the glob pattern matches an existing file
  local f
  for f in $1; do [ -e "$f" ] && return 0; done
  return 1
}

java_ok() {  # a java (JAVA_HOME's, else PATH's) whose major version is at least 17
  local java version major
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java=$JAVA_HOME/bin/java
  else java=$(command -v java) || return 1; fi
  version=$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1) || return 1
  major=${version%%.*}
  [ "$major" = 1 ] && { major=${version#1.}; major=${major%%.*}; }  # "1.8.0" is Java 8
  [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 17 ]
}

# For each missing thing: its Debian package and, for other systems, a description.
packages=()
descriptions=()
missing() { packages+=("$1"); descriptions+=("$2"); }

probe() {
  packages=()
  descriptions=()
  local c
  for c in "${components[@]}"; do
    case "$c" in
      postgres)
        command -v pg_ctl >/dev/null 2>&1 || have_glob "$ROOT/usr/lib/postgresql/*/bin/pg_ctl" \
          || missing postgresql "PostgreSQL server (pg_ctl)" ;;
      java)
        java_ok || missing default-jre-headless "Java 17+ runtime (java)" ;;
      jdbc)
        { [ -n "${MCQ_JDBC_JAR:-}" ] && [ -f "$MCQ_JDBC_JAR" ]; } || [ -f "$ROOT/usr/share/java/postgresql.jar" ] \
          || missing libpostgresql-jdbc-java "PostgreSQL JDBC driver (/usr/share/java/postgresql.jar or MCQ_JDBC_JAR)" ;;
      browser)
        command -v chromium >/dev/null 2>&1 || missing chromium "Chromium (chromium)"
        command -v chromedriver >/dev/null 2>&1 || missing chromium-driver "chromedriver" ;;
    esac
  done
}

joined() {  # "a, b, c" (pure bash: the tests run it with an empty PATH)
  local out=$1
  shift
  for item in "$@"; do out+=", $item"; done
  echo "$out"
}

probe
if [ ${#packages[@]} -eq 0 ]; then
  echo "$NAME: nothing missing ($(joined "${components[@]}"))"
  exit 0
fi
if $check_only; then
  echo "$NAME: missing: ${packages[*]}"
  exit 1
fi
if [ ! -f "$ROOT/etc/debian_version" ]; then
  echo "$NAME: missing $(joined "${descriptions[@]}"): install them with your system's package manager" >&2
  exit 1
fi
if [ "${EUID:-$(id -u)}" -ne 0 ]; then
  echo "$NAME: missing ${packages[*]}: as root run 'apt-get update && apt-get install -y --no-install-recommends" \
       "${packages[*]}' (or run make setup as root)" >&2
  exit 1
fi

wanted=("${packages[@]}")
echo "$NAME: installing ${wanted[*]} with apt-get …"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-qq -o DPkg::Lock::Timeout=600)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${wanted[@]}" >/dev/null
hash -r
probe
if [ ${#packages[@]} -gt 0 ]; then
  echo "$NAME: still missing after apt-get install: ${packages[*]}" >&2
  exit 1
fi
echo "$NAME: installed ${wanted[*]}"
