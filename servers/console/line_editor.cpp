// The console's line editor (line_editor.hpp): insert at the end, Backspace, Ctrl-U, Ctrl-C,
// Enter, a history of 32 lines on Up/Down, other escape sequences swallowed whole.
#include "line_editor.hpp"

namespace srv::console {
namespace {

constexpr uint8_t kCtrlC = 0x03, kBackspace = 0x08, kCtrlU = 0x15, kEsc = 0x1b, kDelete = 0x7f;
constexpr char kBell[] = "\a";
constexpr char kEraseToEnd[] = "\x1b[K";

void copy(char* to, const char* from, size_t n) {
    for (size_t i = 0; i < n; ++i)
        to[i] = from[i];
}

} // namespace

EditEvent LineEditor::feed(uint8_t byte) {
    const bool after_cr = last_cr_;
    last_cr_ = byte == '\r';
    if (escape_ != Escape::None)
        return escape_byte(byte);
    if (byte == '\n' && after_cr)
        return EditEvent::None; // CRLF is one Enter
    if (byte == kCtrlC)
        return cancel();
    if (byte == kEsc) {
        escape_ = Escape::Esc;
        return EditEvent::None;
    }
    if (busy_) {
        if (byte != '\r' && byte != '\n' && byte != kCtrlU)
            emit(kBell, 1);
        return EditEvent::None;
    }
    if (byte == '\r' || byte == '\n')
        return enter();
    if (byte == kBackspace || byte == kDelete)
        backspace();
    else if (byte == kCtrlU)
        erase_line();
    else if (byte >= 0x20 && byte < 0x7f)
        insert(char(byte));
    // Other control bytes and non-ASCII are ignored.
    return EditEvent::None;
}

// ESC [ params intermediates final, ESC O final, or ESC and one byte: swallowed whole; only Up
// and Down (final A and B) do anything, and only when idle.
EditEvent LineEditor::escape_byte(uint8_t byte) {
    switch (escape_) {
    case Escape::Esc:
        if (byte == '[' || byte == 'O') {
            escape_ = byte == '[' ? Escape::Csi : Escape::Ss3;
            return EditEvent::None;
        }
        escape_ = Escape::None;
        if (byte < 0x20) { // a control byte (Ctrl-C, Enter) is never part of a sequence
            last_cr_ = false;
            return feed(byte);
        }
        return EditEvent::None; // ESC and one character (Alt-x)
    case Escape::Csi:
        if (byte >= 0x20 && byte <= 0x3f)
            return EditEvent::None; // parameter and intermediate bytes
        break;
    case Escape::Ss3:
    case Escape::None:
        break;
    }
    escape_ = Escape::None;
    if (byte < 0x40 || byte > 0x7e) { // not a final byte: the sequence was cut short
        last_cr_ = false;
        return feed(byte);
    }
    if (!busy_ && (byte == 'A' || byte == 'B'))
        recall(byte == 'A' ? +1 : -1);
    return EditEvent::None;
}

void LineEditor::insert(char c) {
    if (!shown_)
        show();
    if (length_ >= kLineMax) {
        emit(kBell, 1);
        return;
    }
    text_[length_++] = c;
    emit(&c, 1);
}

void LineEditor::backspace() {
    if (length_ == 0)
        return;
    --length_;
    emit("\b \b", 3);
}

void LineEditor::erase_line() {
    length_ = 0;
    redraw();
}

void LineEditor::redraw() {
    emit("\r", 1);
    emit(kPrompt, sizeof kPrompt - 1);
    emit(text_, length_);
    emit(kEraseToEnd, sizeof kEraseToEnd - 1);
    shown_ = true;
}

EditEvent LineEditor::enter() {
    copy(done_, text_, length_);
    done_length_ = length_;
    remember();
    length_ = 0;
    browse_ = 0;
    emit("\r\n", 2);
    shown_ = false;
    return EditEvent::Line;
}

EditEvent LineEditor::cancel() {
    length_ = 0;
    browse_ = 0;
    emit("^C\r\n", 4);
    shown_ = false;
    if (!busy_)
        show(); // a fresh prompt; when busy, the owner draws it once the command has ended
    return EditEvent::Cancel;
}

// A non-empty line goes into the history unless it repeats the newest one.
void LineEditor::remember() {
    if (length_ == 0)
        return;
    if (history_count_ > 0) {
        const size_t newest = (history_first_ + history_count_ - 1) % kHistoryLines;
        if (std::string_view(history_[newest], history_length_[newest]) == partial())
            return;
    }
    size_t at;
    if (history_count_ < kHistoryLines) {
        at = (history_first_ + history_count_++) % kHistoryLines;
    } else {
        at = history_first_;
        history_first_ = (history_first_ + 1) % kHistoryLines;
    }
    copy(history_[at], text_, length_);
    history_length_[at] = uint8_t(length_);
}

void LineEditor::recall(int direction) {
    const size_t next = direction > 0 ? browse_ + 1 : browse_ - 1;
    if ((direction > 0 && browse_ >= history_count_) || (direction < 0 && browse_ == 0)) {
        emit(kBell, 1);
        return;
    }
    if (browse_ == 0) { // leaving the line being typed: keep it for the way back
        copy(draft_, text_, length_);
        draft_length_ = length_;
    }
    browse_ = next;
    if (browse_ == 0) {
        copy(text_, draft_, draft_length_);
        length_ = draft_length_;
    } else {
        const size_t at = (history_first_ + history_count_ - browse_) % kHistoryLines;
        copy(text_, history_[at], history_length_[at]);
        length_ = history_length_[at];
    }
    redraw();
}

bool LineEditor::hide() {
    if (!shown_)
        return false;
    emit("\r", 1);
    emit(kEraseToEnd, sizeof kEraseToEnd - 1);
    shown_ = false;
    return true;
}

void LineEditor::show() {
    if (busy_)
        return;
    emit(kPrompt, sizeof kPrompt - 1);
    emit(text_, length_);
    shown_ = true;
}

} // namespace srv::console
