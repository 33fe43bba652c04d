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
                                      outbound = SYN to SYN/ACK, inbound = SYN/ACK to ACK */
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

/** A read-only view of a flow: key, statistics and (at termination) why it ended. */
typedef struct oc_flow_info {
    uint64_t id;                   /**< engine-unique, increasing with flow creation */
    oc_flow_key_t key;
    int64_t statistics[OC_STAT_N][OC_DIRECTION_N];
    int32_t icmp_type_code[OC_DIRECTION_N]; /**< -1 when not ICMP or no packet */
    oc_end_reason_t end_reason;    /**< OC_END_NONE while the flow is active */
    oc_tunnel_t tunnel;            /**< tunnel of the flow's first packet */
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
                                      keeps 32-bit counters: 4294967295 keeps records valid */
    uint64_t hash_seed;          /**< 0: chosen at random in oc_engine_new() */
    bool tunnels_outer;          /**< key flows on the outermost IP header instead of the
                                      innermost one of a tunnel (default false: inner) */
    uint32_t max_frag_datagrams; /**< IP datagrams whose fragments are tracked at once; 0 turns
                                      tracking off (later fragments are skipped) (1024) */
    uint32_t frag_timeout_s;     /**< how long a datagram's fragments are tracked (30) */
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
