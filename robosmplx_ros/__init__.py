"""robosmplx's ROS 2 adapter: message conversion, the node and bag processing.

Only this package imports rclpy and message types; all estimation lives in robosmplx_core.
"""
