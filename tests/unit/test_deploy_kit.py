"""The production kit as files (Docker itself is not run here; see README, "Production processes"):
the compose file parsed, the Dockerfile's build context, the Procfile, and the lock files."""
from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

import pytest
import yaml

from scripts import check_lock

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
APP_SERVICES = ("api", "worker", "wind-down-worker", "apportion-worker", "scheduler")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def procfile() -> dict[str, str]:
    entries = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in (raw.strip() for raw in text.splitlines()) if line and not line.startswith("#")]


def test_compose_has_the_six_processes_the_stores_and_the_emulator_only_in_dev(compose):
    services = compose["services"]
    assert set(services) == {"migrate", "api", "worker", "wind-down-worker", "apportion-worker", "scheduler",
                             "postgres", "redis", "emulator"}
    assert services["emulator"]["profiles"] == ["dev"]
    assert [name for name, service in services.items() if "profiles" in service] == ["emulator"]


def test_compose_commands_are_the_procfile_processes(compose):
    services, processes = compose["services"], procfile()
    assert set(processes) == {"release", "web", "worker", "wind_down_worker", "apportion_worker", "scheduler"}
    assert shlex.join(services["api"]["command"]) == processes["web"]
    assert shlex.join(services["worker"]["command"]) == processes["worker"]
    assert shlex.join(services["wind-down-worker"]["command"]) == processes["wind_down_worker"] \
        == "flask wind-down work"
    assert shlex.join(services["apportion-worker"]["command"]) == processes["apportion_worker"] \
        == "flask apportion work"
    assert shlex.join(services["scheduler"]["command"]) == processes["scheduler"]
    assert services["migrate"]["command"] == ["sh", "-c", processes["release"]]
    assert processes["release"] == "flask db upgrade && flask plans load"
    assert processes["web"] == "gunicorn --config deploy/gunicorn.conf.py wsgi:app"


def test_app_services_wait_for_the_stores_and_the_deploy_step(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        service = services[name]
        depends = service["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["emulator"]["required"] is False  # the emulator exists only in the dev profile
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in \
            service["environment"]["DATABASE_URL"]
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert services["migrate"]["restart"] == "no"
    ports = [services[name]["environment"]["METRICS_PORT"]
             for name in ("worker", "wind-down-worker", "apportion-worker", "scheduler")]
    assert all(ports) and len(set(ports)) == len(ports)
    for store in ("postgres", "redis"):
        assert services[store]["healthcheck"]["test"]


def test_dockerfile_is_multi_stage_non_root_and_installs_the_lock_with_hashes():
    instructions = dockerfile_instructions()
    stages = [arg for op, arg in instructions if op == "FROM"]
    assert len(stages) >= 2 and stages[0].endswith("AS build") and stages[-1].endswith("AS runtime")
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    assert "pip install --require-hashes" in runs and "-r /tmp/requirements.lock" in runs
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    cmd = [arg for op, arg in instructions if op == "CMD"][-1]
    assert cmd == '["gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:app"]'
    runtime = instructions[[op for op, _ in instructions].index("FROM", 1):]
    assert ("COPY", "--from=build /opt/venv /opt/venv") in runtime


def _dockerignore() -> list[str]:
    return [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for a path: a pattern matches it or one of its parent directories."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        variants = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(candidate, variant) for candidate in candidates for variant in variants):
            return True
    return False


def test_the_build_context_has_what_the_dockerfile_copies_and_nothing_secret():
    patterns = _dockerignore()
    sources = []
    for op, arg in dockerfile_instructions():
        if op == "COPY" and not arg.startswith("--from"):
            words = [w for w in arg.split() if not w.startswith("--")]
            sources += words[:-1]
    assert {"requirements.lock", "wsgi.py", "app", "config", "migrations", "wechat",
            "deploy/gunicorn.conf.py"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the build context"
        assert not _ignored(source, patterns), f".dockerignore leaves {source} out of the build context"
    # Every Python file the app imports at run time is in the context.
    for package in ("app", "config", "wechat"):
        for module in (ROOT / package).rglob("*.py"):
            assert not _ignored(str(module.relative_to(ROOT)), patterns), module
    for kept_out in (".git", ".venv", "instance/yiqi.sqlite3", "instance/wechat-keys/merchant_private.pem",
                     "miniprogram/node_modules", "tests/conftest.py", "deploy/production.env", "app/__pycache__",
                     ".env"):
        assert _ignored(kept_out, patterns), f"{kept_out} would be sent to the Docker daemon"


def test_the_locks_pin_every_requirement_with_hashes():
    assert check_lock.main([]) == 0
    runtime = check_lock.locked(ROOT / "requirements.lock")
    assert runtime["itsdangerous"][0] == "2.2.0"
    assert all(hashes for _, hashes in runtime.values())


def test_a_requirement_missing_from_the_lock_fails_loudly(tmp_path, capsys):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text((ROOT / "requirements.txt").read_text() + "not-a-yiqi-dependency==1.0\n")
    lock = tmp_path / "requirements.lock"
    lock.write_text((ROOT / "requirements.lock").read_text())
    assert check_lock.problems(requirements, lock) == [
        "requirements.txt asks for not-a-yiqi-dependency==1.0; requirements.lock does not pin it"]
    bumped = tmp_path / "bumped.txt"
    bumped.write_text((ROOT / "requirements.txt").read_text().replace("Flask==3.1.3", "Flask==3.1.4"))
    assert check_lock.problems(bumped, lock) == ["bumped.txt asks for flask==3.1.4; requirements.lock pins 3.1.3"]
    unhashed = tmp_path / "unhashed.lock"
    unhashed.write_text("flask==3.1.3\n")
    assert "unhashed.lock: flask has no hash" in check_lock.problems(tmp_path / "requirements.txt", unhashed)
    assert check_lock.main([str(requirements), str(lock)]) == 1
    assert "run `make lock`" in capsys.readouterr().err


def test_tests_run_on_the_versions_production_runs():
    assert check_lock.disagreements(ROOT / "requirements.lock", ROOT / "requirements-dev.lock") == []


def test_the_scheduler_hands_run_chunks_to_the_apportion_workers_in_production():
    """production.env.example (every app service's env_file) turns the RQ hand-out on, and the
    workers that take the chunks are in the kit: a due run's chunks never wait for a missing process."""
    settings = dict(line.split("=", 1) for line in (DEPLOY / "production.env.example").read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert settings["APPORTIONMENT_RQ_WORKERS"] == "1"
    assert procfile()["apportion_worker"] == "flask apportion work"
