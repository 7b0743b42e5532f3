"""The AMI adapter over a real TCP connection to a minimal AMI server speaking the wire format."""
import asyncio
import threading

from ari_app.ami.adapter import AmiAdapter

REGISTRATIONS = (
    "Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: Following are Events for each Outbound registration\r\n\r\n"
    "Event: OutboundRegistrationDetail\r\nActionID: {aid}\r\nObjectName: carrier\r\nServerUri: sip:sip.carrier.example\r\n"
    "Status: Registered\r\n\r\n"
    "Event: OutboundRegistrationDetail\r\nActionID: {aid}\r\nObjectName: backup\r\nServerUri: sip:backup.example\r\n"
    "Status: Rejected\r\n\r\n"
    "Event: OutboundRegistrationDetailComplete\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
)


async def _ami_server(secret: str, seen: list):
    async def handle(reader, writer):
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        buf = b""
        while True:
            data = await reader.read(4096)
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                raw, buf = buf.split(b"\r\n\r\n", 1)
                msg = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                seen.append(msg.get("Action"))
                aid = msg.get("ActionID", "")
                if msg.get("Action") == "Login":
                    ok = msg.get("Secret") == secret
                    writer.write((f"Response: {'Success' if ok else 'Error'}\r\nActionID: {aid}\r\n"
                                  f"Message: Authentication {'accepted' if ok else 'failed'}\r\n\r\n").encode())
                elif msg.get("Action") == "PJSIPShowRegistrationsOutbound":
                    writer.write(REGISTRATIONS.format(aid=aid).encode())
                await writer.drain()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_given_ami_when_asking_outbound_registrations_then_each_trunk_and_status_is_returned():
    seen: list = []
    server = await _ami_server("s3cret", seen)
    port = server.sockets[0].getsockname()[1]
    ami = AmiAdapter("127.0.0.1", port, "dialer", "s3cret")
    try:
        await ami.connect()
        regs = await ami.outbound_registrations()
    finally:
        await ami.close()
        server.close()
    assert [(r.name, r.status) for r in regs] == [("carrier", "Registered"), ("backup", "Rejected")]
    assert seen[:2] == ["Login", "PJSIPShowRegistrationsOutbound"]


def test_given_ami_then_dialer_check_lists_trunk_registrations(cli, monkeypatch):
    loop = asyncio.new_event_loop()
    seen: list = []
    server = loop.run_until_complete(_ami_server("s3cret", seen))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("DIALER_AMI_PORT", str(port))
        monkeypatch.setenv("DIALER_AMI_SECRET", "s3cret")
        res = cli("check", "--no-ari", "--ami")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert res.code == 0, res.err
    assert "carrier sip:sip.carrier.example" in res.out and "Rejected" in res.out
