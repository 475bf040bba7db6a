"""Fail loudly when a lock file does not pin what its requirements file asks for.

`make install` installs only from the locks (pip --require-hashes): a requirement added to
requirements.txt or requirements-dev.txt without `make lock` would otherwise be silently missing.
Usage: python scripts/check_lock.py [REQUIREMENTS LOCK]...   (default: both pairs)"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAIRS = (("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock"))
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_pins(path: Path) -> dict[str, str]:
    """name → version for each `name==version` line, following `-r other.txt`."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(direct_pins(path.parent / line[3:].strip()))
            continue
        if not line:
            continue
        match = _PIN.match(line)
        if not match:
            raise SystemExit(f"{path.name}: every requirement must be pinned with ==, got {line!r}")
        pins[canonical(match.group(1))] = match.group(2)
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) in a pip-compile --generate-hashes lock."""
    result: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonical(match.group(1))
            result[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = result[current]
            result[current] = (version, hashes + 1)
    return result


def problems(requirements: Path, lock: Path) -> list[str]:
    if not lock.exists():
        return [f"{lock.name} is missing"]
    wanted, have = direct_pins(requirements), locked(lock)
    found = []
    for name, version in sorted(wanted.items()):
        if name not in have:
            found.append(f"{requirements.name} asks for {name}=={version}; {lock.name} does not pin it")
        elif have[name][0] != version:
            found.append(f"{requirements.name} asks for {name}=={version}; {lock.name} pins {have[name][0]}")
    found += [f"{lock.name}: {name} has no hash" for name, (_, hashes) in sorted(have.items()) if not hashes]
    return found


def disagreements(runtime_lock: Path, dev_lock: Path) -> list[str]:
    """Tests must run on the versions production runs: a package in both locks has one version."""
    runtime, dev = locked(runtime_lock), locked(dev_lock)
    return [f"{name}: {runtime_lock.name} pins {runtime[name][0]}, {dev_lock.name} pins {dev[name][0]}"
            for name in sorted(runtime.keys() & dev.keys()) if runtime[name][0] != dev[name][0]]


def main(argv: list[str]) -> int:
    pairs = list(zip(argv[::2], argv[1::2])) if argv else PAIRS
    found = [p for req, lock in pairs for p in problems(ROOT / req, ROOT / lock)]
    if not argv and not found:
        found = disagreements(ROOT / PAIRS[0][1], ROOT / PAIRS[1][1])
    for problem in found:
        print(f"lock check: {problem}", file=sys.stderr)
    if found:
        print("lock check: run `make lock` and commit the lock files", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
