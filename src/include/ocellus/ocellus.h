/*
 * ocellus flow engine: public C API.
 *
 * The engine turns packets into bidirectional flows following Peafowl's model: all packets
 * with the same {addresses, ports, L4 protocol, VLAN id} in either direction form one flow;
 * *outbound* is source to destination of the flow (the sender of its first packet, or the
 * receiver of a SYN/ACK seen first), *inbound* the reverse. Per-direction statistics are
 * kept as statistics[OC_STAT_x][OC_DIRECTION_x]. When a flow ends (idle, active timeout,
 * TCP close, end of input, table full) the flow-termination callback receives its key,
 * statistics and end reason.
 *
 * Threading: one engine is single-threaded; several engines in one process share nothing.
 * Memory: everything is allocated by oc_engine_new(); processing a packet allocates nothing.
 * Only libc types appear here.
 */
#ifndef OCELLUS_H
#define OCELLUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OC_VERSION_STRING "0.1.0"

/** Packet directions within a flow, Peafowl's PFWL_DIRECTION_*. */
typedef enum {
    OC_DIRECTION_OUTBOUND = 0, /**< source -> destination */
    OC_DIRECTION_INBOUND = 1,  /**< destination -> source */
    OC_DIRECTION_N
} oc_direction_t;

/**
 * Per-direction statistics, Peafowl's PFWL_STAT_*. All values are int64_t. Times are packet
 * timestamps in microseconds since the Unix epoch; 0 when the direction has no packet.
 */
typedef enum {
    OC_STAT_PACKETS = 0,         /**< packets */
    OC_STAT_OCTETS,              /**< IP octets (IP total length, as IPFIX octetDeltaCount) */
    OC_STAT_TIMESTAMP_FIRST,     /**< first packet, microseconds */
    OC_STAT_TIMESTAMP_LAST,      /**< last packet, microseconds */
    OC_STAT_TCP_FLAGS_INITIAL,   /**< TCP flags of the first packet (IPFIX initialTCPFlags) */
    OC_STAT_TCP_FLAGS_UNION,     /**< OR of all TCP flags (IPFIX unionTCPFlags) */
    OC_STAT_TCP_SYN,             /**< segments with SYN set */
    OC_STAT_TCP_FIN,             /**< segments with FIN set */
    OC_STAT_TCP_RST,             /**< segments with RST set */
    OC_STAT_TCP_RETRANSMISSIONS, /**< segments whose sequence range was already seen */
    OC_STAT_TCP_ZERO_WINDOW,     /**< segments advertising a zero receive window */
    OC_STAT_TCP_WINDOW_SCALE,    /**< window scale option of the SYN, -1 if absent */
    OC_STAT_TCP_RTT,             /**< handshake time, microseconds, -1 if not measured:
                                      outbound = SYN to SYN/ACK, inbound = SYN/ACK to ACK;
                                      only before the first FIN; saturates at INT32_MAX */
    OC_STAT_L7_PACKETS,          /**< packets carrying L4 payload */
    OC_STAT_L7_OCTETS,           /**< L4 payload octets (from the IP length) */
    OC_STAT_N
} oc_stat_t;

/** Why a flow record ended; the values are IPFIX flowEndReason (IE 136). */
typedef enum {
    OC_END_NONE = 0,            /**< still active (per-packet views) */
    OC_END_IDLE = 1,            /**< idle timeout */
    OC_END_ACTIVE = 2,          /**< active timeout: the flow goes on with fresh counters */
    OC_END_TCP = 3,             /**< FIN both ways and the last FIN acknowledged, or RST */
    OC_END_FORCED = 4,          /**< end of input or shutdown (oc_engine_flush) */
    OC_END_RESOURCES = 5        /**< table full: evicted to make room */
} oc_end_reason_t;

/** Link types accepted by oc_engine_process(); the values are libpcap's DLT_ numbers. */
typedef enum {
    OC_LINK_NULL = 0,       /**< BSD loopback (DLT_NULL) */
    OC_LINK_ETHERNET = 1,   /**< DLT_EN10MB */
    OC_LINK_PPP = 9,        /**< PPP (DLT_PPP); DLT_PPP_SERIAL (50) is accepted too */
    OC_LINK_RAW = 101,      /**< raw IPv4/IPv6 (LINKTYPE_RAW, libpcap DLT_RAW 12/14) */
    OC_LINK_C_HDLC = 104,   /**< Cisco HDLC */
    OC_LINK_LINUX_SLL = 113,
    OC_LINK_LINUX_SLL2 = 276
} oc_link_t;

/** Why a packet was not attributed to a flow; each has its own counter. */
typedef enum {
    OC_SKIP_NONE = 0,          /**< attributed */
    OC_SKIP_NOT_IP,            /**< ARP, 802.3/LLC, other non-IP frames */
    OC_SKIP_TRUNCATED,         /**< the headers of the flow key are not all captured */
    OC_SKIP_MALFORMED,         /**< impossible header values (bad version, lengths, ...) */
    OC_SKIP_UNSUPPORTED_LINK,  /**< link type the decoder does not know */
    OC_SKIP_UNSUPPORTED_ENCAP, /**< encapsulation the decoder does not follow yet */
    OC_SKIP_FRAGMENT,          /**< later IP fragment that could not wait for its first one
                                    (its datagram already holds the most it may, or fragment
                                    tracking is off: max_frag_datagrams = 0) */
    OC_SKIP_TOO_DEEP,          /**< too many nested headers or encapsulations */
    OC_SKIP_FRAGMENT_ORPHAN,   /**< later IP fragment whose first fragment never came within
                                    frag_timeout_s (or before the end of input) */
    OC_SKIP_N
} oc_skip_t;

/** Human-readable name of a skip cause ("not-ip", "truncated", ...); never NULL. */
const char *oc_skip_name(oc_skip_t skip);

/** Address family of a flow. */
typedef enum { OC_FAMILY_IPV4 = 4, OC_FAMILY_IPV6 = 6 } oc_family_t;

/**
 * A flow's key, oriented: src is the flow's source. IPv4 addresses use the first 4 bytes of
 * the arrays (network order). For ICMP and ICMPv6, ports are 0 and icmp_type_code holds
 * type * 256 + code of the first packet of each direction.
 */
typedef struct oc_flow_key {
    uint8_t family;      /**< oc_family_t */
    uint8_t protocol;    /**< IP protocol number */
    uint16_t vlan_id;    /**< 802.1Q VLAN id (outer tag with QinQ), 0 when untagged */
    uint16_t inner_vlan_id; /**< inner (customer) VLAN id with QinQ, else 0 */
    uint8_t src_addr[16];
    uint8_t dst_addr[16];
    uint16_t src_port;   /**< host order; 0 for protocols without ports */
    uint16_t dst_port;
} oc_flow_key_t;

/** Tunnel types (oc_tunnel_t.type). */
typedef enum {
    OC_TUNNEL_NONE = 0,
    OC_TUNNEL_IPIP = 1,     /**< IPv4/IPv6 in IPv4/IPv6 (protocols 4, 41) */
    OC_TUNNEL_GRE = 2,      /**< GRE, including PPTP's enhanced GRE */
    OC_TUNNEL_VXLAN = 3,    /**< VXLAN, UDP 4789 */
    OC_TUNNEL_GTPU = 4,     /**< GTP-U, UDP 2152 */
    OC_TUNNEL_TEREDO = 5    /**< Teredo, UDP 3544 */
} oc_tunnel_type_t;

/** The tunnel a flow was seen in (from its first packet): the outermost tunnel entered and
 * the addresses of the IP header that carries it. type 0 when not tunnelled or when the
 * engine keys on outer headers (tunnels_outer). */
typedef struct oc_tunnel {
    uint8_t type;           /**< oc_tunnel_type_t */
    uint8_t family;         /**< oc_family_t of the outer addresses */
    uint8_t src_addr[16];   /**< outer source as sent by the flow's first packet */
    uint8_t dst_addr[16];
} oc_tunnel_t;

/**
 * Application protocols identified from payload (never from ports alone). The names are
 * nDPI's master protocol names in lower case; oc_protocol_name() gives them.
 */
typedef enum {
    OC_PROTO_UNKNOWN = 0,
    OC_PROTO_HTTP,
    OC_PROTO_TLS,
    OC_PROTO_DTLS,
    OC_PROTO_QUIC,
    OC_PROTO_DNS,
    OC_PROTO_MDNS,
    OC_PROTO_LLMNR,
    OC_PROTO_SSH,
    OC_PROTO_SMTP,
    OC_PROTO_SMTPS,          /**< SMTP upgraded by STARTTLS (nDPI's name) */
    OC_PROTO_POP3,
    OC_PROTO_POP3S,          /**< POP3 upgraded by STLS */
    OC_PROTO_IMAP,
    OC_PROTO_IMAPS,          /**< IMAP upgraded by STARTTLS */
    OC_PROTO_FTP_CONTROL,
    OC_PROTO_FTP_DATA,       /**< a data connection announced on an FTP control connection */
    OC_PROTO_DHCP,
    OC_PROTO_DHCPV6,
    OC_PROTO_NTP,
    OC_PROTO_SIP,
    OC_PROTO_RTP,
    OC_PROTO_RTCP,
    OC_PROTO_STUN,
    OC_PROTO_BGP,
    OC_PROTO_MQTT,
    OC_PROTO_BITTORRENT,
    OC_PROTO_SSDP,
    OC_PROTO_KERBEROS,
    OC_PROTO_MYSQL,
    OC_PROTO_GIT,
    OC_PROTO_TOR,
    OC_PROTO_WIREGUARD,
    OC_PROTO_GNUTELLA,
    OC_PROTO_NETBIOS,
    OC_PROTO_ZOOM,
    OC_PROTO_DISCORD,
    OC_PROTO_TELEGRAM,
    OC_PROTO_DROPBOX,        /**< Dropbox LAN sync discovery */
    OC_PROTO_SPOTIFY,        /**< Spotify LAN discovery */
    OC_PROTO_NAT_PMP,
    OC_PROTO_WSD,            /**< WS-Discovery */
    OC_PROTO_N
} oc_protocol_t;

/** Lower-case name of @proto ("http", "tls", ...; "unknown" for 0 and out of range). */
const char *oc_protocol_name(oc_protocol_t proto);

/** silkAppLabel of @proto: the protocol's well-known port by YAF's convention; 0 unknown. */
uint16_t oc_protocol_port(oc_protocol_t proto);

/**
 * A guess from the transport ports only (both are tried, the lower well-known one first),
 * for flows payload did not identify; OC_PROTO_UNKNOWN when no port is known.
 */
oc_protocol_t oc_protocol_guess(uint8_t l4_protocol, uint16_t src_port, uint16_t dst_port);

/**
 * Fields taken from the payload. Every value is a byte string from the wire, cut to at most
 * OC_FIELD_MAX_LEN bytes (not NUL-terminated, not necessarily UTF-8); the numeric ones
 * (oc_field_is_number()) hold ASCII decimal digits.
 */
typedef enum {
    OC_FIELD_HTTP_METHOD = 0,    /**< httpRequestMethod */
    OC_FIELD_HTTP_HOST,          /**< httpRequestHost */
    OC_FIELD_HTTP_TARGET,        /**< httpRequestTarget */
    OC_FIELD_HTTP_USER_AGENT,    /**< httpUserAgent */
    OC_FIELD_HTTP_STATUS,        /**< httpStatusCode (number) */
    OC_FIELD_HTTP_CONTENT_TYPE,  /**< httpContentType (of the response) */
    OC_FIELD_TLS_SNI,            /**< sslServerName (TLS, DTLS and QUIC) */
    OC_FIELD_TLS_CLIENT_VERSION, /**< tlsClientVersion: highest version the client offers,
                                      "TLSv1.3", "TLSv1.2", ..., "DTLSv1.2" */
    OC_FIELD_TLS_VERSION,        /**< tlsVersion: version the server chose */
    OC_FIELD_TLS_ALPN,           /**< tlsAlpn: ALPN offered by the client, comma-separated */
    OC_FIELD_TLS_CIPHER,         /**< sslServerCipher: cipher suite the server chose (number) */
    OC_FIELD_TLS_JA3,            /**< tlsJa3: JA3 client fingerprint (MD5, hex) */
    OC_FIELD_TLS_JA4,            /**< tlsJa4: JA4 client fingerprint */
    OC_FIELD_TLS_CERT_SUBJECT,   /**< tlsCertSubject: server certificate subject, "C=US, O=..., CN=..." */
    OC_FIELD_TLS_CERT_ISSUER,    /**< tlsCertIssuer */
    OC_FIELD_QUIC_VERSION,       /**< quicVersion (number; Google QUIC "Q046" style as 0x51303436) */
    OC_FIELD_DNS_QNAME,          /**< dnsQName */
    OC_FIELD_DNS_QTYPE,          /**< dnsQRType (number) */
    OC_FIELD_DNS_RCODE,          /**< dnsResponseCode (number) */
    OC_FIELD_DNS_ANSWERS,        /**< dnsAnswers: first A/AAAA/CNAME answers, comma-separated */
    OC_FIELD_SSH_CLIENT,         /**< sshVersion: the client's banner */
    OC_FIELD_SSH_SERVER,         /**< reverseSshVersion: the server's banner */
    OC_FIELD_SMTP_HELO,          /**< smtpHello */
    OC_FIELD_SMTP_FROM,          /**< smtpFrom (first MAIL FROM) */
    OC_FIELD_SMTP_TO,            /**< smtpTo (first RCPT TO) */
    OC_FIELD_STARTTLS,           /**< startTLS: 1 when SMTP/POP3/IMAP/FTP switched to TLS */
    OC_FIELD_SIP_METHOD,         /**< sipMethod: method of the first request */
    OC_FIELD_SIP_FROM,           /**< sipFrom */
    OC_FIELD_SIP_TO,             /**< sipTo */
    OC_FIELD_SIP_CALL_ID,        /**< sipCallId */
    OC_FIELD_SIP_USER_AGENT,     /**< sipUserAgent */
    OC_FIELD_DHCP_HOST_NAME,     /**< dhcpHostName (option 12) */
    OC_FIELD_DHCP_VENDOR_CLASS,  /**< dhcpVendorCode (option 60) */
    OC_FIELD_DHCP_REQUESTED_ADDR,/**< dhcpRequestedAddress (option 50, dotted quad) */
    OC_FIELD_MQTT_CLIENT_ID,     /**< mqttClientId */
    OC_FIELD_MQTT_TOPIC,         /**< mqttTopic: first PUBLISH or SUBSCRIBE topic */
    OC_FIELD_BITTORRENT_INFO_HASH, /**< bittorrentInfoHash (hex) */
    OC_FIELD_NTP_VERSION,        /**< ntpVersion (number) */
    OC_FIELD_NTP_STRATUM,        /**< ntpStratum (number, from the server's reply) */
    OC_FIELD_N
} oc_field_t;

/** Longest value kept for one field, bytes. */
#define OC_FIELD_MAX_LEN 512
/** Bytes for all of a flow's field values together. */
#define OC_FIELDS_BYTES 1536

/**
 * A flow's fields: value i is buf[off[i]] .. + len[i]; len 0 means absent. Plain data, so
 * a copy (of offsetof(buf) + used bytes) is a valid copy.
 */
typedef struct oc_fields {
    uint16_t off[OC_FIELD_N];
    uint16_t len[OC_FIELD_N];
    uint16_t used;               /**< bytes of buf in use */
    char buf[OC_FIELDS_BYTES];
} oc_fields_t;

/** JSON key of a field (IANA name, else CERT's, else ours), e.g. "httpRequestHost". */
const char *oc_field_name(oc_field_t field);

/** Whether a field holds a number (ASCII decimal) rather than text. */
bool oc_field_is_number(oc_field_t field);

/** Value of @field in @fields, its length in *@len; NULL when absent (or @fields NULL). */
const char *oc_fields_get(const oc_fields_t *fields, oc_field_t field, size_t *len);

/** A read-only view of a flow: key, statistics and (at termination) why it ended. */
typedef struct oc_flow_info {
    uint64_t id;                   /**< engine-unique, increasing with flow creation */
    oc_flow_key_t key;
    int64_t statistics[OC_STAT_N][OC_DIRECTION_N];
    int32_t icmp_type_code[OC_DIRECTION_N]; /**< -1 when not ICMP or no packet */
    oc_end_reason_t end_reason;    /**< OC_END_NONE while the flow is active */
    oc_tunnel_t tunnel;            /**< tunnel of the flow's first packet */
    uint16_t protocol;             /**< oc_protocol_t from payload; OC_PROTO_UNKNOWN if none */
    uint16_t protocol_guess;       /**< oc_protocol_guess() when protocol is unknown, else 0 */
    const oc_fields_t *fields;     /**< payload fields, NULL when none (or DPI is off); valid
                                        as long as the info */
} oc_flow_info_t;

/**
 * The flow-termination callback. @info is valid only during the call. Return 0 to go on, or
 * non-zero to ask the engine to stop: the current call (process/advance/flush) finishes its
 * work, ending flows as it must, and then returns OC_STATUS_STOPPED from that call and every
 * later oc_engine_process() call; flows that end meanwhile are still delivered to the
 * callback so none is lost.
 */
typedef int (*oc_flow_termination_cb)(const oc_flow_info_t *info, void *user_data);

/** Engine configuration; fill with oc_config_init() then change what you need. */
typedef struct oc_config {
    uint32_t max_flows;          /**< flows kept at once; the table is sized once (default 262144) */
    uint32_t idle_timeout_s;     /**< end a flow after this long without packets (default 30) */
    uint32_t active_timeout_s;   /**< cut a record after this long (default 300) */
    uint32_t tcp_linger_s;       /**< keep a closed TCP flow this long for trailing packets (2) */
    uint64_t max_record_octets;  /**< cut a record (reason 2) before either direction's octet
                                      counter would pass this; 0 = no limit (default). SiLK
                                      keeps 32-bit counters: 4294967295 keeps records valid.
                                      Packet counters are always cut this way at
                                      4294967295 packets */
    uint64_t hash_seed;          /**< 0: chosen at random in oc_engine_new() */
    bool tunnels_outer;          /**< key flows on the outermost IP header instead of the
                                      innermost one of a tunnel (default false: inner) */
    uint32_t max_frag_datagrams; /**< IP datagrams whose fragments are tracked at once; 0 turns
                                      tracking off (later fragments are skipped) (1024) */
    uint32_t frag_timeout_s;     /**< how long a datagram's fragments are tracked (30) */
    bool dpi;                    /**< identify application protocols (default true) */
    bool dpi_fields;             /**< also extract fields (default true); off, dissectors only
                                      label flows and no field memory is used */
    uint32_t dpi_max_inspect;    /**< flows whose payload is inspected at once; beyond, new
                                      flows are not inspected (counted) (16384) */
    uint32_t dpi_max_fields;     /**< flows that hold fields at once; beyond, fields are not
                                      kept (counted) (65536) */
} oc_config_t;

/** Sets every field of @config to its default. */
void oc_config_init(oc_config_t *config);

/** Result of oc_engine_process(). */
typedef enum {
    OC_STATUS_OK = 0,        /**< the packet was attributed to a flow */
    OC_STATUS_SKIPPED,       /**< the packet was counted under a skip cause */
    OC_STATUS_STOPPED        /**< the termination callback asked to stop */
} oc_status_t;

/** What oc_engine_process() says about one packet. */
typedef struct oc_packet_info {
    oc_skip_t skip;              /**< OC_SKIP_NONE when attributed. A later IP fragment that
                                      waits for its datagram's first fragment is reported as
                                      OC_SKIP_FRAGMENT (status SKIPPED) but counted only once
                                      settled: attributed when the first fragment comes, else
                                      under OC_SKIP_FRAGMENT_ORPHAN (at the latest by
                                      oc_engine_flush()) */
    oc_direction_t direction;    /**< direction of the packet within its flow */
    bool new_flow;               /**< the packet started a flow */
    uint16_t protocol;           /**< oc_protocol_t of the flow after this packet */
} oc_packet_info_t;

/** Engine counters, cumulative since oc_engine_new(). */
typedef struct oc_engine_stats {
    uint64_t packets;                  /**< packets given to oc_engine_process() */
    uint64_t packets_attributed;
    uint64_t packets_skipped[OC_SKIP_N]; /**< by cause; [OC_SKIP_NONE] is unused (0) */
    uint64_t packets_out_of_order;     /**< older than the engine clock (still attributed) */
    uint64_t flows_created;
    uint64_t flows_active;             /**< flows in the table now */
    uint64_t records_ended[6];         /**< records passed to the callback, by oc_end_reason_t */
    uint64_t fragments_duplicate;      /**< fragments repeating a part of their datagram seen
                                            before (still counted in the flow) */
    uint64_t fragments_overlap;        /**< fragments partly overlapping one seen before */
    uint64_t fragments_held;           /**< later fragments that waited for their first one */
    uint64_t dpi_flows_identified;     /**< flows given a protocol from payload */
    uint64_t dpi_inspect_full;         /**< flows not inspected: dpi_max_inspect reached */
    uint64_t dpi_fields_full;          /**< flows whose fields were not kept: dpi_max_fields */
    uint64_t dpi_stream_gaps;          /**< TCP segments past a hole, not given to dissectors */
} oc_engine_stats_t;

typedef struct oc_engine oc_engine_t;

/**
 * Creates an engine. Allocates the flow table for config->max_flows flows. Returns NULL and
 * writes a message into @err (if not NULL, @err_len bytes) when the configuration is invalid.
 */
oc_engine_t *oc_engine_new(const oc_config_t *config, char *err, size_t err_len);

/** Destroys the engine without calling the callback; oc_engine_free(NULL) does nothing. */
void oc_engine_free(oc_engine_t *engine);

/** Sets the flow-termination callback and its user data (NULL: flows end silently). */
void oc_engine_set_termination_cb(oc_engine_t *engine, oc_flow_termination_cb cb, void *user_data);

/**
 * Processes one packet. @ts_us is its capture time (microseconds since the epoch), @data its
 * @caplen captured bytes starting at the link-layer header of type @link (oc_link_t / DLT),
 * @wirelen its length on the wire. The engine clock is the newest packet time seen: an older
 * packet is counted normally but does not move the clock back. Flows due to end by the clock
 * end (callback) before the packet is processed. Runs per packet; allocates nothing.
 * @info may be NULL.
 */
oc_status_t oc_engine_process(oc_engine_t *engine, uint64_t ts_us, const uint8_t *data,
                              uint32_t caplen, uint32_t wirelen, int link,
                              oc_packet_info_t *info);

/** One packet for oc_engine_process_batch(): the arguments of oc_engine_process(). */
typedef struct oc_packet {
    uint64_t ts_us;
    const uint8_t *data;
    uint32_t caplen;
    uint32_t wirelen;
    int link;
} oc_packet_t;

/**
 * Processes @n packets in order with the same outcome as @n oc_engine_process() calls
 * (flows, records, counters, callback order), faster: it decodes and hashes a group of
 * packets first and prefetches their flow state, so that the memory latency of many
 * lookups overlaps. Every @data must stay valid until the call returns. Returns
 * OC_STATUS_STOPPED if the callback asked to stop; *@done (if not NULL) is then the number
 * of packets processed before it, as the per-packet calls would have processed them;
 * otherwise OC_STATUS_OK and *@done = @n. oc_engine_packet_flow() afterwards refers to the
 * last packet.
 */
oc_status_t oc_engine_process_batch(oc_engine_t *engine, const oc_packet_t *pkts, size_t n,
                                    size_t *done);

/**
 * A hash of the packet's IP addresses that is the same in both directions, for handing
 * packets to several engines (workers) so that each flow stays with one engine. Fragments
 * hash on the addresses of their fragmented header, so all fragments of a datagram and the
 * unfragmented packets of its flow go to the same engine (unless an outer tunnel header,
 * rather than the flow's own, was fragmented). 0 for packets that are not IP; a malformed
 * IP packet may get any value (any engine counts skipped packets the same). @tunnels_outer
 * as in oc_config_t. Allocates nothing.
 */
uint32_t oc_packet_spread_hash(int link, const uint8_t *data, uint32_t caplen,
                               bool tunnels_outer);

/**
 * The flow of the last attributed packet, with statistics up to and including it. Valid until
 * the next call into the engine. NULL if the last packet was skipped.
 */
const oc_flow_info_t *oc_engine_packet_flow(oc_engine_t *engine);

/**
 * Moves the clock forward to @now_us (never backward) and ends the flows that are due. Live
 * capture calls it on a timer so a quiet link still expires flows. Returns OC_STATUS_STOPPED
 * if the callback asked to stop.
 */
oc_status_t oc_engine_advance(oc_engine_t *engine, uint64_t now_us);

/** Ends every active flow with OC_END_FORCED (end of input, shutdown). */
oc_status_t oc_engine_flush(oc_engine_t *engine);

/** Engine clock: the newest time seen by process/advance, microseconds; 0 before any. */
uint64_t oc_engine_clock(const oc_engine_t *engine);

/** Copies the engine counters into @stats. */
void oc_engine_get_stats(const oc_engine_t *engine, oc_engine_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif /* OCELLUS_H */
