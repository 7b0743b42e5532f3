"""PBX simulator: an ARI REST + WebSocket server that behaves like Asterisk 22, with simulated
customers and agent desk phones. An independent implementation: nothing here imports ari_app."""
from pbx_sim.config import SimConfig
from pbx_sim.simulator import Phone, Simulator

__all__ = ["SimConfig", "Simulator", "Phone"]
