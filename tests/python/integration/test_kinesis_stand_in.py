"""The Kinesis stand-in outlives its clients, as Amazon Kinesis does: a client killed half way through a request
(an ingestor SIGKILLed, a Ctrl-C) must not take kinesalite down. Found by the Kinesis chaos test: kinesalite
rethrew the request's 'aborted' error and exited."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

from tests.python.support.kinesis import client_for, kinesalite

HALF_A_REQUEST = (
    b"POST / HTTP/1.1\r\nHost: kinesis\r\nContent-Type: application/x-amz-json-1.1\r\n"
    b"X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 1000\r\n\r\n{\"Lim"
)


def test_kinesalite_keeps_serving_after_a_client_drops_a_request_half_way(tmp_path: Path) -> None:
    for local in kinesalite(tmp_path):
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", local.port)) as dropped:
                dropped.sendall(HALF_A_REQUEST)
                time.sleep(0.1)
                dropped.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not FIN
        time.sleep(0.5)
        assert local.process.poll() is None, (tmp_path / "kinesalite.log").read_text()[-1500:]
        assert "StreamNames" in client_for(local).list_streams()
        assert "a client aborted its request" in (tmp_path / "kinesalite.log").read_text()
