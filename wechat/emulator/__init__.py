"""A local stand-in for WeChat's servers (mini-program APIs and WeChat Pay v3)."""

from wechat.emulator.server import EmulatorServer, create_emulator_app
from wechat.emulator.state import EmulatorConfig, EmulatorState

__all__ = ["EmulatorConfig", "EmulatorServer", "EmulatorState", "create_emulator_app"]
