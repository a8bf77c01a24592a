"""systemd/relay@.service: systemd accepts the unit, it keeps its promises, and it is well hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paths import ROOT

from relay.errors import ConfigError, CredentialsError

UNIT = ROOT / "systemd" / "relay@.service"
SHIPPED_BINARY = "/opt/relay/bin/relay"
MAX_EXPOSURE = 2.0
INSTALL_HINT = "systemd-analyze is missing: install it with `apt-get install -y systemd` (see .ci/run)"


def directives(text: str) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file, each key with all its values in order (comments skipped)."""
    found: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    """The systemd-analyze binary; the test fails (never skips) without it."""
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail(INSTALL_HINT)
    return path


@pytest.fixture
def instance_unit(tmp_path: Path) -> Path:
    """The unit instantiated as relay@therapists.service, run by this environment's `relay` script."""
    relay = Path(sys.executable).parent / "relay"
    assert relay.is_file(), f"{relay} is missing: install the project (pip install -e .)"
    text = UNIT.read_text(encoding="utf-8")
    assert SHIPPED_BINARY in text
    unit = tmp_path / "relay@therapists.service"
    unit.write_text(text.replace(SHIPPED_BINARY, str(relay)), encoding="utf-8")
    return unit


class TestSystemdAcceptsIt:
    def test_verify_passes(self, systemd_analyze: str, instance_unit: Path) -> None:
        """`systemd-analyze verify` finds nothing wrong with an instance of the unit."""
        result = subprocess.run(
            [systemd_analyze, "verify", str(instance_unit)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert instance_unit.name not in result.stderr, result.stderr

    def test_exposure_is_at_most_two(self, systemd_analyze: str, instance_unit: Path) -> None:
        """`systemd-analyze security --offline=true` rates the unit's exposure 2.0 or lower."""
        result = subprocess.run(
            [systemd_analyze, "security", "--offline=true", "--no-pager", str(instance_unit)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
        assert match is not None, result.stdout + result.stderr
        assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


class TestPromises:
    def test_one_relay_per_config_file(self) -> None:
        """ExecStart runs `relay run` on /etc/relay/%i.toml, a template instance per file."""
        unit = directives(UNIT.read_text(encoding="utf-8"))
        assert unit["ExecStart"] == [f"{SHIPPED_BINARY} run -c /etc/relay/%i.toml"]

    def test_notify_watchdog_and_restart_policy(self) -> None:
        """Type=notify with a watchdog; failures restart, except exit code 2 (config or credentials)."""
        unit = directives(UNIT.read_text(encoding="utf-8"))
        assert unit["Type"] == ["notify"]
        assert unit["NotifyAccess"] == ["main"]
        assert unit["WatchdogSec"] == ["60"]
        assert unit["Restart"] == ["on-failure"]
        assert unit["RestartPreventExitStatus"] == [str(ConfigError.exit_code)]
        assert CredentialsError.exit_code == ConfigError.exit_code

    def test_state_credentials_and_user(self) -> None:
        """A dynamic user, state in /var/lib/relay, the token handed over as a credential."""
        unit = directives(UNIT.read_text(encoding="utf-8"))
        assert unit["DynamicUser"] == ["yes"]
        assert unit["StateDirectory"] == ["relay"]
        assert unit["ConfigurationDirectory"] == ["relay"]
        assert unit["LoadCredential"] == ["%i.home.token:/etc/relay/%i.home.token"]
        assert unit["UMask"] == ["0077"]

    def test_network_stays_open_for_the_fediverse(self) -> None:
        """No IP allow list or private network: the relay must reach any instance."""
        unit = directives(UNIT.read_text(encoding="utf-8"))
        assert "IPAddressDeny" not in unit
        assert "PrivateNetwork" not in unit
        assert unit["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
