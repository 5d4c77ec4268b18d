// exo::connect: a service connection through init (exo/proto/init.hpp).
#include <exo/connect.hpp>
#include <exo/libc.h>
#include <exo/proto/init.hpp>

#include <new>

namespace exo {
namespace {

// The link to init, attached and greeted at first use from the slots init granted. Never destroyed
// (a static object would need a constructor at start and a destructor at exit).
alignas(Channel) unsigned char link_storage[sizeof(Channel)];
Channel* link = nullptr;

Result<Channel*> init_link(uint64_t deadline) {
    if (link != nullptr)
        return link;
    CapInfo tx_info{}, rx_info{};
    // No link: the manifest granted this program no service at all.
    if (sys::cap_info(kSlotInitTx, &tx_info) != Status::Ok ||
        sys::cap_info(kSlotInitRx, &rx_info) != Status::Ok ||
        tx_info.type != uint16_t(ObjectType::Ring) || rx_info.type != uint16_t(ObjectType::Ring))
        return Status::AccessDenied;
    auto tx = TRY(RingProducer::attach(Cap<Ring>::adopt(kSlotInitTx)));
    auto rx = TRY(RingConsumer::attach(Cap<Ring>::adopt(kSlotInitRx)));
    auto* channel = new (link_storage)
        Channel{static_cast<RingProducer&&>(tx), static_cast<RingConsumer&&>(rx)};
    if (Status s = greet(*channel, proto::init::kProtocol, proto::init::kVersion, deadline);
        s != Status::Ok) {
        channel->~Channel(); // init does not speak our version: the link is of no use
        return s;
    }
    link = channel;
    return link;
}

// Moves `end` into the ring to init; the slot is free again once it is in flight.
Status send_end(Channel& to_init, Cap<Ring>& end) {
    TRY(to_init.tx.send_cap(end.slot()));
    free_slot(end.release());
    return Status::Ok;
}

// One Connect request: the server's two ends go to init, which hands them on or drops them.
// The record follows whatever ends were sent, even if a send failed, so that init takes exactly
// those off the ring and the next request's ends are its own.
Result<RingPair> connect_once(Channel& to_init, proto::init::ConnectRequest request,
                              const ConnectOptions& options) {
    auto requests = TRY(ring_create(kSlotMemory, options.ring_log2));
    auto responses = TRY(ring_create(kSlotMemory, options.ring_log2));
    Status sent = send_end(to_init, requests.consumer);
    request.ends = sent == Status::Ok;
    if (sent == Status::Ok) {
        sent = send_end(to_init, responses.producer);
        request.ends += sent == Status::Ok;
    }
    if (request.ends == 0)
        return sent;
    proto::init::ConnectReply reply{};
    RpcClient rpc(to_init);
    auto answered = rpc.call(proto::init::kMsgConnect, &request, sizeof request, &reply,
                             sizeof reply, options.deadline);
    TRY(sent);
    if (!answered.ok())
        return answered.status();
    return RingPair{static_cast<Cap<Ring>&&>(requests.producer),
                    static_cast<Cap<Ring>&&>(responses.consumer)};
}

} // namespace

Status greet(Channel& channel, uint32_t protocol, uint32_t version, uint64_t deadline) {
    RpcClient rpc(channel);
    proto::Hello hello{protocol, version};
    proto::HelloReply answer{};
    auto greeted =
        rpc.call(proto::kMsgHello, &hello, sizeof hello, &answer, sizeof answer, deadline);
    if (!greeted.ok())
        return greeted.status();
    if (answer.status == int32_t(Status::Ok) || answer.status == int32_t(Status::VersionMismatch))
        return Status(answer.status);
    return Status::Malformed;
}

void pause_until(uint64_t deadline) {
    // A ring nobody writes to: its wait ends at the deadline. Without one (no memory), a
    // yield loop does.
    auto pair = ring_create(kSlotMemory, 12);
    while (sys::clock_ns() < deadline) {
        if (!pair.ok() || sys::ring_wait(pair.value().consumer.slot(), deadline, 0) == Status::Ok)
            (void)sys::yield();
    }
}

Result<RingPair> connect_ends(const char* service, uint32_t protocol, uint32_t version,
                              const ConnectOptions& options) {
    proto::init::ConnectRequest request{};
    const size_t length = strlen(service);
    if (length == 0 || length > proto::kServiceNameMax)
        return Status::InvalidArgument;
    memcpy(request.service, service, length);
    request.protocol = protocol;
    request.version = version;
    Channel* to_init = TRY(init_link(options.deadline));
    for (uint64_t backoff = 100'000;; backoff = backoff < 10'000'000 ? backoff * 2 : backoff) {
        auto ends = connect_once(*to_init, request, options);
        if (ends.status() != Status::WouldBlock)
            return ends;
        const uint64_t now = sys::clock_ns();
        if (options.deadline != ring::kNoDeadline && now >= options.deadline)
            return Status::TimedOut;
        pause_until(options.deadline - now < backoff ? options.deadline : now + backoff);
    }
}

Result<Channel> connect(const char* service, uint32_t protocol, uint32_t version,
                        const ConnectOptions& options) {
    RingPair ends = TRY(connect_ends(service, protocol, version, options));
    auto tx = TRY(RingProducer::attach(static_cast<Cap<Ring>&&>(ends.producer)));
    auto rx = TRY(RingConsumer::attach(static_cast<Cap<Ring>&&>(ends.consumer)));
    Channel channel{static_cast<RingProducer&&>(tx), static_cast<RingConsumer&&>(rx)};
    TRY(greet(channel, protocol, version, options.deadline));
    return channel;
}

} // namespace exo
