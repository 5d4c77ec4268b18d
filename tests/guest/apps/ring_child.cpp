// The peer of ring-test: its argument says which part it plays. It receives on the consumer end
// granted in slot kIn and answers on the producer end in slot kOut.
#include "ring_protocol.hpp"

#include <exo/channel.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>

using namespace exo;
using namespace exo::test;

namespace {

int echo(RingConsumer& in, RingProducer& out) {
    for (;;) {
        auto message = in.receive();
        if (!message.ok())
            return 10 + int(message.status());
        const auto& m = message.value();
        if (m.type == kStop)
            return 0;
        if (m.type == kCapMessage) {
            // A capability came with this message: map it and answer with what it holds.
            auto slot = in.receive_cap();
            uint64_t value = 0;
            if (slot.ok() && sys::frame_map(kSlotAddressSpace, slot.value(), kCapWindow,
                                            kMapRead) == Status::Ok) {
                value = *reinterpret_cast<volatile uint64_t*>(kCapWindow);
                (void)sys::frame_unmap(kSlotAddressSpace, kCapWindow);
            }
            in.release();
            if (!out.send(&value, sizeof value, kCapMessage).ok())
                return 3;
            continue;
        }
        // Check the payload, then answer with its sequence number and checksum.
        Reply reply{0, 0, 0};
        if (m.length >= sizeof(uint64_t)) {
            memcpy(&reply.sequence, m.data, sizeof reply.sequence);
            reply.checksum = checksum(m.data + sizeof(uint64_t), m.length - sizeof(uint64_t));
            reply.ok = payload_matches(reply.sequence, m.data + sizeof(uint64_t),
                                       m.length - sizeof(uint64_t));
        }
        in.release();
        if (!out.send(&reply, sizeof reply, kData).ok())
            return 4;
    }
}

// Reads one message and never releases it, never reads again: the producer fills the ring.
[[noreturn]] void stall(RingConsumer& in) {
    (void)in.receive();
    for (;;)
        asm volatile("pause");
}

// Counts messages until kStop, releasing in batches as it goes; answers with the count and the
// ring syscalls it made.
int count(RingConsumer& in, RingProducer& out) {
    uint64_t messages = 0;
    for (;;) {
        auto message = in.receive();
        if (!message.ok())
            return 10 + int(message.status());
        if (message.value().type == kStop)
            break;
        ++messages;
    }
    in.release();
    Reply reply{messages, ring_syscalls(), 1};
    return out.send(&reply, sizeof reply, kData).ok() ? 0 : 5;
}

} // namespace

int exo_main(uint64_t mode) {
    auto in = RingConsumer::attach(Cap<Ring>::adopt(kIn));
    if (!in.ok())
        return 1;
    if (mode == kStall)
        stall(in.value());
    auto out = RingProducer::attach(Cap<Ring>::adopt(kOut));
    if (!out.ok())
        return 2;
    return mode == kCount ? count(in.value(), out.value()) : echo(in.value(), out.value());
}
