"""Credentials never appear in logs, reprs or error messages."""
import logging

import pytest

from ari_app.ari.aioari_adapter import AioariAdapter
from ari_app.config import load_settings


def test_given_settings_with_secrets_then_redacted_view_and_repr_hide_them():
    s = load_settings(environ={"DIALER_ARI_PASSWORD": "s3cret-ari", "DIALER_AMI_SECRET": "s3cret-ami",
                               "DIALER_DATABASE_URL": "postgresql://u:s3cret-db@host/db"})
    text = repr(s) + str(s.redacted())
    assert "s3cret" not in text
    assert s.ari_password == "s3cret-ari"


async def test_given_unreachable_asterisk_when_connecting_then_logs_never_show_the_password(caplog):
    caplog.set_level(logging.DEBUG)
    adapter = AioariAdapter("http://127.0.0.1:9/", "dialer", "s3cret-ari", "dialer", max_backoff=0.1)
    with pytest.raises(Exception):
        await adapter._ensure_client()
    await adapter.close()
    assert "s3cret" not in caplog.text and "s3cret" not in repr(adapter)


def test_given_config_layers_then_later_layers_win(tmp_path):
    cfg = tmp_path / "dialer.toml"
    cfg.write_text('ari_url = "http://file:8088/"\nari_app = "from-file"\ntick_seconds = 0.25\n')
    s = load_settings(cfg, overrides={"ari_app": "from-cli"}, environ={"DIALER_ARI_URL": "http://env:8088/"})
    assert (s.ari_url, s.ari_app, s.tick_seconds) == ("http://env:8088/", "from-cli", 0.25)


def test_given_unknown_setting_in_file_then_one_sentence_error(tmp_path):
    from ari_app.config import ConfigError

    cfg = tmp_path / "dialer.toml"
    cfg.write_text('ari_urll = "x"\n')
    with pytest.raises(ConfigError, match=r"has an unknown setting 'ari_urll'"):
        load_settings(cfg, environ={})
