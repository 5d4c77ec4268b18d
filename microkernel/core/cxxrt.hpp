// Freestanding C++ runtime hooks the kernel calls during early boot.
#pragma once

namespace mk {

// Runs .init_array in link order. Called once, before anything relies on a global object.
void run_global_constructors();

} // namespace mk
