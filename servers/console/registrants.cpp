// Registered commands (exo/proto/console.hpp): servers connected on the accept ring register
// words; the console sends Run on the registrant's response ring and shows its Output until
// Done. Everything a registrant sends is checked; a record for another id is dropped.
#include "console.hpp"

#include <exo/libc.h>
#include <exo/sys.hpp>

using namespace exo;
namespace pc = exo::proto::console;

namespace srv::console {

Status Console::on_request(void* self, Server::Client& client, const Request& request,
                           Reply& reply) {
    auto* c = static_cast<Console*>(self);
    c->server_->core().yield_to_owner();
    switch (request.type) {
    case pc::kMsgRegister:
        return c->on_register(client, request, reply);
    case pc::kMsgOutput:
        c->on_output(client, request);
        return Status::Ok; // acknowledged with an empty response of the same type
    case pc::kMsgDone:
        c->on_done(client, request);
        return Status::Ok;
    default:
        return Status::Unsupported;
    }
}

// A registrant that leaves takes its words with it, and ends its running command with Closed.
void Console::on_drop(void* self, uint32_t index, Status) {
    auto* c = static_cast<Console*>(self);
    for (Registered& r : c->registered_) {
        if (r.used && r.client == index)
            r.used = false;
    }
    if (c->running_.active && c->running_.wait == Wait::Remote && c->running_.client == index) {
        c->flush_output();
        c->line("%s: %s", c->running_.word, status_name(Status::Closed));
        c->finish(false);
    }
}

Status Console::on_register(const Server::Client& client, const Request& request, Reply& reply) {
    pc::Register r;
    constexpr uint32_t kBody = sizeof r - sizeof r.header;
    if (request.length < kBody)
        return Status::Truncated;
    memcpy(reinterpret_cast<uint8_t*>(&r) + sizeof r.header, request.payload, kBody);
    Status s = Status::Ok;
    const size_t word_length = strnlen(r.word, sizeof r.word);
    const size_t summary_length = strnlen(r.summary, sizeof r.summary);
    const std::string_view word(r.word, word_length);
    if (word_length == sizeof r.word || summary_length == sizeof r.summary || !valid_word(word))
        s = Status::InvalidArgument;
    if (s == Status::Ok && (find_registered(word) != nullptr || is_builtin(word)))
        s = Status::AlreadyExists;
    Registered* slot = nullptr;
    for (Registered& e : registered_) {
        if (!e.used && slot == nullptr)
            slot = &e;
    }
    if (s == Status::Ok && slot == nullptr)
        s = Status::NoMemory;
    if (s == Status::Ok) {
        *slot = Registered{true, client.index, {}, {}};
        memcpy(slot->word, r.word, word_length);
        for (size_t i = 0; i < summary_length; ++i) // shown in help: printable only
            slot->summary[i] = r.summary[i] >= 0x20 && r.summary[i] < 0x7f ? r.summary[i] : '.';
        last_register_ns_ = sys::clock_ns();
    }
    pc::RegisterReply answer{{request.id}, int32_t(s), 0};
    memcpy(reply.data, reinterpret_cast<uint8_t*>(&answer) + sizeof answer.header,
           sizeof answer - sizeof answer.header);
    reply.length = sizeof answer - sizeof answer.header;
    return Status::Ok;
}

void Console::emit_line(void* self, std::string_view text) {
    static_cast<Console*>(self)->put_line(text);
}

void Console::on_output(const Server::Client& client, const Request& request) {
    pc::Output o;
    constexpr uint32_t kFixed = offsetof(pc::Output, text) - sizeof o.header;
    if (request.length < kFixed)
        return;
    const uint32_t copied = request.length < sizeof o - sizeof o.header
                                ? request.length
                                : uint32_t(sizeof o - sizeof o.header);
    memcpy(reinterpret_cast<uint8_t*>(&o) + sizeof o.header, request.payload, copied);
    if (o.length > pc::kOutputMax || kFixed + o.length > copied)
        return;
    if (!running_.active || running_.wait != Wait::Remote || running_.client != client.index ||
        running_.id != request.id)
        return; // late, or not ours
    output_.feed(o.text, o.length, emit_line, this);
    arm_timer(uint32_t(Wait::Remote), pc::kCommandTimeoutMs); // the timeout counts from here
}

void Console::on_done(const Server::Client& client, const Request& request) {
    pc::Done d;
    if (request.length < sizeof d - sizeof d.header)
        return;
    memcpy(reinterpret_cast<uint8_t*>(&d) + sizeof d.header, request.payload,
           sizeof d - sizeof d.header);
    if (!running_.active || running_.wait != Wait::Remote || running_.client != client.index ||
        running_.id != request.id)
        return;
    flush_output();
    finish(d.status == int32_t(Status::Ok));
}

void Console::flush_output() {
    output_.flush(emit_line, this);
}

const Console::Registered* Console::find_registered(std::string_view word) const {
    for (const Registered& r : registered_) {
        if (r.used && word == r.word)
            return &r;
    }
    return nullptr;
}

// A record from the console to a registrant, on the client's response ring. Never called from
// inside that client's handler (serve() holds a reservation on the same ring then): commands
// start from step(), and Cancel comes from an IRQ or a timer.
bool Console::send_to_client(uint32_t index, uint32_t type, const void* body, uint32_t length,
                             uint64_t id) {
    Server::Client* client = server_->core().client(index);
    if (client == nullptr)
        return false;
    auto at = client->tx.reserve(uint32_t(sizeof(proto::RpcHeader)) + length, type);
    if (!at.ok())
        return false;
    proto::RpcHeader header{id};
    memcpy(at.value(), &header, sizeof header);
    if (length != 0)
        memcpy(at.value() + sizeof header, body, length);
    client->tx.commit();
    if (client->tx.consumer_waiting())
        client->tx_waiter.notify(ring::Event::Data);
    return true;
}

void Console::run_remote(const Registered& command, std::string_view text) {
    pc::Run run{};
    run.length = uint32_t(text.size() < pc::kLineMax ? text.size() : pc::kLineMax);
    memcpy(run.line, text.data(), run.length);
    running_.wait = Wait::Remote;
    running_.client = command.client;
    running_.id = next_run_id_++;
    output_.clear();
    if (!send_to_client(command.client, pc::kMsgRun, reinterpret_cast<uint8_t*>(&run) + 8,
                        sizeof run - 8, running_.id)) {
        line("%s: %s", running_.word, status_name(Status::WouldBlock));
        finish(false);
        return;
    }
    arm_timer(uint32_t(Wait::Remote), pc::kCommandTimeoutMs);
}

} // namespace srv::console
