#!/usr/bin/env python3
"""A DNS server for tests: answers every A query with one address.

    dns_answer.py LISTEN_ADDR ANSWER_ADDR   (UDP port 53)
"""
import socket
import struct
import sys

listen, answer = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((listen, 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    # Header: same id, QR=1 RD/RA set, one question echoed, one answer.
    end = 12
    while end < len(q) and q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    is_a = q[end + 1:end + 3] == b"\x00\x01"
    # Other types (AAAA...): an empty NOERROR answer.
    header = q[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1 if is_a else 0, 0, 0)
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + answer if is_a else b""
    s.sendto(header + question + rr, peer)
