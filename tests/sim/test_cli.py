"""`dialer pbx-sim` runs the simulator in the foreground; bad options are one sentence, no traceback."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from admin_cli.main import main


def test_given_scenario_file_missing_then_one_sentence_and_nonzero(capsys, tmp_path):
    assert main(["pbx-sim", "--scenario", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: --scenario: file {tmp_path / 'nope.json'} does not exist"


def test_given_scenario_with_bad_probability_then_names_the_field(capsys, tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"mode": "probabilities", "answer": -1}))
    assert main(["pbx-sim", "--scenario", str(path)]) == 2
    assert "probability answer must be a non-negative number" in capsys.readouterr().err


def test_given_pbx_sim_command_then_it_serves_ari_until_interrupted(tmp_path):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"mode": "plan", "numbers": {"+390611111101": {"busy": True}}}))
    proc = subprocess.Popen([sys.executable, "-m", "admin_cli.main", "pbx-sim", "--port", "0", "--time-scale", "10",
                             "--scenario", str(scenario)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        banner = proc.stdout.readline()
        assert banner.startswith("PBX simulator: ARI at http://127.0.0.1:"), banner + proc.stderr.read()
        base = banner.split("ARI at ")[1].split("ari ")[0]
        req = urllib.request.Request(base + "ari/asterisk/info", headers={"Authorization": "Basic ZGlhbGVyOmRpYWxlcg=="})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.load(resp)["system"]["version"] == "22.10.1"
        with urllib.request.urlopen(base + "_sim/state", timeout=5) as resp:
            assert json.load(resp)["time_scale"] == 10
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
