"""The old event relay (kept for two partner feeds)."""
import asyncore  # breaks: asyncore removed in Python 3.12
import binascii


class Relay(asyncore.dispatcher):  # breaks: asyncore removed in Python 3.12
    def handle_read(self):
        data = self.recv(4096)
        return binascii.b2a_hqx(data)  # breaks: binascii.b2a_hqx removed in Python 3.11
