/*
 * Names and numbers of protocols and fields, the port guess, and the dissector table.
 *
 * silkAppLabel follows YAF: the well-known port of the protocol; a mail session upgraded
 * by STARTTLS keeps its protocol's port (YAF labels it so too) while applicationName says
 * smtps/pop3s/imaps as nDPI does. Protocols without a well-known port use the port their
 * RFC or common practice names (RTP 5004, RTCP 5005).
 */
#include "config.h"

#include <stddef.h>

#include "dpi/dpi.h"

typedef struct {
    const char *name;
    uint16_t port;
} proto_desc_t;

static const proto_desc_t protos[OC_PROTO_N] = {
    [OC_PROTO_UNKNOWN] = {"unknown", 0},
    [OC_PROTO_HTTP] = {"http", 80},
    [OC_PROTO_TLS] = {"tls", 443},
    [OC_PROTO_DTLS] = {"dtls", 443},
    [OC_PROTO_QUIC] = {"quic", 443},
    [OC_PROTO_DNS] = {"dns", 53},
    [OC_PROTO_MDNS] = {"mdns", 5353},
    [OC_PROTO_LLMNR] = {"llmnr", 5355},
    [OC_PROTO_SSH] = {"ssh", 22},
    [OC_PROTO_SMTP] = {"smtp", 25},
    [OC_PROTO_SMTPS] = {"smtps", 25},
    [OC_PROTO_POP3] = {"pop3", 110},
    [OC_PROTO_POP3S] = {"pop3s", 110},
    [OC_PROTO_IMAP] = {"imap", 143},
    [OC_PROTO_IMAPS] = {"imaps", 143},
    [OC_PROTO_FTP_CONTROL] = {"ftp_control", 21},
    [OC_PROTO_FTP_DATA] = {"ftp_data", 20},
    [OC_PROTO_DHCP] = {"dhcp", 67},
    [OC_PROTO_DHCPV6] = {"dhcpv6", 547},
    [OC_PROTO_NTP] = {"ntp", 123},
    [OC_PROTO_SIP] = {"sip", 5060},
    [OC_PROTO_RTP] = {"rtp", 5004},
    [OC_PROTO_RTCP] = {"rtcp", 5005},
    [OC_PROTO_STUN] = {"stun", 3478},
    [OC_PROTO_BGP] = {"bgp", 179},
    [OC_PROTO_MQTT] = {"mqtt", 1883},
    [OC_PROTO_BITTORRENT] = {"bittorrent", 6881},
    [OC_PROTO_SSDP] = {"ssdp", 1900},
    [OC_PROTO_KERBEROS] = {"kerberos", 88},
    [OC_PROTO_MYSQL] = {"mysql", 3306},
    [OC_PROTO_GIT] = {"git", 9418},
    [OC_PROTO_TOR] = {"tor", 9001},
    [OC_PROTO_WIREGUARD] = {"wireguard", 51820},
    [OC_PROTO_GNUTELLA] = {"gnutella", 6346},
    [OC_PROTO_NETBIOS] = {"netbios", 137},
    [OC_PROTO_ZOOM] = {"zoom", 8801},
    [OC_PROTO_DISCORD] = {"discord", 0},   /* voice: no fixed port */
    [OC_PROTO_TELEGRAM] = {"telegram", 0}, /* calls: no fixed port */
    [OC_PROTO_DROPBOX] = {"dropbox", 17500},
    [OC_PROTO_SPOTIFY] = {"spotify", 57621},
    [OC_PROTO_NAT_PMP] = {"nat-pmp", 5351},
    [OC_PROTO_WSD] = {"wsd", 3702},
};

const char *oc_protocol_name(oc_protocol_t proto)
{
    if ((unsigned)proto >= OC_PROTO_N || protos[proto].name == NULL)
        return "unknown";
    return protos[proto].name;
}

uint16_t oc_protocol_port(oc_protocol_t proto)
{
    if ((unsigned)proto >= OC_PROTO_N)
        return 0;
    return protos[proto].port;
}

/* Ports that suggest a protocol. Only well-known, unambiguous ports: a guess is reported
 * apart from the label and never replaces it. */
typedef struct {
    uint16_t port;
    uint8_t l4;    /* 6, 17, or 0 for both */
    uint8_t proto;
} port_guess_t;

static const port_guess_t guesses[] = {
    {20, 6, OC_PROTO_FTP_DATA},   {21, 6, OC_PROTO_FTP_CONTROL}, {22, 6, OC_PROTO_SSH},
    {25, 6, OC_PROTO_SMTP},       {53, 0, OC_PROTO_DNS},         {67, 17, OC_PROTO_DHCP},
    {68, 17, OC_PROTO_DHCP},      {80, 6, OC_PROTO_HTTP},        {88, 0, OC_PROTO_KERBEROS},
    {110, 6, OC_PROTO_POP3},      {123, 17, OC_PROTO_NTP},       {143, 6, OC_PROTO_IMAP},
    {179, 6, OC_PROTO_BGP},       {443, 6, OC_PROTO_TLS},        {443, 17, OC_PROTO_QUIC},
    {546, 17, OC_PROTO_DHCPV6},   {547, 17, OC_PROTO_DHCPV6},    {587, 6, OC_PROTO_SMTP},
    {853, 6, OC_PROTO_TLS},       {993, 6, OC_PROTO_TLS},        {995, 6, OC_PROTO_TLS},
    {1883, 6, OC_PROTO_MQTT},     {1900, 17, OC_PROTO_SSDP},     {3306, 6, OC_PROTO_MYSQL},
    {3478, 0, OC_PROTO_STUN},     {5060, 0, OC_PROTO_SIP},       {5353, 17, OC_PROTO_MDNS},
    {5355, 17, OC_PROTO_LLMNR},   {6881, 0, OC_PROTO_BITTORRENT}, {8080, 6, OC_PROTO_HTTP},
    {8883, 6, OC_PROTO_TLS},      {9418, 6, OC_PROTO_GIT},       {51820, 17, OC_PROTO_WIREGUARD},
    {137, 17, OC_PROTO_NETBIOS},  {138, 17, OC_PROTO_NETBIOS},   {139, 6, OC_PROTO_NETBIOS},
    {3702, 17, OC_PROTO_WSD},     {5351, 17, OC_PROTO_NAT_PMP},  {6346, 0, OC_PROTO_GNUTELLA},
    {8801, 17, OC_PROTO_ZOOM},    {17500, 17, OC_PROTO_DROPBOX}, {57621, 17, OC_PROTO_SPOTIFY},
};

static oc_protocol_t guess_port(uint8_t l4, uint16_t port)
{
    for (size_t i = 0; i < sizeof guesses / sizeof guesses[0]; i++)
        if (guesses[i].port == port && (guesses[i].l4 == 0 || guesses[i].l4 == l4))
            return (oc_protocol_t)guesses[i].proto;
    return OC_PROTO_UNKNOWN;
}

oc_protocol_t oc_protocol_guess(uint8_t l4_protocol, uint16_t src_port, uint16_t dst_port)
{
    if (l4_protocol != 6 && l4_protocol != 17)
        return OC_PROTO_UNKNOWN;
    uint16_t lo = src_port < dst_port ? src_port : dst_port;
    uint16_t hi = src_port < dst_port ? dst_port : src_port;
    oc_protocol_t g = guess_port(l4_protocol, lo);
    return g != OC_PROTO_UNKNOWN ? g : guess_port(l4_protocol, hi);
}

typedef struct {
    const char *name;
    bool number;
} field_desc_t;

static const field_desc_t fields[OC_FIELD_N] = {
    [OC_FIELD_HTTP_METHOD] = {"httpRequestMethod", false},
    [OC_FIELD_HTTP_HOST] = {"httpRequestHost", false},
    [OC_FIELD_HTTP_TARGET] = {"httpRequestTarget", false},
    [OC_FIELD_HTTP_USER_AGENT] = {"httpUserAgent", false},
    [OC_FIELD_HTTP_STATUS] = {"httpStatusCode", true},
    [OC_FIELD_HTTP_CONTENT_TYPE] = {"httpContentType", false},
    [OC_FIELD_TLS_SNI] = {"sslServerName", false},
    [OC_FIELD_TLS_CLIENT_VERSION] = {"tlsClientVersion", false},
    [OC_FIELD_TLS_VERSION] = {"tlsVersion", false},
    [OC_FIELD_TLS_ALPN] = {"tlsAlpn", false},
    [OC_FIELD_TLS_CIPHER] = {"sslServerCipher", true},
    [OC_FIELD_TLS_JA3] = {"tlsJa3", false},
    [OC_FIELD_TLS_JA4] = {"tlsJa4", false},
    [OC_FIELD_TLS_CERT_SUBJECT] = {"tlsCertSubject", false},
    [OC_FIELD_TLS_CERT_ISSUER] = {"tlsCertIssuer", false},
    [OC_FIELD_QUIC_VERSION] = {"quicVersion", true},
    [OC_FIELD_DNS_QNAME] = {"dnsQName", false},
    [OC_FIELD_DNS_QTYPE] = {"dnsQRType", true},
    [OC_FIELD_DNS_RCODE] = {"dnsResponseCode", true},
    [OC_FIELD_DNS_ANSWERS] = {"dnsAnswers", false},
    [OC_FIELD_SSH_CLIENT] = {"sshVersion", false},
    [OC_FIELD_SSH_SERVER] = {"reverseSshVersion", false},
    [OC_FIELD_SMTP_HELO] = {"smtpHello", false},
    [OC_FIELD_SMTP_FROM] = {"smtpFrom", false},
    [OC_FIELD_SMTP_TO] = {"smtpTo", false},
    [OC_FIELD_STARTTLS] = {"startTLS", true},
    [OC_FIELD_SIP_METHOD] = {"sipMethod", false},
    [OC_FIELD_SIP_FROM] = {"sipFrom", false},
    [OC_FIELD_SIP_TO] = {"sipTo", false},
    [OC_FIELD_SIP_CALL_ID] = {"sipCallId", false},
    [OC_FIELD_SIP_USER_AGENT] = {"sipUserAgent", false},
    [OC_FIELD_DHCP_HOST_NAME] = {"dhcpHostName", false},
    [OC_FIELD_DHCP_VENDOR_CLASS] = {"dhcpVendorCode", false},
    [OC_FIELD_DHCP_REQUESTED_ADDR] = {"dhcpRequestedAddress", false},
    [OC_FIELD_MQTT_CLIENT_ID] = {"mqttClientId", false},
    [OC_FIELD_MQTT_TOPIC] = {"mqttTopic", false},
    [OC_FIELD_BITTORRENT_INFO_HASH] = {"bittorrentInfoHash", false},
    [OC_FIELD_NTP_VERSION] = {"ntpVersion", true},
    [OC_FIELD_NTP_STRATUM] = {"ntpStratum", true},
};

const char *oc_field_name(oc_field_t field)
{
    if ((unsigned)field >= OC_FIELD_N || fields[field].name == NULL)
        return "unknown";
    return fields[field].name;
}

bool oc_field_is_number(oc_field_t field)
{
    return (unsigned)field < OC_FIELD_N && fields[field].number;
}

const char *oc_fields_get(const oc_fields_t *f, oc_field_t field, size_t *len)
{
    if (f == NULL || (unsigned)field >= OC_FIELD_N || f->len[field] == 0 ||
        (size_t)f->off[field] + f->len[field] > OC_FIELDS_BYTES)
        return NULL;
    if (len != NULL)
        *len = f->len[field];
    return f->buf + f->off[field];
}

/* Tried in this order: dissectors with strong signatures first, heuristic ones (RTP,
 * uTP, Tor, WireGuard) last so they never take a flow a precise one would claim. */
const dpi_dissector_t dpi_dissectors[] = {
    {"http", dpi_http, true, false},
    {"tls", dpi_tls, true, false},
    {"dtls", dpi_dtls, false, true},
    {"quic", dpi_quic, false, true},
    {"ssh", dpi_ssh, true, false},
    {"smtp", dpi_smtp, true, false},
    {"pop3", dpi_pop3, true, false},
    {"imap", dpi_imap, true, false},
    {"ftp", dpi_ftp, true, false},
    {"sip", dpi_sip, true, true},
    {"ssdp", dpi_ssdp, false, true},
    {"stun", dpi_stun, true, true},
    {"bittorrent", dpi_bittorrent, true, true},
    {"git", dpi_git, true, false},
    {"gnutella", dpi_gnutella, true, true},
    {"netbios", dpi_netbios, true, true},
    {"discord", dpi_discord, false, true},
    {"telegram", dpi_telegram, false, true},
    {"zoom", dpi_zoom, false, true},
    {"dropbox", dpi_dropbox, false, true},
    {"spotify", dpi_spotify, false, true},
    {"wsd", dpi_wsd, false, true},
    {"nat-pmp", dpi_natpmp, false, true},
    {"bgp", dpi_bgp, true, false},
    {"kerberos", dpi_kerberos, true, true},
    {"mysql", dpi_mysql, true, false},
    {"mqtt", dpi_mqtt, true, false},
    {"dhcp", dpi_dhcp, false, true},
    {"dns", dpi_dns, true, true},
    {"ntp", dpi_ntp, false, true},
    {"dhcpv6", dpi_dhcpv6, false, true},
    /* Heuristics: keep these last. */
    {"rtp", dpi_rtp, true, true},
    {"bittorrent_utp", dpi_bittorrent_utp, false, true},
    {"wireguard", dpi_wireguard, false, true},
};
const unsigned dpi_n_dissectors = sizeof dpi_dissectors / sizeof dpi_dissectors[0];
