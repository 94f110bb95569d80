"""A corrupted settings file is a ConfigError naming the file (and its line), never a crash."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshforce.errors import ConfigError
from freshforce.settings_file import read_settings_file

TOML = b"""# freshforce settings
database_url = "postgresql://db.example/ff"
log_level = "info"
worker_concurrency = 8

[prod]
poll_interval_seconds = 30.0
alert_smtp_to = ["ops@example.com", "oncall@example.com"]
"""
YAML = b"""# freshforce settings
database_url: postgresql://db.example/ff
log_level: info
worker_concurrency: 8
prod:
  poll_interval_seconds: 30.0
  alert_smtp_to: [ops@example.com, oncall@example.com]
"""


@st.composite
def corrupted(draw: st.DrawFn, original: bytes) -> bytes:
    """The file with a few bytes overwritten, inserted or cut, or truncated."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        match draw(st.sampled_from(["overwrite", "insert", "cut", "truncate"])):
            case "overwrite" if at < len(data):
                data[at] = draw(st.integers(0, 255))
            case "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=4))
            case "cut":
                del data[at : at + draw(st.integers(1, 8))]
            case _:
                del data[at:]
    return bytes(data)


@pytest.mark.parametrize(("suffix", "original"), [(".toml", TOML), (".yaml", YAML)])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_corrupted_file_loads_or_names_the_file(
    suffix: str, original: bytes, data: st.DataObject
) -> None:
    content = data.draw(corrupted(original))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"freshforce{suffix}"
        path.write_bytes(content)
        try:
            read_settings_file(path)
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith(str(path)), message
            if "invalid" in message or "UTF-8" in message:
                assert re.match(rf"{re.escape(str(path))}:\d+: ", message), message


@pytest.mark.parametrize(
    ("suffix", "content", "line", "says"),
    [
        (".toml", b'a = 1\nb = "x\xff"\n', 2, "not UTF-8 text (byte 0xff)"),
        (".toml", b"a = 1\nb = [1,\n", 3, "invalid TOML"),
        (".yaml", b"a: 1\nb: [1,\n", 3, "invalid YAML"),
    ],
)
def test_the_error_leads_with_file_and_line(
    tmp_path: Path, suffix: str, content: bytes, line: int, says: str
) -> None:
    path = tmp_path / f"ff{suffix}"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        read_settings_file(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert says in str(caught.value)
