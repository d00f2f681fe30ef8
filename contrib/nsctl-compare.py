#!/usr/bin/env python3
# Runs Debian's /usr/sbin/nsctl and ours (argv[1], default target/debug/nsctl)
# against canned replies from a local UDP socket and compares the datagram
# each sends, what each prints and its exit code. Prints "differences: N".
import os
import socket, subprocess, sys
OURS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "target", "debug", "nsctl")
def pk(t, args):
    b = bytes([0x90,0x13,t,len(args)])
    for a in args: b += bytes([len(a)]) + a
    return b + b'\xff'
cases = [
 (["help"], pk(0x21,[b"  drop USER|SID [REASON]                      Shutdown user session"])),
 (["help"], pk(0x21,[])),
 (["drop","alice"], pk(0x22,[b"unhandled action"])),
 (["drop","alice"], pk(0x21,[b"a", b"", b"b"])),
 (["-d","drop","alice"], pk(0x22,[b"session not found"])),
 (["-d","help"], pk(0x21,[])),
 (["x"], pk(0x22,[])),
 (["x"], pk(0x21,[b"x\x00y"])),
 (["x"], pk(0x21,[b"\xff"*3])),
 (["x"], bytes.fromhex("9014210000ff")),
 (["x"], bytes.fromhex("901321")),
 (["x"], bytes.fromhex("90132100ffaa")),
 (["x"], bytes.fromhex("90131400ff")),
 (["x"], bytes.fromhex("90133300ff")),
 (["drop","-t","1","alice"], pk(0x21,[])),
 (["--","drop","-5"], pk(0x21,[])),
]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
s.settimeout(3)
bad = 0
def run(prog, argv, reply):
    p = subprocess.Popen([prog,"-t","1","-h","127.0.0.1:%d"%port]+argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    d, a = s.recvfrom(4096); s.sendto(reply, a)
    o, e = p.communicate()
    return d, o, e, p.returncode
for argv, reply in cases:
    r1 = run("/usr/sbin/nsctl", argv, reply); r2 = run(OURS, argv, reply)
    ok = r1 == r2; bad += not ok
    print("OK " if ok else "DIFF", argv, reply.hex()[:20], "" if ok else (r1, r2))
for argv in [["-t","1","-h","127.0.0.1:%d"%port,"x"], ["-h","127.0.0.1:9","x"], ["-h","127.0.0.1:0","x"], ["-h","127.0.0.1:abc","x"], ["-h","nonexistent.invalid","x"], [], ["-z","x"], ["-h","127.0.0.1:%d"%port,""], ["x","-h"], ["-h","127.0.0.1:%d"%port]+["y"*200]*21]:
    rs = []
    for prog in ["/usr/sbin/nsctl", OURS]:
        p = subprocess.Popen([prog]+argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        o, e = p.communicate(); rs.append((o, e, p.returncode))
        try:
            while True: s.settimeout(0.05); s.recvfrom(4096)
        except Exception: pass
        s.settimeout(3)
    ok = rs[0] == rs[1]; bad += not ok
    print("OK " if ok else "DIFF", argv[:4], "" if ok else rs)
print("differences:", bad); sys.exit(1 if bad else 0)
