"""Emulated Bluetooth health devices (bumble): a BP monitor and a glucose meter on a virtual
radio, for tests and the demo. See EmulatedHome for the quickest start."""

from devices.emulation.base import DeviceInfo, EmulatedDevice
from devices.emulation.bp_monitor import BloodPressureMonitor
from devices.emulation.clock import DeviceClock
from devices.emulation.glucose_meter import GlucoseMeter, GlucoseRecord
from devices.emulation.hci_server import HciServer
from devices.emulation.home import EmulatedHome

__all__ = [
    "BloodPressureMonitor",
    "DeviceClock",
    "DeviceInfo",
    "EmulatedDevice",
    "EmulatedHome",
    "GlucoseMeter",
    "GlucoseRecord",
    "HciServer",
]
