#!/usr/bin/env bash
# Set up folding on a fresh Debian/Ubuntu machine: system tools (when missing), then a
# virtual environment in .venv/ at the project root with the package installed editable.
#   scripts/setup.sh          the pipeline (what the demo needs)
#   scripts/setup.sh --test   also the test extra (the alphafold-colabfold oracle, chromium, SLURM)
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    *) echo "setup.sh: unknown option '$arg' (use --test or nothing)" >&2; exit 2 ;;
  esac
done

# Debian packages: command -> package. Installed only where the command is missing.
declare -A apt_for=(
  [jackhmmer]=hmmer [hmmsearch]=hmmer [hmmbuild]=hmmer
  [hhblits]=hhsuite [hhsearch]=hhsuite
  [mmseqs]=mmseqs2 [kalign]=kalign [rsync]=rsync
)
if [ "$with_test" = 1 ]; then
  apt_for+=([chromium]=chromium [chromedriver]=chromium-driver [slurmctld]=slurm-wlm [munged]=munge)
fi
missing=()
for cmd in "${!apt_for[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${apt_for[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: $pkgs"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$with_test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "setup: done (.venv/bin/folding, .venv/bin/snakemake)"
