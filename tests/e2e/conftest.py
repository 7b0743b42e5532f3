"""End-to-end: the real service over real HTTP/WebSocket against the PBX simulator, real PostgreSQL."""
from __future__ import annotations

import asyncio

import pytest

from ari_app.ari.aioari_adapter import AioariAdapter
from ari_app.services.dialer import DialerService


@pytest.fixture
async def sim():
    from pbx_sim import SimConfig, Simulator

    # Digits read out in 0.1 s each (desk-phone prompts are ~0.5 s): records and read-backs are
    # heard in about a second, so the scenarios' key presses follow at a realistic pace.
    simulator = Simulator(SimConfig(port=0, seed=1, sound_lengths=tuple((f"digits/{d}", 0.1) for d in range(10))))
    await simulator.start()
    yield simulator
    await simulator.stop()


async def start_service(db, sim, *, instance="test-1", app="dialer", tick=0.1) -> tuple[DialerService, asyncio.Task]:
    service = DialerService(db, AioariAdapter(sim.base_url, "dialer", "dialer", app), instance_id=instance,
                            tick_seconds=tick)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.connected.wait(), 15)
    return service, task


async def stop_service(service: DialerService, task: asyncio.Task) -> None:
    service.stop()
    await asyncio.wait_for(task, 15)


@pytest.fixture
async def dialer(db, sim):
    service, task = await start_service(db, sim)
    yield service
    await stop_service(service, task)


async def login(sim, service, ext: str, pin: str = "1234", code: str = "*50", app: str = "dialer"):
    """A desk phone dials the login code and keys the PIN; returns the phone once the agent is ready.
    ``app`` is the Stasis application the phone's dialplan enters (the instance it belongs to)."""
    from tests.world import eventually

    phone = sim.add_phone(ext, name=f"Agent {ext}", app=app)
    await phone.dial(code)
    await phone.press(pin + "#")
    await eventually(lambda: any(a.extension == ext and a.session_id for a in service.agents.values()),
                     what=f"agent {ext} logged in")
    return phone
