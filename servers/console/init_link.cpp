// The console's requests to init over its link (`control`, exo/proto/init.hpp), all
// asynchronous: a request goes out, its response arrives as a doorbell on the event ring, so
// the console keeps printing the log meanwhile (init logs too, and would wait for it). Also
// the autorun, which starts once init has no program restarting and registrations are quiet.
#include "console.hpp"

#include <exo/libc.h>
#include <exo/sys.hpp>

using namespace exo;
namespace pi = exo::proto::init;

namespace srv::console {
namespace {

constexpr uint64_t kQuietMs = 100; // no Register for this long before the autorun starts
constexpr uint64_t kMs = 1'000'000;
constexpr uint32_t kTimerAutorun = 0; // timer kinds are Wait values; the autorun's is 0

} // namespace

bool Console::init_send(uint32_t type, const void* body, uint32_t length, InitAsk ask) {
    if (init_tx_ == nullptr || (!init_ok_ && ask != InitAsk::Hello))
        return false;
    InitPending* pending = nullptr;
    for (InitPending& p : init_pending_) {
        if (p.ask == InitAsk::None && pending == nullptr)
            pending = &p;
    }
    if (pending == nullptr)
        return false;
    auto at = init_tx_->view().reserve(uint32_t(sizeof(proto::RpcHeader)) + length, type);
    if (!at.ok())
        return false; // full (init is not reading): the command fails rather than wait here
    const proto::RpcHeader header{next_init_id_++};
    memcpy(at.value(), &header, sizeof header);
    memcpy(at.value() + sizeof header, body, length);
    init_tx_->commit();
    *pending = InitPending{header.id, ask, running_.generation};
    return true;
}

void Console::on_init_reply(uint32_t type, const uint8_t* payload, uint32_t length) {
    proto::RpcHeader header;
    if (length < sizeof header)
        return;
    memcpy(&header, payload, sizeof header);
    payload += sizeof header;
    length -= sizeof header;
    InitPending* match = nullptr;
    for (InitPending& p : init_pending_) {
        if (p.ask != InitAsk::None && p.id == header.id)
            match = &p;
    }
    if (match == nullptr)
        return;
    const InitPending request = *match;
    match->ask = InitAsk::None;
    Status status = Status::Ok;
    if (type == proto::kMsgError) {
        proto::ErrorReply error{};
        memcpy(&error, payload, length < sizeof error ? length : sizeof error);
        status = error.status == 0 ? Status::Malformed : Status(error.status);
    }

    if (request.ask == InitAsk::Hello) {
        proto::HelloReply hello{};
        if (status == Status::Ok && length >= sizeof hello)
            memcpy(&hello, payload, sizeof hello);
        else
            hello.status = int32_t(status == Status::Ok ? Status::Truncated : status);
        if (hello.status != int32_t(Status::Ok)) {
            init_ok_ = false;
            line("console: init refused the link: %s", status_name(Status(hello.status)));
        }
        return;
    }
    if (request.ask == InitAsk::Programs) {
        const bool for_command = programs_for_ == ProgramsFor::Ps;
        if (for_command && (!running_.active || running_.generation != request.generation))
            return; // ps was cancelled
        pi::ProgramsReply reply{};
        const uint32_t fixed = offsetof(pi::ProgramsReply, programs);
        if (status == Status::Ok && length >= fixed) {
            memcpy(&reply, payload, length < sizeof reply ? length : sizeof reply);
            if (reply.count > pi::kProgramsPerReply ||
                fixed + reply.count * sizeof(pi::ProgramRecord) > length)
                status = Status::Malformed;
        } else if (status == Status::Ok) {
            status = Status::Truncated;
        }
        if (status != Status::Ok) {
            programs_failed_ = true;
            programs_complete();
            return;
        }
        for (uint32_t i = 0; i < reply.count && program_count_ < 64; ++i) {
            programs_[program_count_] = reply.programs[i];
            programs_[program_count_].name[sizeof reply.programs[i].name - 1] = '\0';
            ++program_count_;
        }
        if (reply.count == 0 || program_count_ >= reply.total || program_count_ >= 64)
            programs_complete();
        else
            ask_programs(programs_for_, program_count_);
        return;
    }
    // Kill or Restart.
    if (!running_.active || running_.generation != request.generation)
        return;
    pi::ControlReply reply{};
    if (status == Status::Ok && length >= sizeof reply) {
        memcpy(&reply, payload, sizeof reply);
        status = Status(reply.status);
    } else if (status == Status::Ok) {
        status = Status::Truncated;
    }
    if (status == Status::Ok)
        line("%s: %s: %u processes %s", running_.word, running_.target, reply.processes,
             request.ask == InitAsk::Kill ? "killed" : "restarted");
    else
        line("%s: %s: %s", running_.word, running_.target, status_name(status));
    finish(status == Status::Ok);
}

// Programs from `first` on; the first page starts a fresh table.
void Console::ask_programs(ProgramsFor purpose, uint32_t first) {
    programs_for_ = purpose;
    if (first == 0) {
        program_count_ = 0;
        programs_failed_ = false;
    }
    pi::ProgramsRequest request{first, 0};
    if (!init_send(pi::kMsgPrograms, &request, sizeof request, InitAsk::Programs)) {
        programs_failed_ = init_tx_ != nullptr; // no link granted at all: nothing to know
        programs_complete();
    }
}

void Console::programs_complete() {
    if (programs_for_ == ProgramsFor::Ps) {
        print_ps();
        return;
    }
    // The autorun's check: a program being restarted has not registered its words yet.
    bool restarting = false;
    for (uint32_t i = 0; i < program_count_; ++i)
        restarting = restarting || programs_[i].state == uint32_t(pi::ProgramState::Restarting);
    autorun_ = Autorun::Waiting;
    const uint64_t now = sys::clock_ns(), quiet_since = last_register_ns_ + kQuietMs * kMs;
    if (restarting || now < quiet_since) {
        autorun_timer_ =
            arm_timer(kTimerAutorun, restarting ? kQuietMs : (quiet_since - now) / kMs + 1) != 0;
        if (autorun_timer_)
            return; // else start now rather than spin
    }
    autorun_ = Autorun::Running;
}

// From step(), while waiting and no timer is armed: ask init, unless registrations were too
// recent (then wait out the rest).
void Console::autorun_check() {
    const uint64_t now = sys::clock_ns(), quiet_since = last_register_ns_ + kQuietMs * kMs;
    if (now < quiet_since) {
        autorun_timer_ = arm_timer(kTimerAutorun, (quiet_since - now) / kMs + 1) != 0;
        if (autorun_timer_)
            return;
    }
    autorun_ = Autorun::Checking;
    if (init_ok_) {
        ask_programs(ProgramsFor::Autorun, 0);
    } else {
        program_count_ = 0;
        programs_for_ = ProgramsFor::Autorun;
        programs_complete();
    }
}

// Types the next command as a person would, or ends the autorun.
void Console::autorun_next() {
    std::string_view command;
    if (!autorun_commands_.next(command)) {
        autorun_ = Autorun::Done;
        line("console: autorun: %u commands, %u failed", autorun_count_, autorun_failed_);
        shutdown(autorun_failed_ < kMaxShutdownCode ? autorun_failed_ : kMaxShutdownCode);
        autorun_ = Autorun::Off; // still here: SystemShutdown failed; the keyboard is back
        editor_.set_busy(false);
        editor_.show();
        return;
    }
    line("%s%.*s", kPrompt, int(command.size()), command.data());
    execute(command);
}

} // namespace srv::console
