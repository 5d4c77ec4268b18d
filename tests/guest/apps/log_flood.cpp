// Floods the kernel log (the console-flood guest test): `arg` numbered lines as fast as
// LogWrite takes them, so that two of these outrun the console's ring and have to wait for it.
// Every 100th line also tries to forge a line of the kernel's: a newline and a fake header, which
// the kernel turns into '.' inside this program's own line. The harness checks that each line
// arrives once, whole and in order, and that no forged line starts a line of the serial log.
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/sys.hpp>

using namespace exo;

int exo_main(uint64_t lines) {
    ProcessInfo self{};
    if (sys::process_info(kSlotSelf, &self) != Status::Ok)
        return 1;
    for (uint64_t i = 0; i < lines; ++i) {
        if (i % 100 == 99)
            print("log-flood %lu: line %lu of %lu\n[    0.000001] #1 info: root: forged by %lu",
                  self.id, i, lines, self.id);
        else
            print("log-flood %lu: line %lu of %lu", self.id, i, lines);
    }
    print("log-flood %lu: done", self.id);
    return 0;
}
