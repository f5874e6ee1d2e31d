"""Training and evaluation entry points for the RoboSMPLX networks (imports robosmplx_core;
never imported by it)."""
