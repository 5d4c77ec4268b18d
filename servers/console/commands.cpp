// The console's commands: the table of built-ins, running a line, ending a command, and the
// built-ins themselves (docs/console.md lists their output formats, which tests parse).
#include "console.hpp"

#include <exo/kv.hpp>
#include <exo/libc.h>
#include <exo/sys.hpp>

using namespace exo;
using exo::proto::init::ControlReply;
using exo::proto::init::ControlRequest;

namespace srv::console {
namespace {

constexpr uint32_t kMaxSleepMs = 60000;
constexpr size_t kMaxProcesses = 256;  // listed by ps, mem and caps
constexpr size_t kPage = 16;           // ProcessList and ProcessCaps records per call
constexpr size_t kLogDrainBatch = 256; // shutdown: records per drain_log call, until empty

void copy_word(char* to, size_t capacity, std::string_view from) {
    const size_t n = from.size() < capacity - 1 ? from.size() : capacity - 1;
    memcpy(to, from.data(), n);
    to[n] = '\0';
}

// Too many processes for one stack frame of records: one static table, used by one command at
// a time.
constinit ProcessRecord processes[kMaxProcesses] = {};

} // namespace

const Console::Builtin Console::kBuiltins[] = {
    {"help", "the commands and what they do", &Console::cmd_help},
    {"ps", "processes: threads, quota, restarts", &Console::cmd_ps},
    {"caps", "caps NAME|ID: a process's capabilities", &Console::cmd_caps},
    {"mem", "free memory, buddy blocks, quotas", &Console::cmd_mem},
    {"kill", "kill NAME: kill a program's processes (init restarts them)", &Console::cmd_kill},
    {"restart", "restart NAME: stop and start a program again", &Console::cmd_restart},
    {"log", "log [debug|info|warn|error]: the kernel log's level", &Console::cmd_log},
    {"uptime", "time since boot", &Console::cmd_uptime},
    {"version", "the kernel's version and the console's protocol", &Console::cmd_version},
    {"sleep", "sleep MS: wait 1 to 60000 ms (Ctrl-C ends it)", &Console::cmd_sleep},
    {"shutdown", "shutdown [CODE]: power off (QEMU exits with CODE, 0 to 63)",
     &Console::cmd_shutdown},
};

bool Console::is_builtin(std::string_view word) {
    for (const Builtin& b : kBuiltins) {
        if (word == b.word)
            return true;
    }
    return false;
}

void Console::execute(std::string_view text) {
    Args args{};
    args.line = trim(text);
    args.count = split_words(args.line, args.words, kMaxWords);
    if (args.count == 0) { // an empty line: no command, no status
        editor_.set_busy(autorun_ != Autorun::Off);
        editor_.show();
        return;
    }
    running_ = Running{};
    running_.active = true;
    running_.generation = ++timer_generation_;
    copy_word(running_.word, sizeof running_.word, args.words[0]);
    editor_.set_busy(true);
    for (const Builtin& b : kBuiltins) {
        if (args.words[0] == b.word) {
            if (args.count > kMaxWords) {
                line("%s: too many arguments", b.word);
                finish(false);
                return;
            }
            (this->*b.handler)(args);
            return;
        }
    }
    if (const Registered* r = find_registered(args.words[0])) {
        run_remote(*r, args.line);
        return;
    }
    line("console: unknown command '%.*s' (try help)", int(args.words[0].size()),
         args.words[0].data());
    finish(false);
}

// Ends the running command with its status; the prompt (or the autorun's next command) follows.
void Console::finish(bool ok) {
    if (!running_.active)
        return;
    running_.active = false;
    running_.wait = Wait::None;
    ++timer_generation_; // its timers are stale now
    output_.clear();
    if (autorun_ == Autorun::Running) {
        ++autorun_count_;
        autorun_failed_ += ok ? 0 : 1;
    } else {
        editor_.set_busy(false);
        editor_.show();
    }
    server_->core().yield_to_owner();
}

// Ctrl-C (the editor has echoed "^C").
void Console::cancel_running() {
    if (running_.wait == Wait::Remote) {
        flush_output();
        (void)send_to_client(running_.client, proto::console::kMsgCancel, nullptr, 0, running_.id);
    }
    finish(false);
}

void Console::on_timer(uint64_t cookie) {
    const uint32_t kind = uint32_t(cookie >> 56);
    const uint64_t generation = cookie & ((uint64_t(1) << 56) - 1);
    if (kind == uint32_t(Wait::None)) { // the autorun's wait
        autorun_timer_ = false;
        return;
    }
    if (!running_.active || generation != timer_generation_ || kind != uint32_t(running_.wait))
        return; // an older command's, or a timeout reset by Output since
    if (running_.wait == Wait::Sleep) {
        finish(true);
    } else if (running_.wait == Wait::Remote) {
        flush_output();
        (void)send_to_client(running_.client, proto::console::kMsgCancel, nullptr, 0, running_.id);
        line("%s: %s", running_.word, status_name(Status::TimedOut));
        finish(false);
    }
}

bool Console::system_info(SystemInfo& info, const char* word) {
    Status s = sys::system_info(kSlotSystem, &info);
    if (s != Status::Ok)
        line("%s: SystemInfo: %s", word, status_name(s));
    return s == Status::Ok;
}

// Every process, in id order, into `out`; how many (0 after printing why, if the call failed).
size_t Console::list_processes(ProcessRecord* out, size_t max) {
    size_t count = 0;
    uint64_t after = 0;
    while (count < max) {
        const size_t want = max - count < kPage ? max - count : kPage;
        SysResult r = sys::process_list(kSlotSystem, out + count, want, after);
        if (r.status != Status::Ok) {
            line("%s: ProcessList: %s", running_.word, status_name(r.status));
            return 0;
        }
        if (r.value == 0 || r.value > want)
            break;
        count += r.value;
        after = out[count - 1].id;
        if (r.value < want)
            break;
    }
    return count;
}

void Console::cmd_help(const Args&) {
    for (const Builtin& b : kBuiltins)
        line("%-10s %s", b.word, b.summary);
    for (const Registered& r : registered_) {
        if (r.used)
            line("%-10s %s", r.word, r.summary);
    }
    finish(true);
}

void Console::cmd_ps(const Args& args) {
    if (args.count != 1) {
        line("ps: takes no arguments");
        finish(false);
        return;
    }
    running_.wait = Wait::Init;
    ask_programs(ProgramsFor::Ps, 0);
}

void Console::print_ps() {
    const size_t n = list_processes(processes, kMaxProcesses);
    if (n == 0) {
        finish(false);
        return;
    }
    line("%s", kPsHeader);
    for (size_t i = 0; i < n; ++i) {
        const proto::init::ProgramRecord* program = nullptr;
        for (uint32_t k = 0; k < program_count_; ++k) {
            if (programs_[k].process_id == processes[i].id)
                program = &programs_[k];
        }
        ps_line(processes[i], program, emit_line, this);
    }
    if (programs_failed_)
        line("ps: restarts unknown: no answer from init");
    finish(!programs_failed_);
}

void Console::cmd_caps(const Args& args) {
    if (args.count != 2) {
        line("caps: usage: caps NAME|ID");
        finish(false);
        return;
    }
    const size_t n = list_processes(processes, kMaxProcesses);
    const std::string_view want = args.words[1];
    auto id = parse_number(want);
    size_t shown = 0;
    for (size_t i = 0; i < n; ++i) {
        const ProcessRecord& p = processes[i];
        const size_t name_length = strnlen(p.name, sizeof p.name);
        if ((id.ok() && p.id == id.value()) || std::string_view(p.name, name_length) == want) {
            print_caps(p);
            ++shown;
        }
    }
    if (shown == 0 && n != 0)
        line("caps: %.*s: no such process", int(want.size()), want.data());
    finish(shown != 0);
}

void Console::print_caps(const ProcessRecord& p) {
    line("process %lu %.31s:", p.id, p.name);
    line("%s", kCapsHeader);
    CapRecord records[kPage];
    Slot after = 0;
    for (;;) {
        SysResult r = sys::process_caps(kSlotSystem, p.id, records, kPage, after);
        if (r.status != Status::Ok) {
            line("caps: ProcessCaps: %s", status_name(r.status));
            return;
        }
        if (r.value == 0 || r.value > kPage)
            return;
        for (size_t i = 0; i < r.value; ++i)
            caps_line(records[i], emit_line, this);
        after = records[r.value - 1].slot;
        if (r.value < kPage)
            return;
    }
}

void Console::cmd_mem(const Args&) {
    SystemInfo info{};
    if (!system_info(info, "mem")) {
        finish(false);
        return;
    }
    memory_lines(info, emit_line, this);
    const size_t n = list_processes(processes, kMaxProcesses);
    line("%s", kQuotaHeader);
    for (size_t i = 0; i < n; ++i)
        quota_line(processes[i], emit_line, this);
    finish(true);
}

void Console::cmd_kill(const Args& args) {
    control(args, proto::init::kMsgKill);
}

void Console::cmd_restart(const Args& args) {
    control(args, proto::init::kMsgRestart);
}

void Console::control(const Args& args, uint32_t message) {
    if (args.count != 2 || args.words[1].size() > 31) {
        line("%s: usage: %s NAME", running_.word, running_.word);
        finish(false);
        return;
    }
    copy_word(running_.target, sizeof running_.target, args.words[1]);
    ControlRequest request{};
    memcpy(request.name, running_.target, strlen(running_.target));
    running_.wait = Wait::Init;
    const InitAsk ask = message == proto::init::kMsgKill ? InitAsk::Kill : InitAsk::Restart;
    if (!init_send(message, &request, sizeof request, ask)) {
        line("%s: %s: no link to init", running_.word, running_.target);
        finish(false);
    }
}

void Console::cmd_log(const Args& args) {
    if (args.count == 1) {
        SystemInfo info{};
        if (!system_info(info, "log")) {
            finish(false);
            return;
        }
        line("log: level %s", log_level_name(info.log_level));
        finish(true);
        return;
    }
    auto level = parse_log_level(args.count == 2 ? args.words[1] : std::string_view());
    if (!level.ok()) {
        line("log: usage: log [debug|info|warn|error]");
        finish(false);
        return;
    }
    Status s = sys::log_level(kSlotSystem, level.value());
    if (s == Status::Ok)
        line("log: level %s", log_level_name(uint32_t(level.value())));
    else
        line("log: %s", status_name(s));
    finish(s == Status::Ok);
}

void Console::cmd_uptime(const Args&) {
    SystemInfo info{};
    if (!system_info(info, "uptime")) {
        finish(false);
        return;
    }
    line("up %lu.%03lu s", info.uptime_ns / 1'000'000'000, (info.uptime_ns / 1'000'000) % 1000);
    finish(true);
}

void Console::cmd_version(const Args&) {
    SystemInfo info{};
    if (!system_info(info, "version")) {
        finish(false);
        return;
    }
    line("Exo-OS %.*s", int(strnlen(info.version, sizeof info.version)), info.version);
    line("console protocol cons v%u", proto::console::kVersion);
    finish(true);
}

void Console::cmd_sleep(const Args& args) {
    auto ms = args.count == 2 ? parse_number(args.words[1], 1, kMaxSleepMs)
                              : Result<uint64_t>(Status::InvalidArgument);
    if (!ms.ok()) {
        line("sleep: usage: sleep MS (1 to %u)", kMaxSleepMs);
        finish(false);
        return;
    }
    running_.wait = Wait::Sleep;
    if (arm_timer(uint32_t(Wait::Sleep), ms.value()) == 0) {
        line("sleep: TimerSet failed");
        finish(false);
    }
}

void Console::cmd_shutdown(const Args& args) {
    auto code = args.count == 1   ? Result<uint64_t>(uint64_t(0))
                : args.count == 2 ? parse_number(args.words[1], 0, kMaxShutdownCode)
                                  : Result<uint64_t>(Status::InvalidArgument);
    if (!code.ok()) {
        line("shutdown: usage: shutdown [CODE] (0 to %u)", kMaxShutdownCode);
        finish(false);
        return;
    }
    shutdown(uint32_t(code.value()));
}

// Prints every log record still in the ring, then powers off; returns only if that failed.
void Console::shutdown(uint32_t code) {
    line("console: shutting down (code %u)", code);
    while (drain_log(kLogDrainBatch)) {
    }
    Status s = sys::system_shutdown(kSlotSystem, code);
    line("shutdown: %s", status_name(s));
    finish(false);
}

} // namespace srv::console
