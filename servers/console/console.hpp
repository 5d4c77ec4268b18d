// The console server: owns COM1, shows the kernel log (LogAttach), and runs a shell of built-in
// and registered commands. Everything arrives on one exo::Server event ring: the UART's IRQ,
// the log ring's and the init link's doorbells, timers, and the registrants' connections.
// docs/console.md describes what the user sees.
#pragma once

#include "command_line.hpp"
#include "line_editor.hpp"
#include "report.hpp"
#include "uart.hpp"

#include <exo/channel.hpp>
#include <exo/proto/init.hpp>
#include <exo/server.hpp>

namespace srv::console {

// Exit codes when the console cannot start (it never exits otherwise).
enum ExitCode : int {
    kExitNoPorts = 2,    // IoPortGrant refused: nothing can be shown
    kExitNoServer = 3,   // exo::Server::start failed
    kExitNoIrq = 4,      // IrqBind failed
    kExitNoLog = 5,      // LogAttach failed (before the kernel supports it: Unsupported)
    kExitLoopFailed = 6, // the event ring broke
};

class Console {
public:
    static constexpr uint32_t kMaxRegistered = 32;
    static constexpr size_t kMaxWords = 8;

    // Grants, UART, server, log ring, init link; an ExitCode if the console cannot run.
    int start();
    // Serves for ever (the process ends with SystemShutdown); kExitLoopFailed if it cannot.
    int run();

private:
    struct Args {
        std::string_view line;
        std::string_view words[kMaxWords];
        size_t count; // kMaxWords + 1: too many
    };
    using Handler = void (Console::*)(const Args&);
    struct Builtin {
        const char* word;
        const char* summary;
        Handler handler;
    };
    struct Registered {
        bool used;
        uint32_t client;
        char word[exo::proto::console::kWordMax + 1];
        char summary[exo::proto::console::kSummaryMax + 1];
    };
    enum class Wait : uint8_t { None, Sleep, Init, Remote };
    struct Running {
        bool active = false;
        Wait wait = Wait::None;
        uint64_t generation = 0; // of this command: late answers for an older one are dropped
        uint64_t id = 0;         // Remote: the Run's id
        uint32_t client = 0;     // Remote: the registrant
        char word[exo::proto::console::kWordMax + 1] = {};
        char target[32] = {}; // kill/restart: the program
    };
    enum class InitAsk : uint8_t { None, Hello, Programs, Kill, Restart };
    enum class ProgramsFor : uint8_t { Ps, Autorun };
    struct InitPending {
        uint64_t id;
        InitAsk ask;
        uint64_t generation; // the command's (Kill, Restart, Programs for ps)
    };
    enum class Autorun : uint8_t { Off, Waiting, Checking, Running, Done };

    static const Builtin kBuiltins[];
    static bool is_builtin(std::string_view word);

    // Output: whole lines, with the prompt and partial line hidden around them.
    void write(const char* text, size_t length) { uart_.write(text, length); }
    void put_line(std::string_view text);
    void line(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    static void echo(void* self, const char* text, size_t length);

    // Events (console.cpp).
    static void on_event(void* self, uint32_t type, const uint8_t* payload, uint32_t length);
    static exo::Status on_request(void* self, exo::Server::Client& client,
                                  const exo::Request& request, exo::Reply& reply);
    static void on_drop(void* self, uint32_t index, exo::Status why);
    void on_irq();
    void on_timer(uint64_t cookie);
    bool drain_log(size_t max_records); // true: records are left
    void drain_init();
    void on_init_reply(uint32_t type, const uint8_t* payload, uint32_t length);
    void step();
    uint64_t arm_timer(uint32_t kind, uint64_t ms);

    // Registrants (registrants.cpp).
    exo::Status on_register(const exo::Server::Client& client, const exo::Request& request,
                            exo::Reply& reply);
    void on_output(const exo::Server::Client& client, const exo::Request& request);
    void on_done(const exo::Server::Client& client, const exo::Request& request);
    const Registered* find_registered(std::string_view word) const;
    bool send_to_client(uint32_t client, uint32_t type, const void* body, uint32_t length,
                        uint64_t id);
    void run_remote(const Registered& command, std::string_view line);
    void flush_output();
    static void emit_line(void* self, std::string_view text);

    // Commands (commands.cpp).
    void execute(std::string_view line);
    void finish(bool ok);
    void cancel_running();
    bool init_send(uint32_t type, const void* body, uint32_t length, InitAsk ask);
    void ask_programs(ProgramsFor purpose, uint32_t first);
    void programs_complete();
    void autorun_check();
    void autorun_next();
    void shutdown(uint32_t code);
    bool system_info(exo::SystemInfo& info, const char* word);
    size_t list_processes(exo::ProcessRecord* out, size_t max);
    void print_caps(const exo::ProcessRecord& process);
    void print_ps();
    void cmd_help(const Args&);
    void cmd_ps(const Args&);
    void cmd_caps(const Args&);
    void cmd_mem(const Args&);
    void cmd_kill(const Args&);
    void cmd_restart(const Args&);
    void cmd_log(const Args&);
    void cmd_uptime(const Args&);
    void cmd_version(const Args&);
    void cmd_sleep(const Args&);
    void cmd_shutdown(const Args&);
    void control(const Args& args, uint32_t message);

    Uart uart_;
    LineEditor editor_{exo::FormatSink{echo, this}};
    alignas(exo::Server) unsigned char server_storage_[sizeof(exo::Server)];
    exo::Server* server_ = nullptr;

    // The kernel log's ring: the consumer end keeps it open and rings our doorbell; LogPrint
    // prints what is in it.
    exo::Cap<exo::Ring> log_consumer_;
    bool log_more_ = false;
    bool log_broken_ = false;

    // The link to init (`control`): requests out, responses in (bound to the event ring).
    exo::RingProducer* init_tx_ = nullptr;
    exo::RingConsumer* init_rx_ = nullptr;
    alignas(exo::RingProducer) unsigned char init_tx_storage_[sizeof(exo::RingProducer)];
    alignas(exo::RingConsumer) unsigned char init_rx_storage_[sizeof(exo::RingConsumer)];
    bool init_ok_ = false;
    uint64_t next_init_id_ = 1;
    InitPending init_pending_[4] = {};

    // Programs from init (kMsgPrograms pages), for ps and the autorun's start.
    exo::proto::init::ProgramRecord programs_[64] = {};
    uint32_t program_count_ = 0;
    bool programs_failed_ = false;
    ProgramsFor programs_for_ = ProgramsFor::Ps;

    Registered registered_[kMaxRegistered] = {};
    Running running_;
    uint64_t timer_generation_ = 0;
    uint64_t next_run_id_ = 1;
    OutputLines output_;
    char pending_line_[exo::proto::console::kLineMax] = {};
    size_t pending_length_ = 0;
    bool pending_ = false;

    // Autorun (SystemInfo.autorun).
    Autorun autorun_ = Autorun::Off;
    char autorun_text_[exo::kAutorunMax + 1] = {};
    AutorunCommands autorun_commands_{std::string_view()};
    uint32_t autorun_count_ = 0, autorun_failed_ = 0;
    uint64_t last_register_ns_ = 0;
    bool autorun_timer_ = false;
};

} // namespace srv::console
