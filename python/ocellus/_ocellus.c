/*
 * CPython extension module ocellus._ocellus: the flow engine in-process, in Peafowl's Python
 * shape (an Engine with setFlowManager() and a per-packet call whose result answers
 * getStatistic()) and in the analyst's shape (ocellus.flows(path) iterating finished flows).
 *
 * The packet loop stays in C: captures are read by the command's own capture front-end
 * (src/capture, libpcap) straight into the engine, and Python is entered only once per
 * finished flow (a FlowManager call or one Flow appended to the reader's batch). Records are
 * rendered by the command's JSON formatter (map_json_format) and decoded, so to_record() has
 * exactly the keys and presence rules of `ocellus -o json:`, now and as fields are added.
 *
 * Errors: a Python exception raised while the engine runs (onTermination, out of memory) makes
 * the termination callback return non-zero, which stops the engine; later flows of that call
 * are not given to Python, and the exception comes out of the Engine method once the C call
 * has returned. The callback never calls Python with an exception pending.
 */
#define PY_SSIZE_T_CLEAN
#include "config.h"

#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>

#include <ocellus/ocellus.h>
#include "capture/cap.h"
#include "map/map_json.h"

/* Packets per cap_dispatch() call: how often a long read checks for Ctrl-C. */
enum { READ_BATCH_PACKETS = 4096 };

/* Names in the order of the C enums; the Python IntEnums are built from them. */
static const char *const stat_names[] = {
    "PACKETS",          "OCTETS",          "TIMESTAMP_FIRST", "TIMESTAMP_LAST",
    "TCP_FLAGS_INITIAL", "TCP_FLAGS_UNION", "TCP_SYN",         "TCP_FIN",
    "TCP_RST",          "TCP_RETRANSMISSIONS", "TCP_ZERO_WINDOW", "TCP_WINDOW_SCALE",
    "TCP_RTT",          "L7_PACKETS",      "L7_OCTETS",
};
_Static_assert(sizeof stat_names / sizeof stat_names[0] == OC_STAT_N,
               "stat_names must mirror oc_stat_t");
static const char *const direction_names[] = {"OUTBOUND", "INBOUND"};
_Static_assert(sizeof direction_names / sizeof direction_names[0] == OC_DIRECTION_N,
               "direction_names must mirror oc_direction_t");
static const char *const end_reason_names[] = {"NONE", "IDLE", "ACTIVE", "TCP", "FORCED",
                                               "RESOURCES"};
_Static_assert(OC_END_RESOURCES == 5, "end_reason_names must mirror oc_end_reason_t");

/* Module state kept in statics: the module is single-phase and never re-initialised. */
static PyObject *oc_error;          /* ocellus.Error */
static PyObject *json_loads;        /* json.loads, to decode map_json_format()'s line */
static PyObject *enum_statistic, *enum_direction, *enum_end_reason; /* set by __init__.py */

/* ---- Flow: a finished flow (or a packet's flow), copied out of the engine ------------- */

typedef struct {
    PyObject_HEAD
    oc_flow_info_t info;
    oc_fields_t *fields; /* own copy: the engine reuses its field slot once the flow ends */
} flow_object_t;

static PyTypeObject flow_type;

static PyObject *flow_wrap(const oc_flow_info_t *info)
{
    flow_object_t *f = PyObject_New(flow_object_t, &flow_type);
    if (f == NULL)
        return NULL;
    f->info = *info;
    f->fields = NULL;
    if (info->fields != NULL) {
        size_t len = offsetof(oc_fields_t, buf) + info->fields->used;
        f->fields = PyMem_Malloc(sizeof *f->fields);
        if (f->fields == NULL) {
            Py_DECREF(f);
            return PyErr_NoMemory();
        }
        memcpy(f->fields, info->fields, len);
    }
    f->info.fields = f->fields;
    return (PyObject *)f;
}

static void flow_dealloc(PyObject *self)
{
    PyMem_Free(((flow_object_t *)self)->fields);
    PyObject_Free(self);
}

/* Wraps @value in @enum_type when __init__.py has registered it, else a plain int. */
static PyObject *enum_value(PyObject *enum_type, long value)
{
    PyObject *v = PyLong_FromLong(value);
    if (v == NULL || enum_type == NULL)
        return v;
    PyObject *e = PyObject_CallOneArg(enum_type, v);
    Py_DECREF(v);
    return e;
}

static bool parse_stat_dir(PyObject *args, int *stat, int *dir)
{
    if (!PyArg_ParseTuple(args, "ii:getStatistic", stat, dir))
        return false;
    if (*stat < 0 || *stat >= OC_STAT_N) {
        PyErr_Format(PyExc_ValueError, "statistic %d is outside 0..%d (ocellus.Statistic)",
                     *stat, OC_STAT_N - 1);
        return false;
    }
    if (*dir < 0 || *dir >= OC_DIRECTION_N) {
        PyErr_Format(PyExc_ValueError, "direction %d is not 0 or 1 (ocellus.Direction)", *dir);
        return false;
    }
    return true;
}

static PyObject *flow_get_statistic(PyObject *self, PyObject *args)
{
    int stat, dir;
    if (!parse_stat_dir(args, &stat, &dir))
        return NULL;
    return PyLong_FromLongLong(((flow_object_t *)self)->info.statistics[stat][dir]);
}

static PyObject *flow_to_record(PyObject *self, PyObject *unused)
{
    (void)unused;
    char line[MAP_JSON_MAX];
    size_t n = map_json_format(&((flow_object_t *)self)->info, line, sizeof line);
    PyObject *text = PyUnicode_DecodeUTF8(line, (Py_ssize_t)n, "strict");
    if (text == NULL)
        return NULL;
    PyObject *rec = PyObject_CallOneArg(json_loads, text);
    Py_DECREF(text);
    return rec;
}

static PyObject *addr_text(int family, const uint8_t *addr)
{
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family == OC_FAMILY_IPV6 ? AF_INET6 : AF_INET, addr, text, sizeof text) == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyUnicode_FromString(text);
}

static const oc_flow_info_t *flow_info(PyObject *self)
{
    return &((flow_object_t *)self)->info;
}

static PyObject *flow_get_id(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(flow_info(self)->id);
}

static PyObject *flow_get_family(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(flow_info(self)->key.family);
}

static PyObject *flow_get_protocol(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(flow_info(self)->key.protocol);
}

static PyObject *flow_get_src_addr(PyObject *self, void *c)
{
    (void)c;
    return addr_text(flow_info(self)->key.family, flow_info(self)->key.src_addr);
}

static PyObject *flow_get_dst_addr(PyObject *self, void *c)
{
    (void)c;
    return addr_text(flow_info(self)->key.family, flow_info(self)->key.dst_addr);
}

static PyObject *flow_get_src_port(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(flow_info(self)->key.src_port);
}

static PyObject *flow_get_dst_port(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(flow_info(self)->key.dst_port);
}

static PyObject *flow_get_vlan_id(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(flow_info(self)->key.vlan_id);
}

static PyObject *flow_get_inner_vlan_id(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(flow_info(self)->key.inner_vlan_id);
}

static PyObject *flow_get_end_reason(PyObject *self, void *c)
{
    (void)c;
    return enum_value(enum_end_reason, flow_info(self)->end_reason);
}

/* First and last packet of the record over the directions that have packets (µs). */
static void flow_span(const oc_flow_info_t *in, int64_t *start, int64_t *end)
{
    *start = 0;
    *end = 0;
    bool any = false;
    for (unsigned d = 0; d < OC_DIRECTION_N; d++) {
        if (in->statistics[OC_STAT_PACKETS][d] <= 0)
            continue;
        int64_t first = in->statistics[OC_STAT_TIMESTAMP_FIRST][d];
        int64_t last = in->statistics[OC_STAT_TIMESTAMP_LAST][d];
        if (!any || first < *start)
            *start = first;
        if (!any || last > *end)
            *end = last;
        any = true;
    }
}

static PyObject *flow_get_start_us(PyObject *self, void *c)
{
    (void)c;
    int64_t s, e;
    flow_span(flow_info(self), &s, &e);
    return PyLong_FromLongLong(s);
}

static PyObject *flow_get_end_us(PyObject *self, void *c)
{
    (void)c;
    int64_t s, e;
    flow_span(flow_info(self), &s, &e);
    return PyLong_FromLongLong(e);
}

static PyObject *flow_get_statistics(PyObject *self, void *c)
{
    (void)c;
    const oc_flow_info_t *in = flow_info(self);
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (unsigned s = 0; s < OC_STAT_N; s++) {
        PyObject *v = Py_BuildValue("(LL)", (long long)in->statistics[s][OC_DIRECTION_OUTBOUND],
                                    (long long)in->statistics[s][OC_DIRECTION_INBOUND]);
        if (v == NULL || PyDict_SetItemString(d, stat_names[s], v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *flow_get_icmp_type_code(PyObject *self, void *c)
{
    (void)c;
    const oc_flow_info_t *in = flow_info(self);
    return Py_BuildValue("(ii)", (int)in->icmp_type_code[OC_DIRECTION_OUTBOUND],
                         (int)in->icmp_type_code[OC_DIRECTION_INBOUND]);
}

static PyObject *flow_get_tunnel(PyObject *self, void *c)
{
    (void)c;
    const oc_tunnel_t *t = &flow_info(self)->tunnel;
    if (t->type == OC_TUNNEL_NONE)
        Py_RETURN_NONE;
    static const char *const names[] = {"none", "ipip", "gre", "vxlan", "gtpu", "teredo"};
    const char *name = t->type < sizeof names / sizeof names[0] ? names[t->type] : "unknown";
    PyObject *src = addr_text(t->family, t->src_addr);
    PyObject *dst = src != NULL ? addr_text(t->family, t->dst_addr) : NULL;
    PyObject *r = dst != NULL ? Py_BuildValue("{s:s,s:O,s:O}", "type", name, "src_addr", src,
                                              "dst_addr", dst)
                              : NULL;
    Py_XDECREF(src);
    Py_XDECREF(dst);
    return r;
}

static PyObject *flow_repr(PyObject *self)
{
    const oc_flow_info_t *in = flow_info(self);
    PyObject *src = addr_text(in->key.family, in->key.src_addr);
    PyObject *dst = src != NULL ? addr_text(in->key.family, in->key.dst_addr) : NULL;
    PyObject *r = NULL;
    if (dst != NULL)
        r = PyUnicode_FromFormat("<ocellus.Flow %llu proto %d %U:%d -> %U:%d packets %lld/%lld "
                                 "end %d>",
                                 (unsigned long long)in->id, in->key.protocol, src,
                                 in->key.src_port, dst, in->key.dst_port,
                                 (long long)in->statistics[OC_STAT_PACKETS][0],
                                 (long long)in->statistics[OC_STAT_PACKETS][1],
                                 (int)in->end_reason);
    Py_XDECREF(src);
    Py_XDECREF(dst);
    return r;
}

static PyMethodDef flow_methods[] = {
    {"getStatistic", flow_get_statistic, METH_VARARGS,
     "getStatistic(statistic, direction) -> int: statistics[statistic][direction]"},
    {"to_record", flow_to_record, METH_NOARGS,
     "The flow as a dict keyed like the command's JSON output (`ocellus -o json:`)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef flow_getset[] = {
    {"id", flow_get_id, NULL, "engine-unique flow number (shared by active-timeout cuts)", NULL},
    {"family", flow_get_family, NULL, "4 or 6", NULL},
    {"protocol", flow_get_protocol, NULL, "IP protocol number", NULL},
    {"src_addr", flow_get_src_addr, NULL, "source address (the flow's first sender)", NULL},
    {"dst_addr", flow_get_dst_addr, NULL, "destination address", NULL},
    {"src_port", flow_get_src_port, NULL, "source port, 0 without ports", NULL},
    {"dst_port", flow_get_dst_port, NULL, "destination port, 0 without ports", NULL},
    {"vlan_id", flow_get_vlan_id, NULL, "outer 802.1Q VLAN id, 0 when untagged", NULL},
    {"inner_vlan_id", flow_get_inner_vlan_id, NULL, "inner VLAN id with QinQ, else 0", NULL},
    {"end_reason", flow_get_end_reason, NULL, "ocellus.EndReason (NONE while active)", NULL},
    {"start_us", flow_get_start_us, NULL, "first packet, µs since the epoch", NULL},
    {"end_us", flow_get_end_us, NULL, "last packet, µs since the epoch", NULL},
    {"statistics", flow_get_statistics, NULL,
     "dict: Statistic name -> (outbound, inbound)", NULL},
    {"icmp_type_code", flow_get_icmp_type_code, NULL,
     "(outbound, inbound) type*256+code of ICMP flows, -1 when none", NULL},
    {"tunnel", flow_get_tunnel, NULL, "None, or the first packet's tunnel as a dict", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject flow_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ocellus.Flow",
    .tp_basicsize = sizeof(flow_object_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A flow record: 5-tuple, per-direction statistics, times and end reason.",
    .tp_dealloc = flow_dealloc,
    .tp_repr = flow_repr,
    .tp_methods = flow_methods,
    .tp_getset = flow_getset,
};

/* ---- PacketInfo: what Engine.process() says about one packet ------------------------ */

typedef struct {
    PyObject_HEAD
    oc_status_t status;
    oc_packet_info_t packet;
    PyObject *flow; /* Flow with the statistics up to this packet, or None */
} packet_object_t;

static PyTypeObject packet_type;

static void packet_dealloc(PyObject *self)
{
    Py_XDECREF(((packet_object_t *)self)->flow);
    PyObject_Free(self);
}

static PyObject *packet_get_statistic(PyObject *self, PyObject *args)
{
    packet_object_t *p = (packet_object_t *)self;
    int stat, dir;
    if (!parse_stat_dir(args, &stat, &dir))
        return NULL;
    if (p->flow == Py_None) {
        PyErr_Format(oc_error, "the packet was not attributed to a flow (%s)",
                     p->status == OC_STATUS_STOPPED ? "engine stopped"
                                                    : oc_skip_name(p->packet.skip));
        return NULL;
    }
    return PyLong_FromLongLong(((flow_object_t *)p->flow)->info.statistics[stat][dir]);
}

static PyObject *packet_get_skip(PyObject *self, void *c)
{
    (void)c;
    packet_object_t *p = (packet_object_t *)self;
    if (p->packet.skip == OC_SKIP_NONE)
        Py_RETURN_NONE;
    return PyUnicode_FromString(oc_skip_name(p->packet.skip));
}

static PyObject *packet_get_direction(PyObject *self, void *c)
{
    (void)c;
    return enum_value(enum_direction, ((packet_object_t *)self)->packet.direction);
}

static PyObject *packet_get_new_flow(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(((packet_object_t *)self)->packet.new_flow);
}

static PyObject *packet_get_status(PyObject *self, void *c)
{
    (void)c;
    static const char *const names[] = {"ok", "skipped", "stopped"};
    return PyUnicode_FromString(names[((packet_object_t *)self)->status]);
}

static PyMemberDef packet_members[] = {
    {"flow", T_OBJECT, offsetof(packet_object_t, flow), READONLY,
     "the packet's flow (ocellus.Flow, statistics up to this packet) or None"},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef packet_getset[] = {
    {"status", packet_get_status, NULL, "'ok', 'skipped' or 'stopped'", NULL},
    {"skip", packet_get_skip, NULL, "why the packet was skipped, None when attributed", NULL},
    {"direction", packet_get_direction, NULL, "ocellus.Direction of the packet", NULL},
    {"new_flow", packet_get_new_flow, NULL, "the packet started its flow", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef packet_methods[] = {
    {"getStatistic", packet_get_statistic, METH_VARARGS,
     "getStatistic(statistic, direction) -> int: the flow's statistic up to this packet"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject packet_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ocellus.PacketInfo",
    .tp_basicsize = sizeof(packet_object_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Result of Engine.process(): the packet's direction and its flow so far.",
    .tp_dealloc = packet_dealloc,
    .tp_methods = packet_methods,
    .tp_members = packet_members,
    .tp_getset = packet_getset,
};

/* ---- Engine ----------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    oc_engine_t *engine;
    PyObject *manager;  /* FlowManager or NULL */
    PyObject *sink;     /* list receiving Flows instead of the manager (a reader), or NULL */
    bool failed;        /* a Python exception is pending from the callback */
    bool busy;          /* inside a C call: Python code must not re-enter the engine */
    cap_t *reading;     /* capture being read by processFile(), to break out on failure */
} engine_object_t;

static PyTypeObject engine_type;

static int engine_on_end(const oc_flow_info_t *info, void *user)
{
    engine_object_t *self = user;
    if (self->failed)
        return 1;
    PyObject *target = self->sink != NULL ? self->sink : self->manager;
    if (target == NULL)
        return 0;
    PyObject *flow = flow_wrap(info);
    PyObject *r = NULL;
    if (flow != NULL) {
        if (self->sink != NULL)
            r = PyList_Append(self->sink, flow) == 0 ? Py_NewRef(Py_None) : NULL;
        else
            r = PyObject_CallMethod(self->manager, "onTermination", "O", flow);
        Py_DECREF(flow);
    }
    if (r == NULL) {
        self->failed = true;
        if (self->reading != NULL)
            cap_break(self->reading);
        return 1;
    }
    Py_DECREF(r);
    return 0;
}

/* Called after each C engine call: turns a failure in the callback into NULL. */
static bool engine_check(engine_object_t *self)
{
    if (!self->failed)
        return true;
    self->failed = false;
    return false;
}

static bool engine_enter(engine_object_t *self)
{
    if (self->engine == NULL) {
        PyErr_SetString(oc_error, "the engine is not initialised");
        return false;
    }
    if (self->busy) {
        PyErr_SetString(oc_error, "the engine is already running (called from onTermination?)");
        return false;
    }
    self->busy = true;
    return true;
}

static PyObject *engine_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    engine_object_t *self = (engine_object_t *)type->tp_alloc(type, 0);
    return (PyObject *)self;
}

static int engine_init(PyObject *pself, PyObject *args, PyObject *kw)
{
    engine_object_t *self = (engine_object_t *)pself;
    static char *kwlist[] = {"idle_timeout", "active_timeout", "tcp_linger", "max_flows",
                             "max_record_octets", "tunnels", "max_frag_datagrams",
                             "frag_timeout", "hash_seed", NULL};
    oc_config_t cfg;
    oc_config_init(&cfg);
    const char *tunnels = "inner";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$IIIIKsIIK:Engine", kwlist,
                                     &cfg.idle_timeout_s, &cfg.active_timeout_s,
                                     &cfg.tcp_linger_s, &cfg.max_flows, &cfg.max_record_octets,
                                     &tunnels, &cfg.max_frag_datagrams, &cfg.frag_timeout_s,
                                     &cfg.hash_seed))
        return -1;
    if (strcmp(tunnels, "inner") == 0) {
        cfg.tunnels_outer = false;
    } else if (strcmp(tunnels, "outer") == 0) {
        cfg.tunnels_outer = true;
    } else {
        PyErr_Format(PyExc_ValueError, "tunnels='%s': expected 'inner' or 'outer'", tunnels);
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(oc_error, "the engine is running");
        return -1;
    }
    char err[256] = "";
    oc_engine_t *e = oc_engine_new(&cfg, err, sizeof err);
    if (e == NULL) {
        PyErr_SetString(PyExc_ValueError, err[0] != '\0' ? err : "cannot create the engine");
        return -1;
    }
    oc_engine_free(self->engine);
    self->engine = e;
    oc_engine_set_termination_cb(e, engine_on_end, self);
    return 0;
}

static int engine_traverse(PyObject *pself, visitproc visit, void *arg)
{
    engine_object_t *self = (engine_object_t *)pself;
    Py_VISIT(self->manager);
    Py_VISIT(self->sink);
    return 0;
}

static int engine_clear(PyObject *pself)
{
    engine_object_t *self = (engine_object_t *)pself;
    Py_CLEAR(self->manager);
    Py_CLEAR(self->sink);
    return 0;
}

static void engine_dealloc(PyObject *pself)
{
    engine_object_t *self = (engine_object_t *)pself;
    PyObject_GC_UnTrack(pself);
    engine_clear(pself);
    oc_engine_free(self->engine);
    Py_TYPE(pself)->tp_free(pself);
}

static PyObject *engine_set_flow_manager(PyObject *pself, PyObject *manager)
{
    engine_object_t *self = (engine_object_t *)pself;
    if (manager != Py_None && !PyObject_HasAttrString(manager, "onTermination")) {
        PyErr_SetString(PyExc_TypeError,
                        "setFlowManager() needs an ocellus.FlowManager (with onTermination) "
                        "or None");
        return NULL;
    }
    Py_XSETREF(self->manager, manager == Py_None ? NULL : Py_NewRef(manager));
    Py_RETURN_NONE;
}

static PyObject *engine_process(PyObject *pself, PyObject *args, PyObject *kw)
{
    engine_object_t *self = (engine_object_t *)pself;
    static char *kwlist[] = {"data", "ts_us", "link", "wirelen", NULL};
    Py_buffer data;
    unsigned long long ts_us;
    int link = OC_LINK_ETHERNET;
    PyObject *wirelen_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*K|iO:process", kwlist, &data, &ts_us, &link,
                                     &wirelen_obj))
        return NULL;
    uint32_t caplen = data.len > UINT32_MAX ? UINT32_MAX : (uint32_t)data.len;
    uint32_t wirelen = caplen;
    if (wirelen_obj != Py_None) {
        unsigned long w = PyLong_AsUnsignedLong(wirelen_obj);
        if (PyErr_Occurred() || w > UINT32_MAX) {
            PyBuffer_Release(&data);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_OverflowError, "wirelen does not fit 32 bits");
            return NULL;
        }
        wirelen = (uint32_t)w;
    }
    if (!engine_enter(self)) {
        PyBuffer_Release(&data);
        return NULL;
    }
    packet_object_t *p = PyObject_New(packet_object_t, &packet_type);
    if (p == NULL) {
        self->busy = false;
        PyBuffer_Release(&data);
        return NULL;
    }
    p->flow = NULL;
    memset(&p->packet, 0, sizeof p->packet);
    p->status = oc_engine_process(self->engine, ts_us, data.buf, caplen, wirelen, link,
                                  &p->packet);
    self->busy = false;
    PyBuffer_Release(&data);
    if (!engine_check(self)) {
        Py_DECREF(p);
        return NULL;
    }
    const oc_flow_info_t *f =
        p->status == OC_STATUS_OK ? oc_engine_packet_flow(self->engine) : NULL;
    p->flow = f != NULL ? flow_wrap(f) : Py_NewRef(Py_None);
    if (p->flow == NULL) {
        Py_DECREF(p);
        return NULL;
    }
    return (PyObject *)p;
}

/* Raises the Python exception for a capture error: FileNotFoundError for a missing file. */
static void raise_capture_error(const GError *error, const char *path)
{
    struct stat st;
    if (error->domain == CAP_ERROR && error->code == CAP_ERROR_OPEN && path != NULL &&
        stat(path, &st) != 0 && errno == ENOENT) {
        PyObject *exc_args = Py_BuildValue("(isy)", ENOENT, error->message, path);
        if (exc_args != NULL) {
            PyErr_SetObject(PyExc_FileNotFoundError, exc_args);
            Py_DECREF(exc_args);
        }
        return;
    }
    PyErr_SetString(oc_error, error->message);
}

static void on_packet(void *user, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen, int dlt)
{
    engine_object_t *self = user;
    if (self->failed)
        return;
    oc_engine_process(self->engine, ts_us, data, caplen, wirelen, dlt, NULL);
}

static PyObject *engine_process_file(PyObject *pself, PyObject *args, PyObject *kw)
{
    engine_object_t *self = (engine_object_t *)pself;
    static char *kwlist[] = {"path", "filter", NULL};
    PyObject *path = NULL;
    const char *filter = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|z:processFile", kwlist, PyUnicode_FSConverter,
                                     &path, &filter))
        return NULL;
    GError *error = NULL;
    cap_t *cap = cap_open_file(PyBytes_AS_STRING(path), filter, &error);
    if (cap == NULL) {
        raise_capture_error(error, PyBytes_AS_STRING(path));
        g_error_free(error);
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    if (!engine_enter(self)) {
        cap_free(cap);
        return NULL;
    }
    oc_engine_stats_t before, after;
    oc_engine_get_stats(self->engine, &before);
    self->reading = cap;
    bool ok = true;
    for (;;) {
        cap_status_t st = cap_dispatch(cap, READ_BATCH_PACKETS, 0, on_packet, self, &error);
        if (self->failed)
            break;
        if (st == CAP_STATUS_ERROR) {
            raise_capture_error(error, NULL);
            g_error_free(error);
            ok = false;
            break;
        }
        if (st == CAP_STATUS_EOF)
            break;
        if (PyErr_CheckSignals() < 0) {
            ok = false;
            break;
        }
    }
    self->reading = NULL;
    self->busy = false;
    cap_free(cap);
    if (!engine_check(self) || !ok)
        return NULL;
    oc_engine_get_stats(self->engine, &after);
    return PyLong_FromUnsignedLongLong(after.packets - before.packets);
}

static PyObject *engine_advance(PyObject *pself, PyObject *arg)
{
    engine_object_t *self = (engine_object_t *)pself;
    unsigned long long now = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred() || !engine_enter(self))
        return NULL;
    oc_status_t st = oc_engine_advance(self->engine, now);
    self->busy = false;
    if (!engine_check(self))
        return NULL;
    return PyBool_FromLong(st != OC_STATUS_STOPPED);
}

static PyObject *engine_flush(PyObject *pself, PyObject *unused)
{
    (void)unused;
    engine_object_t *self = (engine_object_t *)pself;
    if (!engine_enter(self))
        return NULL;
    oc_status_t st = oc_engine_flush(self->engine);
    self->busy = false;
    if (!engine_check(self))
        return NULL;
    return PyBool_FromLong(st != OC_STATUS_STOPPED);
}

static PyObject *engine_stats(PyObject *pself, PyObject *unused)
{
    (void)unused;
    engine_object_t *self = (engine_object_t *)pself;
    if (self->engine == NULL) {
        PyErr_SetString(oc_error, "the engine is not initialised");
        return NULL;
    }
    oc_engine_stats_t st;
    oc_engine_get_stats(self->engine, &st);
    PyObject *skipped = PyDict_New(), *ended = PyDict_New();
    if (skipped == NULL || ended == NULL)
        goto fail;
    for (int i = 1; i < OC_SKIP_N; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(st.packets_skipped[i]);
        if (v == NULL || PyDict_SetItemString(skipped, oc_skip_name((oc_skip_t)i), v) < 0) {
            Py_XDECREF(v);
            goto fail;
        }
        Py_DECREF(v);
    }
    for (int i = 1; i <= OC_END_RESOURCES; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(st.records_ended[i]);
        if (v == NULL || PyDict_SetItemString(ended, end_reason_names[i], v) < 0) {
            Py_XDECREF(v);
            goto fail;
        }
        Py_DECREF(v);
    }
    return Py_BuildValue("{s:K,s:K,s:N,s:K,s:K,s:K,s:N}", "packets",
                         (unsigned long long)st.packets, "packets_attributed",
                         (unsigned long long)st.packets_attributed, "packets_skipped", skipped,
                         "packets_out_of_order", (unsigned long long)st.packets_out_of_order,
                         "flows_created", (unsigned long long)st.flows_created, "flows_active",
                         (unsigned long long)st.flows_active, "records_ended", ended);
fail:
    Py_XDECREF(skipped);
    Py_XDECREF(ended);
    return NULL;
}

static PyObject *engine_get_clock(PyObject *pself, void *c)
{
    (void)c;
    engine_object_t *self = (engine_object_t *)pself;
    return PyLong_FromUnsignedLongLong(self->engine != NULL ? oc_engine_clock(self->engine) : 0);
}

static PyMethodDef engine_methods[] = {
    {"setFlowManager", engine_set_flow_manager, METH_O,
     "setFlowManager(fm): fm.onTermination(flow) is called as each flow ends (None: nobody)"},
    {"process", (PyCFunction)(void (*)(void))engine_process, METH_VARARGS | METH_KEYWORDS,
     "process(data, ts_us, link=Link.ETHERNET, wirelen=None) -> PacketInfo"},
    {"processFile", (PyCFunction)(void (*)(void))engine_process_file,
     METH_VARARGS | METH_KEYWORDS,
     "processFile(path, filter=None) -> packets read: the whole capture, read in C"},
    {"advance", engine_advance, METH_O,
     "advance(now_us): move the clock forward, ending due flows; False once stopped"},
    {"flush", engine_flush, METH_NOARGS, "flush(): end every active flow (end of input)"},
    {"stats", engine_stats, METH_NOARGS, "stats() -> dict of the engine counters"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef engine_getset[] = {
    {"clock", engine_get_clock, NULL, "engine clock, µs (newest packet time seen)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject engine_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ocellus.Engine",
    .tp_basicsize = sizeof(engine_object_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Engine(*, idle_timeout=30, active_timeout=300, tcp_linger=2, max_flows=262144, "
              "max_record_octets=0, tunnels='inner', max_frag_datagrams=1024, frag_timeout=30, "
              "hash_seed=0): the ocellus flow engine.",
    .tp_new = engine_new,
    .tp_init = engine_init,
    .tp_dealloc = engine_dealloc,
    .tp_traverse = engine_traverse,
    .tp_clear = engine_clear,
    .tp_methods = engine_methods,
    .tp_getset = engine_getset,
};

/* ---- FlowReader: ocellus.flows(path) ----------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *engine;   /* engine_object_t, owned */
    cap_t *cap;         /* NULL once the input is exhausted or closed */
    PyObject *pending;  /* list of Flows ended by the last batch */
    Py_ssize_t next;    /* index of the next pending Flow to yield */
    char *error;        /* capture error to raise once the flows read before it are out */
    bool flushed;
} reader_object_t;

static PyTypeObject reader_type;

static void reader_close_cap(reader_object_t *self)
{
    cap_free(self->cap);
    self->cap = NULL;
}

static PyObject *reader_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "filter", "engine", NULL};
    PyObject *path = NULL, *engine = NULL;
    const char *filter = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&zO!:FlowReader", kwlist,
                                     PyUnicode_FSConverter, &path, &filter, &engine_type,
                                     &engine))
        return NULL;
    if (((engine_object_t *)engine)->engine == NULL) {
        Py_DECREF(path);
        PyErr_SetString(oc_error, "the engine is not initialised");
        return NULL;
    }
    GError *error = NULL;
    cap_t *cap = cap_open_file(PyBytes_AS_STRING(path), filter, &error);
    if (cap == NULL) {
        raise_capture_error(error, PyBytes_AS_STRING(path));
        g_error_free(error);
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    reader_object_t *self = (reader_object_t *)type->tp_alloc(type, 0);
    if (self == NULL || (self->pending = PyList_New(0)) == NULL) {
        cap_free(cap);
        Py_XDECREF(self);
        return NULL;
    }
    self->cap = cap;
    self->engine = Py_NewRef(engine);
    return (PyObject *)self;
}

static int reader_traverse(PyObject *pself, visitproc visit, void *arg)
{
    reader_object_t *self = (reader_object_t *)pself;
    Py_VISIT(self->engine);
    Py_VISIT(self->pending);
    return 0;
}

static int reader_clear(PyObject *pself)
{
    reader_object_t *self = (reader_object_t *)pself;
    Py_CLEAR(self->engine);
    Py_CLEAR(self->pending);
    return 0;
}

static void reader_dealloc(PyObject *pself)
{
    reader_object_t *self = (reader_object_t *)pself;
    PyObject_GC_UnTrack(pself);
    reader_close_cap(self);
    g_free(self->error);
    reader_clear(pself);
    Py_TYPE(pself)->tp_free(pself);
}

/* Runs the engine until some flows are pending or the input is done; false on exception. */
static bool reader_fill(reader_object_t *self)
{
    engine_object_t *eng = (engine_object_t *)self->engine;
    if (PyList_SetSlice(self->pending, 0, PyList_GET_SIZE(self->pending), NULL) < 0)
        return false;
    self->next = 0;
    if (!engine_enter(eng))
        return false;
    eng->sink = Py_NewRef(self->pending);
    bool ok = true;
    while (ok && PyList_GET_SIZE(self->pending) == 0 && !self->flushed) {
        if (self->cap != NULL) {
            GError *error = NULL;
            eng->reading = self->cap;
            cap_status_t st = cap_dispatch(self->cap, READ_BATCH_PACKETS, 0, on_packet, eng,
                                           &error);
            eng->reading = NULL;
            if (eng->failed)
                break;
            if (st == CAP_STATUS_ERROR) {
                /* Like the command: the flows read so far are still reported. */
                self->error = g_strdup(error->message);
                g_error_free(error);
                reader_close_cap(self);
            } else if (st == CAP_STATUS_EOF) {
                reader_close_cap(self);
            } else if (PyErr_CheckSignals() < 0) {
                ok = false;
            }
        } else {
            oc_engine_flush(eng->engine);
            self->flushed = true;
        }
    }
    Py_CLEAR(eng->sink);
    eng->busy = false;
    return engine_check(eng) && ok;
}

static PyObject *reader_next(PyObject *pself)
{
    reader_object_t *self = (reader_object_t *)pself;
    if (self->pending == NULL)
        return NULL;
    if (self->next >= PyList_GET_SIZE(self->pending)) {
        if (!self->flushed && !reader_fill(self))
            return NULL;
        if (self->next >= PyList_GET_SIZE(self->pending)) {
            if (self->error != NULL) {
                PyErr_SetString(oc_error, self->error);
                g_free(self->error);
                self->error = NULL;
            }
            return NULL; /* StopIteration when no error is set */
        }
    }
    PyObject *flow = PyList_GET_ITEM(self->pending, self->next);
    self->next++;
    return Py_NewRef(flow);
}

static PyObject *reader_to_records(PyObject *pself, PyObject *unused)
{
    (void)unused;
    PyObject *records = PyList_New(0);
    if (records == NULL)
        return NULL;
    PyObject *flow;
    while ((flow = reader_next(pself)) != NULL) {
        PyObject *rec = flow_to_record(flow, NULL);
        Py_DECREF(flow);
        if (rec == NULL || PyList_Append(records, rec) < 0) {
            Py_XDECREF(rec);
            Py_DECREF(records);
            return NULL;
        }
        Py_DECREF(rec);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(records);
        return NULL;
    }
    return records;
}

static PyObject *reader_close(PyObject *pself, PyObject *unused)
{
    (void)unused;
    reader_object_t *self = (reader_object_t *)pself;
    reader_close_cap(self);
    self->flushed = true;
    if (self->pending != NULL &&
        PyList_SetSlice(self->pending, 0, PyList_GET_SIZE(self->pending), NULL) < 0)
        return NULL;
    self->next = 0;
    Py_RETURN_NONE;
}

static PyObject *reader_enter(PyObject *pself, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(pself);
}

static PyObject *reader_exit(PyObject *pself, PyObject *args)
{
    (void)args;
    PyObject *r = reader_close(pself, NULL);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *reader_get_engine(PyObject *pself, void *c)
{
    (void)c;
    return Py_NewRef(((reader_object_t *)pself)->engine);
}

static PyMethodDef reader_methods[] = {
    {"to_records", reader_to_records, METH_NOARGS,
     "The remaining flows as a list of dicts keyed like the command's JSON output."},
    {"close", reader_close, METH_NOARGS, "Stops reading and closes the capture."},
    {"__enter__", reader_enter, METH_NOARGS, NULL},
    {"__exit__", reader_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef reader_getset[] = {
    {"engine", reader_get_engine, NULL, "the Engine doing the work (for stats())", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject reader_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ocellus.FlowReader",
    .tp_basicsize = sizeof(reader_object_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Iterator over the flows of a capture file; see ocellus.flows().",
    .tp_new = reader_new,
    .tp_dealloc = reader_dealloc,
    .tp_traverse = reader_traverse,
    .tp_clear = reader_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = reader_next,
    .tp_methods = reader_methods,
    .tp_getset = reader_getset,
};

/* ---- module ------------------------------------------------------------------------- */

static PyObject *names_tuple(const char *const *names, size_t n)
{
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    if (t == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, s);
    }
    return t;
}

/* Adds @obj (a new reference, or NULL after a failure) to @m and drops the reference. */
static int add_steal(PyObject *m, const char *name, PyObject *obj)
{
    if (obj == NULL)
        return -1;
    int r = PyModule_AddObjectRef(m, name, obj);
    Py_DECREF(obj);
    return r;
}

static PyObject *mod_set_enums(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *s, *d, *r;
    if (!PyArg_ParseTuple(args, "OOO:_set_enums", &s, &d, &r))
        return NULL;
    Py_XSETREF(enum_statistic, Py_NewRef(s));
    Py_XSETREF(enum_direction, Py_NewRef(d));
    Py_XSETREF(enum_end_reason, Py_NewRef(r));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_set_enums", mod_set_enums, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ocellus._ocellus",
    .m_doc = "The ocellus flow engine (C part of the ocellus package).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__ocellus(void);

PyMODINIT_FUNC PyInit__ocellus(void)
{
    if (PyType_Ready(&flow_type) < 0 || PyType_Ready(&packet_type) < 0 ||
        PyType_Ready(&engine_type) < 0 || PyType_Ready(&reader_type) < 0)
        return NULL;
    PyObject *json = PyImport_ImportModule("json");
    if (json == NULL)
        return NULL;
    json_loads = PyObject_GetAttrString(json, "loads");
    Py_DECREF(json);
    if (json_loads == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    oc_error = PyErr_NewExceptionWithDoc("ocellus.Error",
                                         "A capture or engine error (the message names the "
                                         "file and the cause).",
                                         NULL, NULL);
    static const char *const link_names[] = {"NULL", "ETHERNET", "PPP", "RAW", "C_HDLC",
                                             "LINUX_SLL", "LINUX_SLL2"};
    static const int link_values[] = {OC_LINK_NULL, OC_LINK_ETHERNET, OC_LINK_PPP, OC_LINK_RAW,
                                      OC_LINK_C_HDLC, OC_LINK_LINUX_SLL, OC_LINK_LINUX_SLL2};
    PyObject *links = PyDict_New();
    for (size_t i = 0; links != NULL && i < sizeof link_values / sizeof link_values[0]; i++) {
        PyObject *v = PyLong_FromLong(link_values[i]);
        if (v == NULL || PyDict_SetItemString(links, link_names[i], v) < 0)
            Py_CLEAR(links);
        Py_XDECREF(v);
    }
    if (add_steal(m, "LINKS", links) < 0 || oc_error == NULL ||
        PyModule_AddObjectRef(m, "Error", oc_error) < 0 ||
        PyModule_AddObjectRef(m, "Flow", (PyObject *)&flow_type) < 0 ||
        PyModule_AddObjectRef(m, "PacketInfo", (PyObject *)&packet_type) < 0 ||
        PyModule_AddObjectRef(m, "Engine", (PyObject *)&engine_type) < 0 ||
        PyModule_AddObjectRef(m, "FlowReader", (PyObject *)&reader_type) < 0 ||
        add_steal(m, "STATISTICS", names_tuple(stat_names, OC_STAT_N)) < 0 ||
        add_steal(m, "DIRECTIONS", names_tuple(direction_names, OC_DIRECTION_N)) < 0 ||
        add_steal(m, "END_REASONS", names_tuple(end_reason_names, 6)) < 0 ||
        PyModule_AddStringConstant(m, "VERSION", OC_VERSION_STRING) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
