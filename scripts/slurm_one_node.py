#!/usr/bin/env python3
"""A throw-away one-node SLURM cluster in a folder, to try and test the slurm profile.

It runs Debian's ``slurm-wlm`` and ``munge`` as root, everything private to FOLDER: its own
munge key and socket, ``slurm.conf`` and ``gres.conf``, free TCP ports, state, spool, logs
and PID files. Two partitions share the node: ``cpu`` (the default) and ``gpu``, which
stands in for a GPU partition. The node advertises a *fake* GPU as a generic resource
(``gres/gpu``, type ``fake``, no device file), so a job asking for ``--gpus=1`` or
``--gpus=fake:1`` is scheduled exactly as on a real GPU node, although nothing but the
CPU computes. Memory limits are enforced as on a cluster (``jobacct_gather/linux`` with
``OverMemoryKill``: a job over its ``--mem`` is killed). Finished jobs are recorded by
the controller (``jobcomp/filetxt``) in FOLDER/log/jobs.txt and stay visible to
``squeue --states=all`` for an hour (MinJobAge), which is what
snakemake-executor-plugin-slurm polls when there is no accounting database (sacct).

    scripts/slurm_one_node.py start FOLDER    # prints the line to eval: export SLURM_CONF=...
    scripts/slurm_one_node.py jobs FOLDER     # the jobs the controller saw finish
    scripts/slurm_one_node.py stop FOLDER     # stops every daemon it started (PID files)

The node claims more CPUs than the machine has (``SlurmdParameters=config_overrides``) so
that jobs sized for a real cluster (8 search threads) can be scheduled; they then share
the real cores. Standard library only: the tests import it by path.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CPU_PARTITION = "cpu"
GPU_PARTITION = "gpu"
GPU_TYPE = "fake"
JOB_RECORD = "log/jobs.txt"


@dataclass(frozen=True)
class Cluster:
    """A started one-node cluster: where it lives and how to talk to it."""

    root: Path
    node: str
    cpus: int
    memory_mb: int

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) pointed at this cluster.

        Besides ``SLURM_CONF``, FOLDER/bin goes first on ``PATH``: it holds an ``srun`` that
        sets ``SLURM_CONF`` again before running the real one, because the Snakemake job
        step (snakemake-executor-plugin-slurm-jobstep 0.6) removes every ``SLURM_*``
        variable but the job's identity before its ``srun``, and a cluster whose
        slurm.conf is not at /etc/slurm/slurm.conf is then unreachable from inside a job.
        """
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.root / "bin"), env.get("PATH", os.defpath)])
        return env

    def finished_jobs(self) -> list[dict[str, str]]:
        """The controller's record of every finished job (jobcomp/filetxt), one dict each."""
        return read_job_record(self.root / JOB_RECORD)


def missing_programs() -> list[str]:
    """The programs this needs that are not installed (empty when it can run)."""
    wanted = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol")
    return [name for name in wanted if shutil.which(name) is None]


def read_job_record(path: Path) -> list[dict[str, str]]:
    """Parse jobcomp/filetxt lines (``Key=value`` pairs separated by spaces)."""
    if not path.exists():
        return []
    jobs = []
    for line in path.read_text().splitlines():
        fields: dict[str, str] = {}
        key = None
        for token in line.split(" "):
            name, sep, value = token.partition("=")
            if sep and name.isidentifier():
                key = name
                fields[key] = value
            elif key is not None:  # a value with spaces (a job name, a folder)
                fields[key] += " " + token
        if fields:
            jobs.append(fields)
    return jobs


def _free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _slurm_conf(root: Path, node: str, cpus: int, memory_mb: int, gpus: int) -> str:
    ctld_port, slurmd_port = _free_ports(2)
    gres = f" Gres=gpu:{GPU_TYPE}:{gpus}" if gpus else ""
    return f"""\
# One-node test cluster written by scripts/slurm_one_node.py
ClusterName=folding-one-node
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/filetxt
JobCompLoc={root}/{JOB_RECORD}
MinJobAge=3600
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
GresTypes=gpu
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb}{gres} State=UNKNOWN
PartitionName={CPU_PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
PartitionName={GPU_PARTITION} Nodes={node} Default=NO MaxTime=INFINITE State=UP
"""


def _run(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): "
                           f"{(result.stderr or result.stdout).strip()}")


def _wait_for(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def start(root: Path, cpus: int = 8, memory_mb: int | None = None, gpus: int = 1,
          timeout: float = 60) -> Cluster:
    """Start munged, slurmctld and slurmd for a cluster living in ``root``."""
    missing = missing_programs()
    if missing:
        raise RuntimeError(f"not installed: {', '.join(missing)} (Debian: slurm-wlm, munge)")
    if os.geteuid() != 0:
        raise RuntimeError("the one-node cluster runs its daemons as root")
    root = Path(root).resolve()
    for sub in ("munge", "state", "spool", "log", "run", "bin"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "munge", 0o700)
    node = socket.gethostname().split(".")[0]
    if memory_mb is None:
        memory_mb = max(2000, int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                  / 2**20 * 0.75))
    cluster = Cluster(root, node, cpus, memory_mb)
    key = root / "munge" / "munge.key"
    if not key.exists():
        key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    cluster.conf.write_text(_slurm_conf(root, node, cpus, memory_mb, gpus))
    # One line per fake GPU; a gres/gpu without a device file is not counted by slurmd.
    gres_line = f"NodeName={node} Name=gpu Type={GPU_TYPE} File=/dev/null\n"
    (root / "gres.conf").write_text(gres_line * gpus)
    _write_srun_shim(root, cluster.conf)
    env = cluster.env()
    try:
        _run(["munged", "--force", f"--key-file={key}", f"--socket={root}/munge/munge.socket",
              f"--pid-file={root}/run/munged.pid", f"--log-file={root}/log/munged.log",
              f"--seed-file={root}/munge/munged.seed"], env)
        _run(["slurmctld", "-c", "-f", str(cluster.conf)], env)
        _wait_for(lambda: _quiet(["scontrol", "ping"], env).endswith("is UP"),
                  "slurmctld to answer", timeout)
        _run(["slurmd", "-f", str(cluster.conf)], env)
        _wait_for(lambda: _node_state(node, env) in ("IDLE", "MIXED", "ALLOCATED"),
                  f"node {node} to be idle (slurmd log: {root}/log/slurmd.log)", timeout)
    except Exception:
        stop(root)
        raise
    return cluster


def _write_srun_shim(root: Path, conf: Path) -> None:
    real = shutil.which("srun")
    shim = root / "bin" / "srun"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f'#!/bin/sh\nSLURM_CONF={conf}\nexport SLURM_CONF\nexec {real} "$@"\n')
    shim.chmod(0o755)


def _quiet(argv: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def _node_state(node: str, env: dict[str, str]) -> str:
    return _quiet(["sinfo", "-h", "-n", node, "-o", "%T"], env).split("\n")[0].upper()


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def stop(root: Path, timeout: float = 20) -> list[str]:
    """Cancel the cluster's jobs, then stop its daemons by the PIDs in their files.

    Returns the daemons that had to be killed (SIGKILL) because SIGTERM was not enough.
    """
    root = Path(root).resolve()
    conf = root / "slurm.conf"
    if conf.exists() and (root / "run" / "slurmctld.pid").exists():
        subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True,
                       env={**os.environ, "SLURM_CONF": str(conf)}, timeout=30, check=False)
    killed = []
    for name in ("slurmd", "slurmctld", "munged"):
        pid_file = root / "run" / f"{name}.pid"
        pid = _pid(pid_file)
        if pid is None or not _alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            killed.append(name)
        pid_file.unlink(missing_ok=True)
    return killed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "jobs"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--cpus", type=int, default=8, help="CPUs the node claims (8)")
    parser.add_argument("--memory-mb", type=int, help="memory the node claims (75%% of RAM)")
    parser.add_argument("--gpus", type=int, default=1, help="fake GPUs on the node (1)")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            cluster = start(args.folder, args.cpus, args.memory_mb, args.gpus)
            print(f"export SLURM_CONF={cluster.conf} PATH={cluster.root / 'bin'}:$PATH")
        elif args.action == "stop":
            killed = stop(args.folder)
            if killed:
                print(f"killed (SIGTERM was not enough): {', '.join(killed)}", file=sys.stderr)
        else:
            for job in read_job_record(args.folder / JOB_RECORD):
                print(" ".join(f"{k}={job.get(k, '')}" for k in
                               ("JobId", "Name", "JobState", "Partition", "Tres", "ExitCode")))
    except RuntimeError as error:
        print(f"slurm_one_node: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
