// The console's line editor: bytes typed on the serial port in, bytes to echo and completed
// lines out. Portable (no syscalls): the console runs it over COM1, the host tests over strings.
// It emits only "\r", "\r\n", "\b \b", ESC [ K (erase to the end of the line) and BEL, the
// sequences docs/console.md lists, so a tiny terminal emulator can follow the screen.
#pragma once

#include <exo/format.hpp>
#include <exo/proto/console.hpp>

#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace srv::console {

inline constexpr char kPrompt[] = "exo> ";
inline constexpr size_t kHistoryLines = 32;

enum class EditEvent : uint8_t {
    None,   // nothing for the owner
    Line,   // Enter: line() holds the line (the prompt is no longer shown)
    Cancel, // Ctrl-C: the line (or, when busy, the running command) is abandoned
};

class LineEditor {
public:
    static constexpr size_t kLineMax = exo::proto::console::kLineMax;

    // `out` receives every byte to echo; it must outlive the editor.
    explicit LineEditor(exo::FormatSink out) : out_(out) {}

    // One typed byte. Idle: edits the line. Busy (a command runs): Ctrl-C gives Cancel, escape
    // sequences are swallowed, Enter and Ctrl-U are ignored, anything else rings the bell.
    EditEvent feed(uint8_t byte);

    // The line that the last Line event completed; valid until the next feed().
    std::string_view line() const { return {done_, done_length_}; }

    // While busy the prompt is not drawn and typing does not edit (see feed).
    void set_busy(bool busy) { busy_ = busy; }
    bool busy() const { return busy_; }

    // Hide/show around output: hide() erases the prompt and the partial line if they are on
    // screen ("\r" ESC[K) and says whether it did; show() draws them (prompt + partial line).
    bool hide();
    void show();
    bool shown() const { return shown_; }

    // The text being typed (not yet Enter).
    std::string_view partial() const { return {text_, length_}; }
    size_t history_size() const { return history_count_; }

private:
    void emit(const char* s, size_t n) { out_.write(out_.ctx, s, n); }
    void emit(std::string_view s) { emit(s.data(), s.size()); }
    void redraw(); // "\r" prompt text ESC[K
    EditEvent enter();
    EditEvent cancel();
    void recall(int direction); // +1: older (Up), -1: newer (Down)
    void insert(char c);
    void backspace();
    void erase_line();
    void remember();
    EditEvent escape_byte(uint8_t byte);

    enum class Escape : uint8_t { None, Esc, Csi, Ss3 };

    exo::FormatSink out_;
    char text_[kLineMax] = {};
    size_t length_ = 0;
    char done_[kLineMax] = {};
    size_t done_length_ = 0;
    bool busy_ = false;
    bool shown_ = false;
    bool last_cr_ = false;
    Escape escape_ = Escape::None;

    // History: a ring of the last kHistoryLines lines, newest at (first_ + count_ - 1).
    char history_[kHistoryLines][kLineMax] = {};
    uint8_t history_length_[kHistoryLines] = {};
    size_t history_first_ = 0, history_count_ = 0;
    size_t browse_ = 0;         // 0: the line being typed; k: the k-th newest history line
    char draft_[kLineMax] = {}; // the line being typed, kept while browsing
    size_t draft_length_ = 0;
};

} // namespace srv::console
