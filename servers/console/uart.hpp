// COM1, the 16550 UART the console owns (ports 0x3f8-0x3ff, IRQ 4), driven with in/out from
// ring 3 once IoPortGrant has opened its ports. The kernel has set it to 115200 8N1; the console
// only turns on the receive interrupt. Register map: the PC16550D datasheet, section 8.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace srv::console {

class Uart {
public:
    static constexpr uint16_t kBase = 0x3f8;
    static constexpr uint32_t kIrqLine = 4;

    // The receive-data interrupt on (IER bit 0), and OUT2 (which gates the UART's interrupt
    // onto the ISA line) with RTS and DTR in MCR. Pending bytes are left for the first IRQ.
    void enable_receive_interrupt() {
        out(kIer, 0x01);
        out(kMcr, 0x0b);
    }
    // Every byte received so far, one at a time: false when none is left (LSR bit 0).
    bool read(uint8_t& byte) {
        if ((in(kLsr)&0x01) == 0)
            return false;
        byte = in(kData);
        return true;
    }
    // Polls LSR bit 5 (transmit holding register empty) before each byte.
    void write(const char* text, size_t length) {
        for (size_t i = 0; i < length; ++i) {
            while ((in(kLsr)&0x20) == 0)
                __builtin_ia32_pause();
            out(kData, uint8_t(text[i]));
        }
    }

private:
    static constexpr uint16_t kData = 0, kIer = 1, kMcr = 4, kLsr = 5;

    static void out(uint16_t reg, uint8_t value) {
        asm volatile("outb %0, %1" : : "a"(value), "Nd"(uint16_t(kBase + reg)));
    }
    static uint8_t in(uint16_t reg) {
        uint8_t value;
        asm volatile("inb %1, %0" : "=a"(value) : "Nd"(uint16_t(kBase + reg)));
        return value;
    }
};

} // namespace srv::console
