"""ARI operations: one method per swagger nickname, named op_<resource>_<nickname>.

Each returns (status, json body). Status codes follow the reference traces: originate 200, play 201,
addChannel/removeChannel/DELETE 204, POST /bridges 200.
"""
from __future__ import annotations

from pbx_sim.world import AriError, Channel, World

NO_CONTENT = (204, None)


class Handlers:
    def __init__(self, world: World):
        self.w = world

    def _ch(self, pp: dict, message: str = "Channel not found") -> Channel:
        return self.w.channel(pp["channelId"], message)

    def _stasis_ch(self, pp: dict) -> Channel:
        ch = self._ch(pp)
        self.w.require_stasis(ch)
        return ch

    # ---- asterisk ----------------------------------------------------------------------------------
    def op_asterisk_getInfo(self, pp, p, v):
        info = self.w.info()
        only = p.get("only")
        if only:
            info = {k: val for k, val in info.items() if k in only.split(",")}
        return 200, info

    def op_asterisk_ping(self, pp, p, v):
        from pbx_sim.world import ts
        return 200, {"asterisk_id": self.w.config.asterisk_id, "ping": "pong", "timestamp": ts()}

    def op_asterisk_getGlobalVar(self, pp, p, v):
        return 200, {"value": self.w.global_vars.get(p["variable"], "")}

    def op_asterisk_setGlobalVar(self, pp, p, v):
        self.w.global_vars[p["variable"]] = p.get("value", "")
        return NO_CONTENT

    def op_asterisk_listModules(self, pp, p, v):
        return 200, [{"name": m, "description": m, "use_count": 0, "status": "Running",
                      "support_level": "core"} for m in ("res_ari.so", "res_stasis.so", "chan_pjsip.so")]

    # ---- applications ------------------------------------------------------------------------------
    def op_applications_list(self, pp, p, v):
        return 200, self.w.applications()

    def op_applications_get(self, pp, p, v):
        return 200, self.w.application(pp["applicationName"])

    def op_applications_subscribe(self, pp, p, v):
        return 200, self.w.subscribe(pp["applicationName"], p["eventSource"].split(","), True)

    def op_applications_unsubscribe(self, pp, p, v):
        return 200, self.w.subscribe(pp["applicationName"], p["eventSource"].split(","), False)

    # ---- channels ----------------------------------------------------------------------------------
    def op_channels_list(self, pp, p, v):
        return 200, [c.snapshot() for c in self.w.channels.values()]

    def op_channels_originate(self, pp, p, v):
        return 200, self.w.originate(p, v)

    def op_channels_originateWithId(self, pp, p, v):
        return 200, self.w.originate(p, v, channel_id=pp["channelId"])

    def op_channels_create(self, pp, p, v):
        return 200, self.w.originate(p, v, create=True)

    def op_channels_get(self, pp, p, v):
        return 200, self._ch(pp).snapshot()

    def op_channels_hangup(self, pp, p, v):
        ch = self._ch(pp)
        self.w.app_hangup(ch, p.get("reason"), p.get("reason_code"))
        return NO_CONTENT

    def op_channels_dial(self, pp, p, v):
        self.w.dial(self._ch(pp), p)
        return NO_CONTENT

    def op_channels_answer(self, pp, p, v):
        self.w.answer(self._ch(pp))
        return NO_CONTENT

    def _noop_stasis(self, pp, p, v):
        self._stasis_ch(pp)
        return NO_CONTENT

    op_channels_ring = op_channels_ringStop = op_channels_progress = _noop_stasis
    op_channels_hold = op_channels_unhold = op_channels_mute = op_channels_unmute = _noop_stasis
    op_channels_startSilence = op_channels_stopSilence = op_channels_stopMoh = _noop_stasis

    def op_channels_startMoh(self, pp, p, v):
        ch = self._stasis_ch(pp)
        self.w.media_log.setdefault(ch.id, []).append(f"moh:{p.get('mohClass') or 'default'}")
        return NO_CONTENT

    def op_channels_continueInDialplan(self, pp, p, v):
        self.w.continue_in_dialplan(self._ch(pp), p)
        return NO_CONTENT

    def op_channels_redirect(self, pp, p, v):
        self.w.redirect(self._ch(pp), p["endpoint"])
        return NO_CONTENT

    def op_channels_move(self, pp, p, v):
        args = p.get("appArgs", "").split(",") if p.get("appArgs") else []
        self.w.move(self._ch(pp), p["app"], args)
        return NO_CONTENT

    def op_channels_sendDTMF(self, pp, p, v):
        self.w.send_dtmf(self._ch(pp), p.get("dtmf") or "")
        return NO_CONTENT

    def op_channels_play(self, pp, p, v):
        ch = self._ch(pp)
        return 201, self.w.play(ch, str(p["media"]).split(","), p.get("playbackId"), p.get("lang"))

    def op_channels_playWithId(self, pp, p, v):
        ch = self._ch(pp)
        return 201, self.w.play(ch, str(p["media"]).split(","), pp["playbackId"], p.get("lang"))

    def op_channels_record(self, pp, p, v):
        return 201, self.w.record(self._ch(pp), p)

    def op_channels_getChannelVar(self, pp, p, v):
        return 200, self.w.get_var(self._ch(pp), p.get("variable"))

    def op_channels_setChannelVar(self, pp, p, v):
        self.w.set_var(self._ch(pp), p.get("variable"), p.get("value"))
        return NO_CONTENT

    def op_channels_getChannelVars(self, pp, p, v):
        ch = self._ch(pp)
        out = {}
        for name in p["variables"].split(","):
            try:
                out[name] = self.w.get_var(ch, name)["value"]
            except AriError:
                out[name] = ""
        return 200, out

    def op_channels_setChannelVars(self, pp, p, v):
        ch = self._ch(pp)
        for name, value in v.items():
            self.w.set_var(ch, name, str(value))
        return NO_CONTENT

    def op_channels_snoopChannel(self, pp, p, v):
        spied = self._ch(pp, "Provided channel was not found")
        return 200, self.w.snoop(spied, p, p.get("snoopId"))

    def op_channels_snoopChannelWithId(self, pp, p, v):
        spied = self._ch(pp, "Provided channel was not found")
        return 200, self.w.snoop(spied, p, pp["snoopId"])

    def op_channels_rtpstatistics(self, pp, p, v):
        ch = self._ch(pp)
        return 200, {"txcount": 0, "rxcount": 0, "txjitter": 0.0, "rxjitter": 0.0, "remote_maxjitter": 0.0,
                     "local_ssrc": 1, "remote_ssrc": 2, "txploss": 0, "rxploss": 0, "rtt": 0.0,
                     "channel_uniqueid": ch.id}

    # ---- bridges -----------------------------------------------------------------------------------
    def op_bridges_list(self, pp, p, v):
        return 200, [b.snapshot() for b in self.w.bridges.values()]

    def op_bridges_create(self, pp, p, v):
        return 200, self.w.create_bridge(p, None)

    def op_bridges_createWithId(self, pp, p, v):
        return 200, self.w.create_bridge(p, pp["bridgeId"])

    def op_bridges_get(self, pp, p, v):
        return 200, self.w.bridge(pp["bridgeId"]).snapshot()

    def op_bridges_destroy(self, pp, p, v):
        self.w.destroy_bridge(self.w.bridge(pp["bridgeId"]))
        return NO_CONTENT

    def op_bridges_addChannel(self, pp, p, v):
        b = self.w.bridge(pp["bridgeId"])
        self.w.add_to_bridge(b, [c for c in p["channel"].split(",") if c])
        return NO_CONTENT

    def op_bridges_removeChannel(self, pp, p, v):
        b = self.w.bridge(pp["bridgeId"])
        self.w.remove_from_bridge(b, [c for c in p["channel"].split(",") if c])
        return NO_CONTENT

    def op_bridges_startMoh(self, pp, p, v):
        b = self.w.bridge(pp["bridgeId"])
        b.moh = p.get("mohClass") or "default"
        for ch in b.channels:
            self.w.media_log.setdefault(ch.id, []).append(f"moh:{b.moh}")
        return NO_CONTENT

    def op_bridges_stopMoh(self, pp, p, v):
        b = self.w.bridge(pp["bridgeId"])
        if b.moh is None:
            raise AriError(409, "Bridge isn't playing music on hold")  # not Asterisk-verified wording
        b.moh = None
        return NO_CONTENT

    def op_bridges_play(self, pp, p, v):
        b = self.w.bridge(pp["bridgeId"])
        return 201, self.w.play(b, str(p["media"]).split(","), p.get("playbackId"), p.get("lang"))

    def op_bridges_playWithId(self, pp, p, v):
        b = self.w.bridge(pp["bridgeId"])
        return 201, self.w.play(b, str(p["media"]).split(","), pp["playbackId"], p.get("lang"))

    def op_bridges_record(self, pp, p, v):
        return 201, self.w.record(self.w.bridge(pp["bridgeId"]), p)

    def op_bridges_getBridgeVar(self, pp, p, v):
        b = self.w.bridge(pp["bridgeId"])
        if p["variable"] not in b.variables:
            raise AriError(404, "Provided variable was not found")
        return 200, {"value": b.variables[p["variable"]]}

    def op_bridges_setBridgeVar(self, pp, p, v):
        self.w.bridge(pp["bridgeId"]).variables[p["variable"]] = p.get("value", "")
        return NO_CONTENT

    # ---- playbacks ---------------------------------------------------------------------------------
    def _pb(self, pp):
        pb = self.w.playbacks.get(pp["playbackId"])
        if pb is None:
            raise AriError(404, "Playback not found")
        return pb

    def op_playbacks_get(self, pp, p, v):
        return 200, self._pb(pp).snapshot()

    def op_playbacks_stop(self, pp, p, v):
        self.w.stop_playback(self._pb(pp))
        return NO_CONTENT

    def op_playbacks_control(self, pp, p, v):
        pb = self._pb(pp)
        if p["operation"] not in ("restart", "pause", "unpause", "reverse", "forward"):
            raise AriError(400, "Invalid operation")
        if pb.state == "queued":
            raise AriError(409, "Playback not currently playing")
        return NO_CONTENT

    # ---- recordings --------------------------------------------------------------------------------
    def _rec(self, pp):
        rec = self.w.recordings.get(pp["recordingName"])
        if rec is None:
            raise AriError(404, "Recording not found")
        return rec

    def op_recordings_getLive(self, pp, p, v):
        return 200, self._rec(pp).snapshot()

    def op_recordings_stop(self, pp, p, v):
        self.w.stop_recording(self._rec(pp))
        return NO_CONTENT

    def op_recordings_cancel(self, pp, p, v):
        self.w.stop_recording(self._rec(pp), cancel=True)
        return NO_CONTENT

    def _rec_noop(self, pp, p, v):
        self._rec(pp)
        return NO_CONTENT

    op_recordings_pause = op_recordings_unpause = op_recordings_mute = op_recordings_unmute = _rec_noop

    def op_recordings_listStored(self, pp, p, v):
        return 200, list(self.w.stored_recordings.values())

    def op_recordings_getStored(self, pp, p, v):
        rec = self.w.stored_recordings.get(pp["recordingName"])
        if rec is None:
            raise AriError(404, "Recording not found")
        return 200, rec

    def op_recordings_deleteStored(self, pp, p, v):
        if self.w.stored_recordings.pop(pp["recordingName"], None) is None:
            raise AriError(404, "Recording not found")
        return NO_CONTENT

    # ---- endpoints, device states, sounds ---------------------------------------------------------
    def op_endpoints_list(self, pp, p, v):
        return 200, self.w.endpoints()

    def op_endpoints_listByTech(self, pp, p, v):
        eps = [e for e in self.w.endpoints() if e["technology"].lower() == pp["tech"].lower()]
        if not eps:
            raise AriError(404, "No endpoints found")
        return 200, eps

    def op_endpoints_get(self, pp, p, v):
        for e in self.w.endpoints():
            if e["technology"].lower() == pp["tech"].lower() and e["resource"] == pp["resource"]:
                return 200, e
        raise AriError(404, "Endpoint not found")

    def op_deviceStates_list(self, pp, p, v):
        return 200, [{"name": n, "state": s} for n, s in self.w.device_states.items()]

    def op_deviceStates_get(self, pp, p, v):
        name = pp["deviceName"]
        return 200, {"name": name, "state": self.w.device_states.get(name, "UNKNOWN")}

    def op_deviceStates_update(self, pp, p, v):
        name = pp["deviceName"]
        if not name.startswith("Stasis:"):
            raise AriError(409, "Uncontrolled device specified")
        states = ("UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE",
                  "ONHOLD")
        if p["deviceState"] not in states:
            raise AriError(400, "Invalid device state")  # not Asterisk-verified wording
        self.w.device_states[name] = p["deviceState"]
        self.w.emit("DeviceStateChanged", set(), device_state={"name": name, "state": p["deviceState"]})
        return NO_CONTENT

    def op_deviceStates_delete(self, pp, p, v):
        if self.w.device_states.pop(pp["deviceName"], None) is None:
            raise AriError(404, "Device not found")
        return NO_CONTENT

    def op_sounds_list(self, pp, p, v):
        return 200, [{"id": s, "text": s, "formats": [{"language": "en", "format": "gsm"}]}
                     for s in ("hello-world", "beep", "demo-congrats", "vm-intro")]

    def op_sounds_get(self, pp, p, v):
        if self.w.sound_seconds(f"sound:{pp['soundId']}") is None:
            raise AriError(404, "Sound not found")
        return 200, {"id": pp["soundId"], "text": pp["soundId"], "formats": [{"language": "en", "format": "gsm"}]}

    def op_events_userEvent(self, pp, p, v):
        app = p["application"]
        if not self.w.app_connected(app):
            raise AriError(404, "Application not found")
        self.w.emit("ChannelUserevent", {app}, eventname=pp["eventName"], userevent=v)
        return NO_CONTENT

