"""docs/configuration.md lists every setting as the Settings model defines it."""

import subprocess
import sys
from pathlib import Path

from hxim.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_and_the_page_is_current() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`HXIM_{name.upper()}`" in text, name
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_config_doc.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_environment_overrides_and_bounds() -> None:
    import pytest
    from pydantic import ValidationError

    settings = Settings(http_port=6000, rate_limits={"users": 5})
    assert settings.http_port == 6000 and settings.rate_limit("users") == 5 and settings.rate_limit("messages") == 0
    with pytest.raises(ValidationError):
        Settings(http_port=70000)
    with pytest.raises(ValidationError):
        Settings(rate_limits={"nonsense": 1})
