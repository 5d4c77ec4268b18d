// COM1 16550 UART driver: 115200 baud, 8N1, FIFOs on, polled transmit (PC16550D datasheet).
#include "arch/x86_64/serial.hpp"

#include "arch/x86_64/cpu.hpp"

namespace mk::serial {
namespace {

constexpr uint16_t kCom1 = 0x3F8;
constexpr uint16_t kData = 0, kIntEnable = 1, kFifoCtl = 2, kLineCtl = 3, kModemCtl = 4,
                   kLineStatus = 5;
constexpr uint8_t kLineStatusTxEmpty = 0x20;
constexpr uint8_t kLineCtlDlab = 0x80, kLineCtl8N1 = 0x03;
constexpr uint16_t kDivisor115200 = 1; // 115200 / 115200

} // namespace

void init() {
    cpu::outb(kCom1 + kIntEnable, 0x00);
    cpu::outb(kCom1 + kLineCtl, kLineCtlDlab);
    cpu::outb(kCom1 + kData, kDivisor115200 & 0xFF);
    cpu::outb(kCom1 + kIntEnable, kDivisor115200 >> 8);
    cpu::outb(kCom1 + kLineCtl, kLineCtl8N1);
    cpu::outb(kCom1 + kFifoCtl, 0xC7);  // enable and clear FIFOs, 14-byte threshold
    cpu::outb(kCom1 + kModemCtl, 0x03); // DTR, RTS
}

void put(char c) {
    // Bounded spin: a missing UART (real hardware without COM1) must not hang the kernel.
    for (int spins = 0; spins < 100000; ++spins) {
        if (cpu::inb(kCom1 + kLineStatus) & kLineStatusTxEmpty)
            break;
        cpu::pause();
    }
    cpu::outb(kCom1 + kData, uint8_t(c));
}

void write(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '\n')
            put('\r');
        put(s[i]);
    }
}

} // namespace mk::serial
