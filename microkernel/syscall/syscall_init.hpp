// Turns on the `syscall` instruction on the calling CPU (every CPU, at bring-up).
#pragma once

namespace mk::sys {

void init_cpu();

} // namespace mk::sys
