/* Traffic source for benches/workers.sh: blasts small packets at the LNS
 * as fast as sendmmsg(2) allows, for a fixed time, and prints how many it
 * sent.
 *
 *   l2tp-blast up   LNS_IP TUNNEL SESSIONS FLOWS SECONDS IP_SIZE LAC_PORT
 *       L2TP data messages (RFC 2661 s3.1, no L/S/O bits) carrying PPP IPv4
 *       UDP packets for (TUNNEL, 1..SESSIONS), to LNS_IP:1701, from FLOWS
 *       raw sockets, each as from LNS_IP:LAC_PORT: the LNS takes a
 *       tunnel's data only from its LAC's address and port (RFC 2661
 *       s8.1), so the packets must come from the port of the LAC that
 *       holds the tunnel (the load generator's). Inner source address
 *       10.100.0.x: run the LNS with disable_no_spoof; destination
 *       10.250.0.1 (blackhole it in the namespace).
 *   l2tp-blast down ADDR_FILE FLOWS SECONDS IP_SIZE
 *       Plain UDP packets to port 9 of each address in ADDR_FILE (one per
 *       line: the sessions' addresses), from FLOWS sockets: the kernel
 *       routes them into the LNS's TUN device.
 *
 * cc -O2 -o l2tp-blast benches/l2tp-blast.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SESSIONS 4096

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint16_t ip_checksum(const uint8_t *h, int len) {
    uint32_t s = 0;
    for (int i = 0; i + 1 < len; i += 2) s += (h[i] << 8) | h[i + 1];
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* IPv4 + UDP header and zero payload, total `size` bytes. */
static void ip_udp(uint8_t *p, int size, uint32_t src, uint32_t dst, uint16_t sport) {
    memset(p, 0, size);
    p[0] = 0x45;
    p[2] = size >> 8; p[3] = size & 0xff;
    p[8] = 64; p[9] = 17;
    uint32_t s = htonl(src), d = htonl(dst);
    memcpy(p + 12, &s, 4); memcpy(p + 16, &d, 4);
    uint16_t c = ip_checksum(p, 20);
    p[10] = c >> 8; p[11] = c & 0xff;
    p[20] = sport >> 8; p[21] = sport & 0xff;
    p[22] = 0; p[23] = 9;
    p[24] = (size - 20) >> 8; p[25] = (size - 20) & 0xff;
}

static int blast(int flows, int *socks, struct sockaddr_in *to, int nto,
                 uint8_t (*pkt)[2048], int *len, int npkt, double seconds) {
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    unsigned long sent = 0;
    int k = 0;
    double end = now() + seconds;
    while (now() < end) {
        for (int f = 0; f < flows; f++) {
            for (int i = 0; i < BATCH; i++, k++) {
                int j = k % npkt;
                iov[i].iov_base = pkt[j];
                iov[i].iov_len = len[j];
                memset(&m[i], 0, sizeof m[i]);
                m[i].msg_hdr.msg_name = &to[nto > 1 ? j % nto : 0];
                m[i].msg_hdr.msg_namelen = sizeof to[0];
                m[i].msg_hdr.msg_iov = &iov[i];
                m[i].msg_hdr.msg_iovlen = 1;
            }
            int n = sendmmsg(socks[f], m, BATCH, 0);
            if (n > 0) sent += n;
        }
    }
    printf("sent %lu in %.1f s: %.0f pps\n", sent, seconds, sent / seconds);
    return 0;
}

int main(int argc, char **argv) {
    static uint8_t pkt[MAX_SESSIONS][2048];
    static int len[MAX_SESSIONS];
    static struct sockaddr_in to[MAX_SESSIONS];
    int socks[256];
    if (argc == 9 && strcmp(argv[1], "up") == 0) {
        int tunnel = atoi(argv[3]), sessions = atoi(argv[4]), flows = atoi(argv[5]);
        double seconds = atof(argv[6]);
        int size = atoi(argv[7]);
        int lac_port = atoi(argv[8]);
        if (sessions < 1 || sessions > MAX_SESSIONS || flows < 1 || flows > 256 || size < 28 ||
            size > 1400 || lac_port < 1 || lac_port > 65535)
            return 2;
        struct in_addr lns;
        if (inet_pton(AF_INET, argv[2], &lns) != 1) return 2;
        uint32_t lns_ip = ntohl(lns.s_addr);
        for (int s = 0; s < sessions; s++) {
            /* Outer IPv4 + UDP (checksum 0, allowed over IPv4) from the LAC's port. */
            int l2tp_len = 10 + size;
            ip_udp(pkt[s], 28 + l2tp_len, lns_ip, lns_ip, lac_port);
            pkt[s][22] = 1701 >> 8; pkt[s][23] = 1701 & 0xff;
            uint8_t *p = pkt[s] + 28;
            p[0] = 0x00; p[1] = 0x02;               /* data, version 2 */
            p[2] = tunnel >> 8; p[3] = tunnel & 0xff;
            p[4] = (s + 1) >> 8; p[5] = (s + 1) & 0xff;
            p[6] = 0xff; p[7] = 0x03; p[8] = 0x00; p[9] = 0x21;
            ip_udp(p + 10, size, 0x0a640001 + (s % 250), 0x0afa0001, 10000 + s);
            len[s] = 28 + l2tp_len;
        }
        memset(&to[0], 0, sizeof to[0]);
        to[0].sin_family = AF_INET;
        to[0].sin_port = htons(1701);
        inet_pton(AF_INET, argv[2], &to[0].sin_addr);
        for (int f = 0; f < flows; f++) {
            /* IPPROTO_RAW: we write the IP header (IP_HDRINCL). */
            socks[f] = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
            if (socks[f] < 0) { perror("raw socket"); return 1; }
        }
        return blast(flows, socks, to, 1, pkt, len, sessions, seconds);
    }
    if (argc == 6 && strcmp(argv[1], "down") == 0) {
        FILE *f = fopen(argv[2], "r");
        if (!f) { perror(argv[2]); return 1; }
        int flows = atoi(argv[3]), size = atoi(argv[5]), n = 0;
        double seconds = atof(argv[4]);
        if (flows < 1 || flows > 256 || size < 28 || size > 1400) return 2;
        char line[64];
        while (n < MAX_SESSIONS && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            memset(&to[n], 0, sizeof to[n]);
            to[n].sin_family = AF_INET;
            to[n].sin_port = htons(9);
            if (inet_pton(AF_INET, line, &to[n].sin_addr) == 1) {
                len[n] = size - 28;
                memset(pkt[n], 0, len[n]);
                n++;
            }
        }
        fclose(f);
        if (n == 0) { fprintf(stderr, "no addresses\n"); return 1; }
        for (int i = 0; i < flows; i++) {
            socks[i] = socket(AF_INET, SOCK_DGRAM, 0);
            if (socks[i] < 0) { perror("socket"); return 1; }
        }
        return blast(flows, socks, to, n, pkt, len, n, seconds);
    }
    fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
    return 2;
}
