/*
 * ocellus flow engine: header-only C++17 wrapper over <ocellus/ocellus.h>.
 *
 * It gives the engine the shape of Peafowl's C++ API: an Engine object that owns the C engine
 * (RAII, move-only), packet results with getStatistic(statistic, direction), and a FlowManager
 * base class whose onTermination() runs as each flow ends.
 *
 * Two rules of the C API shape it:
 * - Views are borrowed. PacketInfo and FlowInfo hold a pointer to the engine's own flow state,
 *   valid until the next call into the engine, exactly like oc_engine_packet_flow() and the
 *   callback argument: nothing is copied per packet. Copy the numbers you need to keep.
 * - No exception crosses the C engine. The termination trampoline catches whatever
 *   onTermination() throws, asks the engine to stop (non-zero return) and keeps the exception;
 *   once the C call has returned, the Engine method that made it rethrows it. A stopped
 *   engine stays stopped (every later process() reports OC_STATUS_STOPPED), as in C.
 *
 * Threading: like the C engine, one Engine is used by one thread at a time.
 */
#ifndef OCELLUS_HPP
#define OCELLUS_HPP

#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <ocellus/ocellus.h>

namespace ocellus {

/** The C enums are the C++ vocabulary too, as Peafowl's C++ API takes PFWL_STAT_x. */
using Statistic = oc_stat_t;
using Direction = oc_direction_t;
using EndReason = oc_end_reason_t;

/** Thrown when the engine cannot be created (the message is the C API's). */
class Error : public std::runtime_error {
public:
    explicit Error(const std::string &what) : std::runtime_error(what) {}
};

/** Engine configuration: oc_config_t with its defaults already filled in. */
struct Config : oc_config_t {
    Config() noexcept { oc_config_init(this); }
};

/**
 * A borrowed view of a flow: per-packet (PacketInfo::flow()) or at termination. Valid until
 * the next call into the engine that produced it; it copies nothing.
 */
class FlowInfo {
public:
    explicit FlowInfo(const oc_flow_info_t *info) noexcept : info_(info) {}

    /** statistics[statistic][direction]; 0 for out-of-range arguments. */
    int64_t getStatistic(Statistic statistic, Direction direction) const noexcept
    {
        if (static_cast<unsigned>(statistic) >= OC_STAT_N ||
            static_cast<unsigned>(direction) >= OC_DIRECTION_N)
            return 0;
        return info_->statistics[statistic][direction];
    }
    uint64_t id() const noexcept { return info_->id; }
    const oc_flow_key_t &key() const noexcept { return info_->key; }
    /** OC_END_NONE while the flow is active (per-packet views). */
    EndReason endReason() const noexcept { return info_->end_reason; }
    /** ICMP type * 256 + code of the direction's first packet, -1 when none. */
    int32_t icmpTypeCode(Direction direction) const noexcept
    {
        return info_->icmp_type_code[direction];
    }
    const oc_tunnel_t &tunnel() const noexcept { return info_->tunnel; }
    /** The C view itself, for code that mixes both APIs. */
    const oc_flow_info_t &raw() const noexcept { return *info_; }

private:
    const oc_flow_info_t *info_;
};

/**
 * What Engine::process() says about a packet, with a borrowed view of its flow (statistics up
 * to and including this packet). Valid until the next call into the engine.
 */
class PacketInfo {
public:
    PacketInfo(oc_status_t status, const oc_packet_info_t &packet,
               const oc_flow_info_t *flow) noexcept
        : status_(status), packet_(packet), flow_(flow)
    {
    }

    oc_status_t status() const noexcept { return status_; }
    /** True when the packet was attributed to a flow (flow() and getStatistic() are valid). */
    bool hasFlow() const noexcept { return flow_ != nullptr; }
    oc_skip_t skip() const noexcept { return packet_.skip; }
    Direction direction() const noexcept { return packet_.direction; }
    bool newFlow() const noexcept { return packet_.new_flow; }
    /** The packet's flow; call only when hasFlow(). */
    FlowInfo flow() const noexcept { return FlowInfo(flow_); }
    /** The flow's statistic so far, 0 when the packet was not attributed. */
    int64_t getStatistic(Statistic statistic, Direction direction) const noexcept
    {
        return flow_ != nullptr ? FlowInfo(flow_).getStatistic(statistic, direction) : 0;
    }

private:
    oc_status_t status_;
    oc_packet_info_t packet_;
    const oc_flow_info_t *flow_;
};

/** Receives each flow as it ends. Subclass it and override onTermination(). */
class FlowManager {
public:
    virtual ~FlowManager() = default;
    /**
     * Called once per flow record as it ends, during the Engine call that ends it. @info is
     * valid only during the call. An exception stops the engine and propagates out of that
     * Engine call; flows ending later in the same call are not delivered.
     */
    virtual void onTermination(const FlowInfo &info) = 0;
};

/** Owns one C engine. Move-only; destroying it frees the engine without ending flows. */
class Engine {
public:
    explicit Engine(const Config &config = Config()) : ctx_(new Context())
    {
        char err[256] = "";
        engine_.reset(oc_engine_new(&config, err, sizeof err));
        if (!engine_)
            throw Error(err[0] != '\0' ? err : "ocellus: cannot create the engine");
        /* The context lives on the heap so the callback's user data survives moves. */
        oc_engine_set_termination_cb(engine_.get(), &Engine::trampoline, ctx_.get());
    }

    Engine(Engine &&) noexcept = default;
    Engine &operator=(Engine &&) noexcept = default;
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;

    /** Sets the manager told about finished flows (not owned; nullptr: none). */
    void setFlowManager(FlowManager *manager) noexcept { ctx_->manager = manager; }

    /**
     * Processes one packet (see oc_engine_process()); @data holds @caplen bytes from the
     * link-layer header of type @link. Rethrows what onTermination() threw for flows that
     * ended on the way. Allocates nothing.
     */
    PacketInfo process(uint64_t ts_us, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                       int link = OC_LINK_ETHERNET)
    {
        oc_packet_info_t packet{};
        oc_status_t st =
            oc_engine_process(engine_.get(), ts_us, data, caplen, wirelen, link, &packet);
        rethrowPending();
        return PacketInfo(st, packet,
                          st == OC_STATUS_OK ? oc_engine_packet_flow(engine_.get()) : nullptr);
    }

    /** Moves the clock to @now_us and ends the flows that are due. */
    oc_status_t advance(uint64_t now_us)
    {
        oc_status_t st = oc_engine_advance(engine_.get(), now_us);
        rethrowPending();
        return st;
    }

    /** Ends every active flow (end of input). */
    oc_status_t flush()
    {
        oc_status_t st = oc_engine_flush(engine_.get());
        rethrowPending();
        return st;
    }

    uint64_t clock() const noexcept { return oc_engine_clock(engine_.get()); }

    oc_engine_stats_t stats() const noexcept
    {
        oc_engine_stats_t st;
        oc_engine_get_stats(engine_.get(), &st);
        return st;
    }

    /** The C engine, still owned by this object. */
    oc_engine_t *get() const noexcept { return engine_.get(); }

private:
    struct Context {
        FlowManager *manager = nullptr;
        std::exception_ptr pending;
    };
    struct Free {
        void operator()(oc_engine_t *e) const noexcept { oc_engine_free(e); }
    };

    static int trampoline(const oc_flow_info_t *info, void *user) noexcept
    {
        auto *ctx = static_cast<Context *>(user);
        if (ctx->pending)
            return 1; /* the manager already failed: do not call it in a broken state */
        if (ctx->manager == nullptr)
            return 0;
        try {
            ctx->manager->onTermination(FlowInfo(info));
            return 0;
        } catch (...) {
            ctx->pending = std::current_exception();
            return 1;
        }
    }

    void rethrowPending()
    {
        if (ctx_->pending)
            std::rethrow_exception(std::exchange(ctx_->pending, nullptr));
    }

    std::unique_ptr<Context> ctx_;
    std::unique_ptr<oc_engine_t, Free> engine_;
};

} // namespace ocellus

#endif /* OCELLUS_HPP */
