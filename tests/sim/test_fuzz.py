"""A seeded corpus of malformed requests: the simulator answers every one Asterisk-style and survives."""
from __future__ import annotations

import json
import logging
import random

import aiohttp

from pbx_sim.server import build_routes, load_docs

OK_500 = ({"error": "Allocation failed"}, {"message": "Unable to create bridge. Possible duplicate bridge id '(null)'"})
NASTY = ["", " ", "0", "-1", "99999999999999999999", "1.5", "true", "null", "%00", "../..", "a/b", "\u00e9\u4e2d",
         "'; drop table x; --", "<script>", ",", ",,,", "*", "#", "x" * 5000, "sound:", "digits:", "Local/",
         "PJSIP/", "Local/@", "PJSIP/@carrier", "Local/100@sim-customers", "PJSIP/+390612345100@carrier"]
BODIES = [b"{", b"[]", b"null", b"\"x\"", b"{\"variables\": 5}", b"{\"variables\": [1]}", b"{\"endpoint\": {}}",
          b"\xff\xfe", b"{\"variables\": {\"A\": {\"deep\": [1, 2]}}}", b"{" * 2000, b"{\"channel\": [\"a\", 3]}"]


def _corpus(rng: random.Random, live_ids: list[str]) -> list[tuple[str, str, dict, bytes | None]]:
    routes = build_routes(load_docs())
    out = []
    for _ in range(700):
        route = rng.choice(routes)
        path = route.path
        for name in route.params:
            value = rng.choice(live_ids + NASTY[:12] + ["no-such-id"])
            path = path.replace("{%s}" % name, aiohttp.helpers.quote(value, safe="") or "x")
        if rng.random() < 0.15:
            path = path + "/" + rng.choice(["extra", "..", "%2e%2e", "x" * 300])
        method = rng.choice(list(route.operations) * 3 + ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
        op = route.operations.get(method) or next(iter(route.operations.values()))
        query = {}
        for p in op.get("parameters", []):
            if p["paramType"] == "query" and rng.random() < 0.7:
                query[p["name"]] = rng.choice(NASTY + live_ids)
        if rng.random() < 0.2:
            query[rng.choice(["zzz", "app", "endpoint", "api_key"])] = rng.choice(NASTY)
        body = rng.choice(BODIES) if rng.random() < 0.3 else None
        out.append((method, "/ari" + path, query, body))
    return out


async def test_given_a_fuzz_corpus_of_malformed_requests_then_every_answer_is_asterisk_shaped(sim, ari, caplog):
    # Some live objects so that operations on existing ids also get bad parameters.
    live = []
    for i in range(3):
        status, ch = await ari.call("POST", "/channels", endpoint="PJSIP/+390612345100@carrier", app="dialer")
        live.append(ch["id"])
    phone = sim.add_phone("5001", name="Fuzz")
    await phone.dial("*50")
    live.append(phone.channel_id)
    live.append((await ari.call("POST", "/bridges", type="mixing"))[1]["id"])

    caplog.set_level(logging.ERROR, logger="pbx_sim")
    seen = {}
    async with aiohttp.ClientSession(headers={"Authorization": "Basic ZGlhbGVyOmRpYWxlcg=="}) as http:
        for method, path, query, body in _corpus(random.Random(20261122), live):
            headers = {"Content-Type": "application/json"} if body is not None else {}
            async with http.request(method, sim.base_url.rstrip("/") + path, params=query, data=body,
                                    headers=headers) as resp:
                text = await resp.text()
                what = f"{method} {path} {query} {body!r:.60} -> {resp.status} {text[:200]}"
                seen[resp.status] = seen.get(resp.status, 0) + 1
                assert resp.status in (200, 201, 204, 400, 404, 405, 409, 422, 426, 500, 501), what
                if resp.status >= 400 and method != "HEAD":
                    assert text.startswith("{"), what
                    payload = json.loads(text)
                    assert isinstance(payload, dict) and len(payload) == 1, what
                    assert isinstance(payload.get("message", payload.get("error")), str), what
                if resp.status == 500:
                    assert json.loads(text) in OK_500, what
        async with http.get(sim.base_url + "ari/asterisk/info") as resp:
            assert resp.status == 200  # still standing
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert seen.get(400) and seen.get(404) and seen.get(405)  # the corpus did reach the error paths


def test_pbx_sim_is_an_independent_implementation_importing_nothing_from_ari_app():
    import ast
    from pathlib import Path

    import pbx_sim

    for path in Path(pbx_sim.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "ari_app" for n in names), f"{path} imports {names}"


async def test_given_ringing_originate_then_operations_needing_stasis_answer_409_like_asterisk(sim, ari):
    status, ch = await ari.call("POST", "/channels", endpoint="PJSIP/+390612345300@carrier", app="dialer",
                                channelId="ringing-1")
    assert status == 200 and ch["state"] == "Down"
    not_in_stasis = {"message": "Channel not in Stasis application"}
    assert await ari.call("POST", "/channels/ringing-1/answer") == (409, not_in_stasis)
    assert await ari.call("POST", "/channels/ringing-1/play", media="sound:hello-world") == (409, not_in_stasis)
    assert await ari.call("POST", "/channels/ringing-1/continue", context="dialer-amd") == (409, not_in_stasis)
    assert await ari.call("POST", "/channels/ringing-1/dtmf", dtmf="1") == (409, not_in_stasis)
    await ari.call("POST", "/bridges/b-x", type="mixing")
    assert await ari.call("POST", "/bridges/b-x/addChannel", channel="ringing-1") == (422, not_in_stasis)
    assert (await ari.call("DELETE", "/channels/ringing-1", reason="busy"))[0] == 204  # hangup needs no Stasis


async def test_given_bad_input_then_asterisk_statuses_and_messages(sim, ari):
    await ari.call("POST", "/bridges/b-y", type="mixing")
    cases = [
        (("GET", "/channels/nope"), (404, {"message": "Channel not found"})),
        (("GET", "/bridges/nope"), (404, {"message": "Bridge not found"})),
        (("GET", "/playbacks/nope"), (404, {"message": "Playback not found"})),
        (("GET", "/nothing/here"), (404, {"message": "Resource not found"})),
        (("PUT", "/channels"), (405, {"message": "Invalid method"})),
        (("POST", "/channels", {"endpoint": "nonsense", "app": "dialer"}), (400, {"message": "Invalid endpoint specified"})),
        (("POST", "/channels", {"app": "dialer"}), (400, {"message": "Endpoint must be specified"})),
        (("POST", "/channels", {"endpoint": "Local/100@sim-customers"}),
         (400, {"message": "Application or extension must be specified"})),
        (("POST", "/bridges", {"type": "nonsense-type"}),
         (500, {"message": "Unable to create bridge. Possible duplicate bridge id '(null)'"})),
        (("POST", "/bridges/b-y/addChannel", {"channel": "nope"}), (400, {"message": "Channel not found"})),
        (("POST", "/bridges/nope/addChannel", {"channel": "nope"}), (404, {"message": "Bridge not found"})),
        (("POST", "/channels/nope/snoop", {"spy": "both", "app": "dialer"}),
         (404, {"message": "Provided channel was not found"})),
    ]
    for (method, path, *params), expected in cases:
        assert await ari.call(method, path, **(params[0] if params else {})) == expected, (method, path)
    status, body = await ari.call("POST", "/channels", endpoint="Local/100@sim-customers", app="dialer",
                                  timeout="soon")
    assert status == 400 and "timeout" in body["message"]
    assert await ari.call("DELETE", "/channels/nope", reason="because") == (404, {"message": "Channel not found"})
    status, ch = await ari.call("POST", "/channels", endpoint="PJSIP/+390612345300@carrier", app="dialer")
    status, body = await ari.call("DELETE", f"/channels/{ch['id']}", reason="because")
    assert status == 400 and body == {"message": "Invalid reason for hangup provided"}
