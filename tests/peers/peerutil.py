"""Helpers shared by the peer scripts."""
import socket
import time


def wait_for_port(host: str, port: int, seconds: float = 30.0) -> None:
    """Blocks until a TCP server accepts on host:port. Client libraries differ in how they report a
    refused connection (pymodbus's connect() may say True before anything answers), so every
    client waits for a real TCP handshake first."""
    deadline = time.time() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
