"""One action on 100 agentless SSH hosts: deskside's run path against ansible-core and pyinfra.

The issue's task: `cat /etc/hostname` on 100 hosts, each a real OpenSSH sshd in its own network
namespace (tests/netns.py, tests/sshd.py), measured cold (connect + authenticate + run) and warm
(connections already open). In the same run, on the same hosts:

* deskside: a real controller (SQLite) with the 100 hosts enrolled as agentless ssh endpoints
  (key auth, host keys pinned); `POST /api/v1/runs?wait_s=60` with `log.tail` of /etc/hostname
  on the bench's tag, timed from the request to the answer, which comes once every run's result
  is stored. Cold: the first run after a controller restart (an empty pool); warm: the median of
  the next --rounds runs.
* raw paramiko on the same 100 hosts, 100 threads: the floor (connect + auth + exec, then exec
  on the open connections), with TCP_NODELAY as deskside sets it.
* ansible-core ad hoc (`ansible all -m command -a 'cat /etc/hostname' -f 100`), OpenSSH with
  ControlPersist: cold, then warm (the master connections persist between the two runs).
* pyinfra CLI (`pyinfra inventory.py exec -- cat /etc/hostname`, --parallel 100): every CLI
  run connects afresh, so its cold and warm are two runs of the same.

The lab is closed (the root namespace cannot reach it), so after building it the bench runs
itself again inside the lab's controller host (`--inside`). Needs root, sshd (openssh-server)
and iproute2; ansible-core and pyinfra live in bench/.ssh-venv (made on demand).

    python bench/ssh_fanout.py [--hosts 100] [--rounds 5] [--json out.json]

A benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from report import render  # noqa: E402

PEER_VENV = ROOT / "bench" / ".ssh-venv"
GOAL_WARM_S = 0.25
GOAL_COLD_S = 1.2
TAG = "bench-ssh"
COMMAND = ["cat", "/etc/hostname"]
RUN = {"action": "log.tail", "params": {"path": "/etc/hostname"}, "tags": [TAG]}


def ensure_peers() -> str | None:
    """bench/.ssh-venv with ansible-core and pyinfra; why not, or None when it is there."""
    if (PEER_VENV / "bin" / "ansible").exists() and (PEER_VENV / "bin" / "pyinfra").exists():
        return None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(PEER_VENV / "bin" / "pip"), "install", "-q", "ansible-core", "pyinfra"]
        subprocess.run(pip, check=True)
    except subprocess.CalledProcessError as exc:
        return f"could not install ansible-core and pyinfra: {exc}"
    return None


# --- inside the lab's controller namespace ------------------------------------------------


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - start
    return elapsed, "" if done.returncode == 0 else (done.stdout + done.stderr)[-2000:]


def paramiko_floor(hosts: list[dict[str, Any]], key_path: Path, user: str) -> dict[str, float]:
    import paramiko

    key = paramiko.Ed25519Key.from_private_key_file(str(key_path))

    def connect(host: dict[str, Any]) -> paramiko.Transport:
        sock = socket.create_connection((host["address"], 22), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(sock)
        transport.start_client(timeout=10)
        transport.auth_publickey(user, key)
        return transport

    def run(transport: paramiko.Transport) -> str:
        channel = transport.open_session()
        channel.exec_command(" ".join(COMMAND))
        out = channel.makefile("r").read()
        channel.recv_exit_status()
        channel.close()
        return str(out)

    with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
        start = time.perf_counter()
        transports = list(pool.map(connect, hosts))
        list(pool.map(run, transports))
        cold = time.perf_counter() - start
        warm = []
        for _ in range(5):
            start = time.perf_counter()
            list(pool.map(run, transports))
            warm.append(time.perf_counter() - start)
    for transport in transports:
        transport.close()
    return {"cold_s": cold, "warm_s": statistics.median(warm)}


def deskside(spec: dict[str, Any], work: Path, rounds: int) -> dict[str, Any]:
    import httpx
    from databases import fresh_database
    from processes import ControllerProcess

    with fresh_database("sqlite", work) as database:
        controller = ControllerProcess(
            work / "controller", database, listen_host=spec["ctl"], inventory_s=86400
        ).start()
        try:
            with controller.client() as client:
                start = time.perf_counter()
                for host in spec["hosts"]:
                    enrolled = client.post(
                        "/endpoints",
                        json={
                            "transport": "ssh",
                            "hostname": host["name"],
                            "address": host["address"],
                            "username": spec["user"],
                            "private_key": spec["private_key"],
                            "host_key": host["host_key"],
                            "tags": [TAG],
                        },
                    )
                    assert enrolled.status_code == 201, enrolled.text
                enrol_s = time.perf_counter() - start
            controller.restart()  # an empty connection pool: the next run is cold
            timings, failures = [], 0
            with httpx.Client(base_url=controller.url + "/api/v1", timeout=120) as client:
                client.headers["Authorization"] = f"Bearer {spec['token']}"
                for _ in range(rounds + 1):
                    start = time.perf_counter()
                    answer = client.post(
                        "/runs",
                        params={"wait_s": 60},
                        json=RUN,
                    )
                    timings.append(time.perf_counter() - start)
                    items = answer.json()["items"]
                    failures += sum(1 for r in items if r["state"] != "succeeded")
                    assert len(items) == len(spec["hosts"]), answer.text[:500]
        finally:
            controller.stop()
    return {
        "enrol_s": enrol_s,
        "cold_s": timings[0],
        "warm_s": statistics.median(timings[1:]),
        "failures": failures,
    }


def ansible(
    hosts: list[dict[str, Any]], key_path: Path, known: Path, work: Path, user: str
) -> dict[str, Any]:
    inventory = work / "inventory.ini"
    inventory.write_text("[lab]\n" + "".join(f"{h['address']}\n" for h in hosts))
    env = {
        **os.environ,
        "ANSIBLE_SSH_ARGS": (
            "-C -o ControlMaster=auto -o ControlPersist=120s "
            f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes"
        ),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp"),
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        # The bench user has no home directory: its remote temp goes to /tmp.
        "ANSIBLE_REMOTE_TMP": "/tmp/ds-bench-ansible",
    }
    argv = [
        str(PEER_VENV / "bin" / "ansible"), "all", "-i", str(inventory), "-u", user,
        "--private-key", str(key_path), "-f", str(len(hosts)), "-m", "command",
        "-a", " ".join(COMMAND),
    ]  # fmt: skip
    cold, cold_error = _timed(argv, env)
    warm, warm_error = _timed(argv, env)
    return {"cold_s": cold, "warm_s": warm, "error": cold_error or warm_error}


def pyinfra(
    hosts: list[dict[str, Any]], key_path: Path, known: Path, work: Path, user: str
) -> dict[str, Any]:
    inventory = work / "inventory.py"
    inventory.write_text(f"hosts = {[h['address'] for h in hosts]!r}\n")
    argv = [
        str(PEER_VENV / "bin" / "pyinfra"), str(inventory), "--ssh-user", user,
        "--ssh-key", str(key_path), "--parallel", str(len(hosts)), "-y",
        "--data", f"ssh_known_hosts_file={known}",
        "--data", "ssh_strict_host_key_checking=yes",
        "exec", "--", *COMMAND,
    ]  # fmt: skip
    first, first_error = _timed(argv)
    second, second_error = _timed(argv)
    return {"cold_s": first, "warm_s": second, "error": first_error or second_error}


def inside(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    work = Path(spec["work"])
    key_path = work / "client"
    known = work / "known_hosts"
    known.write_text("".join(f"{h['address']} {h['host_key']}\n" for h in spec["hosts"]))
    user = spec["user"]
    figures = {
        "paramiko": paramiko_floor(spec["hosts"], key_path, user),
        "deskside": deskside(spec, work / "deskside", spec["rounds"]),
        "ansible": ansible(spec["hosts"], key_path, known, work, user),
        "pyinfra": pyinfra(spec["hosts"], key_path, known, work, user),
    }
    print(json.dumps(figures))


# --- in the root namespace -----------------------------------------------------------------


def table(figures: dict[str, Any], hosts: int) -> str:
    ours, floor = figures["deskside"], figures["paramiko"]
    rows = [["figure", "deskside", "goal", "peer", "ratio"]]

    def row(label: str, value: float, goal: str, peer: float | None, peer_name: str = "") -> None:
        ratio = f"{peer / value:.1f}x" if peer else "-"
        rows.append(
            [label, f"{value:.3f}", goal, f"{peer:.3f} {peer_name}".strip() if peer else "-", ratio]
        )

    warm_met = "met" if ours["warm_s"] <= GOAL_WARM_S else "MISSED"
    cold_met = "met" if ours["cold_s"] <= GOAL_COLD_S else "MISSED"
    row(f"warm: {hosts} hosts (s)", ours["warm_s"], f"<= {GOAL_WARM_S} {warm_met}", None)
    row("  vs ansible-core warm", ours["warm_s"], "", figures["ansible"]["warm_s"], "ansible")
    row("  vs pyinfra CLI", ours["warm_s"], "", figures["pyinfra"]["warm_s"], "pyinfra")
    row("  vs raw paramiko warm (floor)", ours["warm_s"], "", floor["warm_s"], "paramiko")
    row(f"cold: {hosts} hosts (s)", ours["cold_s"], f"<= {GOAL_COLD_S} {cold_met}", None)
    row("  vs ansible-core cold", ours["cold_s"], "", figures["ansible"]["cold_s"], "ansible")
    row("  vs pyinfra CLI", ours["cold_s"], "", figures["pyinfra"]["cold_s"], "pyinfra")
    row("  vs raw paramiko cold (floor)", ours["cold_s"], "", floor["cold_s"], "paramiko")
    rows.append(["runs not succeeded", str(ours["failures"]), "0", "-", "-"])
    rows.append([f"enrolment of {hosts} (s, key given)", f"{ours['enrol_s']:.1f}", "", "-", "-"])
    return render(rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="warm runs (the median is shown)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.inside)
        return 0
    from netns import NetnsLab, netns_available
    from processes import ADMIN_TOKEN
    from sshd import Sshd, ThrowawayUser, keypair, sshd_unavailable

    why = netns_available() or sshd_unavailable() or ensure_peers()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="ds-ssh-bench-"))
    work.chmod(0o755)
    private_key, public_key = keypair(work, "client")
    names = [f"h{n}" for n in range(args.hosts)]
    servers: list[Sshd] = []
    # Not root: a login shell's startup files run for every command (root's ~/.bashrc here
    # runs `pyenv init`, 85 ms a command); the account has /bin/sh, as a deskside one should.
    user = ThrowawayUser(os.urandom(12).hex())
    try:
        with NetnsLab("dsbn") as lab:
            lab.add_hosts(["ctl", *names])
            print(f"starting {args.hosts} sshd in network namespaces...", file=sys.stderr)
            for name in names:
                server = Sshd(
                    address=lab[name].address, port=22, authorized_keys=[public_key], host=lab[name]
                )
                servers.append(server.start())
            spec = {
                "work": str(work),
                "ctl": lab["ctl"].address,
                "token": ADMIN_TOKEN,
                "private_key": private_key,
                "user": user.name,
                "rounds": args.rounds,
                "hosts": [
                    {"name": n, "address": lab[n].address, "host_key": s.host_key}
                    for n, s in zip(names, servers, strict=True)
                ],
            }
            spec_path = work / "spec.json"
            spec_path.write_text(json.dumps(spec))
            print("measuring inside the lab...", file=sys.stderr)
            done = lab["ctl"].run(
                [sys.executable, __file__, "--inside", str(spec_path)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
            figures = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        for server in servers:
            server.close()
        user.remove()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{time.strftime('%Y-%m-%dT%H:%M:%S%z')}  {os.cpu_count()} cores, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    print(
        f"{args.hosts} sshd in network namespaces, one key-authenticated user with /bin/sh; "
        "`cat /etc/hostname` (deskside: log.tail)"
    )
    print(table(figures, args.hosts))
    for peer in ("ansible", "pyinfra"):
        if figures[peer]["error"]:
            print(f"\n{peer} reported an error:\n{figures[peer]['error']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
