#!/usr/bin/env python3
"""Drives the daemon's telnet CLI as an operator's telnet client does:
telnetlib answers the option negotiation, then each argument is typed as a
line and the output up to the next prompt is printed between markers.

  cli_client.py HOST PORT [--source ADDR] [--login USER PASS] [--wait TEXT] LINE...

Prints '=== LINE' before each command's output, 'CLOSED' if the daemon
closed the connection, and 'LOGIN-PROMPT' when it asked for a user name.
With --wait, after the lines it reads (10 s at most) until TEXT comes and
prints 'SAW: ' and the line it came in, or 'NOT-SEEN'; a ready file
(CLI_READY_FILE) is created first, for the caller to act."""
import re
import sys
import telnetlib

PROMPT = re.compile(rb"[\w.-]+(\([\w-]+\))?[>#] $")

def main():
    args = sys.argv[1:]
    host, port = args[0], int(args[1])
    args = args[2:]
    source = None
    login = None
    if args[:1] == ["--source"]:
        source, args = args[1], args[2:]
    if args[:1] == ["--login"]:
        login, args = (args[1], args[2]), args[3:]
    wait = None
    if args[:1] == ["--wait"]:
        wait, args = args[1], args[2:]
    t = telnetlib.Telnet()
    if source:
        import socket
        s = socket.create_connection((host, port), 5, (source, 0))
        t.sock = s
        t.host, t.port = host, port
    else:
        t.open(host, port, 5)
    try:
        first = t.expect([rb"Username: ", PROMPT], 5)
        if first[0] == 0:
            print("LOGIN-PROMPT")
            if login is None:
                return
            t.write(login[0].encode() + b"\r\n")
            t.read_until(b"Password: ", 5)
            t.write(login[1].encode() + b"\r\n")
            got = t.expect([rb"Username: ", PROMPT], 5)
            if got[0] != 1:
                print("LOGIN-REFUSED")
                return
            print("LOGGED-IN")
        elif first[0] == -1:
            print("NO-PROMPT", repr(first[2]))
            return
        for line in args:
            t.write(line.encode() + b"\r\n")
            idx, _, text = t.expect([PROMPT], 10)
            print("=== " + line)
            body = text.decode("utf-8", "replace").replace("\r", "")
            # Drop the echoed command and the prompt.
            lines = body.split("\n")[1:-1]
            print("\n".join(lines))
            if idx == -1:
                print("NO-PROMPT")
                return
        if wait is not None:
            import os
            open(os.environ["CLI_READY_FILE"], "w").close()
            got = t.read_until(wait.encode(), 10)
            text = got.decode("utf-8", "replace")
            if wait in text:
                print("SAW: " + text.replace("\r", "").split("\n")[-1])
            else:
                print("NOT-SEEN " + repr(text))
    except EOFError:
        print("CLOSED")

main()
