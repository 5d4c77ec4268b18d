// A registrant that breaks the console's command protocol (exo/proto/console.hpp) in every way
// it can, for the guest test console-hostile-registrant: bad words, a taken word, then, when its
// command `hostile` runs, Output for an id it was not given, an Output whose length field lies,
// terminal escapes in its text, a burst of 300 lines, a Done for another id, the real Done with
// a failure, and a second Done. The console must show only what belongs to the command (escapes
// as '.'), count it as failed, and go on serving.
#include <exo/command.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/sys.hpp>

#include <new>

using namespace exo;
namespace pc = exo::proto::console;

namespace {

constexpr uint64_t kMs = 1'000'000;

void try_word(ConsoleCommands& c, const char* word) {
    print("hostile-registrant: Register '%s': %s", word, status_name(c.add(word, "nothing")));
}

// An Output record whose length field says more than the record holds.
void lying_output(ConsoleCommands& c, uint64_t id) {
    pc::Output record{};
    record.header.id = id;
    record.length = 10000;
    memcpy(record.text, "LIE", 3);
    (void)c.channel().tx.send(&record, uint32_t(offsetof(pc::Output, text)) + 3, pc::kMsgOutput,
                              ring::kNoDeadline);
}

// Never destroyed: the process ends by exit or kill.
alignas(ConsoleCommands) unsigned char storage[sizeof(ConsoleCommands)];

} // namespace

int exo_main(uint64_t) {
    ConsoleCommands* commands = nullptr;
    for (int i = 0; i < 200 && !commands; ++i) { // the console may still be starting
        auto connected = ConsoleCommands::connect();
        if (connected.ok())
            commands = new (storage) ConsoleCommands(static_cast<ConsoleCommands&&>(connected.value()));
        else
            pause_until(sys::clock_ns() + 10 * kMs);
    }
    if (!commands) {
        print("hostile-registrant: no console");
        return 1;
    }
    ConsoleCommands& c = *commands;
    try_word(c, "Bad");
    try_word(c, "help");
    try_word(c, "a-word-far-too-long-for-it");
    try_word(c, "");
    try_word(c, "hostile");
    uint64_t give_up = sys::clock_ns() + 20'000 * kMs;
    while (sys::clock_ns() < give_up) {
        auto command = c.poll();
        if (command.status() == Status::Closed)
            return 1;
        if (!command.ok()) {
            pause_until(sys::clock_ns() + kMs);
            continue;
        }
        if (command.value().kind != ConsoleCommand::Kind::Run)
            continue;
        const uint64_t id = command.value().id;
        (void)c.output(id + 1, "NOT-MINE: output for another command\n");
        lying_output(c, id);
        (void)c.output(id, "\x1b[2J evil\n");
        for (int i = 0; i < 300; ++i)
            (void)c.print(id, "hostile line %d\n", i);
        (void)c.done(id + 7, Status::Ok);
        (void)c.done(id, Status::InvalidArgument);
        (void)c.done(id, Status::Ok);
        (void)c.output(id, "AFTER-DONE: output after the end\n");
        print("hostile-registrant: done");
    }
    return 0;
}
