"""`make run`: the whole platform for one developer, supervised in one foreground process.

Migrates, loads the plans, writes instance/run.env (so `flask` commands run beside it find this
instance), then starts and watches: the WeChat emulator, the API (gunicorn), the clock
(`flask scheduler run`, development cadences) and, when REDIS_URL is set, an RQ worker
(`flask notifications work`; without Redis the clock sends inline). Ctrl-C (SIGINT) or SIGTERM
stops every one of them, each with its children; if one dies, the others are stopped too.

Environment: PORT (8000), EMULATOR_PORT (8001), DATABASE_URL, REDIS_URL, INSTANCE_DIR, WECHAT_KEYS_DIR."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import RUN_ENV_FILE, RUN_ENV_KEYS, DevelopmentConfig, instance_dir  # noqa: E402

BIN = Path(sys.executable).parent
STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: a child gets SIGTERM if the supervisor itself is killed (no orphan even after kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Supervisor:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self, name: str, args: list[str]) -> None:
        # Its own session: the terminal's Ctrl-C reaches the supervisor only, which then stops each
        # child's whole process group (gunicorn's workers included) in order.
        self.children[name] = subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True,
                                               preexec_fn=_die_with_parent)

    def stop(self, *_signal) -> None:
        if self.stopping:
            return
        self.stopping = True
        for child in self.children.values():
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children.values():
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(child, signal.SIGKILL)  # whatever is left of its group (a straggling worker)
            child.wait()

    def watch(self) -> int:
        """Until a signal stops everything (0) or a child dies (its exit code, the rest stopped)."""
        while not self.stopping:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None and not self.stopping:
                    print(f"\n  {name} exited with code {code}: stopping the others", file=sys.stderr, flush=True)
                    self.stop()
                    return code or 1
            time.sleep(0.2)
        return 0


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def write_run_env(folder: Path, env: dict[str, str]) -> Path:
    """This instance's settings for `flask` commands run beside it (config.DevelopmentConfig reads them)."""
    path = folder / RUN_ENV_FILE
    lines = ["# Written by `make run` at startup: the settings of the instance it serves. `flask` commands",
             "# read it when the same variable is not in their environment. Safe to delete."]
    lines += [f"{key}={env[key]}" for key in RUN_ENV_KEYS if env.get(key)]
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_until_up(urls: list[str], supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if supervisor.stopping or any(c.poll() is not None for c in supervisor.children.values()):
            return False
        try:
            urllib.request.urlopen(pending[0], timeout=2).close()
            pending.pop(0)
            continue
        except urllib.error.HTTPError:
            pending.pop(0)  # it answers: up
            continue
        except OSError:
            time.sleep(0.2)
    return not pending


def banner(config: DevelopmentConfig, env: dict[str, str], run_env: Path) -> str:
    from app.jobs.schedule import configured_tasks, describe

    port, emulator_port = env["PORT"], env["EMULATOR_PORT"]
    tasks = describe(configured_tasks(config.as_dict()))
    jobs = ("on an RQ worker (`flask notifications work`, Redis " + config.REDIS_URL + ")") if config.REDIS_URL \
        else "inline in the clock process (no REDIS_URL)"
    database = config.SQLALCHEMY_DATABASE_URI
    return f"""
  一起互助 is running (development).
  API:             http://127.0.0.1:{port}/api/v1/plans
  OpenAPI:         http://127.0.0.1:{port}/api/v1/openapi.json
  WeChat emulator: http://127.0.0.1:{emulator_port}/  (subscribe messages it delivered: /_emulator/subscribe/messages)
  Database:        {database}
  Clock:           {tasks}
  Jobs:            {jobs}
  Settings for `flask` commands beside it: {run_env}

  Try next (in another terminal, from this folder):
    .venv/bin/flask demo seed --members 200      a lived-in platform (or stop and run `make demo`)
    curl http://127.0.0.1:{port}/api/v1/plans
    .venv/bin/flask notifications status         the subscribe-message outbox
    .venv/bin/flask apportion status --plan adult_789
    .venv/bin/flask ledger audit
  Ctrl-C stops all of it.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/run.sh", description="the development platform (make run)")
    parser.add_argument("--demo-members", type=int, default=0, metavar="N",
                        help="seed the demo platform with N members first (make demo); kept if already seeded")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    env["FLASK_APP"] = "wsgi"
    env.setdefault("PORT", "8000")
    env.setdefault("EMULATOR_PORT", "8001")
    env["PYTHONUNBUFFERED"] = "1"
    if env["APP_ENV"] != "development":
        print("make run serves development only (APP_ENV=development); production runs gunicorn, "
              "`flask scheduler run` and `flask notifications work` as separate processes", file=sys.stderr)
        return 2
    folder = instance_dir()
    folder.mkdir(parents=True, exist_ok=True)
    run_env = write_run_env(folder, env)  # before anything reads the settings: a stale one never applies
    os.environ.update({k: env[k] for k in ("PORT", "EMULATOR_PORT")})
    config = DevelopmentConfig()
    flask = str(BIN / "flask")
    steps = [["db", "upgrade"], ["plans", "load"]]
    if args.demo_members:
        steps.append(["demo", "seed", "--members", str(args.demo_members), "--keep-existing"])
    for step in steps:
        subprocess.run([flask, *step], cwd=ROOT, env=env, check=True)

    supervisor = Supervisor(env)
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGTERM, supervisor.stop)
    supervisor.start("emulator", [str(BIN / "python"), "-m", "wechat.emulator", "--host", "127.0.0.1",
                                  "--port", env["EMULATOR_PORT"], "--keys-dir", config.WECHAT_KEYS_DIR])
    # The production settings file (JSON access log with request ids, the sponsor path redacted,
    # limit_request_line 8190 so the app answers over-long URLs in its envelope, metrics).
    supervisor.start("api", [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py",
                             "--bind", f"127.0.0.1:{env['PORT']}", "--workers", "2", "--threads", "4",
                             "--no-control-socket", "wsgi:app"])
    supervisor.start("clock", [flask, "scheduler", "run"])
    if config.REDIS_URL:
        supervisor.start("worker", [flask, "notifications", "work"])
    if wait_until_up([f"http://127.0.0.1:{env['EMULATOR_PORT']}/_emulator/tokens",
                      f"http://127.0.0.1:{env['PORT']}/api/v1/plans"], supervisor):
        print(banner(config, env, run_env), flush=True)
    return supervisor.watch()


if __name__ == "__main__":
    sys.exit(main())
