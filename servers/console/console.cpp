// The console's plumbing: start-up (ports, UART, server, log ring, init link), output lines
// around the prompt, and the events of its one event ring (IRQ, doorbells, timers).
#include "console.hpp"

#include <exo/libc.h>
#include <exo/sys.hpp>

#include <new>
#include <stdarg.h>

using namespace exo;

namespace srv::console {
namespace {

// Owner doorbells: above every client's doorbell_badge (index < 128) and the accept ring's.
constexpr uint64_t kLogBadge = uint64_t(1) << 41;
constexpr uint64_t kInitBadge = uint64_t(1) << 42;
constexpr unsigned kLogRingLog2 = 16; // 64 KiB of log records
constexpr size_t kLogBatch = 32;      // records per turn, so typing is served in between
constexpr size_t kLineBuffer = 1024;  // a log line: prefix + kMaxLogText

bool is_ring(Slot slot) {
    CapInfo info{};
    return sys::cap_info(slot, &info) == Status::Ok && info.type == uint16_t(ObjectType::Ring);
}

} // namespace

void Console::echo(void* self, const char* text, size_t length) {
    static_cast<Console*>(self)->write(text, length);
}

void Console::put_line(std::string_view text) {
    const bool hidden = editor_.hide();
    write(text.data(), text.size());
    write("\r\n", 2);
    if (hidden)
        editor_.show();
}

void Console::line(const char* fmt, ...) {
    char buffer[kLineBuffer];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    put_line({buffer, n < sizeof buffer ? n : sizeof buffer - 1});
}

int Console::start() {
    if (sys::io_port_grant(kSlotIoPorts) != Status::Ok)
        return kExitNoPorts;
    uart_.enable_receive_interrupt();

    server_ = new (server_storage_) Server();
    Server::Core::Config config;
    config.protocol = proto::console::kProtocol;
    config.version = proto::console::kVersion;
    config.max_reply = sizeof(proto::console::RegisterReply);
    config.context = this;
    config.handler = on_request;
    config.on_event = on_event;
    config.on_drop = on_drop;
    Cap<Ring> accept = is_ring(kSlotAccept) ? Cap<Ring>::adopt(kSlotAccept) : Cap<Ring>();
    if (Status s = server_->start(kSlotMemory, static_cast<Cap<Ring>&&>(accept), config);
        s != Status::Ok) {
        line("console: cannot start its server: %s", status_name(s));
        return kExitNoServer;
    }
    if (Status s = sys::irq_bind(kSlotIrq, server_->event_producer()); s != Status::Ok) {
        line("console: IrqBind of COM1's IRQ %u: %s", Uart::kIrqLine, status_name(s));
        return kExitNoIrq;
    }

    // The log ring: bound before LogAttach, so the first record rings the doorbell. The kernel
    // holds the producer end from then on; ours is deleted when `producer` goes, so nothing but
    // the kernel writes into the ring.
    auto ring = ring_create(kSlotMemory, kLogRingLog2);
    Status attached = ring.status();
    uint64_t first_seq = 0;
    if (ring.ok()) {
        Cap<Ring> producer = static_cast<Cap<Ring>&&>(ring.value().producer);
        log_consumer_ = static_cast<Cap<Ring>&&>(ring.value().consumer);
        attached = sys::ring_bind(log_consumer_.slot(), server_->event_producer(), kLogBadge);
        if (attached == Status::Ok) {
            SysResult r = sys::log_attach(kSlotSystem, producer.slot());
            attached = r.status;
            first_seq = r.value;
        }
    }
    if (attached != Status::Ok) {
        line("console: LogAttach: %s; the console needs the kernel log, exiting",
             status_name(attached));
        return kExitNoLog;
    }

    // The link to init (`control`): Hello first; requests go out without waiting for it.
    if (is_ring(kSlotInitTx) && is_ring(kSlotInitRx)) {
        auto tx = RingProducer::attach(Cap<Ring>::adopt(kSlotInitTx));
        auto rx = RingConsumer::attach(Cap<Ring>::adopt(kSlotInitRx));
        if (tx.ok() && rx.ok()) {
            init_tx_ = new (init_tx_storage_) RingProducer(static_cast<RingProducer&&>(tx.value()));
            init_rx_ = new (init_rx_storage_) RingConsumer(static_cast<RingConsumer&&>(rx.value()));
            init_ok_ = sys::ring_bind(init_rx_->slot(), server_->event_producer(), kInitBadge) ==
                       Status::Ok;
            proto::Hello hello{proto::init::kProtocol, proto::init::kVersion};
            init_ok_ =
                init_ok_ && init_send(proto::kMsgHello, &hello, sizeof hello, InitAsk::Hello);
        }
    }
    if (!init_ok_)
        line("console: no link to init: ps shows no restarts; kill and restart fail");

    SystemInfo info{};
    last_register_ns_ = sys::clock_ns();
    if (system_info(info, "console")) {
        memcpy(autorun_text_, info.autorun, sizeof autorun_text_);
        autorun_text_[sizeof autorun_text_ - 1] = '\0';
    }
    line("console: COM1 is the console; kernel log from #%lu", first_seq);
    autorun_commands_ = AutorunCommands(trim(autorun_text_));
    if (trim(autorun_text_).empty()) {
        editor_.show();
    } else {
        autorun_ = Autorun::Waiting;
        editor_.set_busy(true);
        line("console: autorun: %s", autorun_text_);
    }
    // Raise the consumers' flags (and read what is there already), so that the next record of
    // the kernel or answer of init rings its doorbell.
    log_more_ = drain_log(kLogBatch);
    drain_init();
    on_irq(); // bytes typed before the IRQ was bound
    return 0;
}

int Console::run() {
    for (;;) {
        step();
        Status s = server_->core().run_once();
        if (s != Status::Ok) {
            line("console: event loop: %s", status_name(s));
            return kExitLoopFailed;
        }
    }
}

// Work that must not run inside a registrant's handler (which holds a reservation on that
// client's response ring): starting commands, the autorun, and the rest of a long log burst.
void Console::step() {
    if (log_more_)
        log_more_ = drain_log(kLogBatch);
    if (log_more_)
        server_->core().yield_to_owner();
    if (pending_ && !running_.active) {
        pending_ = false;
        execute({pending_line_, pending_length_});
    }
    if (autorun_ == Autorun::Waiting && !autorun_timer_)
        autorun_check();
    if (autorun_ == Autorun::Running && !running_.active)
        autorun_next();
}

void Console::on_event(void* self, uint32_t type, const uint8_t* payload, uint32_t length) {
    auto* c = static_cast<Console*>(self);
    if (type == kEventIrq && length == sizeof(IrqEvent)) {
        c->on_irq();
    } else if (type == kEventTimer && length == sizeof(TimerEvent)) {
        TimerEvent timer;
        memcpy(&timer, payload, sizeof timer);
        c->on_timer(timer.cookie);
    } else if (type == kEventDoorbell && length == sizeof(DoorbellEvent)) {
        DoorbellEvent bell;
        memcpy(&bell, payload, sizeof bell);
        if (bell.badge == kLogBadge)
            c->log_more_ = c->drain_log(kLogBatch);
        else if (bell.badge == kInitBadge)
            c->drain_init();
    }
    c->server_->core().yield_to_owner(); // step() looks at what changed
}

// Every byte the UART holds, then IrqAck (the line stays masked until then).
void Console::on_irq() {
    uint8_t byte;
    while (uart_.read(byte)) {
        if (autorun_ != Autorun::Off)
            continue; // the autorun types; the keyboard is ignored
        const EditEvent e = editor_.feed(byte);
        if (e == EditEvent::Line) {
            const std::string_view text = editor_.line();
            memcpy(pending_line_, text.data(), text.size());
            pending_length_ = text.size();
            pending_ = true;
            editor_.set_busy(true); // until the command ends; more typing rings the bell
        } else if (e == EditEvent::Cancel && running_.active) {
            cancel_running();
        } else if (e == EditEvent::Cancel && pending_) { // typed, not started yet
            pending_ = false;
            editor_.set_busy(false);
            editor_.show();
        }
    }
    (void)sys::irq_ack(kSlotIrq);
}

uint64_t Console::arm_timer(uint32_t kind, uint64_t ms) {
    const uint64_t cookie = uint64_t(kind) << 56 | ++timer_generation_;
    if (sys::timer_set(server_->event_producer(), ms * 1'000'000, cookie) != Status::Ok)
        return 0;
    return cookie;
}

// The kernel's records, printed where the console's own lines are: the prompt is taken down,
// LogPrint writes up to `max_records` of them (each printed and released in one step that a
// kill cannot split, so a console that dies leaves each record printed once, by it or by the
// kernel after it), and the prompt comes back. The kernel rings the log's doorbell on every
// record, after the event that woke us was released, so none waits unseen. True when there may
// be more (a long burst goes on at the next turn).
bool Console::drain_log(size_t max_records) {
    if (log_broken_)
        return false;
    const bool hidden = editor_.hide();
    SysResult r = sys::log_print(kSlotSystem, max_records);
    if (r.status != Status::Ok) {
        log_broken_ = true;
        line("console: LogPrint: %s; no more log lines", status_name(r.status));
    }
    if (hidden)
        editor_.show();
    return r.status == Status::Ok && r.value == max_records;
}

// Responses from init, each with the id of its request.
void Console::drain_init() {
    if (init_rx_ == nullptr)
        return;
    ring::Consumer& view = init_rx_->view();
    view.finish_wait();
    for (;;) {
        auto m = view.peek();
        if (m.status() == Status::WouldBlock) {
            init_rx_->release();
            view.prepare_wait();
            auto again = view.peek();
            if (again.status() == Status::WouldBlock)
                return;
            view.finish_wait();
            if (again.ok())
                view.put_back(again.value());
            continue;
        }
        if (!m.ok()) {
            if (init_ok_)
                line("console: the link to init is %s", status_name(m.status()));
            init_ok_ = false;
            if (running_.active && running_.wait == Wait::Init) {
                line("%s: init: %s", running_.word, status_name(m.status()));
                finish(false);
            }
            return;
        }
        on_init_reply(m.value().type, m.value().data, m.value().length);
    }
}

} // namespace srv::console
