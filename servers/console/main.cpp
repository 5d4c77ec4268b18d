// The console server (servers/console/, docs/console.md): the serial shell and the kernel
// log's reader. Manifest line: start console quota=512 ports=0x3f8-0x3ff irq=4 system=manage
// control serve=console.
#include "console.hpp"

#include <exo/runtime.hpp>

#include <new>

namespace {

// Never destroyed: the console runs until SystemShutdown (a static object would need a
// constructor at start and a destructor at exit).
alignas(srv::console::Console) unsigned char console_storage[sizeof(srv::console::Console)];

} // namespace

int exo_main(uint64_t) {
    auto* console = new (console_storage) srv::console::Console();
    if (int code = console->start(); code != 0)
        return code;
    return console->run();
}
