// A server's side of the console's command protocol (exo/proto/console.hpp): connect to the
// console, register command words, then answer each Run with Output records and one Done. The
// owner binds doorbell_end() to its own event ring (exo::Server's event_producer(), RingBind)
// and calls poll() until WouldBlock on each doorbell and after each done(). docs/console.md
// has an example.
#pragma once

#include <exo/channel.hpp>
#include <exo/connect.hpp>
#include <exo/proto/console.hpp>

#include <string_view>

namespace exo {

// A Run (the user typed a line that starts with one of our words) or a Cancel (Ctrl-C: end
// the command with done() as soon as possible; the console has stopped waiting already).
struct ConsoleCommand {
    enum class Kind : uint8_t { Run, Cancel };
    Kind kind = Kind::Run;
    uint64_t id = 0;     // what output() and done() name
    uint32_t length = 0; // bytes of line
    char line[proto::console::kLineMax] = {};

    std::string_view text() const { return {line, length}; } // the word first
    std::string_view args() const; // after the word, without the spaces around
};

class ConsoleCommands {
public:
    // A connection to the service "console" (the manifest line says connect=console).
    static Result<ConsoleCommands> connect(const ConnectOptions& options = {});
    explicit ConsoleCommands(Channel channel) : channel_(static_cast<Channel&&>(channel)) {}
    ConsoleCommands(ConsoleCommands&&) = default;

    // Registers `word` (1 to 15 of [a-z0-9-]) with its line in `help` (up to 63 bytes), and
    // waits for the answer: AlreadyExists, InvalidArgument, NoMemory (32 words registered).
    // Register every word before serving: commands that arrive meanwhile are kept for poll().
    Status add(const char* word, const char* summary, uint64_t deadline = ring::kNoDeadline);

    // The consumer end of the console's records, for RingBind to the owner's event ring.
    Slot doorbell_end() const { return channel_.rx.slot(); }

    // The next Run or Cancel; WouldBlock when none is there (the next rings the doorbell);
    // Closed when the console has gone (connect again). The console's empty acknowledgements
    // of Output and Done are skipped.
    Result<ConsoleCommand> poll();

    // Text for the command `id` ('\n' ends a line), in Output records of up to kOutputMax
    // bytes; then done(), exactly once, with the command's status (Ok: it succeeded).
    Status output(uint64_t id, std::string_view text, uint64_t deadline = ring::kNoDeadline);
    Status print(uint64_t id, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
    Status done(uint64_t id, Status status, uint64_t deadline = ring::kNoDeadline);

    Channel& channel() { return channel_; }

private:
    static constexpr size_t kQueue = 4;
    enum class Read : uint8_t { Skipped, Command, Stop };
    Read read(const ring::Consumer::Message& m, ConsoleCommand& out);
    void skim(); // takes what the console sent: acks dropped, commands queued
    bool push(const ConsoleCommand& command);

    Channel channel_;
    uint64_t next_id_ = 1;
    ConsoleCommand queue_[kQueue];
    size_t queued_ = 0;
};

} // namespace exo
