"""RoboSMPLX networks: one subnetwork design parameterised by a part spec (body, hand, face)."""
